"""Integer algorithms written as bounded loops: square root, GCD, bit counting.

Hardware has no `while`: every loop has a constant trip count and is unrolled
into a pipeline. An algorithm that would loop "until done" runs for its
worst-case number of steps instead, and `break` skips the steps it does not
need (they are still computed, their results are just not used).
"""

from fpgac import App, clz, ctz, popcount, u6, u16, u32

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


@app.post("/gcd")
def gcd(a: u16, b: u16) -> u16:
    """Return the greatest common divisor of `a` and `b` (`gcd(0, b) == b`), by Stein's algorithm.

    Binary GCD needs only subtractions and halvings. Each step replaces the
    larger of `x` and an odd `y` by their (even) difference, then halves `y`:
    the product `x * y` at least halves, and it starts below 2**32, so 32
    steps always finish for 16-bit operands. A step is two subtractions side
    by side and a choice: a short slice of pipeline, which keeps the core
    small enough for an iCE40 UP5K.
    """
    either: u16 = a | b  # the answer when a or b is 0
    shift = ctz(either)  # the power of two common to both
    x: u16 = a >> ctz(a)  # odd from here on (unless a is 0)
    y: u16 = b
    for _step in range(32):
        if y == 0:
            break
        if y & 1 == 1:
            # Both differences at once, the sign of one choosing: a single carry chain deep.
            d = y - x
            e = x - y
            if d < 0:
                x = y
                y = e
            else:
                y = d
        y >>= 1
    if a == 0 or b == 0:
        return either
    return x << shift


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
