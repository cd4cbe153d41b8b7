"""Compile apps for the serving tests, run them under uvicorn on loopback, draw requests."""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from pathlib import Path
from typing import Any

import hypothesis.internal.conjecture.utils as conjecture_utils
import uvicorn
from hypothesis import strategies as st

from fpgac.driver import compile_file, compile_source, optimize
from fpgac.ir import program_to_json
from fpgac.runtime import model_from_ir
from fpgac.runtime.serve import create_app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

#: A test app with what the examples lack: bool and u1 parameters, records nesting arrays of
#: records, a type wider than 64 bits and a route without parameters.
MIXED = '''
from fpgac import App, Array, Record, u1, u8, i8, u64, uint

app = App("mixed")


class Pt(Record):
    x: i8
    y: i8


class Shape(Record):
    pts: Array[Pt, 3]
    closed: bool


@app.post("/flags")
def flags(a: bool, b: u1, v: i8) -> bool:
    """Return whether both flags are set and v is negative."""
    return a and b and v < 0


@app.post("/shape")
def shape(s: Shape, scale: u8) -> Shape:
    """Scale a shape's points."""
    out: Shape = s
    for i in range(3):
        out.pts[i].x = s.pts[i].x * scale
        out.pts[i].y = s.pts[i].y * scale
    return out


@app.post("/wide")
def wide(a: u64, b: uint(100)) -> uint(100):
    return a * 3 + b


@app.post("/nothing")
def nothing() -> u8:
    return 7
'''


def example_doc(name: str) -> dict[str, Any]:
    """Return the IR document of ``examples/<name>.py``, as ``ir.json`` holds it."""
    program = optimize(compile_file(EXAMPLES / f"{name}.py"))
    return json.loads(json.dumps(program_to_json(program)))


def mixed_doc() -> dict[str, Any]:
    """Return the IR document of the ``mixed`` test app."""
    program = optimize(compile_source(MIXED, "mixed.py"))
    return json.loads(json.dumps(program_to_json(program)))


class LiveServer:
    """Serve an ASGI app with uvicorn on a free loopback port, in a background thread."""

    def __init__(self, app: Any):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        self.sock.close()


def serve_doc(doc: dict[str, Any], **opts: Any) -> tuple[LiveServer, Any]:
    """Return a (not yet started) live server for ``doc`` and the app model behind it."""
    model = model_from_ir(doc)
    return LiveServer(create_app(model, doc, **opts)), model


# --- requests drawn from type descriptors ---------------------------------------------------


def random_value(t: dict[str, Any], rng: random.Random) -> Any:
    """Return a random value of type descriptor ``t``, in its JSON shape."""
    kind = t["kind"]
    if kind == "bool":
        return rng.choice([0, 1, True, False])
    if kind == "int":
        lo = -(1 << (t["width"] - 1)) if t["signed"] else 0
        hi = (1 << (t["width"] - 1)) - 1 if t["signed"] else (1 << t["width"]) - 1
        return rng.choice([lo, hi, rng.randint(lo, hi), rng.randint(lo, hi)])
    if kind == "record":
        return {f["name"]: random_value(f["type"], rng) for f in t["fields"]}
    return [random_value(t["elem"], rng) for _ in range(t["length"])]


def random_request(route: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Return a random valid request for a route of an IR document."""
    return {p["name"]: random_value(p["type"], rng) for p in route["params"]}


def inline_refs(schema: Any, components: dict[str, Any]) -> Any:
    """Return ``schema`` with every ``#/components/schemas/...`` reference replaced by its target."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if ref is not None:
            return inline_refs(components[ref.rsplit("/", 1)[1]], components)
        return {k: inline_refs(v, components) for k, v in schema.items()}
    if isinstance(schema, list):
        return [inline_refs(v, components) for v in schema]
    return schema


# --- requests drawn from JSON schemas -------------------------------------------------------

#: hypothesis-jsonschema 0.23 draws objects with ``many.more()``, which newer Hypothesis
#: releases removed; where that is so, ``schema_strategy`` uses its own reading of the few
#: keywords the OpenAPI document uses.
HYPOTHESIS_JSONSCHEMA_WORKS = hasattr(conjecture_utils.many, "more")

_KEYWORDS = {"type", "minimum", "maximum", "description", "title", "anyOf", "properties",
             "required", "additionalProperties", "items", "minItems", "maxItems"}


def schema_strategy(schema: dict[str, Any]) -> st.SearchStrategy:
    """Return a strategy for the JSON values that ``schema`` (no references) accepts."""
    if HYPOTHESIS_JSONSCHEMA_WORKS:
        from hypothesis_jsonschema import from_schema  # slow to import: only when it is used

        return from_schema(schema)
    return _strategy(schema)


def _strategy(schema: dict[str, Any]) -> st.SearchStrategy:
    unknown = set(schema) - _KEYWORDS
    if unknown:
        raise ValueError(f"no strategy for the schema keywords {sorted(unknown)}")
    if "anyOf" in schema:
        return st.one_of([_strategy(s) for s in schema["anyOf"]])
    kind = schema["type"]
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(_strategy(schema["items"]), min_size=schema.get("minItems", 0),
                        max_size=schema.get("maxItems"))
    if kind == "object":
        # Every object of the document lists all its properties as required, and no others.
        if schema.get("additionalProperties", True) is not False or \
                sorted(schema.get("required", [])) != sorted(schema["properties"]):
            raise ValueError("only closed objects with every property required are drawn")
        return st.fixed_dictionaries({k: _strategy(v) for k, v in schema["properties"].items()})
    raise ValueError(f"no strategy for the schema type {kind!r}")
