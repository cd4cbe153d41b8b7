"""The meaning of every IR op, as the runtime knows it: arity, attributes, value, range.

The runtime reads ``ir.json`` without the compiler, so it carries its own copy
of the op table's rules (``fpgac.ir.ops`` is the source of truth; a test checks
that both agree op for op, on values and on ranges). The value functions are
the reference for constant folding; the range functions let the loader check
that every node's declared type holds every value it can take, which is what
makes the fixed-width batch path exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["MAX_WIDTH", "OpSpec", "OP_SPECS", "RangeError", "wrap", "type_range"]

#: No single value is wider than this (SPEC §2); the loader refuses wider types.
MAX_WIDTH = 1024

Range = tuple[int, int]

# Attribute kinds: "int" any integer, "width" an integer in 1..MAX_WIDTH, "bool",
# "path" a leaf path string, "ints" a list of integers, "widths" a list of widths.
AttrKinds = dict[str, str]


@dataclass(frozen=True)
class OpSpec:
    """One op: operand count, attribute kinds, exact value and value range."""

    name: str
    arity: int | None  # None: variadic, at least ``min_arity``
    attrs: AttrKinds
    evaluate: Callable[..., int] | None  # (attrs, *values) -> value; None for params
    range: Callable[..., Range]  # (attrs, *operand ranges) -> (lo, hi)
    min_arity: int = 0


# --- values ------------------------------------------------------------------------------------


def wrap(a: int, width: int, signed: bool) -> int:
    """Return ``a`` wrapped to ``uN``/``iN``."""
    a &= (1 << width) - 1
    if signed and a >> (width - 1):
        a -= 1 << width
    return a


def _ctz(a: int, width: int) -> int:
    a &= (1 << width) - 1
    return (a & -a).bit_length() - 1 if a else width


def _rotl(a: int, n: int, width: int) -> int:
    mask = (1 << width) - 1
    a &= mask
    n %= width
    return ((a << n) | (a >> (width - n))) & mask


def _reverse(a: int, width: int) -> int:
    a &= (1 << width) - 1
    return int(format(a, f"0{width}b")[::-1], 2)


def _concat(values: Sequence[int], widths: Sequence[int]) -> int:
    result = 0
    for v, w in zip(values, widths):
        result = (result << w) | (v & ((1 << w) - 1))
    return result


# --- ranges ------------------------------------------------------------------------------------


def _hull(*ranges: Range) -> Range:
    return (min(r[0] for r in ranges), max(r[1] for r in ranges))


def _corners(fn, a: Range, b: Range) -> Range:
    vals = [fn(x, y) for x in a for y in b]
    return (min(vals), max(vals))


def _signed_bound(*ranges: Range) -> Range:
    width = 1
    for lo, hi in ranges:
        width = max(width, (-lo - 1).bit_length() + 1 if lo < 0 else 1,
                    max(hi, 0).bit_length() + 1)
    return (-(1 << (width - 1)), (1 << (width - 1)) - 1)


def type_range(width: int, signed: bool) -> Range:
    """Return the values of ``uN``/``iN``."""
    if signed:
        return (-(1 << (width - 1)), (1 << (width - 1)) - 1)
    return (0, (1 << width) - 1)


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
    if p <= q:
        if a[0] >= 0 and a[1] < p:
            parts.append(a)
        else:
            parts.append((0, min(q - 1, a[1]) if a[0] >= 0 else q - 1))
    p, q = b[0], min(b[1], -1)
    if p <= q:
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


class RangeError(ValueError):
    """A node's value range cannot be computed safely (it cannot fit any type)."""


def _shl_range(a: Range, b: Range) -> Range:
    # A left shift by more than MAX_WIDTH of a non-zero value cannot fit any type; refuse
    # before computing it, so that a hostile document cannot ask for a 2**64-bit integer.
    if b[1] > 2 * MAX_WIDTH and a != (0, 0):
        raise RangeError("the shift amount can exceed any type's width")
    return _corners(lambda x, y: x << y, a, (max(b[0], 0), max(b[1], 0)))


def _wrap_range(at, a: Range) -> Range:
    lo, hi = type_range(at["width"], at["signed"])
    if lo <= a[0] and a[1] <= hi:
        return a
    return (lo, hi)


def _rom_range(at, index: Range) -> Range:
    values = at["values"]
    lo, hi = max(index[0], 0), min(index[1], len(values) - 1)
    chosen = list(values[lo : hi + 1]) if lo <= hi else []
    if index[0] < 0 or index[1] >= len(values):
        chosen.append(0)
    return (min(chosen), max(chosen))


