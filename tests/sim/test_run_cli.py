"""``fpgac sim`` as the command calls it: :func:`fpgac.simulate.run_cli` with parsed options."""

import io
import json

import click
import pytest
from sim_helpers import EXAMPLES, example

from fpgac import simulate
from fpgac.ir import program_to_json
from fpgac.runtime import model_from_ir

IMAGING = EXAMPLES / "imaging.py"


def _run(*args, **options):
    out, err = io.StringIO(), io.StringIO()
    status = simulate.run_cli(*args, out=out, err=err, **options)
    return status, out.getvalue().splitlines(), err.getvalue()


def test_random_requests_print_one_response_each():
    status, lines, err = _run(IMAGING, "/ycbcr", random=50, stall=0.3, gap=0.2, seed=4,
                              stages=3)
    assert status == 0
    assert len(lines) == 50
    assert all(set(json.loads(line)) == {"y", "cb", "cr"} for line in lines)
    assert "latency 3 cycles" in err
    assert "mismatches: 0" in err
    assert "requests per cycle" in err


def test_input_lines_are_answered_in_order_and_bad_ones_refused(tmp_path):
    requests = [{"p": {"r": r, "g": 2 * r % 256, "b": 255 - r}} for r in range(0, 256, 17)]
    lines = [json.dumps(r) for r in requests]
    lines.insert(3, '{"p": {"r": 300, "g": 0, "b": 0}}')
    lines.insert(7, "not json")
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n")
    status, out, err = _run(IMAGING, "luma", input_=path, clock_mhz=48)
    assert status == 1
    assert len(out) == len(lines)
    refused = json.loads(out[3])
    assert set(refused) == {"error", "line"} and refused["line"] == 4
    assert "p.r" in refused["error"]
    assert json.loads(out[7])["line"] == 8
    model = model_from_ir(program_to_json(example("imaging.py"))).route("/luma")
    answers = [json.loads(line) for k, line in enumerate(out) if k not in (3, 7)]
    assert answers == [model.handle(r) for r in requests]
    assert "refused: 2 lines" in err and "mismatches: 0" in err


def test_input_from_an_open_file_and_the_amaranth_engine():
    text = io.StringIO('{"p": {"r": 1, "g": 2, "b": 3}}\n{"p": {"r": 9, "g": 9, "b": 9}}\n')
    status, out, err = _run(IMAGING, "/luma", input_=text, engine="amaranth", stages=2)
    assert status == 0
    model = model_from_ir(program_to_json(example("imaging.py"))).route("/luma")
    assert [json.loads(x) for x in out] == [model(p={"r": 1, "g": 2, "b": 3}),
                                           model(p={"r": 9, "g": 9, "b": 9})]
    assert "engine: amaranth" in err


@pytest.mark.parametrize("engine", ["cxxrtl", "amaranth"])
def test_a_waveform_is_written(tmp_path, engine):
    vcd = tmp_path / "luma.vcd"
    status, out, _ = _run(IMAGING, "/luma", random=5, engine=engine, vcd=vcd, stages=2)
    assert status == 0 and len(out) == 5
    text = vcd.read_text()
    assert "$enddefinitions" in text
    assert "i__valid" in text and "o__ready" in text


def test_a_mismatch_fails_the_run(monkeypatch):
    expected = simulate.SimCore.expected

    def off_by_one(self, requests):
        return [{k: v + 1 for k, v in out.items()} for out in expected(self, requests)]

    monkeypatch.setattr(simulate.SimCore, "expected", off_by_one)
    status, out, err = _run(IMAGING, "/luma", random=20, stages=1)
    assert status == 1
    assert len(out) == 20
    assert "mismatches: 20" in err
    assert "`return` is" in err and "the model says" in err


@pytest.mark.parametrize("options, hint", [
    (dict(random=3, stages=2, clock_mhz=48), "--stages"),
    (dict(random=3, stall=1.0), "--stall"),
    (dict(random=3, gap=-0.1), "--gap"),
    (dict(random=3, engine="verilog"), "--engine"),
    (dict(random=3, target="xc7"), "--target"),
    (dict(random=3, input_="x.jsonl"), "--random"),
])
def test_bad_options_are_refused(options, hint):
    with pytest.raises(click.BadParameter) as info:
        _run(IMAGING, "/luma", **options)
    assert info.value.param_hint == hint


def test_an_unknown_route_names_the_routes():
    with pytest.raises(click.BadParameter, match="the routes are /luma, /ycbcr"):
        _run(IMAGING, "/nope", random=1)


def test_unusable_input_and_waveform_paths_are_refused_before_the_run(tmp_path):
    with pytest.raises(click.BadParameter, match="is not a file") as info:
        _run(IMAGING, "/luma", input_=tmp_path / "missing.jsonl", stages=1)
    assert info.value.param_hint == "--input"
    with pytest.raises(click.BadParameter, match="cannot write") as info:
        _run(IMAGING, "/luma", random=2, stages=1, vcd=tmp_path / "no" / "such" / "dir.vcd")
    assert info.value.param_hint == "--vcd"
    # A waveform already there is left as it was when the run does not happen.
    old = tmp_path / "old.vcd"
    old.write_text("an earlier waveform")
    with pytest.raises(click.BadParameter):
        _run(IMAGING, "/luma", input_=tmp_path / "missing.jsonl", stages=1, vcd=old)
    assert old.read_text() == "an earlier waveform"


def test_a_bundle_is_simulated_as_it_was_compiled(tmp_path):
    from fpgac.bundle import write_bundle

    out = tmp_path / "imaging"
    write_bundle(example("imaging.py"), out, target="ecp5", clock_mhz=150.0)
    latency = {r["path"]: r["latency"] for r in json.loads((out / "manifest.json").read_text())
               ["routes"]}
    status, lines, err = _run(out, "/ycbcr", random=30, stall=0.2, seed=1)
    assert status == 0 and len(lines) == 30 and "mismatches: 0" in err
    assert f"latency {latency['/ycbcr']} cycles, scheduled for 150 MHz" in err
    # Options given schedule the bundle's route again.
    status, _, err = _run(out, "/ycbcr", random=5, stages=2)
    assert status == 0 and "latency 2 cycles" in err
    # Forced stages: the bundle's own.
    forced = tmp_path / "forced"
    write_bundle(example("imaging.py"), forced, stages=3)
    status, _, err = _run(forced, "/luma", random=5)
    assert status == 0 and "latency 3 cycles" in err
    assert "with 3 stages (forced" in (forced / "report.txt").read_text()
