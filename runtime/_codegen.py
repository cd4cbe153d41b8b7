"""Generate the software model of a route from its validated nodes.

Two functions per route, both compiled once with ``compile()``:

* **scalar** — straight-line Python over exact ints, one local per node:
  ``scalar(*leaves) -> tuple of output leaves``;
* **batch** — the same dataflow over numpy columns:
  ``batch(n, *columns) -> tuple of output columns``.

Exactness first: in the batch function an op runs on ``int64`` (or ``uint64``)
only when the value ranges of its operands *and* of its result — proven by the
loader — fit that type, so fixed-width arithmetic never overflows; bit
intrinsics run on ``uint64`` with bit tricks; comparisons stay numpy bools
until a consumer needs a number; anything wider runs on object columns of
Python ints, with Python's exact semantics. One exception keeps hash
arithmetic fast: a value whose users all need only its low 64 bits (it is
wrapped to 64 bits or fewer) is computed modulo 2**64 on ``uint64``. Constant
subgraphs and nodes whose range is a single value are folded while generating.

Generated source interpolates only node ids, validated Python ints (through
:func:`_lit`) and names the generator made up; tables, wide constants and
helpers reach the code through its namespace, never as text from the document.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _kernels
from ._document import NodeDoc, RouteDoc
from ._semantics import OP_SPECS, type_range
from ._values import fits_int64

__all__ = ["SCALAR_TEMPLATES", "BATCH_TEMPLATES", "CompiledRoute", "compile_route"]


def _lit(value: int) -> str:
    """Return the source text of an int (and refuse anything else)."""
    if type(value) is not int:
        raise AssertionError(f"only ints are interpolated into generated code, not {value!r}")
    return repr(value) if value >= 0 else f"({value!r})"


def _mask(width: int) -> int:
    return (1 << width) - 1


def _live(route: RouteDoc) -> list[NodeDoc]:
    """Return the nodes that some output depends on, plus every param, in order."""
    needed = {n.id for n in route.nodes if n.op == "output"}
    for n in reversed(route.nodes):
        if n.id in needed:
            needed.update(n.operands)
    return [n for n in route.nodes if n.id in needed or n.op == "param"]


def _ctz(a: int, width: int) -> int:
    a &= _mask(width)
    return (a & -a).bit_length() - 1 if a else width


def _reverse(a: int, width: int) -> int:
    return int(format(a & _mask(width), f"0{width}b")[::-1], 2)


def _rotl(a: int, n: int, width: int) -> int:
    a &= _mask(width)
    n %= width
    return ((a << n) | (a >> (width - n))) & _mask(width)


# --- scalar templates: (node, operand names, namespace) -> expression ---------------------------

ScalarTemplate = Callable[[NodeDoc, Sequence[str], "_Scalar"], str]


def _s_binary(symbol: str) -> ScalarTemplate:
    return lambda n, a, g: f"{a[0]} {symbol} {a[1]}"


def _s_compare(symbol: str) -> ScalarTemplate:
    return lambda n, a, g: f"1 if {a[0]} {symbol} {a[1]} else 0"


def _s_wrap(n: NodeDoc, a: Sequence[str], g: _Scalar) -> str:
    width, signed = n.attrs["width"], n.attrs["signed"]
    if not signed:
        return f"{a[0]} & {_lit(_mask(width))}"
    half = _lit(1 << (width - 1))
    return f"(({a[0]} & {_lit(_mask(width))}) ^ {half}) - {half}"


def _s_rom(n: NodeDoc, a: Sequence[str], g: _Scalar) -> str:
    values = n.attrs["values"]
    if not values:
        return "0"
    table = g.name(tuple(values))
    return f"{table}[{a[0]}] if 0 <= {a[0]} < {_lit(len(values))} else 0"


def _s_select(n: NodeDoc, a: Sequence[str], g: _Scalar) -> str:
    index, elems = a[0], a[1:]
    return f"({', '.join(elems)},)[{index}] if 0 <= {index} < {_lit(len(elems))} else 0"


def _s_concat(n: NodeDoc, a: Sequence[str], g: _Scalar) -> str:
    parts, shift = [], sum(n.attrs["widths"])
    for name, width in zip(a, n.attrs["widths"]):
        shift -= width
        parts.append(f"(({name} & {_lit(_mask(width))}) << {_lit(shift)})")
    return " | ".join(parts)


def _s_width(fmt: str) -> ScalarTemplate:
    def template(n: NodeDoc, a: Sequence[str], g: _Scalar) -> str:
        width = n.attrs["width"]
        return fmt.format(*a, w=_lit(width), m=_lit(_mask(width)))
    return template


SCALAR_TEMPLATES: dict[str, ScalarTemplate] = {
    "const": lambda n, a, g: _lit(n.attrs["value"]),
    "param": lambda n, a, g: g.param_name(n),
    "output": lambda n, a, g: a[0],
    "add": _s_binary("+"),
    "sub": _s_binary("-"),
    "mul": _s_binary("*"),
    "neg": lambda n, a, g: f"-{a[0]}",
    "floordiv": lambda n, a, g: f"{a[0]} // {a[1]} if {a[1]} else 0",
    "mod": lambda n, a, g: f"{a[0]} % {a[1]} if {a[1]} else {a[0]}",
    "and": _s_binary("&"),
    "or": _s_binary("|"),
    "xor": _s_binary("^"),
    "not": lambda n, a, g: f"~{a[0]}",
    "shl": _s_binary("<<"),
    "shr": _s_binary(">>"),
    "eq": _s_compare("=="),
    "ne": _s_compare("!="),
    "lt": _s_compare("<"),
    "le": _s_compare("<="),
    "gt": _s_compare(">"),
    "ge": _s_compare(">="),
    "mux": lambda n, a, g: f"{a[2]} if {a[0]} else {a[1]}",
    "wrap": _s_wrap,
    "rom": _s_rom,
    "select": _s_select,
    "popcount": _s_width("({0} & {m}).bit_count()"),
    "clz": _s_width("{w} - ({0} & {m}).bit_length()"),
    "ctz": _s_width("_ctz({0}, {w})"),
    "reverse": _s_width("_reverse({0}, {w})"),
    "rotl": _s_width("_rotl({0}, {1}, {w})"),
    "rotr": _s_width("_rotl({0}, {w} - {1} % {w}, {w})"),
    "concat": _s_concat,
}


class _Scalar:
    """The scalar generator's state: parameter names and namespace entries."""

    def __init__(self, param_order: dict[str, int]):
        self.namespace: dict[str, Any] = {"_ctz": _ctz, "_reverse": _reverse, "_rotl": _rotl}
        self.param_order = param_order

    def name(self, value: Any) -> str:
        key = f"_c{len(self.namespace)}"
        self.namespace[key] = value
        return key

    def param_name(self, n: NodeDoc) -> str:
        return f"p{self.param_order[n.attrs['path']]}"


