"""Algebraic simplification: identities, and facts proven by value ranges."""

from __future__ import annotations

from collections.abc import Callable

from ..ir.graph import Graph, Node
from ..ir.ops import OPS
from ..ir.ranges import value_ranges
from ._util import KEPT_OPS, repair_types

__all__ = ["AlgebraicSimplify"]

Range = tuple[int, int]

# A rewrite of one node, all keeping its value exact:
#   ("use", other)                      every user of the node uses ``other`` instead
#   ("const", value)                    the node becomes a constant
#   ("op", op, operands, attrs)         the node becomes another operation, in place
Rewrite = tuple


def _decide(op: str, a: Range, b: Range) -> int | None:
    """Return the comparison's value if the operand ranges decide it, else ``None``."""
    (alo, ahi), (blo, bhi) = a, b
    if op in ("eq", "ne"):
        if alo == ahi == blo == bhi:
            result = 1
        elif ahi < blo or bhi < alo:
            result = 0
        else:
            return None
        return result if op == "eq" else 1 - result
    if op in ("gt", "ge"):  # a > b is b < a
        (alo, ahi), (blo, bhi), op = b, a, {"gt": "lt", "ge": "le"}[op]
    if op == "lt":
        return 1 if ahi < blo else 0 if alo >= bhi else None
    return 1 if ahi <= blo else 0 if alo > bhi else None  # le


class _Rules:
    """The rewrite rules, one method per op, reading the graph and a range table."""

    def __init__(self, graph: Graph, ranges: dict[int, Range]):
        self.graph = graph
        self.ranges = ranges

    def const(self, node_id: int) -> int | None:
        node = self.graph[node_id]
        return node["value"] if node.op == "const" else None

    def is_op(self, node_id: int, op: str) -> bool:
        return self.graph[node_id].op == op

    def rewrite(self, node: Node) -> Rewrite | None:
        lo, hi = self.ranges[node.id]
        if lo == hi:
            return ("const", lo)
        rule: Callable[[Node], Rewrite | None] | None = getattr(self, "r_" + node.op, None)
        if rule is None and OPS[node.op].comparison:
            rule = self.r_compare
        return rule(node) if rule else None

    # -- arithmetic ---------------------------------------------------------------------------

    def r_add(self, node: Node) -> Rewrite | None:
        a, b = node.operands
        if self.const(b) == 0:
            return ("use", a)
        if self.const(a) == 0:
            return ("use", b)
        if self.is_op(b, "neg"):
            return ("op", "sub", (a, self.graph[b].operands[0]), {})
        if self.is_op(a, "neg"):
            return ("op", "sub", (b, self.graph[a].operands[0]), {})
        return None

    def r_sub(self, node: Node) -> Rewrite | None:
        a, b = node.operands
        if a == b:
            return ("const", 0)
        if self.const(b) == 0:
            return ("use", a)
        if self.const(a) == 0:
            return ("op", "neg", (b,), {})
        if self.is_op(b, "neg"):
            return ("op", "add", (a, self.graph[b].operands[0]), {})
        return None

    def r_mul(self, node: Node) -> Rewrite | None:
        for x, k in (node.operands, node.operands[::-1]):
            value = self.const(k)
            if value == 0:
                return ("const", 0)
            if value == 1:
                return ("use", x)
            if value == -1:
                return ("op", "neg", (x,), {})
        return None

    def r_neg(self, node: Node) -> Rewrite | None:
        (a,) = node.operands
        inner = self.graph[a]
        if inner.op == "neg":
            return ("use", inner.operands[0])
        if inner.op == "sub":
            return ("op", "sub", inner.operands[::-1], {})
        return None

    def r_floordiv(self, node: Node) -> Rewrite | None:
        a, b = node.operands
        d = self.const(b)
        if d == 1:
            return ("use", a)
        if d == 0:
            return ("const", 0)  # x // 0 == 0
        if d == -1:
            return ("op", "neg", (a,), {})
        return None

    def r_mod(self, node: Node) -> Rewrite | None:
        a, b = node.operands
        if a == b:
            return ("const", 0)  # x % x == 0, also for x == 0 (0 % 0 == 0)
        d = self.const(b)
        if d in (1, -1):
            return ("const", 0)
        if d == 0:
            return ("use", a)  # x % 0 == x
        lo, hi = self.ranges[a]
        if d is not None and (0 <= lo and hi < d or d < lo and hi <= 0):
            return ("use", a)  # already a remainder
        return None

    # -- bitwise ------------------------------------------------------------------------------

    def r_and(self, node: Node) -> Rewrite | None:
        a, b = node.operands
        if a == b:
            return ("use", a)
        for x, k in (node.operands, node.operands[::-1]):
            mask = self.const(k)
            if mask is None:
                continue
            if mask == -1:
                return ("use", x)
            lo, hi = self.ranges[x]
            ones = (1 << hi.bit_length()) - 1
            if lo >= 0 and mask & ones == ones:
                return ("use", x)  # the mask keeps every bit x can have
        return None

    def r_or(self, node: Node) -> Rewrite | None:
        a, b = node.operands
        if a == b:
            return ("use", a)
        for x, k in (node.operands, node.operands[::-1]):
            value = self.const(k)
            if value == 0:
                return ("use", x)
            if value == -1:
                return ("const", -1)
        return None

    def r_xor(self, node: Node) -> Rewrite | None:
        a, b = node.operands
        if a == b:
            return ("const", 0)
        for x, k in (node.operands, node.operands[::-1]):
            value = self.const(k)
            if value == 0:
                return ("use", x)
            if value == -1:
                return ("op", "not", (x,), {})
        return None

    def r_not(self, node: Node) -> Rewrite | None:
        inner = self.graph[node.operands[0]]
        return ("use", inner.operands[0]) if inner.op == "not" else None

    def r_shl(self, node: Node) -> Rewrite | None:
        a, b = node.operands
        return ("use", a) if self.const(b) == 0 else None

    r_shr = r_shl

    def r_rotl(self, node: Node) -> Rewrite | None:
        a, n = node.operands
        amount = self.const(n)
        if amount is not None and amount % node["width"] == 0:
            return ("op", "wrap", (a,), {"width": node["width"], "signed": False})
        return None

    r_rotr = r_rotl

    def r_reverse(self, node: Node) -> Rewrite | None:
        inner = self.graph[node.operands[0]]
        if inner.op == "reverse" and inner["width"] == node["width"]:
            return ("op", "wrap", inner.operands, {"width": node["width"], "signed": False})
        return None

    def r_concat(self, node: Node) -> Rewrite | None:
        if len(node.operands) == 1:
            return ("op", "wrap", node.operands, {"width": node["widths"][0], "signed": False})
        return None

    # -- comparisons --------------------------------------------------------------------------

    def r_compare(self, node: Node) -> Rewrite | None:
        a, b = node.operands
        fn = OPS[node.op].evaluate
        if a == b:
            return ("const", fn(node.attrs, 0, 0))
        decided = _decide(node.op, self.ranges[a], self.ranges[b])
        if decided is not None:
            return ("const", decided)
        # A bit compared with a constant is often the bit itself (``b == 1``, ``b > 0``).
        for x, k, flip in ((a, b, False), (b, a, True)):
            value = self.const(k)
            lo, hi = self.ranges[x]
            if value is None or lo < 0 or hi > 1:
                continue
            results = [fn(node.attrs, *((value, v) if flip else (v, value))) for v in (0, 1)]
            if results == [0, 1]:
                return ("use", x)
        return None

    # -- selection ----------------------------------------------------------------------------

    def r_mux(self, node: Node) -> Rewrite | None:
        s, f, t = node.operands
        slo, shi = self.ranges[s]
        if slo == shi:
            return ("use", t if slo else f)
        if f == t:
            return ("use", f)
        if self.const(f) == 0 and (self.const(t) == 1 or t == s):
            return ("use", s)  # the selector is a bit
        # An arm that is a mux on the same selector only ever shows one of its arms.
        inner_f, inner_t = self.graph[f], self.graph[t]
        if inner_f.op == "mux" and inner_f.operands[0] == s:
            return ("op", "mux", (s, inner_f.operands[1], t), {})
        if inner_t.op == "mux" and inner_t.operands[0] == s:
            return ("op", "mux", (s, f, inner_t.operands[2]), {})
        return None

    def r_select(self, node: Node) -> Rewrite | None:
        index, *elems = node.operands
        lo, hi = self.ranges[index]
        if lo == hi:
            return ("use", elems[lo]) if 0 <= lo < len(elems) else ("const", 0)
        if 0 <= lo and hi < len(elems) and len(set(elems[lo:hi + 1])) == 1:
            return ("use", elems[lo])
        return None

    def r_wrap(self, node: Node) -> Rewrite | None:
        (a,) = node.operands
        width, signed = node["width"], node["signed"]
        tlo = -(1 << (width - 1)) if signed else 0
        thi = (1 << (width - 1)) - 1 if signed else (1 << width) - 1
        lo, hi = self.ranges[a]
        if tlo <= lo and hi <= thi:
            return ("use", a)  # wrapping changes nothing
        inner = self.graph[a]
        if inner.op == "wrap" and inner["width"] >= width:
            # The low bits of the low bits are the low bits.
            return ("op", "wrap", inner.operands, dict(node.attrs))
        return None


