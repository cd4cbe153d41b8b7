"""The bundle `fpgac compile` writes (IR, HDL, signature, report) loads and runs."""

from __future__ import annotations

import random

from bundle_helpers import EXAMPLES

from fpgac.runtime import load, model_from_ir, read_manifest


def test_a_compiled_bundle_loads_and_agrees_with_the_model(tmp_path):
    from fpgac.bundle import write_bundle
    from fpgac.driver import compile_file, optimize
    from fpgac.ir import program_to_json

    program = optimize(compile_file(EXAMPLES / "bitpack.py"))
    out = write_bundle(program, tmp_path / "bitpack")
    manifest = read_manifest(out)
    assert {"ir.json", "__init__.py", "signature.json", "report.json", "report.txt"} \
        <= set(manifest["files"])
    assert any(path.startswith("hdl/") for path in manifest["files"])
    assert all(r["latency"] is not None and r["ii"] == 1 for r in manifest["routes"])
    app = load(out)
    model = model_from_ir(program_to_json(program))
    rng = random.Random(3)
    requests = [{"data": [rng.randrange(256) for _ in range(3)]} for _ in range(200)]
    assert app.base64_encode.batch(requests) == model.route("base64_encode").batch(requests)
    assert app.rgb565_unpack(app.rgb565_pack(app.RGB(r=255, g=255, b=255))) == \
        app.RGB(r=255, g=255, b=255)


def test_the_same_source_in_two_places_makes_the_same_bundle(tmp_path):
    import shutil

    from fpgac.bundle import write_bundle
    from fpgac.driver import compile_file, optimize

    hashes = set()
    for place in ("one", "two/deeper"):
        source = tmp_path / place / "imaging.py"
        source.parent.mkdir(parents=True)
        shutil.copyfile(EXAMPLES / "imaging.py", source)
        out = write_bundle(optimize(compile_file(source)), tmp_path / place / "bundle")
        manifest = read_manifest(out)
        assert str(tmp_path) not in (out / "ir.json").read_text()
        hashes.add(manifest["files"]["ir.json"])
    # The design hash the board reports over its link (ir.json's): one, so both places
    # give the tools the same netlist and reuse one build.
    assert len(hashes) == 1
