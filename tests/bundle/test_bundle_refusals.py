"""A bad bundle is refused with a clear reason before anything is generated from it."""

from __future__ import annotations

import json
import shutil

import pytest
from bundle_helpers import (
    example_document,
    read_manifest_json,
    rehash,
    write_bundle_dir,
    write_manifest_json,
)

from fpgac.runtime import BundleError, load, read_manifest


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return write_bundle_dir(tmp_path_factory.mktemp("pristine"), example_document("imaging"))


@pytest.fixture
def bundle(tmp_path, pristine):
    """A fresh copy of the imaging bundle, free to damage."""
    return shutil.copytree(pristine, tmp_path / "imaging")


def refused(bundle, pattern):
    with pytest.raises(BundleError, match=pattern) as e:
        load(bundle)
    return str(e.value)


def test_the_pristine_copy_loads(bundle):
    assert load(bundle).luma({"r": 0, "g": 0, "b": 0}) == 16


def test_not_a_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    refused(tmp_path / "file", r"is not a directory, so not an fpgac bundle")
    refused(tmp_path / "absent", r"is not a directory, so not an fpgac bundle")


def test_a_directory_without_a_manifest(tmp_path):
    (tmp_path / "ir.json").write_text("{}")
    refused(tmp_path, r"is not an fpgac bundle: it has no manifest\.json \(write one with "
                      r"`fpgac compile`\)$")


def test_a_truncated_manifest(bundle):
    text = (bundle / "manifest.json").read_text()
    (bundle / "manifest.json").write_text(text[: len(text) // 2])
    refused(bundle, r"^manifest\.json is not valid JSON: .* at line \d+ column \d+ "
                    r"\(is the file truncated\?\)$")


def test_not_an_object_or_another_format(bundle):
    write_manifest_json(bundle, [1, 2])
    refused(bundle, r"^manifest\.json: must hold a JSON object, not a list of 2 elements$")
    write_manifest_json(bundle, {"format": "zip"})
    refused(bundle, r"^not an fpgac bundle manifest \(its format is the string 'zip', not "
                    r"'fpgac-bundle'\)$")


def test_a_newer_schema(bundle):
    manifest = read_manifest_json(bundle)
    manifest["schema_version"] = 2
    manifest["something_new"] = True
    write_manifest_json(bundle, manifest)
    refused(bundle, r"^the bundle's manifest schema version 2 is newer than this runtime reads "
                    r"\(version 1\); upgrade fpgac to load it$")


def test_missing_or_extra_keys(bundle):
    manifest = read_manifest_json(bundle)
    del manifest["clock_mhz"]
    manifest["owner"] = "me"
    write_manifest_json(bundle, manifest)
    refused(bundle, r"^manifest\.json: the manifest: missing clock_mhz; unexpected owner$")
    manifest = read_manifest_json(bundle)
    manifest["clock_mhz"] = 48.0
    del manifest["owner"]
    del manifest["routes"][0]["ii"]
    write_manifest_json(bundle, manifest)
    refused(bundle, r"^manifest\.json: route 0: missing ii$")


def test_a_listed_file_is_missing(bundle):
    (bundle / "hdl" / "imaging.v").unlink()
    refused(bundle, r"^the bundle is incomplete: hdl/imaging\.v is listed in manifest\.json but "
                    r"missing$")


def test_a_tampered_file(bundle):
    with open(bundle / "ir.json", "a") as f:
        f.write(" ")
    refused(bundle, r"^ir\.json does not match its hash in manifest\.json: the file was altered "
                    r"or damaged after the bundle was written$")


def test_a_tampered_bindings_file(bundle):
    (bundle / "__init__.py").write_text("print('hello')\n")
    refused(bundle, r"^__init__\.py does not match its hash")


def test_an_altered_manifest(bundle):
    manifest = read_manifest_json(bundle)
    manifest["files"]["ir.json"] = "0" * 64
    write_manifest_json(bundle, manifest)
    refused(bundle, r"^manifest\.json: bundle_hash does not match the listed files \(the "
                    r"manifest was altered\)$")


def test_paths_outside_the_bundle(bundle):
    for path in ("../secret", "/etc/passwd", "a/./b", "c:\\x"):
        manifest = read_manifest_json(bundle)
        manifest["files"][path] = "0" * 64
        write_manifest_json(bundle, manifest)
        refused(bundle, r"is not a relative path inside the bundle")


def test_ir_json_not_matching_the_manifest(bundle):
    ir = json.loads((bundle / "ir.json").read_text())
    ir["routes"][0]["name"] = "brightness"
    (bundle / "ir.json").write_text(json.dumps(ir))
    rehash(bundle)
    refused(bundle, r"^ir\.json does not match the manifest's route /luma: the handler name or "
                    r"signature differs$")
    ir["routes"].pop(0)
    (bundle / "ir.json").write_text(json.dumps(ir))
    rehash(bundle)
    refused(bundle, r"^ir\.json does not match the manifest's routes: ir\.json has "
                    r"\['/ycbcr', '/grey'\], the manifest \['/luma', '/ycbcr', '/grey'\]$")


def test_an_invalid_ir_document(bundle):
    ir = json.loads((bundle / "ir.json").read_text())
    ir["routes"][0]["nodes"][0]["op"] = "launch_missiles"
    (bundle / "ir.json").write_text(json.dumps(ir))
    rehash(bundle)
    refused(bundle, r"unknown op the string 'launch_missiles'")


def test_hostile_names_in_the_manifest(bundle):
    manifest = read_manifest_json(bundle)
    manifest["routes"][0]["name"] = "__import__('os').system('x')"
    write_manifest_json(bundle, manifest)
    refused(bundle, r"route /luma: the handler name must be a Python identifier")
    manifest["routes"][0]["name"] = "__init__"
    write_manifest_json(bundle, manifest)
    refused(bundle, r"the handler name '__init__' is reserved in the host bindings")
    manifest["routes"][0]["name"] = "luma"
    manifest["records"]["RGB"]["fields"][0]["name"] = "_fpgac_app"
    write_manifest_json(bundle, manifest)
    refused(bundle, r"the field name '_fpgac_app' is reserved in the host bindings")


def test_non_finite_numbers_are_refused(bundle):
    text = (bundle / "manifest.json").read_text().replace('"clock_mhz": 48.0', '"clock_mhz": NaN')
    (bundle / "manifest.json").write_text(text)
    refused(bundle, r"^manifest\.json is not valid JSON: NaN is not a JSON number$")


def test_read_manifest_returns_the_checked_manifest(bundle):
    manifest = read_manifest(bundle)
    assert manifest == read_manifest_json(bundle)
