"""The reference semantics itself, checked against values computed by hand."""

import pytest

from fpgac.reference import ReferenceLimitation, load_reference

HEADER = """\
from fpgac import (App, Array, Record, Table, bits, clz, concat, ctz, popcount, reverse_bits,
                   rotl, rotr, sint, uint, u1, u3, u4, u8, u16, i4, i8, i16)

app = App("ref")
"""


def run(body: str, request: dict, route: str = "/f"):
    return load_reference(HEADER + body).call(route, request)


def test_spec_example():
    module = load_reference(HEADER + """
class RGB(Record):
    r: u8
    g: u8
    b: u8

def clamp8(v: i16) -> u8:
    if v < 0:
        return 0
    if v > 255:
        return 255
    return v

@app.post("/luma")
def luma(p: RGB) -> u8:
    return ((66 * p.r + 129 * p.g + 25 * p.b + 128) >> 8) + 16

@app.post("/contrast")
def contrast(v: u8, gain: u8) -> u8:
    return clamp8(((v - 128) * gain >> 4) + 128)
""")
    assert module.app == "ref"
    assert sorted(module.routes) == ["/contrast", "/luma"]
    # (660 + 2580 + 750 + 128) >> 8 == 16, plus 16.
    assert module.call("/luma", {"p": {"r": 10, "g": 20, "b": 30}}) == 32
    assert module.call("/luma", {"p": {"r": 255, "g": 255, "b": 255}}) == 235
    assert module.call("contrast", {"v": 200, "gain": 255}) == 255  # 1275 clamps
    assert module.call("contrast", {"v": 0, "gain": 255}) == 0  # -1912 clamps
    # (10 - 128) * 3 >> 4 == -23 (floor), + 128 == 105.
    assert module.call("contrast", {"v": 10, "gain": 3}) == 105


def test_expressions_are_exact_until_a_declared_store():
    body = """
@app.post("/f")
def f(a: u8, b: u8) -> u16:
    t = a + b          # exact: up to 510
    w: u8 = a + b      # wraps
    return t * 256 + w
"""
    assert run(body, {"a": 200, "b": 100}) == (300 * 256 + 44) % 65536


def test_declared_local_wraps_on_every_later_store():
    body = """
@app.post("/f")
def f(a: u8) -> i16:
    x: u4 = a
    x += 9
    y = x
    x = x * 3
    x -= 20
    return y * 100 + x
"""
    # x = 200 % 16 = 8; x = 17 % 16 = 1; y = 1; x = 3; x = -17 % 16 = 15.
    assert run(body, {"a": 200}) == 115


def test_signed_wraps_and_return_wraps():
    body = """
@app.post("/f")
def f(a: u8) -> i4:
    s: i8 = a
    return s + 1
"""
    assert run(body, {"a": 200}) == -7  # s = -56; -55 wraps to i4: -55 & 15 == 9, read as -7
    assert run(body, {"a": 7}) == -8  # 8 wraps to i4: -8


def test_bool_stores_are_nonzero_tests():
    body = """
@app.post("/f")
def f(a: u8) -> u8:
    b: bool = a & 6
    c: u1 = a & 6
    d = bool(a) + bool(0) + True + False
    return b * 100 + c * 10 + d
"""
    assert run(body, {"a": 4}) == 100 + 0 + 2
    assert run(body, {"a": 0}) == 1
    assert run(body, {"a": 3}) == 100 + 0 + 2


def test_and_or_not_and_comparisons_give_zero_or_one():
    body = """
@app.post("/f")
def f(a: i8, b: i8) -> i16:
    return (a and b) * 1000 + (a or b) * 100 + (not a) * 10 + (a < b <= 5)
"""
    assert run(body, {"a": 5, "b": 3}) == 1100
    assert run(body, {"a": 0, "b": 3}) == 100 + 10 + 1
    assert run(body, {"a": -2, "b": 0}) == 100 + 1


def test_division_and_modulo_floor_and_by_zero():
    body = """
@app.post("/f")
def f(a: i8, b: i8) -> Array[i16, 2]:
    q: i16 = a // b
    r: i16 = a % b
    return [q, r]
"""
    assert run(body, {"a": -7, "b": 2}) == [-4, 1]
    assert run(body, {"a": 7, "b": -2}) == [-4, -1]
    assert run(body, {"a": -7, "b": 0}) == [0, -7]
    assert run(body, {"a": 7, "b": 0}) == [0, 7]


def test_augmented_division_by_zero():
    body = """
@app.post("/f")
def f(a: u8, b: u8) -> u8:
    x = a
    x //= b
    y: u8 = a
    y %= b
    return x + y
"""
    assert run(body, {"a": 9, "b": 0}) == 9
    assert run(body, {"a": 9, "b": 4}) == 3


