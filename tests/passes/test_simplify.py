"""AlgebraicSimplify: identities, and comparisons and selections decided by value ranges."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pass_graphs import check_preserved, graphs, param_inputs, run_pass

from fpgac.ir import Graph, format_graph, interpret, verify
from fpgac.passes import AlgebraicSimplify


def text(g: Graph) -> str:
    return format_graph(g, spans=False)


def describe(g: Graph, node_id: int) -> str:
    """Write the expression computing ``node_id`` (params by name, constants by value)."""
    node = g[node_id]
    if node.op == "param":
        return node["path"]
    if node.op == "const":
        return str(node["value"])
    args = [describe(g, o) for o in node.operands]
    args += [f"{k}={v}" for k, v in sorted(node.attrs.items())]
    return f"{node.op}({', '.join(args)})"


def c(g: Graph, value: int) -> int:
    return g.const(value)


# Each case builds an expression over x: u8, y: i8 and b: u1 and names what it simplifies to.
CASES = [
    (lambda g, x, y, b: g.add("add", (x, c(g, 0))), "x"),
    (lambda g, x, y, b: g.add("add", (c(g, 0), y)), "y"),
    (lambda g, x, y, b: g.add("sub", (x, c(g, 0))), "x"),
    (lambda g, x, y, b: g.add("sub", (y, y)), "0"),
    (lambda g, x, y, b: g.add("sub", (c(g, 0), y)), "neg(y)"),
    (lambda g, x, y, b: g.add("add", (x, g.add("neg", (y,)))), "sub(x, y)"),
    (lambda g, x, y, b: g.add("sub", (x, g.add("neg", (y,)))), "add(x, y)"),
    (lambda g, x, y, b: g.add("mul", (x, c(g, 1))), "x"),
    (lambda g, x, y, b: g.add("mul", (c(g, 0), y)), "0"),
    (lambda g, x, y, b: g.add("mul", (y, c(g, -1))), "neg(y)"),
    (lambda g, x, y, b: g.add("neg", (g.add("neg", (y,)),)), "y"),
    (lambda g, x, y, b: g.add("neg", (g.add("sub", (x, y)),)), "sub(y, x)"),
    (lambda g, x, y, b: g.add("not", (g.add("not", (y,)),)), "y"),
    (lambda g, x, y, b: g.add("and", (x, c(g, 0))), "0"),
    (lambda g, x, y, b: g.add("and", (y, y)), "y"),
    (lambda g, x, y, b: g.add("and", (x, c(g, 255))), "x"),
    (lambda g, x, y, b: g.add("and", (c(g, 0x1FF), x)), "x"),
    (lambda g, x, y, b: g.add("and", (y, c(g, -1))), "y"),
    (lambda g, x, y, b: g.add("and", (x, c(g, 15))), "and(x, 15)"),
    (lambda g, x, y, b: g.add("or", (x, c(g, 0))), "x"),
    (lambda g, x, y, b: g.add("or", (y, y)), "y"),
    (lambda g, x, y, b: g.add("or", (y, c(g, -1))), "-1"),
    (lambda g, x, y, b: g.add("xor", (x, c(g, 0))), "x"),
    (lambda g, x, y, b: g.add("xor", (y, y)), "0"),
    (lambda g, x, y, b: g.add("xor", (c(g, -1), y)), "not(y)"),
    (lambda g, x, y, b: g.add("floordiv", (x, c(g, 1))), "x"),
    (lambda g, x, y, b: g.add("floordiv", (y, c(g, 0))), "0"),
    (lambda g, x, y, b: g.add("floordiv", (y, c(g, -1))), "neg(y)"),
    (lambda g, x, y, b: g.add("floordiv", (x, c(g, 256))), "0"),
    (lambda g, x, y, b: g.add("mod", (x, c(g, 1))), "0"),
    (lambda g, x, y, b: g.add("mod", (y, c(g, -1))), "0"),
    (lambda g, x, y, b: g.add("mod", (y, c(g, 0))), "y"),
    (lambda g, x, y, b: g.add("mod", (y, y)), "0"),
    (lambda g, x, y, b: g.add("mod", (x, c(g, 256))), "x"),
    (lambda g, x, y, b: g.add("mod", (x, c(g, 255))), "mod(x, 255)"),
    (lambda g, x, y, b: g.add("shl", (x, c(g, 0))), "x"),
    (lambda g, x, y, b: g.add("shr", (y, c(g, 0))), "y"),
    (lambda g, x, y, b: g.add("shr", (x, c(g, 8))), "0"),
    (lambda g, x, y, b: g.add("mux", (c(g, 1), x, y)), "y"),
    (lambda g, x, y, b: g.add("mux", (c(g, 0), x, y)), "x"),
    (lambda g, x, y, b: g.add("mux", (b, y, y)), "y"),
    (lambda g, x, y, b: g.add("mux", (b, c(g, 0), c(g, 1))), "b"),
    (lambda g, x, y, b: g.add("mux", (b, c(g, 0), b)), "b"),
    (lambda g, x, y, b: g.add("mux", (b, c(g, 1), c(g, 0))), "mux(b, 1, 0)"),
    (lambda g, x, y, b: g.add("mux", (b, g.add("mux", (b, x, y)), c(g, 7))), "mux(b, x, 7)"),
    (lambda g, x, y, b: g.add("mux", (b, x, g.add("mux", (b, x, y)))), "mux(b, x, y)"),
    (lambda g, x, y, b: g.add("wrap", (x,), width=8, signed=False), "x"),
    (lambda g, x, y, b: g.add("wrap", (x,), width=9, signed=True), "x"),
    (lambda g, x, y, b: g.add("wrap", (y,), width=8, signed=False),
     "wrap(y, signed=False, width=8)"),
    (lambda g, x, y, b: g.add("wrap", (g.add("wrap", (y,), width=8, signed=False),),
                              width=4, signed=True),
     "wrap(y, signed=True, width=4)"),
    (lambda g, x, y, b: g.add("wrap", (g.add("wrap", (y,), width=4, signed=False),),
                              width=8, signed=True),
     "wrap(y, signed=False, width=4)"),
    (lambda g, x, y, b: g.add("lt", (x, c(g, 256))), "1"),
    (lambda g, x, y, b: g.add("ge", (x, c(g, 0))), "1"),
    (lambda g, x, y, b: g.add("lt", (y, c(g, -128))), "0"),
    (lambda g, x, y, b: g.add("gt", (c(g, 300), x)), "1"),
    (lambda g, x, y, b: g.add("eq", (x, c(g, 300))), "0"),
    (lambda g, x, y, b: g.add("ne", (y, c(g, 200))), "1"),
    (lambda g, x, y, b: g.add("le", (y, y)), "1"),
    (lambda g, x, y, b: g.add("gt", (x, x)), "0"),
    (lambda g, x, y, b: g.add("lt", (x, y)), "lt(x, y)"),
    (lambda g, x, y, b: g.add("eq", (b, c(g, 1))), "b"),
    (lambda g, x, y, b: g.add("ne", (c(g, 0), b)), "b"),
    (lambda g, x, y, b: g.add("lt", (c(g, 0), b)), "b"),
    (lambda g, x, y, b: g.add("eq", (b, c(g, 0))), "eq(b, 0)"),
    (lambda g, x, y, b: g.add("select", (c(g, 1), x, y)), "y"),
    (lambda g, x, y, b: g.add("select", (c(g, 5), x, y)), "0"),
    (lambda g, x, y, b: g.add("select", (b, x, x)), "x"),
    (lambda g, x, y, b: g.add("select", (x, y, y)), "select(x, y, y)"),  # x may be out of range
    (lambda g, x, y, b: g.add("rom", (b,), values=[7, 7]), "7"),
    (lambda g, x, y, b: g.add("rotl", (x, c(g, 8)), width=8), "x"),
    (lambda g, x, y, b: g.add("rotr", (y, c(g, 0)), width=8), "wrap(y, signed=False, width=8)"),
    (lambda g, x, y, b: g.add("reverse", (g.add("reverse", (x,), width=8),), width=8), "x"),
    (lambda g, x, y, b: g.add("concat", (y,), widths=[4]), "wrap(y, signed=False, width=4)"),
]


@pytest.mark.parametrize(("build", "expected"), CASES,
                         ids=[expected + f"-{i}" for i, (_, expected) in enumerate(CASES)])
def test_identity(build, expected):
    g = Graph("t")
    x = g.add("param", path="x", width=8, signed=False)
    y = g.add("param", path="y", width=8, signed=True)
    b = g.add("param", path="b", width=1, signed=False)
    out = g.add("output", (build(g, x, y, b),), path="return")
    before = g.copy()
    original = describe(g, g[out].operands[0])
    changed = AlgebraicSimplify().run(g)
    verify(g)
    assert describe(g, g[out].operands[0]) == expected
    assert changed == (expected != original)
    for inputs in ({"x": 0, "y": -128, "b": 0}, {"x": 255, "y": 127, "b": 1},
                   {"x": 77, "y": -3, "b": 1}):
        assert interpret(g, inputs) == interpret(before, inputs)


def test_printed_result_of_a_small_route():
    g = Graph("t")
    x = g.add("param", path="x", width=8, signed=False)
    s = g.add("lt", (x, g.const(256)))  # always 1
    m = g.add("mux", (s, g.const(0), g.add("add", (x, g.const(0)))))
    g.add("output", (g.add("wrap", (m,), width=8, signed=False),), path="return")
    assert AlgebraicSimplify().run(g)
    # The decided comparison becomes a constant in place; the rest are bypassed.
    assert text(g) == "\n".join([
        "v0: u8 = param(path=x, signed=false, width=8)",
        "v1: u9 = const(value=256)",
        "v2: u1 = const(value=1)",
        "v3: u1 = const(value=0)",
        "v4: u1 = const(value=0)",
        "v8: u8 = output(v0, path=return)",
    ])
    assert not AlgebraicSimplify().run(g)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_simplify_preserves_values(data):
    g = data.draw(graphs())
    after, _ = run_pass(AlgebraicSimplify(), g)
    check_preserved(g, after, data.draw(st.lists(param_inputs(g), min_size=1, max_size=6)))
