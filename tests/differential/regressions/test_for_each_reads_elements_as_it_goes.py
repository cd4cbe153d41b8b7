"""Regression: `for x in a` reads `a[i]` when iteration i starts, as Python does.

SPEC §3: a handler computes what the same Python source computes on unbounded
integers with the declared wraps. Python's `for x in a` reads each element when
its iteration starts, so a write in the body to a later element is seen by a
later iteration. The compiler took every element from before the loop.
"""

from layers import check_case

SOURCE = """\
from fpgac import App, Array, u8

app = App("regression")

@app.post("/f")
def f(a: Array[u8, 3]) -> u8:
    for x in a:
        a[2] = x
    return a[2]
"""


def test_a_write_ahead_of_the_loop_is_seen_by_a_later_iteration():
    # x = 1: a[2] = 1; x = 2: a[2] = 2; x = a[2] = 2: a[2] = 2.
    check_case(SOURCE, "/f", {"a": [1, 2, 3]}, 2)
