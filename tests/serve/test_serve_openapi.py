"""The OpenAPI document, and a property-based run of every route against it.

hypothesis-jsonschema draws requests from each route's request schema (or, where
the installed release does not work with the installed Hypothesis, the small
reader of the same schemas in ``serve_helpers``): the
server must answer 200 with a value that fits the response schema and equals
the software model's. Broken requests (a leaf out of range or of the wrong
type, a key missing or extra, an array of the wrong length, any JSON value at
all) must get 422, or 200 when the value happens to be valid — never 500.
"""

from __future__ import annotations

import json

import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_helpers import example_doc, inline_refs, schema_strategy, serve_doc

from fpgac.runtime import RequestError
from fpgac.runtime.serve import openapi_document, routes_from_ir

#: The apps of the property-based run: two by default, the rest with the slow tests.
APPS = ["imaging", "mixed"] + [pytest.param(name, marks=pytest.mark.slow) for name in
                              ("bitpack", "crc", "fixedpoint", "hashing", "ipv4", "saturating")]


def test_openapi_document_shape(imaging, mixed_server):
    doc = imaging[0].get("/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == "imaging"
    luma = doc["paths"]["/luma"]["post"]
    assert luma["operationId"] == "luma"
    assert luma["summary"] == "Return the luma of one pixel."
    assert luma["requestBody"]["content"]["application/json"]["schema"] == {
        "type": "object", "properties": {"p": {"$ref": "#/components/schemas/RGB"}},
        "required": ["p"], "additionalProperties": False}
    assert luma["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "integer", "minimum": 0, "maximum": 255, "description": "u8"}
    assert set(luma["responses"]) == {"200", "400", "413", "422"}
    u8 = {"type": "integer", "minimum": 0, "maximum": 255, "description": "u8"}
    assert doc["components"]["schemas"]["RGB"] == {
        "title": "RGB", "type": "object", "properties": {"r": u8, "g": u8, "b": u8},
        "required": ["r", "g", "b"], "additionalProperties": False}
    batch = doc["paths"]["/luma/batch"]["post"]
    assert batch["requestBody"]["content"]["application/x-ndjson"][
        "x-ndjson-item-schema"] == luma["requestBody"]["content"]["application/json"]["schema"]
    assert {"/healthz", "/metrics"} <= set(doc["paths"])

    mixed = mixed_server[0].get("/openapi.json").json()
    flags = mixed["paths"]["/flags"]["post"]
    params = flags["requestBody"]["content"]["application/json"]["schema"]["properties"]
    boolean = {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 1},
                         {"type": "boolean"}]}
    assert params["a"] == {**boolean, "description": "bool"}
    assert params["b"] == {**boolean, "description": "u1"}
    assert params["v"] == {"type": "integer", "minimum": -128, "maximum": 127,
                           "description": "i8"}
    # Responses hold 0 or 1, never true or false.
    assert flags["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "integer", "minimum": 0, "maximum": 1, "description": "bool"}
    schemas = mixed["components"]["schemas"]
    # Shape holds a bool: it is one schema as a request holds it and one as a response does.
    assert schemas["Shape"]["properties"]["pts"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/Pt"},
        "minItems": 3, "maxItems": 3}
    assert "anyOf" in schemas["Shape"]["properties"]["closed"]
    assert schemas["Shape.response"]["properties"]["closed"]["type"] == "integer"
    assert "Pt.response" not in schemas
    wide = mixed["paths"]["/wide"]["post"]["responses"]["200"]["content"]["application/json"]
    assert wide["schema"]["maximum"] == (1 << 100) - 1


def test_openapi_document_is_served_as_generated(imaging, imaging_doc):
    client, model = imaging
    assert client.get("/openapi.json").json() == openapi_document(
        "imaging", routes_from_ir(model, imaging_doc))


# --- the property-based run ---------------------------------------------------------------------


@pytest.fixture(scope="module", params=APPS)
def served(request):
    """A live server of one app: ``(client, app model, inlined OpenAPI document)``."""
    from serve_helpers import mixed_doc

    doc = mixed_doc() if request.param == "mixed" else example_doc(request.param)
    server, model = serve_doc(doc)
    with server, httpx.Client(base_url=server.url, timeout=30) as client:
        openapi = client.get("/openapi.json").json()
        yield client, model, inline_refs(openapi["paths"], openapi["components"]["schemas"])


def _schemas(paths, route_path):
    post = paths[route_path]["post"]
    return (post["requestBody"]["content"]["application/json"]["schema"],
            post["responses"]["200"]["content"]["application/json"]["schema"])


def _routes(served):
    return [p for p in served[2] if p not in ("/healthz", "/metrics")
            and not p.endswith("/batch")]


PROPERTY = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


def test_valid_requests_from_the_schema_are_answered_as_the_model_does(served):
    client, model, paths = served
    for path in _routes(served):
        request_schema, response_schema = _schemas(paths, path)
        _check_valid(client, path, model.route(path), request_schema, response_schema)


def _check_valid(client, path, route, request_schema, response_schema):
    @PROPERTY
    @given(schema_strategy(request_schema))
    def check(request):
        response = client.post(path, json=request)
        assert response.status_code == 200, (request, response.text)
        value = response.json()
        jsonschema.validate(value, response_schema)
        assert value == route.handle(request)

    check()


def _leaf_paths(schema, prefix=()):
    """Yield the key path of every leaf (integer or bool) of a request schema."""
    if schema.get("type") == "object":
        for name, sub in schema["properties"].items():
            yield from _leaf_paths(sub, (*prefix, name))
    elif schema.get("type") == "array":
        for i in range(schema["minItems"]):
            yield from _leaf_paths(schema["items"], (*prefix, i))
    else:
        yield prefix


def _containers(schema, prefix=()):
    """Yield the key path and schema of every object and array of a request schema."""
    if schema.get("type") == "object":
        yield prefix, schema
        for name, sub in schema["properties"].items():
            yield from _containers(sub, (*prefix, name))
    elif schema.get("type") == "array":
        yield prefix, schema
        for i in range(schema["minItems"]):
            yield from _containers(schema["items"], (*prefix, i))


def _at(value, path):
    for key in path:
        value = value[key]
    return value


_BAD_LEAVES = st.one_of(
    st.integers(min_value=1 << 100, max_value=1 << 200), st.integers(max_value=-(1 << 100)),
    st.floats(allow_nan=False),
    st.text(max_size=5), st.none(), st.just([]), st.just({}),
    st.integers(min_value=-(1 << 101), max_value=1 << 101))


@st.composite
def _broken(draw, schema):
    """Draw a valid request, then break it in one place."""
    request = draw(schema_strategy(schema))
    containers = list(_containers(schema))
    leaves = list(_leaf_paths(schema))
    how = draw(st.sampled_from(["leaf", "missing", "extra", "length"]
                               if leaves else ["extra"]))
    if how == "leaf":
        path = draw(st.sampled_from(leaves))
        _at(request, path[:-1])[path[-1]] = draw(_BAD_LEAVES)
    elif how in ("missing", "extra"):
        objects = [p for p, s in containers if s["type"] == "object" and
                   (how == "extra" or s["properties"])]
        path = draw(st.sampled_from(objects))
        target = _at(request, path)
        if how == "missing":
            del target[draw(st.sampled_from(sorted(target)))]
        else:
            target[draw(st.text(min_size=1, max_size=4).filter(lambda k: k not in target))] = 0
    else:
        arrays = [p for p, s in containers if s["type"] == "array"]
        if not arrays:
            return request, None
        target = _at(request, draw(st.sampled_from(arrays)))
        if draw(st.booleans()):
            target.append(target[0])
        else:
            target.pop()
    return request, how


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=4),
    max_leaves=12)