def _scalar_source(route: RouteDoc, param_paths: Sequence[str], output_paths: Sequence[str]
                   ) -> tuple[str, dict[str, Any]]:
    g = _Scalar({p: i for i, p in enumerate(param_paths)})
    lines = [f"def scalar({', '.join(f'p{i}' for i in range(len(param_paths)))}):"]
    outputs: dict[str, str] = {}
    for n in _live(route):
        expr = SCALAR_TEMPLATES[n.op](n, [f"v{o}" for o in n.operands], g)
        lines.append(f"    v{n.id} = {expr}")
        if n.op == "output":
            outputs[n.attrs["path"]] = f"v{n.id}"
    lines.append(f"    return ({''.join(outputs[p] + ', ' for p in output_paths)})")
    return "\n".join(lines) + "\n", g.namespace


# --- batch templates ---------------------------------------------------------------------------
# A column is stored as "i" int64, "o" object (Python ints), "b" bool, or "m" uint64 holding
# the value modulo 2**64. An "m" column is exact when the node's range fits int64 (read it as
# int64) or uint64 (read it as uint64); it is *only* known modulo 2**64 otherwise, which is
# allowed only when every user needs just the low 64 bits (see `_low_demand`): wrapped hash
# arithmetic (`u32(x * K)`) then runs on fixed-width integers although its exact value is
# wider. Templates may also ask for "u": an exact uint64 column.

MASK64 = (1 << 64) - 1
#: Ops whose low 64 bits depend only on the low 64 bits of their operands.
RING = frozenset({"add", "sub", "mul", "neg", "and", "or", "xor", "not"})


