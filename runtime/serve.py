"""Serve an app's routes over HTTP: one JSON endpoint and one NDJSON batch endpoint per route.

    from fpgac.runtime import model_from_ir
    from fpgac.runtime.serve import create_app, serve

    doc = json.load(open("build/imaging/ir.json"))
    serve(create_app(model_from_ir(doc), doc), "127.0.0.1", 8000)

Endpoints (see ``docs/serving.md``):

- ``POST <path>``: one request, a JSON object keyed by parameter name; the
  response is the returned value itself. 400 for a body that is not JSON,
  413 for a body over the limit, 422 for a request that does not fit the
  route's signature, with the offending field's path (``p.r``, ``data[3]``).
- ``POST <path>/batch``: NDJSON in, NDJSON out, one answer line per request
  line in order; a refused line is answered ``{"error": "...", "line": N}``
  and the others still run. Lines are parsed and run in chunks through the
  model's batch (numpy) path.
- ``GET /healthz``, ``GET /metrics`` (Prometheus), ``GET /openapi.json``
  (generated from the handler types) and ``GET /docs``.

The JSON endpoints are plain ASGI handlers placed in front of FastAPI's router:
requests are checked by the runtime's own validator, never by per-request
pydantic models, and FastAPI serves only the documentation, health and metrics.
FastAPI, uvicorn and prometheus_client are the ``serve`` extra: they are
imported here, never by ``fpgac.runtime`` itself.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.exceptions import HTTPException as StarletteHTTPException

from ._errors import RequestError
from ._jsonl import _parse as parse_line
from ._model import AppModel, RouteModel
from ._values import ArrayT, BoolT, IntT, RecordT, Type, parse_type

__all__ = ["RouteEndpoint", "routes_from_ir", "create_app", "create_app_from_routes",
           "openapi_document", "serve", "run_server", "DEFAULT_MAX_BODY_BYTES",
           "DEFAULT_MAX_BATCH_BYTES", "DEFAULT_BATCH_CHUNK"]

#: The largest body of a single request (bytes): far above any request a handler takes.
DEFAULT_MAX_BODY_BYTES = 1 << 20
#: The largest body of a batch request (bytes); a batch is read whole before it is answered.
DEFAULT_MAX_BATCH_BYTES = 1 << 28
#: Lines per chunk of a batch: parsed, run and sent back together.
DEFAULT_BATCH_CHUNK = 8192
#: Latency histogram buckets (seconds): requests take microseconds, batches seconds.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
NDJSON = "application/x-ndjson"
ROUTES_SCHEMA_PREFIX = "fpgac."


# --- the interface the server needs of a route -------------------------------------------------


@dataclass(frozen=True)
class RouteEndpoint:
    """What the server needs of one route: its signature as type descriptors and two callables.

    ``params`` is the list of ``{"name", "type"}`` descriptors and ``returns``
    the return type descriptor, as in ``ir.json``. ``handle(request)`` runs one
    request (a dict keyed by parameter name) and returns the response value or
    raises :class:`RequestError`; ``run_isolated(requests)`` runs many and
    returns, in order, ``(True, response)`` or ``(False, RequestError)`` per
    request. A :class:`~fpgac.runtime.RouteModel` provides both.

    ``run_leaves`` is optional, for speed: ``run_leaves(requests)`` returns
    the output leaf columns of the good requests (one list of ints per leaf
    of the return type, in port order) and the :class:`RequestError` of each
    bad one by index. Batches then skip building response dicts.
    """

    path: str
    name: str
    doc: str | None
    params: list[dict[str, Any]]
    returns: dict[str, Any]
    handle: Callable[[dict[str, Any]], Any]
    run_isolated: Callable[[Sequence[dict[str, Any]]], list[tuple[bool, Any]]]
    run_leaves: Callable[[Sequence[dict[str, Any]]],
                         tuple[list[list[int]], dict[int, RequestError]]] | None = None


def _leaf_runner(model: RouteModel) -> Callable | None:
    """Return a ``run_leaves`` for a route model: its column path, without response objects."""
    if not model.param_paths:
        return None  # no columns to count the requests by

    def run_leaves(requests: Sequence[dict[str, Any]]
                   ) -> tuple[list[list[int]], dict[int, RequestError]]:
        arrays, errors = model.signature.columns_isolated(requests)
        outputs = model.run_columns(dict(zip(model.param_paths, arrays)))
        return [outputs[path].tolist() for path in model.output_paths], errors

    return run_leaves


def routes_from_ir(app_model: AppModel, ir_doc: Mapping[str, Any]) -> list[RouteEndpoint]:
    """Pair each route of ``ir_doc`` with its model in ``app_model``, in the document's order."""
    endpoints = []
    for route in ir_doc["routes"]:
        model = app_model.route(route["path"])
        endpoints.append(RouteEndpoint(route["path"], route["name"], route.get("doc"),
                                       route["params"], route["returns"],
                                       model.handle, model.run_isolated,
                                       _leaf_runner(model)))
    return endpoints


