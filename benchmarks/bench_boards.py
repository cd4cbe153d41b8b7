"""Build every example for both boards and print routed timing and resources side by side.

    python benchmarks/bench_boards.py [--only imaging crc] [--board icebreaker] [--jobs 2]

Each example module in examples/ is built for the iCEBreaker (iCE40 UP5K, 48
MHz) and the ULX3S (ECP5-85F, 150 MHz), those in examples/ecp5/ for the ULX3S
only, with the host link, by `fpgac build` (the same flow, the same cache: a
build already made is reused). The table shows whether nextpnr's routed Fmax
meets the clock, the logic cells, flip-flops, DSPs and block RAMs used, and
the build time; a build that does not fit the FPGA says so. ``--jobs N`` runs N
builds at a time, each in its own process (nextpnr uses one core). "closure" lists
the routes timing closure scheduled for a faster clock, and that clock, the
placement seeds it tried ("seed 2 of 145.88": on the schedule of the attempt that
routed at 145.88 MHz), and "kept F" when it ended on its fastest attempt. Results are
written to benchmarks/results/boards.txt; the exit status is 1 if any
example misses its clock or does not fit.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fpgac.build import BuildError, build_bundle, resource

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BOARDS = {"icebreaker": 48.0, "ulx3s-85f": 150.0}


def jobs(only: list[str] | None, boards: list[str]) -> list[tuple[Path, str]]:
    """Return (example, board) pairs: examples/*.py on both boards, examples/ecp5/ on ULX3S."""
    both = sorted(EXAMPLES.glob("*.py"))
    ecp5 = sorted(EXAMPLES.glob("ecp5/*.py"))
    pairs = [(p, b) for b in boards for p in both + (ecp5 if b == "ulx3s-85f" else [])]
    return [(p, b) for p, b in pairs if not only or p.stem in only]


def run_one(path: Path, board: str, tmp: Path) -> tuple[dict | None, float, str]:
    """Build one example (in a worker process): its build report, the seconds, any error."""
    started = time.perf_counter()
    name = path.relative_to(EXAMPLES).with_suffix("").as_posix()
    out = tmp / f"{name.replace('/', '_')}-{board}"
    try:
        build = build_bundle(path, board, out=out, allow_timing_failure=True).build
    except BuildError as e:
        return None, time.perf_counter() - started, str(e)
    return build, time.perf_counter() - started, ""


def closure_step(step: dict) -> str:
    """Return a step of timing closure for the table: a route and its clock, a seed, or the
    fastest attempt kept (its Fmax)."""
    if "seed" in step:
        return f"seed {step['seed']}" + (f" of {step['from_mhz']:g}" if "from_mhz" in step else "")
    if "kept_mhz" in step:
        return f"kept {step['kept_mhz']:g}"
    return f"{step['route']} {step['scheduled_mhz']:g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="example names (file stems)")
    parser.add_argument("--board", choices=sorted(BOARDS), action="append",
                        help="only this board (repeatable)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="builds at a time, each in its own process (default 1)")
    args = parser.parse_args(argv)
    console = Console(width=140)
    table = Table(title="Every example on both boards, host link included (nextpnr, routed)")
    for column in ("example", "board", "clock MHz", "Fmax MHz", "met", "closure", "logic cells",
                   "FFs", "DSPs", "BRAMs", "build s"):
        table.add_column(column, justify="left" if column in ("example", "board") else "right")
    pairs = jobs(args.only, args.board or sorted(BOARDS))
    with tempfile.TemporaryDirectory() as tmp, \
            concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
        runs = [pool.submit(run_one, path, board, Path(tmp)) for path, board in pairs]
        for (path, board), run in zip(pairs, runs):
            _build, seconds, error = run.result()
            console.log(f"{path.relative_to(EXAMPLES).as_posix()} for {board}: "
                        f"{'failed' if error else 'built'} in {seconds:.0f} s")
    failures = 0
    for (path, board), run in zip(pairs, runs):
        name = path.relative_to(EXAMPLES).with_suffix("").as_posix()
        build, seconds, error = run.result()
        if build is None:
            failures += 1
            full = "no BELs remaining" in error or "Failed to expand region" in error
            reason = "does not fit" if full else "build failed"
            table.add_row(name, board, f"{BOARDS[board]:g}", "-", reason, "-", "-", "-", "-",
                          "-", f"{seconds:.0f}")
            continue
        clock = next(iter(build["clocks"].values()))
        failures += not clock["met"]
        res = build["resources"]
        table.add_row(
            name, board, f"{clock['constraint_mhz']:.1f}", f"{clock['achieved_mhz']:.1f}",
            "yes" if clock["met"] else "NO",
            ", ".join(closure_step(c) for c in build["closure"]) or "-",
            f"{res['logic_cells']['used']:,}/{res['logic_cells']['available']:,}",
            f"{resource(res['ffs'])['used']:,}", f"{res['dsps']['used']}/{res['dsps']['available']}",
            f"{res['brams']['used']}/{res['brams']['available']}", f"{seconds:.0f}")
    console.print(table)
    results = ROOT / "benchmarks" / "results" / "boards.txt"
    if not args.only and not args.board:
        with results.open("w") as f:
            Console(file=f, width=140, color_system=None).print(table)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
