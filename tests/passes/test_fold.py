"""ConstantFold: nodes whose operands are all constants become constants."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pass_graphs import check_preserved, graphs, param_inputs, run_pass

from fpgac.ir import Graph, format_graph
from fpgac.passes import ConstantFold


def text(g: Graph) -> str:
    return format_graph(g, spans=False)


def test_folds_chains_through_wraps_and_intrinsics():
    g = Graph("t")
    x = g.add("param", path="x", width=8, signed=False)
    s = g.add("add", (g.const(3), g.const(4)))
    m = g.add("mul", (s, g.const(-2)))
    w = g.add("wrap", (m,), width=4, signed=False)
    pc = g.add("popcount", (w,), width=4)
    g.add("output", (g.add("add", (x, pc)),), path="return")
    assert ConstantFold().run(g)
    # -14 wraps to 2 in u4; popcount(2) == 1. Types stay until NarrowWidths.
    assert text(g) == "\n".join([
        "v0: u8 = param(path=x, signed=false, width=8)",
        "v1: u2 = const(value=3)",
        "v2: u3 = const(value=4)",
        "v3: u4 = const(value=7)",
        "v4: i2 = const(value=-2)",
        "v5: i6 = const(value=-14)",
        "v6: u4 = const(value=2)",
        "v7: u3 = const(value=1)",
        "v8: u9 = add(v0, v7)",
        "v9: u9 = output(v8, path=return)",
    ])


def test_folds_division_by_zero_and_selection():
    g = Graph("t")
    q = g.add("floordiv", (g.const(-7), g.const(0)))
    r = g.add("mod", (g.const(-7), g.const(0)))
    sel = g.add("select", (g.const(5), g.const(1), g.const(2)))
    rom = g.add("rom", (g.const(1),), values=[10, 20])
    for i, v in enumerate((q, r, sel, rom)):
        g.add("output", (v,), path=f"return.{i}")
    assert ConstantFold().run(g)
    folded = [g[out.operands[0]] for out in g.outputs()]
    assert [(n.op, n["value"]) for n in folded] == [
        ("const", 0), ("const", -7), ("const", 0), ("const", 20)]


def test_leaves_outputs_and_params_alone():
    g = Graph("t")
    x = g.add("param", path="x", width=4, signed=True)
    g.add("output", (g.const(3),), path="return.0")
    g.add("output", (x,), path="return.1")
    before = text(g)
    assert not ConstantFold().run(g)
    assert text(g) == before


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fold_preserves_values(data):
    g = data.draw(graphs())
    after, _ = run_pass(ConstantFold(), g)
    check_preserved(g, after, data.draw(st.lists(param_inputs(g), min_size=1, max_size=6)))
    assert not any(n.op not in ("const", "output") and n.operands
                   and all(after[o].op == "const" for o in n.operands) for n in after)
