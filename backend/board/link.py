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


def _count(m: Module, counter: Signal, enable: Value) -> None:
    """Add one to ``counter`` when ``enable``, in two halves: no carry chain runs its whole width.

    The upper half's carry in is a flag that follows the lower half a cycle
    late, so increments must be at least two cycles apart.
    """
    half = len(counter) // 2
    low_full = Signal(name=f"{counter.name}_low_full")
    m.d.sync += low_full.eq(counter[:half] == (1 << half) - 1)
    with m.If(enable):
        m.d.sync += counter[:half].eq(counter[:half] + 1)
        with m.If(low_full):
            m.d.sync += counter[half:].eq(counter[half:] + 1)


def _is_ecp5(platform) -> bool:
    from amaranth.vendor import LatticeECP5Platform

    return isinstance(platform, LatticeECP5Platform)


def _ram_attrs(platform) -> dict:
    """Return the attributes that place a small queue's memory best on ``platform``.

    An ECP5 block RAM without its output register (yosys does not use it) needs
    about 5.6 ns from clock to data: too slow for 150 MHz. Its LUT RAM is fast
    and plentiful, so the queues go there. Elsewhere (iCE40, simulation) the
    tools choose.
    """
    return {"ram_style": "distributed"} if _is_ecp5(platform) else {}


#: Payload bits per LUT RAM of a queue on ECP5, each with its own copy of the pointers.
_LUT_RAM_GROUP_BITS = 16


