"""Width narrowing: every node gets the narrowest type that holds its value range."""

from __future__ import annotations

from ..ir.graph import Graph
from ..ir.ranges import value_ranges
from ..ir.types import narrowest

__all__ = ["NarrowWidths"]


class NarrowWidths:
    """Set each node's type to the narrowest type holding its range.

    Params keep their declared type (it equals their attributes and is the
    request's wire format). Semantics never change: values are exact, wrapping
    happens only at ``wrap`` nodes, and intrinsics carry their own width.
    """

    name = "narrow"

    def run(self, graph: Graph) -> bool:
        """Narrow types; return whether anything changed."""
        ranges = value_ranges(graph)
        changed = False
        for node in graph:
            if node.op == "param":
                continue
            ty = narrowest(*ranges[node.id])
            if ty != node.type:
                graph.replace(node.id, type=ty)
                changed = True
        return changed
