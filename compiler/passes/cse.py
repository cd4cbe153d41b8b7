"""Common subexpression elimination by value numbering."""

from __future__ import annotations

from ..ir.graph import Graph
from ..ir.ops import OPS, SWAPPED_COMPARISON
from ._util import KEPT_OPS

__all__ = ["CSE"]


def _key(op: str, operands: tuple[int, ...], attrs) -> tuple:
    """Return a key equal for nodes that compute the same value from the same classes."""
    if op in SWAPPED_COMPARISON:
        # ``a < b`` and ``b > a`` are one value: take the spelling with the smaller operands.
        a, b = operands
        op, operands = min((op, (a, b)), (SWAPPED_COMPARISON[op], (b, a)),
                           key=lambda k: (k[1], k[0]))
    elif OPS[op].commutative:
        operands = tuple(sorted(operands))
    return (op, operands, tuple(sorted(attrs.items())))


class CSE:
    """Merge nodes that compute the same value; the lowest id of each class survives.

    Types are not part of the key: two nodes with equal operands compute equal
    values, and either node's type holds that value's range. Commutative ops
    match with their operands in either order, and comparisons match their
    mirror image (``lt(a, b)`` with ``gt(b, a)``).
    """

    name = "cse"

    def run(self, graph: Graph) -> bool:
        """Merge common subexpressions; return whether anything changed."""
        order = graph.order()
        cls: dict[int, int] = {}  # node id -> its class (the first member seen)
        table: dict[tuple, int] = {}
        rep: dict[int, int] = {}  # class -> lowest member id
        for node_id in order:
            node = graph[node_id]
            if node.op in KEPT_OPS:
                cls[node_id] = rep[node_id] = node_id
                continue
            key = _key(node.op, tuple(cls[o] for o in node.operands), node.attrs)
            c = table.setdefault(key, node_id)
            cls[node_id] = c
            rep[c] = min(rep.get(c, node_id), node_id)
        if len(rep) == len(order):
            return False
        # Point every survivor at the survivors of its operands' classes, then drop the
        # rest, users first; what remains is the quotient graph, which is acyclic.
        dropped = []
        for node_id in order:
            if rep[cls[node_id]] != node_id:
                dropped.append(node_id)
                continue
            node = graph[node_id]
            operands = tuple(rep[cls[o]] for o in node.operands)
            if operands != node.operands:
                graph.replace(node_id, operands=operands)
        for node_id in reversed(dropped):
            graph.remove(node_id)
        return True
