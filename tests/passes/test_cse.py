"""CSE: common subexpressions merge, knowing commutativity and mirrored comparisons."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pass_graphs import check_preserved, graphs, param_inputs, run_pass

from fpgac.ir import Graph, IntTy, format_graph
from fpgac.passes import CSE


def text(g: Graph) -> str:
    return format_graph(g, spans=False)


def two_params(g: Graph) -> tuple[int, int]:
    return (g.add("param", path="x", width=8, signed=False),
            g.add("param", path="y", width=8, signed=True))


def test_merges_commutative_operands_and_mirrored_comparisons():
    g = Graph("t")
    x, y = two_params(g)
    outs = [
        g.add("add", (x, y)), g.add("add", (y, x)),  # merge
        g.add("lt", (x, y)), g.add("gt", (y, x)),  # merge: a < b is b > a
        g.add("le", (x, y)),  # differs from lt
        g.add("sub", (x, y)), g.add("sub", (y, x)),  # not commutative
        g.add("eq", (y, x)), g.add("eq", (x, y)),  # merge
    ]
    for i, v in enumerate(outs):
        g.add("output", (v,), path=f"return.{i}")
    assert CSE().run(g)
    assert text(g) == "\n".join([
        "v0: u8 = param(path=x, signed=false, width=8)",
        "v1: i8 = param(path=y, signed=true, width=8)",
        "v2: i10 = add(v0, v1)",
        "v4: u1 = lt(v0, v1)",
        "v6: u1 = le(v0, v1)",
        "v7: i10 = sub(v0, v1)",
        "v8: i10 = sub(v1, v0)",
        "v9: u1 = eq(v1, v0)",
        "v11: i10 = output(v2, path=return.0)",
        "v12: i10 = output(v2, path=return.1)",
        "v13: u1 = output(v4, path=return.2)",
        "v14: u1 = output(v4, path=return.3)",
        "v15: u1 = output(v6, path=return.4)",
        "v16: i10 = output(v7, path=return.5)",
        "v17: i10 = output(v8, path=return.6)",
        "v18: u1 = output(v9, path=return.7)",
        "v19: u1 = output(v9, path=return.8)",
    ])


def test_merging_cascades_through_users_and_ignores_types():
    g = Graph("t")
    x, _ = two_params(g)
    a = g.add("mul", (x, g.const(3)))
    b = g.add("mul", (g.const(3), x), type=IntTy(20, True))  # a wider container, same value
    g.add("output", (g.add("xor", (a, b)),), path="return")
    assert CSE().run(g)
    assert text(g) == "\n".join([
        "v0: u8 = param(path=x, signed=false, width=8)",
        "v1: i8 = param(path=y, signed=true, width=8)",
        "v2: u2 = const(value=3)",
        "v3: u10 = mul(v0, v2)",
        "v6: i20 = xor(v3, v3)",
        "v7: i20 = output(v6, path=return)",
    ])


def test_keeps_the_lowest_id_even_when_it_comes_later_in_order():
    g = Graph("t")
    x = g.add("param", path="x", width=8, signed=False)
    early = g.const(5)
    low = g.add("neg", (x,))  # rewritten below to come after `high` in topological order
    high = g.add("add", (x, early))
    late = g.const(5)
    g.replace(low, op="add", operands=(x, late))
    g.add("output", (high,), path="return.0")
    g.add("output", (low,), path="return.1")
    assert CSE().run(g)
    assert text(g) == "\n".join([
        "v0: u8 = param(path=x, signed=false, width=8)",
        "v1: u3 = const(value=5)",
        "v2: i9 = add(v0, v1)",  # the type of `neg`, which the node was made as
        "v5: u9 = output(v2, path=return.0)",
        "v6: i9 = output(v2, path=return.1)",
    ])


def test_keeps_params_outputs_distinct_arms_and_repeated_operands():
    g = Graph("t")
    x, y = two_params(g)
    s = g.add("lt", (x, y))
    g.add("output", (g.add("mux", (s, x, y)),), path="return.0")
    g.add("output", (g.add("mux", (s, y, x)),), path="return.1")
    g.add("output", (g.add("add", (x, x)),), path="return.2")
    g.add("output", (g.add("add", (x, x)),), path="return.3")
    assert CSE().run(g)
    assert text(g) == "\n".join([
        "v0: u8 = param(path=x, signed=false, width=8)",
        "v1: i8 = param(path=y, signed=true, width=8)",
        "v2: u1 = lt(v0, v1)",
        "v3: i9 = mux(v2, v0, v1)",
        "v4: i9 = output(v3, path=return.0)",
        "v5: i9 = mux(v2, v1, v0)",
        "v6: i9 = output(v5, path=return.1)",
        "v7: u9 = add(v0, v0)",
        "v8: u9 = output(v7, path=return.2)",
        "v10: u9 = output(v7, path=return.3)",
    ])
    assert not CSE().run(g)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_cse_preserves_values(data):
    g = data.draw(graphs())
    after, _ = run_pass(CSE(), g)
    check_preserved(g, after, data.draw(st.lists(param_inputs(g), min_size=1, max_size=6)))
    _, again = run_pass(CSE(), after)
    assert not again  # one run reaches the fixed point
