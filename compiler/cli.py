"""The ``fpgac`` command line."""

from __future__ import annotations

import os
import sys
import traceback
from contextlib import contextmanager
from functools import wraps
from pathlib import Path

import click

__all__ = ["main"]


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _user_errors(fn):
    """Print a user's mistake without a traceback (exit 1), and an internal bug with one."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        from .frontend.diagnostics import FpgacError
        from .runtime import BundleError

        try:
            return fn(*args, **kwargs)
        except BundleError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except FpgacError as e:
            click.echo(e.render(), err=True)
            n = len(e.diagnostics)
            click.echo(f"\n{n} error{'s' if n != 1 else ''}", err=True)
            sys.exit(1)
        except (click.ClickException, click.exceptions.Exit, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as Unix tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except OSError as e:
            raise click.ClickException(str(e)) from None
        except Exception:
            traceback.print_exc()
            click.echo("\ninternal error: this is a bug in fpgac, not in your handler; "
                       "please report it with the file that caused it", err=True)
            sys.exit(2)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fpgac")
def main():
    """Compile typed Python request handlers into pipelined FPGA cores.

    Start with `fpgac check handlers.py`, look at the dataflow with `fpgac ir`,
    and stream JSON requests through the bit-exact software model with `fpgac run`.
    """


FILE = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
FILE_OR_BUNDLE = click.argument("file", metavar="FILE|DIR",
                                type=click.Path(exists=True, path_type=Path))


def _model_and_doc(file: Path):
    """Return the software model and IR document of a handler module or a bundle directory."""
    import json

    from .runtime import load, model_from_ir

    if file.is_dir():
        bundle = load(file)  # validates the manifest and every file's hash
        return bundle.model, json.loads((file / "ir.json").read_text())
    from .driver import compile_file, optimize
    from .ir import program_to_json

    doc = program_to_json(optimize(compile_file(file)))
    return model_from_ir(doc), doc


@main.command()
@FILE
@_user_errors
def check(file: Path):
    """Parse and check FILE; print every error, or a table of its routes."""
    from rich.table import Table

    from .driver import compile_file
    from .ir import bit_width

    program = compile_file(file)
    table = Table(title=f"{file}: app `{program.app}`, {len(program.routes)} route(s), no errors")
    for col in ("route", "handler", "request bits", "response bits", "IR nodes"):
        table.add_column(col, justify="right" if "bits" in col or "nodes" in col else "left")
    for r in program.routes:
        table.add_row(r.path, r.name, str(sum(bit_width(t) for _, t in r.params)),
                      str(bit_width(r.returns)), str(len(r.graph)))
    _console().print(table)


def _pick_routes(program, route: str | None):
    if route is None:
        return program.routes
    try:
        return [program.route(route)]
    except KeyError:
        known = ", ".join(r.path for r in program.routes)
        raise click.BadParameter(f"no route {route!r}; the routes are {known}",
                                 param_hint="--route") from None


@main.command()
@FILE
@click.option("--route", "route", metavar="PATH", help="Only this route (path or function name).")
@click.option("--no-opt", is_flag=True, help="Print the IR as lowered, before the passes.")
@click.option("--dump-ir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write a numbered snapshot of the IR after every pass that changed it.")
@click.option("--no-spans", is_flag=True, help="Leave out the source locations.")
@_user_errors
def ir(file: Path, route: str | None, no_opt: bool, dump_ir: Path | None, no_spans: bool):
    """Print the typed dataflow IR of FILE's routes."""
    from .driver import compile_file, optimize
    from .ir import format_route

    program = compile_file(file)
    routes = _pick_routes(program, route)
    if not no_opt:
        program = optimize(program, dump_dir=dump_ir)
        routes = [program.route(r.path) for r in routes]
    click.echo("\n\n".join(format_route(r, spans=not no_spans) for r in routes))