def test_shifts_floor_and_bitwise_ops_are_twos_complement():
    body = """
@app.post("/f")
def f(a: i8, n: u3) -> Array[i16, 4]:
    return [a >> n, a << n, ~a, (a & 0x0F) | (a ^ -1)]
"""
    assert run(body, {"a": -5, "n": 1}) == [-3, -10, 4, (-5 & 15) | 4]
    assert run(body, {"a": -1, "n": 7}) == [-1, -128, 0, 15 | 0]


def test_power_min_max_abs_and_conditional():
    body = """
@app.post("/f")
def f(a: i8, b: i8) -> Array[i16, 4]:
    return [a ** 2, min(a, b, 3), max(a, b) if a != b else abs(a), abs(b)]
"""
    assert run(body, {"a": -7, "b": 2}) == [49, -7, 2, 2]
    assert run(body, {"a": -7, "b": -7}) == [49, -7, 7, 7]


def test_records_are_values():
    body = """
class P(Record):
    x: u8
    y: i4

class Q(Record):
    p: P
    n: u3

def bump(q: Q) -> u8:
    q.p.x = q.p.x + 1
    q.n = 9
    return q.p.x

@app.post("/f")
def f(q: Q) -> Array[u8, 5]:
    r = q
    r.p.x = 255
    r.p.x += 2
    r.p.y = 9
    s = bump(q)
    inner = q.p
    inner.x = 42
    return [q.p.x, r.p.x, s, q.n, r.p.y + 8]
"""
    # r is a copy; its u8 field wraps (257 -> 1) and its i4 field wraps (9 -> -7);
    # the helper changes its own copy; `inner` is a copy of q.p.
    assert run(body, {"q": {"p": {"x": 10, "y": 1}, "n": 5}}) == [10, 1, 11, 5, 1]


def test_record_construction_wraps_and_returns_as_dict():
    body = """
class P(Record):
    x: u8
    y: i4

@app.post("/f")
def f(a: u16) -> P:
    return P(x=a, y=a)
"""
    assert run(body, {"a": 0x1FF}) == {"x": 255, "y": -1}


def test_arrays_are_values_and_wrap_their_elements():
    body = """
@app.post("/f")
def f(a: Array[u8, 3], i: i8) -> Array[u8, 6]:
    b = a
    b[0] = 300
    b[i] += 1
    c: Array[u8, 3] = [a[2], 256 + a[1], -1]
    return [a[0], b[0], b[1], c[0], c[1], c[2]]
"""
    assert run(body, {"a": [1, 2, 3], "i": 1}) == [1, 44, 3, 3, 2, 255]


def test_out_of_range_array_reads_give_zero_and_writes_do_nothing():
    body = """
@app.post("/f")
def f(a: Array[u8, 3], i: i8) -> Array[u8, 5]:
    b = a
    b[i] = 99
    return [a[i], b[0], b[1], b[2], len(a)]
"""
    assert run(body, {"a": [1, 2, 3], "i": 3}) == [0, 1, 2, 3, 3]
    # A negative index is outside the array, not counted from its end.
    assert run(body, {"a": [1, 2, 3], "i": -1}) == [0, 1, 2, 3, 3]
    assert run(body, {"a": [1, 2, 3], "i": 2}) == [3, 1, 2, 99, 3]


def test_out_of_range_record_element_reads_give_zero_records():
    body = """
class P(Record):
    x: u8

@app.post("/f")
def f(a: Array[P, 2], i: i8) -> P:
    return a[i]
"""
    assert run(body, {"a": [{"x": 5}, {"x": 6}], "i": 1}) == {"x": 6}
    assert run(body, {"a": [{"x": 5}, {"x": 6}], "i": -2}) == {"x": 0}


def test_tables_read_zero_outside():
    body = """
T = Table(i8, [5, -6, 7])

@app.post("/f")
def f(i: i4) -> i8:
    return T[i] + len(T)
"""
    assert [run(body, {"i": i}) for i in (-1, 0, 1, 2, 3)] == [3, 8, -3, 10, 3]


def test_loops_break_continue_and_for_each():
    body = """
@app.post("/f")
def f(a: Array[u8, 4], stop: u8) -> u16:
    total: u16 = 0
    for x in a:
        if x == stop:
            break
        if x & 1:
            continue
        total += x
    for i in range(6, 0, -2):
        total = total * 2 + i
    return total
"""
    # 2 + 4 (3 skipped, 9 stops the loop) = 6; then 6*2+6=18, 18*2+4=40, 40*2+2=82.
    assert run(body, {"a": [2, 3, 4, 9], "stop": 9}) == 82


def test_for_each_copies_record_elements():
    body = """
class P(Record):
    x: u8

@app.post("/f")
def f(a: Array[P, 2]) -> Array[P, 2]:
    for p in a:
        p.x = 0
    return a
"""
    assert run(body, {"a": [{"x": 1}, {"x": 2}]}) == [{"x": 1}, {"x": 2}]


