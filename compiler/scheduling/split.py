"""Split operations slower than a clock period into pieces that stages can hold.

- ``add``, ``sub``, ``neg``: a chain of k-bit additions, each taking the previous
  piece's carry (or borrow). A carry enters a piece through its low bit:
  ``(2a + c) + (2b + c) == 2(a + b + c)``, so every piece is one addition.
- ``lt``, ``le``, ``gt``, ``ge``: the same chain of subtractions, keeping only the
  top piece's sign; ``eq``, ``ne``: per-piece equalities joined by ``and``.
- ``popcount``, ``clz``, ``ctz``: halved (two narrower counts joined by an ``add``,
  or a ``mux`` on whether one half is zero) until the halves fit.
- ``shl``, ``shr``, ``rotl``, ``rotr`` by a variable amount: one 2:1 ``mux`` per bit
  of the amount, choosing between the value and the value shifted by a constant.
- ``mul``: the sum of the products of the operands' halves, each shifted into place.

Every new node is an ordinary IR op, so the interpreter gives the same results
before and after, and the scheduler may place each piece in its own stage. An
operation that is still too slow (a divider, a ROM, a wide ``select``, or one whose
smallest pieces do not fit) is the user's to fix: :class:`FpgacError` names it
and its source line.
"""

from __future__ import annotations

from pathlib import Path

from ..frontend.diagnostics import Diagnostic, FpgacError
from ..ir.bits import reduce_balanced
from ..ir.graph import Graph, Node
from ..ir.ops import OPS
from ..ir.ranges import value_ranges
from ..ir.span import Span
from ..ir.types import narrowest
from .delay_model import DelayModel

__all__ = ["split_slow_ops", "SPLITTABLE", "too_slow_error", "widen_types"]

SPLITTABLE = frozenset({"add", "sub", "neg", "lt", "le", "gt", "ge", "eq", "ne",
                        "popcount", "clz", "ctz", "shl", "shr", "rotl", "rotr", "mul"})
_EPSILON_NS = 1e-9


def split_slow_ops(graph: Graph, model: DelayModel, budget_ns: float, *,
                   clock_mhz: float) -> Graph:
    """Return ``graph``, or a rewritten copy in which no operation is slower than ``budget_ns``.

    Raise :class:`FpgacError` for every operation that cannot be made fast enough.
    """
    slow = _slow(graph, model, budget_ns)
    if not slow:
        return graph
    result = graph.copy()
    ranges = value_ranges(result)
    # Halving a popcount or a priority encoder can leave halves that are still too slow:
    # split again until everything fits (each round at least halves the widths).
    for _ in range(64):
        errors = []
        for stale in slow:
            node = result[stale.id]  # splitting an operand gave it new operands
            builder = _Builder(result, ranges, node.span)
            replacement = _split(builder, node, model, budget_ns)
            if replacement is None:
                errors.append(_diagnostic(result, node, model, clock_mhz))
                continue
            result.replace_uses(node.id, replacement)
            result.remove(node.id)
        if errors:
            raise FpgacError(errors, _source_of(errors))
        # Widening the types the pieces' looser ranges need can make another operation
        # wider, and so slower: it is split in the next round.
        widen_types(result)
        slow = _slow(result, model, budget_ns)
        if not slow:
            break
    else:
        raise AssertionError("splitting did not converge")
    return result


def too_slow_error(graph: Graph, nodes: list[Node], model: DelayModel,
                   clock_mhz: float) -> FpgacError:
    """Return the error for operations that do not fit one stage at ``clock_mhz``."""
    errors = [_diagnostic(graph, node, model, clock_mhz) for node in nodes]
    return FpgacError(errors, _source_of(errors))


def _slow(graph: Graph, model: DelayModel, budget_ns: float) -> list[Node]:
    return [node for node in graph if model.delay(node, graph) > budget_ns + _EPSILON_NS]


# --- the rewrites -------------------------------------------------------------------------


