"""Build IR documents for runtime tests, and check the runtime against the IR interpreter."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from fpgac.ir import Graph, IntTy, Program, Route, interpret, program_to_json, verify_route
from fpgac.runtime import model_from_ir


def document(graph: Graph, params, returns, *, path: str = "/f", name: str = "f",
             records=None, app: str = "testapp") -> dict:
    """Return the JSON document of a one-route program, after the compiler's verifier."""
    route = Route(path, name, list(params), returns, graph)
    verify_route(route)
    program = Program(app, "test.py", [route], dict(records or {}))
    # Round-trip through JSON text: the runtime reads exactly what a bundle holds.
    return json.loads(json.dumps(program_to_json(program)))


def model(graph: Graph, params, returns, **kw):
    """Return the route model of a one-route program."""
    return model_from_ir(document(graph, params, returns, **kw)).route(kw.get("path", "/f"))


def check_agree(graph: Graph, route_model, inputs: Sequence[dict[str, int]]) -> None:
    """Assert that the interpreter, the scalar model and the batch model agree on ``inputs``."""
    expected = [interpret(graph, leaves) for leaves in inputs]
    for leaves, want in zip(inputs, expected):
        assert route_model.run_leaves(leaves) == want, leaves
    columns = {}
    dtypes = {"i": np.int64, "u": np.uint64, "o": object}
    for path, kind in zip(route_model.param_paths, route_model.signature.param_kinds):
        values = [leaves[path] for leaves in inputs]
        columns[path] = np.array(values, dtype=dtypes[kind])
    outputs = route_model.run_columns(columns)
    for path, kind in zip(route_model.output_paths, route_model.signature.return_kinds):
        column = outputs[path]
        assert column.dtype == dtypes[kind], (path, column.dtype)
        assert len(column) == len(inputs)
        got = column.tolist()
        assert all(type(v) is int for v in got), path
        assert got == [want[path] for want in expected], (path, route_model.batch_source)


def unary_graph(op: str, in_ty: IntTy, out_ty: IntTy | None = None, **attrs):
    """Return ``f(a) = wrap(op(a))`` as a graph and its signature."""
    g = Graph("f")
    a = g.add("param", path="a", width=in_ty.width, signed=in_ty.signed)
    r = g.add(op, (a,), **attrs)
    out_ty = out_ty or g[r].type
    g.add("output", (g.add("wrap", (r,), width=out_ty.width, signed=out_ty.signed),),
          path="return")
    return g, [("a", in_ty)], out_ty


def binary_graph(op: str, a_ty: IntTy, b_ty: IntTy, **attrs):
    """Return ``f(a, b) = op(a, b)`` as a graph and its signature (returning the exact type)."""
    g = Graph("f")
    a = g.add("param", path="a", width=a_ty.width, signed=a_ty.signed)
    b = g.add("param", path="b", width=b_ty.width, signed=b_ty.signed)
    r = g.add(op, (a, b), **attrs)
    g.add("output", (r,), path="return")
    return g, [("a", a_ty), ("b", b_ty)], g[r].type


def edge_values(ty: IntTy) -> list[int]:
    """Return the interesting values of a type: its ends, 0, ±1, and powers of two."""
    values = {ty.min, ty.max, 0, 1, -1, ty.min + 1, ty.max - 1}
    for k in range(ty.width):
        values.update((1 << k, -(1 << k), (1 << k) - 1, -(1 << k) + 1))
    return sorted(v for v in values if ty.min <= v <= ty.max)