def test_helpers_wrap_their_arguments_and_results():
    body = """
def low(x: u4) -> u3:
    return x + 1

@app.post("/f")
def f(a: u8) -> u8:
    return low(a) + low(x=a + 1)
"""
    # low(23): x = 7, 8 wraps to 0; low(24): x = 8, 9 wraps to 1.
    assert run(body, {"a": 23}) == 1


def test_parameters_are_declared_locals():
    body = """
@app.post("/f")
def f(a: u8) -> u16:
    a = a + 100
    return a
"""
    assert run(body, {"a": 200}) == 44


def test_module_constants_and_casts():
    body = """
K = 300
M: u16 = K * 2

@app.post("/f")
def f(a: u8) -> i16:
    return u8(K) + i4(a) + uint(3)(a) + sint(2)(M + 1) + bool(a - a)
"""
    # u8(300) = 44; i4(13) = -3; u3(13) = 5; i2(601) = 1; bool(0) = 0.
    assert run(body, {"a": 13}) == 47


def test_intrinsics_use_the_static_width():
    body = """
@app.post("/f")
def f(a: u8, s: i4) -> Array[u16, 10]:
    w: u16 = a
    return [popcount(s), clz(a), clz(w), ctz(u4(0)), rotl(a, 9), rotr(u4(a), 1),
            reverse_bits(u4(a)), concat(u4(a), s, u1(1)), bits(s, 1, 2), popcount(i8(-1))]
"""
    # a = 0b00010110, s = -3 = 0b1101 in 4 bits.
    assert run(body, {"a": 0x16, "s": -3}) == [
        3, 3, 11, 4, 0x2C, 0b0011, 0b0110, 0b0110_1101_1, 0b10, 8]


def test_request_values_are_checked_not_wrapped():
    module = load_reference(HEADER + """
@app.post("/f")
def f(a: u8) -> u8:
    return a
""")
    with pytest.raises(ValueError, match="`a` = 256 does not fit u8"):
        module.call("/f", {"a": 256})
    with pytest.raises(ValueError, match="exactly the keys"):
        module.call("/f", {})


def test_intrinsic_on_an_exact_type_is_a_limitation():
    with pytest.raises(ReferenceLimitation, match="a cast, a declared name or a constant"):
        load_reference(HEADER + """
@app.post("/f")
def f(a: u8) -> u8:
    return popcount(a + 1)
""")


def test_intrinsic_on_a_helper_call_is_a_limitation():
    module = load_reference(HEADER + """
def twice(x: u8) -> u16:
    return x * 2

@app.post("/f")
def f(a: u8) -> u8:
    return popcount(twice(a))
""")
    with pytest.raises(ReferenceLimitation, match="a call of `twice`, not a cast"):
        module.call("/f", {"a": 3})


def test_a_declared_loop_variable_wraps():
    body = """
@app.post("/f")
def f(a: Array[u8, 3]) -> u16:
    x: u2 = 0
    total: u16 = 0
    for x in a:
        total = total * 10 + x
    return total
"""
    assert run(body.replace("u2", "uint(2)"), {"a": [5, 6, 7]}) == 123


def test_constant_and_exponent_rules_are_checked():
    with pytest.raises(ValueError, match="does not fit u8"):
        load_reference(HEADER + "K: u8 = 256\n")
    module = load_reference(HEADER + """
@app.post("/f")
def f(a: u8) -> u8:
    return a ** -1
""")
    with pytest.raises(ValueError, match="constant `k >= 0`"):
        module.call("/f", {"a": 2})


def test_intrinsics_on_constants_use_the_narrowest_type_of_the_value():
    body = """
J = 5
K: u8 = 5

@app.post("/f")
def f(a: Array[u8, 3]) -> Array[u8, 9]:
    out: Array[u8, 9] = [0, 0, 0, 0, 0, 0, 0, 0, 0]
    for j in range(1, 9, 3):
        out[j // 3] = clz(j) * 10 + popcount(~j)
    for k in range(len(a)):
        out[3 + k] = reverse_bits(k + 1)
    out[6] = clz(len(a)) + popcount(J - 7)
    out[7] = clz(K) * 10 + clz(J)
    out[8] = concat(u4(1), 5, u1(0))
    return out
"""
    # j = 1, 4, 7 are u1, u3, u3: clz 0; ~j = -2, -5, -8 are i2, i4, i4: popcounts 1, 3, 1.
    # k + 1 = 1, 2, 3 are u1, u2, u2. len(a) = 3 is u2; J - 7 = -2 is i2 (0b10).
    # K is declared u8 (clz 5), J is u3 (clz 0); 5 is u3, so the concat is 0001_101_0.
    assert run(body, {"a": [1, 2, 3]}) == [1, 3, 1, 1, 1, 3, 1, 50, 0b0001_101_0]