def fits_uint64(lo: int, hi: int) -> bool:
    """Return whether every value in ``[lo, hi]`` is a ``uint64``."""
    return 0 <= lo and hi <= MASK64


@dataclass(frozen=True)
class _Const:
    value: int


@dataclass(frozen=True)
class _Var:
    name: str
    kind: str


_CONVERT = {
    ("i", "o"): "{}.astype(object)",
    ("o", "i"): "{}.astype(np.int64)",
    ("b", "i"): "{}.astype(np.int64)",
    ("b", "o"): "{}.astype(np.int64).astype(object)",
    ("i", "b"): "({} != 0)",
    ("o", "b"): "({} != 0)",
    ("m", "b"): "({} != 0)",
    ("i", "u"): "{}.view(np.uint64)",
    ("o", "u"): "{}.astype(np.uint64)",
    ("b", "u"): "{}.astype(np.uint64)",
    ("m", "u"): "{}",
    ("i", "m"): "{}.view(np.uint64)",
    ("o", "m"): "({} & _MASK64).astype(np.uint64)",
    ("b", "m"): "{}.astype(np.uint64)",
    ("m", "i"): "{}.view(np.int64)",
    ("m", "o"): "{}.astype(object)",  # for a uint64 range; an int64 range goes through "i"
}


def _low_demand(nodes: Sequence[NodeDoc]) -> dict[int, bool]:
    """Return, per node, whether every user needs only its value modulo 2**64."""
    users: dict[int, list[tuple[NodeDoc, int]]] = {n.id: [] for n in nodes}
    for n in nodes:
        for position, o in enumerate(n.operands):
            users[o].append((n, position))
    low: dict[int, bool] = {}

    def needs_low(user: NodeDoc, position: int) -> bool:
        op, attrs = user.op, user.attrs
        if op == "wrap":
            return attrs["width"] <= 64
        if op in RING:
            return low[user.id]
        if op == "shl":
            return position == 0 and low[user.id]
        if op in ("mux", "select"):
            return position > 0 and low[user.id]
        if op == "concat":
            return attrs["widths"][position] <= 64
        if op in ("popcount", "clz", "ctz", "reverse"):
            return attrs["width"] <= 64
        if op in ("rotl", "rotr"):
            return position == 0 and attrs["width"] <= 64
        return False

    for n in reversed(nodes):
        low[n.id] = bool(users[n.id]) and all(needs_low(u, p) for u, p in users[n.id])
    return low


