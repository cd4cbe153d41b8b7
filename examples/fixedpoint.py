"""Fixed-point arithmetic: a Q16.16 multiply, linear interpolation and a 4-tap FIR filter.

A QM.N number is an integer that means `value / 2**N`. Multiplying two of them
doubles N, so the product is shifted back by N; adding half of the last
place (`1 << (N - 1)`) before the shift rounds to nearest instead of down.
"""

from fpgac import App, Array, Table, i16, i32, u8

app = App("fixedpoint")

#: Taps of a small low-pass filter in Q1.15 (-0.05, 0.55, 0.55, -0.05); they sum to 1.0.
TAPS = Table(i16, [-1638, 18022, 18022, -1638])


@app.post("/q16_mul")
def q16_mul(a: i32, b: i32) -> i32:
    """Multiply two Q16.16 numbers, rounding to nearest (halves up); overflow wraps."""
    return (a * b + (1 << 15)) >> 16


@app.post("/lerp")
def lerp(a: u8, b: u8, t: u8) -> u8:
    """Return `a + (b - a) * t / 256` rounded to nearest: `t = 0` gives `a`, `t = 128` the middle."""
    return a + (((b - a) * t + 128) >> 8)


@app.post("/fir4")
def fir4(x: Array[i16, 4]) -> i16:
    """Filter the last four samples (`x[0]` the newest); the result saturates to i16."""
    acc = 0
    for i in range(4):
        acc += TAPS[i] * x[i]
    y = (acc + (1 << 14)) >> 15
    return min(max(y, -32768), 32767)
