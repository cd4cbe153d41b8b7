"""Write a bundle: everything the runtime and the board flow need for one app.

``fpgac compile`` calls :func:`write_bundle`. A bundle is data: the runtime
reads ``manifest.json`` and ``ir.json`` and never executes Python from it.

    build/<app>/
        manifest.json      schema, app, routes, target, clock, versions, file hashes
        ir.json            the optimized IR (the software model is built from it)
        signature.json     hardware ports and payload layouts, latency per route
        report.json        per route: stages, latency, register bits, estimated Fmax, ops
        report.txt         the same as a table
        hdl/<app>.py       readable Amaranth source of every route's core and the app
        hdl/<app>.v        Verilog
        hdl/<app>.il       RTLIL
        sim/               the cores as a CXXRTL testbench (the runtime's `sim` device)
        __init__.py        host bindings: the folder is an importable package
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .ir import Program, program_to_json, ty_to_json

__all__ = ["write_bundle", "read_schedules", "route_clocks", "route_report", "format_report"]

#: Nodes that are wiring or constants, not operations, in the op counts of a report.
_NOT_OPS = frozenset({"const", "param", "output", "wrap"})


def route_report(route, sched, model) -> dict:
    """Return one route's figures for report.json."""
    ops = Counter(n.op for n in sched.graph if n.op not in _NOT_OPS)
    return {
        "path": route.path,
        "name": route.name,
        "stages": sched.n_stages,
        "latency_cycles": sched.n_stages,
        "initiation_interval": 1,
        "register_bits": sched.register_bits(),
        "estimated_fmax_mhz": round(sched.estimated_fmax_mhz(None, model), 2),
        "scheduled_mhz": sched.clock_mhz,
        "ir_nodes": len(sched.graph),
        "ops": dict(sorted(ops.items())),
    }


def format_report(report: dict) -> str:
    """Render report.json as the text table of report.txt."""
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    if report["clock_mhz"] is not None:
        at = f"at {report['clock_mhz']} MHz (estimates from the delay model)"
    else:
        stages = sorted({r["stages"] for r in report["routes"]})
        at = (f"with {', '.join(map(str, stages))} stage{'s' if stages != [1] else ''} "
              "(forced; Fmax estimated by the delay model)")
    table = Table(title=f"app `{report['app']}` on `{report['target']}` {at}")
    for col in ("route", "stages", "latency", "II", "register bits", "est. Fmax MHz",
                "IR nodes", "ops"):
        table.add_column(col, justify="left" if col in ("route", "ops") else "right")
    for r in report["routes"]:
        ops = ", ".join(f"{k} {v}" for k, v in r["ops"].items())
        table.add_row(r["path"], str(r["stages"]), str(r["latency_cycles"]),
                      str(r["initiation_interval"]), str(r["register_bits"]),
                      f"{r['estimated_fmax_mhz']:.1f}", str(r["ir_nodes"]), ops)
    out = StringIO()
    Console(file=out, width=160, color_system=None).print(table)
    return out.getvalue()