class _Batch:
    """The batch generator's state: what each node is, emitted lines, namespace."""

    def __init__(self, route: RouteDoc, nodes: Sequence[NodeDoc]):
        self.ranges = route.ranges
        self.low = _low_demand(nodes)
        self.refs: dict[int, _Const | _Var] = {}
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {
            "np": np,
            "_low_u64": _kernels.low_u64, "_popcount64": _kernels.popcount64,
            "_clz64": _kernels.clz64, "_ctz64": _kernels.ctz64,
            "_reverse64": _kernels.reverse64, "_rotl64": _kernels.rotl64,
            "_gather": _kernels.select_gather, "_full": _kernels.full_column,
            "_MASK64": np.array(MASK64, dtype=object),
        }
        self._converted: dict[tuple[str, str], str] = {}
        self._temps = 0

    # -- what is known about a node --------------------------------------------------------------

    def fits(self, node_id: int) -> bool:
        return fits_int64(*self.ranges[node_id])

    def fits_u(self, node_id: int) -> bool:
        return fits_uint64(*self.ranges[node_id])

    def is_bit(self, node_id: int) -> bool:
        lo, hi = self.ranges[node_id]
        return 0 <= lo and hi <= 1

    def kind(self, node_id: int) -> str | None:
        """Return how a node's column is stored, or ``None`` for a constant."""
        ref = self.refs[node_id]
        return ref.kind if isinstance(ref, _Var) else None

    def inexact(self, node_id: int) -> bool:
        """Return whether a node's column holds its value only modulo 2**64."""
        return self.kind(node_id) == "m" and not (self.fits(node_id) or self.fits_u(node_id))

    def const(self, node_id: int) -> int | None:
        ref = self.refs[node_id]
        return ref.value if isinstance(ref, _Const) else None

    def mode(self, node: NodeDoc, operands: Sequence[int], unsigned: bool = True,
             boolean: bool = False) -> str:
        """Return the kind to compute ``node`` in from ``operands``.

        "b" when the node and its operands are bits, some operand is a bool
        column, and ``boolean`` says the op means the same on numpy bools; "i"
        when they all fit int64; "u" when they fit uint64 (and ``unsigned``
        says the op is exact there); "m" when only the node's low 64 bits are
        needed; "o" otherwise. Any range outside fixed width, or an operand
        known only modulo 2**64, rules out the exact modes.
        """
        ids = [node.id, *operands]
        if boolean and all(self.is_bit(o) for o in ids) and \
                any(self.kind(o) == "b" for o in operands):
            return "b"
        if not any(self.inexact(o) for o in operands):
            if all(self.fits(o) for o in ids):
                return "i"
            if unsigned and all(self.fits_u(o) for o in ids):
                return "u"
        if self.low[node.id]:
            return "m"
        assert not any(self.inexact(o) for o in operands), f"v{node.id} needs exact operands"
        return "o"

    # -- expressions -----------------------------------------------------------------------------

    def name(self, value: Any) -> str:
        key = f"_c{len(self.namespace)}"
        self.namespace[key] = value
        return key

    def obj(self, value: int) -> str:
        """Return a name for ``value`` as a 0-d object array (exact in object arithmetic)."""
        box = np.empty((), dtype=object)
        box[()] = value
        return self.name(box)

    def literal(self, value: int, kind: str) -> str:
        if kind == "i":
            assert fits_int64(value, value), value
            return _lit(value)
        if kind == "o":
            return self.obj(value)
        if kind in ("u", "m"):
            assert kind == "m" or fits_uint64(value, value), value
            return f"np.uint64({_lit(value & MASK64)})"
        return "True" if value else "False"

    def get(self, node_id: int, kind: str) -> str:
        """Return an expression for a node's value as a column (or a scalar) of ``kind``."""
        ref = self.refs[node_id]
        if isinstance(ref, _Const):
            return self.literal(ref.value, kind)
        if ref.kind == kind:
            return ref.name
        if ref.kind == "m":
            assert not self.inexact(node_id), f"v{node_id} is known only modulo 2**64"
            if kind == "o" and self.fits(node_id):
                return self.get_converted(self.get(node_id, "i"), "i", "o")
            assert kind != "i" or self.fits(node_id), node_id
            assert kind != "u" or self.fits_u(node_id), node_id
        if kind == "u":
            assert self.fits_u(node_id), node_id
        return self.get_converted(ref.name, ref.kind, kind)

    def get_converted(self, name: str, have: str, want: str) -> str:
        key = (name, want)
        if key not in self._converted:
            expr = _CONVERT[have, want].format(name)
            self._converted[key] = name if expr == name else self.temp(expr)
        return self._converted[key]

    def low_bits(self, node_id: int, width: int) -> str:
        """Return the low ``width`` (≤ 64) bits of a node as a ``uint64`` column."""
        lo, hi = self.ranges[node_id]
        kind = self.kind(node_id)
        if kind is None:
            return self.literal(self.refs[node_id].value & _mask(width), "u")
        clear = not (0 <= lo and hi >> width == 0)  # are there bits above `width` to clear?
        if kind == "o":
            return self.temp(f"({self.get(node_id, 'o')} & {self.obj(_mask(width))})"
                             f".astype(np.uint64)")
        if kind == "i" and clear and width < 64:
            return self.temp(f"_low_u64({self.get(node_id, 'i')}, {_lit(width)})")
        x = self.get(node_id, "m")  # a free view of int64, or a cast of bool
        if clear and width < 64:
            return self.temp(f"{x} & np.uint64({_lit(_mask(width))})")
        return x

    def temp(self, expr: str) -> str:
        self._temps += 1
        name = f"t{self._temps}"
        self.lines.append(f"    {name} = {expr}")
        return name


BatchTemplate = Callable[[_Batch, NodeDoc], Any]


def _stored(kind: str) -> str:
    """Return how a result computed in ``kind`` is stored: uint64 results are "m"."""
    return "m" if kind == "u" else kind


def _b_binary(symbol: str, unsigned: bool = True, boolean: bool = False) -> BatchTemplate:
    def template(g: _Batch, n: NodeDoc):
        m = g.mode(n, n.operands, unsigned, boolean)
        return f"{g.get(n.operands[0], m)} {symbol} {g.get(n.operands[1], m)}", _stored(m)
    return template


