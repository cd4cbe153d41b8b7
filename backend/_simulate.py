"""Drive a generated core in Amaranth's Python simulator: a stream in, a stream out.

The producer offers the requests in order, idling for random gaps; the
consumer drops ``o.ready`` at random. Transfers are counted where the stream
rules say they happen: on a clock edge with both valid and ready high.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["SimResult", "simulate_stream"]


@dataclass
class SimResult:
    """What came out of the core: the response payloads in order, and how long it took."""

    responses: list[int]
    #: Clock edges up to and including the one that transferred the last response.
    cycles: int
    #: The edge (counted from 1) of each request's transfer on ``i`` and each response's on ``o``.
    accepted_at: list[int]
    answered_at: list[int]


def simulate_stream(component, requests: Sequence[int], *, gap: float = 0.0, stall: float = 0.0,
                    seed: int = 0, max_cycles: int | None = None,
                    i: str = "i", o: str = "o") -> SimResult:
    """Push payload bits ``requests`` through ``component`` and return what came out.

    ``gap`` is the chance that the producer idles for a cycle before offering a
    request; ``stall`` the chance that the consumer holds ``ready`` low in a cycle.
    ``i`` and ``o`` name the stream members (``luma_i``/``luma_o`` on an app core).
    """
    from amaranth.hdl import ClockDomain, Module, Value
    from amaranth.sim import Simulator

    source, sink = getattr(component, i), getattr(component, o)
    rng_in, rng_out = random.Random(seed), random.Random(seed + 1)
    n = len(requests)
    limit = max_cycles if max_cycles is not None else 1000 + 8 * n
    result = SimResult([], 0, [], [])

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
            if len(Value.cast(source.payload)):
                ctx.set(Value.cast(source.payload), bits)
            while True:
                _, _, ready = await ctx.tick().sample(source.ready)
                edge += 1
                if ready:
                    result.accepted_at.append(edge)
                    break
        ctx.set(source.valid, 0)

    async def consumer(ctx):
        payload = Value.cast(sink.payload)
        edge = 0
        while len(result.responses) < n:
            if edge > limit:
                raise AssertionError(f"only {len(result.responses)} of {n} responses after "
                                     f"{limit} cycles")
            ctx.set(sink.ready, 0 if stall and rng_out.random() < stall else 1)
            _, _, valid, ready, bits = await ctx.tick().sample(sink.valid, sink.ready, payload)
            edge += 1
            if valid and ready:
                result.responses.append(bits)
                result.answered_at.append(edge)
        result.cycles = edge

    # The testbench needs a clock even for a combinational core (latency 0), which has no
    # clock domain of its own: the wrapper defines `sync` for both.
    top = Module()
    top.domains.sync = ClockDomain()
    top.submodules.core = component
    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(consumer)
    sim.run()
    return result
