"""Bit-level timing: bitwise cones cost LUT levels, chained additions ripple together."""

from __future__ import annotations

from pathlib import Path

import pytest

from fpgac.driver import compile_file, optimize
from fpgac.ir import Graph
from fpgac.scheduling import DelayModel, schedule
from fpgac.scheduling.lut_timing import is_bit_level

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ICE40, ECP5 = DelayModel.load("ice40"), DelayModel.load("ecp5")


def levels(model: DelayModel, n: int) -> float:
    """Return the delay of ``n`` LUT levels after a register."""
    m = model.lut_mapping
    return m.first_level_ns + (n - 1) * m.level_ns


def arrivals(graph: Graph, model: DelayModel, stage=None) -> dict[int, float]:
    timer = model.timer(graph)
    for node in graph:
        timer.place(node.id, 0 if stage is None else stage[node.id])
    return timer.arrival


def bits(g: Graph, n: int, width: int = 1) -> list[int]:
    return [g.add("param", path=f"p{i}", width=width, signed=False) for i in range(n)]


def xor_tree(g: Graph, values: list[int]) -> int:
    while len(values) > 1:
        values = [g.add("xor", (values[i], values[i + 1])) if i + 1 < len(values)
                  else values[i] for i in range(0, len(values), 2)]
    return values[0]


@pytest.mark.parametrize("model", [ICE40, ECP5], ids=lambda m: m.target)
@pytest.mark.parametrize("n, expected", [(2, 1), (4, 1), (5, 2), (16, 2), (17, 3), (64, 3)])
def test_a_balanced_xor_tree_costs_log4_of_its_inputs(model, n, expected):
    g = Graph("tree")
    out = xor_tree(g, bits(g, n))
    assert arrivals(g, model)[out] == pytest.approx(levels(model, expected))


