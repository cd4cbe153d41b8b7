"""A minimal pipeline schedule: nodes spread over N stages by logic depth.

The backend consumes any object with ``.graph``, ``.stage`` (node id to 0-based
stage) and ``.n_stages`` (the latency in cycles: every stage ends in a
register). This one knows no delays; it exists so the backend can be built and
tested on its own. The real scheduler balances estimated delays against a
clock period.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.affine import AffineForms
from ..ir.graph import Graph

__all__ = ["SimpleSchedule", "asap_schedule", "verify_schedule"]

#: Ops that are wires, not logic: they add no depth.
_FREE = frozenset({"const", "param", "output", "wrap"})


@dataclass
class SimpleSchedule:
    """A node-to-stage map over ``graph`` with ``n_stages`` register boundaries."""

    graph: Graph
    stage: dict[int, int] = field(default_factory=dict)
    n_stages: int = 1
    #: The XOR-linear nodes to write as one XOR of their cone's leaves per result bit.
    xor_trees: frozenset[int] = frozenset()


def asap_schedule(graph: Graph, n_stages: int = 1, *,
                  xor_trees: bool = False) -> SimpleSchedule:
    """Spread the nodes of ``graph`` over ``n_stages`` stages in proportion to their depth.

    With ``n_stages == 0`` the core is purely combinational (latency 0); with 1
    every node sits in stage 0 and the only registers are at the output. With
    ``xor_trees``, every node that is XOR-linear in its stage is written as XOR trees
    (:mod:`fpgac.ir.affine`), whether or not that is faster.
    """
    assert n_stages >= 0, n_stages
    depth: dict[int, int] = {}
    for node in graph:
        below = max((depth[o] for o in node.operands), default=0)
        depth[node.id] = below + (0 if node.op in _FREE else 1)
    deepest = max(depth.values(), default=0)
    stages = max(n_stages, 1)
    # A node at depth d goes to stage floor(d * stages / (deepest + 1)): monotone in d, so no
    # node ever sits in an earlier stage than one of its operands.
    stage = {n: depth[n] * stages // (deepest + 1) for n in depth}
    trees: frozenset[int] = frozenset()
    if xor_trees:
        affine = AffineForms(graph)
        trees = frozenset(node.id for node in graph
                          if affine.place(node.id, stage[node.id], stage.__getitem__) is not None)
    return SimpleSchedule(graph, stage, n_stages, trees)


def verify_schedule(schedule) -> None:
    """Check that every node has a stage in range and no node precedes an operand."""
    graph, stage, n = schedule.graph, schedule.stage, schedule.n_stages
    last = max(n - 1, 0)
    for node in graph:
        s = stage.get(node.id)
        assert s is not None, f"v{node.id} has no stage"
        assert 0 <= s <= last, f"v{node.id} is in stage {s}, outside 0..{last}"
        for o in node.operands:
            assert stage[o] <= s, f"v{node.id} (stage {s}) uses v{o} from stage {stage[o]}"