def routes_from_bundle(app: Any) -> list[RouteEndpoint]:
    """Return the endpoints of a loaded bundle (:func:`fpgac.runtime.load`), run on its device.

    Requests go through the bundle's dispatcher, so they run on the device it
    was loaded with and fail over to the software model, in order.
    """
    endpoints = []
    ir_doc = json.loads((app.directory / "ir.json").read_text(encoding="utf-8"))
    for route in ir_doc["routes"]:
        function = app.route(route["path"])
        endpoints.append(RouteEndpoint(route["path"], route["name"], route.get("doc"),
                                       route["params"], route["returns"],
                                       function.handle, function.run_isolated))
    return endpoints


# --- JSON schemas from the handler types -------------------------------------------------------


class _Schemas:
    """Build JSON schemas of types; records become named components, shared by reference."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Any]] = {}
        self._made: dict[tuple[RecordT, bool], str] = {}

    def of(self, t: Type, *, request: bool) -> dict[str, Any]:
        """Return the schema of ``t`` as a request holds it (``request``) or as a response does.

        Requests may send ``true``/``false`` for ``bool`` and ``u1``; responses hold 0 or 1.
        """
        if isinstance(t, (IntT, BoolT)):
            schema: dict[str, Any] = {"type": "integer", "minimum": t.lo, "maximum": t.hi}
            if request and t.width == 1 and not t.signed:
                schema = {"anyOf": [schema, {"type": "boolean"}]}
            return {**schema, "description": str(t)}
        if isinstance(t, ArrayT):
            return {"type": "array", "items": self.of(t.elem, request=request),
                    "minItems": t.length, "maxItems": t.length}
        return {"$ref": f"#/components/schemas/{self._record(t, request)}"}

    def _record(self, t: RecordT, request: bool) -> str:
        key = (t, request)
        if key in self._made:
            return self._made[key]
        schema = {
            "title": t.name,
            "type": "object",
            "properties": {name: self.of(ft, request=request) for name, ft in t.fields},
            "required": [name for name, _ in t.fields],
            "additionalProperties": False,
        }
        # A record holds the same schema both ways unless a bool or u1 field sits in it.
        name = t.name
        other = self._made.get((t, not request))
        if other is not None and self.components[other] == schema:
            name = other
        elif other is not None or name in self.components:
            name = f"{t.name}.{'request' if request else 'response'}"
        self.components[name] = schema
        self._made[key] = name
        return name

    def request(self, params: Sequence[tuple[str, Type]]) -> dict[str, Any]:
        """Return the schema of a route's request: an object keyed by parameter name."""
        return {
            "type": "object",
            "properties": {name: self.of(t, request=True) for name, t in params},
            "required": [name for name, _ in params],
            "additionalProperties": False,
        }


_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "What is wrong and how to fix it."},
        "path": {"type": "string", "description": "The refused field (`p.r`, `data[3]`); "
                                                  "empty for the request as a whole."},
    },
    "required": ["error"],
}
_LINE_ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"},
                   "line": {"type": "integer", "minimum": 1,
                            "description": "The 1-based number of the refused line."}},
    "required": ["error", "line"],
    "additionalProperties": False,
}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{ROUTES_SCHEMA_PREFIX}Error"}}}}


