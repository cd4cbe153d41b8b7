"""Write a bundle, load it, and run its routes: results, records, signatures, metrics."""

from __future__ import annotations

import hashlib
import inspect
import json
import random
from itertools import count, islice

import pytest
from bundle_helpers import (
    MIXED,
    example_document,
    meta_for,
    read_manifest_json,
    source_document,
    write_bundle_dir,
)

from fpgac.runtime import (
    SCHEMA_VERSION,
    BundleError,
    DeviceError,
    RecordValue,
    RequestError,
    load,
    model_from_ir,
)


@pytest.fixture(scope="module")
def imaging_doc():
    return example_document("imaging")


@pytest.fixture(scope="module")
def imaging(tmp_path_factory, imaging_doc):
    return write_bundle_dir(tmp_path_factory.mktemp("imaging"), imaging_doc)


@pytest.fixture(scope="module")
def mixed_doc():
    return source_document(MIXED, "mixed.py")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, mixed_doc):
    return write_bundle_dir(tmp_path_factory.mktemp("mixed"), mixed_doc)


# --- the manifest ------------------------------------------------------------------------------


def test_manifest_lists_every_file_with_its_hash(imaging):
    manifest = read_manifest_json(imaging)
    assert manifest["format"] == "fpgac-bundle"
    assert manifest["schema_version"] == SCHEMA_VERSION == 1
    assert set(manifest) == {"format", "schema_version", "fpgac_version", "app", "target",
                             "clock_mhz", "routes", "records", "files", "bundle_hash"}
    assert sorted(manifest["files"]) == ["__init__.py", "hdl/imaging.v", "ir.json",
                                         "report.json", "report.txt"]
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((imaging / rel).read_bytes()).hexdigest() == digest
    canonical = json.dumps(manifest["files"], sort_keys=True, separators=(",", ":"))
    assert manifest["bundle_hash"] == hashlib.sha256(canonical.encode()).hexdigest()


def test_manifest_routes_keep_the_meta(imaging, imaging_doc):
    manifest = read_manifest_json(imaging)
    assert manifest["app"] == "imaging"
    assert (manifest["target"], manifest["clock_mhz"]) == ("ice40", 48.0)
    assert [(r["path"], r["name"], r["latency"], r["ii"]) for r in manifest["routes"]] == [
        ("/luma", "luma", 3, 1), ("/ycbcr", "ycbcr", 4, 1), ("/grey", "grey", 5, 1)]
    assert manifest["routes"][0]["doc"] == "Return the luma of one pixel."
    assert manifest["records"] == imaging_doc["records"]