class Queue(wiring.Component):
    """A first in, first out queue of ``depth`` entries in a memory, its output registered.

    Like ``amaranth.lib.fifo.SyncFIFOBuffered``, as streams, and with the memory's
    placement chosen for the platform (:func:`_ram_attrs`). ``w.ready`` is a
    register, so a write is decided from flip-flops only; the read side's
    ``r.ready`` should be one too, for the same reason.

    On ECP5 the memory is LUT RAM, and a wide entry makes many small RAMs that
    all read and write at the same address: the entry is split into groups of
    ``_LUT_RAM_GROUP_BITS`` bits, each in its own memory with its own copy of
    the pointers and of the "not full" flag, so no pointer and no write enable
    drives more than one group's RAMs. ``group_bits`` forces a group width
    (None: the platform's choice).
    """

    def __init__(self, shape, depth: int, *, group_bits: int | None = None) -> None:
        if depth < 2:
            raise ValueError(f"a queue holds at least 2 entries, not {depth}")
        self.depth = depth
        self.group_bits = group_bits
        super().__init__({"w": In(stream.Signature(shape)), "r": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        inner = self.depth - 1   # the read port's register holds one more
        # A power of two deep, so the pointers wrap by themselves; `level` keeps to `inner`.
        bits = max(1, (inner - 1).bit_length())
        w_payload, r_payload = Value.cast(self.w.payload), Value.cast(self.r.payload)
        width = len(w_payload)
        step = self.group_bits or (_LUT_RAM_GROUP_BITS if _is_ecp5(platform) else width) or 1
        groups = [(lo, min(lo + step, width)) for lo in range(0, width, step)] or [(0, 0)]

        level = Signal(range(inner + 1))   # entries in the memory, not yet read out
        # `level != inner`, once per group: each group's write enable is its own LUT.
        not_full = [Signal(init=1, name=f"not_full_{g}") for g in range(len(groups))]
        not_empty = Signal()               # level != 0
        do_write = self.w.valid & not_full[0]
        do_read = not_empty & (~self.r.valid | self.r.ready)
        m.d.comb += self.w.ready.eq(not_full[0])

        for g, (lo, hi) in enumerate(groups):
            memory = Memory(shape=hi - lo, depth=1 << bits, init=[], attrs=_ram_attrs(platform))
            m.submodules[f"memory_{g}" if len(groups) > 1 else "memory"] = memory
            w_port = memory.write_port()
            r_port = memory.read_port(domain="sync")
            produce = Signal(bits, name=f"produce_{g}")
            consume = Signal(bits, name=f"consume_{g}")
            m.d.comb += [
                w_port.addr.eq(produce), w_port.data.eq(w_payload[lo:hi]),
                w_port.en.eq(self.w.valid & not_full[g]),
                r_port.addr.eq(consume), r_port.en.eq(do_read),
                r_payload[lo:hi].eq(r_port.data),
            ]
            with m.If(self.w.valid & not_full[g]):
                m.d.sync += produce.eq(produce + 1)
            with m.If(do_read):
                m.d.sync += consume.eq(consume + 1)

        with m.If(do_read):
            m.d.sync += self.r.valid.eq(1)
        with m.Elif(self.r.ready):
            m.d.sync += self.r.valid.eq(0)
        # The flags follow `level` without comparing its new value: one step at a time.
        with m.If(do_write & ~do_read):
            m.d.sync += [level.eq(level + 1), not_empty.eq(1)]
            # `flag &` changes nothing (the flag was set to write) but keeps the copies
            # apart: synthesis merges flip-flops with the same inputs.
            m.d.sync += [flag.eq(flag & (level != inner - 1)) for flag in not_full]
        with m.Elif(do_read & ~do_write):
            m.d.sync += [level.eq(level - 1), not_empty.eq(level != 1)]
            m.d.sync += [flag.eq(1) for flag in not_full]
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
        # registered steps (unescape, look up the kind, take in, judge at END, queue):
        # short paths from flip-flops, and no step ever meets the next byte.

        # Unescape: a content byte, an END, or a byte that spoils the frame.
        escaped = Signal()
        c_content, c_end, c_bad = Signal(), Signal(), Signal()
        c_data = Signal(8, reset_less=True)
        m.d.sync += [c_content.eq(0), c_end.eq(0), c_bad.eq(self.error)]
        with m.If(self.i.valid):
            byte = self.i.payload
            m.d.sync += [c_data.eq(byte), escaped.eq(0)]
            with m.If(byte == END):
                m.d.sync += [c_end.eq(1), c_bad.eq(escaped)]
            with m.Elif(escaped):
                good_escape = (byte == ESC_END) | (byte == ESC_ESC)
                m.d.sync += [c_content.eq(good_escape & ~self.error),
                             c_bad.eq(~good_escape | self.error),
                             c_data.eq(Mux(byte == ESC_END, END, ESC))]
            with m.Elif(byte == ESC):
                m.d.sync += escaped.eq(1)
            with m.Else():
                m.d.sync += c_content.eq(~self.error)

        # Take content bytes in: count, CRC, kind, tag, body.
        longest = HEADER_BYTES + self.body_max + TRAILER_BYTES
        count = Signal(range(longest + 1))   # content bytes so far
        bad = Signal()                       # drop this frame at its END
        crc = Signal(16, init=0xFFFF)
        # Data registers have no reset: a reset would enter the logic of their enables.
        kind = Signal(8, reset_less=True)
        tag = Signal(16, reset_less=True)
        body = Signal(8 * self.body_max, reset_less=True)
        known = Signal(reset_less=True)
        body_end = Signal(range(longest + 1), reset_less=True)   # count after the body
        expect = Signal(range(longest + 1), reset_less=True)     # count of the whole frame
        closing = Signal()
        # What the next content byte is, from `count` a cycle late: bytes are at least 40
        # cycles apart, and so each decision below is one LUT from flip-flops, also the
        # enable of the wide body register.
        at_kind, in_tag, in_body, at_limit = Signal(init=1), Signal(), Signal(), Signal()
        m.d.sync += [at_kind.eq(count == 0), in_tag.eq((count != 0) & (count < HEADER_BYTES)),
                     in_body.eq((count >= HEADER_BYTES) & (count < body_end)),
                     at_limit.eq(count == longest)]
        # The byte's kind facts, looked up from `c_data` in every cycle, are ready a cycle
        # after it: the byte's flags wait that cycle too (`c_data` stays until the next byte).
        d_content, d_end, d_bad = Signal(), Signal(), Signal()
        m.d.sync += [d_content.eq(c_content), d_end.eq(c_end), d_bad.eq(c_bad)]
        kind_known = Signal(reset_less=True)
        kind_body_end = Signal.like(body_end)
        kind_expect = Signal.like(expect)
        m.d.sync += [kind_known.eq(0), kind_body_end.eq(0), kind_expect.eq(0)]
        with m.Switch(c_data):
            for k, length in self.body_bytes.items():
                with m.Case(k):
                    m.d.sync += [kind_known.eq(1), kind_body_end.eq(HEADER_BYTES + length),
                                 kind_expect.eq(HEADER_BYTES + length + TRAILER_BYTES)]
        take = d_content & ~bad
        with m.If(d_bad):
            m.d.sync += bad.eq(1)
        with m.If(d_end):
            m.d.sync += closing.eq(1)
        with m.If(take & at_limit):
            m.d.sync += bad.eq(1)   # longer than any known kind's frame
        with m.If(take & ~at_limit):
            m.d.sync += [count.eq(count + 1), crc.eq(crc16_step(crc, c_data))]
        with m.If(take & at_kind):
            m.d.sync += [kind.eq(c_data), known.eq(kind_known), body_end.eq(kind_body_end),
                         expect.eq(kind_expect)]
        with m.If(take & in_tag):
            m.d.sync += tag.eq(Cat(tag[8:], c_data))
        with m.If(take & in_body):
            m.d.sync += body.eq(Cat(body[8:], c_data))

        # Judge the frame, then queue or drop it and start the next one. The queue's
        # `w.ready` is a register, and so is every input of the write.
        judged, empty, good = Signal(), Signal(), Signal()
        m.d.sync += [
            judged.eq(closing),
            empty.eq((count == 0) & ~bad),
            good.eq(~bad & known & (count == expect) & (crc == 0)),
        ]
        m.d.comb += [queue.w.payload.eq(Cat(kind, tag, body)), queue.w.valid.eq(judged & good)]
        with m.If(closing):
            m.d.sync += closing.eq(0)
        # Counted a cycle later, from registers. Frames end at least 40 cycles apart: the
        # counters may take two steps.
        queued, dropped = Signal(), Signal()
        m.d.sync += [queued.eq(judged & good & queue.w.ready),
                     dropped.eq(judged & ~(good & queue.w.ready) & ~empty)]
        _count(m, self.rx_frames, queued)
        _count(m, self.rx_dropped, dropped)
        with m.If(judged):
            m.d.sync += [count.eq(0), bad.eq(0), crc.eq(0xFFFF)]
        return m


# --- sending -----------------------------------------------------------------------------------

class SlipEncoder(wiring.Component):
    """SLIP-escape a stream of content bytes and close each frame (``last``) with END.

    A byte taken in waits in a register (``i.ready`` is that register being
    empty) with what the escape needs to know about it already worked out; it
    moves on to the output register when that is empty. So every decision starts
    at flip-flops, and no combinational path runs from ``o.ready`` back to
    ``i.ready``. One byte per two cycles at most: far above any UART's rate.
    """

    i: In(stream.Signature(data.StructLayout({"data": 8, "last": 1})))
    o: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        held = Signal(8, reset_less=True)   # the byte taken in, to escape and send
        held_valid, held_last = Signal(), Signal()
        held_special = Signal()   # END or ESC: sent as ESC and a second byte
        held_end = Signal()       # END
        second = Signal(8, reset_less=True)   # the second byte of an escape, still to send
        second_pending = Signal()
        end_pending = Signal()
        after_second = Signal()  # the escaped byte ended its frame: END after the second byte

        m.d.comb += self.i.ready.eq(~held_valid)
        with m.If(self.i.valid & ~held_valid):
            byte = self.i.payload.data
            m.d.sync += [held.eq(byte), held_last.eq(self.i.payload.last), held_valid.eq(1),
                         held_special.eq((byte == END) | (byte == ESC)), held_end.eq(byte == END)]

        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(~self.o.valid):
            with m.If(second_pending):
                m.d.sync += [self.o.payload.eq(second), self.o.valid.eq(1),
                             second_pending.eq(0), end_pending.eq(after_second)]
            with m.Elif(end_pending):
                m.d.sync += [self.o.payload.eq(END), self.o.valid.eq(1), end_pending.eq(0)]
            with m.Elif(held_valid):
                m.d.sync += [self.o.valid.eq(1), held_valid.eq(0)]
                with m.If(held_special):
                    m.d.sync += [self.o.payload.eq(ESC), second_pending.eq(1),
                                 second.eq(Mux(held_end, ESC_END, ESC_ESC)),
                                 after_second.eq(held_last)]
                with m.Else():
                    m.d.sync += [self.o.payload.eq(held), end_pending.eq(held_last)]
        return m


class TagQueues(wiring.Component):
    """Keep one FIFO of tags per route, all in one memory (one block RAM for most apps).

    ``w`` pushes a tag for a route; it is ready while that route's FIFO has room
    (``2**slot_bits`` tags). Whether a FIFO is full is a register, a cycle late:
    pushes must be at least two cycles apart (the demultiplexer pushes once per
    request). ``r_en`` pops the head tag of route ``r_route``; that tag is on
    ``r_data`` two cycles later, and stays until the next pop's. The read address
    is a register of its own, so no path runs from the route's choice through the
    memory. Popping an empty FIFO is not allowed.
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
            self.r_data.eq(r_port.data),
        ]
        # The popped head's address, registered: the memory reads it in the next cycle.
        r_addr = Signal.like(r_port.addr)
        r_read = Signal()
        m.d.sync += r_read.eq(self.r_en)
        with m.If(self.r_en):
            m.d.sync += r_addr.eq(Cat(r_head[:bits], r_route))
        m.d.comb += [r_port.addr.eq(r_addr), r_port.en.eq(r_read)]
        for k in range(n):
            # Its own full flag, not the selected one: one LUT before the enable.
            with m.If(self.w.valid & (w_route == k) & ~fulls[k]):
                m.d.sync += tails[k].eq(tails[k] + 1)
            with m.If(self.r_en & (r_route == k)):
                m.d.sync += heads[k].eq(heads[k] + 1)
        return m


class FrameSender(wiring.Component):
    """Pick responses round robin, and send each as a frame: kind, tag, body, CRC, escaped, END.

    Source ``s<k>`` (one per route, kind k) carries a response body of
    ``response_bytes[k]`` bytes; its tag is popped from the tag queues
    (``tag_route`` and ``tag_pop``, both registers, then ``tag`` two cycles
    later). Source
    ``status`` carries the tag of a status query, answered with the status body:
    ``status_fixed`` (its first 48 bytes, known at elaboration), then the
    counters ``rx_frames``, ``rx_dropped`` and ``tx_frames`` as they are when the
    reply starts. ``tx_frames`` counts the frames started, so a status reply does
    not count itself.

    A source's ``ready`` is a flip-flop, high for one cycle once the arbiter has
    seen the source valid: no combinational path runs back into a core. The
    arbiter looks at one source per cycle while the previous frame's last bytes
    are still on the line, so frames follow back to back. The steps of a frame
    are one-hot flags and bytes are loaded at least two cycles apart, so each
    decision is made from flip-flops.
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

        # The arbiter: `look` (one-hot) passes over the sources, one per cycle; a source
        # it finds valid is `seen` a cycle later, and granted the cycle after. The valids
        # are registered first, so every decision starts at flip-flops. A late 1 is safe:
        # a source stays valid until it is taken, and only the arbiter takes; when the
        # arbiter is back to looking, a source it took has long been seen invalid.
        valids = Signal(n + 1)
        look = Signal(n + 1, init=1)
        look_index = Signal(range(n + 1))
        seen = Signal()
        seen_at = Signal(n + 1)
        seen_index = Signal(range(n + 1))
        grant = Signal(n + 1)               # one-hot: the source being captured, or 0
        # The steps of a frame, one-hot: looking, capturing (the source's `ready`), taking
        # the tag, the content bytes, the CRC's two bytes.
        looking = Signal(init=1)
        capture, wait_tag, take_tag, content, crc_high, crc_low = (
            Signal(name=name) for name in (
                "capture", "wait_tag", "take_tag", "content", "crc_high", "crc_low"))
        # kind | tag | body, shifted out a byte at a time; a status reply's body
        # here is its counters, which follow the fixed bytes.
        frame = Signal(24 + 8 * body_max, reset_less=True)
        left = Signal(range(longest + 1))   # kind, tag and body bytes still to load
        last = Signal()                     # left == 1, a cycle late
        is_status = Signal()
        crc = Signal(16, init=0xFFFF)
        # The content byte handed to the SLIP encoder; the CRC's own bytes do not enter the CRC.
        out_valid, out_last, out_in_crc = Signal(), Signal(), Signal()
        out_data = Signal(8, reset_less=True)

        m.d.comb += [slip.i.valid.eq(out_valid), slip.i.payload.data.eq(out_data),
                     slip.i.payload.last.eq(out_last)]
        with m.If(out_valid & slip.i.ready):
            m.d.sync += out_valid.eq(0)
            with m.If(out_in_crc):
                m.d.sync += crc.eq(crc16_step(crc, out_data))

        # The fixed bytes of a status body, by the number of bytes left, from a ROM (a
        # block RAM on iCE40: a case statement over 48 bytes was the slowest path of the
        # link there). Both are registers, so they follow `left` a cycle late, as `last`
        # does: bytes are loaded at least two cycles apart (`out_valid` is high between),
        # and the first three bytes after the capture (the header) use neither.
        rom = [0] * (1 << (STATUS_BODY_BYTES).bit_length())
        for position, value in enumerate(self.status_fixed):
            rom[STATUS_BODY_BYTES - position] = value
        m.submodules.fixed = fixed = Memory(shape=8, depth=len(rom), init=rom)
        fixed_port = fixed.read_port(domain="sync")
        m.d.comb += fixed_port.addr.eq(left)
        fixed_byte = fixed_port.data
        in_fixed = Signal()
        m.d.sync += [in_fixed.eq(is_status & (left <= STATUS_BODY_BYTES) & (left > counters)),
                     last.eq(left == 1)]

        m.d.sync += [valids.eq(Cat(s.valid for s in sources)),
                     seen.eq((valids & look) != 0), seen_at.eq(look), seen_index.eq(look_index),
                     look.eq(look.rotate_left(1)),
                     look_index.eq(Mux(look_index == n, 0, look_index + 1))]
        for k, source in enumerate(sources):
            m.d.comb += source.ready.eq(grant[k])
        # The tag queue's read: a registered pulse and route, so the tag is there two
        # cycles after the capture.
        m.d.sync += self.tag_pop.eq(0)
        with m.If(looking & seen):
            m.d.sync += [looking.eq(0), capture.eq(1), grant.eq(seen_at),
                         self.tag_pop.eq(~seen_at[n]), self.tag_route.eq(seen_index)]
        _count(m, self.tx_frames, capture)   # a frame takes many cycles
        with m.If(capture):
            # `grant` is set only in this cycle: each `ready` is a flip-flop.
            lengths = [HEADER_BYTES + b for b in self.response_bytes]
            lengths.append(HEADER_BYTES + STATUS_BODY_BYTES)
            m.d.sync += [
                capture.eq(0), wait_tag.eq(~grant[n]), content.eq(grant[n]), grant.eq(0),
                left.eq(_one_hot_select(grant, lengths, len(left))),
                is_status.eq(grant[n]),
                crc.eq(0xFFFF),
            ]
        with m.If(wait_tag):  # the tag queue reads its memory
            m.d.sync += [wait_tag.eq(0), take_tag.eq(1)]
        with m.If(take_tag):
            # A route's tag: the head of its tag queue, popped in the capture cycle. (A
            # status reply's tag came with its query.)
            m.d.sync += [take_tag.eq(0), content.eq(1)]

        # The frame register loads a source's frame (the one `grant` selects: it is set
        # only in the capture cycle), then a route's tag, and the cycle after each byte
        # was loaded into `out_data`, shifts that byte out: all decided by flip-flops. An
        # AND-OR of the three, since the tools cannot see that they never come together.
        shift = Signal()   # a byte of `frame` was loaded in the previous cycle
        frames = [Cat(Const(k, 8), Const(0, 16), s.payload) for k, s in enumerate(sources[:n])]
        frames.append(Cat(Const(KIND_STATUS, 8), self.status.payload,
                          self.rx_frames, self.rx_dropped, self.tx_frames))
        frames.append(frame[8:])
        frames.append(Cat(Const(0, 8), self.tag))
        frame_next = _one_hot_select(Cat(grant, shift, take_tag), frames, len(frame))
        with m.If(capture | shift):
            m.d.sync += [frame[:8].eq(frame_next[:8]), frame[24:].eq(frame_next[24:])]
        with m.If(capture | shift | take_tag):
            m.d.sync += frame[8:24].eq(frame_next[8:24])

        # The byte for the SLIP encoder: the content bytes, then the CRC's two bytes.
        sending = Signal()   # content | crc_high | crc_low
        m.d.sync += shift.eq(0)
        with m.If(take_tag | (capture & grant[n])):
            m.d.sync += sending.eq(1)
        with m.If(sending & ~out_valid):
            m.d.sync += out_valid.eq(1)
            with m.If(content):
                m.d.sync += [out_last.eq(0), out_in_crc.eq(1),
                             out_data.eq(Mux(in_fixed, fixed_byte, frame[:8])),
                             left.eq(left - 1), shift.eq(~in_fixed)]
                with m.If(last):
                    m.d.sync += [content.eq(0), crc_high.eq(1)]
            with m.If(crc_high):
                # Loaded only once the last content byte has been taken, and so counted.
                m.d.sync += [out_data.eq(crc[8:]), out_in_crc.eq(0),
                             crc_high.eq(0), crc_low.eq(1)]
            with m.If(crc_low):
                m.d.sync += [out_data.eq(crc[:8]), out_last.eq(1),
                             crc_low.eq(0), sending.eq(0), looking.eq(1)]
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

        # The demultiplexer, one registered step at a time: the queue's head is copied
        # into registers, with its kind decoded to one bit per destination (`selected`);
        # then the request's tag goes into its route's tag queue; then the request is
        # offered to its core (`offer`). Every valid and ready it drives is a flip-flop,
        # so the paths into the cores and the queues start at flip-flops. The tag is queued
        # before the request reaches its core, so it is there before the response, even
        # from a core with no stages. At most `latency` requests are inside a core and one
        # more waits at its input, so a tag queue of latency + 2 never holds a request back.
        n = len(self.routes)
        latency = max(int(r["latency"]) for r in self.routes)
        m.submodules.tags = tags = TagQueues(n, max(1, (latency + 1).bit_length()))
        m.d.comb += [sender.tag.eq(tags.r_data), tags.r_route.eq(sender.tag_route),
                     tags.r_en.eq(sender.tag_pop)]

        queue = receiver.o
        idle = Signal(init=1)         # nothing held: take the queue's head
        selected = Signal(n + 1)      # one-hot: route k, or n for a status query
        to_route = Signal()           # a route's request, its tag not queued yet
        offer = Signal(n)             # one-hot: the request offered to core k
        route = Signal(range(n), reset_less=True)
        tag = Signal(16, reset_less=True)
        body = Signal.like(queue.payload.body, reset_less=True)
        m.d.comb += queue.ready.eq(idle)
        with m.If(queue.valid & idle):
            kinds = [queue.payload.kind == k for k in range(n)]
            m.d.sync += [
                idle.eq(0),
                selected.eq(Cat(*kinds, queue.payload.kind == KIND_STATUS)),
                to_route.eq(queue.payload.kind < n),
                route.eq(queue.payload.kind), tag.eq(queue.payload.tag),
                body.eq(queue.payload.body),
            ]
        with m.Elif(~idle):
            # Free again a cycle after the request has gone: a core's `ready` (which may
            # come from deep inside it) only clears its own `offer` bit.
            m.d.sync += idle.eq(~to_route & (offer == 0) & ~selected[n])

        # Whether the route's tag queue has room, registered: `route` is set a cycle before
        # the push may happen (`settled`), and only the demultiplexer fills a tag queue,
        # so a 1 is never stale.
        settled, room = Signal(), Signal()
        m.d.sync += [settled.eq(to_route), room.eq(tags.w.ready)]
        m.d.comb += [tags.w.valid.eq(to_route & settled & room),
                     tags.w.payload.route.eq(route), tags.w.payload.tag.eq(tag)]
        with m.If(tags.w.valid):
            m.d.sync += [to_route.eq(0), settled.eq(0), offer.eq(selected[:n])]
        for k, info in enumerate(self.routes):
            port_i = getattr(app, info["ports"]["i"]["valid"].rsplit("__", 1)[0])
            port_o = getattr(app, info["ports"]["o"]["valid"].rsplit("__", 1)[0])
            payload = body[receiver.body_slice(k, info["request"]["width"])]
            m.d.comb += [port_i.valid.eq(offer[k]), Value.cast(port_i.payload).eq(payload)]
            with m.If(offer[k] & port_i.ready):
                m.d.sync += offer[k].eq(0)
            # The sender takes whole bytes; the response's padding bits are zero.
            response = getattr(sender, f"s{k}")
            m.d.comb += [response.valid.eq(port_o.valid), port_o.ready.eq(response.ready),
                         response.payload.eq(Value.cast(port_o.payload))]

        m.d.comb += [sender.status.valid.eq(selected[n]), sender.status.payload.eq(tag)]
        with m.If(sender.status.ready):
            m.d.sync += selected[n].eq(0)
        return m
