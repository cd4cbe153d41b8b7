"""XOR-linear cones written as XOR trees: scheduled as such, and exact in hardware."""

import zlib

import pytest
from harness import check_core, example, random_requests

from fpgac.backend import elaborate, generate_route, route_signature
from fpgac.backend._simple_schedule import asap_schedule
from fpgac.driver import compile_source, optimize
from fpgac.scheduling import DelayModel, schedule


@pytest.mark.parametrize("target", ["ice40", "ecp5"])
def test_crc32_is_one_xor_tree_per_bit_in_one_stage(target):
    # 128 shift-and-xor steps over 16 bytes: every bit of the CRC is an XOR of at most
    # 128 request bits, four LUT levels, so the route needs no pipelining at all.
    route = example("crc.py").route("/crc32")
    sched = schedule(route.graph, model=DelayModel.load(target))
    assert sched.n_stages == 1 and sched.xor_trees
    source = generate_route(route, sched)
    assert source.count(".xor()") == 32  # the output's bits; the chain itself is not written
    component = elaborate(source)
    signature = route_signature(route, sched)
    requests = random_requests(route, 60, seed=zlib.crc32(target.encode()))
    check_core(route, component, signature, requests, gap=0.3, stall=0.3, seed=3)


@pytest.mark.parametrize("n_stages", [0, 1, 3])
def test_every_linear_node_as_a_tree_over_registers_and_same_stage_leaves(n_stages):
    # /crc32_prefix mixes linear steps with muxes on a comparison (not linear): trees
    # read both registers of earlier stages and non-linear values of their own stage.
    route = example("crc.py").route("/crc32_prefix")
    sched = asap_schedule(route.graph, n_stages, xor_trees=True)
    assert len(sched.xor_trees) > 100
    component = elaborate(generate_route(route, sched))
    signature = route_signature(route, sched)
    requests = random_requests(route, 30, seed=n_stages)
    check_core(route, component, signature, requests, gap=0.2, stall=0.2, seed=n_stages)


@pytest.mark.parametrize("target, clock_mhz", [("ice40", 83.0), ("ecp5", 250.0)])
def test_a_cone_too_deep_for_a_stage_is_cut_level_by_level(target, clock_mhz):
    # Three LUT levels per bit do not fit one stage: the CRC's bits become explicit XOR
    # trees, cut after their first levels, as a hand-written CRC is: 2 stages holding
    # 4 partial XORs per bit, where cutting the program's steps took 24 stages.
    route = example("crc.py").route("/crc32")
    sched = schedule(route.graph, model=DelayModel.load(target), clock_mhz=clock_mhz)
    assert sched.n_stages == 2 and sched.register_bits() <= 5 * 32 + 32
    component = elaborate(generate_route(route, sched))
    signature = route_signature(route, sched)
    requests = random_requests(route, 40, seed=zlib.crc32(target.encode()))
    check_core(route, component, signature, requests, gap=0.3, stall=0.3, seed=5)


#: Regressions: handlers whose XOR-linear nodes were written wrong. The request lists
#: hold the values that told them apart; the checks compare with the handler's own IR.
REGRESSIONS = {
    # A `select` chosen as a tree was written as a select of operands never written.
    "select_as_tree": ("""
from fpgac import App, Array, u1, u8
app = App("t")
@app.post("/s")
def s(a: Array[u8, 15], b: u1) -> u8:
    y: u8 = 0
    for v in a:
        y = y ^ v
    arr: Array[u8, 2] = [y, y ^ 5]
    return arr[b]
""", [{"b": 1}, {"b": 0}]),
    # u1 1 and i1 -1 have the same bit: `==` must look one bit further.
    "eq_of_mixed_signedness": ("""
from fpgac import App, Array, i1, u1, u8
app = App("t")
@app.post("/e")
def e(a: u1, b: i1, x: Array[u8, 16]) -> u8:
    r: u8 = 0
    if a == b:
        r = 1
    for v in x:
        r = r ^ v
    return r
""", [{"a": 1, "b": -1}, {"a": 0, "b": 0}, {"a": 1, "b": 0}]),
    # A negative index is outside the array: the element read is 0.
    "select_by_negative_index": ("""
from fpgac import App, Array, i2, u8
app = App("t")
@app.post("/e")
def e(i: i2, y: u8, x: Array[u8, 16]) -> u8:
    arr: Array[u8, 4] = [y, y ^ 1, y, y ^ 1]
    r: u8 = arr[i]
    for v in x:
        r = r ^ v
    return r
""", [{"i": -1}, {"i": -2}, {"i": 1}]),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
@pytest.mark.parametrize("how", ["ice40", "ecp5", "every_tree"])
def test_regressions(name, how):
    source, edges = REGRESSIONS[name]
    route = optimize(compile_source(source, f"{name}.py")).routes[0]
    if how == "every_tree":
        sched = asap_schedule(route.graph, 1, xor_trees=True)
    else:
        sched = schedule(route.graph, model=DelayModel.load(how))
    assert sched.xor_trees
    component = elaborate(generate_route(route, sched))
    signature = route_signature(route, sched)
    requests = random_requests(route, 30, seed=7)
    for k, edge in enumerate(edges):
        requests[k] = {**requests[k], **edge}
    check_core(route, component, signature, requests, gap=0.0, stall=0.0, seed=1)
