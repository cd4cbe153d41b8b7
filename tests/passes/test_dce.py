"""DCE: nodes with no path to an output go; params and outputs always stay."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pass_graphs import check_preserved, graphs, param_inputs, run_pass

from fpgac.ir import Graph, format_graph
from fpgac.passes import DCE


def text(g: Graph) -> str:
    return format_graph(g, spans=False)


def test_removes_dead_chains_and_keeps_unused_params():
    g = Graph("t")
    x = g.add("param", path="x", width=8, signed=False)
    g.add("param", path="unused", width=3, signed=True)
    dead = g.add("mul", (x, g.const(9)))
    g.add("neg", (dead,))
    g.add("output", (g.add("add", (x, g.const(1))),), path="return")
    assert DCE().run(g)
    assert text(g) == "\n".join([
        "v0: u8 = param(path=x, signed=false, width=8)",
        "v1: i3 = param(path=unused, signed=true, width=3)",
        "v5: u1 = const(value=1)",
        "v6: u9 = add(v0, v5)",
        "v7: u9 = output(v6, path=return)",
    ])
    assert not DCE().run(g)


def test_repeated_operand():
    """``add(x, x)`` keeps both operands, and x stays live (XLS: RepeatedOperand)."""
    g = Graph("t")
    x = g.add("param", path="x", width=4, signed=False)
    y = g.add("add", (x, x))
    g.add("sub", (y, y))  # dead, with a repeated operand of its own
    g.add("output", (y,), path="return")
    assert DCE().run(g)
    assert text(g) == "\n".join([
        "v0: u4 = param(path=x, signed=false, width=4)",
        "v1: u5 = add(v0, v0)",
        "v3: u5 = output(v1, path=return)",
    ])
    assert g.users(x) == [y]


def test_a_graph_without_outputs_keeps_only_params():
    g = Graph("t")
    x = g.add("param", path="x", width=2, signed=False)
    g.add("not", (x,))
    assert DCE().run(g)
    assert text(g) == "v0: u2 = param(path=x, signed=false, width=2)"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_dce_preserves_values(data):
    g = data.draw(graphs())
    after, _ = run_pass(DCE(), g)
    check_preserved(g, after, data.draw(st.lists(param_inputs(g), min_size=1, max_size=6)))
    assert [n.id for n in after.params()] == [n.id for n in g.params()]
    assert [n.id for n in after.outputs()] == [n.id for n in g.outputs()]
    assert all(after.users(n.id) for n in after if n.op not in ("param", "output"))
