"""The runtime stands alone: building and running a model loads none of the compiler."""

from __future__ import annotations

import json
import subprocess
import sys

from rt_helpers import document

from fpgac.ir import Graph, IntTy, RecordTy

FORBIDDEN_ROOTS = ("lark", "networkx", "amaranth")
FORBIDDEN_PACKAGES = ("fpgac.ir", "fpgac.frontend", "fpgac.passes", "fpgac.backend",
                      "fpgac.driver", "fpgac.cli", "fpgac.scheduling")


def _document() -> dict:
    rgb = RecordTy("RGB", (("r", IntTy(8)), ("g", IntTy(8)), ("b", IntTy(8))))
    g = Graph("luma")
    r, gg, b = (g.add("param", path=f"p.{f}", width=8, signed=False) for f in "rgb")
    total = g.add("add", (g.add("mul", (g.const(66), r)), g.add("mul", (g.const(129), gg))))
    total = g.add("add", (total, g.add("popcount", (b,), width=8)))
    g.add("output", (g.add("wrap", (total,), width=8, signed=False),), path="return")
    return document(g, [("p", rgb)], IntTy(8), path="/luma", name="luma",
                    records={"RGB": rgb})


def test_building_and_running_a_model_imports_nothing_of_the_compiler(tmp_path):
    (tmp_path / "ir.json").write_text(json.dumps(_document()))
    probe = f"""
import json, sys
from fpgac.runtime import model_from_ir, run_jsonl
doc = json.load(open({str(tmp_path / "ir.json")!r}))
luma = model_from_ir(doc).route("/luma")
assert luma(p={{"r": 1, "g": 2, "b": 3}}) == (66 + 258 + 2) % 256
assert luma.batch([{{"p": {{"r": 1, "g": 2, "b": 3}}}}]) == [70]
out = []
assert run_jsonl(luma, ['{{"p": {{"r": 1, "g": 2, "b": 3}}}}'], out.append) == 0
print(" ".join(sorted(sys.modules)))
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    assert "fpgac.runtime" in loaded and "numpy" in loaded
    assert not {m for m in loaded if m.split(".")[0] in FORBIDDEN_ROOTS}
    assert not {m for m in loaded if m.startswith(FORBIDDEN_PACKAGES)}
