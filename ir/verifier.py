"""The IR verifier: every pass's output must satisfy it."""

from __future__ import annotations

from .graph import Graph
from .ops import OPS
from .program import Route
from .ranges import value_ranges
from .types import MAX_WIDTH, IntTy, scalar_int_ty

__all__ = ["VerifyError", "verify", "verify_route"]


class VerifyError(AssertionError):
    """The IR is malformed: a compiler bug, never a user's mistake."""


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise VerifyError(message)


def verify(graph: Graph) -> None:
    """Check structure, attributes and that every node's type holds its value range."""
    import networkx as nx

    _check(nx.is_directed_acyclic_graph(graph.edges), f"{graph.name}: the graph has a cycle")
    seen_params: set[str] = set()
    seen_outputs: set[str] = set()
    for node in graph:
        where = f"{graph.name}: v{node.id} ({node.op})"
        _check(node.op in OPS, f"{where}: unknown op")
        info = OPS[node.op]
        if info.arity is not None:
            _check(len(node.operands) == info.arity,
                   f"{where}: takes {info.arity} operands, has {len(node.operands)}")
        else:
            _check(len(node.operands) >= info.min_arity, f"{where}: too few operands")
        for o in node.operands:
            _check(o in graph, f"{where}: operand v{o} is missing")
        _check(set(node.attrs) == set(info.attrs),
               f"{where}: attributes {sorted(node.attrs)}, expected {sorted(info.attrs)}")
        _check(isinstance(node.type, IntTy) and 1 <= node.type.width <= MAX_WIDTH,
               f"{where}: bad type {node.type!r}")
        if node.op in ("popcount", "clz", "ctz", "reverse", "rotl", "rotr"):
            _check(isinstance(node["width"], int) and node["width"] >= 1, f"{where}: bad width")
        if node.op == "concat":
            _check(len(node["widths"]) == len(node.operands), f"{where}: widths do not match")
        if node.op == "param":
            _check(node["path"] not in seen_params, f"{where}: duplicate param {node['path']}")
            seen_params.add(node["path"])
        if node.op == "output":
            _check(node["path"] not in seen_outputs, f"{where}: duplicate output {node['path']}")
            seen_outputs.add(node["path"])
            _check(not graph.users(node.id), f"{where}: an output has users")
    ranges = value_ranges(graph)
    for node in graph:
        lo, hi = ranges[node.id]
        where = f"{graph.name}: v{node.id} ({node.op})"
        _check(node.type.holds(lo, hi), f"{where}: type {node.type} cannot hold [{lo}, {hi}]")
        if node.op in ("shl", "shr", "rotl", "rotr"):
            _check(ranges[node.operands[1]][0] >= 0, f"{where}: the shift amount can be negative")
        if node.op == "mux":
            s = ranges[node.operands[0]]
            _check(0 <= s[0] and s[1] <= 1, f"{where}: the selector is not a bit")


def verify_route(route: Route) -> None:
    """Verify a route's graph and that its params and outputs match its signature."""
    g = route.graph
    verify(g)
    params = {n["path"]: n for n in g.params()}
    for path, ty in route.param_leaves():
        node = params.pop(path, None)
        _check(node is not None, f"{g.name}: no param node for {path}")
        t = scalar_int_ty(ty)
        _check((node["width"], node["signed"]) == (t.width, t.signed),
               f"{g.name}: param {path} has the wrong type")
    _check(not params, f"{g.name}: params not in the signature: {sorted(params)}")
    outputs = {n["path"]: n for n in g.outputs()}
    for path, _ty in route.return_leaves():
        _check(outputs.pop(path, None) is not None, f"{g.name}: no output node for {path}")
    _check(not outputs, f"{g.name}: outputs not in the signature: {sorted(outputs)}")
