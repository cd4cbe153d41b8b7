"""Benchmark the simulation engines on the same cores: CXXRTL against Amaranth's simulator.

For each core (by default ``imaging.py:/luma``, ``hashing.py:/fmix32`` and
``crc.py:/crc32``, scheduled for 48 MHz on iCE40), the same random request
payloads go through:

- **amaranth**: :func:`fpgac.backend.sim.run_pysim`, Amaranth's Python
  simulator with fpgac's stream testbench (``--n-pysim`` requests);
- **cxxrtl**: the compiled CXXRTL model (``--n`` requests), timed two ways:
  the testbench's own clocking loop, and the whole call (starting the
  process, moving the payloads in and out as text).

Both run at full rate (no gaps or stalls unless ``--gap``/``--stall``), so one
cycle is one request. The two engines' responses are compared on the requests
both ran, and the CXXRTL responses are checked against the software model on
the first ``--check`` requests, before any speed is reported. A last column
gives the rate of :func:`fpgac.simulate.simulate` end to end (requests as IR
leaves in, checked responses out) on ``--n-sim`` requests.

Run ``python benchmarks/bench_sim.py``; ``--only crc.py:/crc32`` for one core,
``--fresh`` to build the CXXRTL models in an empty cache and time that.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fpgac.backend import elaborate
from fpgac.backend.sim import build_cxxrtl, run_pysim
from fpgac.driver import compile_file, optimize
from fpgac.scheduling import DelayModel, schedule
from fpgac.simulate import SimCore, random_requests

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CORES = ["imaging.py:/luma", "hashing.py:/fmix32", "crc.py:/crc32"]


def _rate(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.3g}"


def bench_core(spec: str, args, cache: str | None) -> dict:
    """Measure both engines on one core; return the row of the table."""
    file, path = spec.split(":")
    route = optimize(compile_file(EXAMPLES / file)).route(path)
    sched = schedule(route.graph, model=DelayModel.load(args.target), clock_mhz=args.clock_mhz)
    core = SimCore(route, sched, engine="amaranth")  # the packing and the model, no build
    requests = random_requests(route, args.n, seed=args.seed)
    bits = [core.pack(r) for r in requests]

    start = time.perf_counter()
    model = build_cxxrtl([elaborate(core.source)], cache=cache)
    build = time.perf_counter() - start

    start = time.perf_counter()
    fast = model.run_stream(bits, gap=args.gap, stall=args.stall, seed=args.seed)
    fast_wall = time.perf_counter() - start
    slow = run_pysim(elaborate(core.source), bits[:args.n_pysim], gap=args.gap,
                     stall=args.stall, seed=args.seed)

    # Agreement before speed: the engines with each other, the core with the model.
    assert slow.responses == fast.responses[:len(slow.responses)], f"{spec}: engines differ"
    checked = requests[:args.check]
    got = [core.unpack(b) for b in fast.responses[:len(checked)]]
    assert got == core.expected(checked), f"{spec}: the core differs from the model"

    sim_requests = requests[:args.n_sim]
    sim_core = SimCore(route, sched)
    start = time.perf_counter()
    result = sim_core.run(sim_requests, gap=args.gap, stall=args.stall, seed=args.seed)
    sim_wall = time.perf_counter() - start
    assert result.mismatches == []

    slow_rate = slow.cycles / slow.seconds
    loop_rate = fast.cycles / fast.seconds
    wall_rate = fast.cycles / fast_wall
    return {
        "core": spec, "nodes": len(sched.graph), "stages": sched.n_stages,
        "build": f"{build:.1f} s" + (" (cached)" if model.cached else ""),
        "amaranth": _rate(slow_rate), "cxxrtl loop": _rate(loop_rate),
        "cxxrtl call": _rate(wall_rate),
        "loop/amaranth": f"{loop_rate / slow_rate:,.0f}x",
        "call/amaranth": f"{wall_rate / slow_rate:,.0f}x",
        "simulate() req/s": _rate(len(sim_requests) / sim_wall),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="requests through CXXRTL")
    parser.add_argument("--n-pysim", type=int, default=2_000, help="requests through Amaranth")
    parser.add_argument("--n-sim", type=int, default=100_000,
                        help="requests through simulate() end to end")
    parser.add_argument("--check", type=int, default=10_000,
                        help="CXXRTL responses checked against the software model")
    parser.add_argument("--only", action="append", metavar="FILE:PATH", help="one core")
    parser.add_argument("--target", default="ice40")
    parser.add_argument("--clock-mhz", type=float, default=48.0)
    parser.add_argument("--gap", type=float, default=0.0)
    parser.add_argument("--stall", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fresh", action="store_true",
                        help="build the CXXRTL models in an empty cache, to time the build")
    args = parser.parse_args()

    console = Console(width=150)
    with tempfile.TemporaryDirectory() as tmp:
        cache = tmp if args.fresh else None
        rows = [bench_core(spec, args, cache) for spec in (args.only or CORES)]
    table = Table(title=f"Simulated cycles per second ({args.target}, {args.clock_mhz:g} MHz "
                        f"schedule, gap {args.gap:g}, stall {args.stall:g})")
    for column in rows[0]:
        table.add_column(column, justify="left" if column == "core" else "right")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
    console.print(f"amaranth: {args.n_pysim:,} requests; cxxrtl: {args.n:,} requests "
                  "(loop: the testbench's clocking loop; call: the whole run, process and "
                  f"payload text included); simulate(): {args.n_sim:,} requests end to end.")


if __name__ == "__main__":
    main()
