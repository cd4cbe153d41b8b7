"""The pass manager: fixed point, verification, honest change claims, dumps, programs."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pass_graphs import check_preserved, graphs, param_inputs, random_graph

from fpgac.ir import (
    Graph,
    IntTy,
    Program,
    RecordTy,
    Route,
    VerifyError,
    format_graph,
    format_program,
    interpret,
)
from fpgac.passes import (
    CSE,
    DCE,
    DEFAULT_PIPELINE,
    AlgebraicSimplify,
    ConstantFold,
    NarrowWidths,
    PassManager,
    StrengthReduce,
    optimize_program,
)

U8 = IntTy(8, False)
RGB = RecordTy("RGB", (("r", U8), ("g", U8), ("b", U8)))


def text(g: Graph) -> str:
    return format_graph(g, spans=False)


def luma_graph() -> Graph:
    """``((66 * p.r + 129 * p.g + 25 * p.b + 128) >> 8) + 16``, returned as a ``u8``."""
    g = Graph("luma")
    r, gg, b = (g.add("param", path=f"p.{f}", width=8, signed=False) for f in "rgb")
    t = g.add("add", (g.add("mul", (g.const(66), r)), g.add("mul", (g.const(129), gg))))
    t = g.add("add", (t, g.add("mul", (g.const(25), b))))
    t = g.add("shr", (g.add("add", (t, g.const(128))), g.const(8)))
    t = g.add("add", (t, g.const(16)))
    g.add("output", (g.add("wrap", (t,), width=8, signed=False),), path="return")
    return g


def luma_program() -> Program:
    route = Route("/luma", "luma", [("p", RGB)], U8, luma_graph())
    return Program("imaging", "imaging.py", [route], {"RGB": RGB})


def test_default_pipeline_is_data():
    assert DEFAULT_PIPELINE == [ConstantFold, AlgebraicSimplify, StrengthReduce, CSE, DCE,
                                NarrowWidths]
    assert [p.name for p in PassManager(DEFAULT_PIPELINE).passes] == [
        "fold", "simplify", "strength", "cse", "dce", "narrow"]


def test_luma_optimizes_to_shifts_and_adds_without_the_wrap():
    g = luma_graph()
    assert PassManager(DEFAULT_PIPELINE).run(g)
    # The range proves the sum fits a u8, so the return's wrap goes; constants multiply
    # by shifts and adds; everything is as narrow as its range.
    assert text(g) == "\n".join([
        "v0: u8 = param(path=p.r, signed=false, width=8)",
        "v1: u8 = param(path=p.g, signed=false, width=8)",
        "v2: u8 = param(path=p.b, signed=false, width=8)",
        "v11: u8 = const(value=128)",
        "v13: u4 = const(value=8)",
        "v15: u5 = const(value=16)",
        "v19: u3 = const(value=6)",
        "v20: u14 = shl(v0, v19)",
        "v21: u1 = const(value=1)",
        "v22: u9 = shl(v0, v21)",
        "v4: u15 = add(v20, v22)",
        "v23: u3 = const(value=7)",
        "v24: u15 = shl(v1, v23)",
        "v6: u16 = add(v24, v1)",
        "v7: u16 = add(v4, v6)",
        "v25: u3 = const(value=4)",
        "v26: u12 = shl(v2, v25)",
        "v27: u2 = const(value=3)",
        "v28: u11 = shl(v2, v27)",
        "v29: u13 = add(v26, v28)",
        "v9: u13 = add(v29, v2)",
        "v10: u16 = add(v7, v9)",
        "v12: u16 = add(v10, v11)",
        "v14: u8 = shr(v12, v13)",
        "v16: u8 = add(v14, v15)",
        "v18: u8 = output(v16, path=return)",
    ])
    assert not PassManager(DEFAULT_PIPELINE).run(g)  # a fixed point


class _Lying:
    """A pass that changes a type and says it changed nothing."""

    name = "liar"

    def run(self, graph: Graph) -> bool:
        for node in graph:
            if node.op == "output":
                graph.replace(node.id, type=IntTy(node.type.width + 1, True))
                break
        return False


class _Boasting:
    name = "boaster"

    def run(self, graph: Graph) -> bool:
        return True


class _Breaking:
    """A pass that narrows a type below its range: the verifier must catch it."""

    name = "breaker"

    def run(self, graph: Graph) -> bool:
        for node in graph:
            if node.op == "add":
                graph.replace(node.id, type=IntTy(1, False))
                return True
        return False


@pytest.mark.parametrize(("bad", "message"), [
    (_Lying, "pass 'liar' changed the graph but reported no change"),
    (_Boasting, "pass 'boaster' reported a change but changed nothing"),
])
def test_a_wrong_change_claim_is_an_internal_error(bad, message):
    with pytest.raises(AssertionError) as info:
        PassManager([ConstantFold, bad]).run(luma_graph())
    assert str(info.value) == message


def test_the_verifier_runs_after_each_pass_and_names_it():
    with pytest.raises(VerifyError, match=r"^after pass 'breaker': luma: v7 \(add\): type u1"):
        PassManager([_Breaking]).run(luma_graph())


def test_the_verifier_runs_before_the_first_pass():
    g = luma_graph()
    g.replace(7, type=IntTy(2, False))
    with pytest.raises(VerifyError, match="^before the first pass: "):
        PassManager([DCE]).run(g)


def test_dump_dir_gets_numbered_snapshots_of_changing_passes(tmp_path):
    g = luma_graph()
    PassManager(DEFAULT_PIPELINE).run(g, dump_dir=tmp_path / "ir", route_name="luma")
    names = sorted(p.name for p in (tmp_path / "ir").iterdir())
    assert names == [
        "00-luma-input.ir", "01-luma-simplify.ir", "02-luma-strength.ir", "03-luma-dce.ir",
        "04-luma-narrow.ir",
    ]
    assert (tmp_path / "ir" / "04-luma-narrow.ir").read_text() == format_graph(g) + "\n"
    assert (tmp_path / "ir" / "00-luma-input.ir").read_text() == format_graph(luma_graph()) + "\n"


def test_optimize_program_returns_a_copy():
    program = luma_program()
    before = format_program(program)
    optimized = optimize_program(program)
    assert format_program(program) == before  # the input is untouched
    assert optimized is not program and optimized.routes[0] is not program.routes[0]
    assert optimized.routes[0].graph is not program.routes[0].graph
    assert "mul" not in format_program(optimized)
    original, new = program.routes[0].graph, optimized.routes[0].graph
    for r, g, b in [(0, 0, 0), (255, 255, 255), (10, 20, 30), (200, 3, 90)]:
        inputs = {"p.r": r, "p.g": g, "p.b": b}
        assert interpret(new, inputs) == interpret(original, inputs)


def test_optimize_program_dumps_every_route(tmp_path):
    optimize_program(luma_program(), dump_dir=tmp_path)
    assert all(p.name.endswith(".ir") and "-luma-" in p.name for p in tmp_path.iterdir())
    assert len(list(tmp_path.iterdir())) == 5


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_pipeline_preserves_values(data):
    g = data.draw(graphs(max_nodes=24))
    after = g.copy()
    PassManager(DEFAULT_PIPELINE).run(after)
    check_preserved(g, after, data.draw(st.lists(param_inputs(g), min_size=1, max_size=8)))
    assert not PassManager(DEFAULT_PIPELINE).run(after)


@pytest.mark.parametrize("seed", range(3))
def test_the_pipeline_on_larger_graphs(seed):
    g = random_graph(seed, 600)
    after = g.copy()
    PassManager(DEFAULT_PIPELINE).run(after)
    inputs = {p["path"]: v for p, v in zip(g.params(), [0, 1, -1, 5, 100, -77, 3, 2])}
    for p in g.params():  # fit each value to its param's type
        inputs[p["path"]] = IntTy(p["width"], p["signed"]).wrap(inputs[p["path"]])
    assert interpret(after, inputs) == interpret(g, inputs)


@pytest.mark.slow
def test_the_pipeline_on_a_ten_thousand_node_graph():
    g = random_graph(7, 10_000)
    after = g.copy()
    assert PassManager(DEFAULT_PIPELINE).run(after)
    for values in ([0] * 8, [1, -1, 2, -2, 3, -3, 4, -4], [255, 127, -128, 511, 7, 1, 0, 9]):
        inputs = {p["path"]: IntTy(p["width"], p["signed"]).wrap(v)
                  for p, v in zip(g.params(), values)}
        assert interpret(after, inputs) == interpret(g, inputs)
