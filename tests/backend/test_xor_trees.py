"""XOR-linear cones written as XOR trees: scheduled as such, and exact in hardware."""

import zlib

import pytest
from harness import check_core, example, random_requests

from fpgac.backend import elaborate, generate_route, route_signature
from fpgac.backend._simple_schedule import asap_schedule
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
    check_core(route, component, signature, requests, gap=0.3, stall=0.3, seed=3,
               graph=sched.graph)


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
    check_core(route, component, signature, requests, gap=0.3, stall=0.3, seed=5,
               graph=sched.graph)
