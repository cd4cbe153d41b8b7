"""Benchmark the host link on the virtual board: requests per simulated second against the line.

The board's UART is the link's bottleneck: at ``baud`` bits per second a line
carries ``baud / 10`` bytes per second (8N1), so a route whose request frame
is ``q`` bytes and whose response frame is ``r`` bytes can run at most
``baud / 10 / max(q, r)`` requests per second (requests and responses travel
on separate wires at once). This benchmark streams random requests back to
back through the virtual board (the board's real link top level, simulated
cycle by cycle with CXXRTL behind a pseudo-terminal) and counts the requests
answered per *simulated* second: the simulator's cycles from the first request
byte on ``rx`` to the last response byte on ``tx``, at the board's clock.
The ratio to the line's maximum is the link's efficiency; the bar is 0.80.

Two hosts drive the board:

- **frames**: a minimal host in this file: frames from ``encode_frame``
  written ahead up to the board's window, responses decoded as they come
  (the first ``--check`` checked against the software model);
- **runtime**: the device of ``fpgac.runtime.load(bundle, device="virtual")``
  given the requests as leaf columns, as the dispatcher gives them: the host
  driver (``LinkClient``) with its packing, tags and bookkeeping; every
  response compared with the software model's.

The frame sizes are the unescaped ones (kind, tag, body, CRC and END); SLIP
escapes lengthen a few frames, which the ratio counts against the link. The
last column is the wall-clock rate, which the simulator's speed bounds, not
the link's.

With ``--corrupt P`` the line flips a bit in each byte with probability P, both
ways, and only the runtime host runs (the frames host does not resend): the
ratio is then the link's goodput on a damaged line, with every response still
checked. Its bar is the clean line's bar times the share of requests whose
frame and answer both cross intact, about the best any resending host can
do. The simulator then sleeps after 10,000 idle cycles instead of a million,
so that the host's timeouts at the tail of a run, real seconds that a slow
simulation would fill with idle cycles, do not count as link time.

Run ``python benchmarks/bench_link.py`` (the routes of ``examples/imaging.py``);
``--file crc.py --route /crc32`` for others, ``--n`` requests per route.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import serial
from rich.console import Console
from rich.table import Table

from fpgac import backend
from fpgac.backend.board.link import LinkTop
from fpgac.backend.board.virtual import write_virtual_board
from fpgac.bundle import write_bundle
from fpgac.driver import compile_file, optimize
from fpgac.runtime import BundleData, finish_bundle, load, model_from_ir
from fpgac.runtime._framing import (
    HEADER_BYTES,
    TRAILER_BYTES,
    FrameDecoder,
    encode_frame,
    pack_body,
    payload_bytes,
    unpack_body,
)
from fpgac.runtime._serial import BoardDevice
from fpgac.runtime._virtual import _LINK_TIMEOUT, VirtualBoard, VirtualDevice

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BAR = 0.80
#: Idle cycles after which a simulator with a damaged line sleeps until the host writes.
DAMAGED_IDLE_CYCLES = 10_000


def build(file: Path, out: Path, *, clk_hz: int, baud: int, window: int) -> Path:
    """Write the bundle of ``file`` with its virtual board into ``out``; return it."""
    bundle = write_bundle(optimize(compile_file(file)), out, clock_mhz=clk_hz / 1e6)
    manifest = json.loads((bundle / "manifest.json").read_text())
    signature = json.loads((bundle / "signature.json").read_text())
    app = backend.elaborate((bundle / "hdl" / f"{manifest['app']}.py").read_text())
    top = LinkTop(app, signature, clk_hz=clk_hz, baud=baud, window=window,
                  design_hash=bytes.fromhex(manifest["files"]["ir.json"]))
    write_virtual_board(top, bundle)
    finish_bundle(bundle, {k: manifest[k] for k in ("app", "target", "clock_mhz", "routes",
                                                    "records")})
    return bundle


def frame_bytes(width: int) -> int:
    """Return the unescaped line bytes of a frame whose payload is ``width`` bits."""
    return HEADER_BYTES + payload_bytes(width) + TRAILER_BYTES + 1


def _span_seconds(stats: dict) -> float:
    return (stats["last_out_cycle"] - stats["first_in_cycle"]) / stats["clk_hz"]


def run_frames(bundle: Path, kind: int, route: dict, model, n: int, check: int, seed: int,
               window: int) -> tuple[float, float]:
    """Stream ``n`` requests as raw frames; return (requests per simulated s, per wall s)."""
    rng = random.Random(seed)
    leaves = route["request"]["leaves"]
    values = [[rng.randrange(1 << leaf["width"]) for leaf in leaves] for _ in range(n)]
    frames = [encode_frame(kind, i & 0xFFFF, pack_body(leaves, v)) for i, v in enumerate(values)]
    decoder = FrameDecoder()
    with VirtualBoard(bundle) as board:
        port = serial.Serial(board.port, board.baud, timeout=0.01)
        received, sent = [], 0
        deadline = time.monotonic() + 60 + n / 100
        started = time.perf_counter()
        while len(received) < n:
            if time.monotonic() > deadline:
                raise SystemExit(f"route {route['path']}: {len(received)} of {n} answered")
            if sent < n and sent - len(received) < window:
                upto = min(n, len(received) + window)
                port.write(b"".join(frames[sent:upto]))
                sent = upto
            received += decoder.feed(port.read(max(1, port.in_waiting)))
        wall = time.perf_counter() - started
        port.close()
    if decoder.dropped:
        raise SystemExit(f"route {route['path']}: {decoder.dropped} frames damaged")
    paths = [leaf["path"] for leaf in leaves]
    out_leaves = route["response"]["leaves"]
    for i, frame in enumerate(received[:check]):
        want = model.route(route["path"]).run_leaves(dict(zip(paths, values[i])))
        if frame.tag != i or unpack_body(out_leaves, frame.body) != \
                [want[leaf["path"]] for leaf in out_leaves]:
            raise SystemExit(f"route {route['path']}: response {i} differs from the model")
    # No status exchange came first: the span starts with the first request's first byte.
    return n / _span_seconds(board.stats()), n / wall


def run_runtime(bundle: Path, route: dict, n: int, seed: int,
                corrupt: float = 0.0) -> tuple[float, float]:
    """Run ``n`` requests on the ``virtual`` device; return (per simulated s, per wall s).

    The requests go to the device as leaf columns, as the runtime's dispatcher hands them
    over, and every response is compared with the software model's. ``corrupt`` damages
    the line; the device is then the same link driver on a board that sleeps sooner.
    """
    rng = random.Random(seed)
    columns = {leaf["path"]: np.array([rng.randrange(1 << leaf["width"]) for _ in range(n)],
                                      dtype=np.int64)
               for leaf in route["request"]["leaves"]}
    if corrupt:
        with load(bundle, device="software") as software:
            data = BundleData(software.directory, software.manifest, software.model)
        route_model = data.model.route(route["path"])
        board = VirtualBoard(bundle, corrupt=corrupt, seed=seed, persist=True,
                             idle_cycles=DAMAGED_IDLE_CYCLES)
        try:
            device = VirtualDevice(board, BoardDevice.open(data, board.port, board.baud,
                                                           timeout=_LINK_TIMEOUT), "virtual")
            started = time.perf_counter()
            got = device.run(route_model, columns)
            wall = time.perf_counter() - started
            device.close()
        finally:
            board.close()
    else:
        with load(bundle, device="virtual") as app:
            device = app.device
            route_model = app.route(route["path"]).model
            started = time.perf_counter()
            got = device.run(route_model, columns)
            wall = time.perf_counter() - started
    want = route_model.run_columns(columns)
    for path, column in want.items():
        if not np.array_equal(np.asarray(got[path]), np.asarray(column)):
            raise SystemExit(f"route {route['path']}: the virtual device differs from software "
                             f"in `{path}`")
    # The session also carried the connection's status exchange; it is small next to n.
    return n / _span_seconds(device.board.stats()), n / wall


def _rate(x: float) -> str:
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.3g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", default="imaging.py", help="an example (default imaging.py)")
    parser.add_argument("--route", action="append", help="a route path (default: all)")
    parser.add_argument("--n", type=int, default=3000, help="requests per route and host")
    parser.add_argument("--check", type=int, default=500,
                        help="frames-host responses checked against the model")
    parser.add_argument("--clk-hz", type=int, default=48_000_000)
    parser.add_argument("--baud", type=int, default=3_000_000)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--host", choices=["frames", "runtime", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--corrupt", type=float, default=0.0,
                        help="probability that the line flips a bit of a byte (runtime host)")
    args = parser.parse_args(argv)
    if args.corrupt:
        args.host = "runtime"

    console = Console(width=120)
    file = Path(args.file)
    if not file.exists():
        file = EXAMPLES / args.file
    work = Path(tempfile.mkdtemp(prefix="bench-link-"))
    try:
        started = time.perf_counter()
        bundle = build(file, work / file.stem, clk_hz=args.clk_hz, baud=args.baud,
                       window=args.window)
        VirtualBoard(bundle).close()  # compile the simulator (or find it cached) up front
        console.print(f"bundle and virtual board ready in {time.perf_counter() - started:.1f} s")
        signature = json.loads((bundle / "signature.json").read_text())
        model = model_from_ir(json.loads((bundle / "ir.json").read_text()))
        damage = f", {args.corrupt:.2%} of bytes corrupted" if args.corrupt else ""
        table = Table(title=f"{file.name} over the virtual board: {args.clk_hz / 1e6:g} MHz, "
                            f"{args.baud} baud, window {args.window}, {args.n} requests{damage}")
        for col in ("route", "host", "frame bytes req/resp", "line max req/s",
                    "req/s simulated", "ratio", "bar", "req/s wall"):
            table.add_column(col, justify="left" if col in ("route", "host") else "right")
        worst = 1.0
        hosts = ["frames", "runtime"] if args.host == "both" else [args.host]
        for kind, route in enumerate(signature["routes"]):
            if args.route and route["path"] not in args.route:
                continue
            q = frame_bytes(route["request"]["width"])
            r = frame_bytes(route["response"]["width"])
            line_max = args.baud / 10 / max(q, r)
            # On a damaged line a request counts only when its frame and its answer are
            # intact: the bar is that share of the clean line's.
            bar = BAR * (1 - args.corrupt) ** (q + r)
            for host in hosts:
                if host == "frames":
                    sim, wall = run_frames(bundle, kind, route, model, args.n, args.check,
                                           args.seed, args.window)
                else:
                    sim, wall = run_runtime(bundle, route, args.n, args.seed, args.corrupt)
                ratio = sim / line_max
                worst = min(worst, ratio / bar)
                table.add_row(route["path"], host, f"{q} / {r}", _rate(line_max), _rate(sim),
                              f"{ratio:.3f}", f"{bar:.2f} " + ("met" if ratio >= bar else
                                                               "MISSED"), _rate(wall))
        console.print(table)
        return 0 if worst >= 1 else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
