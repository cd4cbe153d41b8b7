"""The bundle manifest (``manifest.json``): its schema, and reading it strictly.

Schema version 1 — every key required, no other key allowed::

    {"format": "fpgac-bundle", "schema_version": 1, "fpgac_version": "0.1.0",
     "app": "imaging", "target": "ice40" | null, "clock_mhz": 48.0 | null,
     "routes": [{"path": "/luma", "name": "luma", "doc": "..." | null,
                 "params": [{"name": "p", "type": <type>}], "returns": <type>,
                 "latency": 3 | null, "ii": 1 | null}],
     "records": {"RGB": <record type>},
     "files": {"ir.json": "<sha256 hex>", "hdl/luma.v": "...", ...},
     "bundle_hash": "<sha256 hex of the canonical JSON of files>"}

Type descriptors are those of ``ir.json``. Names (app, routes, parameters,
records, fields) become Python identifiers in the host bindings, so they are
checked here: identifiers, not keywords, not dunder names, not starting with
``_fpgac``, and not ``int``, ``bool`` or ``list`` (the bindings' annotations).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from ._errors import BundleError
from ._values import ArrayT, RecordT, Type, _describe, _is_name, parse_type

__all__ = ["FORMAT", "SCHEMA_VERSION", "KEYS", "RouteInfo", "check_name", "check_body",
           "check_files", "check_manifest", "safe_relative", "files_hash", "collect_records",
           "type_text", "annotation_text"]

FORMAT = "fpgac-bundle"
SCHEMA_VERSION = 1
#: The keys written by the compiler; ``files`` and ``bundle_hash`` are added last.
BODY_KEYS = ("format", "schema_version", "fpgac_version", "app", "target", "clock_mhz",
             "routes", "records")
KEYS = (*BODY_KEYS, "files", "bundle_hash")
ROUTE_KEYS = ("path", "name", "doc", "params", "returns", "latency", "ii")
#: Names the generated bindings use themselves.
RESERVED = frozenset({"int", "bool", "list"})
MAX_FILES = 100_000
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class RouteInfo:
    """One route of a validated manifest."""

    path: str
    name: str
    doc: str | None
    params: tuple[tuple[str, Type], ...]
    returns: Type
    latency: int | None
    ii: int | None


def _fail(message: str) -> BundleError:
    return BundleError(f"manifest.json: {message}")


def check_name(value: Any, what: str) -> str:
    """Return ``value`` if it can name ``what`` in the host bindings, else refuse it."""
    if not _is_name(value):
        raise _fail(f"{what} must be a Python identifier, not {_describe(value)}")
    if value in RESERVED or value.startswith("_fpgac") or (
            value.startswith("__") and value.endswith("__")):
        raise _fail(f"{what} {value!r} is reserved in the host bindings; rename it")
    return value


def _check_keys(data: dict, keys: tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if k not in data]
    extra = sorted(str(k) for k in data if k not in keys)
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + \
                ([f"unexpected {', '.join(extra)}"] if extra else [])
        raise _fail(f"{where}: {'; '.join(parts)}")


def _optional_int(value: Any, least: int, what: str) -> int | None:
    if value is None or (type(value) is int and value >= least):
        return value
    raise _fail(f"{what} must be an integer of at least {least} or null, not "
                f"{_describe(value)}")


def _check_type_names(t: Type, where: str) -> None:
    """Check every record and field name inside ``t`` for use in the bindings."""
    if isinstance(t, RecordT):
        check_name(t.name, f"{where}: the record name")
        for name, ft in t.fields:
            check_name(name, f"{where}: the field name")
            _check_type_names(ft, f"{where}.{name}")
    elif isinstance(t, ArrayT):
        _check_type_names(t.elem, f"{where}[]")


def _route(data: Any, index: int) -> RouteInfo:
    where = f"route {index}"
    if type(data) is not dict:
        raise _fail(f"{where} must be an object, not {_describe(data)}")
    _check_keys(data, ROUTE_KEYS, where)
    path = data["path"]
    if not (type(path) is str and path.startswith("/") and path.isprintable()):
        raise _fail(f"{where}: the path must be a string starting with '/', not "
                    f"{_describe(path)}")
    where = f"route {path}"
    name = check_name(data["name"], f"{where}: the handler name")
    doc = data["doc"]
    if doc is not None and type(doc) is not str:
        raise _fail(f"{where}: the doc must be a string or null, not {_describe(doc)}")
    if type(data["params"]) is not list:
        raise _fail(f"{where}: params must be a list, not {_describe(data['params'])}")
    params: list[tuple[str, Type]] = []
    for i, p in enumerate(data["params"]):
        if type(p) is not dict:
            raise _fail(f"{where}: param {i} must be an object, not {_describe(p)}")
        _check_keys(p, ("name", "type"), f"{where}: param {i}")
        pname = check_name(p["name"], f"{where}: param {i}'s name")
        if any(pname == n for n, _ in params):
            raise _fail(f"{where}: two parameters are named {pname}")
        t = parse_type(p["type"], f"manifest.json: {where}: param {pname}")
        _check_type_names(t, f"{where}: param {pname}")
        params.append((pname, t))
    returns = parse_type(data["returns"], f"manifest.json: {where}: returns")
    _check_type_names(returns, f"{where}: returns")
    latency = _optional_int(data["latency"], 0, f"{where}: latency")
    ii = _optional_int(data["ii"], 1, f"{where}: ii")
    return RouteInfo(path, name, doc, tuple(params), returns, latency, ii)


def check_body(data: Any, *, complete: bool = True
               ) -> tuple[list[RouteInfo], dict[str, RecordT]]:
    """Validate a manifest; return its routes and every record it names, nested first.

    With ``complete=False`` the manifest may lack ``files`` and ``bundle_hash``
    (it is being written); they are not checked here either way.
    """
    if type(data) is not dict:
        raise _fail(f"must hold a JSON object, not {_describe(data)}")
    if data.get("format") != FORMAT:
        raise BundleError(f"not an fpgac bundle manifest (its format is "
                          f"{_describe(data.get('format'))}, not {FORMAT!r})")
    version = data.get("schema_version")
    if type(version) is not int or version < 1:
        raise _fail(f"schema_version must be a positive integer, not {_describe(version)}")
    if version > SCHEMA_VERSION:
        raise BundleError(f"the bundle's manifest schema version {version} is newer than this "
                          f"runtime reads (version {SCHEMA_VERSION}); upgrade fpgac to load it")
    _check_keys(data, KEYS if complete else BODY_KEYS, "the manifest")
    if type(data["fpgac_version"]) is not str:
        raise _fail(f"fpgac_version must be a string, not {_describe(data['fpgac_version'])}")
    check_name(data["app"], "the app name")
    target, clock = data["target"], data["clock_mhz"]
    if target is not None and type(target) is not str:
        raise _fail(f"target must be a string or null, not {_describe(target)}")
    if clock is not None and not (type(clock) in (int, float) and math.isfinite(clock)
                                  and clock > 0):
        raise _fail(f"clock_mhz must be a positive number or null, not {_describe(clock)}")
    if type(data["routes"]) is not list:
        raise _fail(f"routes must be a list, not {_describe(data['routes'])}")
    routes = [_route(r, i) for i, r in enumerate(data["routes"])]
    for attr in ("path", "name"):
        seen: set[str] = set()
        for r in routes:
            if getattr(r, attr) in seen:
                raise _fail(f"two routes have the {attr} {getattr(r, attr)!r}")
            seen.add(getattr(r, attr))
    if type(data["records"]) is not dict:
        raise _fail(f"records must be an object, not {_describe(data['records'])}")
    listed: dict[str, RecordT] = {}
    for name, descriptor in data["records"].items():
        t = parse_type(descriptor, f"manifest.json: record {name!r}")
        if not isinstance(t, RecordT) or t.name != name:
            raise _fail(f"record {name!r}: the descriptor is not the record {name!r}")
        _check_type_names(t, f"record {name}")
        listed[name] = t
    records = collect_records(routes, listed)
    clash = sorted({r.name for r in routes} & set(records))
    if clash:
        raise _fail(f"{clash[0]!r} names both a route and a record; rename one")
    return routes, records


def check_files(data: dict) -> dict[str, str]:
    """Validate ``files`` and ``bundle_hash``; return the files."""
    files = data["files"]
    if type(files) is not dict:
        raise _fail(f"files must be an object, not {_describe(files)}")
    if len(files) > MAX_FILES:
        raise _fail(f"lists {len(files)} files; at most {MAX_FILES} are allowed")
    for path, digest in files.items():
        if not safe_relative(path):
            raise _fail(f"files: {_describe(path)} is not a relative path inside the bundle "
                        f"(forward slashes, no `..`)")
        if not _is_sha256(digest):
            raise _fail(f"files: the hash of {path!r} must be 64 lowercase hex digits, not "
                        f"{_describe(digest)}")
    if "ir.json" not in files:
        raise _fail("files: ir.json is not listed")
    if not _is_sha256(data["bundle_hash"]):
        raise _fail(f"bundle_hash must be 64 lowercase hex digits, not "
                    f"{_describe(data['bundle_hash'])}")
    if files_hash(files) != data["bundle_hash"]:
        raise _fail("bundle_hash does not match the listed files (the manifest was altered)")
    return files


def check_manifest(data: Any) -> tuple[list[RouteInfo], dict[str, RecordT], dict[str, str]]:
    """Validate a complete manifest; return its routes, records and files."""
    routes, records = check_body(data)
    return routes, records, check_files(data)


def safe_relative(path: Any) -> bool:
    """Return whether ``path`` is a plain relative POSIX path that stays inside its folder."""
    if type(path) is not str or not path or len(path) > 4096 or not path.isprintable():
        return False
    if path.startswith("/") or "\\" in path or ":" in path:
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


def _is_sha256(value: Any) -> bool:
    return type(value) is str and len(value) == 64 and set(value) <= _HEX


def files_hash(files: dict[str, str]) -> str:
    """Return the bundle hash: the SHA-256 of the canonical JSON of ``files``."""
    text = json.dumps(files, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def collect_records(routes: list[RouteInfo], listed: dict[str, RecordT]) -> dict[str, RecordT]:
    """Return every record the manifest lists or a route uses, each after those it nests.

    Two different records of one name are refused: a name must mean one class.
    """
    found: dict[str, RecordT] = {}

    def visit(t: Type) -> None:
        if isinstance(t, ArrayT):
            visit(t.elem)
        elif isinstance(t, RecordT):
            for _, ft in t.fields:
                visit(ft)
            known = found.get(t.name)
            if known is None:
                found[t.name] = t
            elif known != t:
                raise _fail(f"two different records are named {t.name!r}")

    for t in listed.values():
        visit(t)
    for r in routes:
        for _, t in r.params:
            visit(t)
        visit(r.returns)
    return found


def type_text(t: Type) -> str:
    """Return the fpgac spelling of a type: ``u8``, ``bool``, ``RGB``, ``Array[u8, 4]``."""
    return str(t)


def annotation_text(t: Type) -> str:
    """Return the Python annotation of a type: ``int``, ``bool``, ``RGB``, ``list[int]``."""
    if isinstance(t, RecordT):
        return t.name
    if isinstance(t, ArrayT):
        return f"list[{annotation_text(t.elem)}]"
    return "bool" if str(t) == "bool" else "int"