def _steps(title: str):
    """Return a progress display for long steps: a context manager and a ``step(desc)``."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                        console=_console(stderr=True), transient=True)
    task = progress.add_task(title)

    def step(desc: str) -> None:
        progress.update(task, description=f"{title}: {desc}")

    return progress, step


@main.command(name="compile")
@FILE
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR", help="The bundle directory (default: build/<app>).")
@click.option("--target", type=click.Choice(["ice40", "ecp5", "generic"]), default="ice40",
              show_default=True, help="The delay model to schedule with.")
@click.option("--clock-mhz", type=click.FloatRange(min=0, min_open=True), metavar="F",
              help="Pipeline to meet this clock (default: 48 on ice40 and generic, 150 on ecp5).")
@click.option("--stages", type=click.IntRange(min=0), metavar="N",
              help="Force N pipeline stages instead of a clock.")
@_user_errors
def compile_(file: Path, out: Path | None, target: str, clock_mhz: float | None,
             stages: int | None):
    """Compile FILE into a bundle: IR, pipelined Amaranth cores, Verilog, report, bindings."""
    import json

    from .bundle import format_report, write_bundle
    from .driver import compile_file, optimize

    if clock_mhz is not None and stages is not None:
        raise click.UsageError("give either --clock-mhz or --stages, not both")
    program = optimize(compile_file(file))
    out = out or Path("build") / program.app
    progress, step = _steps(f"compiling `{program.app}`")
    with progress:
        write_bundle(program, out, target=target, clock_mhz=clock_mhz, stages=stages, step=step)
    report = json.loads((out / "report.json").read_text())
    click.echo(format_report(report), nl=False)
    click.echo(f"bundle written to {out}")


@main.command()
@FILE_OR_BUNDLE
@click.option("--board", type=click.Choice(["icebreaker", "ulx3s-85f"]), default="icebreaker",
              show_default=True, help="The board to build for.")
@click.option("--clock-mhz", type=click.FloatRange(min=0, min_open=True), metavar="F",
              help="The core clock (default: 48 on icebreaker, 150 on ulx3s-85f).")
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR", help="The bundle directory (default: build/<app>, or DIR itself).")
@click.option("--toolchain", type=click.Choice(["yowasp", "system"]), default="yowasp",
              show_default=True, help="The pip-installed YoWASP tools, or yosys/nextpnr on PATH.")
@click.option("--allow-timing-failure", is_flag=True,
              help="Keep the bitstream even when routed timing misses the clock.")
@click.option("--force", is_flag=True, help="Rebuild even when an unchanged build exists.")
@click.option("--virtual-only", is_flag=True,
              help="Write only the virtual board (for --device virtual): no synthesis, no "
                   "bitstream.")
@_user_errors
def build(file: Path, board: str, clock_mhz: float | None, out: Path | None, toolchain: str,
          allow_timing_failure: bool, force: bool, virtual_only: bool):
    """Build a bitstream of FILE (handlers) or DIR (a bundle) for a board, with the host link.

    Compiles for the board's FPGA and clock, wraps the cores in the board's top level
    (PLL, UART host link), then synthesizes, places and routes. Fails (exit 1) when routed
    timing misses the clock, naming the slow path's source lines.
    """
    from .build import BuildError, build_bundle, build_report_text

    progress, step = _steps(f"building {file.name} for {board}")
    try:
        with progress:
            result = build_bundle(file, board, clock_mhz=clock_mhz, out=out,
                                  toolchain=toolchain, allow_timing_failure=allow_timing_failure,
                                  force=force, virtual_only=virtual_only, step=step)
    except BuildError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    if virtual_only:
        click.echo(f"virtual board written to {result.bundle / 'virtual'}: run it with "
                   f"--device virtual")
        return
    import json

    report = json.loads((result.bundle / "report.json").read_text())
    click.echo(build_report_text(report), nl=False)
    if result.reused:
        click.echo("unchanged since the last build: reused it")
    click.echo(f"bitstream and reports written to {result.bundle}")


@main.command()
@click.argument("bundle", metavar="DIR", type=click.Path(exists=True, file_okay=False,
                                                          path_type=Path))
@click.option("--device", required=True, metavar="D",
              help="The board: serial:PORT[@BAUD], or virtual for the simulated board.")
@_user_errors
def status(bundle: Path, device: str):
    """Ask a board over its host link what it carries and what it has counted.

    Exits 1 when the board does not answer or carries another design than DIR's.
    """
    from rich.table import Table

    with _device_app(bundle, device) as app:
        if app is None:
            raise click.UsageError("the software model has no status: give --device "
                                   "serial:PORT or --device virtual")
        health = app.device.health()
        design = app.manifest["files"]["ir.json"]
    table = Table(title=f"{device} for bundle `{app.app}`", title_justify="left",
                  show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("answers, carrying this bundle's design", "yes" if health["ok"] else "NO")
    table.add_row("design (SHA-256 of ir.json)", design[:16] + "…")
    if "clock_khz" in health:
        table.add_row("core clock", f"{health['clock_khz'] / 1000:g} MHz")
        table.add_row("line rate", f"{health['baud']:,} baud")
        table.add_row("window (requests outstanding)", f"{health['window']}")
        table.add_row("frames received / dropped / sent",
                      f"{health['rx_frames']:,} / {health['rx_dropped']:,} / "
                      f"{health['tx_frames']:,}")
    if "error" in health:
        table.add_row("error", str(health["error"]))
    _console().print(table)
    if not health["ok"]:
        sys.exit(1)


@main.command()
@click.argument("bundle", metavar="DIR", type=click.Path(exists=True, file_okay=False,
                                                          path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print report.json instead of tables.")
@_user_errors
def report(bundle: Path, as_json: bool):
    """Print a bundle's report: per route stages, latency and Fmax; after a build, resources."""
    import json

    from .build import build_report_text
    from .bundle import format_report
    from .runtime import read_manifest

    read_manifest(bundle)  # a bundle, whole and unaltered
    data = json.loads((bundle / "report.json").read_text())
    if as_json:
        click.echo(json.dumps(data, indent=1))
        return
    click.echo(format_report(data), nl=False)
    if "build" in data:
        click.echo()
        click.echo(build_report_text(data), nl=False)
    else:
        click.echo("not built for a board yet: `fpgac build` adds resources and routed timing")


