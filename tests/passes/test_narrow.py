"""NarrowWidths: every node but a param gets the narrowest type that holds its range."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pass_graphs import check_preserved, graphs, param_inputs, run_pass

from fpgac.ir import Graph, IntTy, format_graph, narrowest, value_ranges
from fpgac.passes import NarrowWidths


def text(g: Graph) -> str:
    return format_graph(g, spans=False)


def test_narrows_to_ranges_not_to_operand_types():
    g = Graph("t")
    x = g.add("param", path="x", width=8, signed=False)
    y = g.add("param", path="y", width=16, signed=True)  # unused: a param keeps its type
    m = g.add("and", (x, g.const(15)), type=IntTy(32, True))
    s = g.add("shr", (g.add("add", (m, m), type=IntTy(64, False)), g.const(1)))
    g.add("output", (s,), path="return.0", type=IntTy(40, True))
    g.add("output", (y,), path="return.1")
    assert NarrowWidths().run(g)
    assert text(g) == "\n".join([
        "v0: u8 = param(path=x, signed=false, width=8)",
        "v1: i16 = param(path=y, signed=true, width=16)",
        "v2: u4 = const(value=15)",
        "v3: u4 = and(v0, v2)",
        "v4: u5 = add(v3, v3)",
        "v5: u1 = const(value=1)",
        "v6: u4 = shr(v4, v5)",
        "v7: u4 = output(v6, path=return.0)",
        "v8: i16 = output(v1, path=return.1)",
    ])
    assert not NarrowWidths().run(g)


def test_signed_ranges_get_signed_types():
    g = Graph("t")
    x = g.add("param", path="x", width=4, signed=False)
    d = g.add("sub", (g.const(3), x), type=IntTy(30, True))  # [-12, 3]
    g.add("output", (g.add("neg", (d,)),), path="return")  # [-3, 12]
    assert NarrowWidths().run(g)
    assert [str(n.type) for n in g] == ["u4", "u2", "i5", "i5", "i5"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_narrow_preserves_values_and_reaches_the_narrowest_types(data):
    g = data.draw(graphs())
    after, _ = run_pass(NarrowWidths(), g)
    check_preserved(g, after, data.draw(st.lists(param_inputs(g), min_size=1, max_size=6)))
    ranges = value_ranges(after)
    for node in after:
        if node.op == "param":
            assert node.type == IntTy(node["width"], node["signed"])
        else:
            assert node.type == narrowest(*ranges[node.id])
