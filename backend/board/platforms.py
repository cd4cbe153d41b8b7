"""The boards fpgac builds for: their platforms, clocks (PLL settings) and top level.

A board top level is the board's oscillator through a PLL to the core clock,
a reset held until the PLL locks, and the :class:`~.link.LinkTop` (host link
and the app's cores) on the board's USB UART pins. Everything else about a
board (pins, packages, the tool flow) comes from its amaranth-boards platform.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

__all__ = ["Board", "BOARDS", "board", "Ice40Pll", "Ecp5Pll", "ice40_pll", "ecp5_pll",
           "BoardTop"]


@dataclass(frozen=True)
class Board:
    """A board fpgac builds for."""

    name: str
    #: The delay model / scheduling target of its FPGA.
    target: str
    #: The FPGA, as the reports name it.
    device: str
    #: The oscillator's resource name and frequency.
    clock_resource: str
    oscillator_hz: int
    #: The core clock asked for when ``--clock-mhz`` is not given.
    default_clock_mhz: float
    #: The host link's line rate (see docs/link.md for the choice).
    baud: int
    #: What a user sees in help texts.
    description: str

    def platform(self):
        """Return a fresh amaranth-boards platform instance for the board."""
        if self.name == "icebreaker":
            from amaranth_boards.icebreaker import ICEBreakerPlatform

            return ICEBreakerPlatform()
        from amaranth_boards.ulx3s import ULX3S_85F_Platform

        return ULX3S_85F_Platform()

    def pll(self, clock_mhz: float):
        """Return the PLL settings closest to ``clock_mhz`` from this board's oscillator."""
        if self.target == "ice40":
            return ice40_pll(self.oscillator_hz, round(clock_mhz * 1e6))
        return ecp5_pll(self.oscillator_hz, round(clock_mhz * 1e6))


BOARDS = {
    "icebreaker": Board("icebreaker", "ice40", "iCE40UP5K-SG48", "clk12", 12_000_000, 48.0,
                        3_000_000, "1BitSquared iCEBreaker (iCE40 UP5K), 48 MHz default"),
    "ulx3s-85f": Board("ulx3s-85f", "ecp5", "LFE5U-85F-6BG381C", "clk25", 25_000_000, 150.0,
                       3_000_000, "Radiona ULX3S with an ECP5-85F, 150 MHz default"),
}


def board(name: str) -> Board:
    """Return the board called ``name``, or raise ValueError listing the known ones."""
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; fpgac builds for "
                         f"{', '.join(sorted(BOARDS))}") from None


# --- PLL settings ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ice40Pll:
    """SB_PLL40 settings: f_out = f_in * (DIVF + 1) / ((DIVR + 1) * 2**DIVQ)."""

    divr: int
    divf: int
    divq: int
    filter_range: int
    f_in: int
    f_out: Fraction

    @property
    def out_hz(self) -> float:
        """The clock the PLL makes, in Hz."""
        return float(self.f_out)


def ice40_pll(f_in: int, f_target: int) -> Ice40Pll:
    """Return the iCE40 PLL settings whose output is closest to ``f_target`` (icepll's search).

    Limits from the iCE40 sysCLOCK PLL guide: the phase detector runs at
    10–133 MHz, the VCO at 533–1066 MHz, the output at 16–275 MHz.
    """
    if not 16e6 <= f_target <= 275e6:
        raise ValueError(f"an iCE40 PLL makes 16 to 275 MHz, not {f_target / 1e6:g} MHz")
    best = None
    for divr in range(16):
        f_pfd = Fraction(f_in, divr + 1)
        if not 10e6 <= f_pfd <= 133e6:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if not 533e6 <= f_vco <= 1066e6:
                continue
            for divq in range(1, 7):
                f_out = f_vco / 2 ** divq
                error = abs(f_out - f_target)
                if best is None or error < best[0]:
                    best = (error, divr, divf, divq, f_pfd, f_out)
    if best is None:
        raise ValueError(f"no iCE40 PLL setting makes {f_target / 1e6:g} MHz "
                         f"from {f_in / 1e6:g} MHz")
    _, divr, divf, divq, f_pfd, f_out = best
    # The loop filter's range follows the phase detector's frequency (icepll's table).
    filter_range = next(i for i, limit in enumerate((17e6, 26e6, 44e6, 66e6, 101e6), 1)
                        if f_pfd < limit) if f_pfd < 101e6 else 6
    return Ice40Pll(divr, divf, divq, filter_range, f_in, f_out)


