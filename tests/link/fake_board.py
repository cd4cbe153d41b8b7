"""A board in pure Python for the link tests, and the lines and ports that reach it.

:class:`FakeBoard` decodes request frames with the reference codec, answers
them with the runtime's software model, answers status queries, and can
reorder responses across routes, hold them back, or send them twice.
:class:`Line` damages the bytes of one direction (corrupts or drops bytes).
:class:`MemoryPort` is a pyserial-like port wired straight to a board, with a
fake clock that advances whenever a read would wait: tests with timeouts run
instantly. :func:`serve_pty` serves a board on a pseudo-terminal, optionally
paced to a baud rate, so the real serial path is exercised.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import select
import threading
import time
import tty
from collections import deque
from pathlib import Path

import numpy as np

from fpgac.runtime import load
from fpgac.runtime._framing import (
    KIND_STATUS,
    PROTOCOL_VERSION,
    FrameDecoder,
    Status,
    encode_frame,
    pack_body,
    payload_bytes,
    unpack_body,
)

SOURCE = '''
"""The app the link tests run: small, record-valued and wide routes."""
from fpgac import App, Array, Record, i16, u8, u16, u64, uint

app = App("linked")


class Point(Record):
    x: i16
    y: i16


class Verdict(Record):
    inside: bool
    dist: u16
    delta: i16


@app.post("/luma")
def luma(r: u8, g: u8, b: u8) -> u8:
    return ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16


@app.post("/check")
def check(p: Point, radius: u8, xs: Array[u8, 3]) -> Verdict:
    d = abs(p.x) + abs(p.y)
    return Verdict(inside=d <= radius, dist=d, delta=p.x - p.y + xs[0] - xs[2])


@app.post("/wide")
def wide(a: u64, b: uint(100), f: bool) -> uint(100):
    return b ^ a if f else b + a
'''


def build_bundle(parent: Path) -> Path:
    """Compile :data:`SOURCE` into a bundle under ``parent``; return its directory."""
    from fpgac.bundle import write_bundle
    from fpgac.driver import compile_file, optimize

    source = Path(parent) / "linked.py"
    source.write_text(SOURCE)
    return write_bundle(optimize(compile_file(source)), Path(parent) / "linked")


class BoardApp:
    """What a board needs from a bundle: route models, leaf layouts and the design hash."""

    def __init__(self, bundle: Path):
        self.directory = Path(bundle)
        app = load(bundle, device="software")
        self.models = [app.model.route(path) for path in app.routes]
        app.close()
        signature = json.loads((self.directory / "signature.json").read_text())
        self.requests = [r["request"]["leaves"] for r in signature["routes"]]
        self.responses = [r["response"]["leaves"] for r in signature["routes"]]
        self.request_widths = [r["request"]["width"] for r in signature["routes"]]
        self.memo: list[dict[bytes, bytes]] = [{} for _ in self.models]
        manifest = json.loads((self.directory / "manifest.json").read_text())
        self.design_hash = bytes.fromhex(manifest["files"]["ir.json"])
        assert self.design_hash == hashlib.sha256(
            (self.directory / "ir.json").read_bytes()).digest()

    def leaves(self) -> list[tuple[list[dict], list[dict]]]:
        """Return ``(request_leaves, response_leaves)`` per route kind, for a LinkClient."""
        return list(zip(self.requests, self.responses))

    def random_bodies(self, kind: int, n: int, rng: random.Random) -> list[bytes]:
        """Return ``n`` random request bodies of route ``kind`` (every bit pattern is valid)."""
        width = self.request_widths[kind]
        size = payload_bytes(width)
        return [rng.getrandbits(width).to_bytes(size, "little") if width else b""
                for _ in range(n)]

    def answer(self, kind: int, bodies: list[bytes]) -> list[bytes]:
        """Return the response bodies of requests of one kind (remembered once computed)."""
        memo = self.memo[kind]
        missing = list({body for body in bodies if body not in memo})
        if missing:
            memo.update(zip(missing, self.compute(kind, missing)))
        return [memo[body] for body in bodies]

    def compute(self, kind: int, bodies: list[bytes]) -> list[bytes]:
        """Compute the response bodies of requests of one kind with the software model."""
        model = self.models[kind]
        leaves = self.requests[kind]
        rows = [unpack_body(leaves, body) for body in bodies]
        columns = {}
        for j, leaf in enumerate(leaves):
            column = np.empty(len(rows), dtype=object)
            column[:] = [row[j] for row in rows]
            columns[leaf["path"]] = column
        outputs = model.run_columns(columns)
        out_leaves = self.responses[kind]
        values = [outputs[leaf["path"]].tolist() for leaf in out_leaves]
        return [pack_body(out_leaves, row) for row in zip(*values)]


#: The most ``transmit`` calls in a row that may hold a board's next response back.
MAX_HOLD = 8


class FakeBoard:
    """A board: requests in (``receive``), responses out (``transmit``).

    ``window`` requests may wait for their responses to be sent; a request
    beyond that is dropped and counted in ``overflows`` (a host that keeps to
    the window never sees that). Knobs, as probabilities per response:
    ``duplicate`` sends a response twice, ``hold`` keeps all responses for a
    later ``transmit`` (never more than :data:`MAX_HOLD` times in a row: a
    board answers within bounded time); ``reorder`` interleaves the routes'
    responses at random (each route stays in order). ``mute`` is a set of
    route kinds (or ``KIND_STATUS``) whose requests get no answer at all;
    ``stall`` a set of route kinds whose responses are kept aside (outside
    the window) until :meth:`release`.
    """

    def __init__(self, app: BoardApp, *, window: int = 16, baud: int = 3_000_000,
                 design_hash: bytes | None = None, n_routes: int | None = None,
                 duplicate: float = 0.0, hold: float = 0.0, reorder: bool = False,
                 mute: set[int] | None = None, stall: set[int] | None = None, seed: int = 0):
        self.app = app
        self.window = window
        self.baud = baud
        self.design_hash = app.design_hash if design_hash is None else design_hash
        self.n_routes = len(app.models) if n_routes is None else n_routes
        self.duplicate = duplicate
        self.hold = hold
        self.reorder = reorder
        self.mute = set(mute or ())
        self.stall = set(stall or ())
        self.stalled: list[tuple[int, bytes]] = []
        self.rng = random.Random(seed)
        sizes = [payload_bytes(w) for w in app.request_widths]
        self.decoder = FrameDecoder(
            lambda kind: 0 if kind == KIND_STATUS else (sizes[kind] if kind < len(sizes)
                                                         else None))
        self.queues: dict[int, deque[bytes]] = {}
        self.order: deque[int] = deque()  # the kinds of queued responses, in arrival order
        self.overflows = 0
        self.held = 0  # transmits in a row that held the next response back
        self.tx_frames = 0
        self.requests_seen: list[tuple[int, int]] = []  # (kind, tag) of every accepted request
        self.lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Requests whose responses are not sent yet (status answers included)."""
        return len(self.order)

    def receive(self, data: bytes) -> None:
        """Take bytes from the host; answer the complete, intact frames among them."""
        with self.lock:
            frames = self.decoder.feed(data)
            accepted = []
            for frame in frames:
                if self.pending >= self.window:
                    self.overflows += 1
                    continue
                self.requests_seen.append((frame.kind, frame.tag))
                if frame.kind in self.mute:
                    continue
                accepted.append(frame)
                if frame.kind not in self.stall:
                    self.order.append(frame.kind)
            by_kind: dict[int, list] = {}
            for frame in accepted:
                by_kind.setdefault(frame.kind, []).append(frame)
            for kind, group in by_kind.items():
                queue = self.queues.setdefault(kind, deque())
                if kind == KIND_STATUS:
                    for frame in group:
                        queue.append(encode_frame(kind, frame.tag, self.status().encode()))
                    continue
                bodies = self.app.answer(kind, [f.body for f in group])
                frames = [encode_frame(kind, f.tag, body) for f, body in zip(group, bodies)]
                if kind in self.stall:
                    self.stalled += [(kind, frame) for frame in frames]
                else:
                    queue.extend(frames)

    def release(self) -> None:
        """Stop stalling; queue the responses kept aside, for the next ``transmit``."""
        with self.lock:
            self.stall.clear()
            for kind, frame in self.stalled:
                self.queues.setdefault(kind, deque()).append(frame)
                self.order.append(kind)
            self.stalled.clear()

    def status(self) -> Status:
        """Return the board's status now."""
        return Status(PROTOCOL_VERSION, self.n_routes, 48_000, self.baud, self.window,
                      self.design_hash, self.decoder.frames, self.decoder.dropped,
                      self.tx_frames)

    def transmit(self, limit: int | None = None) -> bytes:
        """Return the bytes of up to ``limit`` queued responses, damaged as the knobs say."""
        out = []
        with self.lock:
            if self.order and self.hold and self.held < MAX_HOLD \
                    and self.rng.random() < self.hold:
                self.held += 1
                return b""
            self.held = 0
            while self.order and (limit is None or len(out) < limit):
                if self.reorder:
                    kinds = sorted(k for k, q in self.queues.items() if q)
                    kind = self.rng.choice(kinds)
                    self.order.remove(kind)
                else:
                    kind = self.order.popleft()
                frame = self.queues[kind].popleft()
                out.append(frame)
                self.tx_frames += 1
                if self.duplicate and self.rng.random() < self.duplicate:
                    out.append(frame)
        return b"".join(out)


