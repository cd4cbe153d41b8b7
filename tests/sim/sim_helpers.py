"""Shared helpers of the simulation tests: example programs, their cores, schedules.

Cores are built once per test session: one compiled model per example file,
the files compiled in parallel, and the cache keeps them across sessions.
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path

from fpgac.driver import compile_file, optimize
from fpgac.scheduling import DelayModel, schedule
from fpgac.simulate import SimCore, prepare_groups

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_FILES = sorted(p.relative_to(EXAMPLES).as_posix()
                       for p in [*EXAMPLES.glob("*.py"), *EXAMPLES.glob("ecp5/*.py")])
ICE40 = DelayModel.load("ice40")
#: Routes with this many IR nodes or more are slow in Amaranth's simulator.
BIG = 300
#: Pipeline depths the example cores are spread over (0: purely combinational).
DEPTHS = (0, 1, 2, 3, 5)


@functools.cache
def example(name: str):
    """Return the optimized program of ``examples/<name>``."""
    return optimize(compile_file(EXAMPLES / name))


def example_routes() -> list[tuple[str, str]]:
    """Return ``(file, route path)`` for every route of every example."""
    return [(f, r.path) for f in EXAMPLE_FILES for r in example(f).routes]


def depth(path: str) -> int:
    """Return the number of stages the example core of ``path`` is built with."""
    return DEPTHS[zlib.crc32(path.encode()) % len(DEPTHS)]


def seed_of(path: str) -> int:
    """Return a seed that differs from route to route but not from run to run."""
    return zlib.crc32(path.encode()) & 0xFFFF


@functools.cache
def example_cores() -> dict[tuple[str, str], SimCore]:
    """Return a CXXRTL core for every example route, over :func:`depth` stages each.

    One model per example file: few compilations, each core evaluated only with
    its neighbours; a quick build, since every run here is short.
    """
    groups = [[(r, schedule(r.graph, model=ICE40, stages=depth(r.path)))
               for r in example(file).routes] for file in EXAMPLE_FILES]
    built = prepare_groups(groups, quick=True)
    return {(file, core.route.path): core
            for file, cores in zip(EXAMPLE_FILES, built) for core in cores}


def is_big(route) -> bool:
    """Return whether ``route`` is slow to simulate in Amaranth's simulator."""
    return len(route.graph) >= BIG
