"""Dead code elimination: drop nodes that no output depends on."""

from __future__ import annotations

from ..ir.graph import Graph
from ._util import KEPT_OPS

__all__ = ["DCE"]


class DCE:
    """Remove every node with no path to an ``output``; ``param`` and ``output`` nodes stay.

    An unused param stays because params are the route's signature.
    """

    name = "dce"

    def run(self, graph: Graph) -> bool:
        """Remove dead nodes; return whether anything changed."""
        order = graph.order()
        live = {i for i in order if graph[i].op in KEPT_OPS}
        stack = [i for i in live if graph[i].op == "output"]
        while stack:
            for o in graph[stack.pop()].operands:
                if o not in live:
                    live.add(o)
                    stack.append(o)
        dead = [i for i in order if i not in live]
        for node_id in reversed(dead):  # users before their operands
            graph.remove(node_id)
        return bool(dead)
