"""The host side of a board's link: requests out, responses back, over a serial port.

:class:`LinkClient` speaks the protocol of :mod:`._framing` over any
pyserial-like port. It sends a route's requests as frames, keeps up to the
board's *window* of them outstanding so that the line never idles, matches
responses to requests by tag, resends what was lost or corrupted, and returns
the responses in request order. It runs on the caller's thread: it writes
while the window has room, reads whatever has arrived without waiting, and
waits for the port (at most its short read timeout) only when it has
nothing to write.

How losses are found and why a late answer is never mistaken for another:

- Every transmission — a first send or a resend — gets a fresh 16-bit tag.
  Tags are taken from a counter that cycles through all 65,536 values and
  skips any tag whose transmission could still be answered, so a tag is
  never in use twice.
- The board answers each route's requests in order, and the line is a FIFO.
  So when the response to a transmission arrives, every earlier transmission
  of the same kind that is still unanswered is proven lost (its request or
  its response was dropped): it is resent at once and its tag is freed.
- A transmission unanswered for the *timeout* (the tail of a burst, where
  no later response proves anything) is resent too, but its tag stays
  reserved until it is proven dead the same way. If its answer comes late
  after all, it answers its own request (same request, same body); a second
  answer to a request is dropped and counted as a duplicate.
- The timeout adapts to the line: it is the larger of the configured one and
  twice the smoothed round trip plus four times its deviation, measured on
  every answer (each tag names one transmission, so every answer times its
  own). A board simulated far slower than real time thus gets a longer one.
  A request that timed out while nothing at all came from the board waits
  twice as long before its next timeout, and the client also sends a status
  query then, as a probe: a board that is alive answers it (the reply is
  bytes on the line even when damaged), so a request lost again and again on
  its way in is not taken for a board that stopped.
- A transmission counts against the window while the board may still hold
  it: until it is answered or proven dead, and, once resent after a timeout,
  for one more timeout at most (so that a board that lost a whole window of
  requests cannot stall the link). Status queries count too: the board
  queues them with the requests.

When the link gives up (:class:`LinkError`): on a request that timed out
``1 + retries`` times in a row while the board sent nothing at all, probes
unanswered (a board that stopped), on a request lost ``max_attempts`` times
while the board was answering (a line too damaged to use, or a route that
never answers), and on a port that fails. A damaged line alone loses a request many
times in a row only with a negligible probability (at 1 % of bytes
corrupted, a small frame and its response are lost about one time in six),
so a working board is not given up on for noise.

Frames the decoder drops (bad CRC, bad escape, wrong length, unknown kind)
are just losses; a response whose tag belongs to a transmission of another
kind is ignored and counted.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import threading
import time
from binascii import crc_hqx
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._devices import DeviceError
from ._framing import (
    HEADER_BYTES,
    KIND_STATUS,
    MAX_ROUTES,
    PROTOCOL_VERSION,
    STATUS_BODY_BYTES,
    TRAILER_BYTES,
    Status,
    encode_frame,
    payload_bytes,
)

__all__ = ["LinkClient", "LinkError", "FastFrameDecoder", "DEFAULT_RETRIES", "MAX_ATTEMPTS",
           "MIN_TIMEOUT", "MAX_TIMEOUT", "POLL_SECONDS", "body_bytes"]

#: Timeouts of one request in a row, with nothing at all from the board, before the link
#: gives up on it (the transmissions are then ``1 + DEFAULT_RETRIES``).
DEFAULT_RETRIES = 4
#: Transmissions of one request, lost while the board answered others, before the link gives
#: up on it: a line that loses a frame and its answer one time in three does so 32 times in a
#: row once in 10**15 requests.
MAX_ATTEMPTS = 32
#: The shortest default per-request timeout, in seconds (the default grows for slow lines).
MIN_TIMEOUT = 0.25
#: The longest timeout the round trips measured can stretch it to, in seconds.
MAX_TIMEOUT = 30.0
#: The port's read timeout the client wants: how often it looks at its deadlines while waiting.
POLL_SECONDS = 0.01

_TAGS = 1 << 16


class LinkError(DeviceError):
    """The board did not answer, answered for another design, or its port failed."""


def body_bytes(leaves: Sequence[Mapping[str, Any]]) -> int:
    """Return the body length of a payload made of ``leaves`` (signature leaf dicts)."""
    return payload_bytes(max((leaf["offset"] + leaf["width"] for leaf in leaves), default=0))


class FastFrameDecoder:
    """Split a byte stream into frames as :class:`FrameDecoder` does, faster.

    The reference decoder steps through every byte in Python; this one
    splits on END, unescapes and checks whole frames with bytes methods that
    run in C. It accepts and drops the same frames and counts them the same
    way (the tests compare the two on random streams), but gives each frame
    as a plain ``(kind, tag, body)`` tuple. :class:`FrameDecoder` stays the
    protocol's reference.
    """

    def __init__(self, body_bytes: Callable[[int], int | None] | None = None, *,
                 max_content: int = 4096) -> None:
        self._body_bytes = body_bytes
        self._max = max_content
        self._tail = b""
        self._bad = False  # the frame in progress overflowed: drop it at its END
        #: Frames dropped: bad escape, overlong, too short, bad CRC, wrong length, unknown kind.
        self.dropped = 0
        #: Frames accepted.
        self.frames = 0

    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[int, int, bytes]]:
        """Consume ``data``; return the frames it completed, as ``(kind, tag, body)``, in order."""
        pieces = bytes(data).split(b"\xc0")
        tail = pieces.pop()
        frames: list[tuple[int, int, bytes]] = []
        if pieces:
            pieces[0] = self._tail + pieces[0]
            if self._bad:
                self._bad = False
                self.dropped += 1
                pieces[0] = b""  # the overflowed frame's last part: already counted
            for piece in pieces:
                if piece:
                    frame = self._check(piece)
                    if frame is None:
                        self.dropped += 1
                    else:
                        self.frames += 1
                        frames.append(frame)
            self._tail = tail
        else:
            self._tail += tail
        # Noise without END: keep no more than a frame can hold (escaped, every byte doubled).
        if len(self._tail) > 2 * self._max + 2:
            self._tail = b""
            self._bad = True
        return frames

    def _check(self, piece: bytes) -> tuple[int, int, bytes] | None:
        if b"\xdb" in piece:
            # Valid only if every ESC is followed by ESC_END or ESC_ESC (these pairs cannot
            # overlap: neither second byte is ESC).
            if piece.count(b"\xdb") != piece.count(b"\xdb\xdc") + piece.count(b"\xdb\xdd"):
                return None
            piece = piece.replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")
        if len(piece) > self._max or len(piece) < HEADER_BYTES + TRAILER_BYTES \
                or crc_hqx(piece, 0xFFFF) != 0:
            return None
        kind = piece[0]
        body = piece[HEADER_BYTES:-TRAILER_BYTES]
        if self._body_bytes is not None:
            expected = self._body_bytes(kind)
            if expected is None or expected != len(body):
                return None
        return kind, piece[1] | piece[2] << 8, body


class _Tx:
    """One transmission of a request: its frame went out with ``tag`` at ``sent``."""

    __slots__ = ("kind", "tag", "index", "run", "sent", "heard", "retired", "counting")

    def __init__(self, kind: int, tag: int, index: int, run: _Run | None, sent: float,
                 heard: int):
        self.kind = kind
        self.tag = tag
        self.index = index
        self.run = run
        self.sent = sent
        #: The client's count of reads that brought bytes, when this went out.
        self.heard = heard
        #: Timed out and resent; kept only to reserve its tag until proven dead.
        self.retired = False
        #: Still counted against the window (the board may still hold the request).
        self.counting = True


class _Run:
    """The state of one call of :meth:`LinkClient.run`: results, attempts, what to resend."""

    __slots__ = ("kind", "results", "attempts", "silent", "resend", "answered")

    def __init__(self, kind: int, n: int):
        self.kind = kind
        self.results: list[bytes | None] = [None] * n
        #: Transmissions of each request lost so far.
        self.attempts = [0] * n
        #: Timeouts in a row of each request during which the board sent nothing at all.
        self.silent = [0] * n
        self.resend: deque[int] = deque()
        self.answered = 0


class LinkClient:
    """Run requests on a board through a pyserial-like ``port``; see the module docstring.

    ``port`` needs ``write(bytes)``, ``read(n)`` (which returns after at most
    ``port.timeout`` seconds with what it has), ``close()`` and, for speed,
    ``in_waiting``. The client sets ``port.timeout`` to :data:`POLL_SECONDS`
    when it is longer or None, so that waiting never blocks a deadline.

    ``routes_leaves`` gives, for each route kind in manifest order, the pair
    ``(request_leaves, response_leaves)`` of its ``signature.json`` entry;
    the client uses them for body lengths. ``design_hash`` (32 bytes), when
    given, must equal the board's. ``window`` caps the outstanding requests
    below the board's own window (None: the board's). ``timeout`` is the
    shortest time one transmission may go unanswered before it is resent
    (None: from the board's baud and window, at least :data:`MIN_TIMEOUT`);
    measured round trips may lengthen it (:attr:`current_timeout`).
    ``retries`` is the resends of one request, each after a timeout during
    which the board sent nothing, before :class:`LinkError`; ``max_attempts``
    the transmissions of one request lost in any way before it.
    ``clock`` returns seconds (for tests; :func:`time.monotonic` by default).

    One operation runs at a time: calls from several threads take turns.
    """

    def __init__(self, port: Any, routes_leaves: Sequence[tuple[Sequence[Mapping[str, Any]],
                                                                 Sequence[Mapping[str, Any]]]],
                 *, design_hash: bytes | None = None, window: int | None = None,
                 timeout: float | None = None, retries: int = DEFAULT_RETRIES,
                 max_attempts: int = MAX_ATTEMPTS, clock: Callable[[], float] = time.monotonic):
        if len(routes_leaves) > MAX_ROUTES:
            raise ValueError(f"a board carries at most {MAX_ROUTES} routes, not "
                             f"{len(routes_leaves)}")
        if window is not None and window < 1:
            raise ValueError(f"window must be at least 1, not {window}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        if retries < 0:
            raise ValueError(f"retries must be at least 0, not {retries}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        self.port = port
        self.design_hash = design_hash
        self.retries = retries
        self.max_attempts = max_attempts
        self._request_bytes = [body_bytes(req) for req, _ in routes_leaves]
        self._response_bytes = [body_bytes(resp) for _, resp in routes_leaves]
        self._window_cap = window
        self._timeout_given = timeout
        #: The window in use (known after :meth:`connect`).
        self.window: int | None = None
        #: The shortest per-transmission timeout, in seconds (see :attr:`current_timeout`).
        self.timeout: float = timeout if timeout is not None else MIN_TIMEOUT
        self._clock = clock
        self._lock = threading.Lock()
        largest = HEADER_BYTES + max([STATUS_BODY_BYTES, *self._response_bytes]) + TRAILER_BYTES
        self._decoder = FastFrameDecoder(self._expected_body, max_content=max(4096, largest))
        self._has_in_waiting = hasattr(port, "in_waiting")
        if getattr(port, "timeout", None) is None or port.timeout > POLL_SECONDS:
            port.timeout = POLL_SECONDS
        self._next_tag = 0
        self._live: dict[int, _Tx] = {}                       # tag -> transmission
        self._by_kind: dict[int, OrderedDict[int, _Tx]] = {}  # kind -> live ones, send order
        self._inflight = 0                                    # live ones counted in the window
        # Retired ones still counted in the window: (when they stop counting, order, tx).
        self._grace: list[tuple[float, int, _Tx]] = []
        self._retired = 0                                     # transmissions retired so far
        self._heard = 0                                       # reads that brought bytes
        self._srtt: float | None = None                       # smoothed round trip, seconds
        self._next_probe = -math.inf                          # no probe before then
        self._rttvar = 0.0                                    # its mean deviation
        self._closed = False
        #: Frames written (requests, resends and status queries).
        self.sent = 0
        #: Resends of requests (after a loss, a corruption or a timeout).
        self.resent = 0
        #: The resends among them that a timeout caused (no later answer had proven a loss).
        self.timeouts = 0
        #: Status queries sent as probes after a timeout in silence.
        self.probes = 0
        #: Responses that answered nothing outstanding: a second answer, or a stale tag.
        self.duplicates = 0
        #: Responses whose tag belongs to a transmission of another kind.
        self.unexpected = 0
        #: The last status the board sent.
        self.last_status: Status | None = None

    # -- counters -------------------------------------------------------------------------------

    @property
    def received(self) -> int:
        """Frames received intact."""
        return self._decoder.frames

    @property
    def dropped(self) -> int:
        """Frames received damaged (bad CRC, bad escape, wrong length or kind) and dropped."""
        return self._decoder.dropped

    @property
    def current_timeout(self) -> float:
        """Return the timeout in use now: :attr:`timeout`, or longer when round trips are long.

        Twice the smoothed round trip plus four times its mean deviation (the
        estimators of RFC 6298), at most :data:`MAX_TIMEOUT`.
        """
        if self._srtt is None:
            return self.timeout
        measured = min(2 * self._srtt + 4 * self._rttvar, MAX_TIMEOUT)
        return max(self.timeout, measured)

    def counters(self) -> dict[str, int]:
        """Return the link's counters since it was opened."""
        return {"sent": self.sent, "received": self.received, "retries": self.resent,
                "timeouts": self.timeouts, "probes": self.probes, "dropped": self.dropped,
                "duplicates": self.duplicates, "unexpected": self.unexpected}

    # -- operations -----------------------------------------------------------------------------

    def status(self) -> Status:
        """Ask the board for its status (resending as requests are); return it."""
        with self._lock:
            return self._status()

    def connect(self) -> Status:
        """Ask for the status and check the board: protocol, routes, design; set the window.

        Raise :class:`LinkError` if the board does not answer or carries another design.
        """
        with self._lock:
            status = self._status()
            self._check(status)
            self.window = min(status.window, self._window_cap or status.window)
            if self._timeout_given is None:
                # A transmission may wait behind a full window of frames in both directions.
                largest = max([*self._request_bytes, *self._response_bytes, 0])
                line_bits = 10 * 2 * (HEADER_BYTES + largest + TRAILER_BYTES + 1)
                self.timeout = max(MIN_TIMEOUT,
                                   4 * (self.window + 2) * line_bits / max(status.baud, 1))
            return status

    def run(self, kind: int, bodies: Sequence[bytes]) -> list[bytes]:
        """Run one request per body on route ``kind``; return the response bodies in order.

        Connects first if :meth:`connect` was not called.
        """
        if not 0 <= kind < len(self._request_bytes):
            raise ValueError(f"route kind {kind} is not one of the board's "
                             f"{len(self._request_bytes)} routes")
        size = self._request_bytes[kind]
        for i, body in enumerate(bodies):
            if len(body) != size:
                raise ValueError(f"request {i} of route kind {kind} has {len(body)} body bytes, "
                                 f"not {size}")
        if self.window is None:
            self.connect()
        with self._lock:
            results = self._exchange(kind, bodies, self.window or 1)
        return results

    def close(self) -> None:
        """Close the port; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self.port.close()
        except Exception:
            pass  # a port that fails while closing is closed enough

    # -- internals ------------------------------------------------------------------------------

    def _expected_body(self, kind: int) -> int | None:
        if kind == KIND_STATUS:
            return STATUS_BODY_BYTES
        if kind < len(self._response_bytes):
            return self._response_bytes[kind]
        return None

    def _status(self) -> Status:
        # A status query waits in the board's queue like a request: it counts in the window.
        body = self._exchange(KIND_STATUS, [b""], self.window or 1)[0]
        try:
            status = Status.decode(body)
        except ValueError as e:
            raise LinkError(f"the device on the port is not an fpgac board: {e}") from None
        self.last_status = status
        return status

    def _check(self, status: Status) -> None:
        if status.version != PROTOCOL_VERSION:
            raise LinkError(f"the board speaks link protocol version {status.version}; this "
                            f"runtime speaks version {PROTOCOL_VERSION}")
        if status.window < 1:
            raise LinkError("the board reports a window of 0 requests: it cannot take any")
        if self.design_hash is not None and status.design_hash != self.design_hash:
            raise LinkError(f"the board carries another design (ir.json hash "
                            f"{status.design_hash.hex()[:16]}…), not this bundle's "
                            f"({self.design_hash.hex()[:16]}…); build and program it with "
                            f"`fpgac build`")
        if status.n_routes != len(self._request_bytes):
            raise LinkError(f"the board has {status.n_routes} routes, the bundle "
                            f"{len(self._request_bytes)}")

    def _new_tag(self) -> int:
        for _ in range(_TAGS):
            tag = self._next_tag
            self._next_tag = (tag + 1) & (_TAGS - 1)
            if tag not in self._live:
                return tag
        raise LinkError("all 65536 tags are held by requests that may still be answered")

    def _exchange(self, kind: int, bodies: Sequence[bytes], window: int) -> list[bytes]:
        """Send every body as a request of ``kind``, keeping ``window`` outstanding; collect."""
        if self._closed:
            raise LinkError("the link is closed")
        n = len(bodies)
        run = _Run(kind, n)
        results = run.results
        resend = run.resend
        silent = run.silent
        txs = self._by_kind.setdefault(kind, OrderedDict())
        live = self._live
        clock = self._clock
        next_new = 0
        try:
            while run.answered < n:
                now = clock()
                if self._grace:
                    self._expire_grace(now)
                # Write ahead up to the window, resends first: they are the oldest requests.
                if self._inflight < window and (resend or next_new < n):
                    frames = []
                    while self._inflight < window:
                        if resend:
                            i = resend.popleft()
                            if results[i] is not None:
                                continue  # answered late by an earlier transmission
                        elif next_new < n:
                            i = next_new
                            next_new += 1
                        else:
                            break
                        tag = self._new_tag()
                        tx = _Tx(kind, tag, i, run, now, self._heard)
                        live[tag] = tx
                        txs[tag] = tx
                        self._inflight += 1
                        frames.append(encode_frame(kind, tag, bodies[i]))
                    if frames:
                        self._write(b"".join(frames))
                        self.sent += len(frames)
                # Wait for bytes only when there is nothing left to write.
                idle = self._inflight >= window or not (resend or next_new < n)
                data = self._read(idle)
                now = clock()
                if data:
                    self._heard += 1
                    for kind_, tag, body in self._decoder.feed(data):
                        self._receive(kind_, tag, body, now)
                # Transmissions unanswered for their timeout: resend them. A request that timed
                # out in silence waits twice as long each time; none waits less than `timeout`,
                # so the scan stops at the first transmission younger than that.
                timeout = self.current_timeout
                expired = []
                for tx in txs.values():
                    waited = now - tx.sent
                    if waited < timeout:
                        break
                    if not tx.retired and tx.run is run and \
                            waited >= timeout * (1 << min(silent[tx.index], 16)):
                        expired.append(tx)
                if expired:
                    silence = self._heard == expired[-1].heard
                    for tx in expired:
                        self._retire(tx, now, timeout)
                        self._lost(tx, timed_out=True)
                    if silence and kind != KIND_STATUS and self._inflight < window \
                            and now >= self._next_probe:
                        self._probe(now, timeout)
        finally:
            # Whatever is still out answers no one now (an answer is a duplicate), but its tag
            # stays reserved until it is proven dead.
            now = clock()
            timeout = self.current_timeout
            for tx in txs.values():
                if tx.run is run:
                    tx.run = None
                    if not tx.retired:
                        self._retire(tx, now, timeout)
        return results  # type: ignore[return-value] - every slot was filled

    def _probe(self, now: float, timeout: float) -> None:
        """Send a status query that nothing waits for: its reply shows that the board is alive."""
        tag = self._new_tag()
        tx = _Tx(KIND_STATUS, tag, -1, None, now, self._heard)
        self._live[tag] = tx
        self._by_kind.setdefault(KIND_STATUS, OrderedDict())[tag] = tx
        self._inflight += 1
        # Never resent: retired at once, it holds a window slot for one timeout at most.
        self._retire(tx, now, timeout)
        self._write(encode_frame(KIND_STATUS, tag))
        self.sent += 1
        self.probes += 1
        self._next_probe = now + timeout

    def _receive(self, kind: int, tag: int, body: bytes, now: float) -> None:
        """Match one response to its transmission; prove earlier ones of its kind lost."""
        tx = self._live.get(tag)
        if tx is None:
            self.duplicates += 1
            return
        if tx.kind != kind:
            self.unexpected += 1
            return
        # Each tag names one transmission, so its answer times exactly that round trip.
        sample = now - tx.sent
        if self._srtt is None:
            self._srtt, self._rttvar = sample, sample / 2
        else:
            self._rttvar += (abs(self._srtt - sample) - self._rttvar) / 4
            self._srtt += (sample - self._srtt) / 8
        txs = self._by_kind[tx.kind]
        # The board answers each kind in order: anything of this kind sent before `tx` and
        # still unanswered will never be answered.
        while True:
            tag, earlier = txs.popitem(last=False)
            if earlier is tx:
                break
            self._bury(earlier)
            if not earlier.retired:
                self._lost(earlier, timed_out=False)
        self._bury(tx)
        run = tx.run
        if run is not None and run.results[tx.index] is None:
            run.results[tx.index] = body
            run.answered += 1
        elif tx.index < 0:
            with contextlib.suppress(ValueError):  # a probe's reply: only its arrival counts
                self.last_status = Status.decode(body)
        else:
            self.duplicates += 1

    def _bury(self, tx: _Tx) -> None:
        """Forget a transmission that will never be answered again; free its tag."""
        del self._live[tx.tag]
        self._by_kind[tx.kind].pop(tx.tag, None)
        if tx.counting:
            tx.counting = False
            self._inflight -= 1

    def _retire(self, tx: _Tx, now: float, timeout: float) -> None:
        """Stop waiting for ``tx`` but keep its tag; uncount it from the window later."""
        tx.retired = True
        self._retired += 1
        heapq.heappush(self._grace, (now + timeout, self._retired, tx))

    def _expire_grace(self, now: float) -> None:
        # A retired transmission stops holding a window slot one more timeout later: by then
        # a working board has long answered or dropped it.
        grace = self._grace
        while grace and grace[0][0] <= now:
            tx = heapq.heappop(grace)[2]
            if tx.counting:
                tx.counting = False
                self._inflight -= 1

    def _lost(self, tx: _Tx, *, timed_out: bool) -> None:
        """Schedule the request of a lost transmission again, or give up on it."""
        run = tx.run
        if run is None or run.results[tx.index] is not None:
            return
        i = tx.index
        run.attempts[i] += 1
        # Silence is a timeout with nothing at all from the board since the frame went out:
        # a board that is alive answers or at least sends damaged bytes.
        if timed_out and self._heard == tx.heard:
            run.silent[i] += 1
        else:
            run.silent[i] = 0
        what = "status query" if tx.kind == KIND_STATUS else \
            f"request {i} of route kind {tx.kind}"
        if run.silent[i] > self.retries:
            raise LinkError(f"the board did not answer {what} after {run.attempts[i]} "
                            f"attempts, and sent nothing at all during the last "
                            f"{run.silent[i]} (timeouts from {self.current_timeout:.3g} s, "
                            f"doubling); link counters: {self.counters()}")
        if run.attempts[i] >= self.max_attempts:
            raise LinkError(f"the board did not answer {what} after {run.attempts[i]} "
                            f"attempts, while it answered others: the line loses too many "
                            f"frames, or the board never answers this request; link counters: "
                            f"{self.counters()}")
        run.resend.append(i)
        self.resent += 1
        if timed_out:
            self.timeouts += 1

    def _write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except Exception as e:
            raise LinkError(f"writing to the board's port failed: {e}") from e

    def _read(self, block: bool) -> bytes:
        """Return the bytes waiting; if ``block``, wait up to the port's timeout for some."""
        port = self.port
        try:
            if self._has_in_waiting:
                waiting = port.in_waiting
                if waiting:
                    return port.read(waiting)
                if not block:
                    return b""
                data = port.read(1)
                if data:
                    waiting = port.in_waiting
                    if waiting:
                        data += port.read(waiting)
                return data
            return port.read(1) if block else b""
        except Exception as e:
            raise LinkError(f"reading from the board's port failed: {e}") from e
