"""Reading the tools' reports: yosys cell counts, nextpnr's critical path mapped to handler lines."""

from pathlib import Path

from fpgac import backend
from fpgac.backend.board.platforms import BOARDS
from fpgac.build import (
    _critical_path,
    _figures,
    _signal_of,
    _source_lines,
    _yosys_cells,
    build_report_text,
)
from fpgac.driver import compile_file, optimize
from fpgac.scheduling import DelayModel, schedule

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

YOSYS_LOG = """
2.59. Printing statistics.

=== top ===

        +----------Count including submodules.
        |
       40 wires
        9 cells
        6   $scopeinfo
        2   SB_IO
        1   SB_PLL40_PAD
        5 submodules
      120   SB_DFFR
       30   SB_DFFE
      250   SB_LUT4
        2   SB_MAC16

2.60. Executing CHECK pass (checking for obvious problems).
"""


def test_yosys_cells_reads_the_final_statistics():
    cells = _yosys_cells(YOSYS_LOG)
    assert cells["SB_LUT4"] == 250 and cells["SB_DFFR"] == 120 and cells["SB_MAC16"] == 2


def test_figures_combine_yosys_and_nextpnr():
    nextpnr = {"utilization": {"ICESTORM_LC": {"used": 300, "available": 5280},
                               "ICESTORM_DSP": {"used": 2, "available": 8},
                               "ICESTORM_RAM": {"used": 4, "available": 30}}}
    figures = _figures(BOARDS["icebreaker"], nextpnr, _yosys_cells(YOSYS_LOG))
    assert figures == {"logic_cells": {"used": 300, "available": 5280},
                       "luts": {"used": 250, "available": 5280},
                       "ffs": {"used": 150, "available": 5280},
                       "dsps": {"used": 2, "available": 8},
                       "brams": {"used": 4, "available": 30}}


def _imaging_source():
    program = optimize(compile_file(EXAMPLES / "imaging.py"))
    model = DelayModel.load("ice40")
    scheds = {r.path: schedule(r.graph, model=model, clock_mhz=48) for r in program.routes}
    return backend.generate_app(program, scheds)


def test_critical_path_names_the_handler_lines_it_runs_through():
    source = _imaging_source()
    spans = _source_lines(source)
    # Every route's core instance has its signals mapped to lines of imaging.py.
    assert {instance for instance, _ in spans} == {"luma", "ycbcr", "grey"}
    assert all(span.startswith("imaging.py:") for span in spans.values())
    (signal, span), *_ = [(s, sp) for (i, s), sp in spans.items() if i == "ycbcr"]
    end = {"cell": "link.app.ycbcr.x_LC", "port": "O"}
    report = {"critical_paths": [{"from": "posedge clk", "to": "posedge clk", "path": [
        {"type": "clk-to-q", "delay": 1.0, "from": end, "to": end},
        {"type": "routing", "delay": 2.0, "net": f"link.app.ycbcr.{signal}[3]",
         "from": end, "to": {"cell": "link.sender.y_LC", "port": "I0"}},
    ]}]}
    path = _critical_path(report, source)
    assert path["source_lines"] == [span]
    assert path["delay_ns"] == 3.0 and path["to"] == "link.sender.y_LC"
    assert _signal_of("link.uart_tx.timer_SB_DFFESR_Q_D_SB_LUT4_O_LC") == "link.uart_tx.timer"


def test_build_report_text_is_a_table_of_the_figures():
    report = {"app": "imaging", "timing_met": False, "build": {
        "board": "icebreaker", "device": "iCE40UP5K-SG48", "clock_mhz": 48.0, "pll_mhz": 48.0,
        "baud": 3_000_000, "build_seconds": 12.5,
        "resources": {"logic_cells": {"used": 1740, "available": 5280},
                      "luts": {"used": 1255, "available": 5280},
                      "ffs": {"used": 1082, "available": 5280}, "dsps": {"used": 2, "available": 8},
                      "brams": {"used": 4, "available": 30}},
        "clocks": {"clk": {"constraint_mhz": 48.0, "achieved_mhz": 37.18, "met": False}},
        "critical_path": {"source_lines": ["imaging.py:31"]}}}
    text = build_report_text(report)
    assert "TIMING NOT MET" in text and "1,740" in text and "5,280" in text and "37.18" in text
    assert "20.5" in text  # flip-flops: 1,082 of 5,280
    assert "critical path through imaging.py:31" in text
    # A report of an older build holds LUTs and FFs as counts alone.
    report["build"]["resources"].update(luts=1255, ffs=1082)
    assert "1,082" in build_report_text(report)