def _b_unary(symbol: str) -> BatchTemplate:
    def template(g: _Batch, n: NodeDoc):
        m = g.mode(n, n.operands, unsigned=False)  # -x and ~x are negative
        return f"{symbol}{g.get(n.operands[0], m)}", m
    return template


def _b_compare(symbol: str) -> BatchTemplate:
    def template(g: _Batch, n: NodeDoc):
        a, b = n.operands
        if g.is_bit(a) and g.is_bit(b) and "b" in (g.kind(a), g.kind(b)):
            m = "b"  # numpy orders False < True, as 0 < 1
        elif g.fits(a) and g.fits(b):
            m = "i"
        elif g.fits_u(a) and g.fits_u(b):
            m = "u"
        else:
            m = "o"
        return f"{g.get(a, m)} {symbol} {g.get(b, m)}", "b"
    return template


def _exact_mode(g: _Batch, n: NodeDoc, operands: Sequence[int]) -> str:
    """Return "i", "u" or "o": the exact kinds only (for ops whose low bits need more)."""
    m = g.mode(n, operands)
    return "o" if m == "m" else m


def _nonzero(g: _Batch, node_id: int) -> bool:
    lo, hi = g.ranges[node_id]
    return lo > 0 or hi < 0


def _b_floordiv(g: _Batch, n: NodeDoc):
    m = _exact_mode(g, n, n.operands)
    a, b = g.get(n.operands[0], m), g.get(n.operands[1], m)
    if _nonzero(g, n.operands[1]):
        return f"{a} // {b}", _stored(m)
    zero = g.temp(f"{b} == 0")
    return f"np.where({zero}, {g.literal(0, m)}, {a} // np.where({zero}, " \
           f"{g.literal(1, m)}, {b}))", _stored(m)


def _b_mod(g: _Batch, n: NodeDoc):
    m = _exact_mode(g, n, n.operands)
    a, b = g.get(n.operands[0], m), g.get(n.operands[1], m)
    if _nonzero(g, n.operands[1]):
        return f"{a} % {b}", _stored(m)
    zero = g.temp(f"{b} == 0")
    return f"np.where({zero}, {a}, {a} % np.where({zero}, {g.literal(1, m)}, {b}))", _stored(m)


def _shift_count(g: _Batch, amount: int, limit: int, kind: str) -> tuple[str, str | None]:
    """Return a shift count for a fixed-width shift (clamped below ``limit``), and the
    condition under which the exact count was below ``limit`` (``None``: always)."""
    count = g.const(amount)
    if count is not None:
        return g.literal(min(count, limit - 1), kind), None if count < limit else "False"
    b = g.get(amount, "i")
    if g.ranges[amount][1] < limit:
        return (b if kind == "i" else g.temp(f"{b}.astype(np.uint64)")), None
    clamped = g.temp(f"np.minimum({b}, {_lit(limit - 1)})")
    if kind != "i":
        clamped = g.temp(f"{clamped}.astype(np.uint64)")
    return clamped, g.temp(f"{b} < {_lit(limit)}")


def _b_shl(g: _Batch, n: NodeDoc):
    a, amount = n.operands
    if not g.fits(amount):
        return f"{g.get(a, 'o')} << {g.get(amount, 'o')}", "o"
    m = g.mode(n, (a,))
    x = g.get(a, m)
    if m == "o":
        return f"{x} << {g.get(amount, 'o')}", "o"
    # No fixed-width shift by 64 or more: numpy, like C, leaves it undefined. When the
    # result fits int64 or uint64, `a` is 0 wherever the count is that large; modulo 2**64
    # the result is 0 there.
    count, below = _shift_count(g, amount, 64, "i" if m == "i" else "u")
    if below is None or m == "i":
        return f"{x} << {count}", _stored(m)
    if below == "False":
        return f"{x} & {g.literal(0, m)}", _stored(m)
    return f"np.where({below}, {x} << {count}, {g.literal(0, m)})", _stored(m)


