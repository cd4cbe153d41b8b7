"""`fpgac serve` over real HTTP on loopback: requests, refusals, batches, health and metrics."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_helpers import example_doc, random_request, serve_doc

from fpgac.runtime import model_from_ir
from fpgac.runtime.serve import create_app_from_routes, routes_from_ir

RGB = {"r": 10, "g": 20, "b": 30}


def luma_of(r: int, g: int, b: int) -> int:
    return ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16


# --- good requests ------------------------------------------------------------------------------


def test_luma_answers_the_bare_number(imaging):
    client, _ = imaging
    response = client.post("/luma", json={"p": RGB})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.text == str(luma_of(10, 20, 30))


def test_record_responses_are_objects(imaging):
    client, model = imaging
    for p in ({"r": 0, "g": 0, "b": 0}, {"r": 255, "g": 255, "b": 255}, RGB):
        assert client.post("/ycbcr", json={"p": p}).json() == model.route("/ycbcr")(p=p)
        v = (77 * p["r"] + 150 * p["g"] + 29 * p["b"] + 128) >> 8
        assert client.post("/grey", json={"p": p}).json() == {"r": v, "g": v, "b": v}


@pytest.mark.parametrize("name", ["bitpack", "crc", "fixedpoint", "hashing", "intmath", "ipv4",
                                  "lookup", "saturating"])
def test_every_example_route_agrees_with_the_model(name):
    doc = example_doc(name)
    server, model = serve_doc(doc)
    rng = random.Random(name)
    with server, httpx.Client(base_url=server.url) as client:
        for route in doc["routes"]:
            for _ in range(5):
                request = random_request(route, rng)
                response = client.post(route["path"], json=request)
                assert response.status_code == 200, response.text
                assert response.json() == model.route(route["path"]).handle(request), request


def test_bool_and_u1_take_true_false_and_answer_0_or_1(mixed_server):
    client, _ = mixed_server
    assert client.post("/flags", json={"a": True, "b": 1, "v": -1}).text == "1"
    assert client.post("/flags", json={"a": 1, "b": True, "v": -1}).text == "1"
    assert client.post("/flags", json={"a": False, "b": True, "v": -1}).text == "0"


def test_nested_records_arrays_and_wide_integers(mixed_server):
    client, model = mixed_server
    s = {"pts": [{"x": 1, "y": -2}, {"x": -128, "y": 127}, {"x": 0, "y": 5}], "closed": True}
    response = client.post("/shape", json={"s": s, "scale": 3})
    assert response.json() == model.route("/shape")(s=s, scale=3)
    assert response.json()["closed"] == 1
    a, b = (1 << 64) - 1, (1 << 100) - 1
    # Exact integers beyond 2**64 both ways: the sum wraps to 100 bits.
    assert client.post("/wide", json={"a": a, "b": b}).json() == (a * 3 + b) % (1 << 100)
    assert client.post("/nothing", json={}).json() == 7


# --- refused requests ---------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"{", b"{'p': 1}", b"nope", b'{"p": {"r": 1,}}', b"\xff\xfe"])
def test_malformed_json_is_400(imaging, body):
    client, _ = imaging
    response = client.post("/luma", content=body)
    assert response.status_code == 400
    assert response.json()["error"].startswith("not valid JSON")


def test_empty_body_is_400(imaging):
    response = imaging[0].post("/luma", content=b"")
    assert response.status_code == 400
    assert response.json() == {"error": "the body is empty; send a JSON object keyed by "
                                        "parameter name"}


@pytest.mark.parametrize("request_, path, message", [
    ({"p": {"r": 300, "g": 0, "b": 0}}, "p.r", "`p.r` must fit u8 (0 to 255), not 300"),
    ({"p": {"r": -1, "g": 0, "b": 0}}, "p.r", "`p.r` must fit u8 (0 to 255), not -1"),
    ({"p": {"r": 1, "g": "2", "b": 0}}, "p.g", "`p.g` must be an integer, not the string '2'"),
    ({"p": {"r": 1, "g": 2.0, "b": 0}}, "p.g", "`p.g` must be an integer, not the float 2.0"),
    ({"p": {"r": 1, "g": 2.5, "b": 0}}, "p.g", "`p.g` must be an integer, not the float 2.5"),
    ({"p": {"r": 1, "g": None, "b": 0}}, "p.g", "`p.g` must be an integer, not None"),
    ({"p": {"r": True, "g": 0, "b": 0}}, "p.r",
     "`p.r` must be an integer, not the bool True (true and false are accepted only for bool "
     "and u1)"),
    ({"p": {"r": 1, "g": 2}}, "p.b", "`p.b` is missing"),
    ({"p": {"r": 1, "g": 2, "b": 3, "a": 4}}, "p.a", "`p.a` is not a field of `RGB`"),
    ({}, "p", "`p` is missing"),
    ({"p": RGB, "q": 1}, "q", "`q` is not a parameter of `luma` (its parameters: `p`)"),
    ({"p": [1, 2, 3]}, "p", "`p` must be a `RGB` record (a dict or an object with fields `r`, "
                            "`g`, `b`), not a list of 3 elements"),
])
def test_refused_request_is_422_naming_the_field(imaging, request_, path, message):
    response = imaging[0].post("/luma", json=request_)
    assert response.status_code == 422
    assert response.json() == {"error": message, "path": path}


@pytest.mark.parametrize("body, kind", [(b"[1]", "an array"), (b"5", "a number"),
                                        (b'"x"', "a string"), (b"null", "null"),
                                        (b"true", "a boolean")])
def test_a_request_that_is_not_an_object_is_422(imaging, body, kind):
    response = imaging[0].post("/luma", content=body)
    assert response.status_code == 422
    assert response.json() == {"error": "a request must be a JSON object keyed by parameter "
                                        f"name, not {kind}", "path": ""}


def test_array_elements_and_lengths_are_checked():
    doc = example_doc("crc")
    server, _ = serve_doc(doc)
    with server, httpx.Client(base_url=server.url) as client:
        data = list(range(16))
        data[3] = 256
        response = client.post("/crc32", json={"data": data})
        assert response.status_code == 422
        assert response.json() == {"error": "`data[3]` must fit u8 (0 to 255), not 256",
                                   "path": "data[3]"}
        response = client.post("/crc32", json={"data": [0] * 15})
        assert response.json() == {"error": "`data` must have 16 elements, not 15",
                                   "path": "data"}


def test_signed_ranges_and_bool_fields(mixed_server):
    client, _ = mixed_server
    response = client.post("/flags", json={"a": True, "b": 1, "v": -129})
    assert response.json() == {"error": "`v` must fit i8 (-128 to 127), not -129", "path": "v"}
    response = client.post("/flags", json={"a": 2, "b": 1, "v": 0})
    assert response.json() == {"error": "`a` must be a bool (true, false, 0 or 1), not 2",
                               "path": "a"}
    s = {"pts": [{"x": 1, "y": 2}] * 2 + [{"x": 1, "y": 200}], "closed": 0}
    response = client.post("/shape", json={"s": s, "scale": 1})
    assert response.status_code == 422
    assert response.json()["path"] == "s.pts[2].y"


def test_a_body_over_the_limit_is_413(imaging_doc):
    server, _ = serve_doc(imaging_doc, max_body_bytes=64, max_batch_bytes=180)
    with server, httpx.Client(base_url=server.url) as client:
        padded = json.dumps({"p": RGB}).ljust(65).encode()
        response = client.post("/luma", content=padded)
        assert response.status_code == 413
        assert "over 64 bytes" in response.json()["error"]
        # Without a Content-Length (chunked), the limit holds all the same.
        response = client.post("/luma", content=iter([padded[:40], padded[40:]]))
        assert response.status_code == 413
        # The limit itself is accepted.
        response = client.post("/luma", content=padded[:64])
        assert response.status_code == 200
        line = json.dumps({"p": RGB}).encode() + b"\n"
        assert len(line) * 5 <= 180 < len(line) * 6
        assert client.post("/luma/batch", content=line * 5).status_code == 200
        response = client.post("/luma/batch", content=line * 6)
        assert response.status_code == 413
        assert "over 180 bytes" in response.json()["error"]


def test_unknown_routes_are_404_and_wrong_methods_405(imaging):
    client, _ = imaging
    response = client.post("/nope", json={"p": RGB})
    assert response.status_code == 404
    assert response.json()["error"].startswith("no endpoint at /nope; the endpoints: POST /luma")
    assert client.post("/luma/batch/x", content=b"").status_code == 404
    assert client.get("/nope").status_code == 404
    response = client.get("/luma")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


# --- the NDJSON batch endpoint ------------------------------------------------------------------


def test_batch_keeps_the_order_and_answers_bad_lines_in_place(imaging):
    client, _ = imaging
    lines = [
        json.dumps({"p": RGB}),
        json.dumps({"p": {"r": 300, "g": 0, "b": 0}}),
        "{not json",
        "",
        "[1, 2]",
        json.dumps({"p": {"r": 255, "g": 255, "b": 255}}),
        "   ",
        json.dumps({"p": {"r": 0, "g": 0, "b": 0}, "x": 1}),
        json.dumps({"p": {"r": 0, "g": 0, "b": 0}}),
    ]
    response = client.post("/luma/batch", content="\n".join(lines) + "\n")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    out = [json.loads(line) for line in response.text.splitlines()]
    assert out == [
        luma_of(10, 20, 30),
        {"error": "`p.r` must fit u8 (0 to 255), not 300", "line": 2},
        {"error": "not valid JSON: Expecting property name enclosed in double quotes "
                  "(column 2)", "line": 3},
        {"error": "empty line", "line": 4},
        {"error": "a request must be a JSON object keyed by parameter name, not an array",
         "line": 5},
        235,
        {"error": "empty line", "line": 7},
        {"error": "`x` is not a parameter of `luma` (its parameters: `p`)", "line": 8},
        16,
    ]


def test_batch_line_endings(imaging):
    client, _ = imaging
    one = json.dumps({"p": RGB})
    want = f"{luma_of(10, 20, 30)}\n"
    assert client.post("/luma/batch", content=one).text == want  # no final newline
    assert client.post("/luma/batch", content=one + "\r\n" + one + "\r\n").text == want * 2
    assert client.post("/luma/batch", content=b"").text == ""
    assert client.post("/luma/batch", content=b"\n").text == '{"error":"empty line","line":1}\n'
    response = client.post("/luma/batch", content=one.encode() + b"\n\xff\n" + one.encode())
    lines = response.text.splitlines()
    assert lines[0] == lines[2] == str(luma_of(10, 20, 30))
    assert json.loads(lines[1])["error"].startswith("not valid JSON")


def test_a_large_batch_streams_in_chunks_and_agrees_with_the_model(imaging_doc):
    server, model = serve_doc(imaging_doc, batch_chunk=1000)
    rng = random.Random(7)
    requests = [{"p": {c: rng.randrange(256) for c in "rgb"}} for _ in range(5500)]
    lines = [json.dumps(r) for r in requests]
    bad = {17, 999, 1000, 1001, 4321}
    for i in bad:
        lines[i] = json.dumps({"p": {"r": 256, "g": 0, "b": 0}}) if i % 2 else "}"
    with server, httpx.Client(base_url=server.url) as client:
        with client.stream("POST", "/ycbcr/batch", content="\n".join(lines)) as response:
            assert response.status_code == 200
            out = [json.loads(line) for line in response.iter_lines()]
    assert len(out) == len(lines)
    want = model.route("/ycbcr").batch([r for i, r in enumerate(requests) if i not in bad])
    it = iter(want)
    for i, answer in enumerate(out):
        if i in bad:
            assert answer["line"] == i + 1
        else:
            assert answer == next(it)


def test_batch_records_and_arrays_of_records(mixed_server):
    client, model = mixed_server
    rng = random.Random(3)
    requests = [{"s": {"pts": [{"x": rng.randint(-128, 127), "y": rng.randint(-128, 127)}
                               for _ in range(3)], "closed": rng.choice([True, False, 0, 1])},
                 "scale": rng.randrange(256)} for _ in range(300)]
    response = client.post("/shape/batch", content="\n".join(map(json.dumps, requests)))
    assert [json.loads(line) for line in response.text.splitlines()] == \
        model.route("/shape").batch(requests)


# --- health and metrics -------------------------------------------------------------------------


def test_healthz(imaging):
    response = imaging[0].get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "app": "imaging", "routes": [
        {"path": "/luma", "name": "luma"}, {"path": "/ycbcr", "name": "ycbcr"},
        {"path": "/grey", "name": "grey"}]}


def _samples(client: httpx.Client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def test_metrics_count_requests_errors_and_latency(imaging_doc):
    server, _ = serve_doc(imaging_doc, max_body_bytes=100)
    with server, httpx.Client(base_url=server.url) as client:
        for _ in range(3):
            client.post("/grey", json={"p": RGB})
        client.post("/grey", json={"p": {"r": -1, "g": 0, "b": 0}})
        client.post("/grey", content=b"{")
        client.post("/grey", content=b" " * 101)
        client.post("/grey/batch", content=json.dumps({"p": RGB}) + "\n{\n\n" +
                    json.dumps({"p": {}}) + "\n")
        client.post("/nowhere", content=b"{}")
        m = _samples(client)

    def get(name, **labels):
        return m[(name, tuple(sorted(labels.items())))]

    single, batch = {"route": "/grey", "endpoint": "single"}, {"route": "/grey",
                                                               "endpoint": "batch"}
    assert get("fpgac_requests_total", **single) == 6
    assert get("fpgac_requests_total", **batch) == 4
    assert get("fpgac_request_errors_total", reason="invalid", **single) == 1
    assert get("fpgac_request_errors_total", reason="malformed", **single) == 1
    assert get("fpgac_request_errors_total", reason="too_large", **single) == 1
    assert get("fpgac_request_errors_total", reason="invalid", **batch) == 1
    assert get("fpgac_request_errors_total", reason="malformed", **batch) == 2
    assert get("fpgac_request_duration_seconds_count", **single) == 6
    assert get("fpgac_request_duration_seconds_count", **batch) == 1
    assert get("fpgac_requests_total", route="/luma", endpoint="single") == 0
    assert get("fpgac_not_found_total") == 1


def test_routes_without_a_leaf_runner_answer_the_same(mixed):
    # A route given only `handle` and `run_isolated` (as any dispatcher can) serves the same.
    model = model_from_ir(mixed)
    routes = [dataclasses.replace(r, run_leaves=None) for r in routes_from_ir(model, mixed)]
    asyncio.run(_check_same(create_app_from_routes("mixed", routes), model, mixed))


async def _check_same(app, model, mixed):
    rng = random.Random(5)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        for route in mixed["routes"]:
            requests = [random_request(route, rng) for _ in range(20)]
            lines = [json.dumps(r) for r in requests] + ['{"zz": 1}']
            response = await client.post(route["path"] + "/batch", content="\n".join(lines))
            out = [json.loads(line) for line in response.text.splitlines()]
            assert out[:-1] == model.route(route["path"]).batch(requests)
            assert out[-1]["line"] == len(lines)
            single = await client.post(route["path"], json=requests[0])
            assert single.json() == out[0]