def openapi_document(app_name: str, routes: Sequence[RouteEndpoint], *,
                     max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                     max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of an app's endpoints, generated from the handler types.

    Integers carry their range as ``minimum``/``maximum``, records are object
    schemas (``required``, ``additionalProperties: false``) named after the
    record, arrays have ``minItems == maxItems``. A batch endpoint's line
    schema sits in its request body's ``x-ndjson-item-schema``.
    """
    schemas = _Schemas()
    paths: dict[str, Any] = {}
    for route in routes:
        params = [(p["name"], parse_type(p["type"], f"route {route.path} {p['name']}"))
                  for p in route.params]
        returns = parse_type(route.returns, f"route {route.path} returns")
        request = schemas.request(params)
        response = schemas.of(returns, request=False)
        doc = (route.doc or "").strip()
        summary = doc.splitlines()[0] if doc else f"Run `{route.name}`."
        paths[route.path] = {"post": {
            "operationId": route.name,
            "summary": summary,
            "description": doc,
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": request}}},
            "responses": {
                "200": {"description": "The value the handler returns.",
                        "content": {"application/json": {"schema": response}}},
                "400": _error_response("The body is not valid JSON."),
                "413": _error_response(f"The body is over {max_body_bytes} bytes."),
                "422": _error_response("The request does not fit the handler's signature; "
                                       "`path` names the refused field."),
            },
        }}
        paths[route.path + "/batch"] = {"post": {
            "operationId": f"{route.name}_batch",
            "summary": f"Run many `{route.name}` requests: NDJSON in, NDJSON out, in order.",
            "description": (
                "One request per line, each a JSON object as for the single endpoint. The "
                "answer has one line per request line, in order: the response, or "
                "`{\"error\": \"...\", \"line\": N}` for a refused line (the others still "
                "run). The body is read whole (at most "
                f"{max_batch_bytes} bytes) and answered in chunks as they are computed."),
            "requestBody": {"required": True, "content": {NDJSON: {
                "schema": {"type": "string"}, "x-ndjson-item-schema": request}}},
            "responses": {
                "200": {"description": "One line per request line.", "content": {NDJSON: {
                    "schema": {"type": "string"},
                    "x-ndjson-item-schema": {"anyOf": [
                        response,
                        {"$ref": f"#/components/schemas/{ROUTES_SCHEMA_PREFIX}LineError"}]}}}},
                "413": _error_response(f"The body is over {max_batch_bytes} bytes."),
            },
        }}
    paths["/healthz"] = {"get": {
        "operationId": "healthz", "summary": "Report that the service is up, with its routes.",
        "responses": {"200": {"description": "The service is up.", "content": {
            "application/json": {"schema": {"type": "object"}}}}}}}
    paths["/metrics"] = {"get": {
        "operationId": "metrics", "summary": "Prometheus metrics in the text exposition format.",
        "responses": {"200": {"description": "The metrics.",
                              "content": {"text/plain": {"schema": {"type": "string"}}}}}}}
    components = dict(schemas.components)
    components[f"{ROUTES_SCHEMA_PREFIX}Error"] = _ERROR_SCHEMA
    components[f"{ROUTES_SCHEMA_PREFIX}LineError"] = _LINE_ERROR_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": app_name, "version": "1",
                 "description": f"The routes of the fpgac app `{app_name}`."},
        "paths": paths,
        "components": {"schemas": components},
    }


# --- encoding responses ------------------------------------------------------------------------

_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def _plain(t: Type, value: Any) -> Any:
    """Return ``value`` with records as dicts (a response may hold record objects)."""
    if isinstance(t, RecordT):
        get = value.__getitem__ if isinstance(value, dict) else value.__getattribute__
        return {name: _plain(ft, get(name)) for name, ft in t.fields}
    if isinstance(t, ArrayT):
        return [_plain(t.elem, v) for v in value]
    return int(value)


class _Encoder:
    """Encode response values of one type as compact JSON text, many at a time.

    A scalar is ``str(int)``; a record of scalars or an array of scalars is a
    ``%``-template filled in C; anything else (nesting, record objects rather
    than dicts) goes through ``json``.
    """

    def __init__(self, t: Type):
        self.type = t
        self._template: str | None = None
        self._flatten: Callable[[Any], Any] | None = None
        if isinstance(t, RecordT) and all(isinstance(ft, (IntT, BoolT)) for _, ft in t.fields):
            names = [name for name, _ in t.fields]
            self._template = "{" + ",".join(f'"{n}":%d' for n in names) + "}"
            self._flatten = itemgetter(*names) if len(names) > 1 else _one_field(names[0])
        elif isinstance(t, ArrayT) and isinstance(t.elem, (IntT, BoolT)):
            self._template = "[" + ",".join(["%d"] * t.length) + "]"
            self._flatten = tuple

        #: The whole response with ``%d`` at each leaf, in port order: filled from leaf rows.
        self._leaf_template = _leaf_template(t)

    def from_leaves(self, columns: list[list[int]]) -> list[str]:
        """Return the JSON texts of responses given as output leaf columns (lists of ints)."""
        if isinstance(self.type, (IntT, BoolT)):
            return list(map(str, columns[0]))
        return list(map(self._leaf_template.__mod__, zip(*columns)))

    def one(self, value: Any) -> str:
        """Return the JSON text of one response value."""
        return self.many([value])[0]

    def many(self, values: list[Any]) -> list[str]:
        """Return the JSON texts of many response values, in order."""
        t = self.type
        if isinstance(t, (IntT, BoolT)):
            if set(map(type, values)) <= {int}:
                return list(map(str, values))
            return [str(int(v)) for v in values]
        if self._template is not None:
            try:
                return list(map(self._template.__mod__, map(self._flatten, values)))
            except (TypeError, KeyError, ValueError):
                pass  # not plain dicts or lists of ints: the general path below
        return [_dumps(_plain(t, v)) for v in values]


def _leaf_template(t: Type) -> str:
    if isinstance(t, RecordT):
        return "{" + ",".join(f'"{name}":{_leaf_template(ft)}' for name, ft in t.fields) + "}"
    if isinstance(t, ArrayT):
        return "[" + ",".join([_leaf_template(t.elem)] * t.length) + "]"
    return "%d"


def _one_field(name: str) -> Callable[[Any], tuple]:
    get = itemgetter(name)
    return lambda value: (get(value),)


# --- metrics -----------------------------------------------------------------------------------


class _Metrics:
    """The Prometheus metrics of one app, in their own registry."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.requests = Counter(
            "fpgac_requests", "Requests answered (each line of a batch counts as one).",
            ["route", "endpoint"], registry=registry)
        self.errors = Counter(
            "fpgac_request_errors", "Requests refused, by reason: invalid (422, a request "
            "that does not fit), malformed (400, not JSON), too_large (413).",
            ["route", "endpoint", "reason"], registry=registry)
        self.latency = Histogram(
            "fpgac_request_duration_seconds", "Time from the request's arrival to the end of "
            "its answer, per HTTP request (a whole batch is one).",
            ["route", "endpoint"], buckets=LATENCY_BUCKETS, registry=registry)
        self.not_found = Counter(
            "fpgac_not_found", "Requests to a path that is no endpoint (404).",
            registry=registry)