def _b_shr(g: _Batch, n: NodeDoc):
    a, amount = n.operands
    m = _exact_mode(g, n, (a,)) if g.fits(amount) else "o"
    x = g.get(a, m)
    if m == "o":
        return f"{x} >> {g.get(amount, 'o')}", "o"
    if m == "i":
        # An int64 shift by 63 already leaves 0 or -1, as any larger exact shift does.
        count, _ = _shift_count(g, amount, 64, "i")
        return f"{x} >> {count}", "i"
    count, below = _shift_count(g, amount, 64, "u")
    if below is None:
        return f"{x} >> {count}", "m"
    if below == "False":
        return f"{x} & np.uint64(0)", "m"
    return f"np.where({below}, {x} >> {count}, np.uint64(0))", "m"


def _b_mux(g: _Batch, n: NodeDoc):
    sel, f, t = n.operands
    m = g.mode(n, (f, t), boolean=True)
    return f"np.where({g.get(sel, 'b')}, {g.get(t, m)}, {g.get(f, m)})", _stored(m)


def _b_wrap(g: _Batch, n: NodeDoc):
    (a,) = n.operands
    width, signed = n.attrs["width"], n.attrs["signed"]
    mask, half = _mask(width), 1 << (width - 1)
    if width <= 64 and (g.kind(a) in ("m", "b") or not g.fits(a)):
        x = g.low_bits(a, width)
        if not signed:
            return x, "m"
        if width == 64:
            return f"{x}.view(np.int64)", "i"
        return f"(({x} ^ np.uint64({_lit(half)})) - np.uint64({_lit(half)})).view(np.int64)", "i"
    if g.fits(a) and width <= 63:
        x = g.get(a, "i")
        if not signed:
            return f"{x} & {_lit(mask)}", "i"
        return f"(({x} & {_lit(mask)}) ^ {_lit(half)}) - {_lit(half)}", "i"
    if g.fits(a) and width == 64:  # unsigned (a signed i64 wrap of an int64 is folded)
        return f"{g.get(a, 'm')}", "m"
    x = g.get(a, "o")
    if not signed:
        return f"{x} & {g.obj(mask)}", "o"
    return f"(({x} & {g.obj(mask)}) ^ {g.obj(half)}) - {g.obj(half)}", "o"


def _index_in(g: _Batch, index: int, lo: int, hi: int, out: int) -> str:
    """Return an int64 column: ``index`` where it lies in ``lo..hi``, else ``out``."""
    ilo, ihi = g.ranges[index]
    if lo <= ilo and ihi <= hi:
        return g.get(index, "i")
    x = g.get(index, "i" if g.fits(index) else "o")
    if ilo >= lo:
        inside = f"{x} <= {_lit(hi)}"
    else:
        inside = f"({x} >= {_lit(lo)}) & ({x} <= {_lit(hi)})"
    expr = f"np.where({inside}, {x}, {_lit(out)})"
    return g.temp(expr if g.fits(index) else f"{expr}.astype(np.int64)")


def _b_rom(g: _Batch, n: NodeDoc):
    values = n.attrs["values"]
    kind = "i" if g.fits(n.id) else "u" if g.fits_u(n.id) else "o"
    dtype = {"i": np.int64, "u": np.uint64, "o": object}[kind]
    # Entries the index cannot reach may not fit the table's type; they are never read.
    limits = {"i": fits_int64, "u": fits_uint64, "o": lambda lo, hi: True}[kind]
    padded = [v if limits(v, v) else 0 for v in values] + [0]
    table = np.empty(len(padded), dtype=dtype)
    table[:] = padded
    index = _index_in(g, n.operands[0], 0, len(values) - 1, len(values))
    return f"{g.name(table)}[{index}]", _stored(kind)


def _b_select(g: _Batch, n: NodeDoc):
    index, elems = n.operands[0], n.operands[1:]
    lo, hi = g.ranges[index]
    positions = list(range(max(lo, 0), min(hi, len(elems) - 1) + 1))
    outside = lo < 0 or hi >= len(elems)
    m = g.mode(n, [elems[j] for j in positions], boolean=True)
    if len(positions) > 8:
        ix = _index_in(g, index, positions[0], positions[-1], positions[-1] + 1)
        if positions[0]:
            ix = g.temp(f"{ix} - {_lit(positions[0])}")
        columns = [g.get(elems[j], m) for j in positions] + [g.literal(0, m)]
        dtype = {"i": "np.int64", "u": "np.uint64", "m": "np.uint64", "o": "object",
                 "b": "np.bool_"}[m]
        return f"_gather({ix}, [{', '.join(columns)}], n, {dtype})", _stored(m)
    x = g.get(index, "i" if g.fits(index) else "o")
    if outside:
        acc, chain = g.literal(0, m), positions
    else:
        acc, chain = g.get(elems[positions[-1]], m), positions[:-1]
    for j in chain:
        acc = g.temp(f"np.where({x} == {_lit(j)}, {g.get(elems[j], m)}, {acc})")
    return acc, _stored(m)


