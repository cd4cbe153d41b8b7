"""The greatest common divisor as a bounded loop: Stein's binary algorithm, 32 steps.

Hardware has no `while`: the loop runs its worst-case number of steps, each
a slice of the pipeline. The steps are written so that the ones a short input
does not need change nothing, which needs no `break` and no flag to carry
down the pipeline. A 32-step pipeline is a sizeable core, so it is an app of
its own.
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
    either: u16 = a | b
    shift = ctz(either)  # the power of two common to both
    # With a == 0 the answer is b: start from it with nothing left to subtract (y == 0
    # leaves every step as it is), and x << shift gives back b. Likewise when b == 0.
    first: u16 = a if a != 0 else b
    x: u16 = first >> ctz(first)  # odd from here on (unless a and b are both 0)
    y: u16 = b if a != 0 else 0
    for _step in range(32):
        # Subtract x only when y is odd: for an even y, s is 0, d is y itself, and the step
        # only halves y. Both differences at once, the sign of one choosing: the step is
        # one carry chain deep, with one choice before it and one after.
        s: u16 = x if y & 1 == 1 else 0
        d = y - s
        e = s - y
        if d < 0:
            x = y
            y = e
        else:
            y = d
        y >>= 1  # 0 stays 0: once y is 0, the remaining steps change nothing
    return x << shift
