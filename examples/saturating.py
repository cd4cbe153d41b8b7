"""Saturating arithmetic, as in audio mixing and DSP instruction sets.

A saturating operation computes the exact result (intermediates never
overflow) and then clamps it to the range of the result type, instead of
wrapping around as a store into a declared type would.
"""

from fpgac import App, i16, i32, u8

app = App("saturating")

I16_MIN = -32768
I16_MAX = 32767


def saturate16(v: i32) -> i16:
    """Clamp `v` to the range of i16."""
    if v < I16_MIN:
        return I16_MIN
    if v > I16_MAX:
        return I16_MAX
    return v


@app.post("/add_i16")
def add_i16(a: i16, b: i16) -> i16:
    """Return `a + b`, clamped to i16."""
    return saturate16(a + b)


@app.post("/sub_i16")
def sub_i16(a: i16, b: i16) -> i16:
    """Return `a - b`, clamped to i16."""
    return saturate16(a - b)


@app.post("/mul_q15")
def mul_q15(a: i16, b: i16) -> i16:
    """Multiply two Q1.15 numbers (-1.0 <= x < 1.0), rounding to nearest; -1 * -1 gives the
    largest value below 1."""
    return saturate16((a * b + (1 << 14)) >> 15)


@app.post("/add_u8")
def add_u8(a: u8, b: u8) -> u8:
    """Return `a + b`, at most 255 (brightening a pixel channel)."""
    return min(a + b, 255)


@app.post("/clamp")
def clamp(x: i32, lo: i32, hi: i32) -> i32:
    """Return `x` limited to `[lo, hi]`; when `lo > hi`, `hi` wins, as in `min(max(x, lo), hi)`."""
    return min(max(x, lo), hi)