def _elementwise(g: _Batch, n: NodeDoc):
    """Apply the exact scalar rule per element, on object columns."""
    spec, attrs = OP_SPECS[n.op], n.attrs
    fn = _kernels.elementwise(lambda *values: spec.evaluate(attrs, *values), len(n.operands))
    args = ", ".join(g.get(o, "o") for o in n.operands)
    return f"{g.name(fn)}({args})", "o"


def _b_count(kernel: str, with_width: bool) -> BatchTemplate:
    def template(g: _Batch, n: NodeDoc):
        (a,) = n.operands
        width = n.attrs["width"]
        if width > 64:
            return _elementwise(g, n)
        x = g.low_bits(a, width)
        args = f"{x}, {_lit(width)}" if with_width else x
        return f"{kernel}({args})", "m" if kernel == "_reverse64" else "i"
    return template


def _b_rotate(left: bool) -> BatchTemplate:
    def template(g: _Batch, n: NodeDoc):
        a, amount = n.operands
        width = n.attrs["width"]
        if width > 64:
            return _elementwise(g, n)
        x = g.low_bits(a, width)
        count = g.const(amount)
        if count is not None:
            shift = _lit(count % width if left else (width - count % width) % width)
        else:
            mod = f"{g.get(amount, 'i' if g.fits(amount) else 'o')} % {_lit(width)}"
            if not g.fits(amount):
                mod = f"({mod}).astype(np.int64)"
            shift = g.temp(mod if left else f"({_lit(width)} - {mod}) % {_lit(width)}")
        return f"_rotl64({x}, {shift}, {_lit(width)})", "m"
    return template


def _b_concat(g: _Batch, n: NodeDoc):
    widths = n.attrs["widths"]
    total = sum(widths)
    kind = "u" if total <= 64 else "o"
    parts, shift, constant = [], total, 0
    for o, width in zip(n.operands, widths):
        shift -= width
        value = g.const(o)
        if value is not None:
            constant |= (value & _mask(width)) << shift
        elif kind == "u":
            parts.append(f"({g.low_bits(o, width)} << np.uint64({_lit(shift)}))")
        elif width <= 64 and g.kind(o) != "o":
            bits = g.temp(f"{g.low_bits(o, width)}.astype(object)")
            parts.append(f"({bits} << {_lit(shift)})")
        else:
            parts.append(f"(({g.get(o, 'o')} & {g.obj(_mask(width))}) << {_lit(shift)})")
    if constant:
        parts.append(g.literal(constant, kind))
    return " | ".join(parts), _stored(kind)


def _b_param(g: _Batch, n: NodeDoc):
    raise AssertionError("params are bound by the function signature")


def _b_alias(g: _Batch, n: NodeDoc):
    raise AssertionError("consts and outputs are folded or aliased before templates run")


BATCH_TEMPLATES: dict[str, BatchTemplate] = {
    "const": _b_alias,
    "param": _b_param,
    "output": _b_alias,
    "add": _b_binary("+"),
    "sub": _b_binary("-"),
    "mul": _b_binary("*", boolean=True),
    "neg": _b_unary("-"),
    "floordiv": _b_floordiv,
    "mod": _b_mod,
    "and": _b_binary("&", boolean=True),
    "or": _b_binary("|", boolean=True),
    "xor": _b_binary("^", boolean=True),
    "not": _b_unary("~"),
    "shl": _b_shl,
    "shr": _b_shr,
    "eq": _b_compare("=="),
    "ne": _b_compare("!="),
    "lt": _b_compare("<"),
    "le": _b_compare("<="),
    "gt": _b_compare(">"),
    "ge": _b_compare(">="),
    "mux": _b_mux,
    "wrap": _b_wrap,
    "rom": _b_rom,
    "select": _b_select,
    "popcount": _b_count("_popcount64", False),
    "clz": _b_count("_clz64", True),
    "ctz": _b_count("_ctz64", True),
    "reverse": _b_count("_reverse64", True),
    "rotl": _b_rotate(True),
    "rotr": _b_rotate(False),
    "concat": _b_concat,
}