@main.command()
@FILE_OR_BUNDLE
@click.option("--route", "route", metavar="PATH", required=True,
              help="The route to run (path or function name).")
@click.option("--input", "input_", type=click.File("r"), default="-", show_default=True,
              metavar="F.jsonl", help="JSON lines of requests; `-` reads standard input.")
@click.option("--device", default="software", show_default=True, metavar="D",
              help="Where requests run: software, sim (the bundle's cores, simulated cycle "
                   "by cycle), virtual (a built bundle's simulated board) or "
                   "serial:PORT[@BAUD] (a board running the bundle's bitstream).")
@_user_errors
def run(file: Path, route: str, input_, device: str):
    """Stream JSON-line requests through a route; print one JSON line per request, in order.

    A refused request prints {"error": ..., "line": N} and the run exits 1; every other
    request is still answered.
    """
    with _device_app(file, device) as app:
        app_model = app.model if app is not None else _model_and_doc(file)[0]
        try:
            model = app_model.route(route)
        except KeyError:
            known = ", ".join(app_model.routes)
            raise click.BadParameter(f"no route {route!r}; the routes are {known}",
                                     param_hint="--route") from None
        refused = _run_lines(app.route(route) if app is not None else model, input_)
    if refused:
        click.echo(f"{refused} request(s) refused", err=True)
        sys.exit(1)


@contextmanager
def _device_app(file: Path, device: str):
    """Yield the bundle ``file`` loaded on ``device``, or None for the software model."""
    if device == "software":
        yield None
        return
    from .runtime import DeviceError, load

    if not file.is_dir():
        raise click.UsageError(f"--device {device} runs a bundle: give the directory that "
                               f"`fpgac build` wrote, not a handler module")
    try:
        app = load(file, device=device)
    except DeviceError as e:
        raise click.ClickException(f"cannot use device {device!r}: {e}") from None
    try:
        yield app
    finally:
        app.close()


def _run_lines(model, input_) -> int:
    """Answer every line of ``input_`` on stdout; return how many were refused."""
    from .runtime import run_jsonl

    out = sys.stdout
    if out.isatty():
        # Responses go to the terminal; a live count of answered requests goes to stderr.
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(SpinnerColumn(), TextColumn("{task.completed:,} requests answered"),
                      TimeElapsedColumn(), console=_console(stderr=True),
                      transient=True) as progress:
            task = progress.add_task("run")

            def write(text: str) -> None:
                out.write(text)
                progress.advance(task, text.count("\n"))

            refused = run_jsonl(model, input_, write)
    else:
        refused = run_jsonl(model, input_, out.write)
    out.flush()
    return refused