def _select_range(at, index: Range, *elems: Range) -> Range:
    lo, hi = max(index[0], 0), min(index[1], len(elems) - 1)
    chosen = list(elems[lo : hi + 1]) if lo <= hi else []
    if index[0] < 0 or index[1] >= len(elems):
        chosen.append((0, 0))
    return _hull(*chosen)


def _unsigned_of_width(at, *_ranges: Range) -> Range:
    return (0, (1 << at["width"]) - 1)


def _count_range(at, _a: Range) -> Range:
    return (0, at["width"])


_BOOL: Range = (0, 1)


def _table() -> dict[str, OpSpec]:
    specs: list[OpSpec] = []

    def op(name, arity, evaluate, rng, attrs=None, min_arity=0):
        specs.append(OpSpec(name, arity, attrs or {}, evaluate, rng, min_arity))

    op("const", 0, lambda at: at["value"], lambda at: (at["value"], at["value"]),
       {"value": "int"})
    op("param", 0, None, lambda at: type_range(at["width"], at["signed"]),
       {"path": "path", "width": "width", "signed": "bool"})
    op("output", 1, lambda at, a: a, lambda at, a: a, {"path": "path"})
    op("add", 2, lambda at, a, b: a + b, lambda at, a, b: (a[0] + b[0], a[1] + b[1]))
    op("sub", 2, lambda at, a, b: a - b, lambda at, a, b: (a[0] - b[1], a[1] - b[0]))
    op("mul", 2, lambda at, a, b: a * b, lambda at, a, b: _corners(lambda x, y: x * y, a, b))
    op("neg", 1, lambda at, a: -a, lambda at, a: (-a[1], -a[0]))
    op("floordiv", 2, lambda at, a, b: a // b if b else 0,
       lambda at, a, b: _floordiv_range(a, b))
    op("mod", 2, lambda at, a, b: a % b if b else a, lambda at, a, b: _mod_range(a, b))
    op("and", 2, lambda at, a, b: a & b, lambda at, a, b: _and_range(a, b))
    op("or", 2, lambda at, a, b: a | b, lambda at, a, b: _or_xor_range(a, b, True))
    op("xor", 2, lambda at, a, b: a ^ b, lambda at, a, b: _or_xor_range(a, b, False))
    op("not", 1, lambda at, a: ~a, lambda at, a: (-a[1] - 1, -a[0] - 1))
    op("shl", 2, lambda at, a, b: a << b, lambda at, a, b: _shl_range(a, b))
    op("shr", 2, lambda at, a, b: a >> b,
       lambda at, a, b: _corners(lambda x, y: x >> y, a, (max(b[0], 0), max(b[1], 0))))
    for name, fn in (
        ("eq", lambda a, b: a == b), ("ne", lambda a, b: a != b),
        ("lt", lambda a, b: a < b), ("le", lambda a, b: a <= b),
        ("gt", lambda a, b: a > b), ("ge", lambda a, b: a >= b),
    ):
        op(name, 2, (lambda f: lambda at, a, b: int(f(a, b)))(fn), lambda at, a, b: _BOOL)
    op("mux", 3, lambda at, s, f, t: t if s else f, lambda at, s, f, t: _hull(f, t))
    op("wrap", 1, lambda at, a: wrap(a, at["width"], at["signed"]), _wrap_range,
       {"width": "width", "signed": "bool"})
    op("rom", 1, lambda at, i: at["values"][i] if 0 <= i < len(at["values"]) else 0,
       _rom_range, {"values": "ints"})
    op("select", None, lambda at, i, *es: es[i] if 0 <= i < len(es) else 0, _select_range,
       min_arity=2)
    op("popcount", 1, lambda at, a: (a & ((1 << at["width"]) - 1)).bit_count(), _count_range,
       {"width": "width"})
    op("clz", 1, lambda at, a: at["width"] - (a & ((1 << at["width"]) - 1)).bit_length(),
       _count_range, {"width": "width"})
    op("ctz", 1, lambda at, a: _ctz(a, at["width"]), _count_range, {"width": "width"})
    op("reverse", 1, lambda at, a: _reverse(a, at["width"]), _unsigned_of_width,
       {"width": "width"})
    op("rotl", 2, lambda at, a, n: _rotl(a, n, at["width"]), _unsigned_of_width,
       {"width": "width"})
    op("rotr", 2, lambda at, a, n: _rotl(a, at["width"] - n % at["width"], at["width"]),
       _unsigned_of_width, {"width": "width"})
    op("concat", None, lambda at, *vs: _concat(vs, at["widths"]),
       lambda at, *rs: (0, (1 << sum(at["widths"])) - 1), {"widths": "widths"}, min_arity=1)
    return {s.name: s for s in specs}


OP_SPECS: dict[str, OpSpec] = _table()