def _fold(g: _Batch, n: NodeDoc) -> _Const | _Var | None:
    """Return what a node is without computing a column, if that is known statically."""
    if n.op == "const":
        return _Const(n.attrs["value"])
    if n.op == "output":
        return g.refs[n.operands[0]]
    values = [g.const(o) for o in n.operands]
    if None not in values:
        return _Const(OP_SPECS[n.op].evaluate(n.attrs, *values))
    lo, hi = g.ranges[n.id]
    if lo == hi:  # the range analysis proves the value
        return _Const(lo)
    if n.op == "mux" and values[0] is not None:
        return g.refs[n.operands[2] if values[0] else n.operands[1]]
    if n.op == "select" and values[0] is not None:
        index = values[0]
        return g.refs[n.operands[1 + index]] if 0 <= index < len(n.operands) - 1 else _Const(0)
    if n.op == "wrap" and not g.inexact(n.operands[0]):
        tlo, thi = type_range(n.attrs["width"], n.attrs["signed"])
        alo, ahi = g.ranges[n.operands[0]]
        if tlo <= alo and ahi <= thi:  # every value already fits: the wrap changes nothing
            return g.refs[n.operands[0]]
    if n.op == "mod" and values[1] == 0:
        return g.refs[n.operands[0]]
    return None


def _batch_source(route: RouteDoc, param_paths: Sequence[str], param_kinds: Sequence[str],
                  output_paths: Sequence[str], output_kinds: Sequence[str]
                  ) -> tuple[str, dict[str, Any]]:
    nodes = _live(route)
    g = _Batch(route, nodes)
    order = {p: i for i, p in enumerate(param_paths)}
    outputs: dict[str, int] = {}
    for n in nodes:
        if n.op == "param":
            k = order[n.attrs["path"]]
            g.refs[n.id] = _Var(f"p{k}", _stored(param_kinds[k]))
            continue
        if n.op == "output":
            outputs[n.attrs["path"]] = n.id
        folded = _fold(g, n)
        if folded is not None:
            g.refs[n.id] = folded
            continue
        expr, kind = BATCH_TEMPLATES[n.op](g, n)
        g.lines.append(f"    v{n.id} = {expr}")
        g.refs[n.id] = _Var(f"v{n.id}", kind)
    results = []
    for path, kind in zip(output_paths, output_kinds):
        node_id = outputs[path]
        value = g.const(node_id)
        if value is not None:
            results.append(f"_full({g.literal(value, kind)}, n, {kind!r})")
        else:
            results.append(g.get(node_id, kind))
    head = f"def batch(n, {''.join(f'p{i}, ' for i in range(len(param_paths)))}):"
    body = g.lines + [f"    return ({''.join(r + ', ' for r in results)})"]
    return "\n".join([head, *body]) + "\n", g.namespace


# --- compiling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledRoute:
    """A route's generated functions and their sources (for debugging and tests)."""

    scalar: Callable[..., tuple]
    batch: Callable[..., tuple]
    scalar_source: str
    batch_source: str


def _compile(source: str, namespace: dict[str, Any], name: str, filename: str) -> Callable:
    code = compile(source, filename, "exec")
    exec(code, namespace)  # noqa: S102 - the source is generated here from validated data
    return namespace[name]


def compile_route(route: RouteDoc, param_paths: Sequence[str], param_kinds: Sequence[str],
                  output_paths: Sequence[str], output_kinds: Sequence[str]) -> CompiledRoute:
    """Generate and compile a route's scalar and batch functions.

    ``param_kinds`` and ``output_kinds`` say how each leaf column travels:
    "i" int64, "u" uint64, "o" object array of Python ints.
    """
    s_src, s_ns = _scalar_source(route, param_paths, output_paths)
    b_src, b_ns = _batch_source(route, param_paths, param_kinds, output_paths, output_kinds)
    where = f"<fpgac model {route.name}>"
    return CompiledRoute(_compile(s_src, s_ns, "scalar", where),
                         _compile(b_src, b_ns, "batch", where), s_src, b_src)
