"""The fpgac runtime: run a compiled app's routes from its bundle data.

The runtime needs neither the compiler nor its dependencies: it reads the IR
document (``ir.json``) as plain data, validates it, and generates its own
bit-exact software model from it — a scalar function per route for single
requests and a numpy function for batches and streams.

    model = model_from_ir(json.load(open("build/imaging/ir.json")))
    luma = model.route("/luma")
    luma(p={"r": 10, "g": 20, "b": 30})
    luma.batch([{"p": {"r": 1, "g": 2, "b": 3}}, ...])
"""

from ._errors import BundleError, RequestError
from ._jsonl import run_jsonl
from ._model import AppModel, RouteModel, model_from_ir

__all__ = ["AppModel", "BundleError", "RequestError", "RouteModel", "model_from_ir",
           "run_jsonl"]
