"""Every refused construct gets one located diagnostic, tested whole against a golden file.

Regenerate the golden file after an intended change of wording with
``FPGAC_REGEN=1 pytest tests/frontend/test_refusals.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from refusal_cases import CASES, HEADER

from fpgac.frontend import FpgacError, compile_source

GOLDEN = Path(__file__).parent / "golden" / "refusals.txt"
REGEN = bool(os.environ.get("FPGAC_REGEN"))


def _render(body: str) -> str:
    with pytest.raises(FpgacError) as info:
        compile_source(HEADER + body, "t.py")
    return info.value.render()


def _golden() -> dict[str, str]:
    sections: dict[str, str] = {}
    name = None
    for line in GOLDEN.read_text().splitlines(keepends=True):
        if line.startswith("=== "):
            name = line[4:].strip()
            sections[name] = ""
        else:
            sections[name] += line
    return {k: v.rstrip("\n") for k, v in sections.items()}


CASE_NAMES = [name for name, body in CASES.items() if body is not None]


def test_regenerate_golden_if_asked():
    if not REGEN:
        assert GOLDEN.exists()
        return
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text("".join(f"=== {name}\n{_render(CASES[name])}\n" for name in CASE_NAMES))


def test_there_are_at_least_30_refused_constructs():
    assert len(CASE_NAMES) >= 30


@pytest.mark.parametrize("name", CASE_NAMES)
def test_refusal_message(name):
    text = _render(CASES[name])
    assert text == _golden()[name]
    assert text.count(": error: ") == 1, "one construct, one diagnostic"
    assert text.startswith("t.py:")


def test_app_named_after_a_stdlib_module():
    source = 'from fpgac import App, u8\napp = App("json")\n\n@app.post("/f")\n' \
             'def f(x: u8) -> u8:\n    return x\n'
    with pytest.raises(FpgacError) as info:
        compile_source(source, "t.py")
    assert info.value.render() == (
        "t.py:2:11: error: the app name 'json' is the name of a standard-library module; "
        "choose another (it becomes a package name)\n"
        '    2 | app = App("json")\n'
        "      |           ^^^^^^")


def test_every_independent_error_is_reported_once():
    source = HEADER + '''
T = Table(u8, [1, 999])

def helper(x: u8) -> u8:
    return x / 2

@app.post("/f")
def f(x: u8, n: i8) -> u8:
    for i in range(4):
        y = x << n
    z = 2.5
    while x:
        pass
    return helper(x) + q
'''
    with pytest.raises(FpgacError) as info:
        compile_source(source, "t.py")
    messages = [d.message.split(";")[0] for d in sorted(info.value.diagnostics,
                                                         key=lambda d: (d.span.line, d.span.col))]
    assert messages == [
        "table entry 999 does not fit `u8` (0 to 255)",
        "`/` is true division and gives floats",
        "the shift amount `n` has type `i8`, which can be negative",
        "floating-point numbers like `2.5` are not allowed",
        "`while` loops are not allowed: a handler must finish in a fixed number of steps",
        "`q` is not defined",
    ]


@pytest.mark.parametrize("source", [
    "", "x", "def", "from fpgac import App\napp = App('a')\n", "@app.post('/x')\ndef f(",
    "class R(Record):\n  x: u8\n", "app = App(3)", "\t\tfoo",
])
def test_no_traceback_on_broken_modules(source):
    with pytest.raises(FpgacError):
        compile_source(source, "t.py")