class Line:
    """Damage the bytes of one direction, with probabilities per byte.

    ``corrupt`` replaces a byte by another, ``drop`` loses it, and ``flip``
    flips one of its bits, as the virtual board's line does (``--corrupt``).
    """

    def __init__(self, *, corrupt: float = 0.0, drop: float = 0.0, flip: float = 0.0,
                 seed: int = 0):
        self.corrupt = corrupt
        self.drop = drop
        self.flip = flip
        self.rng = random.Random(seed)
        self.damaged = 0

    def carry(self, data: bytes) -> bytes:
        """Return ``data`` as it arrives at the other end."""
        if not (self.corrupt or self.drop or self.flip):
            return data
        rng, out = self.rng, bytearray()
        for byte in data:
            r = rng.random()
            if r < self.drop:
                self.damaged += 1
                continue
            if r < self.drop + self.corrupt:
                self.damaged += 1
                byte ^= rng.randrange(1, 256)
            elif r < self.drop + self.corrupt + self.flip:
                self.damaged += 1
                byte ^= 1 << rng.randrange(8)
            out.append(byte)
        return bytes(out)


class FakeClock:
    """A clock for tests: time passes only when a port would wait."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class MemoryPort:
    """A pyserial-like port wired to a board: what is written arrives at once.

    A read that finds nothing advances ``clock`` by ``timeout`` instead of
    waiting (with ``real_time=True`` it sleeps that long). ``written`` logs
    every write. With ``delay`` the board's bytes reach the host that many
    seconds (of ``clock``) after the board sent them; until ``quiet_until``
    the board sends nothing (its responses wait).
    """

    def __init__(self, board: FakeBoard, *, up: Line | None = None, down: Line | None = None,
                 real_time: bool = False, delay: float = 0.0):
        self.board = board
        self.up = up or Line()
        self.down = down or Line()
        self.clock = FakeClock()
        self.real_time = real_time
        self.delay = delay
        self.quiet_until = 0.0
        self.arriving: deque[tuple[float, bytes]] = deque()
        self.timeout: float | None = None
        self.buffer = bytearray()
        self.written: list[bytes] = []
        self.closed = False
        #: Set to make every later write and read fail, as an unplugged adapter does.
        self.unplugged = False

    def _check(self) -> None:
        if self.closed:
            raise ValueError("the port is closed")
        if self.unplugged:
            raise OSError(5, "Input/output error")

    def write(self, data: bytes) -> int:
        self._check()
        self.written.append(bytes(data))
        self.board.receive(self.up.carry(bytes(data)))
        return len(data)

    def _pull(self) -> None:
        now = self.clock.now
        if now >= self.quiet_until:
            data = self.down.carry(self.board.transmit())
            if data:
                self.arriving.append((now + self.delay, data))
        while self.arriving and self.arriving[0][0] <= now:
            self.buffer += self.arriving.popleft()[1]

    @property
    def in_waiting(self) -> int:
        self._check()
        self._pull()
        return len(self.buffer)

    def read(self, n: int = 1) -> bytes:
        self._check()
        if not self.buffer:
            self._pull()
        if not self.buffer:
            if self.real_time:
                time.sleep(self.timeout or 0.0)
            else:
                self.clock.now += self.timeout or 0.0
            return b""
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def close(self) -> None:
        self.closed = True


#: How often a paced board's bytes reach the host (a USB adapter sends packets, not bytes).
PACKET_SECONDS = 0.000125


class PtyBoard:
    """Serve a board on a pseudo-terminal from a thread; ``port`` is the terminal's path.

    With ``paced=True`` both directions move at the board's baud (10 bits a
    byte, as a UART with one start and one stop bit): bytes from the host
    reach the board when the line has carried them, and responses leave no
    faster than the line carries them.
    """

    def __init__(self, board: FakeBoard, *, up: Line | None = None, down: Line | None = None,
                 paced: bool = False):
        self.board = board
        self.up = up or Line()
        self.down = down or Line()
        self.paced = paced
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.bytes_in = 0
        self.bytes_out = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-board", daemon=True)

    def __enter__(self) -> PtyBoard:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and close the terminal."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def _serve(self) -> None:
        # Each direction is a FIFO that carries one byte per `byte_time`. A byte read from the
        # host at `t` reaches the board when the line has carried it (`rx_free`). The board's
        # bytes go to the host as a USB serial adapter sends them: every `PACKET_SECONDS`, what
        # the line carried meanwhile (`tx_free`: a line that fell idle restarts from now).
        paced = self.paced
        byte_time = 10 / self.board.baud
        arriving: deque[tuple[float, bytes]] = deque()
        outgoing = bytearray()
        rx_free = tx_free = next_packet = time.perf_counter()
        while not self._stop.is_set():
            now = time.perf_counter()
            wait = 0.002
            if arriving:
                wait = min(wait, PACKET_SECONDS)
            if outgoing:
                wait = min(wait, next_packet - now)
            readable, _, _ = select.select([self.master], [], [], max(0.0, wait))
            now = time.perf_counter()
            if readable:
                try:
                    data = os.read(self.master, 1 << 16)
                except OSError:
                    return
                self.bytes_in += len(data)
                if paced:
                    rx_free = max(rx_free, now) + len(data) * byte_time
                arriving.append((rx_free, data))
            while arriving:
                end, data = arriving[0]
                if paced and end > now:
                    # Deliver the part of this chunk the line has carried so far.
                    arrived = len(data) - math.ceil((end - now) / byte_time)
                    if arrived > 0:
                        self.board.receive(self.up.carry(data[:arrived]))
                        arriving[0] = (end, data[arrived:])
                    break
                arriving.popleft()
                self.board.receive(self.up.carry(data))
            if not outgoing:
                outgoing += self.down.carry(self.board.transmit())
                tx_free = max(tx_free, now)
            if outgoing and (not paced or now >= next_packet):
                count = len(outgoing)
                if paced:
                    count = min(count, int((now - tx_free) / byte_time))
                    next_packet = now + PACKET_SECONDS
                if count:
                    try:
                        written = os.write(self.master, bytes(outgoing[:count]))
                    except OSError:
                        return
                    del outgoing[:written]
                    self.bytes_out += written
                    tx_free += written * byte_time
