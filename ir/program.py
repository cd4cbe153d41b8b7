"""A compiled app: its routes, each a typed signature over a dataflow graph."""

from __future__ import annotations

from dataclasses import dataclass, field

from .graph import Graph
from .span import Span
from .types import RecordTy, Ty, leaves

__all__ = ["Route", "Program"]


@dataclass
class Route:
    """One handler: ``@app.post(path) def name(params) -> returns``."""

    path: str
    name: str
    params: list[tuple[str, Ty]]
    returns: Ty
    graph: Graph
    span: Span | None = None
    doc: str | None = None

    def param_leaves(self):
        """Return the request's ``(path, scalar type)`` leaves, in port order."""
        return [leaf for name, ty in self.params for leaf in leaves(ty, name)]

    def return_leaves(self):
        """Return the response's ``(path, scalar type)`` leaves, in port order."""
        return leaves(self.returns, "return")


@dataclass
class Program:
    """Everything the compiler knows about one handler module."""

    app: str
    file: str
    routes: list[Route]
    records: dict[str, RecordTy] = field(default_factory=dict)

    def route(self, path_or_name: str) -> Route:
        """Find a route by its URL path or its function name."""
        for r in self.routes:
            if path_or_name in (r.path, r.name):
                return r
        raise KeyError(path_or_name)