class _Builder:
    """Add nodes typed by their value ranges (node types can be looser than the ranges)."""

    def __init__(self, graph: Graph, ranges: dict[int, tuple[int, int]], span: Span | None):
        self.graph, self.ranges, self.span = graph, ranges, span

    def width(self, node_id: int) -> int:
        return self.graph[node_id].type.width

    def add(self, op: str, operands, **attrs) -> int:
        rng = OPS[op].range(attrs, *(self.ranges[o] for o in operands))
        node_id = self.graph.add(op, operands, type=narrowest(*rng), span=self.span, **attrs)
        self.ranges[node_id] = rng
        return node_id

    def const(self, value: int) -> int:
        return self.add("const", (), value=value)


def _largest_piece(model: DelayModel, key: str, budget_ns: float, width: int,
                   extra_bits: int) -> int | None:
    """Return the widest k < ``width`` whose piece (``k + extra_bits`` wide) fits the budget."""
    fitting = [k for k in range(1, width)
               if model.key_delay(key, k + extra_bits) <= budget_ns + _EPSILON_NS]
    return max(fitting, default=None)


def _split(b: _Builder, node: Node, model: DelayModel, budget_ns: float) -> int | None:
    """Add the pieces of ``node``; return the id of the equal value, or None if it cannot."""
    if node.op in ("popcount", "clz", "ctz"):
        return _split_count(b, node) if node["width"] >= 2 else None
    if node.op in ("shl", "shr", "rotl", "rotr"):
        return _split_shift(b, node)
    if node.op == "mul":
        return _split_mul(b, node)
    if node.op not in SPLITTABLE:
        return None
    if node.op == "neg":
        x, y = b.const(0), node.operands[0]
    else:
        x, y = node.operands
    width = max(b.width(x), b.width(y))
    if node.op in ("eq", "ne"):
        k = _largest_piece(model, "compare", budget_ns, width, 0)
        return None if k is None else _split_eq(b, x, y, k, negate=node.op == "ne")
    # A piece adds two (k+1)-bit values; a signed top piece against an unsigned one can
    # need one bit more.
    k = _largest_piece(model, "add", budget_ns, width, 3)
    if k is None:
        return None
    if node.op in ("gt", "ge"):
        x, y = y, x
    if node.op in ("lt", "gt", "le", "ge"):
        # x < y  <=>  x - y < 0;  x <= y  <=>  x - y - 1 < 0: only the top piece's sign.
        borrow = b.const(1) if node.op in ("le", "ge") else None
        top, _ = _carry_chain(b, x, y, k, subtract=True, carry=borrow)
        sign = b.add("shr", (top, b.const(b.width(top))))  # -1 if negative, else 0
        return b.add("and", (sign, b.const(1)))
    top, lows = _carry_chain(b, x, y, k, subtract=node.op in ("sub", "neg"), carry=None)
    low_bits = k * len(lows)
    # The top field is wide enough that the joined pattern holds the whole result.
    top_width = max(b.width(top), node.type.width - low_bits)
    joined = b.add("concat", (top, *reversed(lows)), widths=(top_width, *([k] * len(lows))))
    return b.add("wrap", (joined,), width=node.type.width, signed=node.type.signed)


def _pieces(b: _Builder, x: int, k: int, n: int) -> list[int]:
    """Return ``n`` pieces of ``x``: k-bit unsigned ones from the bottom, then the exact rest."""
    pieces = []
    for i in range(n):
        shifted = x if i == 0 else b.add("shr", (x, b.const(i * k)))
        if i < n - 1:
            shifted = b.add("wrap", (shifted,), width=k, signed=False)
        pieces.append(shifted)
    return pieces


def _with_low_bit(b: _Builder, x: int, bit: int) -> int:
    """Return ``2 * x + bit`` built from wiring (``bit`` is 0 or 1)."""
    ty = b.graph[x].type
    joined = b.add("concat", (x, bit), widths=(ty.width, 1))
    if ty.signed:  # concat gives the bit pattern; read it back as two's complement
        joined = b.add("wrap", (joined,), width=ty.width + 1, signed=True)
    return joined


