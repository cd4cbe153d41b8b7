"""The pass manager: runs a pipeline to a fixed point, checking every pass."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from ..ir.graph import Graph
from ..ir.printer import format_graph
from ..ir.program import Program
from ..ir.verifier import VerifyError, verify, verify_route
from .cse import CSE
from .dce import DCE
from .fold import ConstantFold
from .narrow import NarrowWidths
from .simplify import AlgebraicSimplify
from .strength import StrengthReduce

__all__ = ["Pass", "PassManager", "DEFAULT_PIPELINE", "optimize_program"]


class Pass(Protocol):
    """What the manager runs: a named rewrite that reports whether it changed the graph."""

    name: str

    def run(self, graph: Graph) -> bool: ...


#: The default optimization pipeline, in order; the manager repeats it to a fixed point.
DEFAULT_PIPELINE: list[type] = [
    ConstantFold,
    AlgebraicSimplify,
    StrengthReduce,
    CSE,
    DCE,
    NarrowWidths,
]


class PassManager:
    """Run passes in order, repeating the whole pipeline until nothing changes.

    Before the first pass and after every pass that changed the graph, the
    verifier runs (a pass that changed nothing leaves the graph the verifier
    just accepted). Each pass's claim of change is checked against the
    printed graph: a wrong claim is a bug in that pass.
    """

    def __init__(self, passes: Iterable[type | Pass] = DEFAULT_PIPELINE, *,
                 max_iterations: int = 16):
        self.passes: list[Pass] = [p() if isinstance(p, type) else p for p in passes]
        self.max_iterations = max_iterations

    def run(self, graph: Graph, *, dump_dir: str | os.PathLike | None = None,
            route_name: str | None = None) -> bool:
        """Optimize ``graph`` in place; return whether anything changed.

        With ``dump_dir``, write ``00-<route>-input.ir`` and then
        ``NN-<route>-<pass>.ir`` after each pass that changed the graph.
        """
        route_name = route_name or graph.name
        dump = Path(dump_dir) if dump_dir is not None else None
        if dump is not None:
            dump.mkdir(parents=True, exist_ok=True)
        snapshot = 0

        _verify(graph, "before the first pass")
        text = format_graph(graph)
        if dump is not None:
            (dump / f"{snapshot:02d}-{route_name}-input.ir").write_text(text + "\n")
        changed_any = False
        for _ in range(self.max_iterations):
            changed_round = False
            for p in self.passes:
                claimed = p.run(graph)
                after = format_graph(graph)
                if claimed and after == text:
                    raise AssertionError(f"pass {p.name!r} reported a change but changed nothing")
                if not claimed and after != text:
                    raise AssertionError(f"pass {p.name!r} changed the graph but reported no change")
                if not claimed:
                    continue
                _verify(graph, f"after pass {p.name!r}")
                text = after
                changed_round = True
                if dump is not None:
                    snapshot += 1
                    (dump / f"{snapshot:02d}-{route_name}-{p.name}.ir").write_text(text + "\n")
            changed_any |= changed_round
            if not changed_round:
                break
        return changed_any


def _verify(graph: Graph, when: str) -> None:
    try:
        verify(graph)
    except VerifyError as e:
        raise VerifyError(f"{when}: {e}") from e


def optimize_program(program: Program, *, dump_dir: str | os.PathLike | None = None,
                     passes: Iterable[type | Pass] = DEFAULT_PIPELINE) -> Program:
    """Return an optimized copy of ``program``; the input is left untouched."""
    manager = PassManager(passes)
    routes = []
    for route in program.routes:
        copy = dataclasses.replace(route, params=list(route.params), graph=route.graph.copy())
        manager.run(copy.graph, dump_dir=dump_dir, route_name=route.name)
        verify_route(copy)
        routes.append(copy)
    return dataclasses.replace(program, routes=routes, records=dict(program.records))