def test_broken_requests_get_422_never_500(served):
    client, model, paths = served
    for path in _routes(served):
        request_schema, _ = _schemas(paths, path)
        _check_broken(client, path, model.route(path), request_schema)


def _check_broken(client, path, route, request_schema):
    @PROPERTY
    @given(_broken(request_schema))
    def check(case):
        request, how = case
        response = client.post(path, json=request)
        try:
            want = route.handle(request)
        except RequestError as e:
            assert response.status_code == 422, (request, response.text)
            assert response.json() == {"error": e.reason, "path": e.path}
        else:
            # A "bad" leaf drawn inside the type's range (or a bool where 0 or 1 fits) is
            # still valid: the answer is then the model's.
            assert how in ("leaf", None), request
            assert response.status_code == 200
            assert response.json() == want

    @PROPERTY
    @given(_JSON)
    def check_any_json(value):
        response = client.post(path, content=json.dumps(value))
        assert response.status_code in (200, 422), (value, response.text)
        if response.status_code == 200:
            assert response.json() == route.handle(value)

    check()
    check_any_json()


def _expected_line(route, line: str, n: int):
    """Return what the batch endpoint answers for ``line``, the ``n``-th, as SPEC §6 says."""
    if not line.strip():
        return {"error": "empty line", "line": n}
    try:
        request = json.loads(line)
    except ValueError:
        return "not valid JSON"
    if not isinstance(request, dict):
        return "not an object"
    try:
        return route.handle(request)
    except RequestError as e:
        return {"error": e.reason, "line": n}


def test_batch_answers_each_line_as_the_model_does(served):
    client, model, paths = served
    path = _routes(served)[0]
    route = model.route(path)
    request_schema, _ = _schemas(paths, path)
    lines = st.lists(st.one_of(schema_strategy(request_schema).map(json.dumps),
                               _broken(request_schema).map(lambda c: json.dumps(c[0])),
                               _JSON.map(json.dumps), st.text(max_size=6).filter(
                                   lambda t: "\n" not in t and "\r" not in t)),
                     max_size=12)

    @PROPERTY
    @given(lines)
    def check(batch):
        response = client.post(path + "/batch", content="".join(f"{line}\n" for line in batch))
        assert response.status_code == 200
        out = [json.loads(line) for line in response.text.splitlines()]
        assert len(out) == len(batch)
        for n, (line, answer) in enumerate(zip(batch, out), start=1):
            want = _expected_line(route, line, n)
            if want == "not valid JSON":
                assert answer["error"].startswith("not valid JSON") and answer["line"] == n
            elif want == "not an object":
                assert answer["error"].startswith("a request must be a JSON object")
                assert answer["line"] == n
            else:
                assert answer == want, line

    check()
