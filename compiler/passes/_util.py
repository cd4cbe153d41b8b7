"""Helpers shared by the passes: constants, range bookkeeping and type repair."""

from __future__ import annotations

from ..ir.graph import Graph
from ..ir.ops import OPS
from ..ir.ranges import value_ranges
from ..ir.types import narrowest

__all__ = ["KEPT_OPS", "const_value", "add_node", "add_const", "repair_types"]

#: Ops that define a route's signature: passes never remove or rewrite them.
KEPT_OPS = frozenset({"param", "output"})

Range = tuple[int, int]


def const_value(graph: Graph, node_id: int) -> int | None:
    """Return the value of ``node_id`` if it is a ``const`` node, else ``None``."""
    node = graph[node_id]
    return node["value"] if node.op == "const" else None


def add_node(graph: Graph, ranges: dict[int, Range], op: str, operands=(), *, span=None,
             **attrs) -> int:
    """Add a node typed by the range of its operands' values, and record that range.

    ``Graph.add`` would derive the type from the operands' types, which can be
    wider than their ranges; the range table of the running pass is tighter.
    """
    operands = tuple(operands)
    rng = OPS[op].range(attrs, *(ranges[o] for o in operands))
    node_id = graph.add(op, operands, type=narrowest(*rng), span=span, **attrs)
    ranges[node_id] = rng
    return node_id


def add_const(graph: Graph, ranges: dict[int, Range], value: int, *, span=None) -> int:
    """Add a constant node and record its range."""
    return add_node(graph, ranges, "const", span=span, value=value)


def repair_types(graph: Graph) -> None:
    """Widen every type that no longer holds its node's value range.

    A rewrite keeps every value exact, but interval arithmetic over the new
    nodes can be looser than over the old ones (``x * 7`` has the range
    ``[0, 7 * hi]``, ``(x << 3) - x`` a range reaching below zero), so a
    consumer's type may no longer provably hold its value. Widening it is
    always sound: a type is only a container.
    """
    ranges = value_ranges(graph)
    for node in graph:
        lo, hi = ranges[node.id]
        if node.op != "param" and not node.type.holds(lo, hi):
            graph.replace(node.id, type=narrowest(min(lo, node.type.min),
                                                  max(hi, node.type.max)))
