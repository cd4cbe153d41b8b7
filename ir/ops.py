"""The op table: the single source of truth for every IR operation.

Every consumer — verifier, printer, interpreter, passes, software model,
delay model and backend — reads this table. Values are exact Python integers;
an op's result is mathematically exact and the node's type is only a container
proven (by :mod:`fpgac.ir.ranges`) to hold it. Wrapping happens only at
``wrap`` nodes.

| op        | operands          | attrs            | value |
| --------- | ----------------- | ---------------- | ----- |
| const     |                   | value            | ``value`` |
| param     |                   | path             | a leaf of a request (``p.r``, ``data[3]``) |
| output    | x                 | path             | a leaf of the response; equals ``x`` |
| add, sub, mul | a, b          |                  | ``a+b``, ``a-b``, ``a*b`` |
| neg       | a                 |                  | ``-a`` |
| floordiv  | a, b              |                  | ``a // b``, 0 when ``b == 0`` |
| mod       | a, b              |                  | ``a % b``, ``a`` when ``b == 0`` |
| and, or, xor | a, b           |                  | two's complement bitwise |
| not       | a                 |                  | ``~a == -a - 1`` |
| shl, shr  | a, b (b unsigned) |                  | ``a << b``, ``a >> b`` (floor) |
| eq ne lt le gt ge | a, b      |                  | 1 or 0 |
| mux       | sel, f, t         |                  | ``t if sel != 0 else f`` |
| wrap      | a                 | width, signed    | ``a`` wrapped to ``uN``/``iN`` |
| rom       | index             | values           | ``values[index]``, 0 outside |
| select    | index, e0, …      |                  | ``e[index]``, 0 outside |
| popcount, clz, ctz, reverse | a | width         | on the low ``width`` bits of ``a`` |
| rotl, rotr | a, n             | width            | rotate the low ``width`` bits by ``n % width`` |
| concat    | hi, …, lo         | widths           | the low ``widths[i]`` bits of each operand, joined |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["OpInfo", "OPS", "op_info", "COMPARISONS", "SWAPPED_COMPARISON"]

Range = tuple[int, int]


@dataclass(frozen=True)
class OpInfo:
    """How one operation behaves: arity, attributes, value, value range, properties."""

    name: str
    #: Number of operands, or ``None`` for a variadic op (at least ``min_arity``).
    arity: int | None
    evaluate: Callable[..., int]  # (attrs, *operand values) -> value
    range: Callable[..., Range]  # (attrs, *operand ranges) -> (lo, hi)
    attrs: tuple[str, ...] = ()
    min_arity: int = 0
    commutative: bool = False
    associative: bool = False
    bitwise: bool = False
    comparison: bool = False
    #: Key into a target's delay model (``None``: no logic, e.g. wires and constants).
    delay_key: str | None = None
    #: Python operator symbol, for printers and code generators.
    symbol: str | None = None
    doc: str = ""
    flags: frozenset[str] = field(default_factory=frozenset)


def _hull(*ranges: Range) -> Range:
    return (min(r[0] for r in ranges), max(r[1] for r in ranges))


def _corners(fn, a: Range, b: Range) -> Range:
    vals = [fn(x, y) for x in a for y in b]
    return (min(vals), max(vals))


def _signed_bound(*ranges: Range) -> Range:
    """The range of an N-bit signed value wide enough for all ``ranges``."""
    width = 1
    for lo, hi in ranges:
        width = max(width, (-lo - 1).bit_length() + 1 if lo < 0 else 1, max(hi, 0).bit_length() + 1)
    return (-(1 << (width - 1)), (1 << (width - 1)) - 1)


# --- values -------------------------------------------------------------------------------


def floordiv(a: int, b: int) -> int:
    """Python's floor division, with ``a // 0 == 0``."""
    return a // b if b else 0


def mod(a: int, b: int) -> int:
    """Python's modulo (the divisor's sign), with ``a % 0 == a``."""
    return a % b if b else a


def popcount(a: int, width: int) -> int:
    return bin(a & ((1 << width) - 1)).count("1")


def clz(a: int, width: int) -> int:
    return width - (a & ((1 << width) - 1)).bit_length()


def ctz(a: int, width: int) -> int:
    a &= (1 << width) - 1
    return (a & -a).bit_length() - 1 if a else width


def rotl(a: int, n: int, width: int) -> int:
    mask = (1 << width) - 1
    a &= mask
    n %= width
    return ((a << n) | (a >> (width - n))) & mask


def rotr(a: int, n: int, width: int) -> int:
    return rotl(a, width - n % width, width)


def reverse(a: int, width: int) -> int:
    a &= (1 << width) - 1
    return int(format(a, f"0{width}b")[::-1], 2)