class _Bound:
    """One endpoint's metric children, bound once so that counting costs no label lookup."""

    def __init__(self, metrics: _Metrics, route: str, endpoint: str):
        self.requests = metrics.requests.labels(route, endpoint)
        self.latency = metrics.latency.labels(route, endpoint)
        self.invalid = metrics.errors.labels(route, endpoint, "invalid")
        self.malformed = metrics.errors.labels(route, endpoint, "malformed")
        self.too_large = metrics.errors.labels(route, endpoint, "too_large")


# --- the endpoints -----------------------------------------------------------------------------

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON_HEADERS = [(b"content-type", b"application/json")]
_KINDS = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
#: Separates the lines of a batch chunk in one joined JSON array (see ``_Route.answer``);
#: random per process so that no line can imitate it.
_SENTINEL = secrets.randbits(62) | (1 << 61)


class _TooLarge(Exception):
    """The request body is over the endpoint's limit."""


class _Disconnected(Exception):
    """The client went away before its body arrived."""


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """Return the whole request body; raise :class:`_TooLarge` as soon as it is over ``limit``."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                if int(value) > limit:
                    raise _TooLarge
            except ValueError:
                pass  # the server refuses a bad Content-Length before we run
            break
    message = await receive()
    if message["type"] != "http.request":
        raise _Disconnected
    body = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise _TooLarge
        return body
    parts, size = [body], len(body)
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


async def _send_json(send: Send, status: int, text: str, close: bool = False,
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode()
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode()), *(headers or [])]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _error_json(message: str, path: str | None = None) -> str:
    return _dumps({"error": message} if path is None else {"error": message, "path": path})


class _Route:
    """The two endpoints of one route: ``POST <path>`` and ``POST <path>/batch``."""

    def __init__(self, route: RouteEndpoint, metrics: _Metrics, *, max_body_bytes: int,
                 max_batch_bytes: int, batch_chunk: int):
        self.route = route
        self.returns = parse_type(route.returns, f"route {route.path} returns")
        self.encoder = _Encoder(self.returns)
        self.max_body_bytes = max_body_bytes
        self.max_batch_bytes = max_batch_bytes
        self.batch_chunk = batch_chunk
        self.single_metrics = _Bound(metrics, route.path, "single")
        self.batch_metrics = _Bound(metrics, route.path, "batch")

    # -- one request ----------------------------------------------------------------------------

    async def single(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request: the JSON response, or an error with its status."""
        start = time.perf_counter()
        m = self.single_metrics
        m.requests.inc()
        try:
            body = await _read_body(scope, receive, self.max_body_bytes)
        except _TooLarge:
            m.too_large.inc()
            await _send_json(send, 413, _error_json(
                f"the body is over {self.max_body_bytes} bytes; send many requests to "
                f"{self.route.path}/batch instead"), close=True)
            m.latency.observe(time.perf_counter() - start)
            return
        except _Disconnected:
            return
        status, text = self.answer_one(body)
        if status == 400:
            m.malformed.inc()
        elif status == 422:
            m.invalid.inc()
        await _send_json(send, status, text)
        m.latency.observe(time.perf_counter() - start)

    def answer_one(self, body: bytes) -> tuple[int, str]:
        """Return the status and JSON text answering one request body."""
        if not body.strip():
            return 400, _error_json("the body is empty; send a JSON object keyed by parameter "
                                    "name")
        try:
            request = json.loads(body)
        except json.JSONDecodeError as e:
            return 400, _error_json(f"not valid JSON: {e.msg} (line {e.lineno}, column "
                                    f"{e.colno})")
        except ValueError as e:  # not UTF-8, or an integer beyond Python's digit limit
            return 400, _error_json(f"not valid JSON: {e}")
        if type(request) is not dict:
            kind = _KINDS.get(type(request), "a number")
            return 422, _error_json(f"a request must be a JSON object keyed by parameter "
                                    f"name, not {kind}", "")
        try:
            value = self.route.handle(request)
        except RequestError as e:
            return 422, _error_json(e.reason, e.path)
        return 200, self.encoder.one(value)

    # -- many requests --------------------------------------------------------------------------

    async def batch(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer an NDJSON body line by line, in order, streaming chunk by chunk."""
        start = time.perf_counter()
        m = self.batch_metrics
        try:
            body = await _read_body(scope, receive, self.max_batch_bytes)
        except _TooLarge:
            m.too_large.inc()
            await _send_json(send, 413, _error_json(
                f"the batch is over {self.max_batch_bytes} bytes; split it into several "
                f"batches"), close=True)
            m.latency.observe(time.perf_counter() - start)
            return
        except _Disconnected:
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", NDJSON.encode())]})
        lines = _split_lines(body)
        del body
        chunk = self.batch_chunk
        for first in range(0, len(lines), chunk):
            part = lines[first:first + chunk]
            text, invalid, malformed = self.answer(part, first + 1)
            m.requests.inc(len(part))
            if invalid:
                m.invalid.inc(invalid)
            if malformed:
                m.malformed.inc(malformed)
            await send({"type": "http.response.body", "body": text.encode(),
                        "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        m.latency.observe(time.perf_counter() - start)

    def answer(self, lines: list[str], first: int) -> tuple[str, int, int]:
        """Answer ``lines`` (numbered from ``first``); return the text and the refusal counts.

        The text holds one line per input line, in order. Returns
        ``(text, invalid, malformed)``: lines that do not fit the signature, and
        lines that are not a JSON object.
        """
        requests = _parse_joined(lines)
        if requests is not None and set(map(type, requests)) == {dict}:
            texts, errors = self._run(requests)
            if not errors:
                return "\n".join(texts) + "\n", 0, 0
            positions: Sequence[int] = range(len(lines))
            out = [""] * len(lines)
            malformed = 0
        else:
            # Some line is not a JSON object: parse line by line, with a reason for each.
            out = [""] * len(lines)
            requests, positions, malformed = [], [], 0
            for i, text in enumerate(lines):
                request, reason = parse_line(text)
                if reason is None:
                    requests.append(request)
                    positions.append(i)
                else:
                    out[i] = _dumps({"error": reason, "line": first + i})
                    malformed += 1
            texts, errors = self._run(requests)
        answers = iter(texts)
        for k, i in enumerate(positions):
            error = errors.get(k)
            out[i] = (next(answers) if error is None
                      else _dumps({"error": error.reason, "line": first + i}))
        return "\n".join(out) + "\n", len(errors), malformed

    def _run(self, requests: list[dict[str, Any]]) -> tuple[list[str], dict[int, RequestError]]:
        """Return the JSON texts of the good requests, in order, and the errors by index."""
        if not requests:
            return [], {}
        if self.route.run_leaves is not None:
            columns, errors = self.route.run_leaves(requests)
            return self.encoder.from_leaves(columns), errors
        results = self.route.run_isolated(requests)
        errors = {i: value for i, (ok, value) in enumerate(results) if not ok}
        return self.encoder.many([value for ok, value in results if ok]), errors


def _split_lines(body: bytes) -> list[str]:
    """Split an NDJSON body into lines (a final newline ends the last line, it adds none)."""
    if not body:
        return []
    if body.endswith(b"\n"):
        body = body[:-1]
    try:
        return body.decode().split("\n")
    except UnicodeDecodeError:
        # Decode line by line: only the lines at fault are refused, as not valid JSON.
        return [_decode_line(line) for line in body.split(b"\n")]


def _decode_line(line: bytes) -> str:
    try:
        return line.decode()
    except UnicodeDecodeError:
        return "\ufffd"  # not JSON: refused as such, like any other unparsable line


_decode = json.JSONDecoder().decode
_JOIN = f",{_SENTINEL},"


def _parse_joined(lines: list[str]) -> list[Any] | None:
    """Parse every line at once as one JSON array; ``None`` if any line is not one JSON value.

    The lines are joined with a random integer between them: ``[L1,S,L2,S,L3]``.
    The parse is exact when it yields ``S`` at every odd position: every
    separator is then a top-level item (none was swallowed by a string or an
    open bracket of a line), so each line between two separators is exactly
    one JSON value. A line cannot forge ``S`` without knowing it.
    """
    try:
        items = _decode("[" + _JOIN.join(lines) + "]")
    except ValueError:
        return None
    if len(items) != 2 * len(lines) - 1 or items[1::2].count(_SENTINEL) != len(lines) - 1:
        return None
    return items[0::2]


# --- the ASGI application ----------------------------------------------------------------------


class _ServedApp(FastAPI):
    """FastAPI, with the route endpoints answered before its middleware stack and router.

    The route endpoints are plain ASGI callables: they check requests with the
    runtime's validator and write their answers directly, so FastAPI's
    per-request machinery (routing, dependency injection, pydantic) stays out
    of the hot path. Everything else — docs, health, metrics, 404s — is FastAPI's.
    """

    fpgac_endpoints: Mapping[str, Callable] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = self.fpgac_endpoints.get(scope["path"])
            if endpoint is not None:
                if scope["method"] == "POST":
                    await endpoint(scope, receive, send)
                else:
                    await _send_json(send, 405, _error_json(
                        f"{scope['method']} is not allowed at {scope['path']}; route "
                        f"endpoints take POST"), headers=[(b"allow", b"POST")])
                return
        await super().__call__(scope, receive, send)


def create_app(app_model: AppModel, ir_doc: Mapping[str, Any], *,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
               batch_chunk: int = DEFAULT_BATCH_CHUNK,
               registry: CollectorRegistry | None = None) -> FastAPI:
    """Return the ASGI application serving every route of ``app_model``.

    ``ir_doc`` is the app's IR document (``ir.json``, parsed): its routes give
    the paths, docs and types of the endpoints and of the OpenAPI document.
    """
    return create_app_from_routes(
        ir_doc.get("app", app_model.app), routes_from_ir(app_model, ir_doc),
        max_body_bytes=max_body_bytes, max_batch_bytes=max_batch_bytes,
        batch_chunk=batch_chunk, registry=registry)


def create_app_from_routes(app_name: str, routes: Sequence[RouteEndpoint], *,
                           max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                           max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
                           batch_chunk: int = DEFAULT_BATCH_CHUNK,
                           registry: CollectorRegistry | None = None) -> FastAPI:
    """Return the ASGI application serving ``routes`` (see :class:`RouteEndpoint`).

    ``max_body_bytes`` bounds a single request's body, ``max_batch_bytes`` a
    batch's; ``batch_chunk`` is the number of batch lines run and sent back
    together. Metrics go to ``registry`` (by default a new one per app).
    """
    if max_body_bytes < 1 or max_batch_bytes < 1:
        raise ValueError("body limits must be at least 1 byte")
    if batch_chunk < 1:
        raise ValueError(f"batch_chunk must be at least 1, not {batch_chunk}")
    metrics = _Metrics(registry if registry is not None else CollectorRegistry())
    endpoints: dict[str, Callable] = {}
    for route in routes:
        served = _Route(route, metrics, max_body_bytes=max_body_bytes,
                        max_batch_bytes=max_batch_bytes, batch_chunk=batch_chunk)
        for path, endpoint in ((route.path, served.single),
                               (route.path + "/batch", served.batch)):
            if path in endpoints:
                raise ValueError(f"two endpoints at POST {path}: rename the route "
                                 f"{route.path} (batch endpoints are `<path>/batch`)")
            endpoints[path] = endpoint
    document = openapi_document(app_name, routes, max_body_bytes=max_body_bytes,
                                max_batch_bytes=max_batch_bytes)
    app = _ServedApp(title=app_name, version="1", openapi_url="/openapi.json")
    app.fpgac_endpoints = endpoints
    app.openapi = lambda: document  # type: ignore[method-assign]
    route_list = [{"path": r.path, "name": r.name} for r in routes]

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "app": app_name, "routes": route_list}

    @app.get("/metrics", include_in_schema=False)
    def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def http_error(request: Any, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            metrics.not_found.inc()
            known = ", ".join(f"POST {path}" for path in endpoints) or "none"
            message = f"no endpoint at {request.url.path}; the endpoints: {known}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed at {request.url.path}"
        else:
            message = str(exc.detail)
        return JSONResponse({"error": message}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.state.metrics_registry = metrics.registry
    return app


# --- running it --------------------------------------------------------------------------------


def serve(app: Any, host: str = "127.0.0.1", port: int = 8000, *, log_level: str = "info",
          access_log: bool = False) -> None:
    """Run ``app`` under uvicorn at ``host:port`` until interrupted.

    The access log is off by default: at thousands of requests per second it
    would cost more than the requests.
    """
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log)


def run_server(app_model: AppModel, ir_doc: Mapping[str, Any], host: str = "127.0.0.1",
               port: int = 8000, *, log_level: str = "info", access_log: bool = False,
               **opts: Any) -> None:
    """Serve ``app_model`` at ``host:port``; ``opts`` go to :func:`create_app`."""
    serve(create_app(app_model, ir_doc, **opts), host, port, log_level=log_level,
          access_log=access_log)
