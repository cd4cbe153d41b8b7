"""The board's host link: frames from the UART to the app's cores and their responses back.

::

    rx ▶ UARTRx ▶ FrameReceiver ▶ request queue ▶ demultiplexer ▶ cores ▶ FrameSender ▶ UARTTx ▶ tx
                  (SLIP, CRC,     (window deep)   (by kind; tags         (round robin,
                   length, kind)                   queued by route)       CRC, SLIP)

The wire protocol is the one of ``fpgac.runtime._framing`` (described for users
in docs/link.md): SLIP-escaped frames ``kind | tag | body | crc`` closed by END.
Everything here runs in the ``sync`` domain and uses no platform primitive, so
the same :class:`LinkTop` is built for a board and simulated as a virtual board.
"""

import functools
import operator
from collections.abc import Mapping, Sequence

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ...runtime._framing import (
    END,
    ESC,
    ESC_END,
    ESC_ESC,
    HEADER_BYTES,
    KIND_STATUS,
    MAX_ROUTES,
    PROTOCOL_VERSION,
    STATUS_BODY_BYTES,
    TRAILER_BYTES,
    Status,
    payload_bytes,
)
from .uart import MIN_DIVISOR, UARTRx, UARTTx

__all__ = ["BAUD_TOLERANCE", "FrameReceiver", "FrameSender", "LinkTop", "Queue", "SlipEncoder",
           "TagQueues", "crc16_step", "link_divisor"]

#: The largest relative difference between the asked and the achieved baud rate.
BAUD_TOLERANCE = 0.02
_CRC_POLY = 0x1021
#: Status body bytes that are fixed at elaboration; the three 32-bit counters follow them.
_STATUS_FIXED = STATUS_BODY_BYTES - 12


# --- CRC-16/CCITT-FALSE, one byte per cycle ------------------------------------------------------

@functools.cache
def _crc_matrix() -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """Return, per bit of the next CRC, which CRC bits and which data bits it is the XOR of."""
    # Run the bitwise algorithm on symbols: a bit is the set of inputs it XORs together.
    state = [frozenset({("c", i)}) for i in range(16)]
    for j in range(8):
        state[8 + j] = state[8 + j] ^ {("d", j)}
    for _ in range(8):
        top = state[15]
        state = [frozenset()] + state[:15]
        for i in range(16):
            if _CRC_POLY >> i & 1:
                state[i] = state[i] ^ top
    return tuple((tuple(sorted(i for k, i in bit if k == "c")),
                  tuple(sorted(i for k, i in bit if k == "d"))) for bit in state)


def crc16_step(crc: Value, byte: Value) -> Value:
    """Return the CRC-16/CCITT-FALSE after ``byte``, given the CRC before it (an XOR network)."""
    bits = [functools.reduce(operator.xor, [crc[i] for i in c] + [byte[j] for j in d])
            for c, d in _crc_matrix()]
    return Cat(*bits)


def _one_hot_select(grant: Value, values: Sequence, width: int) -> Value:
    """Return the value whose bit of the one-hot ``grant`` is set (an AND-OR, not a chain)."""
    terms = [grant[k].replicate(width) & Value.cast(v) for k, v in enumerate(values)]
    return functools.reduce(operator.or_, terms, Const(0, width))[:width]


def _ram_attrs(platform) -> dict:
    """Return the attributes that place a small queue's memory best on ``platform``.

    An ECP5 block RAM without its output register (yosys does not use it) needs
    about 5.6 ns from clock to data: too slow for 150 MHz. Its LUT RAM is fast
    and plentiful, so the queues go there. Elsewhere (iCE40, simulation) the
    tools choose.
    """
    from amaranth.vendor import LatticeECP5Platform

    return {"ram_style": "distributed"} if isinstance(platform, LatticeECP5Platform) else {}


