"""Test that the documentation's code and its table of intermediate types are true.

Every ``python`` code block in ``docs/*.md`` that is a whole handler module
(it creates an ``App``) must compile. The table of intermediate types in
``docs/language.md`` must match the compiler's value-range analysis.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from fpgac.driver import compile_source
from fpgac.ir import narrowest, value_ranges

DOCS = Path(__file__).resolve().parents[2] / "docs"

_BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.S | re.M)


def module_blocks() -> list[tuple[str, str]]:
    """Return ``(id, source)`` for every code block in the docs that is a handler module."""
    blocks = []
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            indent, body = match.group(1), match.group(2)
            source = "\n".join(line[len(indent):] for line in body.splitlines()) + "\n"
            if "= App(" in source:
                line = text[:match.start()].count("\n") + 1
                blocks.append((f"{path.name}:{line}", source))
    return blocks


MODULES = module_blocks()


def test_the_docs_hold_handler_modules():
    assert len(MODULES) >= 6


@pytest.mark.parametrize("source", [s for _, s in MODULES], ids=[i for i, _ in MODULES])
def test_doc_module_compiles(source):
    program = compile_source(source, "doc.py")
    assert program.routes
    assert program.app not in sys.stdlib_module_names


def type_table() -> list[tuple[str, str, str]]:
    """Return the ``(expression, range, type)`` rows of the intermediate-types table."""
    text = (DOCS / "language.md").read_text(encoding="utf-8")
    section = text.split("### Intermediate types", 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[2].startswith("`") and cells[2] != "type":
            for expr in re.findall(r"`([^`]+)`", cells[0]):
                rows.append((expr, cells[1], cells[2].strip("`")))
    return rows


TYPE_ROWS = type_table()

_EXPR_MODULE = '''from fpgac import App, i8, sint, u8
app = App("exprtypes")
@app.post("/e")
def e(x: u8, y: u8, s: i8) -> sint(64):
    return {expr}
'''


def test_type_table_is_found():
    assert len(TYPE_ROWS) >= 15


@pytest.mark.parametrize(("expr", "shown_range", "shown_type"), TYPE_ROWS,
                         ids=[r[0] for r in TYPE_ROWS])
def test_intermediate_type_table(expr, shown_range, shown_type):
    graph = compile_source(_EXPR_MODULE.format(expr=expr), "t.py").routes[0].graph
    ranges = value_ranges(graph)
    (output,) = [n for n in graph if n.op == "output"]
    node = graph[output.operands[0]]
    while node.op == "wrap":  # the store into the wide return type
        node = graph[node.operands[0]]
    lo, hi = ranges[node.id]
    numbers = [int(v) for v in re.findall(r"-?\d+", shown_range)]
    assert (lo, hi) == (numbers[0], numbers[-1])
    assert str(narrowest(lo, hi)) == shown_type


# --- the examples given in the language reference ------------------------------------------

_CLAIM_MODULE = '''from fpgac import (App, bits, clz, concat, ctz, i8, i16, popcount, reverse_bits, rotl, u1,
                   u4, u8, u16, u32, sint)
app = App("claims")
@app.post("/e")
def e(a: i16, b: i16) -> sint(64):
    return {expr}
'''

#: (expression over the parameters `a` and `b`, a, b, value the reference states)
CLAIMS = [
    ("a // b", -7, 2, -4), ("a % b", -7, 2, 1), ("a % b", 7, -2, -1),
    ("a // b", 7, 0, 0), ("a % b", 7, 0, 7), ("a // b", -7, 0, 0), ("a % b", -7, 0, -7),
    ("a & 0xFF", -1, 0, 255), ("~a", 5, 0, -6), ("a >> 1", -9, 0, -5),
    ("u8(a)", 300, 0, 44), ("u8(a)", -1, 0, 255), ("i8(a)", 200, 0, -56),
    ("bool(a)", 256, 0, 1), ("u1(a)", 256, 0, 0),
    ("i8(a) < u8(b)", -1, 255, 1), ("a and b", 5, 3, 1), ("a or b", 0, 0, 0),
    ("not a", 5, 0, 0), ("a < b < 10", 1, 5, 1), ("a < b < 10", 1, 50, 0),
    ("abs(i8(a))", -128, 0, 128), ("min(a, b, 3)", 5, 4, 3), ("max(a, b)", -5, -4, -4),
    ("a if b else 7", 1, 0, 7), ("a ** 3", -3, 0, -27),
    ("popcount(i8(a))", -1, 0, 8), ("clz(u32(a))", 1, 0, 31), ("ctz(u16(a))", 0, 0, 16),
    ("rotl(u8(a), 1)", 0x81, 0, 0x03), ("reverse_bits(u4(a))", 1, 0, 8),
    ("concat(u4(a), u8(b))", 0xA, 0x5B, 0xA5B), ("bits(a, 4, 8)", 0x7BCD, 0, 0xBC),
]


@pytest.mark.parametrize(("expr", "a", "b", "value"), CLAIMS,
                         ids=[f"{c[0]} [{c[1]}, {c[2]}]" for c in CLAIMS])
def test_language_reference_examples(expr, a, b, value):
    from fpgac.ir import program_to_json
    from fpgac.passes import optimize_program
    from fpgac.runtime import model_from_ir

    program = compile_source(_CLAIM_MODULE.format(expr=expr), "claims.py")
    route = model_from_ir(program_to_json(optimize_program(program))).route("/e")
    assert route(a, b) == value
