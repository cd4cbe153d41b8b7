"""Read an ``ir.json`` document strictly, as untrusted data.

Everything the code generators will rely on is checked here, before any code
is generated: the format and version, the JSON type of every field (an
integer is an ``int``, never a ``bool`` or a ``float``), every op known with
its arity and attributes, operands that exist and form no cycle, params and
outputs that match the route's signature, and — by recomputing every node's
value range — that every node's declared type holds every value the node can
take. That last check is what lets the batch path use ``int64`` exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ._errors import BundleError
from ._semantics import MAX_WIDTH, OP_SPECS, RangeError, type_range
from ._values import (
    BoolT,
    RecordT,
    Type,
    _check_keys,
    _describe,
    _is_name,
    leaf_count,
    leaves,
    parse_type,
)

__all__ = ["FORMAT", "VERSION", "NodeDoc", "RouteDoc", "ProgramDoc", "read_document"]

FORMAT = "fpgac-ir"
VERSION = 1

_TYPE_TEXT = re.compile(r"([ui])([1-9][0-9]{0,3})")
_NODE_KEYS = {"id", "op", "type", "operands", "attrs", "span"}
_ROUTE_KEYS = {"path", "name", "doc", "params", "returns", "span", "nodes"}
_TOP_KEYS = {"format", "version", "app", "file", "records", "routes"}
_AMOUNT_OPS = ("shl", "shr", "rotl", "rotr")


@dataclass(frozen=True, slots=True)
class NodeDoc:
    """One validated node: ``id: type = op(operands) {attrs}``; lists became tuples."""

    id: int
    op: str
    operands: tuple[int, ...]
    width: int
    signed: bool
    attrs: dict[str, Any]


@dataclass(frozen=True)
class RouteDoc:
    """One validated route: signature, nodes in topological order, value range per node."""

    path: str
    name: str
    doc: str | None
    params: list[tuple[str, Type]]
    returns: Type
    nodes: list[NodeDoc]
    ranges: dict[int, tuple[int, int]]


@dataclass(frozen=True)
class ProgramDoc:
    """A validated IR document."""

    app: str
    file: str
    records: dict[str, RecordT]
    routes: list[RouteDoc]


def _fail(where: str, message: str) -> BundleError:
    return BundleError(f"{where}: {message}")


def _int(value: Any) -> bool:
    return type(value) is int


def _span(value: Any, where: str) -> None:
    if value is not None and not (type(value) is list and len(value) == 4
                                  and all(map(_int, value))):
        raise _fail(where, f"a span must be a list of 4 integers, not {_describe(value)}")


def read_document(doc: Any) -> ProgramDoc:
    """Validate an IR document (the JSON form of a program); raise :class:`BundleError`."""
    if type(doc) is not dict:
        raise BundleError(f"an IR document must be a JSON object, not {_describe(doc)}")
    if doc.get("format") != FORMAT:
        raise BundleError(f"not an fpgac IR document (format {doc.get('format')!r})")
    version = doc.get("version")
    if not (_int(version) and version == VERSION):
        raise BundleError(f"IR version {version!r} is not supported "
                          f"(this runtime reads version {VERSION})")
    _check_keys(doc, _TOP_KEYS, "the IR document")
    app, file = doc["app"], doc["file"]
    if not _is_name(app):
        raise BundleError(f"the app name must be an identifier, not {_describe(app)}")
    if type(file) is not str:
        raise BundleError(f"the source file name must be a string, not {_describe(file)}")
    if type(doc["records"]) is not dict:
        raise BundleError(f"`records` must be an object, not {_describe(doc['records'])}")
    records: dict[str, RecordT] = {}
    for name, data in doc["records"].items():
        ty = parse_type(data, f"record {name!r}")
        if not isinstance(ty, RecordT) or ty.name != name:
            raise BundleError(f"record {name!r}: the descriptor is not the record {name!r}")
        records[name] = ty
    if type(doc["routes"]) is not list:
        raise BundleError(f"`routes` must be a list, not {_describe(doc['routes'])}")
    routes = [_read_route(r, i) for i, r in enumerate(doc["routes"])]
    for attr in ("path", "name"):
        seen: set[str] = set()
        for r in routes:
            if getattr(r, attr) in seen:
                raise BundleError(f"two routes have the {attr} {getattr(r, attr)!r}")
            seen.add(getattr(r, attr))
    return ProgramDoc(app, file, records, routes)


def _read_route(data: Any, index: int) -> RouteDoc:
    where = f"route {index}"
    if type(data) is not dict:
        raise _fail(where, f"must be an object, not {_describe(data)}")
    data = {"doc": None, "span": None, **data}
    _check_keys(data, _ROUTE_KEYS, where)
    path, name, doc = data["path"], data["name"], data["doc"]
    if not (type(path) is str and path.startswith("/") and path.isprintable()):
        raise _fail(where, f"the path must be a string starting with '/', not {_describe(path)}")
    where = f"route {path}"
    if not _is_name(name):
        raise _fail(where, f"the handler name must be an identifier, not {_describe(name)}")
    if doc is not None and type(doc) is not str:
        raise _fail(where, f"the docstring must be a string, not {_describe(doc)}")
    _span(data["span"], where)
    if type(data["params"]) is not list:
        raise _fail(where, f"`params` must be a list, not {_describe(data['params'])}")
    params: list[tuple[str, Type]] = []
    for i, p in enumerate(data["params"]):
        pwhere = f"{where}: param {i}"
        if type(p) is not dict:
            raise _fail(pwhere, f"must be an object, not {_describe(p)}")
        _check_keys(p, {"name", "type"}, pwhere)
        if not _is_name(p["name"]) or any(p["name"] == n for n, _ in params):
            raise _fail(pwhere, f"the name must be a new identifier, not {_describe(p['name'])}")
        params.append((p["name"], parse_type(p["type"], f"{where}: param {p['name']}")))
    returns = parse_type(data["returns"], f"{where}: returns")
    if type(data["nodes"]) is not list:
        raise _fail(where, f"`nodes` must be a list, not {_describe(data['nodes'])}")
    nodes = [_read_node(n, f"{where}: node {i}") for i, n in enumerate(data["nodes"])]
    ordered = _topological(nodes, where)
    _check_ports(ordered, params, returns, where)
    ranges = _check_ranges(ordered, where)
    return RouteDoc(path, name, doc, params, returns, ordered, ranges)


def _read_node(data: Any, where: str) -> NodeDoc:
    if type(data) is not dict:
        raise _fail(where, f"must be an object, not {_describe(data)}")
    keys = set(data)
    if not {"id", "op", "type"} <= keys <= _NODE_KEYS:
        missing = sorted({"id", "op", "type"} - keys)
        extra = sorted(map(str, keys - _NODE_KEYS))
        raise _fail(where, "; ".join(([f"missing {', '.join(missing)}"] if missing else [])
                                     + ([f"unexpected {', '.join(extra)}"] if extra else [])))
    node_id, op, text = data["id"], data["op"], data["type"]
    if not (_int(node_id) and 0 <= node_id < 1 << 62):
        raise _fail(where, f"the id must be a non-negative integer, not {_describe(node_id)}")
    where = f"{where} (v{node_id})"
    if type(op) is not str or op not in OP_SPECS:
        raise _fail(where, f"unknown op {_describe(op)}")
    spec = OP_SPECS[op]
    m = _TYPE_TEXT.fullmatch(text) if type(text) is str else None
    if m is None or int(m.group(2)) > MAX_WIDTH:
        raise _fail(where, f"the type must be u1..u{MAX_WIDTH} or i1..i{MAX_WIDTH}, "
                           f"not {_describe(text)}")
    operands = data.get("operands", [])
    if type(operands) is not list or not all(map(_int, operands)):
        raise _fail(where, f"`operands` must be a list of node ids, not {_describe(operands)}")
    if spec.arity is not None and len(operands) != spec.arity:
        raise _fail(where, f"{op} takes {spec.arity} operands, not {len(operands)}")
    if spec.arity is None and len(operands) < spec.min_arity:
        raise _fail(where, f"{op} takes at least {spec.min_arity} operands, not {len(operands)}")
    attrs = data.get("attrs", {})
    if type(attrs) is not dict:
        raise _fail(where, f"`attrs` must be an object, not {_describe(attrs)}")
    if set(attrs) != set(spec.attrs):
        raise _fail(where, f"{op} takes the attributes {sorted(spec.attrs) or 'none'}, "
                           f"not {sorted(map(str, attrs))}")
    checked = {k: _attr(attrs[k], kind, f"{where}: attribute {k}")
               for k, kind in spec.attrs.items()}
    if op == "concat" and len(checked["widths"]) != len(operands):
        raise _fail(where, f"concat has {len(operands)} operands but "
                           f"{len(checked['widths'])} widths")
    _span(data.get("span"), where)
    return NodeDoc(node_id, op, tuple(operands), int(m.group(2)), m.group(1) == "i", checked)


def _bounded_int(value: Any) -> bool:
    return _int(value) and value.bit_length() <= MAX_WIDTH


def _width(value: Any) -> bool:
    return _int(value) and 1 <= value <= MAX_WIDTH


def _attr(value: Any, kind: str, where: str) -> Any:
    if kind == "int":
        ok = _bounded_int(value)
    elif kind == "width":
        ok = _width(value)
    elif kind == "bool":
        ok = type(value) is bool
    elif kind == "path":
        ok = type(value) is str and value != ""
    elif kind == "ints":
        ok = type(value) is list and all(map(_bounded_int, value))
    else:  # widths
        ok = type(value) is list and all(map(_width, value)) and sum(value) <= MAX_WIDTH
    if not ok:
        wanted = {"int": f"an integer of at most {MAX_WIDTH} bits",
                  "width": f"an integer from 1 to {MAX_WIDTH}", "bool": "true or false",
                  "path": "a non-empty string",
                  "ints": f"a list of integers of at most {MAX_WIDTH} bits",
                  "widths": f"a list of widths adding up to at most {MAX_WIDTH}"}[kind]
        raise _fail(where, f"must be {wanted}, not {_describe(value)}")
    return tuple(value) if type(value) is list else value


def _topological(nodes: list[NodeDoc], where: str) -> list[NodeDoc]:
    """Return the nodes in a topological order (ties by position); refuse cycles."""
    by_id: dict[int, NodeDoc] = {}
    for n in nodes:
        if n.id in by_id:
            raise _fail(where, f"two nodes have the id v{n.id}")
        by_id[n.id] = n
    users: dict[int, list[int]] = {n.id: [] for n in nodes}
    pending: dict[int, int] = {}
    for n in nodes:
        for o in n.operands:
            if o not in by_id:
                raise _fail(where, f"v{n.id} uses v{o}, which is not in the route")
            users[o].append(n.id)
        pending[n.id] = len(n.operands)
    ready = [n.id for n in reversed(nodes) if not n.operands]
    order: list[NodeDoc] = []
    while ready:
        node_id = ready.pop()
        order.append(by_id[node_id])
        for u in users[node_id]:
            pending[u] -= 1
            if pending[u] == 0:
                ready.append(u)
    if len(order) != len(nodes):
        raise _fail(where, "the nodes form a cycle")
    return order


def _check_ports(nodes: list[NodeDoc], params, returns, where: str) -> None:
    """Check that params and outputs are exactly the signature's leaves, with their types."""
    n_params = sum(1 for n in nodes if n.op == "param")
    n_outputs = sum(1 for n in nodes if n.op == "output")
    # Count before listing: a hostile signature could name billions of leaves.
    if sum(leaf_count(t) for _, t in params) != n_params:
        raise _fail(where, "the param nodes do not match the parameters' leaves")
    if leaf_count(returns) != n_outputs:
        raise _fail(where, "the output nodes do not match the return type's leaves")
    wanted = {path: t for name, t in params for path, t in leaves(t, name)}
    for n in nodes:
        if n.op != "param":
            continue
        t = wanted.pop(n.attrs["path"], None)
        if t is None:
            raise _fail(where, f"v{n.id}: param {n.attrs['path']!r} is not a leaf of the "
                               f"parameters, or appears twice")
        if isinstance(t, BoolT):
            t_ws = (1, False)
        else:
            t_ws = (t.width, t.signed)
        if (n.attrs["width"], n.attrs["signed"]) != t_ws:
            raise _fail(where, f"v{n.id}: param {n.attrs['path']!r} does not have the "
                               f"parameter's type {t}")
    outputs = {path for path, _ in leaves(returns, "return")}
    used = {o for n in nodes for o in n.operands}
    for n in nodes:
        if n.op != "output":
            continue
        if n.attrs["path"] not in outputs:
            raise _fail(where, f"v{n.id}: output {n.attrs['path']!r} is not a leaf of the "
                               f"return type, or appears twice")
        outputs.discard(n.attrs["path"])
        if n.id in used:
            raise _fail(where, f"v{n.id}: an output cannot be an operand")


def _check_ranges(nodes: list[NodeDoc], where: str) -> dict[int, tuple[int, int]]:
    """Return every node's value range; refuse a node whose type cannot hold it."""
    ranges: dict[int, tuple[int, int]] = {}
    for n in nodes:
        args = [ranges[o] for o in n.operands]
        if n.op in _AMOUNT_OPS and args[1][0] < 0:
            raise _fail(where, f"v{n.id} ({n.op}): the shift amount can be negative")
        if n.op == "mux" and not (0 <= args[0][0] and args[0][1] <= 1):
            raise _fail(where, f"v{n.id} (mux): the selector is not a bit")
        try:
            lo, hi = OP_SPECS[n.op].range(n.attrs, *args)
        except RangeError as e:
            raise _fail(where, f"v{n.id} ({n.op}): {e}") from None
        tlo, thi = type_range(n.width, n.signed)
        if not (tlo <= lo and hi <= thi):
            t = f"{'i' if n.signed else 'u'}{n.width}"
            raise _fail(where, f"v{n.id} ({n.op}): the type {t} cannot hold its values "
                               f"[{lo}, {hi}]")
        ranges[n.id] = (lo, hi)
    return ranges