class Queue(wiring.Component):
    """A first in, first out queue of ``depth`` entries in a memory, its output registered.

    Like ``amaranth.lib.fifo.SyncFIFOBuffered``, as streams, and with the memory's
    placement chosen for the platform (:func:`_ram_attrs`).
    """

    def __init__(self, shape, depth: int) -> None:
        if depth < 2:
            raise ValueError(f"a queue holds at least 2 entries, not {depth}")
        self.depth = depth
        super().__init__({"w": In(stream.Signature(shape)), "r": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        inner = self.depth - 1   # the read port's register holds one more
        m.submodules.memory = memory = Memory(shape=Value.cast(self.w.payload).shape(),
                                              depth=inner, init=[], attrs=_ram_attrs(platform))
        w_port = memory.write_port()
        r_port = memory.read_port(domain="sync")
        produce = Signal(range(inner))
        consume = Signal(range(inner))
        level = Signal(range(inner + 1))   # entries in the memory, not yet read out
        do_write = self.w.valid & self.w.ready
        do_read = (level != 0) & (~self.r.valid | self.r.ready)
        m.d.comb += [
            self.w.ready.eq(level != inner),
            w_port.addr.eq(produce), w_port.data.eq(self.w.payload), w_port.en.eq(do_write),
            r_port.addr.eq(consume), r_port.en.eq(do_read),
            self.r.payload.eq(r_port.data),
        ]
        with m.If(do_write):
            m.d.sync += produce.eq(Mux(produce == inner - 1, 0, produce + 1))
        with m.If(do_read):
            m.d.sync += [consume.eq(Mux(consume == inner - 1, 0, consume + 1)),
                         self.r.valid.eq(1)]
        with m.Elif(self.r.ready):
            m.d.sync += self.r.valid.eq(0)
        m.d.sync += level.eq(level + do_write - do_read)
        return m


# --- receiving ---------------------------------------------------------------------------------

class FrameReceiver(wiring.Component):
    """Turn received bytes into requests: de-escape, check each frame, queue the good ones.

    ``body_bytes`` maps every known kind to the body length its frames must have.
    A frame is dropped (``rx_dropped`` counts it) when it has a bad escape, a
    bad CRC, a wrong length, an unknown kind, more bytes than any known kind,
    a byte lost by the UART (``error``), or when the queue is full; a good frame
    goes into a queue of ``window`` entries (``rx_frames`` counts it). Every END
    closes a frame; an empty one is ignored.

    Queue entries (``o``) are ``kind | tag | body``; the body bytes are shifted
    in from the top, so a frame of kind k with L bytes of body leaves its
    body in the top L bytes of ``body``, byte 0 lowest: a route takes its payload
    from a fixed slice (:meth:`body_slice`), with no multiplexer.
    """

    def __init__(self, body_bytes: Mapping[int, int], *, window: int) -> None:
        self.body_bytes = dict(body_bytes)
        self.body_max = max(self.body_bytes.values(), default=0)
        self.window = window
        self.entry = data.StructLayout({"kind": 8, "tag": 16, "body": 8 * self.body_max})
        super().__init__({
            "i": In(stream.Signature(8)),
            "error": In(1),
            "o": Out(stream.Signature(self.entry)),
            "rx_frames": Out(32),
            "rx_dropped": Out(32),
        })

    def body_slice(self, kind: int, width: int) -> slice:
        """Return the bits of ``o.payload.body`` that hold a ``width``-bit payload of ``kind``."""
        start = 8 * (self.body_max - self.body_bytes[kind])
        return slice(start, start + width)

    def elaborate(self, platform):
        m = Module()
        m.submodules.queue = queue = Queue(self.entry, max(2, self.window))
        wiring.connect(m, queue.r, wiring.flipped(self.o))
        m.d.comb += self.i.ready.eq(1)
        # Bytes come from the UART at least 40 cycles apart, so each one goes through
        # registered steps (unescape, then take in, then judge at END, then queue):
        # short paths, and no step ever meets the next byte.

        # Unescape: a content byte, an END, or a byte that spoils the frame.
        escaped = Signal()
        c_valid, c_end, c_bad, c_data = Signal(), Signal(), Signal(), Signal(8)
        m.d.sync += [c_valid.eq(self.i.valid), c_end.eq(0), c_bad.eq(self.error)]
        with m.If(self.i.valid):
            byte = self.i.payload
            m.d.sync += [c_data.eq(byte), escaped.eq(0)]
            with m.If(byte == END):
                m.d.sync += [c_end.eq(1), c_bad.eq(escaped)]
            with m.Elif(escaped):
                m.d.sync += c_bad.eq((byte != ESC_END) & (byte != ESC_ESC))
                m.d.sync += c_data.eq(Mux(byte == ESC_END, END, ESC))
            with m.Elif(byte == ESC):
                m.d.sync += [escaped.eq(1), c_valid.eq(0)]

        # Take content bytes in: count, CRC, kind, tag, body.
        longest = HEADER_BYTES + self.body_max + TRAILER_BYTES
        count = Signal(range(longest + 1))   # content bytes so far
        bad = Signal()                       # drop this frame at its END
        crc = Signal(16, init=0xFFFF)
        kind = Signal(8)
        tag = Signal(16)
        body = Signal(8 * self.body_max)
        known = Signal()
        body_end = Signal(range(longest + 1))   # count after the last body byte
        expect = Signal(range(longest + 1))     # count of a whole frame of this kind
        closing = Signal()
        with m.If(c_bad):
            m.d.sync += bad.eq(1)
        with m.If(c_valid & c_end):
            m.d.sync += closing.eq(1)
        with m.Elif(c_valid & ~c_bad & ~bad):
            with m.If(count == longest):
                m.d.sync += bad.eq(1)   # longer than any known kind's frame
            with m.Else():
                m.d.sync += [count.eq(count + 1), crc.eq(crc16_step(crc, c_data))]
                with m.If(count == 0):
                    m.d.sync += [kind.eq(c_data), known.eq(0)]
                    with m.Switch(c_data):
                        for k, length in self.body_bytes.items():
                            with m.Case(k):
                                m.d.sync += [known.eq(1),
                                             body_end.eq(HEADER_BYTES + length),
                                             expect.eq(HEADER_BYTES + length + TRAILER_BYTES)]
                with m.Elif(count < HEADER_BYTES):
                    m.d.sync += tag.eq(Cat(tag[8:], c_data))
                with m.Elif(count < body_end):
                    m.d.sync += body.eq(Cat(body[8:], c_data))

        # Judge the frame, then queue or drop it and start the next one.
        judged, empty, good = Signal(), Signal(), Signal()
        m.d.sync += [
            judged.eq(closing),
            empty.eq((count == 0) & ~bad),
            good.eq(~bad & known & (count == expect) & (crc == 0)),
        ]
        m.d.comb += queue.w.payload.eq(Cat(kind, tag, body))
        with m.If(closing):
            m.d.sync += closing.eq(0)
        with m.If(judged):
            with m.If(good & queue.w.ready):
                m.d.comb += queue.w.valid.eq(1)
                m.d.sync += self.rx_frames.eq(self.rx_frames + 1)
            with m.Elif(~empty):
                m.d.sync += self.rx_dropped.eq(self.rx_dropped + 1)
            m.d.sync += [count.eq(0), bad.eq(0), crc.eq(0xFFFF)]
        return m


# --- sending -----------------------------------------------------------------------------------

class SlipEncoder(wiring.Component):
    """SLIP-escape a stream of content bytes and close each frame (``last``) with END.

    The output is a register, and the input is taken only when that register
    is empty: one byte per two cycles at most, far above any UART's rate, with
    no combinational path from ``o.ready`` back to ``i.ready``.
    """

    i: In(stream.Signature(data.StructLayout({"data": 8, "last": 1})))
    o: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        second = Signal(8)      # the second byte of an escape, still to send
        second_pending = Signal()
        end_pending = Signal()
        after_second = Signal()  # the escaped byte ended its frame: END after the second byte

        m.d.comb += self.i.ready.eq(~self.o.valid & ~second_pending & ~end_pending)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(~self.o.valid):
            with m.If(second_pending):
                m.d.sync += [self.o.payload.eq(second), self.o.valid.eq(1),
                             second_pending.eq(0), end_pending.eq(after_second)]
            with m.Elif(end_pending):
                m.d.sync += [self.o.payload.eq(END), self.o.valid.eq(1), end_pending.eq(0)]
            with m.Elif(self.i.valid):
                byte, last = self.i.payload.data, self.i.payload.last
                m.d.sync += self.o.valid.eq(1)
                with m.If((byte == END) | (byte == ESC)):
                    m.d.sync += [self.o.payload.eq(ESC), second_pending.eq(1),
                                 second.eq(Mux(byte == END, ESC_END, ESC_ESC)),
                                 after_second.eq(last)]
                with m.Else():
                    m.d.sync += [self.o.payload.eq(byte), end_pending.eq(last)]
        return m


class TagQueues(wiring.Component):
    """Keep one FIFO of tags per route, all in one memory (one block RAM for most apps).

    ``w`` pushes a tag for a route; it is ready while that route's FIFO has room
    (``2**slot_bits`` tags). Whether a FIFO is full is a register, a cycle late:
    pushes must be at least two cycles apart (the demultiplexer pushes once per
    request). ``r_en`` pops the head tag of route ``r_route``; that tag is on
    ``r_data`` in the next cycle. Popping an empty FIFO is not allowed.
    """

    def __init__(self, n_routes: int, slot_bits: int) -> None:
        self.n_routes = n_routes
        self.slot_bits = slot_bits
        super().__init__({
            "w": In(stream.Signature(data.StructLayout({"route": range(n_routes), "tag": 16}))),
            "r_route": In(range(n_routes)),
            "r_en": In(1),
            "r_data": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        n, bits = self.n_routes, self.slot_bits
        m.submodules.memory = memory = Memory(shape=16, depth=n << bits, init=[],
                                              attrs=_ram_attrs(platform))
        w_port = memory.write_port()
        r_port = memory.read_port(domain="sync")

        # Pointers count modulo twice the FIFO depth, so full and empty differ.
        heads = [Signal(bits + 1, name=f"head_{k}") for k in range(n)]
        tails = [Signal(bits + 1, name=f"tail_{k}") for k in range(n)]
        w_route, r_route = self.w.payload.route, self.r_route
        w_tail = Signal(bits + 1)
        r_head = Signal(bits + 1)
        for k in range(n):
            with m.If(w_route == k):
                m.d.comb += w_tail.eq(tails[k])
            with m.If(r_route == k):
                m.d.comb += r_head.eq(heads[k])
        fulls = Signal(n)
        m.d.sync += fulls.eq(Cat(((tails[k] - heads[k])[:bits + 1] == 1 << bits)
                                 for k in range(n)))
        full = fulls.bit_select(w_route, 1)

        m.d.comb += [
            self.w.ready.eq(~full),
            w_port.addr.eq(Cat(w_tail[:bits], w_route)),
            w_port.data.eq(self.w.payload.tag),
            w_port.en.eq(self.w.valid & ~full),
            r_port.addr.eq(Cat(r_head[:bits], r_route)),
            r_port.en.eq(self.r_en),
            self.r_data.eq(r_port.data),
        ]
        for k in range(n):
            with m.If(w_port.en & (w_route == k)):
                m.d.sync += tails[k].eq(tails[k] + 1)
            with m.If(self.r_en & (r_route == k)):
                m.d.sync += heads[k].eq(heads[k] + 1)
        return m


class FrameSender(wiring.Component):
    """Pick responses round robin, and send each as a frame: kind, tag, body, CRC, escaped, END.

    Source ``s<k>`` (one per route, kind k) carries a response body of
    ``response_bytes[k]`` bytes; its tag is popped from the tag queues
    (``tag_route``, ``tag_pop``, then ``tag`` in the next cycle). Source
    ``status`` carries the tag of a status query, answered with the status body:
    ``status_fixed`` (its first 48 bytes, known at elaboration), then the
    counters ``rx_frames``, ``rx_dropped`` and ``tx_frames`` as they are when the
    reply starts. ``tx_frames`` counts the frames started, so a status reply does
    not count itself.

    A source's ``ready`` is high for one cycle, the cycle after the arbiter saw
    it valid, and comes from registers only: no combinational path runs back
    into a core. The arbiter looks at one source per cycle while the previous
    frame's last bytes are still on the line, so frames follow back to back.
    """

    def __init__(self, response_bytes: Sequence[int], status_fixed: bytes) -> None:
        if len(status_fixed) != _STATUS_FIXED:
            raise ValueError(f"the fixed part of a status body has {_STATUS_FIXED} bytes, "
                             f"not {len(status_fixed)}")
        self.response_bytes = list(response_bytes)
        self.status_fixed = bytes(status_fixed)
        n = len(self.response_bytes)
        members = {f"s{k}": In(stream.Signature(8 * b)) for k, b in enumerate(response_bytes)}
        members.update({
            "tag_route": Out(range(max(n, 1))),
            "tag_pop": Out(1),
            "tag": In(16),
            "status": In(stream.Signature(16)),
            "rx_frames": In(32),
            "rx_dropped": In(32),
            "tx_frames": Out(32),
            "o": Out(stream.Signature(8)),
        })
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.slip = slip = SlipEncoder()
        wiring.connect(m, slip.o, wiring.flipped(self.o))

        n = len(self.response_bytes)
        sources = [getattr(self, f"s{k}") for k in range(n)] + [self.status]
        counters = STATUS_BODY_BYTES - _STATUS_FIXED
        body_max = max(self.response_bytes + [counters])
        longest = HEADER_BYTES + max(body_max, STATUS_BODY_BYTES)

        ptr = Signal(range(n + 1))          # the source the arbiter looks at
        grant = Signal(n + 1)               # one-hot: the source being captured, or 0
        # kind | tag | body, shifted out a byte at a time; a status reply's body
        # here is its counters, which follow the fixed bytes.
        frame = Signal(24 + 8 * body_max)
        left = Signal(range(longest + 1))   # kind, tag and body bytes still to load
        is_status = Signal()
        crc = Signal(16, init=0xFFFF)
        # The content byte handed to the SLIP encoder; the CRC's own bytes do not enter the CRC.
        out_valid, out_data, out_last, out_in_crc = Signal(), Signal(8), Signal(), Signal()

        m.d.comb += [slip.i.valid.eq(out_valid), slip.i.payload.data.eq(out_data),
                     slip.i.payload.last.eq(out_last)]
        with m.If(out_valid & slip.i.ready):
            m.d.sync += out_valid.eq(0)
            with m.If(out_in_crc):
                m.d.sync += crc.eq(crc16_step(crc, out_data))

        # The fixed bytes of a status body, by the number of bytes left, from a ROM (a
        # block RAM on iCE40: a case statement over 48 bytes was the slowest path of the
        # link there). Both are registers, so they follow `left` a cycle late; bytes are
        # loaded at least two cycles apart, and the first three bytes after CAPTURE (the
        # header) use neither.
        rom = [0] * (1 << (STATUS_BODY_BYTES).bit_length())
        for position, value in enumerate(self.status_fixed):
            rom[STATUS_BODY_BYTES - position] = value
        m.submodules.fixed = fixed = Memory(shape=8, depth=len(rom), init=rom)
        fixed_port = fixed.read_port(domain="sync")
        m.d.comb += fixed_port.addr.eq(left)
        fixed_byte = fixed_port.data
        in_fixed = Signal()
        m.d.sync += in_fixed.eq(is_status & (left <= STATUS_BODY_BYTES) & (left > counters))

        # The valids, a cycle late, so the arbiter's decision starts at flip-flops. A late
        # 1 is safe: a source stays valid until it is taken, and only the arbiter takes;
        # when the arbiter is back in IDLE, a source it took has long been seen invalid.
        valids = Signal(n + 1)
        m.d.sync += valids.eq(Cat(s.valid for s in sources))
        for k, source in enumerate(sources):
            m.d.comb += source.ready.eq(grant[k])
        m.d.comb += self.tag_route.eq(ptr)
        with m.FSM():
            with m.State("IDLE"):
                m.d.sync += ptr.eq(Mux(ptr == n, 0, ptr + 1))
                with m.If(valids.bit_select(ptr, 1)):
                    m.d.comb += self.tag_pop.eq(ptr != n)
                    m.d.sync += grant.eq(1 << ptr)
                    m.next = "CAPTURE"
            with m.State("CAPTURE"):
                # `grant` is set only in this cycle: each `ready` is a flip-flop.
                m.d.sync += grant.eq(0)
                kinds = [Const(k, 8) for k in range(n)] + [Const(KIND_STATUS, 8)]
                bodies = [s.payload for s in sources[:n]]
                bodies.append(Cat(self.rx_frames, self.rx_dropped, self.tx_frames))
                lengths = [HEADER_BYTES + b for b in self.response_bytes]
                lengths.append(HEADER_BYTES + STATUS_BODY_BYTES)
                m.d.sync += [
                    frame.eq(Cat(_one_hot_select(grant, kinds, 8),
                                 Mux(grant[n], self.status.payload, self.tag),
                                 _one_hot_select(grant, bodies, 8 * body_max))),
                    left.eq(_one_hot_select(grant, lengths, len(left))),
                    is_status.eq(grant[n]),
                    self.tx_frames.eq(self.tx_frames + 1),
                    crc.eq(0xFFFF),
                ]
                m.next = "CONTENT"
            with m.State("CONTENT"):
                with m.If(~out_valid):
                    m.d.sync += [
                        out_valid.eq(1), out_last.eq(0), out_in_crc.eq(1),
                        out_data.eq(Mux(in_fixed, fixed_byte, frame[:8])),
                        left.eq(left - 1),
                    ]
                    with m.If(~in_fixed):
                        m.d.sync += frame.eq(frame[8:])
                    with m.If(left == 1):
                        m.next = "CRC_HIGH"
            with m.State("CRC_HIGH"):
                # Loaded only once the last content byte has been taken, and so counted.
                with m.If(~out_valid):
                    m.d.sync += [out_valid.eq(1), out_data.eq(crc[8:]), out_in_crc.eq(0)]
                    m.next = "CRC_LOW"
            with m.State("CRC_LOW"):
                with m.If(~out_valid):
                    m.d.sync += [out_valid.eq(1), out_data.eq(crc[:8]), out_last.eq(1)]
                    m.next = "IDLE"
        return m


# --- the top level -----------------------------------------------------------------------------

def link_divisor(clk_hz: float, baud: int) -> int:
    """Return the UART divisor for ``baud`` at ``clk_hz``; refuse a rate that is off or too fast."""
    if baud <= 0 or clk_hz <= 0:
        raise ValueError(f"the clock ({clk_hz} Hz) and the baud rate ({baud}) must be positive")
    divisor = round(clk_hz / baud)
    if divisor < MIN_DIVISOR:
        raise ValueError(f"{baud} baud is too fast for a {clk_hz / 1e6:g} MHz clock: the UART "
                         f"needs at least {MIN_DIVISOR} clock cycles per bit, and "
                         f"{clk_hz / 1e6:g} MHz / {baud} baud gives {clk_hz / baud:.2f}; "
                         f"use at most {int(clk_hz // MIN_DIVISOR)} baud or a faster clock")
    error = abs(clk_hz / divisor - baud) / baud
    if error > BAUD_TOLERANCE:
        raise ValueError(f"{baud} baud cannot be made from a {clk_hz / 1e6:g} MHz clock: the "
                         f"nearest divisor {divisor} gives {clk_hz / divisor:.0f} baud, "
                         f"{error:.1%} off (at most {BAUD_TOLERANCE:.0%} is allowed); choose a "
                         f"baud rate near clk_hz / n for an integer n")
    return divisor


class LinkTop(wiring.Component):
    """Serve an app's cores over a UART: the whole board design but for clocks and pins.

    ``app`` is the elaborated app component (``<route>_i`` and ``<route>_o`` stream
    ports per route) and ``signature`` its app signature (a dict, as in
    ``signature.json``); kind k is the k-th route there. ``clk_hz`` is the ``sync``
    clock, ``baud`` the line rate (the divisor ``round(clk_hz / baud)`` must be at
    least 4 and within 2 % of it), ``design_hash`` the 32 bytes the status reply
    names the design with, ``window`` the requests the host may have outstanding.

    Ports: ``rx`` (input, idles high) and ``tx`` (output, idles high).
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)

    def __init__(self, app, signature: Mapping, *, clk_hz: float, baud: int,
                 design_hash: bytes, window: int = 64) -> None:
        routes = list(signature["routes"])
        if not 1 <= len(routes) <= MAX_ROUTES:
            raise ValueError(f"a link serves 1 to {MAX_ROUTES} routes, not {len(routes)}")
        if not isinstance(window, int) or not 1 <= window <= 0xFFFF:
            raise ValueError(f"the window must be an integer from 1 to 65535, not {window!r}")
        design_hash = bytes(design_hash)
        if len(design_hash) != 32:
            raise ValueError(f"the design hash must be 32 bytes (a SHA-256), not "
                             f"{len(design_hash)}")
        self.divisor = link_divisor(clk_hz, baud)
        self.app = app
        self.routes = routes
        self.clk_hz = clk_hz
        self.baud = baud
        self.window = window
        self.design_hash = design_hash
        self.status_fixed = Status(
            version=PROTOCOL_VERSION, n_routes=len(routes), clock_khz=round(clk_hz / 1000),
            baud=baud, window=window, design_hash=design_hash,
            rx_frames=0, rx_dropped=0, tx_frames=0).encode()[:_STATUS_FIXED]
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.app = app = self.app
        m.submodules.uart_rx = uart_rx = UARTRx(self.divisor)
        m.submodules.uart_tx = uart_tx = UARTTx(self.divisor)

        requests = {k: payload_bytes(r["request"]["width"]) for k, r in enumerate(self.routes)}
        requests[KIND_STATUS] = 0
        m.submodules.receiver = receiver = FrameReceiver(requests, window=self.window)
        m.submodules.sender = sender = FrameSender(
            [payload_bytes(r["response"]["width"]) for r in self.routes], self.status_fixed)

        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx),
                     receiver.error.eq(uart_rx.error),
                     sender.rx_frames.eq(receiver.rx_frames),
                     sender.rx_dropped.eq(receiver.rx_dropped)]
        wiring.connect(m, uart_rx.o, receiver.i)
        wiring.connect(m, sender.o, uart_tx.i)

        # The demultiplexer. The queue's head is copied into registers first, with its
        # kind decoded to one bit per destination (`selected`), so that the paths from
        # there into the cores and the tag queues start at flip-flops. The request's
        # tag goes into its route's tag queue (`pushed`) before the request is
        # offered to the core: so the tag is queued before the response can appear,
        # even from a core with no stages. At most `latency` requests are inside a
        # core and one more waits at its input, so a queue of latency + 2 never
        # holds a request back.
        n = len(self.routes)
        latency = max(int(r["latency"]) for r in self.routes)
        m.submodules.tags = tags = TagQueues(n, max(1, (latency + 1).bit_length()))
        m.d.comb += [sender.tag.eq(tags.r_data), tags.r_route.eq(sender.tag_route),
                     tags.r_en.eq(sender.tag_pop)]

        queue = receiver.o
        selected = Signal(n + 1)      # one-hot: route k, or n for a status query; 0 when empty
        route = Signal(range(n))
        tag = Signal(16)
        body = Signal.like(queue.payload.body)
        pushed = Signal()
        m.d.comb += queue.ready.eq(selected == 0)
        with m.If(queue.valid & (selected == 0)):
            m.d.sync += [
                selected.eq(Cat([queue.payload.kind == k for k in range(n)],
                                queue.payload.kind == KIND_STATUS)),
                route.eq(queue.payload.kind), tag.eq(queue.payload.tag),
                body.eq(queue.payload.body),
            ]

        m.d.comb += [tags.w.valid.eq(~pushed & (selected[:n] != 0)),
                     tags.w.payload.route.eq(route), tags.w.payload.tag.eq(tag)]
        with m.If(tags.w.valid & tags.w.ready):
            m.d.sync += pushed.eq(1)
        for k, info in enumerate(self.routes):
            port_i = getattr(app, info["ports"]["i"]["valid"].rsplit("__", 1)[0])
            port_o = getattr(app, info["ports"]["o"]["valid"].rsplit("__", 1)[0])
            payload = body[receiver.body_slice(k, info["request"]["width"])]
            m.d.comb += [port_i.valid.eq(selected[k] & pushed),
                         Value.cast(port_i.payload).eq(payload)]
            with m.If(port_i.valid & port_i.ready):
                m.d.sync += [selected[k].eq(0), pushed.eq(0)]
            # The sender takes whole bytes; the response's padding bits are zero.
            response = getattr(sender, f"s{k}")
            m.d.comb += [response.valid.eq(port_o.valid), port_o.ready.eq(response.ready),
                         response.payload.eq(Value.cast(port_o.payload))]

        m.d.comb += [sender.status.valid.eq(selected[n]), sender.status.payload.eq(tag)]
        with m.If(sender.status.ready):
            m.d.sync += selected[n].eq(0)
        return m
