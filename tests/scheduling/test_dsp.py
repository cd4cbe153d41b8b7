"""Hard multipliers: which products a DSP block takes, folding constant products back, and
splitting wide products into DSP-sized pieces of which only the bits read are kept."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fpgac.driver import compile_file, optimize
from fpgac.ir import IntTy, interpret, verify
from fpgac.scheduling import DelayModel, DspBlock, fuse_constant_products, schedule

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ICE40, ECP5 = DelayModel.load("ice40"), DelayModel.load("ecp5")


def _route(file: str, path: str):
    return optimize(compile_file(EXAMPLES / file)).route(path)


def _inputs(graph, rng: random.Random, count: int = 200):
    for i in range(count):
        inputs = {}
        for p in graph.params():
            ty = IntTy(p["width"], p["signed"])
            inputs[p["path"]] = (ty.min, ty.max, 0)[i] if i < 3 else rng.randint(ty.min, ty.max)
        yield inputs


def _same_values(a, b, seed: int = 0) -> None:
    rng = random.Random(seed)
    for inputs in _inputs(a, rng):
        assert interpret(a, inputs) == interpret(b, inputs), inputs


def test_dsp_block_fits():
    mac = DspBlock("SB_MAC16", 16, 16, 15.0, min_result_width=11)
    assert mac.fits(16, False, 16, False, 32)
    assert mac.fits(16, True, 16, True, 32)
    assert not mac.fits(16, True, 16, False, 32)  # the unsigned operand needs a sign bit
    assert mac.fits(16, True, 15, False, 31)
    assert not mac.fits(17, False, 8, False, 25)
    assert not mac.fits(4, False, 4, False, 8)  # too small: LUTs
    wide = DspBlock("MULT18X18D", 18, 18, 4.9)
    assert wide.fits(18, True, 2, False, 20) and not wide.fits(19, False, 2, False, 21)


def test_shipped_models_have_their_dsp_blocks():
    assert ICE40.dsp.name == "SB_MAC16" and ICE40.dsp.a_width == 16
    assert ECP5.dsp.name == "MULT18X18D" and ECP5.dsp.a_width == 18
    assert 0 < ECP5.dsp.delay_ns < ECP5.stage_budget_ns(150)


@pytest.mark.parametrize("model", [ICE40, ECP5], ids=lambda m: m.target)
def test_constant_products_are_folded_back(model):
    route = _route("imaging.py", "/luma")
    assert not any(n.op == "mul" for n in route.graph)  # strength reduction made shifts
    fused = fuse_constant_products(route.graph, model)
    verify(fused)
    products = sorted(fused[fused[n.id].operands[1]]["value"] for n in fused if n.op == "mul")
    assert products == [25, 66, 129]
    assert not any(n.op == "shl" for n in fused)
    assert all(model.maps_to_dsp(n, fused) for n in fused if n.op == "mul")
    _same_values(route.graph, fused)


def test_no_dsp_no_folding():
    route = _route("imaging.py", "/luma")
    data = dict(ICE40.data)
    del data["dsp"]
    plain = DelayModel.from_dict(data)
    assert fuse_constant_products(route.graph, plain) is route.graph
    assert not any(n.op == "mul" for n in schedule(route.graph, model=plain, clock_mhz=48).graph)


def test_a_shared_partial_sum_is_not_folded():
    # `x * 3` is used on its own, so folding `x * 7 == x * 3 + (x << 2)` would keep its adder.
    from fpgac.ir import Graph

    g = Graph("shared")
    x = g.add("param", (), type=IntTy(12), path="x", width=12, signed=False)
    x3 = g.add("add", (g.add("shl", (x, g.const(1))), x))
    x7 = g.add("add", (x3, g.add("shl", (x, g.const(2)))))
    g.add("output", (x7,), path="return.a")
    g.add("output", (x3,), path="return.b")
    fused = fuse_constant_products(g, ICE40)
    assert fused[x7].op == "add"  # x3 is shared: x7 keeps its form
    assert fused[x3].op == "mul"  # x3 itself folds: all of its inner nodes are its own
    _same_values(g, fused)


@pytest.mark.parametrize("model, clock", [(ICE40, 48), (ECP5, 150)], ids=["ice40", "ecp5"])
def test_wrapped_wide_products_split_into_dsp_pieces(model, clock):
    route = _route("hashing.py", "/fmix32")
    sched = schedule(route.graph, model=model, clock_mhz=clock)
    products = [n for n in sched.graph if n.op == "mul"]
    # Two 32-bit products wrapped to 32 bits: three 16x16 pieces each (the high x high
    # piece lands above bit 32 and is left out).
    assert len(products) == 6
    assert all(model.maps_to_dsp(n, sched.graph) for n in products)
    _same_values(route.graph, sched.graph, seed=1)


def test_mul_q15_is_one_dsp_on_both_targets():
    route = _route("saturating.py", "/mul_q15")
    for model, clock in ((ICE40, 48), (ECP5, 150)):
        sched = schedule(route.graph, model=model, clock_mhz=clock)
        products = [n for n in sched.graph if n.op == "mul"]
        assert len(products) == 1 and model.maps_to_dsp(products[0], sched.graph)


# --- the device's count of blocks ----------------------------------------------------------

BUDGET_SOURCE = '''
from fpgac import App, i8, i16, u8, u16

app = App("products")


@app.post("/both")
def both(a: u16, b: i16, c: u8) -> i16:
    return (a * b) + (c * 201) + (c * 3)


@app.post("/signed")
def signed(a: i8, b: i8) -> i16:
    return a * b
'''


def test_the_shipped_models_count_their_blocks():
    assert ICE40.dsp.count == 8 and ECP5.dsp.count == 156


def test_products_beyond_the_budget_become_shifts_and_additions():
    from fpgac.driver import compile_source
    from fpgac.scheduling import dsp_products, limit_dsp_products, lut_cost

    program = optimize(compile_source(BUDGET_SOURCE, "products.py"))
    for route in program.routes:
        graph = fuse_constant_products(route.graph, ECP5)
        products = dsp_products(graph, ECP5)
        assert products
        for budget in range(len(products) + 1):
            limited = limit_dsp_products(graph, ECP5, budget)
            verify(limited)
            kept = dsp_products(limited, ECP5)
            assert len(kept) == min(budget, len(products))
            # The products that would cost the most in LUTs keep their blocks.
            costs = sorted((lut_cost(n, graph) for n in products), reverse=True)
            assert sorted((lut_cost(n, limited) for n in kept), reverse=True) == costs[:budget]
            _same_values(route.graph, limited)
        assert limit_dsp_products(graph, ECP5, len(products)) is graph


def test_the_routes_of_an_app_share_the_blocks():
    from fpgac.driver import compile_source
    from fpgac.scheduling import dsp_products, lut_cost, schedule_app

    program = optimize(compile_source(BUDGET_SOURCE, "products.py"))
    graphs = {r.path: r.graph for r in program.routes}
    unlimited = schedule_app(graphs, model=ICE40, clock_mhz=48, dsp_budget=100)
    costs = sorted((lut_cost(n, s.graph) for s in unlimited.values()
                    for n in dsp_products(s.graph, ICE40)), reverse=True)
    assert len(costs) >= 3
    for budget in range(len(costs) + 1):
        scheds = schedule_app(graphs, model=ICE40, clock_mhz=48, dsp_budget=budget)
        kept = [lut_cost(n, s.graph) for s in scheds.values()
                for n in dsp_products(s.graph, ICE40)]
        # The products worth the most in LUTs keep blocks, whichever route they are in.
        assert sorted(kept, reverse=True) == costs[:budget]
        for route in program.routes:
            scheds[route.path].verify_timing(None, 1000.0 / 48, ICE40)
            _same_values(route.graph, scheds[route.path].graph)


def test_a_product_by_one_bit_is_logic_not_a_dsp_block():
    # Regression: split pieces of a product can be one bit wide; such a product is an
    # AND (yosys's mul2dsp takes only operands of two bits or more), and timing it as a
    # DSP block made /ycbcr unschedulable on the ECP5 above 181 MHz.
    from fpgac.ir import Graph

    g = Graph("one_bit")
    a = g.add("param", path="a", width=1, signed=False)
    b = g.add("param", path="b", width=9, signed=False)
    product = g.add("mul", (a, b))
    for target in ("ice40", "ecp5"):
        assert not DelayModel.load(target).maps_to_dsp(g[product], g)
