"""The fpgac runtime: run a compiled app's routes from its bundle data.

The runtime needs neither the compiler nor its dependencies: it reads the IR
document (``ir.json``) as plain data, validates it, and generates its own
bit-exact software model from it — a scalar function per route for single
requests and a numpy function for batches and streams.

    model = model_from_ir(json.load(open("build/imaging/ir.json")))
    luma = model.route("/luma")
    luma(p={"r": 10, "g": 20, "b": 30})
    luma.batch([{"p": {"r": 1, "g": 2, "b": 3}}, ...])

A bundle written by ``fpgac compile`` is loaded whole — manifest, hashes,
software model, the best device present — with :func:`load`:

    app = load("build/imaging")
    app.luma(app.RGB(r=10, g=20, b=30))
    for y in app.luma.stream(requests): ...
"""

from ._bindings import RecordValue, bindings_source
from ._bundle import BundleApp, RouteFunction, finish_bundle, load, read_manifest
from ._devices import (
    BundleData,
    Device,
    DeviceError,
    SoftwareDevice,
    register_device,
    registered_devices,
    unregister_device,
)
from ._errors import BundleError, RequestError
from ._jsonl import run_jsonl
from ._manifest import SCHEMA_VERSION
from ._model import AppModel, RouteModel, model_from_ir

__all__ = ["AppModel", "BundleError", "RequestError", "RouteModel", "model_from_ir",
           "run_jsonl",
           # bundles, devices and dispatch
           "BundleApp", "BundleData", "Device", "DeviceError", "RecordValue", "RouteFunction",
           "SCHEMA_VERSION", "SoftwareDevice", "bindings_source", "finish_bundle", "load",
           "read_manifest", "register_device", "registered_devices", "unregister_device"]
