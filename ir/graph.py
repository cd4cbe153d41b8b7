"""The typed SSA dataflow graph: a small facade over :mod:`networkx`.

Operands live, ordered, in each :class:`Node` (a plain ``DiGraph`` keeps one
edge per pair and would lose the second operand of ``add(x, x)``); use lists
are kept alongside, and the networkx graph of who uses whom is built from them
when an algorithm needs it (ordering, cycle checks), so that checking a module
does not pay for importing networkx.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .ops import OPS
from .span import Span
from .types import IntTy, narrowest

__all__ = ["Node", "Graph"]


@dataclass(frozen=True, eq=False, slots=True)
class Node:
    """One operation: ``id: type = op(operands...) {attrs}``."""

    id: int
    op: str
    operands: tuple[int, ...]
    type: IntTy
    attrs: Mapping[str, Any] = field(default_factory=dict)
    span: Span | None = None

    def __getitem__(self, key: str) -> Any:
        return self.attrs[key]

    def key(self) -> tuple:
        """Return a hashable key of everything but the id and the span (for CSE)."""
        return (self.op, self.operands, self.type, tuple(sorted(self.attrs.items())))


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


class Graph:
    """A dataflow graph with deterministic ids and a deterministic topological order."""

    def __init__(self, name: str = "graph"):
        self.name = name
        self._nodes: dict[int, Node] = {}
        self._users: dict[int, set[int]] = {}
        self._next_id = 0
        self._order: list[int] | None = None

    # -- building ---------------------------------------------------------------------------

    def add(self, op: str, operands=(), *, type: IntTy | None = None, span: Span | None = None,
            **attrs: Any) -> int:
        """Add a node and return its id; its type defaults to the narrowest that holds it."""
        info = OPS[op]
        operands = tuple(operands)
        attrs = {k: _freeze(v) for k, v in attrs.items()}
        for o in operands:
            assert o in self._nodes, f"operand v{o} of {op} is not in the graph"
        if type is None:
            type = narrowest(*info.range(attrs, *(self._nodes[o].type.range for o in operands)))
        node = Node(self._next_id, op, operands, type, attrs, span)
        self._next_id += 1
        self._insert(node)
        return node.id

    def _insert(self, node: Node) -> None:
        self._nodes[node.id] = node
        self._users.setdefault(node.id, set())
        for o in node.operands:
            self._users.setdefault(o, set()).add(node.id)
        self._order = None

    def const(self, value: int, *, span: Span | None = None) -> int:
        """Add a constant of the narrowest type."""
        return self.add("const", (), span=span, value=value)

    # -- reading ----------------------------------------------------------------------------

    def __getitem__(self, node_id: int) -> Node:
        return self._nodes[node_id]

    def __contains__(self, node_id: int) -> bool:
        return node_id in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[Node]:
        """Iterate over nodes in topological order (ties broken by id)."""
        return (self._nodes[i] for i in self.order())

    def order(self) -> list[int]:
        """Return node ids in a deterministic topological order."""
        if self._order is None:
            import networkx as nx

            self._order = list(nx.lexicographical_topological_sort(self._digraph()))
        return list(self._order)

    def users(self, node_id: int) -> list[int]:
        """Return the ids of the nodes that use ``node_id``, ascending."""
        return sorted(self._users[node_id])

    def params(self) -> list[Node]:
        return [n for n in self if n.op == "param"]

    def outputs(self) -> list[Node]:
        return [n for n in self if n.op == "output"]

    def _digraph(self):
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self._nodes)
        g.add_edges_from((o, u) for o, users in self._users.items() for u in users)
        return g

    @property
    def edges(self):
        """The use graph as a fresh ``networkx.DiGraph``; edges run from operand to user."""
        return self._digraph()

    # -- rewriting --------------------------------------------------------------------------

    def replace(self, node_id: int, **changes: Any) -> Node:
        """Replace fields of a node in place (same id); return the new node."""
        old = self._nodes[node_id]
        if "attrs" in changes:
            changes["attrs"] = {k: _freeze(v) for k, v in changes["attrs"].items()}
        new = dataclasses.replace(old, **changes)
        if new.operands != old.operands:
            for o in set(old.operands):
                self._users[o].discard(node_id)
            for o in new.operands:
                assert o in self._nodes, f"operand v{o} is not in the graph"
                self._users[o].add(node_id)
            self._order = None
        self._nodes[node_id] = new
        return new

    def replace_uses(self, old: int, new: int) -> int:
        """Make every user of ``old`` use ``new`` instead; return how many were changed."""
        users = self.users(old)
        for u in users:
            node = self._nodes[u]
            self.replace(u, operands=tuple(new if o == old else o for o in node.operands))
        return len(users)

    def remove(self, node_id: int) -> None:
        """Remove a node that nothing uses."""
        assert not self.users(node_id), f"v{node_id} still has users"
        node = self._nodes.pop(node_id)
        del self._users[node_id]
        for o in set(node.operands):
            self._users[o].discard(node_id)
        self._order = None

    def copy(self) -> Graph:
        g = Graph(self.name)
        g._nodes = dict(self._nodes)
        g._users = {k: set(v) for k, v in self._users.items()}
        g._next_id = self._next_id
        return g
