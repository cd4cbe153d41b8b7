"""The versioned JSON form of a program (``ir.json`` in a bundle).

The runtime reads this format without importing the compiler, so it is kept
plain: types as ``"u8"``/``"i9"`` strings, attributes as JSON values, spans as
``[line, col, end_line, end_col]``.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from .graph import Graph, Node
from .program import Program, Route
from .span import Span
from .types import IntTy, RecordTy, ty_from_json, ty_to_json

__all__ = ["FORMAT", "VERSION", "program_to_json", "program_from_json"]

FORMAT = "fpgac-ir"
VERSION = 1


def _node_to_json(node: Node) -> dict[str, Any]:
    data: dict[str, Any] = {"id": node.id, "op": node.op, "type": str(node.type)}
    if node.operands:
        data["operands"] = list(node.operands)
    if node.attrs:
        data["attrs"] = {k: list(v) if isinstance(v, tuple) else v for k, v in node.attrs.items()}
    if node.span is not None:
        data["span"] = node.span.to_json()
    return data


def _route_to_json(route: Route) -> dict[str, Any]:
    return {
        "path": route.path,
        "name": route.name,
        "doc": route.doc,
        "params": [{"name": n, "type": ty_to_json(t)} for n, t in route.params],
        "returns": ty_to_json(route.returns),
        "span": route.span.to_json() if route.span else None,
        "nodes": [_node_to_json(n) for n in route.graph],
    }


def program_to_json(program: Program) -> dict[str, Any]:
    """Return the JSON-ready form of ``program``."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "app": program.app,
        # The file's name only: where a checkout lies is not part of the design (the
        # bundle's hash, which the board reports over its link, is the same from anywhere).
        "file": PurePath(program.file).name if program.file else program.file,
        "records": {name: ty_to_json(r) for name, r in program.records.items()},
        "routes": [_route_to_json(r) for r in program.routes],
    }


def _graph_from_json(name: str, file: str, nodes: list[dict]) -> Graph:
    g = Graph(name)
    for data in nodes:
        span = Span.from_json(file, data["span"]) if data.get("span") else None
        node = Node(int(data["id"]), data["op"], tuple(data.get("operands", ())),
                    IntTy.parse(data["type"]), {}, span)
        g._insert(node)
        g.replace(node.id, attrs=data.get("attrs", {}))
        g._next_id = max(g._next_id, node.id + 1)
    return g


def program_from_json(data: dict[str, Any]) -> Program:
    """Read a program written by :func:`program_to_json`; refuse other formats or versions."""
    if data.get("format") != FORMAT:
        raise ValueError(f"not an fpgac IR document (format {data.get('format')!r})")
    if data.get("version") != VERSION:
        raise ValueError(f"IR version {data.get('version')!r} is not supported "
                         f"(this fpgac reads version {VERSION})")
    file = data["file"]
    routes = []
    for r in data["routes"]:
        routes.append(Route(
            path=r["path"], name=r["name"], doc=r.get("doc"),
            params=[(p["name"], ty_from_json(p["type"])) for p in r["params"]],
            returns=ty_from_json(r["returns"]),
            graph=_graph_from_json(r["name"], file, r["nodes"]),
            span=Span.from_json(file, r["span"]) if r.get("span") else None,
        ))
    records = {}
    for name, rd in data.get("records", {}).items():
        ty = ty_from_json(rd)
        assert isinstance(ty, RecordTy)
        records[name] = ty
    return Program(data["app"], file, routes, records)