class AlgebraicSimplify:
    """Apply algebraic identities and replace what value ranges decide.

    Among them: ``x+0``, ``x-0``, ``x*1``, ``x*0``, ``x&0``, ``x|0``, ``x^0``,
    ``x^x``, ``x-x``, ``x&x``, ``x|x``, ``x//1``, ``x%1``, shifts by 0, double
    ``neg`` and ``not``, a mux with a constant selector or equal arms,
    ``mux(s, 0, 1) -> s``, a wrap that cannot change its operand, a wrap of a
    wider wrap, comparisons decided by ranges (``u8 < 256``), and any node whose
    range is a single value.
    """

    name = "simplify"

    #: Rewrites of one node in a row before moving on (each makes progress; the
    #: pass manager repeats the pipeline anyway).
    max_rewrites_per_node = 8

    def run(self, graph: Graph) -> bool:
        """Simplify; return whether anything changed."""
        # Ranges are facts about values, and every rewrite keeps values exact,
        # so ranges computed once stay sound for the whole run.
        rules = _Rules(graph, value_ranges(graph))
        changed = False
        for node_id in graph.order():
            for _ in range(self.max_rewrites_per_node):
                if node_id not in graph:
                    break
                node = graph[node_id]
                if node.op in KEPT_OPS or node.op == "const":
                    break
                rewrite = rules.rewrite(node)
                if rewrite is None:
                    break
                changed = True
                kind = rewrite[0]
                if kind == "use":
                    graph.replace_uses(node_id, rewrite[1])
                    graph.remove(node_id)
                elif kind == "const":
                    graph.replace(node_id, op="const", operands=(), attrs={"value": rewrite[1]})
                    rules.ranges[node_id] = (rewrite[1], rewrite[1])
                else:
                    _, op, operands, attrs = rewrite
                    graph.replace(node_id, op=op, operands=tuple(operands), attrs=attrs)
        if changed:
            repair_types(graph)
        return changed