@dataclass(frozen=True)
class Ecp5Pll:
    """EHXPLLL settings, feedback from CLKOP: f_out = f_in * CLKFB_DIV / CLKI_DIV."""

    clki_div: int
    clkfb_div: int
    clkop_div: int
    f_in: int
    f_out: Fraction
    f_vco: Fraction

    @property
    def out_hz(self) -> float:
        """The clock the PLL makes, in Hz."""
        return float(self.f_out)


def ecp5_pll(f_in: int, f_target: int) -> Ecp5Pll:
    """Return the ECP5 PLL settings whose output is closest to ``f_target`` (ecppll's search).

    Limits from the ECP5 sysCLOCK guide: the phase detector runs at 3.125–400
    MHz, the VCO at 400–800 MHz, the output at 3.125–400 MHz. Among equally
    close settings the VCO nearest 600 MHz wins, as ecppll chooses.
    """
    if not 3.125e6 <= f_target <= 400e6:
        raise ValueError(f"an ECP5 PLL makes 3.125 to 400 MHz, not {f_target / 1e6:g} MHz")
    best = None
    for clki_div in range(1, 129):
        f_pfd = Fraction(f_in, clki_div)
        if not 3.125e6 <= f_pfd <= 400e6:
            continue
        for clkfb_div in range(1, 81):
            f_out = f_pfd * clkfb_div
            if not 3.125e6 <= f_out <= 400e6:
                continue
            # The output divider only places the VCO: take the one nearest 600 MHz.
            lowest, highest = math.ceil(400e6 / f_out), math.floor(800e6 / f_out)
            if lowest > min(highest, 128):
                continue
            clkop_div = min(max(round(600e6 / f_out), lowest), highest, 128)
            f_vco = f_out * clkop_div
            key = (abs(f_out - f_target), abs(f_vco - 600_000_000))
            if best is None or key < best[0]:
                best = (key, clki_div, clkfb_div, clkop_div, f_out, f_vco)
    if best is None:
        raise ValueError(f"no ECP5 PLL setting makes {f_target / 1e6:g} MHz "
                         f"from {f_in / 1e6:g} MHz")
    _, clki_div, clkfb_div, clkop_div, f_out, f_vco = best
    return Ecp5Pll(clki_div, clkfb_div, clkop_div, f_in, f_out, f_vco)


# --- the top level -----------------------------------------------------------------------------

class BoardTop(Elaboratable):
    """The board's top level: oscillator → PLL → ``sync``, reset until lock, the link on the UART.

    ``link`` is a :class:`~.link.LinkTop` built for the PLL's actual output
    frequency; it has only ``rx`` and ``tx`` ports, in the ``sync`` domain.
    """

    def __init__(self, board: Board, pll, link) -> None:
        self.board = board
        self.pll = pll
        self.link = link

    def elaborate(self, platform):
        """Return the top module for ``platform``."""
        m = Module()
        m.domains.sync = sync = ClockDomain("sync")
        locked = Signal()
        core_clk = Signal()
        pll = self.pll
        if isinstance(pll, Ice40Pll):
            # The oscillator pin is the PLL's own pad: take it raw, without an IO buffer.
            pin = platform.request(self.board.clock_resource, dir="-")
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE",
                p_DIVR=pll.divr, p_DIVF=pll.divf, p_DIVQ=pll.divq,
                p_FILTER_RANGE=pll.filter_range,
                i_PACKAGEPIN=pin.io,
                i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=core_clk,
                o_LOCK=locked,
            )
        else:
            m.submodules.oscillator = oscillator = io.Buffer(
                "i", platform.request(self.board.clock_resource, dir="-"))
            m.submodules.pll = Instance(
                "EHXPLLL",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
                p_OUTDIVIDER_MUXB="DIVB", p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
                p_CLKI_DIV=pll.clki_div, p_CLKFB_DIV=pll.clkfb_div,
                p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=pll.clkop_div,
                p_CLKOP_CPHASE=pll.clkop_div - 1, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
                i_CLKI=oscillator.i, i_CLKFB=core_clk, i_RST=0, i_STDBY=0,
                i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=0, i_PHASESTEP=0,
                i_PHASELOADREG=0, i_PLLWAKESYNC=0, i_ENCLKOP=0,
                o_CLKOP=core_clk, o_LOCK=locked,
                a_FREQUENCY_PIN_CLKI=f"{pll.f_in / 1e6:g}",
                a_FREQUENCY_PIN_CLKOP=f"{float(pll.f_out) / 1e6:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8",
                a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            )
        m.d.comb += ClockSignal("sync").eq(core_clk)
        platform.add_clock_constraint(sync.clk, pll.out_hz)
        m.submodules.reset = ResetSynchronizer(~locked, domain="sync")

        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.submodules.link = link = self.link
        m.d.comb += [link.rx.eq(rx.i), tx.o.eq(link.tx)]
        return m