def _carry_chain(b: _Builder, x: int, y: int, k: int, *, subtract: bool,
                 carry: int | None) -> tuple[int, list[int]]:
    """Add (or subtract) ``x`` and ``y`` in k-bit pieces, with an optional carry (borrow) in.

    Return the exact top piece and the k-bit low pieces, lowest first:
    ``x ± y ± carry == top * 2**(k*len(lows)) + sum(low_i * 2**(k*i))``.
    """
    n = -(-max(b.width(x), b.width(y)) // k)
    px, py = _pieces(b, x, k, n), _pieces(b, y, k, n)
    op = "sub" if subtract else "add"
    lows: list[int] = []
    for i in range(n):
        if carry is None:
            value = b.add(op, (px[i], py[i]))
        else:
            # add: (2x + c) + (2y + c) == 2(x + y + c); sub: 2x - (2y + c) >> 1 == x - y - c.
            left = _with_low_bit(b, px[i], b.const(0) if subtract else carry)
            right = _with_low_bit(b, py[i], carry)
            value = b.add("shr", (b.add(op, (left, right)), b.const(1)))
        if i == n - 1:
            return value, lows
        lows.append(b.add("wrap", (value,), width=k, signed=False))
        out = b.add("shr", (value, b.const(k)))
        # A sum's carry is 0 or 1; a difference's borrow shows as -1, taken as the bit 1.
        carry = b.add("and", (out, b.const(1))) if subtract else out
    raise AssertionError("unreachable")


def _split_eq(b: _Builder, x: int, y: int, k: int, *, negate: bool) -> int:
    n = -(-max(b.width(x), b.width(y)) // k)
    terms = [b.add("eq", pair) for pair in zip(_pieces(b, x, k, n), _pieces(b, y, k, n))]
    while len(terms) > 1:  # a balanced tree keeps the depth logarithmic
        terms = [b.add("and", (terms[i], terms[i + 1])) if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return b.add("xor", (terms[0], b.const(1))) if negate else terms[0]


def _split_mul(b: _Builder, node: Node) -> int | None:
    """Split a product into partial products of half-width operands.

    ``x == x_hi * 2**h + x_lo``, so ``x * y`` is the sum of the products of the halves,
    each shifted into place (a constant shift: wiring); only operands wider than ``h``
    are split. When every user of the product wraps it to at most ``k`` bits, only the
    low ``k`` bits of the sum matter: a partial product shifted by ``k`` or more is left
    out, and the others are cut to the bits below ``k`` (the returned value then equals
    the product modulo ``2**k``, which is all its users read).
    """
    x, y = node.operands
    width = max(b.width(x), b.width(y))
    if width < 2:
        return None
    half = (width + 1) // 2
    keep = _low_bits_read(b.graph, node)

    def halves(v):  # (piece, its weight in bits)
        if b.width(v) <= half:
            return [(v, 0)]
        return [(b.add("wrap", (v,), width=half, signed=False), 0),
                (b.add("shr", (v, b.const(half))), half)]

    def cut(v, bits):  # the low ``bits`` bits of v, when only those are read
        if keep is not None and b.width(v) > bits:
            return b.add("wrap", (v,), width=bits, signed=False)
        return v

    def adder_tree(values):
        return reduce_balanced(values, lambda x, y: b.add("add", (x, y)))

    # Products of the same weight are summed before they are shifted into place: when
    # only the low bits are read, that sum is as narrow as what is left of them
    # (``(lh + hl) << h`` adds h-bit values, where ``(lh << h) + (hl << h)`` adds 2h bits).
    by_shift: dict[int, list[int]] = {}
    for px, sx in halves(x):
        for py, sy in halves(y):
            shift = sx + sy
            if keep is not None and shift >= keep:
                continue
            by_shift.setdefault(shift, []).append(
                cut(b.add("mul", (px, py)), (keep or 0) - shift))
    terms = []
    for shift, products in sorted(by_shift.items()):
        total = cut(adder_tree(products), (keep or 0) - shift) if len(products) > 1 \
            else products[0]
        terms.append(b.add("shl", (total, b.const(shift))) if shift else total)
    return adder_tree(terms)


def _low_bits_read(graph: Graph, node: Node) -> int | None:
    """Return ``k`` when every user of ``node`` wraps it to at most ``k`` bits, else ``None``."""
    users = [graph[u] for u in graph.users(node.id)]
    if not users or any(u.op != "wrap" for u in users):
        return None
    keep = max(u["width"] for u in users)
    return keep if keep < node.type.width else None


def _split_shift(b: _Builder, node: Node) -> int | None:
    """Split a variable shift or rotation into one 2:1 mux per bit of the amount.

    ``x << n == (((x << n0) << 2*n1) << 4*n2) ...`` for the bits ``n_i`` of ``n``, and
    each step is a mux between the value and the value shifted by a constant (wiring).
    """
    x, amount = node.operands
    if node.op in ("rotl", "rotr"):
        width = node["width"]
        if width & (width - 1):
            return None  # the amount is taken modulo a width that is not a power of two
        bits = width.bit_length() - 1
        value = b.add("wrap", (x,), width=width, signed=False)
        if bits == 0:
            return value
    else:
        bits = max(1, b.ranges[amount][1].bit_length())
        value = x
    for i in range(bits):
        bit = b.add("and", (b.add("shr", (amount, b.const(i))), b.const(1)))
        attrs = {"width": node["width"]} if node.op in ("rotl", "rotr") else {}
        moved = b.add(node.op, (value, b.const(1 << i)), **attrs)
        value = b.add("mux", (bit, value, moved))
    return value


def _split_count(b: _Builder, node: Node) -> int:
    """Split a popcount, clz or ctz of W bits into two halves and combine them."""
    (x,) = node.operands
    width = node["width"]
    half = width // 2
    lo = b.add("wrap", (x,), width=half, signed=False)
    hi = b.add("wrap", (b.add("shr", (x, b.const(half))),), width=width - half, signed=False)
    if node.op == "popcount":
        return b.add("add", (b.add("popcount", (lo,), width=half),
                             b.add("popcount", (hi,), width=width - half)))
    if node.op == "ctz":  # the low half's count, or all of it plus the high half's
        whole = b.add("add", (b.add("ctz", (hi,), width=width - half), b.const(half)))
        return b.add("mux", (b.add("eq", (lo, b.const(0))), b.add("ctz", (lo,), width=half),
                             whole))
    whole = b.add("add", (b.add("clz", (lo,), width=half), b.const(width - half)))
    return b.add("mux", (b.add("eq", (hi, b.const(0))),
                         b.add("clz", (hi,), width=width - half), whole))


def widen_types(g: Graph) -> None:
    """Widen the types that no longer hold their range.

    The pieces' ranges are intervals of intervals, so the joined result can have a
    looser range than the exact operation had (never beyond its type); users typed
    for the tighter range may need a bit more. Values never depend on types.
    """
    ranges = value_ranges(g)
    for node in list(g):
        lo, hi = ranges[node.id]
        if not node.type.holds(lo, hi):
            g.replace(node.id, type=narrowest(min(lo, node.type.min), max(hi, node.type.max)))


# --- the user's error ---------------------------------------------------------------------


def _describe(graph: Graph, node: Node) -> str:
    info = OPS[node.op]
    types = " and ".join(str(graph[o].type) for o in node.operands)
    what = f"`{info.symbol}`" if info.symbol else f"`{node.op}`"
    return f"{what} ({node.op} of {types})" if types else what


def _diagnostic(graph: Graph, node: Node, model: DelayModel, clock_mhz: float) -> Diagnostic:
    delay = model.delay(node, graph)
    period = 1000.0 / clock_mhz
    budget = period - model.register_overhead_ns
    fastest = 1000.0 / (model.register_overhead_ns + delay)
    why = ("even split into the smallest pieces, a piece does not fit"
           if node.op in SPLITTABLE else "it cannot be split across stages")
    message = (f"{_describe(graph, node)} needs an estimated {delay:.1f} ns on `{model.target}`, "
               f"but at {clock_mhz:g} MHz a stage has {max(budget, 0):.1f} ns "
               f"({period:.1f} ns period minus {model.register_overhead_ns:.1f} ns of register "
               f"overhead), and {why}; use `--clock-mhz {int(fastest * 10) / 10:g}` or lower, "
               f"or narrow its operands")
    span = node.span or Span(graph.name, 0, 0, 0, 0)
    return Diagnostic(span, message)


def _source_of(errors: list[Diagnostic]) -> str | None:
    """Return the text of the file the diagnostics point into, if it can be read."""
    files = {d.span.file for d in errors}
    if len(files) != 1:
        return None
    try:
        return Path(files.pop()).read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