def concat(values: Sequence[int], widths: Sequence[int]) -> int:
    result = 0
    for v, w in zip(values, widths):
        result = (result << w) | (v & ((1 << w) - 1))
    return result


def wrap(a: int, width: int, signed: bool) -> int:
    a &= (1 << width) - 1
    if signed and a >> (width - 1):
        a -= 1 << width
    return a


# --- ranges -------------------------------------------------------------------------------


def _floordiv_range(a: Range, b: Range) -> Range:
    candidates = []
    if b[0] <= 0 <= b[1]:
        candidates.append(0)
    for blo, bhi in ((max(b[0], 1), b[1]), (b[0], min(b[1], -1))):
        if blo <= bhi:
            candidates += [x // y for x in a for y in (blo, bhi)]
    return (min(candidates), max(candidates))


def _mod_range(a: Range, b: Range) -> Range:
    parts = []
    if b[0] <= 0 <= b[1]:
        parts.append(a)
    p, q = max(b[0], 1), b[1]
    if p <= q:  # positive divisors: 0 <= r < q, and r == a when 0 <= a < p
        if a[0] >= 0 and a[1] < p:
            parts.append(a)
        else:
            parts.append((0, min(q - 1, a[1]) if a[0] >= 0 else q - 1))
    p, q = b[0], min(b[1], -1)
    if p <= q:  # negative divisors: p < r <= 0, and r == a when q < a <= 0
        if a[1] <= 0 and a[0] > q:
            parts.append(a)
        else:
            parts.append((max(p + 1, a[0]) if a[1] <= 0 else p + 1, 0))
    return _hull(*parts)


def _and_range(a: Range, b: Range) -> Range:
    if a[0] >= 0 and b[0] >= 0:
        return (0, min(a[1], b[1]))
    if a[0] >= 0:
        return (0, a[1])
    if b[0] >= 0:
        return (0, b[1])
    return _signed_bound(a, b)


def _or_xor_range(a: Range, b: Range, is_or: bool) -> Range:
    if a[0] >= 0 and b[0] >= 0:
        top = (1 << max(a[1].bit_length(), b[1].bit_length())) - 1
        return (max(a[0], b[0]) if is_or else 0, top)
    return _signed_bound(a, b)


def _shift_range(fn, a: Range, b: Range) -> Range:
    # Shift amounts are never negative (the verifier checks it); clamp so it can say so.
    return _corners(fn, a, (max(b[0], 0), max(b[1], 0)))


def _type_range(attrs) -> Range:
    width, signed = attrs["width"], attrs["signed"]
    if signed:
        return (-(1 << (width - 1)), (1 << (width - 1)) - 1)
    return (0, (1 << width) - 1)


def _wrap_range(attrs, a: Range) -> Range:
    lo, hi = _type_range(attrs)
    if lo <= a[0] and a[1] <= hi:
        return a  # wrapping changes nothing
    return (lo, hi)


def _rom_range(attrs, index: Range) -> Range:
    values = attrs["values"]
    lo, hi = max(index[0], 0), min(index[1], len(values) - 1)
    chosen = list(values[lo : hi + 1]) if lo <= hi else []
    if index[0] < 0 or index[1] >= len(values):
        chosen.append(0)
    return (min(chosen), max(chosen))


def _select_range(attrs, index: Range, *elems: Range) -> Range:
    lo, hi = max(index[0], 0), min(index[1], len(elems) - 1)
    chosen = list(elems[lo : hi + 1]) if lo <= hi else []
    if index[0] < 0 or index[1] >= len(elems):
        chosen.append((0, 0))
    return _hull(*chosen)


def _select_value(attrs, index: int, *elems: int) -> int:
    return elems[index] if 0 <= index < len(elems) else 0


def _rom_value(attrs, index: int) -> int:
    values = attrs["values"]
    return values[index] if 0 <= index < len(values) else 0


_BOOL: Range = (0, 1)


def _table() -> dict[str, OpInfo]:
    ops: list[OpInfo] = []

    def op(name, arity, evaluate, rng, **kw):
        ops.append(OpInfo(name, arity, evaluate, rng, **kw))

    op("const", 0, lambda at: at["value"], lambda at: (at["value"], at["value"]),
       attrs=("value",), doc="a constant")
    op("param", 0, None, _type_range, attrs=("path", "width", "signed"),
       doc="a leaf field of the request; its range is the declared type's")
    op("output", 1, lambda at, a: a, lambda at, a: a, attrs=("path",),
       doc="a leaf field of the response")
    op("add", 2, lambda at, a, b: a + b, lambda at, a, b: (a[0] + b[0], a[1] + b[1]),
       commutative=True, associative=True, delay_key="add", symbol="+")
    op("sub", 2, lambda at, a, b: a - b, lambda at, a, b: (a[0] - b[1], a[1] - b[0]),
       delay_key="add", symbol="-")
    op("mul", 2, lambda at, a, b: a * b,
       lambda at, a, b: _corners(lambda x, y: x * y, a, b),
       commutative=True, associative=True, delay_key="mul", symbol="*")
    op("neg", 1, lambda at, a: -a, lambda at, a: (-a[1], -a[0]), delay_key="add", symbol="-")
    op("floordiv", 2, lambda at, a, b: floordiv(a, b), lambda at, a, b: _floordiv_range(a, b),
       delay_key="div", symbol="//")
    op("mod", 2, lambda at, a, b: mod(a, b), lambda at, a, b: _mod_range(a, b),
       delay_key="div", symbol="%")
    op("and", 2, lambda at, a, b: a & b, lambda at, a, b: _and_range(a, b),
       commutative=True, associative=True, bitwise=True, delay_key="logic", symbol="&")
    op("or", 2, lambda at, a, b: a | b, lambda at, a, b: _or_xor_range(a, b, True),
       commutative=True, associative=True, bitwise=True, delay_key="logic", symbol="|")
    op("xor", 2, lambda at, a, b: a ^ b, lambda at, a, b: _or_xor_range(a, b, False),
       commutative=True, associative=True, bitwise=True, delay_key="logic", symbol="^")
    op("not", 1, lambda at, a: ~a, lambda at, a: (-a[1] - 1, -a[0] - 1),
       bitwise=True, delay_key="logic", symbol="~")
    op("shl", 2, lambda at, a, b: a << b,
       lambda at, a, b: _shift_range(lambda x, y: x << y, a, b), delay_key="shift", symbol="<<")
    op("shr", 2, lambda at, a, b: a >> b,
       lambda at, a, b: _shift_range(lambda x, y: x >> y, a, b), delay_key="shift", symbol=">>")
    for name, sym, fn in (
        ("eq", "==", lambda a, b: a == b), ("ne", "!=", lambda a, b: a != b),
        ("lt", "<", lambda a, b: a < b), ("le", "<=", lambda a, b: a <= b),
        ("gt", ">", lambda a, b: a > b), ("ge", ">=", lambda a, b: a >= b),
    ):
        op(name, 2, (lambda f: lambda at, a, b: int(f(a, b)))(fn), lambda at, a, b: _BOOL,
           comparison=True, commutative=name in ("eq", "ne"), delay_key="compare", symbol=sym)
    op("mux", 3, lambda at, s, f, t: t if s else f, lambda at, s, f, t: _hull(f, t),
       delay_key="mux", doc="sel, value if false, value if true")
    op("wrap", 1, lambda at, a: wrap(a, at["width"], at["signed"]), _wrap_range,
       attrs=("width", "signed"), doc="keep the low bits (free in hardware)")
    op("rom", 1, _rom_value, _rom_range, attrs=("values",), delay_key="rom")
    op("select", None, _select_value, _select_range, min_arity=2, delay_key="mux",
       doc="index, element 0, element 1, ...")
    op("popcount", 1, lambda at, a: popcount(a, at["width"]),
       lambda at, a: (0, at["width"]), attrs=("width",), delay_key="popcount")
    op("clz", 1, lambda at, a: clz(a, at["width"]), lambda at, a: (0, at["width"]),
       attrs=("width",), delay_key="priority")
    op("ctz", 1, lambda at, a: ctz(a, at["width"]), lambda at, a: (0, at["width"]),
       attrs=("width",), delay_key="priority")
    op("reverse", 1, lambda at, a: reverse(a, at["width"]),
       lambda at, a: (0, (1 << at["width"]) - 1), attrs=("width",))
    op("rotl", 2, lambda at, a, n: rotl(a, n, at["width"]),
       lambda at, a, n: (0, (1 << at["width"]) - 1), attrs=("width",), delay_key="shift")
    op("rotr", 2, lambda at, a, n: rotr(a, n, at["width"]),
       lambda at, a, n: (0, (1 << at["width"]) - 1), attrs=("width",), delay_key="shift")
    op("concat", None, lambda at, *vs: concat(vs, at["widths"]),
       lambda at, *rs: (0, (1 << sum(at["widths"])) - 1), attrs=("widths",), min_arity=1)
    return {o.name: o for o in ops}


OPS: dict[str, OpInfo] = _table()

COMPARISONS = frozenset(name for name, o in OPS.items() if o.comparison)
#: ``a OP b == b SWAPPED[OP] a``
SWAPPED_COMPARISON = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


def op_info(name: str) -> OpInfo:
    """Return the table entry for ``name``."""
    return OPS[name]
