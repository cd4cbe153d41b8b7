"""Constant folding: a node whose operands are all constants becomes a constant."""

from __future__ import annotations

from ..ir.graph import Graph
from ..ir.ops import OPS
from ._util import KEPT_OPS

__all__ = ["ConstantFold"]


class ConstantFold:
    """Replace every node whose operands are all ``const`` by the ``const`` of its value.

    The node keeps its id, span and users; its type already holds the value,
    since it held the node's whole range. Folding runs in topological order,
    so chains of constants fold in one run.
    """

    name = "fold"

    def run(self, graph: Graph) -> bool:
        """Fold constants; return whether anything changed."""
        changed = False
        for node in graph:
            if node.op in KEPT_OPS or node.op == "const":
                continue
            operands = [graph[o] for o in node.operands]
            if not all(o.op == "const" for o in operands):
                continue
            value = OPS[node.op].evaluate(node.attrs, *(o["value"] for o in operands))
            graph.replace(node.id, op="const", operands=(), attrs={"value": value})
            changed = True
        return changed
