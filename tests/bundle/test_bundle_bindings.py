"""The bundle folder is an importable package: typed functions, record classes, docstrings."""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
import typing

import pytest
from bundle_helpers import (
    MIXED,
    example_document,
    meta_for,
    read_manifest_json,
    rehash,
    source_document,
    write_bundle_dir,
)

from fpgac.runtime import BundleError, RequestError, bindings_source, load


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """A build folder holding the imaging and mixed bundles."""
    root = tmp_path_factory.mktemp("build")
    write_bundle_dir(root, example_document("imaging"))
    write_bundle_dir(root, source_document(MIXED, "mixed.py"))
    return root


def _import(build, name):
    """Import the bundle ``build/name`` as a package, without leaving it in sys.modules."""
    saved = sys.modules.pop(name, None)
    sys.path.insert(0, str(build))
    try:
        importlib.invalidate_caches()
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(build))
        sys.modules.pop(name, None)
        if saved is not None:
            sys.modules[name] = saved


def test_import_and_call(build):
    imaging = _import(build, "imaging")
    assert imaging.__file__.endswith("imaging/__init__.py")
    assert imaging.luma(imaging.RGB(r=10, g=20, b=30)) == 32
    assert imaging.luma(p={"r": 10, "g": 20, "b": 30}) == 32
    assert imaging.grey(imaging.RGB(r=0, g=0, b=0)) == imaging.RGB(r=0, g=0, b=0)
    assert type(imaging.ycbcr(imaging.RGB(r=1, g=2, b=3))) is imaging.YCbCr
    assert imaging.luma.batch([{"p": {"r": 255, "g": 255, "b": 255}},
                               (imaging.RGB(r=0, g=0, b=0),)]) == [235, 16]
    assert list(imaging.luma.stream(iter([(imaging.RGB(r=0, g=0, b=0),)] * 3))) == [16] * 3
    assert imaging.__all__ == ["RGB", "YCbCr", "luma", "ycbcr", "grey"]
    with pytest.raises(RequestError, match=r"`p\.g` must fit u8 \(0 to 255\), not 256"):
        imaging.luma(imaging.RGB(r=0, g=256, b=0))


def test_typed_functions_and_records(build):
    imaging = _import(build, "imaging")
    hints = typing.get_type_hints(imaging.luma)
    assert hints == {"p": imaging.RGB, "return": int}
    assert typing.get_type_hints(imaging.grey)["return"] is imaging.RGB
    assert typing.get_type_hints(imaging.RGB) == {"r": int, "g": int, "b": int}
    assert str(inspect.signature(imaging.luma)) == "(p: imaging.RGB) -> int"
    doc = inspect.getdoc(imaging.luma)
    assert doc.startswith("Return the luma of one pixel.")
    assert "Latency: 3 cycles (62.5 ns at 48 MHz)." in doc
    assert "Initiation interval: 1" in doc
    assert (imaging.luma.path, imaging.luma.latency, imaging.luma.ii) == ("/luma", 3, 1)
    assert "Routes:\n    /luma  luma(p: RGB) -> u8" in imaging.__doc__
    mixed = _import(build, "mixed")
    assert typing.get_type_hints(mixed.Box) == {"lo": mixed.Point, "hi": mixed.Point,
                                                "tag": int}
    assert typing.get_type_hints(mixed.total) == {"xs": list[int], "neg": bool, "return": int}
    box = mixed.Box(lo=mixed.Point(x=0, y=0), hi=mixed.Point(x=3, y=4), tag=0)
    assert mixed.area(box) == 12
    assert mixed.swap(mixed.Point(x=1, y=2)) == mixed.Point(x=2, y=1)


def test_a_tampered_bundle_fails_on_import(tmp_path):
    out = write_bundle_dir(tmp_path, example_document("imaging"))
    with open(out / "ir.json", "a") as f:
        f.write("\n")
    with pytest.raises(BundleError, match=r"ir\.json does not match its hash"):
        _import(tmp_path, "imaging")


def test_bindings_quote_every_free_text(tmp_path):
    doc = example_document("imaging")
    hostile = '"""\nimport os; os.system("x")\n\'\'\' \\ \x00 ünïcode'
    doc["routes"][0]["doc"] = hostile
    doc["routes"][0]["path"] = "/lu'ma\"\\"
    meta = meta_for(doc)
    out = write_bundle_dir(tmp_path, doc, meta)
    source = (out / "__init__.py").read_text()
    tree = ast.parse(source)
    # The only statements: the docstring, imports, __all__, classes, assignments and defs.
    kinds = {type(node).__name__ for node in tree.body}
    assert kinds <= {"Expr", "Import", "ImportFrom", "Assign", "ClassDef", "FunctionDef"}
    exprs = [node for node in tree.body if isinstance(node, ast.Expr)]
    assert len(exprs) == 1 and isinstance(exprs[0].value, ast.Constant)
    calls = [node.func for node in ast.walk(tree) if isinstance(node, ast.Call)]
    called = {ast.unparse(f) for f in calls}
    assert called <= {"_fpgac_load", "_fpgac_os.path.dirname", "_fpgac_os.path.abspath",
                      "_fpgac_app.route", "_fpgac_luma", "_fpgac_ycbcr", "_fpgac_grey"}
    imaging = _import(tmp_path, "imaging")
    assert imaging.luma.__doc__.startswith(hostile)
    assert imaging.luma.path == "/lu'ma\"\\"
    assert imaging.luma(imaging.RGB(r=0, g=0, b=0)) == 16


def test_bindings_source_matches_the_written_file(build):
    manifest = read_manifest_json(build / "imaging")
    assert bindings_source(manifest) == (build / "imaging" / "__init__.py").read_text()


def test_load_never_imports_the_bindings(tmp_path):
    out = write_bundle_dir(tmp_path, example_document("imaging"))
    marker = tmp_path / "executed"
    (out / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (out / "hdl" / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    rehash(out)  # a consistent bundle whose Python would leave a marker if it ran
    app = load(out)
    assert app.luma(app.RGB(r=0, g=0, b=0)) == 16
    assert not marker.exists()
