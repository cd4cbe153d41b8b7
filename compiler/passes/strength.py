"""Strength reduction: constant multiplications, divisions and remainders become shifts."""

from __future__ import annotations

from ..ir.graph import Graph
from ..ir.ops import OPS
from ..ir.ranges import value_ranges
from ..ir.types import MAX_WIDTH, narrowest
from ._util import add_const, add_node, const_value, repair_types

__all__ = ["StrengthReduce", "csd_digits", "division_magic"]

Range = tuple[int, int]


def csd_digits(c: int) -> list[tuple[int, int]]:
    """Return ``c`` in canonical signed digit form: ``[(shift, ±1), ...]``, lowest first.

    ``c == sum(d << k for k, d in csd_digits(c))``, with no two adjacent nonzero
    digits, which makes the number of terms minimal.
    """
    digits = []
    k = 0
    while c:
        if c & 1:
            d = 2 - (c & 3)  # +1 when c % 4 == 1, -1 when c % 4 == 3: clears a run of ones
            c -= d
            digits.append((k, d))
        c >>= 1
        k += 1
    return digits


def division_magic(d: int, limit: int) -> tuple[int, int]:
    """Return ``(m, s)`` with ``x // d == (x * m) >> s`` for every ``0 <= x <= limit``.

    With ``m = ceil(2**s / d)`` and ``e = m * d - 2**s`` (so ``0 <= e < d``),
    write ``x = q * d + r``; then ``x * m / 2**s = q + (r + x * e / 2**s) / d``,
    and the floor is ``q`` exactly when ``r + x * e / 2**s < d`` for every ``r``,
    which ``e * limit < 2**s`` guarantees. The smallest such ``s`` gives the
    smallest multiplier; ``s = bits(limit) + bits(d)`` always works since
    ``e < d``.
    """
    assert d > 0 and limit >= 0
    for s in range(1, limit.bit_length() + d.bit_length() + 1):
        m = -(-(1 << s) // d)
        if (m * d - (1 << s)) * limit < 1 << s:
            return m, s
    raise AssertionError("unreachable: the last shift always satisfies the condition")


def _power_of_two(c: int) -> int | None:
    """Return ``k`` when ``c == 2**k`` (``k >= 1``), else ``None``."""
    return c.bit_length() - 1 if c > 1 and c & (c - 1) == 0 else None


def _digits(c: int) -> list[tuple[int, int]]:
    """Return the signed digits to build ``x * c`` from: CSD, or binary when as short.

    For ``c > 0``, plain binary needs only additions, and the interval of a sum
    of same-signed terms is exact, so it wins ties (``3 == 2 + 1``, not ``4 - 1``).
    """
    digits = csd_digits(c)
    if c > 0 and c.bit_count() <= len(digits):
        return [(k, 1) for k in range(c.bit_length()) if c >> k & 1]
    return digits


class _Builder:
    """Emit new nodes next to the node being reduced, with its span, tracking ranges."""

    def __init__(self, graph: Graph, ranges: dict[int, Range], span):
        self.graph, self.ranges, self.span = graph, ranges, span

    def const(self, value: int) -> int:
        return add_const(self.graph, self.ranges, value, span=self.span)

    def op(self, op: str, *operands: int, **attrs) -> int:
        return add_node(self.graph, self.ranges, op, operands, span=self.span, **attrs)

    def shl(self, x: int, k: int) -> int:
        return x if k == 0 else self.op("shl", x, self.const(k))

    def mul_by(self, x: int, c: int) -> tuple | None:
        """Return ``x * c`` as a final ``(op, operands, attrs)`` over new nodes, or ``None``."""
        digits = sorted(_digits(c), reverse=True)  # highest shift first
        if len(digits) > StrengthReduce.max_terms:
            return None
        plus = [k for k, d in digits if d > 0]
        minus = [k for k, d in digits if d < 0]
        if not plus:  # -(x << a) - (x << b) ...: negate the sum
            if len(minus) == 1:
                return ("neg", (self.shl(x, minus[0]),), {})
            plus, minus, negate = minus, [], True
        else:
            negate = False
        terms = [("add", k) for k in plus[1:]] + [("sub", k) for k in minus]
        if not terms:
            return ("shl", (x, self.const(plus[0])), {})  # c is a power of two
        acc = self.shl(x, plus[0])
        for op, k in terms[:-1]:
            acc = self.op(op, acc, self.shl(x, k))
        op, k = terms[-1]
        if negate:
            return ("neg", (self.op(op, acc, self.shl(x, k)),), {})
        return (op, (acc, self.shl(x, k)), {})


class StrengthReduce:
    """Replace arithmetic by constants with cheaper, exactly equal operations.

    - ``x * c``: a shift when ``c`` is a power of two, else shifts added and
      subtracted along ``c``'s canonical signed digits when there are at most
      :attr:`max_terms` of them;
    - ``x // 2**k == x >> k`` and ``x % 2**k == x & (2**k - 1)`` for every ``x``
      (Python floors); ``x // -2**k == (-x) >> k`` and
      ``x % -2**k == -((-x) & (2**k - 1))``;
    - ``x // d`` and ``x % d`` for other ``d > 0`` when ``x`` is never negative:
      ``(x * m) >> s`` with a multiplier proven exact over ``x``'s range
      (:func:`division_magic`), and ``x - (x // d) * d``.

    Division by zero is left to the simplifier (``x // 0 == 0``, ``x % 0 == x``);
    other negative divisors are left alone. Where interval arithmetic over the
    new nodes is looser than the old range, the result is wrapped to the old
    node's narrowest type, which is exact because the value is unchanged.
    """

    name = "strength"
    max_terms = 3

    def run(self, graph: Graph) -> bool:
        """Reduce; return whether anything changed."""
        ranges = value_ranges(graph)
        changed = False
        for node_id in graph.order():
            node = graph[node_id]
            if node.op not in ("mul", "floordiv", "mod"):
                continue
            build = _Builder(graph, ranges, node.span)
            if node.op == "mul":
                final = self._mul(graph, build, node.operands)
            else:
                final = self._div(graph, build, node.op, *node.operands)
            if final is None:
                continue
            op, operands, attrs = final
            rng = OPS[op].range(attrs, *(ranges[o] for o in operands))
            if not node.type.holds(*rng):
                ty = narrowest(*ranges[node_id])
                operands = (build.op(op, *operands, **attrs),)
                op, attrs = "wrap", {"width": ty.width, "signed": ty.signed}
            graph.replace(node_id, op=op, operands=operands, attrs=attrs)
            changed = True
        if changed:
            repair_types(graph)
        return changed

    def _mul(self, graph: Graph, build: _Builder, operands) -> tuple | None:
        a, b = operands
        for x, k in ((a, b), (b, a)):
            c = const_value(graph, k)
            if c is not None and const_value(graph, x) is None and c not in (-1, 0, 1):
                return build.mul_by(x, c)
        return None

    def _div(self, graph: Graph, build: _Builder, op: str, a: int, b: int) -> tuple | None:
        d = const_value(graph, b)
        if d is None or const_value(graph, a) is not None or d in (-1, 0, 1):
            return None
        k = _power_of_two(d)
        if k is not None:
            if op == "floordiv":
                return ("shr", (a, build.const(k)), {})
            return ("and", (a, build.const(d - 1)), {})
        k = _power_of_two(-d)
        if k is not None:
            # x // -m == (-x) // m, and x % -m == -((-x) % m).
            neg = build.op("neg", a)
            if op == "floordiv":
                return ("shr", (neg, build.const(k)), {})
            return ("neg", (build.op("and", neg, build.const(-d - 1)),), {})
        lo, hi = build.ranges[a]
        if d < 0 or lo < 0:
            return None
        m, s = division_magic(d, hi)
        if (hi * m).bit_length() > MAX_WIDTH:
            return None
        if op == "floordiv":
            return ("shr", (build.op("mul", a, build.const(m)), build.const(s)), {})
        q = build.op("shr", build.op("mul", a, build.const(m)), build.const(s))
        return ("sub", (a, build.op("mul", q, build.const(d))), {})
