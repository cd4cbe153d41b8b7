"""ECP5 products in MULT18X18D blocks whose own registers are the pipeline's registers."""

from __future__ import annotations

from pathlib import Path

import pytest
from amaranth.back import rtlil

from fpgac.backend import elaborate, generate_route
from fpgac.driver import compile_file, compile_source, optimize
from fpgac.scheduling import DelayModel, registered_dsp_pairs, schedule

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ICE40, ECP5 = DelayModel.load("ice40"), DelayModel.load("ecp5")

SOURCE = '''
from fpgac import App, i16, i32, u8, u16

app = App("mac")


@app.post("/mac")
def mac(a: i16, b: u8, c: i32) -> i32:
    return a * b + c
'''


class Ecp5:
    """What the generated cores look at in an amaranth-boards ECP5 platform."""

    family = "ecp5"


def _mac():
    return optimize(compile_source(SOURCE, "mac.py")).route("/mac")


def test_only_the_ecp5_block_is_registered():
    assert ECP5.dsp.registered and not ICE40.dsp.registered


@pytest.mark.parametrize("file, path", [("imaging.py", "/luma"), ("saturating.py", "/mul_q15"),
                                        ("hashing.py", "/fmix32")])
def test_a_registered_product_is_alone_in_its_stage(file, path):
    route = optimize(compile_file(EXAMPLES / file)).route(path)
    sched = schedule(route.graph, model=ECP5, clock_mhz=150)
    g = sched.graph
    pairs = registered_dsp_pairs(g, ECP5)
    assert pairs
    for u, v in pairs:
        assert sched.stage[u] < sched.stage[v], (g[u].op, g[v].op)
    iced = schedule(route.graph, model=ICE40, clock_mhz=48)
    assert not registered_dsp_pairs(iced.graph, ICE40)


def test_the_core_instantiates_mult18x18d_only_on_an_ecp5():
    route = _mac()
    sched = schedule(route.graph, model=ECP5, clock_mhz=150)
    source = generate_route(route, sched)
    assert "registered_product(m, platform, advance, " in source
    (product,) = [n for n in sched.graph if n.op == "mul"]
    assert f"v{product.id}_s{sched.stage[product.id] + 1}.eq(" not in source  # the block loads it

    on_ecp5 = rtlil.convert(elaborate(source), platform=Ecp5())
    assert on_ecp5.count("cell \\MULT18X18D") == 1
    for name in ("REG_INPUTA_CLK", "REG_INPUTB_CLK", "REG_OUTPUT_CLK"):
        assert f'parameter \\{name} "CLK0"' in on_ecp5
    assert "SRIA0" not in on_ecp5 and "SRIB0" not in on_ecp5
    assert "MULT18X18D" not in rtlil.convert(elaborate(source))  # simulation: behavioural
