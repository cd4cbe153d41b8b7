"""PLL settings: the formulas and limits of the iCE40 and ECP5 PLLs, and the closest output."""

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpgac.backend.board.platforms import BOARDS, board, ecp5_pll, ice40_pll


def test_default_clocks_are_exact():
    assert ice40_pll(12_000_000, 48_000_000).f_out == 48_000_000
    assert ecp5_pll(25_000_000, 150_000_000).f_out == 150_000_000
    for b in BOARDS.values():
        assert b.pll(b.default_clock_mhz).out_hz == b.default_clock_mhz * 1e6


def test_icebreaker_48_mhz_settings_match_icepll():
    # `icepll -i 12 -o 48` prints DIVR=0 DIVF=63 DIVQ=4 FILTER_RANGE=1.
    pll = ice40_pll(12_000_000, 48_000_000)
    assert (pll.divr, pll.divf, pll.divq, pll.filter_range) == (0, 63, 4, 1)


@settings(max_examples=40, deadline=None)
@given(st.integers(16_000_000, 275_000_000))
def test_ice40_pll_within_limits_and_formula(target):
    pll = ice40_pll(12_000_000, target)
    f_pfd = Fraction(12_000_000, pll.divr + 1)
    f_vco = f_pfd * (pll.divf + 1)
    assert 10e6 <= f_pfd <= 133e6 and 533e6 <= f_vco <= 1066e6
    assert pll.f_out == f_vco / 2 ** pll.divq
    # No setting within the limits comes closer (12 MHz in: DIVR must be 0).
    best = min(abs(Fraction(12_000_000 * (divf + 1), 2 ** divq) - target)
               for divf in range(128) for divq in range(1, 7)
               if 533e6 <= 12e6 * (divf + 1) <= 1066e6)
    assert abs(pll.f_out - target) == best


@settings(max_examples=20, deadline=None)
@given(st.integers(10_000_000, 300_000_000))
def test_ecp5_pll_within_limits_and_formula(target):
    pll = ecp5_pll(25_000_000, target)
    assert pll.f_out == Fraction(25_000_000 * pll.clkfb_div, pll.clki_div)
    assert pll.f_vco == pll.f_out * pll.clkop_div and 400e6 <= pll.f_vco <= 800e6
    # No setting within the limits comes closer.
    best = min(abs(Fraction(25_000_000 * fb, ci) - target)
               for ci in range(1, 9) for fb in range(1, 81)
               if 3.125e6 <= 25e6 * fb / ci <= 400e6
               and any(400e6 <= 25e6 * fb / ci * op <= 800e6 for op in range(1, 129)))
    assert abs(pll.f_out - target) == best


def test_clocks_out_of_range_are_refused():
    with pytest.raises(ValueError, match="16 to 275 MHz"):
        ice40_pll(12_000_000, 300_000_000)
    with pytest.raises(ValueError, match="3.125 to 400 MHz"):
        ecp5_pll(25_000_000, 500_000_000)


def test_unknown_board_lists_known_ones():
    with pytest.raises(ValueError, match="icebreaker, ulx3s-85f"):
        board("arty")