def write_bundle(program: Program, out_dir: str | os.PathLike, *, target: str = "ice40",
                 clock_mhz: float | None = None, stages: int | None = None,
                 dsp_budget: int | None = None, route_clocks: dict[str, float] | None = None,
                 simulator: bool = True, step: Callable[[str], None] = lambda _: None) -> Path:
    """Schedule, generate HDL for and write the bundle of an optimized ``program``.

    The routes share at most ``dsp_budget`` DSP blocks (default: the target device's
    count); products beyond it are built from LUTs. ``route_clocks`` schedules the
    routes it names (by path) for faster clocks than ``clock_mhz``, as timing
    closure asks (:mod:`fpgac.build`); each route's entry in the report records
    the clock it was scheduled for. ``simulator`` writes the cores' CXXRTL model
    into ``sim/`` for the runtime's ``sim`` device. ``step`` is called with a description before
    each long step (for progress display). Return the bundle directory.
    """
    from . import backend
    from .runtime import finish_bundle
    from .scheduling import DelayModel, schedule_app

    out = Path(out_dir)
    if out.exists() and not (out / "manifest.json").exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not a bundle; choose another -o DIR")
    started = time.perf_counter()

    step("scheduling")
    model = DelayModel.load(target)
    scheds = schedule_app({r.path: r.graph for r in program.routes}, model=model,
                          clock_mhz=clock_mhz, stages=stages, dsp_budget=dsp_budget,
                          route_clocks=route_clocks)
    clock = clock_mhz if clock_mhz is not None else next(
        (s.clock_mhz for s in scheds.values() if s.clock_mhz), None)

    step("generating Amaranth")
    source = backend.generate_app(program, scheds)
    # Only now is an old bundle replaced: a program that cannot be scheduled leaves it be.
    if out.exists():
        shutil.rmtree(out)
    (out / "hdl").mkdir(parents=True)
    (out / "hdl" / f"{program.app}.py").write_text(source)

    step("elaborating and writing Verilog and RTLIL")
    component = backend.elaborate(source)
    (out / "hdl" / f"{program.app}.v").write_text(backend.to_verilog(component, program.app))
    component = backend.elaborate(source)
    (out / "hdl" / f"{program.app}.il").write_text(backend.to_rtlil(component, program.app))
    if simulator:
        from .backend.sim import write_sim_model

        step("writing the cores' CXXRTL simulation")
        write_sim_model(backend.elaborate(source), [(r.path, r.name) for r in program.routes],
                        out)

    step("writing the IR, signature and report")
    (out / "ir.json").write_text(json.dumps(program_to_json(program), indent=1) + "\n")
    signature = backend.app_signature(program, scheds, component=backend.app_class_name(program))
    (out / "signature.json").write_text(json.dumps(signature, indent=1) + "\n")
    report = {
        "app": program.app,
        "target": target,
        "clock_mhz": clock,
        "fpgac_version": __version__,
        "routes": [route_report(r, scheds[r.path], model) for r in program.routes],
        "compile_seconds": round(time.perf_counter() - started, 3),
    }
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "report.txt").write_text(format_report(report))

    step("writing the manifest and host bindings")
    finish_bundle(out, {
        "app": program.app,
        "target": target,
        "clock_mhz": clock,
        "routes": [{
            "path": r.path, "name": r.name, "doc": r.doc,
            "params": [{"name": n, "type": ty_to_json(t)} for n, t in r.params],
            "returns": ty_to_json(r.returns),
            "latency": scheds[r.path].n_stages, "ii": 1,
        } for r in program.routes],
        "records": {name: ty_to_json(t) for name, t in program.records.items()},
    })
    return out


def route_clocks(bundle: str | os.PathLike, manifest: dict) -> dict[str, float]:
    """Return the routes of a bundle scheduled for a faster clock than the bundle's.

    Timing closure (:mod:`fpgac.build`) schedules a route for a faster clock and
    records it as the route's ``scheduled_mhz`` in report.json.
    """
    report = json.loads((Path(bundle) / "report.json").read_text())
    return {r["path"]: r["scheduled_mhz"] for r in report.get("routes", [])
            if r.get("scheduled_mhz") not in (None, manifest["clock_mhz"])}


def read_schedules(bundle: str | os.PathLike, manifest: dict,
                   target: str | None = None) -> tuple[Program, dict]:
    """Return a bundle's program and its routes' schedules, as the bundle was written.

    The schedules are made again from ``ir.json``, for the bundle's clock and the
    routes' own clocks (or the stages it was forced to), on ``target``'s delay
    model (default: the bundle's target).
    """
    from .ir import program_from_json
    from .scheduling import DelayModel, schedule_app

    program = program_from_json(json.loads((Path(bundle) / "ir.json").read_text()))
    model = DelayModel.load(target or manifest["target"])
    graphs = {r.path: r.graph for r in program.routes}
    if manifest["clock_mhz"] is None:  # written with --stages N: every route has N
        stages = max((r["latency"] for r in manifest["routes"]), default=0)
        return program, schedule_app(graphs, model=model, stages=stages)
    return program, schedule_app(graphs, model=model, clock_mhz=manifest["clock_mhz"],
                                 route_clocks=route_clocks(bundle, manifest))
