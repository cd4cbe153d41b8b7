"""Regression: `x | -2` with `x` in [-1, 0] has type i2, and the runtime must accept it.

The op table bounds a signed `|` by the widths of its operands' ranges, where a
negative upper end needs no bits of its own. The runtime's copy of the rule
counted `(-2).bit_length()` and so computed [-4, 3] for an `or` node of type i2,
and refused the bundle as inconsistent.
"""

from layers import check_case

SOURCE = """\
from fpgac import App, i8

app = App("regression")

@app.post("/f")
def f(a: i8) -> i8:
    b = a >> 7
    return b | -2
"""


def test_or_of_two_negative_ranges():
    check_case(SOURCE, "/f", {"a": 5}, -2)
    check_case(SOURCE, "/f", {"a": -5}, -1)
