"""Verilog and RTLIL for every example: the app core of each file converts, ports as signed."""

import json
import re

import pytest
from harness import EXAMPLE_FILES, example

from fpgac.backend import app_signature, elaborate, generate_app, to_rtlil, to_verilog
from fpgac.backend._simple_schedule import asap_schedule

#: Files with a route this big take several seconds through yosys: slow.
BIG = 300


def _files():
    return [pytest.param(f, marks=[pytest.mark.slow] if any(len(r.graph) >= BIG
                                                             for r in example(f).routes) else [])
            for f in EXAMPLE_FILES]


@pytest.mark.parametrize("file", _files())
def test_every_example_app_converts_to_verilog_and_rtlil(file):
    program = example(file)
    schedules = {r.path: asap_schedule(r.graph, 2) for r in program.routes}
    component = elaborate(generate_app(program, schedules))
    verilog = to_verilog(component, program.app)
    signature = json.loads(json.dumps(app_signature(program, schedules)))

    header = re.search(rf"module {program.app}\((.*?)\);", verilog, re.S)
    assert header, f"no module {program.app} in the Verilog"
    ports = {p.strip() for p in header.group(1).split(",")}
    expected = {"clk", "rst"}
    for route in signature["routes"]:
        for stream in route["ports"].values():
            expected |= {stream["valid"], stream["ready"]}
            if stream["payload"]:
                expected.add(stream["payload"])
                assert re.search(rf"(input|output) \[{stream['width'] - 1}:0\] "
                                 rf"{stream['payload']};", verilog)
    assert ports == expected
    # Nothing in the text depends on where the packages live.
    assert "src =" not in verilog

    rtlil = to_rtlil(component, program.app)
    assert f"module \\{program.app}" in rtlil


def test_multiplications_stay_multiplications_for_dsp_mapping():
    program = example("fixedpoint.py")
    route = program.route("/q16_mul")
    from fpgac.backend import generate_route

    text = generate_route(route, asap_schedule(route.graph, 1))
    assert "v1 * v2" in text
    verilog = to_verilog(elaborate(text), "q16_mul")
    # One `*` cell between the two operands, which synthesis maps to a DSP block.
    assert re.search(r"assign v3 = \$signed\([^;]*\) \* \$signed\([^;]*\);", verilog)