@main.command()
@FILE_OR_BUNDLE
@click.option("--route", "route", metavar="PATH", required=True,
              help="The route whose core to simulate (path or function name).")
@click.option("--input", "input_", metavar="F.jsonl",
              help="JSON lines of requests; `-` reads standard input.")
@click.option("--random", "random_", type=click.IntRange(min=0), metavar="N",
              help="Simulate N random requests instead of --input.")
@click.option("--engine", type=click.Choice(["cxxrtl", "amaranth"]), default="cxxrtl",
              show_default=True, help="cxxrtl: compiled C++, fast; amaranth: the Python "
                                      "simulator, for debugging.")
@click.option("--stall", type=click.FloatRange(0, 1, max_open=True), default=0.0,
              show_default=True, metavar="P", help="Probability that the output is not ready "
                                                   "in a cycle.")
@click.option("--gap", type=click.FloatRange(0, 1, max_open=True), default=0.0,
              show_default=True, metavar="P", help="Probability of an idle input cycle.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for stalls, gaps "
                                                                     "and random requests.")
@click.option("--vcd", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write a waveform of the simulation.")
@click.option("--target", type=click.Choice(["ice40", "ecp5", "generic"]),
              help="The delay model to schedule with (default: ice40, or the bundle's).")
@click.option("--clock-mhz", type=click.FloatRange(min=0, min_open=True), metavar="F",
              help="Pipeline to meet this clock.")
@click.option("--stages", type=click.IntRange(min=0), metavar="N", help="Force N stages.")
@_user_errors
def sim(file: Path, route: str, input_: str | None, random_: int | None, engine: str,
        stall: float, gap: float, seed: int, vcd: str | None, target: str | None,
        clock_mhz: float | None, stages: int | None):
    """Simulate a route's pipelined core cycle by cycle, checking every response.

    FILE is a handler module, scheduled with the options given; DIR is a bundle,
    whose core is simulated as it was compiled. Responses go to stdout as JSON
    lines in request order; cycles, latency, requests per cycle and mismatches
    against the software model go to stderr. Exits 1 on any mismatch or refused
    request.
    """
    from .simulate import run_cli

    if input_ is not None and random_ is not None:
        raise click.UsageError("give either --input or --random, not both")
    if clock_mhz is not None and stages is not None:
        raise click.UsageError("give either --clock-mhz or --stages, not both")
    status = run_cli(file, route, input_=input_, random=random_, engine=engine, stall=stall,
                     gap=gap, seed=seed, vcd=vcd, clock_mhz=clock_mhz, stages=stages,
                     target=target)
    sys.exit(status)


@main.command()
@FILE_OR_BUNDLE
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="The port to listen on.")
@click.option("--device", default="software", show_default=True, metavar="D",
              help="Where requests run: software, sim (the bundle's cores, simulated cycle "
                   "by cycle), virtual (a built bundle's simulated board) or "
                   "serial:PORT[@BAUD] (a board running the bundle's bitstream).")
@click.option("--max-body-bytes", default=1 << 20, show_default=True, type=click.IntRange(1),
              help="Refuse single requests larger than this (413).")
@_user_errors
def serve(file: Path, host: str, port: int, device: str, max_body_bytes: int):
    """Serve FILE's routes over HTTP: one POST endpoint per route, NDJSON batches at
    <route>/batch, the OpenAPI document at /openapi.json, /healthz and /metrics."""
    try:
        from .runtime.serve import run_server
    except ImportError as e:
        raise click.ClickException(f"serving needs the serve extra: pip install 'fpgac[serve]' "
                                   f"({e})") from None
    with _device_app(file, device) as app:
        if app is None:
            model, doc = _model_and_doc(file)
            click.echo(f"serving app `{doc['app']}` on http://{host}:{port} "
                       f"(OpenAPI at /docs)", err=True)
            run_server(model, doc, host, port, max_body_bytes=max_body_bytes)
            return
        from .runtime.serve import create_app_from_routes, routes_from_bundle
        from .runtime.serve import serve as serve_app

        click.echo(f"serving app `{app.app}` on http://{host}:{port} from device "
                   f"{device} (OpenAPI at /docs)", err=True)
        serve_app(create_app_from_routes(app.app, routes_from_bundle(app),
                                         max_body_bytes=max_body_bytes), host, port)


if __name__ == "__main__":  # pragma: no cover
    main()
