"""Drive a core's streams in Amaranth's Python simulator, optionally writing a waveform.

It is also what :func:`fpgac.backend.simulate_stream` runs; the CXXRTL engine
draws its gaps and stalls the same way, so one seed gives one trace in both.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence

from ._result import StreamRun

__all__ = ["run_pysim"]


def run_pysim(component, requests: Sequence[int], *, gap: float = 0.0, stall: float = 0.0,
              seed: int = 0, max_idle: int = 10_000, vcd: str | os.PathLike | None = None,
              i: str = "i", o: str = "o") -> StreamRun:
    """Push payload bits ``requests`` through ``component`` in pysim; return what came out.

    ``gap`` is the chance that the producer idles for a cycle before offering a
    request, ``stall`` the chance that the consumer holds ``ready`` low in a
    cycle; ``seed`` seeds both draws.
    ``max_idle`` cycles in a row without a transfer count as a stuck core.
    ``vcd`` names a waveform file to write.
    """
    from amaranth.hdl import ClockDomain, Module, Value
    from amaranth.sim import Simulator

    for name, p in (("gap", gap), ("stall", stall)):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"`{name}` must be a probability below 1, not {p!r}")
    source, sink = getattr(component, i), getattr(component, o)
    rng_in, rng_out = random.Random(seed), random.Random(seed + 1)
    n = len(requests)
    result = StreamRun([], 0, [], [])
    source_payload, sink_payload = Value.cast(source.payload), Value.cast(sink.payload)
    mask = (1 << len(sink_payload)) - 1

    # Each side awaits exactly one clock edge per loop turn, so each counts edges itself:
    # edge k ends cycle k - 1.
    async def producer(ctx):
        edge = 0
        for bits in requests:
            while gap and rng_in.random() < gap:
                ctx.set(source.valid, 0)
                await ctx.tick()
                edge += 1
            ctx.set(source.valid, 1)
            if len(source_payload):
                ctx.set(source_payload, bits)
            while True:
                _, _, ready = await ctx.tick().sample(source.ready)
                edge += 1
                if ready:
                    result.accepted_at.append(edge)
                    break
        ctx.set(source.valid, 0)

    async def consumer(ctx):
        edge = last = 0
        while len(result.responses) < n:
            ctx.set(sink.ready, 0 if stall and rng_out.random() < stall else 1)
            _, _, valid, ready, bits = await ctx.tick().sample(sink.valid, sink.ready,
                                                               sink_payload)
            edge += 1
            if valid and ready:
                # A signed payload samples as a negative number; payload bits are unsigned.
                result.responses.append(bits & mask)
                result.answered_at.append(edge)
                last = edge
            elif edge - max(last, result.accepted_at[-1] if result.accepted_at else 0) > max_idle:
                raise AssertionError(f"the core is stuck: {len(result.accepted_at)} requests "
                                     f"accepted, {len(result.responses)} answered, no transfer "
                                     f"for {max_idle} cycles")
        result.cycles = edge
        ctx.set(sink.ready, 0)

    # The testbench needs a clock even for a combinational core (latency 0), which has no
    # clock domain of its own: the wrapper defines `sync` for both.
    top = Module()
    top.domains.sync = ClockDomain()
    top.submodules.core = component
    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(consumer)
    start = time.perf_counter()
    if vcd is not None:
        with sim.write_vcd(os.fspath(vcd)):
            sim.run()
    else:
        sim.run()
    result.seconds = time.perf_counter() - start
    return result
