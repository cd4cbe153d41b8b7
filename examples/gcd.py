"""The greatest common divisor as a bounded loop: Stein's binary algorithm, 32 steps.

Hardware has no `while`: the loop runs its worst-case number of steps, each
a slice of the pipeline, and `break` only skips the work of steps it does not
need. A 32-step pipeline is a sizeable core, so it is an app of its own.
"""

from fpgac import App, ctz, u16

app = App("gcd")


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
