"""Every op, on edge values: the IR interpreter, the scalar model and the batch model agree.

Also checks that the runtime's copy of the op rules covers exactly the op
table of the compiler and agrees with it on values and ranges.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rt_helpers import binary_graph, check_agree, edge_values, model, unary_graph

from fpgac.ir import OPS, ArrayTy, Graph, IntTy, RecordTy
from fpgac.runtime._codegen import BATCH_TEMPLATES, SCALAR_TEMPLATES
from fpgac.runtime._semantics import OP_SPECS

u = lambda w: IntTy(w, False)  # noqa: E731
i = lambda w: IntTy(w, True)  # noqa: E731


# --- the op table ------------------------------------------------------------------------------


def test_templates_cover_exactly_the_op_table():
    assert set(SCALAR_TEMPLATES) == set(OPS)
    assert set(BATCH_TEMPLATES) == set(OPS)
    assert set(OP_SPECS) == set(OPS)


def test_runtime_op_specs_match_arity_and_attributes():
    for name, info in OPS.items():
        spec = OP_SPECS[name]
        assert (spec.arity, spec.min_arity) == (info.arity, info.min_arity), name
        assert set(spec.attrs) == set(info.attrs), name


ranges = st.tuples(st.integers(-(1 << 70), 1 << 70), st.integers(0, 1 << 70)).map(
    lambda t: (t[0], t[0] + t[1])) | st.tuples(st.integers(-20, 20), st.integers(0, 20)).map(
    lambda t: (t[0], t[0] + t[1]))
amounts = st.tuples(st.integers(0, 80), st.integers(0, 80)).map(lambda t: (min(t), max(t)))


@st.composite
def op_case(draw):
    """Draw an op with attributes and operand ranges."""
    name = draw(st.sampled_from(sorted(set(OPS) - {"param"})))
    info = OPS[name]
    arity = info.arity if info.arity is not None else draw(st.integers(info.min_arity, 5))
    attrs = {}
    if "width" in info.attrs:
        attrs["width"] = draw(st.integers(1, 130))
    if "signed" in info.attrs:
        attrs["signed"] = draw(st.booleans())
    if name == "const":
        attrs["value"] = draw(st.integers(-(1 << 80), 1 << 80))
    if name == "output":
        attrs["path"] = "return"
    if name == "rom":
        attrs["values"] = tuple(draw(st.lists(st.integers(-(1 << 70), 1 << 70), max_size=8)))
    if name == "concat":
        attrs["widths"] = tuple(draw(st.integers(1, 70)) for _ in range(arity))
    operands = [draw(ranges) for _ in range(arity)]
    if name in ("shl", "shr", "rotl", "rotr"):
        operands[1] = draw(amounts)
    if name == "mux":
        operands[0] = draw(st.sampled_from([(0, 0), (0, 1), (1, 1)]))
    return name, attrs, operands


@settings(max_examples=500, deadline=None)
@given(op_case(), st.data())
def test_runtime_semantics_match_the_op_table(case, data):
    name, attrs, operand_ranges = case
    assert OP_SPECS[name].range(attrs, *operand_ranges) == OPS[name].range(attrs, *operand_ranges)
    values = [data.draw(st.integers(lo, hi)) for lo, hi in operand_ranges]
    assert OP_SPECS[name].evaluate(attrs, *values) == OPS[name].evaluate(attrs, *values)


# --- binary ops on mixed types -----------------------------------------------------------------

BINARY = ["add", "sub", "mul", "floordiv", "mod", "and", "or", "xor",
          "eq", "ne", "lt", "le", "gt", "ge"]
TYPE_PAIRS = [(u(8), u(8)), (i(8), u(8)), (u(3), i(5)), (i(8), i(8)), (u(1), i(1)),
              (i(64), i(64)), (u(64), i(8)), (i(63), u(63)), (u(32), u(32)), (i(100), u(70)),
              (i(128), i(128)), (u(1), u(64))]


def _sample(values: list[int], limit: int = 12) -> list[int]:
    """Keep the ends and an even spread of the middle."""
    if len(values) <= limit:
        return values
    step = len(values) / (limit - 2)
    return sorted({values[0], values[-1], *(values[int(k * step)] for k in range(limit - 2))})


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("a_ty,b_ty", TYPE_PAIRS, ids=lambda t: str(t))
def test_binary_op_on_edge_values(op, a_ty, b_ty):
    g, params, returns = binary_graph(op, a_ty, b_ty)
    cases = [{"a": a, "b": b} for a, b in itertools.product(
        _sample(edge_values(a_ty)), _sample(edge_values(b_ty)))]
    check_agree(g, model(g, params, returns), cases)


@pytest.mark.parametrize("op", ["floordiv", "mod"])
@pytest.mark.parametrize("divisor", [0, 1, -1, 3, -3, 7, 1 << 70])
@pytest.mark.parametrize("a_ty", [i(8), u(64), i(64), i(90)], ids=str)
def test_division_by_constants(op, divisor, a_ty):
    g = Graph("f")
    a = g.add("param", path="a", width=a_ty.width, signed=a_ty.signed)
    r = g.add(op, (a, g.const(divisor)))
    g.add("output", (r,), path="return")
    cases = [{"a": v} for v in edge_values(a_ty)]
    check_agree(g, model(g, [("a", a_ty)], g[r].type), cases)


def test_division_by_zero_follows_the_spec():
    g, params, returns = binary_graph("floordiv", i(8), i(8))
    assert model(g, params, returns).batch([(-7, 0), (7, 0), (-7, 2)]) == [0, 0, -4]
    g, params, returns = binary_graph("mod", i(8), i(8))
    assert model(g, params, returns).batch([(-7, 0), (7, 0), (-7, 2), (7, -2)]) == [-7, 7, 1, -1]
    assert model(g, params, returns)(-7, 0) == -7


# --- unary ops ---------------------------------------------------------------------------------

IN_TYPES = [u(8), i(8), u(1), i(64), u(64), i(63), u(100), i(100)]


@pytest.mark.parametrize("op", ["neg", "not"])
@pytest.mark.parametrize("in_ty", IN_TYPES, ids=str)
def test_neg_and_not(op, in_ty):
    g = Graph("f")
    a = g.add("param", path="a", width=in_ty.width, signed=in_ty.signed)
    r = g.add(op, (a,))
    g.add("output", (r,), path="return")
    check_agree(g, model(g, [("a", in_ty)], g[r].type), [{"a": v} for v in edge_values(in_ty)])


@pytest.mark.parametrize("op", ["popcount", "clz", "ctz", "reverse"])
@pytest.mark.parametrize("width", [1, 5, 8, 32, 52, 53, 54, 63, 64, 65, 100])
@pytest.mark.parametrize("in_ty", IN_TYPES, ids=str)
def test_bit_intrinsics(op, width, in_ty):
    g, params, returns = unary_graph(op, in_ty, width=width)
    check_agree(g, model(g, params, returns), [{"a": v} for v in edge_values(in_ty)])


# --- shifts and rotates ------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["shl", "shr"])
@pytest.mark.parametrize("a_ty", [u(8), i(8), i(64), u(64), i(100)], ids=str)
@pytest.mark.parametrize("amount_ty", [u(3), u(6), u(7), u(8)], ids=str)
def test_shift_by_a_variable(op, a_ty, amount_ty):
    if op == "shl" and a_ty.width + amount_ty.max > 1000:
        amount_ty = u(6)
    g, params, returns = binary_graph(op, a_ty, amount_ty)
    cases = [{"a": a, "b": b} for a, b in itertools.product(
        _sample(edge_values(a_ty), 8), _sample(edge_values(amount_ty), 8))]
    check_agree(g, model(g, params, returns), cases)


@pytest.mark.parametrize("op", ["shl", "shr"])
@pytest.mark.parametrize("amount", [0, 1, 63, 64, 65, 200])
def test_shift_by_a_constant(op, amount):
    g = Graph("f")
    a = g.add("param", path="a", width=64, signed=True)
    r = g.add(op, (a, g.const(amount)))
    g.add("output", (r,), path="return")
    check_agree(g, model(g, [("a", i(64))], g[r].type), [{"a": v} for v in edge_values(i(64))])


def test_right_shift_by_a_wide_amount_stays_int64():
    # a >> b fits int64 for any b, so the batch path runs on int64 and must clamp the amount.
    g = Graph("f")
    a = g.add("param", path="a", width=64, signed=True)
    b = g.add("param", path="b", width=10, signed=False)
    r = g.add("shr", (a, b))
    g.add("output", (r,), path="return")
    route = model(g, [("a", i(64)), ("b", u(10))], g[r].type)
    assert "np.minimum" in route.batch_source and "object" not in route.batch_source
    check_agree(g, route, [{"a": a, "b": b} for a in (-(1 << 63), -5, 0, 7, (1 << 63) - 1)
                           for b in (0, 1, 62, 63, 64, 100, 1023)])


@pytest.mark.parametrize("op", ["rotl", "rotr"])
@pytest.mark.parametrize("width", [1, 3, 8, 32, 63, 64, 65, 100])
@pytest.mark.parametrize("a_ty", [u(8), i(8), u(64), i(64), u(100)], ids=str)
def test_rotates(op, width, a_ty):
    for n_ty in (u(3), u(7), u(70)):
        g, params, returns = binary_graph(op, a_ty, n_ty, width=width)
        cases = [{"a": a, "b": b} for a, b in itertools.product(
            _sample(edge_values(a_ty), 6), _sample(edge_values(n_ty), 6))]
        check_agree(g, model(g, params, returns), cases)


@pytest.mark.parametrize("op", ["rotl", "rotr"])
@pytest.mark.parametrize("width", [5, 64, 80])
def test_rotates_with_a_constant_operand(op, width):
    g = Graph("f")
    n = g.add("param", path="n", width=7, signed=False)
    a = g.add("param", path="a", width=16, signed=True)
    r1 = g.add(op, (g.const(0b10011), n), width=width)
    r2 = g.add(op, (a, g.const(77)), width=width)
    g.add("output", (r1,), path="return[0]")
    g.add("output", (r2,), path="return[1]")
    route = model(g, [("n", u(7)), ("a", i(16))], ArrayTy(u(width), 2))
    check_agree(g, route, [{"n": v, "a": w} for v in (0, 1, 5, 64, 127) for w in (-1, 3)])


# --- mux, wrap, rom, select, concat ------------------------------------------------------------


@pytest.mark.parametrize("f_ty,t_ty", [(u(8), i(8)), (i(64), u(8)), (u(64), i(64)),
                                      (i(100), u(1))], ids=str)
def test_mux(f_ty, t_ty):
    g = Graph("f")
    s = g.add("param", path="s", width=1, signed=False)
    f = g.add("param", path="f", width=f_ty.width, signed=f_ty.signed)
    t = g.add("param", path="t", width=t_ty.width, signed=t_ty.signed)
    r = g.add("mux", (s, f, t))
    g.add("output", (r,), path="return")
    route = model(g, [("s", u(1)), ("f", f_ty), ("t", t_ty)], g[r].type)
    cases = [{"s": s, "f": f, "t": t} for s in (0, 1) for f in (f_ty.min, f_ty.max)
             for t in (t_ty.min, t_ty.max, 0)]
    check_agree(g, route, cases)


@pytest.mark.parametrize("width", [1, 2, 8, 32, 62, 63, 64, 65, 128])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("in_ty", [u(8), i(8), i(64), u(64), i(130)], ids=str)
def test_wrap(width, signed, in_ty):
    out_ty = IntTy(width, signed)
    g, params, returns = unary_graph("wrap", in_ty, out_ty, width=width, signed=signed)
    check_agree(g, model(g, params, returns), [{"a": v} for v in edge_values(in_ty)])


@pytest.mark.parametrize("values", [[], [5], [3, -1, 7, 0], [1 << 70, -(1 << 66), 9],
                                    list(range(-10, 300, 7))], ids=len)
@pytest.mark.parametrize("index_ty", [u(1), u(3), i(4), u(9), i(70)], ids=str)
def test_rom(values, index_ty):
    g = Graph("f")
    x = g.add("param", path="a", width=index_ty.width, signed=index_ty.signed)
    r = g.add("rom", (x,), values=values)
    g.add("output", (r,), path="return")
    cases = [{"a": v} for v in edge_values(index_ty) + list(range(-3, 8))
             if index_ty.min <= v <= index_ty.max]
    check_agree(g, model(g, [("a", index_ty)], g[r].type), cases)


@pytest.mark.parametrize("count", [1, 2, 8, 9, 20])
@pytest.mark.parametrize("index_ty", [u(1), u(2), i(4), u(5), i(65)], ids=str)
def test_select(count, index_ty):
    g = Graph("f")
    x = g.add("param", path="i", width=index_ty.width, signed=index_ty.signed)
    a = g.add("param", path="a", width=8, signed=True)
    b = g.add("param", path="b", width=70, signed=False)
    elems = [[a, b, g.const(5), g.const(-(1 << 66)), g.add("neg", (a,))][k % 5]
             for k in range(count)]
    r = g.add("select", (x, *elems))
    g.add("output", (r,), path="return")
    route = model(g, [("i", index_ty), ("a", i(8)), ("b", u(70))], g[r].type)
    cases = [{"i": v, "a": -3, "b": (1 << 69) + 1} for v in range(-3, count + 3)
             if index_ty.min <= v <= index_ty.max]
    cases += [{"i": v, "a": 127, "b": 0} for v in edge_values(index_ty)]
    check_agree(g, route, cases)


def test_select_with_an_offset_index():
    g = Graph("f")
    x = g.add("param", path="i", width=4, signed=False)
    elems = [g.const(k * k - 50) for k in range(20)]
    r = g.add("select", (g.add("add", (x, g.const(3))), *elems))
    g.add("output", (r,), path="return")
    route = model(g, [("i", u(4))], g[r].type)
    check_agree(g, route, [{"i": v} for v in range(16)])


def test_select_of_small_elements_stays_int64():
    g = Graph("f")
    x = g.add("param", path="i", width=2, signed=False)
    a = g.add("param", path="a", width=8, signed=False)
    r = g.add("select", (g.add("add", (x, g.const(1))), a, g.const(7), g.const(9)))
    g.add("output", (r,), path="return")
    route = model(g, [("i", u(2)), ("a", u(8))], g[r].type)
    check_agree(g, route, [{"i": v, "a": 200} for v in range(4)])
    assert "astype(object)" not in route.batch_source


@pytest.mark.parametrize("widths", [[8, 8], [1, 62], [31, 32], [32, 32], [1, 64], [64, 64, 1],
                                    [3, 5, 7]], ids=str)
def test_concat(widths):
    g = Graph("f")
    params = []
    operands = []
    for k, w in enumerate(widths):
        ty = IntTy(max(1, w - 1 + k % 3), k % 2 == 1)
        params.append((f"a{k}", ty))
        operands.append(g.add("param", path=f"a{k}", width=ty.width, signed=ty.signed))
    operands.insert(1, g.const(-5))  # a constant in the middle, a negative one
    r = g.add("concat", operands, widths=[widths[0], 3, *widths[1:]])
    g.add("output", (r,), path="return")
    cases = [{name: ty.min if k % 2 else ty.max for k, (name, ty) in enumerate(params)},
             {name: ty.max if k % 2 else ty.min for k, (name, ty) in enumerate(params)},
             {name: (-1 if ty.signed else 1) for name, ty in params}]
    check_agree(g, model(g, params, g[r].type), cases)


# --- folding, aliases and odd shapes -------------------------------------------------------------


def test_folded_and_aliased_nodes():
    g = Graph("f")
    a = g.add("param", path="a", width=8, signed=True)
    one = g.const(1)
    outs = [
        g.add("mux", (one, g.const(3), a)),                    # constant selector: a
        g.add("mux", (g.const(0), g.const(3), a)),             # constant selector: 3
        g.add("select", (g.const(1), g.const(9), a)),          # constant index: a
        g.add("select", (g.const(5), g.const(9), a)),          # constant index outside: 0
        g.add("mod", (a, g.const(0))),                         # a % 0 == a
        g.add("floordiv", (a, g.const(0))),                    # a // 0 == 0
        g.add("add", (g.const(2), g.const(40))),               # constants fold
        g.add("wrap", (a,), width=16, signed=True),            # the wrap changes nothing
        a,                                                     # a param straight out
    ]
    for k, node in enumerate(outs):
        g.add("output", (g.add("wrap", (node,), width=16, signed=True),), path=f"return[{k}]")
    route = model(g, [("a", i(8))], ArrayTy(i(16), len(outs)))
    check_agree(g, route, [{"a": v} for v in (-128, -1, 0, 5, 127)])
    assert route(a=-5) == [-5, 3, -5, 0, -5, 0, 42, -5, -5]


def test_route_without_parameters_and_wide_constant_output():
    g = Graph("f")
    g.add("output", (g.const(1 << 100),), path="return.big")
    g.add("output", (g.const(-3),), path="return.small")
    rec = RecordTy("Pair", (("big", u(101)), ("small", i(3))))
    route = model(g, [], rec, records={"Pair": rec})
    assert route() == {"big": 1 << 100, "small": -3}
    assert route.batch([(), {}]) == [{"big": 1 << 100, "small": -3}] * 2
    columns = route.run_columns({})
    assert columns["return.big"].dtype == object and len(columns["return.big"]) == 0


def test_dead_nodes_are_not_computed():
    g = Graph("f")
    a = g.add("param", path="a", width=8, signed=False)
    g.add("mul", (a, a))  # nothing uses it
    g.add("output", (a,), path="return")
    route = model(g, [("a", u(8))], u(8))
    assert "*" not in route.scalar_source and "*" not in route.batch_source
    assert route(7) == 7


# --- wrapped arithmetic modulo 2**64 -----------------------------------------------------------


def _fmix64() -> tuple[Graph, int]:
    """MurmurHash3's 64-bit finalizer, with the wraps a handler's `u64` locals insert."""
    g = Graph("fmix64")
    k = g.add("param", path="k", width=64, signed=False)

    def wrap64(node):
        return g.add("wrap", (node,), width=64, signed=False)

    for c in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        k = g.add("xor", (k, g.add("shr", (k, g.const(33)))))
        k = wrap64(g.add("mul", (k, g.const(c))))
    k = g.add("xor", (k, g.add("shr", (k, g.const(33)))))
    g.add("output", (k,), path="return")
    return g, k


def test_wrapped_64_bit_hash_runs_on_fixed_width_columns():
    g, _ = _fmix64()
    route = model(g, [("k", u(64))], u(64))
    assert "object" not in route.batch_source
    values = edge_values(u(64)) + [0x0123456789ABCDEF * k % (1 << 64) for k in range(50)]
    check_agree(g, route, [{"k": v} for v in values])
    assert route.run_columns({"k": [1]})["return"].dtype == np.uint64


def test_a_wide_value_with_a_user_that_needs_all_of_it_stays_exact():
    g = Graph("f")
    a = g.add("param", path="a", width=64, signed=False)
    b = g.add("param", path="b", width=40, signed=True)
    product = g.add("mul", (g.add("add", (a, b)), a))        # up to 128 bits
    low = g.add("wrap", (product,), width=32, signed=True)    # needs the low bits only
    big = g.add("gt", (product, g.const(1 << 100)))           # needs the exact value
    g.add("output", (low,), path="return[0]")
    g.add("output", (big,), path="return[1]")
    route = model(g, [("a", u(64)), ("b", i(40))], ArrayTy(i(32), 2))
    cases = [{"a": x, "b": y} for x in _sample(edge_values(u(64)), 8)
             for y in _sample(edge_values(i(40)), 6)]
    check_agree(g, route, cases)


def test_low_bits_through_shifts_muxes_selects_concats_and_intrinsics():
    g = Graph("f")
    a = g.add("param", path="a", width=64, signed=True)
    n = g.add("param", path="n", width=7, signed=False)
    s = g.add("param", path="s", width=2, signed=False)
    wide = g.add("mul", (a, g.add("add", (a, g.const(3)))))                # 127 bits
    shifted = g.add("shl", (wide, n))                                      # needs n >= 64 care
    shifted_c = g.add("shl", (wide, g.const(70)))                          # 0 modulo 2**64
    picked = g.add("mux", (g.add("lt", (a, g.const(0))), shifted, wide))
    chosen = g.add("select", (s, wide, shifted, g.add("not", (wide,))))
    outs = [
        g.add("wrap", (shifted,), width=64, signed=True),
        g.add("wrap", (shifted_c,), width=8, signed=False),
        g.add("wrap", (picked,), width=16, signed=True),
        g.add("wrap", (chosen,), width=64, signed=False),
        g.add("concat", (wide, g.const(1), picked), widths=[5, 1, 64]),
        g.add("concat", (wide, picked), widths=[30, 30]),
        g.add("popcount", (wide,), width=64),
        g.add("ctz", (chosen,), width=50),
        g.add("rotl", (wide, n), width=64),
    ]
    for k, node in enumerate(outs):
        g.add("output", (g.add("wrap", (node,), width=80, signed=False),), path=f"return[{k}]")
    route = model(g, [("a", i(64)), ("n", u(7)), ("s", u(2))], ArrayTy(u(80), len(outs)))
    assert "np.uint64" in route.batch_source
    cases = [{"a": x, "n": y, "s": z} for x in _sample(edge_values(i(64)), 8)
             for y in (0, 1, 63, 64, 65, 127) for z in (0, 1, 2, 3)]
    check_agree(g, route, cases)


def test_left_shift_of_minus_one_by_63_fits_int64():
    g = Graph("f")
    a = g.add("param", path="a", width=1, signed=True)
    b = g.add("param", path="b", width=6, signed=False)
    r = g.add("shl", (a, b))
    g.add("output", (r,), path="return")
    route = model(g, [("a", i(1)), ("b", u(6))], g[r].type)
    check_agree(g, route, [{"a": x, "b": y} for x in (-1, 0) for y in (0, 1, 62, 63)])