def test_a_chain_costs_what_one_lut_per_three_gates_absorbs():
    # Structural, as abc maps what it is given: a chain of n two-input gates has
    # n + 1 inputs, and each LUT4 takes three more gates of it.
    for n in (3, 6, 9, 12):
        g = Graph("chain")
        ps = bits(g, n + 1)
        v = ps[0]
        for p in ps[1:]:
            v = g.add("and", (v, p))
        assert arrivals(g, ICE40)[v] == pytest.approx(levels(ICE40, n // 3)), n


@pytest.mark.parametrize("n, expected", [(3, 1), (6, 2), (12, 2), (15, 2), (16, 3), (63, 3)])
def test_an_xor_chain_is_timed_and_written_as_a_balanced_tree(n, expected):
    # XOR-linear: the backend writes nodes of the chain as one XOR of their inputs, so
    # its end costs the log4 of its n + 1 inputs, not n / 3 levels.
    g = Graph("chain")
    ps = bits(g, n + 1)
    v = ps[0]
    for p in ps[1:]:
        v = g.add("xor", (v, p))
    timer = ICE40.timer(g)
    for node in g:
        timer.place(node.id, 0)
    assert timer.arrival[v] == pytest.approx(levels(ICE40, expected))
    assert bool(timer.xor_trees) == (expected < n // 3)


def test_wiring_constants_and_equal_choices_cost_nothing():
    g = Graph("wires")
    x, y = bits(g, 2, width=8)
    s = g.add("param", path="s", width=1, signed=False)
    c = g.const(0x5A)
    shifted = g.add("shr", (g.add("xor", (g.add("shl", (x, g.const(3))), c)), g.const(3)))
    same = g.add("mux", (s, x, g.add("and", (x, g.const(0xFF)))))
    sliced = g.add("wrap", (g.add("not", (shifted,)),), width=4, signed=False)
    both = g.add("concat", (sliced, same), widths=(4, 8))
    mixed = g.add("mux", (s, x, y))
    t = arrivals(g, ICE40)
    for node in (shifted, same, sliced, both):
        assert t[node] == 0.0, g[node].op
    assert t[mixed] == pytest.approx(levels(ICE40, 1))


def test_a_crc_step_is_one_two_input_gate_per_bit():
    # `crc = (crc >> 1) ^ POLY if crc & 1 else crc >> 1`: bit i is crc[i+1] ^ (crc[0] & POLY[i]).
    g = Graph("crc")
    crc = g.add("param", path="crc", width=32, signed=False)
    one = g.const(1)
    v = crc
    for _ in range(3):
        low = g.add("and", (v, one))
        shifted = g.add("shr", (v, one))
        v = g.add("mux", (low, shifted, g.add("xor", (shifted, g.const(0xEDB88320)))))
    t = arrivals(g, ICE40)
    # Three steps: each bit depends on at most four register bits: one LUT level.
    assert t[v] == pytest.approx(levels(ICE40, 1))


def test_equality_is_an_and_tree_of_bit_comparisons():
    g = Graph("eq")
    x, y = bits(g, 2, width=16)
    with_const = g.add("eq", (x, g.const(0x1234)))
    both = g.add("ne", (x, y))
    t = arrivals(g, ICE40)
    assert t[with_const] == pytest.approx(levels(ICE40, 2))  # 16 bits: two levels
    assert t[both] == pytest.approx(levels(ICE40, 3))  # 32 bits, xored in pairs first


def test_a_register_starts_a_new_cone():
    g = Graph("cut")
    ps = bits(g, 16)
    a = xor_tree(g, ps[:8])
    b = xor_tree(g, ps[8:])
    out = g.add("xor", (a, b))
    one_stage = arrivals(g, ICE40)
    assert one_stage[out] == pytest.approx(levels(ICE40, 2))
    stage = {node.id: 0 for node in g}
    stage[out] = 1
    assert arrivals(g, ICE40, stage)[out] == pytest.approx(levels(ICE40, 1))


def test_operations_keep_their_formulas_and_a_lut_after_one_costs_a_level():
    g = Graph("ops")
    x, y, z = bits(g, 3, width=8)
    s = g.add("add", (x, y))
    masked = g.add("xor", (s, z))
    t = arrivals(g, ICE40)
    assert t[s] == pytest.approx(ICE40.op_delay(g[s], g))
    assert t[masked] == pytest.approx(t[s] + ICE40.lut_mapping.first_level_ns)
    assert not is_bit_level(g[s], g) and is_bit_level(g[masked], g)


@pytest.mark.parametrize("model", [ICE40, ECP5], ids=lambda m: m.target)
def test_chained_additions_ripple_together(model):
    g = Graph("sum")
    ps = bits(g, 4, width=16)
    v = ps[0]
    for p in ps[1:]:
        v = g.add("add", (v, p))
    first = g.order()[4]
    t = arrivals(g, model)
    assert t[v] == pytest.approx(t[first] + 2 * model.chained_add_ns)
    # Much less than three lone additions: the measured chains say so.
    assert t[v] < 0.7 * 3 * model.op_delay(g[first], g)


def test_the_crc_example_is_scheduled_by_lut_depth():
    route = optimize(compile_file(EXAMPLES / "crc.py")).route("/crc32")
    for model, clock in ((ICE40, 48), (ECP5, 150)):
        sched = schedule(route.graph, model=model, clock_mhz=clock)
        sched.verify_timing(None, 1000.0 / clock, model)
        # One LUT level per operation would take 18 (iCE40) and 32 (ECP5) stages.
        assert sched.n_stages <= 10, model.target


def test_models_without_a_lut_mapping_charge_each_operation():
    flat = DelayModel.from_dict({
        "target": "flat", "register_overhead_ns": 1.0, "lut_level_ns": 1.0,
        "ops": {"logic": {"formula": "linear", "coeffs": [1.0, 0.0]}},
    })
    g = Graph("tree")
    out = xor_tree(g, bits(g, 16))
    g.add("output", (out,), path="return")
    sched = schedule(g, model=flat, clock_mhz=1000.0 / 4.5)
    assert flat.lut_mapping is None
    assert max(sched.stage_delays(None, flat)) <= 3.5 and sched.n_stages == 2
    assert g[out].op == "xor"
