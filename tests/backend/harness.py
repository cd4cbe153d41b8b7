"""Shared helpers of the backend tests: compile examples, draw requests, run a core."""

from __future__ import annotations

import functools
import random
from pathlib import Path

from fpgac.backend import (
    elaborate,
    generate_route,
    pack_leaves,
    route_signature,
    simulate_stream,
    unpack_leaves,
)
from fpgac.backend._simple_schedule import asap_schedule
from fpgac.driver import compile_file, optimize
from fpgac.ir import interpret

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_FILES = sorted(p.relative_to(EXAMPLES).as_posix()
                       for p in [*EXAMPLES.glob("*.py"), *EXAMPLES.glob("ecp5/*.py")])


@functools.cache
def example(name: str):
    """Return the optimized program of ``examples/<name>``."""
    return optimize(compile_file(EXAMPLES / name))


def example_routes() -> list[tuple[str, str]]:
    """Return ``(file, route path)`` for every route of every example."""
    return [(f, r.path) for f in EXAMPLE_FILES for r in example(f).routes]


def random_leaf(rng: random.Random, leaf: dict) -> int:
    """Draw a value for one leaf: often an extreme, otherwise uniform over its type."""
    width, signed = leaf["width"], leaf["signed"]
    lo = -(1 << (width - 1)) if signed else 0
    hi = (1 << (width - 1)) - 1 if signed else (1 << width) - 1
    roll = rng.random()
    if roll < 0.1:
        return rng.choice([lo, hi, 0, min(1, hi), max(-1, lo)])
    if roll < 0.2:
        return rng.randint(max(lo, -4), min(hi, 4))
    return rng.randint(lo, hi)


def random_requests(route, n: int, seed: int) -> list[dict[str, int]]:
    """Draw ``n`` requests for ``route`` as leaf dicts (``{"p.r": 10, ...}``)."""
    rng = random.Random(seed)
    leaves = route_signature(route, asap_schedule(route.graph, 0))["request"]["leaves"]
    return [{leaf["path"]: random_leaf(rng, leaf) for leaf in leaves} for _ in range(n)]


def build_core(route, n_stages: int):
    """Return ``(component, signature, source)`` for ``route`` spread over ``n_stages``."""
    schedule = asap_schedule(route.graph, n_stages)
    source = generate_route(route, schedule)
    return elaborate(source), route_signature(route, schedule), source


def check_core(route, component, signature, requests, *, gap: float, stall: float, seed: int,
               graph=None):
    """Run ``requests`` through the core and compare every response with the IR interpreter."""
    request_leaves = signature["request"]["leaves"]
    response_leaves = signature["response"]["leaves"]
    bits = [pack_leaves(request_leaves, r) for r in requests]
    result = simulate_stream(component, bits, gap=gap, stall=stall, seed=seed)
    assert len(result.responses) == len(requests)
    graph = graph if graph is not None else route.graph
    for k, (request, got_bits) in enumerate(zip(requests, result.responses)):
        expected = interpret(graph, request)
        got = unpack_leaves(response_leaves, got_bits)
        assert got == expected, f"{route.path} request {k} {request}: core {got}, model {expected}"
    return result
