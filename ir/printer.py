"""The deterministic text form of the IR (``fpgac ir``)."""

from __future__ import annotations

from .graph import Graph, Node
from .program import Program, Route

__all__ = ["format_node", "format_graph", "format_route", "format_program"]


def _attr(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(_attr(v) for v in value) + "]"
    return str(value)


def format_node(node: Node, *, spans: bool = True) -> str:
    """Return one line: ``v3: u9 = add(v1, v2)  # luma.py:12:9``."""
    args = [f"v{o}" for o in node.operands]
    args += [f"{k}={_attr(v)}" for k, v in sorted(node.attrs.items())]
    text = f"v{node.id}: {node.type} = {node.op}({', '.join(args)})"
    if spans and node.span is not None:
        text += f"  # {node.span}"
    return text


def format_graph(graph: Graph, *, spans: bool = True) -> str:
    """Return every node on its own line, in topological order."""
    return "\n".join(format_node(n, spans=spans) for n in graph)


def format_route(route: Route, *, spans: bool = True) -> str:
    params = ", ".join(f"{name}: {ty}" for name, ty in route.params)
    head = f"route {route.path} {route.name}({params}) -> {route.returns} {{"
    body = format_graph(route.graph, spans=spans)
    return head + "\n" + "\n".join("  " + line for line in body.splitlines()) + "\n}"


def format_program(program: Program, *, spans: bool = True) -> str:
    parts = [f"app {program.app}  # {program.file}"]
    parts += [format_route(r, spans=spans) for r in program.routes]
    return "\n\n".join(parts) + "\n"
