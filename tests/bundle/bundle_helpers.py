"""Write bundles for the bundle tests: the compiler's IR, a manifest from the runtime."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from fpgac.driver import compile_file, compile_source, optimize
from fpgac.ir import program_to_json
from fpgac.runtime import finish_bundle

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: A small app with a bool, a signed value, an array and a nested record.
MIXED = '''
"""A test app with every kind of type."""
from fpgac import App, Array, Record, i16, u8, u16

app = App("mixed")


class Point(Record):
    x: i16
    y: i16


class Box(Record):
    lo: Point
    hi: Point
    tag: u8


@app.post("/area")
def area(b: Box) -> u16:
    """Return the box's area, or 0 when its corners are swapped."""
    w = b.hi.x - b.lo.x
    h = b.hi.y - b.lo.y
    if w < 0 or h < 0:
        return 0
    return w * h


@app.post("/sum")
def total(xs: Array[u8, 4], neg: bool) -> i16:
    """Sum the four values, negated if `neg`."""
    s = xs[0] + xs[1] + xs[2] + xs[3]
    return -s if neg else s


@app.post("/swap")
def swap(p: Point) -> Point:
    return Point(x=p.y, y=p.x)
'''


def example_document(name: str) -> dict:
    """Return the optimized IR document of ``examples/<name>.py``, as JSON data."""
    doc = program_to_json(optimize(compile_file(EXAMPLES / f"{name}.py")))
    return json.loads(json.dumps(doc))


def source_document(source: str, filename: str = "app.py") -> dict:
    """Return the optimized IR document of a handler module given as text."""
    return json.loads(json.dumps(program_to_json(optimize(compile_source(source, filename)))))


def meta_for(doc: dict, *, latency: int = 3, ii: int = 1) -> dict:
    """Return the compiler's bundle meta for an IR document."""
    return {
        "app": doc["app"], "target": "ice40", "clock_mhz": 48.0,
        "routes": [{"path": r["path"], "name": r["name"], "doc": r.get("doc"),
                    "params": r["params"], "returns": r["returns"],
                    "latency": latency + i, "ii": ii}
                   for i, r in enumerate(doc["routes"])],
        "records": doc["records"],
    }


def write_bundle_dir(parent: Path, doc: dict, meta: dict | None = None) -> Path:
    """Write a bundle of ``doc`` under ``parent/<app>`` and return its directory."""
    out = Path(parent) / doc["app"]
    if out.exists():
        shutil.rmtree(out)
    (out / "hdl").mkdir(parents=True)
    (out / "ir.json").write_text(json.dumps(doc, indent=1))
    (out / "report.json").write_text(json.dumps({"app": doc["app"]}))
    (out / "report.txt").write_text(f"app {doc['app']}\n")
    (out / "hdl" / f"{doc['app']}.v").write_text("module top; endmodule\n")
    finish_bundle(out, meta or meta_for(doc))
    return out


def read_manifest_json(directory: Path) -> dict:
    return json.loads((directory / "manifest.json").read_text())


def write_manifest_json(directory: Path, manifest: dict) -> None:
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))


def rehash(directory: Path) -> dict:
    """Recompute the manifest's hashes after editing files: a consistent, edited bundle."""
    manifest = read_manifest_json(directory)
    manifest["files"] = {rel: hashlib.sha256((directory / rel).read_bytes()).hexdigest()
                         for rel in manifest["files"]}
    text = json.dumps(manifest["files"], sort_keys=True, separators=(",", ":"))
    manifest["bundle_hash"] = hashlib.sha256(text.encode()).hexdigest()
    write_manifest_json(directory, manifest)
    return manifest
