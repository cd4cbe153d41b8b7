"""The host link's UART: 8N1 both ways, back to back at full rate, framing errors, glitches."""

import gc
import warnings

import pytest
from amaranth.hdl import Module, UnusedElaboratable
from amaranth.lib import stream, wiring
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st
from uart_line import decode_levels, uart_levels

from fpgac.backend.board.uart import UARTRx, UARTTx


def run(dut, *testbenches):
    """Simulate ``dut`` with the testbenches; the first one ends the run."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    first, *rest = testbenches
    sim.add_testbench(first)
    for tb in rest:
        sim.add_testbench(tb, background=True)
    sim.run()


def receive(levels: list[int], divisor: int, *, tail: int = 0):
    """Drive ``levels`` into a UARTRx; return the bytes it gave out, its errors, and its count."""
    dut = UARTRx(divisor)
    got, errors = [], []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        cycle = 0
        for level in levels + [1] * (tail + 4 * divisor):
            ctx.set(dut.rx, level)
            await ctx.tick()
            cycle += 1
            if ctx.get(dut.o.valid):
                got.append(ctx.get(dut.o.payload))
            if ctx.get(dut.error):
                errors.append(cycle)
        errors.append(ctx.get(dut.framing_errors))

    run(dut, bench)
    return got, errors[:-1], errors[-1]


@pytest.mark.parametrize("divisor", [4, 5, 7])
def test_rx_back_to_back_bytes(divisor):
    data = bytes([0x00, 0xFF, 0x55, 0xAA, 0xC0, 0x01, 0x80, 0x7E])
    got, errors, count = receive(uart_levels(data, divisor), divisor)
    assert bytes(got) == data
    assert errors == [] and count == 0


@pytest.mark.parametrize("period", [15.6, 16.4])
def test_rx_tolerates_a_slightly_different_bit_rate(period):
    # 2.5 % off: the sender's ninth bit edge is 0.225 bit times from where the receiver expects it.
    data = bytes([0x3C, 0xA5, 0x00, 0xFF, 0x81])
    bits = [bit for byte in data for bit in [0, *((byte >> i) & 1 for i in range(8)), 1]]
    levels = [bits[int(cycle / period)] for cycle in range(int(len(bits) * period))]
    got, errors, _ = receive(levels, 16)
    assert bytes(got) == data and errors == []


def test_rx_counts_a_framing_error_and_goes_on():
    divisor = 4
    # A start bit, eight data bits, and a low stop bit.
    bad = [0] * divisor + [b for b in [1, 0, 1, 0, 1, 0, 1, 0] for _ in range(divisor)]
    bad += [0] * divisor + [1] * (2 * divisor)
    levels = uart_levels(b"\x12", divisor) + bad + uart_levels(b"\x34\x56", divisor)
    got, errors, count = receive(levels, divisor)
    assert bytes(got) == b"\x12\x34\x56"
    assert len(errors) == 1 and count == 1


def test_rx_a_break_is_one_error_then_bytes_resume():
    divisor = 5
    levels = [0] * (30 * divisor) + [1] * divisor + uart_levels(b"\xA7", divisor)
    got, errors, count = receive(levels, divisor)
    assert bytes(got) == b"\xA7"
    assert count == 1


def test_rx_ignores_a_glitch_shorter_than_half_a_bit():
    divisor = 8
    levels = [1] * 10 + [0] * (divisor // 2 - 1) + [1] * (12 * divisor)
    levels += uart_levels(b"\x42", divisor)
    got, errors, count = receive(levels, divisor)
    assert bytes(got) == b"\x42" and errors == [] and count == 0


def transmit(data: bytes, divisor: int, *, pause_after: int | None = None):
    """Offer ``data`` to a UARTTx as fast as it takes it; return the tx level in every cycle.

    With ``pause_after``, the stream goes idle for a while after that many bytes.
    """
    dut = UARTTx(divisor)
    levels: list[int] = []
    total = (len(data) + 2) * 10 * divisor + (40 * divisor if pause_after is not None else 0)

    async def feeder(ctx):
        for n, byte in enumerate(data):
            if n == pause_after:
                await ctx.tick().repeat(30 * divisor)
            ctx.set(dut.i.payload, byte)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)

    async def watcher(ctx):
        for _ in range(total):
            levels.append(ctx.get(dut.tx))
            await ctx.tick()

    run(dut, watcher, feeder)
    return levels


@pytest.mark.parametrize("divisor", [4, 6])
def test_tx_sends_back_to_back_without_idle_bits(divisor):
    data = bytes([0x00, 0xFF, 0xC0, 0xDB, 0x5A, 0x01])
    levels = transmit(data, divisor)
    assert levels[0] == 1 and levels[-1] == 1
    found = decode_levels(levels, divisor)
    assert bytes(b for _, b in found) == data
    starts = [cycle for cycle, _ in found]
    assert [b - a for a, b in zip(starts, starts[1:])] == [10 * divisor] * (len(data) - 1)


def test_tx_idles_high_between_bursts():
    divisor = 4
    levels = transmit(b"\x11\x22\x33", divisor, pause_after=2)
    found = decode_levels(levels, divisor)
    assert bytes(b for _, b in found) == b"\x11\x22\x33"
    gap = found[2][0] - found[1][0]
    assert gap > 10 * divisor
    stop_end = found[1][0] + 10 * divisor
    assert set(levels[stop_end:found[2][0]]) == {1}


class Loopback(wiring.Component):
    """A UARTTx wired to a UARTRx."""

    i: wiring.In(stream.Signature(8))
    o: wiring.Out(stream.Signature(8))

    def __init__(self, divisor):
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx = tx = UARTTx(self.divisor)
        m.submodules.rx = rx = UARTRx(self.divisor)
        m.d.comb += rx.rx.eq(tx.tx)
        wiring.connect(m, wiring.flipped(self.i), tx.i)
        wiring.connect(m, rx.o, wiring.flipped(self.o))
        return m


@settings(max_examples=6, deadline=None)
@given(divisor=st.integers(4, 9), data=st.binary(min_size=1, max_size=12))
def test_loopback_carries_any_bytes(divisor, data):
    dut = Loopback(divisor)
    got = []

    async def feeder(ctx):
        for byte in data:
            ctx.set(dut.i.payload, byte)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)

    async def reader(ctx):
        ctx.set(dut.o.ready, 1)
        for _ in range((len(data) + 2) * 10 * divisor):
            await ctx.tick()
            if ctx.get(dut.o.valid):
                got.append(ctx.get(dut.o.payload))

    run(dut, reader, feeder)
    assert bytes(got) == data


@pytest.mark.parametrize("cls", [UARTRx, UARTTx])
def test_divisor_below_four_is_refused(cls):
    # The refused component is never used, on purpose.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match=r"^a UART divisor \(clock cycles per bit\) must be "
                                             r"an integer of at least 4, not 3$"):
            cls(3)
        gc.collect()
