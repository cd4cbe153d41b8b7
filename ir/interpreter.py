"""The reference interpreter of the IR: exact Python integers, one node at a time."""

from __future__ import annotations

from collections.abc import Mapping

from .graph import Graph
from .ops import OPS

__all__ = ["interpret"]


def interpret(graph: Graph, inputs: Mapping[str, int]) -> dict[str, int]:
    """Evaluate ``graph`` on leaf inputs (``{"p.r": 10, ...}``); return its output leaves."""
    values: dict[int, int] = {}
    outputs: dict[str, int] = {}
    for node in graph:
        if node.op == "param":
            values[node.id] = inputs[node.attrs["path"]]
            continue
        value = OPS[node.op].evaluate(node.attrs, *(values[o] for o in node.operands))
        values[node.id] = value
        if node.op == "output":
            outputs[node.attrs["path"]] = value
    return outputs
