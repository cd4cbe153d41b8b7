"""JSON lines through a route: one answer per line, in order, refusals isolated."""

from __future__ import annotations

import json

from rt_helpers import model

from fpgac.ir import ArrayTy, BoolTy, Graph, IntTy, RecordTy
from fpgac.runtime import run_jsonl

PT = RecordTy("Pt", (("x", IntTy(8, True)), ("ok", BoolTy())))


def _route():
    """``f(v: u8, p: Pt, data: Array[u8, 2]) -> Pt``: x = v + p.x + data[1], ok = p.ok."""
    g = Graph("f")
    v = g.add("param", path="v", width=8, signed=False)
    x = g.add("param", path="p.x", width=8, signed=True)
    ok = g.add("param", path="p.ok", width=1, signed=False)
    g.add("param", path="data[0]", width=8, signed=False)
    d1 = g.add("param", path="data[1]", width=8, signed=False)
    total = g.add("add", (g.add("add", (v, x)), d1))
    g.add("output", (g.add("wrap", (total,), width=8, signed=True),), path="return.x")
    g.add("output", (ok,), path="return.ok")
    return model(g, [("v", IntTy(8)), ("p", PT), ("data", ArrayTy(IntTy(8), 2))], PT,
                 records={"Pt": PT})


ROUTE = _route()


def _run(lines, chunk=4096):
    out: list[str] = []
    refused = run_jsonl(ROUTE, lines, out.append, chunk=chunk)
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in out)
    return refused, [json.loads(line) for line in out]


def test_good_lines_are_answered_in_order():
    lines = [json.dumps({"v": v, "p": {"x": -3, "ok": v % 2 == 0}, "data": [0, 1]}) + "\n"
             for v in range(10)]
    refused, answers = _run(lines, chunk=3)
    assert refused == 0
    assert answers == [{"x": v - 2, "ok": int(v % 2 == 0)} for v in range(10)]


def test_bad_lines_are_refused_with_their_line_number_and_the_rest_answered():
    good = '{"v": 1, "p": {"x": 2, "ok": true}, "data": [3, 4]}\n'
    lines = [
        good,
        '{"v": 300, "p": {"x": 2, "ok": 1}, "data": [3, 4]}\n',
        "not json\n",
        "\n",
        "   \n",
        "[1, 2]\n",
        '{"v": 1, "p": {"x": 2, "ok": 1}}\n',
        '{"v": 1, "p": {"x": 2, "ok": 1}, "data": [3, 4], "w": 0}\n',
        '{"v": 1.5, "p": {"x": 2, "ok": 1}, "data": [3, 4]}\n',
        '{"v": "1", "p": {"x": 2, "ok": 1}, "data": [3, 4]}\n',
        '{"v": true, "p": {"x": 2, "ok": 1}, "data": [3, 4]}\n',
        '{"v": 1, "p": {"x": 2, "ok": 2}, "data": [3, 4]}\n',
        '{"v": 1, "p": {"x": 2, "ok": 1}, "data": [3, 4, 5]}\n',
        '{"v": 1, "p": {"x": 2, "ok": 1}, "data": [3, -4]}\n',
        '{"v": 1, "p": {"x": 2}, "data": [3, 4]}\n',
        "7\n",
        good,
    ]
    refused, answers = _run(lines, chunk=5)
    assert answers == [
        {"x": 7, "ok": 1},
        {"error": "`v` must fit u8 (0 to 255), not 300", "line": 2},
        {"error": "not valid JSON: Expecting value (column 1)", "line": 3},
        {"error": "empty line", "line": 4},
        {"error": "empty line", "line": 5},
        {"error": "a request must be a JSON object keyed by parameter name, not an array",
         "line": 6},
        {"error": "`data` is missing", "line": 7},
        {"error": "`w` is not a parameter of `f` (its parameters: `v`, `p`, `data`)",
         "line": 8},
        {"error": "`v` must be an integer, not the float 1.5", "line": 9},
        {"error": "`v` must be an integer, not the string '1'", "line": 10},
        {"error": "`v` must be an integer, not the bool True (true and false are accepted "
                  "only for bool and u1)", "line": 11},
        {"error": "`p.ok` must be a bool (true, false, 0 or 1), not 2", "line": 12},
        {"error": "`data` must have 2 elements, not 3", "line": 13},
        {"error": "`data[1]` must fit u8 (0 to 255), not -4", "line": 14},
        {"error": "`p.ok` is missing", "line": 15},
        {"error": "a request must be a JSON object keyed by parameter name, not a number",
         "line": 16},
        {"x": 7, "ok": 1},
    ]
    assert refused == 15


def test_the_last_line_may_lack_a_newline_and_huge_integers_stay_exact():
    lines = ['{"v": 1, "p": {"x": 2, "ok": 0}, "data": [3, 4]}',
             '{"v": ' + "9" * 30 + ', "p": {"x": 2, "ok": 0}, "data": [3, 4]}']
    refused, answers = _run(lines)
    assert refused == 1
    assert answers == [{"x": 7, "ok": 0},
                       {"error": "`v` must fit u8 (0 to 255), not " + "9" * 30, "line": 2}]


def test_scalar_responses_are_plain_numbers():
    g = Graph("g")
    a = g.add("param", path="a", width=70, signed=True)
    g.add("output", (g.add("neg", (a,)),), path="return")
    route = model(g, [("a", IntTy(70, True))], IntTy(71, True))
    out: list[str] = []
    assert run_jsonl(route, ['{"a": -590295810358705651712}', '{"a": 5}'], out.append) == 0
    assert out == ["590295810358705651712\n", "-5\n"]


def test_no_lines_no_answers():
    assert _run([]) == (0, [])
