"""The IR core: types, op table, graph facade, verifier, printer, JSON form, interpreter."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgac.ir import (
    OPS,
    Graph,
    IntTy,
    Program,
    Route,
    VerifyError,
    format_graph,
    format_program,
    interpret,
    narrowest,
    program_from_json,
    program_to_json,
    value_ranges,
    verify,
    verify_route,
)
from fpgac.ir.types import ArrayTy, BoolTy, RecordTy


@pytest.mark.parametrize("lo, hi, text", [
    (0, 0, "u1"), (0, 1, "u1"), (5, 5, "u3"), (0, 255, "u8"), (-1, -1, "i1"), (-1, 0, "i1"),
    (-2, -2, "i2"), (-128, 127, "i8"), (-128, -128, "i8"), (-129, 0, "i9"), (-255, 255, "i9"),
    (0, 65025, "u16"),
])
def test_narrowest(lo, hi, text):
    assert str(narrowest(lo, hi)) == text


@given(st.integers(-2**70, 2**70), st.integers(0, 2**70))
def test_narrowest_holds_and_is_minimal(lo, span):
    hi = lo + span
    ty = narrowest(lo, hi)
    assert ty.holds(lo, hi)
    if ty.width > 1:
        smaller = IntTy(ty.width - 1, ty.signed)
        assert not smaller.holds(lo, hi)


@given(st.integers(-2**80, 2**80), st.integers(1, 70), st.booleans())
def test_wrap_is_modular(x, width, signed):
    ty = IntTy(width, signed)
    w = ty.wrap(x)
    assert ty.min <= w <= ty.max and (w - x) % (1 << width) == 0


def test_repeated_operand_is_kept():
    g = Graph("t")
    x = g.add("param", path="x", width=8, signed=False)
    s = g.add("add", (x, x))
    g.add("output", (s,), path="return")
    assert g[s].operands == (x, x)
    assert interpret(g, {"x": 200}) == {"return": 400}
    assert str(g[s].type) == "u9"


def test_printer_is_deterministic_text():
    g = Graph("t")
    x = g.add("param", path="x", width=8, signed=True)
    c = g.const(3)
    m = g.add("mul", (x, c))
    w = g.add("wrap", (m,), width=8, signed=False)
    g.add("output", (w,), path="return")
    assert format_graph(g) == (
        "v0: i8 = param(path=x, signed=true, width=8)\n"
        "v1: u2 = const(value=3)\n"
        "v2: i10 = mul(v0, v1)\n"
        "v3: u8 = wrap(v2, signed=false, width=8)\n"
        "v4: u8 = output(v3, path=return)")


def test_verifier_rejects_a_type_that_cannot_hold_its_range():
    g = Graph("t")
    x = g.add("param", path="x", width=8, signed=False)
    g.add("add", (x, x), type=IntTy(8))
    with pytest.raises(VerifyError, match=r"type u8 cannot hold \[0, 510\]"):
        verify(g)


def test_verifier_rejects_a_possibly_negative_shift_amount():
    g = Graph("t")
    x = g.add("param", path="x", width=8, signed=False)
    n = g.add("param", path="n", width=4, signed=True)
    g.add("shl", (x, g.add("wrap", (n,), width=3, signed=False)))
    verify(g)
    bad = g.add("shr", (x, x))
    g.replace(bad, operands=(x, n))
    with pytest.raises(VerifyError, match="shift amount can be negative"):
        verify(g)


def test_every_op_documents_its_arity_and_range_rule():
    for name, info in OPS.items():
        assert info.name == name
        assert info.range is not None


def _program() -> Program:
    rec = RecordTy("P", (("a", IntTy(8)), ("flag", BoolTy()), ("xs", ArrayTy(IntTy(4, True), 2))))
    g = Graph("f")
    ids = {path: g.add("param", path=path, width=w, signed=s)
           for path, w, s in [("p.a", 8, False), ("p.flag", 1, False), ("p.xs[0]", 4, True),
                              ("p.xs[1]", 4, True)]}
    r = g.add("rom", (ids["p.a"],), values=[1, 2, 3])
    sel = g.add("select", (ids["p.flag"], ids["p.xs[0]"], ids["p.xs[1]"]))
    g.add("output", (g.add("add", (r, sel)),), path="return")
    return Program("demo", "demo.py", [Route("/f", "f", [("p", rec)], IntTy(8, True), g)],
                   {"P": rec})


def test_json_round_trip_is_exact():
    program = _program()
    verify_route(program.routes[0])
    doc = json.loads(json.dumps(program_to_json(program)))
    back = program_from_json(doc)
    assert format_program(back) == format_program(program)
    assert back.routes[0].params == program.routes[0].params
    assert program_to_json(back) == doc


def test_json_refuses_other_versions():
    doc = program_to_json(_program())
    with pytest.raises(ValueError, match="IR version 99 is not supported"):
        program_from_json({**doc, "version": 99})
    with pytest.raises(ValueError, match="not an fpgac IR document"):
        program_from_json({"format": "other"})


def test_value_ranges_are_tighter_than_types():
    g = Graph("t")
    x = g.add("param", path="x", width=8, signed=False)
    one = g.const(1)
    up = g.add("add", (x, one))
    down = g.add("sub", (up, one))
    assert value_ranges(g)[down] == (-1, 255) or value_ranges(g)[down] == (0, 255)
    assert str(g[down].type) == "i10"
