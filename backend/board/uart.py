"""A UART for the host link: 8 data bits, no parity, one stop bit (8N1), LSB first.

Both directions are parameterized by ``divisor``, the number of clock cycles
per bit (at least 4). Bytes may follow each other back to back at the full
rate: the receiver looks for the next start bit right after sampling a stop
bit, and the transmitter starts the next byte right after the stop bit.
"""


from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["MIN_DIVISOR", "UARTRx", "UARTTx"]

#: The smallest divisor: the receiver needs a few cycles per bit for its synchronizer and sampling.
MIN_DIVISOR = 4


def _check_divisor(divisor: int) -> int:
    if not isinstance(divisor, int) or divisor < MIN_DIVISOR:
        raise ValueError(f"a UART divisor (clock cycles per bit) must be an integer of at least "
                         f"{MIN_DIVISOR}, not {divisor!r}")
    return divisor


class UARTRx(wiring.Component):
    """Receive 8N1 bytes from ``rx`` and send each one out on the stream ``o``.

    ``rx`` passes through a two-flop synchronizer. A falling edge starts a byte;
    the start bit is checked half a bit later (a glitch shorter than that is
    ignored) and every later bit is sampled in its middle. A byte whose stop bit
    is low is a framing error: it is not sent out, ``error`` pulses for one cycle
    and ``framing_errors`` counts it (modulo 2**16); the receiver then waits for
    the line to go high and fall again, so a held-low line (a break) gives one
    error, not a stream of zero bytes. A byte that arrives while the previous one
    still waits on ``o`` replaces it and also pulses ``error`` (an overrun).
    """

    rx: In(1, init=1)
    o: Out(stream.Signature(8))
    error: Out(1)
    framing_errors: Out(16)

    def __init__(self, divisor: int) -> None:
        self.divisor = _check_divisor(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        divisor = self.divisor

        # The pin is asynchronous to the clock: two flops before anything looks at it.
        meta = Signal(init=1)
        line = Signal(init=1)
        last = Signal(init=1)
        m.d.sync += [meta.eq(self.rx), line.eq(meta), last.eq(line)]

        busy = Signal()
        timer = Signal(range(divisor))
        # Bit 0 is the start bit, 1..8 the data bits, 9 the stop bit.
        bit = Signal(range(10))
        shreg = Signal(8, reset_less=True)
        # Flags kept beside the counters, so that every decision is one LUT from flip-flops:
        # `timer == 0`, `bit == 0` and `bit == 9`.
        timer_zero, at_start, at_stop = Signal(), Signal(), Signal()

        m.d.sync += self.error.eq(0)
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        with m.If(~busy):
            with m.If(last & ~line):
                # A start bit's falling edge: sample it again in its middle.
                m.d.sync += [busy.eq(1), bit.eq(0), timer.eq(divisor // 2 - 1),
                             timer_zero.eq(0), at_start.eq(1), at_stop.eq(0)]
        with m.Elif(~timer_zero):
            m.d.sync += [timer.eq(timer - 1), timer_zero.eq(timer == 1)]
        with m.Else():
            m.d.sync += [timer.eq(divisor - 1), timer_zero.eq(0), bit.eq(bit + 1),
                         at_start.eq(0), at_stop.eq(bit == 8)]
            with m.If(at_start):
                with m.If(line):
                    m.d.sync += busy.eq(0)  # a glitch, not a start bit
            with m.Elif(~at_stop):
                m.d.sync += shreg.eq(Cat(shreg[1:], line))
            with m.Else():
                m.d.sync += busy.eq(0)
                with m.If(line):
                    m.d.sync += [self.o.payload.eq(shreg), self.o.valid.eq(1)]
                    with m.If(self.o.valid & ~self.o.ready):
                        m.d.sync += self.error.eq(1)
                with m.Else():
                    m.d.sync += [self.error.eq(1),
                                 self.framing_errors.eq(self.framing_errors + 1)]
        return m


class UARTTx(wiring.Component):
    """Send each byte of the stream ``i`` on ``tx`` as 8N1; ``tx`` idles high.

    ``i.ready`` rises in the last cycle of a stop bit, so a byte that is waiting
    then follows without an idle bit: ten bit times per byte at full rate.
    ``busy`` is high while a byte is on the line.
    """

    i: In(stream.Signature(8))
    tx: Out(1, init=1)
    busy: Out(1)

    def __init__(self, divisor: int) -> None:
        self.divisor = _check_divisor(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        divisor = self.divisor

        # The start bit and the data bits; ones shift in behind them, the first is the stop bit.
        shreg = Signal(9, init=0x1FF)
        # Bits still to finish on the line, the current one included.
        left = Signal(range(11))
        timer = Signal(range(divisor))
        # Flags kept beside the counters, so that `ready` and the decision to take a byte are
        # one LUT from flip-flops: `left == 0`, `left == 1` and `timer == 0`.
        idle = Signal(init=1)
        last_bit = Signal()
        timer_zero = Signal()

        m.d.comb += [
            self.tx.eq(shreg[0]),
            self.busy.eq(~idle),
            self.i.ready.eq(idle | (last_bit & timer_zero)),
        ]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [shreg.eq(Cat(0, self.i.payload)), left.eq(10), timer.eq(divisor - 1),
                         idle.eq(0), last_bit.eq(0), timer_zero.eq(0)]
        with m.Elif(~idle):
            with m.If(~timer_zero):
                m.d.sync += [timer.eq(timer - 1), timer_zero.eq(timer == 1)]
            with m.Else():
                m.d.sync += [shreg.eq(Cat(shreg[1:], 1)), left.eq(left - 1),
                             timer.eq(divisor - 1), timer_zero.eq(0),
                             idle.eq(last_bit), last_bit.eq(left == 2)]
        return m