def test_loading_does_not_change_the_bundle_hash(imaging):
    app = load(imaging)
    assert app.bundle_hash == read_manifest_json(imaging)["bundle_hash"]
    assert app.manifest["app"] == "imaging"
    # Importing the bindings writes __pycache__, which is not part of the bundle.
    (imaging / "__pycache__").mkdir(exist_ok=True)
    (imaging / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert load(imaging).bundle_hash == app.bundle_hash


# --- running requests --------------------------------------------------------------------------


def _pixels(n, seed=1):
    rng = random.Random(seed)
    return [{"p": {"r": rng.randrange(256), "g": rng.randrange(256), "b": rng.randrange(256)}}
            for _ in range(n)]


def test_routes_agree_with_the_software_model(imaging, imaging_doc):
    app = load(imaging)
    model = model_from_ir(imaging_doc)
    requests = _pixels(500)
    for name in ("luma", "ycbcr", "grey"):
        want = model.route(name).batch(requests)
        got = getattr(app, name).batch(requests)
        assert [r._asdict() if isinstance(r, RecordValue) else r for r in got] == want
        assert [getattr(app, name)(**q) for q in requests[:50]] == got[:50]
        assert list(app.route(name).stream(iter(requests))) == got


def test_records_are_classes_with_fields(imaging):
    app = load(imaging)
    RGB = app.RGB
    assert RGB is app.records["RGB"]
    p = RGB(r=10, g=20, b=30)
    assert repr(p) == "RGB(r=10, g=20, b=30)"
    assert p == RGB(r=10, g=20, b=30) and p != RGB(r=10, g=20, b=31)
    assert hash(p) == hash(RGB(r=10, g=20, b=30))
    assert p._asdict() == {"r": 10, "g": 20, "b": 30}
    assert RGB.__fields__ == ("r", "g", "b")
    assert inspect.get_annotations(RGB) == {"r": int, "g": int, "b": int}
    assert "r: u8, g: u8, b: u8" in RGB.__doc__
    with pytest.raises(TypeError, match=r"RGB\(\.\.\.\) needs every field by keyword: "
                                        r"missing `b`; unknown `x`"):
        RGB(r=1, g=2, x=3)
    grey = app.grey(p)
    assert type(grey) is RGB and grey == RGB(r=18, g=18, b=18)
    # cb = ((-380 - 1480 + 3360 + 128) >> 8) + 128; cr = ((1120 - 1880 - 540 + 128) >> 8) + 128
    assert app.ycbcr(p) == app.YCbCr(y=32, cb=134, cr=123)


def test_nested_records_arrays_and_bools(mixed):
    app = load(mixed)
    Point, Box = app.Point, app.Box
    box = Box(lo=Point(x=-3, y=2), hi=Point(x=5, y=7), tag=1)
    assert app.area(box) == 40
    assert app.area({"lo": {"x": 5, "y": 0}, "hi": {"x": 1, "y": 9}, "tag": 0}) == 0
    assert app.total([1, 2, 3, 4], True) == -10
    assert app.total(xs=(250, 250, 250, 250), neg=False) == 1000
    assert app.swap(Point(x=1, y=-2)) == Point(x=-2, y=1)
    assert box._asdict() == {"lo": {"x": -3, "y": 2}, "hi": {"x": 5, "y": 7}, "tag": 1}
    assert app.total.batch([([1, 1, 1, 1], 0), {"xs": [0, 0, 0, 9], "neg": True}]) == [4, -9]


def test_requests_are_refused_not_wrapped(imaging, mixed):
    app = load(imaging)
    with pytest.raises(RequestError, match=r"^`p\.r` must fit u8 \(0 to 255\), not 300$") as e:
        app.luma(app.RGB(r=300, g=0, b=0))
    assert isinstance(e.value, ValueError) and e.value.path == "p.r"
    with pytest.raises(RequestError, match=r"`p\.b` is missing"):
        app.luma({"r": 1, "g": 2})
    with pytest.raises(RequestError, match=r"`q` is not a parameter of `luma`"):
        app.luma({"r": 1, "g": 2, "b": 3}, q=1)
    with pytest.raises(RequestError, match=r"^request 2: `p\.g` must be an integer, not the "
                                           r"string '7'$") as e:
        app.luma.batch([{"p": {"r": 1, "g": 1, "b": 1}}] * 2 + [{"p": {"r": 1, "g": "7",
                                                                      "b": 1}}])
    assert e.value.index == 2
    m = load(mixed)
    with pytest.raises(RequestError, match=r"`xs\[3\]` must fit u8 \(0 to 255\), not -1"):
        m.total([1, 2, 3, -1], 0)
    with pytest.raises(RequestError, match=r"`xs` must have 4 elements, not 3"):
        m.total([1, 2, 3], 0)
    with pytest.raises(RequestError, match=r"`b\.lo\.x` must fit i16"):
        m.area(m.Box(lo=m.Point(x=1 << 15, y=0), hi=m.Point(x=0, y=0), tag=0))


def test_stream_is_lazy_and_stops_at_a_refused_request(imaging):
    app = load(imaging)
    endless = ({"p": {"r": i % 256, "g": 0, "b": 0}} for i in count())
    assert list(islice(app.luma.stream(endless), 5)) == [16, 16, 17, 17, 17]
    requests = _pixels(10) + [{"p": {"r": -1, "g": 0, "b": 0}}] + _pixels(10)
    out = []
    with pytest.raises(RequestError, match=r"^request 10: `p\.r` must fit u8") as e:
        for y in app.luma.stream(requests):
            out.append(y)
    assert e.value.index == 10
    assert out == app.luma.batch(requests[:10])


def test_signature_and_docstring(imaging, mixed):
    app = load(imaging)
    sig = inspect.signature(app.luma)
    assert list(sig.parameters) == ["p"]
    assert sig.parameters["p"].annotation is app.RGB
    assert sig.return_annotation is int
    assert inspect.signature(app.grey).return_annotation is app.RGB
    assert app.luma.signature == sig
    doc = app.luma.__doc__
    assert doc.startswith("Return the luma of one pixel.\n")
    assert "Route /luma: luma(p: RGB) -> u8." in doc
    assert "Latency: 3 cycles (62.5 ns at 48 MHz)." in doc
    assert "Initiation interval: 1 (a new request every clock)." in doc
    assert (app.luma.latency, app.luma.ii, app.luma.path) == (3, 1, "/luma")
    m = load(mixed)
    sig = inspect.signature(m.total)
    assert str(sig) == "(xs: list[int], neg: bool) -> int"
    assert "total(xs: Array[u8, 4], neg: bool) -> i16" in m.total.__doc__


def test_routes_by_path_and_name(imaging):
    app = load(imaging)
    assert app.route("/grey") is app.route("grey") is app.grey
    assert list(app.routes) == ["/luma", "/ycbcr", "/grey"]
    with pytest.raises(KeyError, match=r"app 'imaging' has no route '/nope'; its routes: "
                                       r"/luma \(luma\), /ycbcr \(ycbcr\), /grey \(grey\)"):
        app.route("/nope")
    with pytest.raises(AttributeError, match="app 'imaging' has no route or record 'nope'"):
        app.nope  # noqa: B018
    assert {"luma", "grey", "RGB", "YCbCr"} <= set(dir(app))


def test_devices_and_metrics(imaging):
    with load(imaging, device="software") as app:
        assert list(app.devices) == ["software"]
        assert app.device.name == "software"
        app.luma(app.RGB(r=1, g=2, b=3))
        app.luma.batch(_pixels(100))
        with pytest.raises(RequestError):
            app.luma(app.RGB(r=1, g=2, b=256))
        metrics = app.metrics()
    assert metrics["app"] == "imaging" and metrics["bundle_hash"] == app.bundle_hash
    assert metrics["devices"] == {"software": {"ok": True, "in_service": True}}
    row = metrics["routes"]["/luma"]["software"]
    assert (row["requests"], row["refused"], row["errors"], row["fallbacks"], row["calls"]) \
        == (101, 1, 0, 0, 2)
    latency = row["latency_ms"]
    assert 0 <= latency["p50"] <= latency["p90"] <= latency["p99"]


def test_unknown_device_is_refused(imaging):
    with pytest.raises(DeviceError, match=r"^unknown device 'fpga9000'; the devices known "
                                          r"here: 'software'"):
        load(imaging, device="fpga9000")
    with pytest.raises(DeviceError, match=r"the `software` device takes no argument"):
        load(imaging, device="software:1")


# --- writing -----------------------------------------------------------------------------------


def test_finish_bundle_refuses_bad_meta(tmp_path, imaging_doc):
    meta = meta_for(imaging_doc)
    meta["routes"][0]["name"] = "int"
    with pytest.raises(BundleError, match=r"the handler name 'int' is reserved in the host "
                                          r"bindings; rename it"):
        write_bundle_dir(tmp_path, imaging_doc, meta)
    meta = meta_for(imaging_doc)
    meta["routes"][1]["name"] = "lu ma"
    with pytest.raises(BundleError, match=r"must be a Python identifier, not the string "
                                          r"'lu ma'"):
        write_bundle_dir(tmp_path, imaging_doc, meta)
    meta = meta_for(imaging_doc)
    meta["routes"][0]["name"] = "brightness"
    with pytest.raises(BundleError, match=r"ir.json does not match the manifest's route /luma"):
        write_bundle_dir(tmp_path, imaging_doc, meta)
    meta = meta_for(imaging_doc)
    meta["routes"][0]["latency"] = -1
    with pytest.raises(BundleError, match=r"latency must be an integer of at least 0 or null"):
        write_bundle_dir(tmp_path, imaging_doc, meta)
    meta = meta_for(imaging_doc) | {"stages": 3}
    with pytest.raises(BundleError, match=r"unexpected meta keys stages"):
        write_bundle_dir(tmp_path, imaging_doc, meta)
    assert not (tmp_path / "imaging" / "manifest.json").exists()


def test_optional_route_keys_default_to_null(tmp_path, imaging_doc):
    meta = meta_for(imaging_doc)
    for r in meta["routes"]:
        del r["latency"], r["ii"], r["doc"]
    out = write_bundle_dir(tmp_path, imaging_doc, meta)
    route = read_manifest_json(out)["routes"][0]
    assert (route["doc"], route["latency"], route["ii"]) == (None, None, None)
    app = load(out)
    assert "Latency: not scheduled." in app.luma.__doc__
    assert app.luma.__doc__.startswith("Run one request of the route /luma.")
