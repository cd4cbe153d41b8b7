"""Run one handler module through every software layer and check that they agree bit for bit.

The layers, in order:

- ``reference``: :mod:`fpgac.reference`, the oracle (SPEC §3);
- ``ir``: :func:`fpgac.ir.interpret` on the unoptimized IR;
- ``optimized``: the same after :func:`fpgac.passes.optimize_program`;
- ``scalar``: the runtime's model built from the optimized program's JSON form,
  one request at a time;
- ``batch``: the same model's numpy batch path, all of a route's requests at once.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from fpgac.ir import ArrayTy, RecordTy, interpret, program_to_json
from fpgac.reference import load_reference

__all__ = ["LAYERS", "Mismatch", "build", "run_layers", "check_layers", "check_case"]

LAYERS = ("reference", "ir", "optimized", "scalar", "batch")

Case = tuple[str, dict[str, Any]]


class Mismatch(AssertionError):
    """The layers disagree on a request."""


def flatten(ty: Any, value: Any, prefix: str, out: dict[str, int]) -> dict[str, int]:
    """Flatten a JSON-shaped value into IR leaves (``p.r``, ``data[3]``)."""
    if isinstance(ty, RecordTy):
        for name, fty in ty.fields:
            flatten(fty, value[name], f"{prefix}.{name}", out)
    elif isinstance(ty, ArrayTy):
        for i in range(ty.length):
            flatten(ty.elem, value[i], f"{prefix}[{i}]", out)
    else:
        out[prefix] = int(value)
    return out


def unflatten(ty: Any, leaves: dict[str, int], prefix: str) -> Any:
    """Rebuild a JSON-shaped value from IR output leaves (``return.r``, ``return[2]``)."""
    if isinstance(ty, RecordTy):
        return {name: unflatten(fty, leaves, f"{prefix}.{name}") for name, fty in ty.fields}
    if isinstance(ty, ArrayTy):
        return [unflatten(ty.elem, leaves, f"{prefix}[{i}]") for i in range(ty.length)]
    return leaves[prefix]


def _interpret(program: Any, path: str, request: dict[str, Any]) -> Any:
    route = program.route(path)
    inputs: dict[str, int] = {}
    for name, ty in route.params:
        flatten(ty, request[name], name, inputs)
    return unflatten(route.returns, interpret(route.graph, inputs), "return")


@functools.lru_cache(maxsize=16)
def build(source: str, file: str = "<generated>") -> tuple[Any, Any, Any, Any]:
    """Return ``(reference module, program, optimized program, runtime model)`` for a source."""
    from fpgac.driver import compile_source
    from fpgac.passes import optimize_program
    from fpgac.runtime import model_from_ir

    reference = load_reference(source, file)
    program = compile_source(source, file)
    optimized = optimize_program(program)
    # The runtime reads the JSON form of a bundle: go through real JSON text.
    model = model_from_ir(json.loads(json.dumps(program_to_json(optimized))))
    return reference, program, optimized, model


def run_layers(source: str, cases: Sequence[Case], file: str = "<generated>"
               ) -> dict[str, list[Any]]:
    """Return each layer's responses to ``cases`` (``(route path, request)`` pairs)."""
    reference, program, optimized, model = build(source, file)
    results: dict[str, list[Any]] = {
        "reference": [reference.call(path, request) for path, request in cases],
        "ir": [_interpret(program, path, request) for path, request in cases],
        "optimized": [_interpret(optimized, path, request) for path, request in cases],
        "scalar": [model.route(path)(**request) for path, request in cases],
    }
    batch: list[Any] = [None] * len(cases)
    for path in dict.fromkeys(path for path, _ in cases):
        positions = [i for i, (p, _) in enumerate(cases) if p == path]
        answers = model.route(path).batch([cases[i][1] for i in positions])
        for i, answer in zip(positions, answers):
            batch[i] = answer
    results["batch"] = batch
    return results


def _exact(value: Any) -> Any:
    """Return ``value`` with numpy integers and tuples made plain, for an exact comparison."""
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_exact(v) for v in value]
    if isinstance(value, bool) or not isinstance(value, int):
        # A bool or a numpy integer is a type error of the layer, not a value: keep it visible.
        return (type(value).__name__, int(value)) if hasattr(value, "__int__") else value
    return value


def check_layers(source: str, cases: Sequence[Case], file: str = "<generated>") -> list[Any]:
    """Assert that every layer gives the same response to every case; return the responses."""
    results = run_layers(source, cases, file)
    expected = [_exact(v) for v in results["reference"]]
    for layer in LAYERS[1:]:
        for i, (got, want) in enumerate(zip(results[layer], expected)):
            if _exact(got) != want:
                path, request = cases[i]
                table = "\n".join(f"  {name:9} {results[name][i]!r}" for name in LAYERS)
                raise Mismatch(
                    f"layer `{layer}` disagrees with the reference on {path} {request!r}:\n"
                    f"{table}\n--- source ---\n{source}")
    return expected


def check_case(source: str, path: str, request: dict[str, Any], expected: Any) -> None:
    """Assert that all five layers answer ``request`` with ``expected`` (a regression test)."""
    (response,) = check_layers(source, [(path, request)], "<regression>")
    assert response == expected, f"every layer gave {response!r}, expected {expected!r}"
