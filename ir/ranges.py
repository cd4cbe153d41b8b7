"""Value-range analysis: the exact interval each node's value can take."""

from __future__ import annotations

from .graph import Graph
from .ops import OPS

__all__ = ["value_ranges"]


def value_ranges(graph: Graph) -> dict[int, tuple[int, int]]:
    """Return, for every node, the interval its value lies in, for any request.

    Ranges propagate from operand ranges (not operand types), so the result can
    be tighter than the node's type; the verifier checks that each type holds
    its range, and width narrowing shrinks each type to it.
    """
    ranges: dict[int, tuple[int, int]] = {}
    for node in graph:
        ranges[node.id] = OPS[node.op].range(node.attrs, *(ranges[o] for o in node.operands))
    return ranges
