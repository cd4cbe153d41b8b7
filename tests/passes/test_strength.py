"""StrengthReduce: constant multiplications, divisions and remainders, exactly."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pass_graphs import check_preserved, graphs, param_inputs, run_pass

from fpgac.ir import Graph, IntTy, format_graph, interpret, verify
from fpgac.passes import DEFAULT_PIPELINE, PassManager, StrengthReduce
from fpgac.passes.strength import csd_digits, division_magic


def text(g: Graph) -> str:
    return format_graph(g, spans=False)


def unary_route(op: str, ty: IntTy, c: int) -> Graph:
    """Return the graph of ``return x OP c`` for a parameter ``x: ty``."""
    g = Graph("t")
    x = g.add("param", path="x", width=ty.width, signed=ty.signed)
    g.add("output", (g.add(op, (x, g.const(c))),), path="return")
    return g


def ops_of(g: Graph) -> list[str]:
    return [n.op for n in g if n.op not in ("param", "const", "output")]


def assert_exact_for_every_input(before: Graph, after: Graph, ty: IntTy) -> None:
    verify(after)
    for v in range(ty.min, ty.max + 1):
        assert interpret(after, {"x": v}) == interpret(before, {"x": v}), v


def test_multiply_by_a_power_of_two_is_a_shift():
    g = unary_route("mul", IntTy(8, True), 16)
    assert StrengthReduce().run(g)
    assert text(g) == "\n".join([
        "v0: i8 = param(path=x, signed=true, width=8)",
        "v1: u5 = const(value=16)",
        "v4: u3 = const(value=4)",
        "v2: i13 = shl(v0, v4)",  # the type stays until NarrowWidths
        "v3: i13 = output(v2, path=return)",
    ])


def test_multiply_by_seven_subtracts_and_wraps_to_the_old_range():
    g = unary_route("mul", IntTy(8, False), 7)
    assert StrengthReduce().run(g)
    # (x << 3) - x has the interval [-255, 2040]; the value is in [0, 1785], so the
    # node keeps its type through a wrap that never changes the value.
    assert text(g) == "\n".join([
        "v0: u8 = param(path=x, signed=false, width=8)",
        "v1: u3 = const(value=7)",
        "v4: u2 = const(value=3)",
        "v5: u11 = shl(v0, v4)",
        "v6: i12 = sub(v5, v0)",
        "v2: u11 = wrap(v6, signed=false, width=11)",
        "v3: u11 = output(v2, path=return)",
    ])


def test_multiply_by_three_prefers_additions_on_a_tie():
    g = unary_route("mul", IntTy(8, False), 3)
    assert StrengthReduce().run(g)
    assert text(g) == "\n".join([
        "v0: u8 = param(path=x, signed=false, width=8)",
        "v1: u2 = const(value=3)",
        "v4: u1 = const(value=1)",
        "v5: u9 = shl(v0, v4)",
        "v2: u10 = add(v5, v0)",
        "v3: u10 = output(v2, path=return)",
    ])


@pytest.mark.parametrize("c", [2, 3, 5, 6, 7, 10, 14, 15, 60, 66, 129, 255, 1023,
                               -2, -3, -4, -5, -7, -128, -255])
@pytest.mark.parametrize("ty", [IntTy(8, False), IntTy(8, True)])
def test_multiply_by_constant_is_exact(c, ty):
    before = unary_route("mul", ty, c)
    after = before.copy()
    assert StrengthReduce().run(after)
    assert "mul" not in ops_of(after)
    assert_exact_for_every_input(before, after, ty)


def test_multiply_by_a_constant_with_many_signed_digits_stays():
    g = unary_route("mul", IntTy(8, False), 0b1010101)  # four digits in any signed form
    before = text(g)
    assert not StrengthReduce().run(g)
    assert text(g) == before


def test_csd_digits():
    for c in range(-4096, 4097):
        digits = csd_digits(c)
        assert sum(d << k for k, d in digits) == c
        shifts = [k for k, _ in digits]
        assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:]))  # no adjacent digits
    assert csd_digits(7) == [(0, -1), (3, 1)]
    assert csd_digits(0) == []


@pytest.mark.parametrize("d", [2, 4, 256, -2, -8, -128])
@pytest.mark.parametrize("op", ["floordiv", "mod"])
def test_power_of_two_divisors_are_exact_for_negative_dividends(op, d):
    ty = IntTy(9, True)
    before = unary_route(op, ty, d)
    after = before.copy()
    assert StrengthReduce().run(after)
    assert not {"floordiv", "mod"} & set(ops_of(after))
    assert_exact_for_every_input(before, after, ty)


def test_floordiv_and_mod_by_a_power_of_two_print_as_shift_and_mask():
    g = Graph("t")
    x = g.add("param", path="x", width=8, signed=True)
    g.add("output", (g.add("floordiv", (x, g.const(4))),), path="return.0")
    g.add("output", (g.add("mod", (x, g.const(4))),), path="return.1")
    assert StrengthReduce().run(g)
    assert text(g) == "\n".join([
        "v0: i8 = param(path=x, signed=true, width=8)",
        "v1: u3 = const(value=4)",
        "v4: u3 = const(value=4)",
        "v7: u2 = const(value=2)",
        "v2: i8 = shr(v0, v7)",
        "v3: i8 = output(v2, path=return.0)",
        "v8: u2 = const(value=3)",
        "v5: i8 = and(v0, v8)",
        "v6: i8 = output(v5, path=return.1)",
    ])


def test_division_by_a_constant_uses_a_proven_multiplier():
    g = unary_route("floordiv", IntTy(8, False), 10)
    assert StrengthReduce().run(g)
    assert text(g) == "\n".join([
        "v0: u8 = param(path=x, signed=false, width=8)",
        "v1: u4 = const(value=10)",
        "v4: u8 = const(value=205)",
        "v5: u16 = mul(v0, v4)",
        "v6: u4 = const(value=11)",
        "v2: u8 = shr(v5, v6)",
        "v3: u8 = output(v2, path=return)",
    ])


@pytest.mark.parametrize("d", [3, 5, 6, 7, 10, 11, 100, 641, 1000, 4095])
@pytest.mark.parametrize("op", ["floordiv", "mod"])
def test_other_positive_divisors_are_exact_for_non_negative_dividends(op, d):
    ty = IntTy(12, False)
    before = unary_route(op, ty, d)
    after = before.copy()
    assert StrengthReduce().run(after)
    assert not {"floordiv", "mod"} & set(ops_of(after))
    assert_exact_for_every_input(before, after, ty)


@pytest.mark.parametrize("op", ["floordiv", "mod"])
@pytest.mark.parametrize("d", [0, 1, -1, 3, -3, 10])
def test_zero_one_and_signed_dividends_are_left_or_exact(op, d):
    """Division by zero keeps its meaning (x // 0 == 0, x % 0 == x), as do negative operands."""
    ty = IntTy(8, True)
    before = unary_route(op, ty, d)
    after = before.copy()
    assert not StrengthReduce().run(after)  # a signed dividend needs a signed divider
    PassManager(DEFAULT_PIPELINE).run(after)
    assert_exact_for_every_input(before, after, ty)


def test_division_by_zero_after_the_pipeline():
    g = Graph("t")
    x = g.add("param", path="x", width=8, signed=True)
    g.add("output", (g.add("floordiv", (x, g.const(0))),), path="return.0")
    g.add("output", (g.add("mod", (x, g.const(0))),), path="return.1")
    PassManager(DEFAULT_PIPELINE).run(g)
    assert text(g) == "\n".join([
        "v0: i8 = param(path=x, signed=true, width=8)",
        "v1: u1 = const(value=0)",
        "v3: u1 = output(v1, path=return.0)",
        "v6: i8 = output(v0, path=return.1)",
    ])


@settings(max_examples=300, deadline=None)
@given(d=st.integers(1, 2**20), limit=st.integers(0, 2**40), data=st.data())
def test_division_magic_is_exact_over_its_range(d, limit, data):
    m, s = division_magic(d, limit)
    assert (m * d - (1 << s)) * limit < 1 << s  # the condition that proves it
    assert m == -(-(1 << s) // d)
    xs = [0, limit, d - 1, d, limit - limit % d - 1, limit - limit % d]
    xs += data.draw(st.lists(st.integers(0, limit), max_size=20))
    for x in xs:
        if 0 <= x <= limit:
            assert (x * m) >> s == x // d


def test_division_magic_takes_the_smallest_shift():
    m, s = division_magic(10, 255)
    assert (m, s) == (205, 11)
    for s2 in range(1, s):  # every smaller shift is wrong somewhere in [0, 255]
        m2 = -(-(1 << s2) // 10)
        assert any((x * m2) >> s2 != x // 10 for x in range(256))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_strength_reduce_preserves_values(data):
    g = data.draw(graphs())
    after, _ = run_pass(StrengthReduce(), g)
    check_preserved(g, after, data.draw(st.lists(param_inputs(g), min_size=1, max_size=6)))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["floordiv", "mod"]), st.integers(2, 5000), st.integers(1, 40),
       st.data())
def test_wide_unsigned_division_is_exact(op, d, width, data):
    ty = IntTy(width, False)
    before = unary_route(op, ty, d)
    after = before.copy()
    StrengthReduce().run(after)
    verify(after)
    values = data.draw(st.lists(st.integers(0, ty.max), max_size=30)) + [0, ty.max]
    for v in values:
        assert interpret(after, {"x": v}) == interpret(before, {"x": v})
