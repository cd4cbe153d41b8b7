"""The `fpgac` command line: check, ir and run, as a user calls them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fpgac.cli import main

GOOD = '''from fpgac import App, Record, u8, u16
app = App("demo")

class Pair(Record):
    a: u8
    b: u8

@app.post("/sum")
def total(p: Pair) -> u16:
    """Add the two bytes."""
    return p.a + p.b
'''

BAD = '''from fpgac import App, u8
app = App("demo")

@app.post("/f")
def f(x: u8) -> u8:
    while x:
        x = x - 1
    y = 1.5
    return x
'''


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "demo.py"
    path.write_text(GOOD)
    return path


def invoke(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def test_check_ok_prints_a_table_of_routes(good):
    result = invoke("check", good)
    assert result.exit_code == 0, result.output
    assert "/sum" in result.output and "total" in result.output
    assert "no errors" in result.output


def test_check_reports_every_error_and_exits_1(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text(BAD)
    result = invoke("check", path)
    assert result.exit_code == 1
    out = result.output
    assert f"{path}:6:5: error: `while` loops are not allowed" in out
    assert f"{path}:8:9: error: floating-point numbers like `1.5` are not allowed" in out
    assert out.rstrip().endswith("2 errors")
    assert "Traceback" not in out


def test_ir_prints_optimized_and_unoptimized(good):
    opt = invoke("ir", good, "--route", "/sum")
    raw = invoke("ir", good, "--route", "total", "--no-opt")
    assert opt.exit_code == 0 and raw.exit_code == 0, opt.output + raw.output
    assert opt.output.startswith("route /sum total(p: Pair) -> u16 {")
    assert "add(" in opt.output and "add(" in raw.output
    assert "demo.py:11:" in raw.output  # spans point into the source


def test_ir_dump_writes_numbered_snapshots(good, tmp_path):
    dump = tmp_path / "dump"
    result = invoke("ir", good, "--dump-ir", dump)
    assert result.exit_code == 0, result.output
    assert all(p.suffix == ".ir" for p in dump.iterdir())


def test_ir_unknown_route(good):
    result = invoke("ir", good, "--route", "/nope")
    assert result.exit_code == 2
    assert "no route '/nope'; the routes are /sum" in result.output


def test_run_answers_every_line_in_order_and_names_bad_fields(good, tmp_path):
    lines = [
        {"p": {"a": 1, "b": 2}},
        {"p": {"a": 300, "b": 2}},
        {"p": {"a": 255, "b": 255}},
        {"p": {"a": 1}},
    ]
    text = "\n".join(json.dumps(x) for x in lines) + "\nnot json\n"
    result = invoke("run", good, "--route", "/sum", input=text)
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 5
    assert out[0] == 3 and out[2] == 510
    assert out[1]["line"] == 2 and "p.a" in out[1]["error"]
    assert out[3]["line"] == 4 and "p.b" in out[3]["error"]
    assert out[4]["line"] == 5


def test_run_from_a_file(good, tmp_path):
    requests = tmp_path / "req.jsonl"
    requests.write_text("".join(json.dumps({"p": {"a": i, "b": i}}) + "\n" for i in range(50)))
    result = invoke("run", good, "--route", "/sum", "--input", requests)
    assert result.exit_code == 0, result.output
    assert [int(x) for x in result.stdout.split()] == [2 * i for i in range(50)]


def test_python_dash_m_and_help():
    out = subprocess.run([sys.executable, "-m", "fpgac", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("check", "ir", "run"):
        assert command in out


def test_compile_writes_a_bundle_with_hdl_and_report(good, tmp_path):
    out = tmp_path / "bundle"
    result = invoke("compile", good, "-o", out, "--target", "ecp5", "--clock-mhz", "150")
    assert result.exit_code == 0, result.output
    for name in ("manifest.json", "ir.json", "report.json", "report.txt", "signature.json",
                 "hdl/demo.py", "hdl/demo.v", "hdl/demo.il", "__init__.py"):
        assert (out / name).is_file(), name
    report = json.loads((out / "report.json").read_text())
    (route,) = report["routes"]
    assert route["path"] == "/sum" and route["initiation_interval"] == 1
    assert route["latency_cycles"] == route["stages"] >= 1
    assert "module demo" in (out / "hdl/demo.v").read_text()
    assert "/sum" in result.output


def test_compile_refuses_clock_and_stages_together(good, tmp_path):
    result = invoke("compile", good, "--clock-mhz", "48", "--stages", "2")
    assert result.exit_code == 2
    assert "either --clock-mhz or --stages" in result.output


def test_run_from_a_bundle_and_refuse_a_tampered_one(good, tmp_path):
    out = tmp_path / "bundle"
    assert invoke("compile", good, "-o", out).exit_code == 0
    ok = invoke("run", out, "--route", "/sum", input='{"p": {"a": 2, "b": 3}}\n')
    assert ok.exit_code == 0 and ok.stdout.strip() == "5"
    ir = out / "ir.json"
    ir.write_text(ir.read_text().replace('"app"', '"app" ', 1))
    bad = invoke("run", out, "--route", "/sum", input='{"p": {"a": 2, "b": 3}}\n')
    assert bad.exit_code == 1
    assert "error: ir.json does not match its hash in manifest.json" in bad.output
    assert "Traceback" not in bad.output


@pytest.mark.parametrize("device", ["software", "sim"])
def test_run_from_a_bundle_answers_records_as_json_objects(tmp_path, device):
    # A loaded bundle's routes answer records as its record classes: lines are JSON objects.
    out = tmp_path / "imaging"
    examples = Path(__file__).resolve().parents[2] / "examples"
    assert invoke("compile", examples / "imaging.py", "-o", out).exit_code == 0
    result = invoke("run", out, "--route", "/ycbcr", "--device", device,
                    input='{"p": {"r": 255, "g": 128, "b": 0}}\n{"p": {"r": 1}}\n')
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert json.loads(lines[0]) == {"y": 146, "cb": 53, "cr": 193}
    assert json.loads(lines[1])["line"] == 2 and "p.g" in json.loads(lines[1])["error"]


def test_run_shows_progress_only_on_a_terminal(good, tmp_path):
    import os
    import pty

    requests = tmp_path / "req.jsonl"
    requests.write_text("".join(json.dumps({"p": {"a": i, "b": 1}}) + "\n" for i in range(20)))
    leader, follower = pty.openpty()
    proc = subprocess.run([sys.executable, "-m", "fpgac", "run", str(good), "--route", "/sum",
                           "--input", str(requests)], stdout=follower, stderr=follower,
                          timeout=120, env={**os.environ, "TERM": "xterm", "COLUMNS": "80"})
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    text = b"".join(chunks).decode()
    assert proc.returncode == 0, text
    import re

    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", text)  # progress redraws between lines
    answers = re.findall(r"^(\d+)\r?$", plain, flags=re.M)
    assert answers == [str(i + 1) for i in range(20)]
    assert "requests answered" in text
    piped = invoke("run", good, "--route", "/sum", "--input", requests)
    assert "requests answered" not in piped.output
