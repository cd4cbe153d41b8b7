"""Deep XOR-linear cones rewritten as explicit XOR trees: same values, cut-able shape."""

import random
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpgac.driver import compile_file, compile_source, optimize
from fpgac.ir import interpret, verify
from fpgac.scheduling import DelayModel
from fpgac.scheduling.xor_cones import expand_deep_xor_cones

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "differential"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))
from generator import handler_programs  # noqa: E402
from harness import random_requests  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ICE40 = DelayModel.load("ice40")


def _same_values(route, graph, seed: int) -> None:
    verify(graph)
    for request in random_requests(route, 40, seed=seed):
        assert interpret(graph, request) == interpret(route.graph, request), request


@settings(max_examples=60, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(handler_programs(), st.integers(0, 2**16))
def test_every_cone_expanded_keeps_every_value(program, seed):
    # A zero budget expands every cone root with two leaves or more in some bit.
    for route in optimize(compile_source(program.source, "random_handler.py")).routes:
        _same_values(route, expand_deep_xor_cones(route.graph, ICE40, 0.0), seed)


def test_every_cone_of_every_example_expanded_keeps_every_value():
    expanded = 0
    for file in sorted(EXAMPLES.glob("*.py")) + sorted(EXAMPLES.glob("ecp5/*.py")):
        for route in optimize(compile_file(file)).routes:
            graph = expand_deep_xor_cones(route.graph, ICE40, 0.0)
            expanded += graph is not route.graph
            _same_values(route, graph, len(route.graph))
    assert expanded >= 5  # the CRCs, hashes and bit packing


def test_crc32_expands_only_when_its_trees_do_not_fit_a_stage():
    route = optimize(compile_file(EXAMPLES / "crc.py")).route("/crc32")
    wide = ICE40.stage_budget_ns(48.0)
    assert expand_deep_xor_cones(route.graph, ICE40, wide) is route.graph
    expanded = expand_deep_xor_cones(route.graph, ICE40, ICE40.stage_budget_ns(83.0))
    assert expanded is not route.graph
    ops = {node.op for node in expanded}
    assert {"mux", "and"}.isdisjoint(ops)  # the steps' structure is gone: XORs of bits
    _same_values(route, expanded, random.Random(1).randrange(2**16))

