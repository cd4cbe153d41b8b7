"""Loading a bundle and running requests needs neither the compiler nor its dependencies."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from bundle_helpers import MIXED, example_document, source_document, write_bundle_dir

#: Top-level packages of the compiler's dependencies.
HEAVY = ("lark", "amaranth", "networkx")
#: The compiler side of fpgac.
COMPILER = ("fpgac.frontend", "fpgac.ir", "fpgac.passes", "fpgac.scheduling", "fpgac.backend",
            "fpgac.driver", "fpgac.bundle", "fpgac.cli", "fpgac._handlers", "fpgac.reference",
            "fpgac.simulate")


def _modules_after(code: str) -> set[str]:
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def _compiler_side(modules: set[str]) -> set[str]:
    return {m for m in modules
            if m.split(".")[0] in HEAVY or m.startswith(COMPILER)}


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    write_bundle_dir(root, example_document("imaging"))
    write_bundle_dir(root, source_document(MIXED, "mixed.py"))
    return root


def test_load_and_run_import_nothing_from_the_compiler(build):
    code = f"""
from fpgac.runtime import load
app = load({str(build / "imaging")!r})
assert app.luma(app.RGB(r=10, g=20, b=30)) == 32
assert app.grey.batch([{{"p": {{"r": 1, "g": 2, "b": 3}}}}] * 1000)[0] == app.RGB(r=2, g=2, b=2)
assert sum(app.luma.stream({{"p": {{"r": i % 256, "g": 0, "b": 0}}}} for i in range(10000)))
m = load({str(build / "mixed")!r}, device="software")
assert m.total([1, 2, 3, 4], True) == -10
print(m.metrics()["routes"]["/sum"]["software"]["requests"])
"""
    modules = _modules_after(code)
    assert "fpgac.runtime" in modules
    assert not _compiler_side(modules)


def test_importing_the_bundle_imports_nothing_from_the_compiler(build):
    code = f"""
import sys
sys.path.insert(0, {str(build)!r})
import imaging
assert imaging.luma(imaging.RGB(r=10, g=20, b=30)) == 32
"""
    modules = _modules_after(code)
    assert "imaging" in modules
    assert not _compiler_side(modules)
