"""Board builds with the pip-installed tools: bitstream, routed timing, reports, reuse, failure.

An iCEBreaker build of one example runs in every test run; the slow set builds
three examples (two on both boards) and checks that nextpnr's routed timing
meets the board's clock. Every example on both boards takes about an hour on
two cores from a cold cache, more than a test run may:
`python benchmarks/bench_boards.py` builds them all, checks the same, and prints
the table (benchmarks/results/boards.txt).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fpgac.build import TimingError, build_bundle
from fpgac.cli import main
from fpgac.runtime import load, read_manifest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLES_BOTH = sorted(p.stem for p in EXAMPLES.glob("*.py"))


def check_built(bundle: Path, board: str, clock_mhz: float) -> dict:
    """Check a finished build's report and files; return the report."""
    report = json.loads((bundle / "report.json").read_text())
    build = report["build"]
    assert report["timing_met"] is True
    assert set(report["fmax_mhz"]) == set(build["clocks"]) and report["fmax_mhz"]
    for clock in build["clocks"].values():
        assert clock["achieved_mhz"] >= clock["constraint_mhz"] >= clock_mhz * 0.999
    resources = build["resources"]
    assert 0 < resources["logic_cells"]["used"] <= resources["logic_cells"]["available"]
    for name in ("luts", "ffs"):
        assert 0 < resources[name]["used"] <= resources[name]["available"]
    assert build["board"] == board and build["pll_mhz"] == pytest.approx(clock_mhz)
    suffix = ".bin" if board == "icebreaker" else ".bit"
    bitstream = bundle / "board" / f"{board}{suffix}"
    assert bitstream.stat().st_size > 1000
    manifest = read_manifest(bundle)  # every file, the bitstream included, hash-checked
    assert f"board/{board}{suffix}" in manifest["files"]
    assert "virtual/board.cc" in manifest["files"]
    return report


def test_icebreaker_build_of_an_example(tmp_path):
    out = tmp_path / "lookup"
    result = build_bundle(EXAMPLES / "lookup.py", "icebreaker", out=out)
    assert not result.reused
    report = check_built(out, "icebreaker", 48.0)
    assert report["build"]["resources"]["brams"]["used"] >= 1  # the tables and the link queues
    # The bundle still loads and runs on the software model.
    assert load(out).gamma(7) == load(out).model.route("/gamma").handle({"v": 7})
    # Unchanged: the build is reused, not run again.
    again = build_bundle(out, "icebreaker")
    assert again.reused and again.build["key"] == report["build"]["key"]
    shown = CliRunner().invoke(main, ["report", str(out)])
    assert shown.exit_code == 0, shown.output
    assert "timing met" in shown.output and "logic cells" in shown.output
    assert "/gamma" in shown.output


TINY = '''
from fpgac import App, u8

app = App("tiny")


@app.post("/inc")
def inc(x: u8) -> u8:
    return x + 1
'''


def test_a_missed_clock_fails_with_a_message_and_no_bitstream(tmp_path):
    source = tmp_path / "tiny.py"
    source.write_text(TINY)
    out = tmp_path / "tiny"
    # The core can be pipelined for 90 MHz, but the link's logic cannot run that fast on
    # an iCE40.
    result = CliRunner().invoke(main, ["build", str(source), "--clock-mhz", "90",
                                       "-o", str(out)])
    assert result.exit_code == 1
    assert "routed timing missed the clock on icebreaker" in result.output
    assert "--allow-timing-failure" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["timing_met"] is False and report["fmax_mhz"]["clk"] < 90
    assert not (out / "board" / "icebreaker.bin").exists()
    read_manifest(out)  # the bundle stays whole
    # Waived: the same routed result (from the cache), this time with its bitstream.
    waived = build_bundle(out, "icebreaker", clock_mhz=90, allow_timing_failure=True)
    assert waived.build["reused"] and (out / "board" / "icebreaker.bin").exists()
    with pytest.raises(TimingError, match=r"MHz achieved, 90\.\d MHz asked"):
        build_bundle(out, "icebreaker", clock_mhz=90)


#: The examples built for both boards in the slow set (see the module's docstring).
SLOW_SUBSET = ["bitpack", "lookup"]


@pytest.mark.slow
@pytest.mark.parametrize("name,board,clock", [
    *[(name, "icebreaker", 48.0) for name in SLOW_SUBSET],
    *[(name, "ulx3s-85f", 150.0) for name in SLOW_SUBSET],
    # Routes below 48 MHz as first scheduled: timing closure schedules /ycbcr faster.
    ("imaging", "icebreaker", 48.0)])
def test_examples_build_and_meet_their_clock(tmp_path, name, board, clock):
    assert name in EXAMPLES_BOTH
    out = tmp_path / name
    build_bundle(EXAMPLES / f"{name}.py", board, out=out)
    check_built(out, board, clock)


def test_a_bundle_from_another_schedule_is_rewritten_before_it_is_built(tmp_path):
    from fpgac.bundle import write_bundle
    from fpgac.driver import compile_file, optimize

    out = tmp_path / "imaging"
    program = optimize(compile_file(EXAMPLES / "imaging.py"))
    # Same FPGA and clock, but no DSP blocks: the products are LUT logic.
    write_bundle(program, out, target="ice40", clock_mhz=48.0, dsp_budget=0)
    stale = (out / "hdl" / "imaging.py").read_text()
    build_bundle(out, "icebreaker", virtual_only=True)
    fresh = (out / "hdl" / "imaging.py").read_text()
    assert fresh != stale and "*" in fresh.split("class GreyCore")[1].split("class ")[0]
    manifest = read_manifest(out)
    assert "virtual/board.cc" in manifest["files"]


def test_a_bundle_whose_ir_names_its_module_by_full_path_is_rewritten(tmp_path):
    from fpgac.build import _meta
    from fpgac.bundle import write_bundle
    from fpgac.driver import compile_file, optimize
    from fpgac.runtime import finish_bundle

    out = tmp_path / "imaging"
    write_bundle(optimize(compile_file(EXAMPLES / "imaging.py")), out, target="ice40",
                 clock_mhz=48.0)
    meta = _meta(read_manifest(out))
    # As an older fpgac wrote it: the module's full path, part of the design hash.
    doc = json.loads((out / "ir.json").read_text())
    doc["file"] = str(EXAMPLES / "imaging.py")
    (out / "ir.json").write_text(json.dumps(doc, indent=1) + "\n")
    finish_bundle(out, meta)
    build_bundle(out, "icebreaker", virtual_only=True)
    assert json.loads((out / "ir.json").read_text())["file"] == "imaging.py"


def test_a_clock_the_board_cannot_make_is_refused_before_the_bundle_is_written(tmp_path):
    out = tmp_path / "lookup"
    with pytest.raises(ValueError, match="16 to 275 MHz"):
        build_bundle(EXAMPLES / "lookup.py", "icebreaker", clock_mhz=5, out=out)
    assert not out.exists()
