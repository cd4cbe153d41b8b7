"""Elaboration: control flow, values and types, checked by interpreting the lowered IR."""

from __future__ import annotations

import pytest

from fpgac.frontend import compile_source
from fpgac.ir import IntTy, format_route, interpret, verify_route

HEADER = """from fpgac import App, Record, Array, Table, u1, u4, u8, u16, u32, i8, i16, uint, sint
from fpgac import bits, concat, popcount, clz, ctz, rotl, rotr, reverse_bits
app = App("t")
"""


def _leaves(name, value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            _leaves(f"{name}.{k}", v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _leaves(f"{name}[{i}]", v, out)
    else:
        out[name] = int(value)
    return out


def _unflatten(outputs):
    if list(outputs) == ["return"]:
        return outputs["return"]
    root: dict = {}
    for path, v in outputs.items():
        parts = path[len("return"):].replace("[", ".[").strip(".").split(".")
        node = root
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v

    def fix(node):
        if isinstance(node, dict) and node and all(k.startswith("[") for k in node):
            return [fix(node[f"[{i}]"]) for i in range(len(node))]
        if isinstance(node, dict):
            return {k: fix(v) for k, v in node.items()}
        return node

    return fix(root)


def run(body: str, **request):
    program = compile_source(HEADER + body, "t.py")
    route = program.routes[0]
    verify_route(route)
    leaves = {}
    for k, v in request.items():
        _leaves(k, v, leaves)
    return _unflatten(interpret(route.graph, leaves))


def test_luma_exact_then_wrapped_at_return():
    body = '''
class RGB(Record):
    r: u8
    g: u8
    b: u8

@app.post("/luma")
def luma(p: RGB) -> u8:
    return ((66 * p.r + 129 * p.g + 25 * p.b + 128) >> 8) + 16
'''
    for r, g, b in [(0, 0, 0), (255, 255, 255), (10, 200, 30)]:
        want = (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) % 256
        assert run(body, p={"r": r, "g": g, "b": b}) == want


def test_intermediate_types_come_from_ranges():
    program = compile_source(HEADER + '''
@app.post("/f")
def f(a: u8, b: u8) -> i16:
    d = a - b
    m = a * b
    return d
''', "t.py")
    text = format_route(program.routes[0], spans=False)
    assert "i9 = sub(" in text
    assert "u16 = mul(" in text


def test_early_returns_and_elif():
    body = '''
@app.post("/f")
def f(x: i16) -> i16:
    if x < 0:
        return -1
    elif x == 0:
        return 0
    if x > 100:
        return 100
    return x
'''
    for x, want in [(-5, -1), (0, 0), (5, 5), (300, 100)]:
        assert run(body, x=x) == want


def test_break_and_continue_under_data_dependent_conditions():
    body = '''
@app.post("/f")
def f(a: Array[u8, 6], stop: u8) -> u16:
    total: u16 = 0
    for i in range(6):
        if a[i] == stop:
            break
        if a[i] % 2 == 1:
            continue
        total += a[i]
    return total
'''
    def ref(a, stop):
        total = 0
        for v in a:
            if v == stop:
                break
            if v % 2 == 1:
                continue
            total = (total + v) % 65536
        return total

    for a, stop in [([2, 4, 5, 6, 7, 8], 7), ([1, 3, 5, 7, 9, 11], 0), ([8] * 6, 8),
                    ([2, 4, 6, 8, 10, 12], 255)]:
        assert run(body, a=a, stop=stop) == ref(a, stop)


def test_declared_local_wraps_every_store():
    body = '''
@app.post("/f")
def f(x: u8) -> u16:
    y: u8 = x
    y += 200
    y = y * 3
    return y
'''
    for x in (0, 55, 56, 255):
        assert run(body, x=x) == ((x + 200) % 256 * 3) % 256


def test_undeclared_local_is_exact():
    body = '''
@app.post("/f")
def f(x: u8) -> u16:
    y = x + 200
    y = y * 3
    return y
'''
    assert run(body, x=255) == (455 * 3) % 65536


def test_variable_index_reads_and_writes():
    body = '''
@app.post("/f")
def f(a: Array[u8, 4], i: u8, v: u8) -> Array[u8, 4]:
    b = a
    b[i] = v
    b[0] = b[i] + a[i]
    return b
'''
    for i in range(6):
        a = [1, 2, 3, 4]
        b = list(a)
        if i < 4:
            b[i] = 9
        bi = b[i] if i < 4 else 0
        ai = a[i] if i < 4 else 0
        b[0] = (bi + ai) % 256
        assert run(body, a=a, i=i, v=9) == b


def test_records_are_values():
    body = '''
class P(Record):
    x: u8
    y: i8

def bump(p: P) -> P:
    p.x = p.x + 1
    return p

@app.post("/f")
def f(p: P) -> P:
    q = p
    q.y = -1
    r = bump(q)
    return P(x=p.x + r.x, y=q.y + p.y)
'''
    assert run(body, p={"x": 255, "y": 5}) == {"x": (255 + 0) % 256, "y": 4}
    assert run(body, p={"x": 3, "y": -128}) == {"x": 7, "y": 127}


def test_division_by_zero_and_floor():
    body = '''
class R(Record):
    q: i16
    m: i16

@app.post("/f")
def f(a: i8, b: i8) -> R:
    return R(q=a // b, m=a % b)
'''
    for a in (-128, -7, 0, 7, 127):
        for b in (-128, -3, -1, 0, 1, 3, 127):
            q = a // b if b else 0
            m = a % b if b else a
            assert run(body, a=a, b=b) == {"q": q, "m": m}


def test_tables_read_zero_outside():
    body = '''
T = Table(u8, [10, 20, 30])

@app.post("/f")
def f(i: u8) -> u8:
    return T[i] + len(T)
'''
    assert [run(body, i=i) for i in range(5)] == [13, 23, 33, 3, 3]


def test_intrinsics_use_the_static_width():
    body = '''
class R(Record):
    pc: u8
    lz: u8
    tz: u8
    rl: u8
    rv: u8
    b: u4
    c: u16

@app.post("/f")
def f(x: i8, n: u4) -> R:
    return R(pc=popcount(x), lz=clz(u8(x)), tz=ctz(x), rl=rotl(u8(x), n), rv=reverse_bits(x),
             b=bits(x, 2, 4), c=concat(u8(x), u4(n), u4(3)))
'''
    for x in (-128, -1, 0, 1, 6, 100):
        for n in (0, 3, 9):
            ux = x & 0xFF
            want = {
                "pc": bin(ux).count("1"),
                "lz": 8 - ux.bit_length(),
                "tz": (ux & -ux).bit_length() - 1 if ux else 8,
                "rl": ((ux << (n % 8)) | (ux >> (8 - n % 8))) & 0xFF,
                "rv": int(format(ux, "08b")[::-1], 2),
                "b": (x >> 2) & 0xF,
                "c": ((ux << 8) | (n << 4) | 3) & 0xFFFF,
            }
            assert run(body, x=x, n=n) == want


def test_and_or_not_give_bits_and_chained_comparisons():
    body = '''
class R(Record):
    a: u8
    o: u8
    n: u8
    c: u8

@app.post("/f")
def f(x: u8, y: u8) -> R:
    return R(a=x and y, o=x or y, n=not x, c=1 < x <= y)
'''
    for x, y in [(0, 0), (5, 3), (0, 7), (2, 2), (1, 9)]:
        want = {"a": int(bool(x) and bool(y)), "o": int(bool(x) or bool(y)), "n": int(not x),
                "c": int(1 < x <= y)}
        assert run(body, x=x, y=y) == want


def test_min_max_abs_conditional_pow():
    body = '''
@app.post("/f")
def f(x: i8, y: i8) -> i32:
    return min(x, y) * 1000 + max(x, y, 3) * 10 + abs(x) + (x ** 2 if x > y else 0)
'''
    from fpgac import sint
    for x, y in [(-128, 5), (7, -3), (3, 3), (-1, -2)]:
        want = min(x, y) * 1000 + max(x, y, 3) * 10 + abs(x) + (x ** 2 if x > y else 0)
        assert run(body.replace("i32", "sint(32)").replace("import App", "import App"),
                   x=x, y=y) == sint(32)(want)


def test_bool_stores_are_nonzero_tests_and_u1_keeps_low_bit():
    body = '''
class R(Record):
    b: bool
    u: u1

@app.post("/f")
def f(x: u8) -> R:
    return R(b=x, u=x)
'''
    assert run(body, x=2) == {"b": 1, "u": 0}
    assert run(body, x=3) == {"b": 1, "u": 1}
    assert run(body, x=0) == {"b": 0, "u": 0}


def test_constant_false_branch_skips_out_of_range_index():
    body = '''
@app.post("/f")
def f(a: Array[u8, 4]) -> u16:
    s: u16 = 0
    for i in range(8):
        if i < 4:
            s += a[i]
    return s
'''
    assert run(body, a=[1, 2, 3, 4]) == 10


def test_helpers_inline_with_wrapped_parameters():
    body = '''
def clamp8(v: i16) -> u8:
    if v < 0:
        return 0
    if v > 255:
        return 255
    return v

@app.post("/f")
def f(v: u8, gain: u8) -> u8:
    return clamp8(((v - 128) * gain >> 4) + 128)
'''
    from fpgac import i16
    for v in (0, 100, 128, 255):
        for gain in (0, 16, 40, 255):
            t = i16(((v - 128) * gain >> 4) + 128)
            assert run(body, v=v, gain=gain) == max(0, min(255, t))


def test_loop_over_array_and_loop_variable_after_break():
    body = '''
@app.post("/f")
def f(a: Array[u8, 5], key: u8) -> u8:
    found: u8 = 255
    for i in range(5):
        if a[i] == key:
            found = i
            break
    last = 0
    for v in a:
        last = v
    return found + last - last
'''
    assert run(body, a=[5, 6, 7, 6, 9], key=6) == 1
    assert run(body, a=[5, 6, 7, 6, 9], key=1) == 255


@pytest.mark.parametrize("n", [1, 7, 33])
def test_wide_values(n):
    body = '''
@app.post("/f")
def f(x: uint(100), s: u8) -> uint(128):
    return (x << 20) + (x >> s) * 3
'''
    x = (1 << 99) + n
    assert run(body, x=x, s=n) == ((x << 20) + (x >> n) * 3) % (1 << 128)


def test_param_types_in_ir():
    program = compile_source(HEADER + '''
@app.post("/f")
def f(x: u8) -> u8:
    return x
''', "t.py")
    (param,) = program.routes[0].graph.params()
    assert param.type == IntTy(8, False)


def test_constant_operands_count_by_value_for_intrinsic_widths():
    body = '''
class R(Record):
    a: u8
    b: u8
    c: u8
    d: u8

@app.post("/f")
def f(x: u8) -> R:
    return R(a=clz(x >> 4), b=clz(x // 3), c=clz(x % 10), d=clz(x << 4))
'''
    # x >> 4 is u4, x // 3 is u7, x % 10 is u4, x << 4 is u12.
    assert run(body, x=0) == {"a": 4, "b": 7, "c": 4, "d": 12}
    assert run(body, x=255) == {"a": 0, "b": 0, "c": 1, "d": 0}


def test_for_each_reads_elements_live_and_refuses_rebinding():
    body = '''
class P(Record):
    xs: Array[u8, 3]

@app.post("/f")
def f(p: P) -> u8:
    s: u8 = 0
    for x in p.xs:
        p.xs[2] = x + 10
        s += x
    return s
'''
    # x0 = 1: xs[2] = 11; x1 = 2: xs[2] = 12; x2 = 12.
    assert run(body, p={"xs": [1, 2, 3]}) == 15
    from fpgac.frontend import FpgacError
    with pytest.raises(FpgacError, match="is assigned inside a loop over `a`"):
        run('''
@app.post("/f")
def f(a: Array[u8, 3], b: Array[u8, 3]) -> u8:
    for x in a:
        a = b
    return a[0]
''')


def test_rotate_amounts_are_taken_modulo_the_width_even_when_negative():
    body = '''
@app.post("/f")
def f(x: u8, n: i8) -> u8:
    return rotl(x, n) ^ rotr(x, n + 1)
'''
    for x in (1, 0x81, 0xF0):
        for n in (-9, -1, 0, 3, 8, 127):
            left = ((x << (n % 8)) | (x >> (8 - n % 8))) & 0xFF
            m = (n + 1) % 8
            right = ((x >> m) | (x << (8 - m))) & 0xFF
            assert run(body, x=x, n=n) == left ^ right
