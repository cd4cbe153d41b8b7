"""The command line around a board: a virtual-only build, `fpgac status`, `fpgac run --device`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fpgac.cli import main
from fpgac.runtime import read_manifest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def fpgac(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


@pytest.fixture(scope="module")
def imaging(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("virtual") / "imaging"
    result = fpgac("build", EXAMPLES / "imaging.py", "-o", out, "--virtual-only")
    assert result.exit_code == 0, result.output
    assert "--device virtual" in result.output
    return out


def test_a_virtual_only_build_writes_the_board_and_no_bitstream(imaging):
    files = read_manifest(imaging)["files"]
    assert {"virtual/board.cc", "virtual/board.json"} <= set(files)
    assert not any(name.startswith("board/") for name in files)
    board = json.loads((imaging / "virtual" / "board.json").read_text())
    assert board["clk_hz"] == 48_000_000 and board["baud"] == 3_000_000


def test_status_says_the_board_carries_the_bundle(imaging):
    result = fpgac("status", imaging, "--device", "virtual")
    assert result.exit_code == 0, result.output
    assert "yes" in result.output and "3,000,000 baud" in result.output
    assert read_manifest(imaging)["files"]["ir.json"][:16] in result.output


def test_status_needs_a_board(imaging, tmp_path):
    assert fpgac("status", imaging, "--device", "software").exit_code == 2
    plain = tmp_path / "plain"
    assert fpgac("compile", EXAMPLES / "imaging.py", "-o", plain).exit_code == 0
    result = fpgac("status", plain, "--device", "virtual")
    assert result.exit_code == 1 and "fpgac build" in result.output


def test_run_on_the_virtual_board_answers_like_the_software_model(imaging):
    lines = (EXAMPLES / "requests" / "luma.jsonl").read_text()
    on_board = fpgac("run", imaging, "--route", "/luma", "--device", "virtual", input=lines)
    in_software = fpgac("run", EXAMPLES / "imaging.py", "--route", "/luma", input=lines)
    # Line 4 is refused by both (a value out of range), every other line answered alike.
    assert on_board.exit_code == in_software.exit_code == 1
    assert on_board.stdout == in_software.stdout
    assert len(on_board.stdout.splitlines()) == len(lines.splitlines())
