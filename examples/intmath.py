"""Integer algorithms written as bounded loops: square root and bit counting.

Hardware has no `while`: every loop has a constant trip count and is unrolled
into a pipeline. An algorithm that would loop "until done" runs for its
worst-case number of steps instead, and `break` skips the steps it does not
need (they are still computed, their results are just not used). The
greatest common divisor, a longer loop, is an app of its own in `gcd.py`.
"""

from fpgac import App, clz, popcount, u6, u16, u32

app = App("intmath")


@app.post("/isqrt")
def isqrt(n: u32) -> u16:
    """Return the integer square root of `n`: the largest `r` with `r * r <= n`.

    The digit-by-digit method finds one bit of the root per step, from the top.
    """
    rem: u32 = n
    root: u32 = 0
    for i in range(16):
        bit = 1 << (30 - 2 * i)  # a constant in each unrolled step
        if rem >= root + bit:
            rem -= root + bit
            root = (root >> 1) + bit
        else:
            root >>= 1
    return root


@app.post("/count_ones")
def count_ones(x: u32) -> u6:
    """Count the set bits of `x` one bit at a time."""
    count = 0
    for i in range(32):
        count += (x >> i) & 1
    return count


@app.post("/count_ones_fast")
def count_ones_fast(x: u32) -> u6:
    """Count the set bits of `x` with the `popcount` intrinsic (the same result, less logic)."""
    return popcount(x)


@app.post("/bit_length")
def bit_length(x: u32) -> u6:
    """Return the number of bits needed to write `x` (0 for 0), like Python's `int.bit_length`."""
    return 32 - clz(x)
