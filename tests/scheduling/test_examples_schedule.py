"""Every example route schedules, at several clocks, on every shipped delay model."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fpgac.driver import compile_file, optimize
from fpgac.ir import IntTy, interpret, verify
from fpgac.scheduling import TARGETS, DelayModel, schedule

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLOCKS = {"ice40": [24.0, 48.0], "ecp5": [75.0, 150.0], "generic": [48.0]}


@pytest.fixture(scope="module")
def routes():
    found = []
    for path in sorted([*EXAMPLES.glob("*.py"), *EXAMPLES.glob("ecp5/*.py")]):
        program = optimize(compile_file(path))
        found += [(f"{path.stem}{r.path}", r.graph) for r in program.routes]
    assert len(found) >= 20
    return found


@pytest.mark.parametrize("target", TARGETS)
def test_models_load_and_cover_every_delay_key(target):
    model = DelayModel.load(target)
    assert model.target == target
    assert set(model.ops) == {"add", "mul", "div", "logic", "shift", "compare", "mux", "rom",
                              "popcount", "priority"}
    assert 0 < model.register_overhead_ns < 5
    for key, op in model.ops.items():
        # Wider never gets faster, within the measured range.
        assert op(8) <= op(16) + 1e-9 <= op(32) + 2e-9, key


@pytest.mark.parametrize("target", TARGETS)
def test_every_example_schedules_and_meets_timing(routes, target):
    model = DelayModel.load(target)
    rng = random.Random(7)
    for clock in CLOCKS[target]:
        for name, graph in routes:
            sched = schedule(graph, model=model, clock_mhz=clock)
            sched.verify(sched.graph)
            sched.verify_timing(sched.graph, 1000.0 / clock, model)
            assert sched.n_stages >= 1, name
            assert sched.estimated_fmax_mhz(sched.graph, model) >= clock - 1e-6, name
            assert sched.register_bits() == sum(sched.boundary_bits())
            if sched.graph is not graph:  # split: the same values
                verify(sched.graph)
                for _ in range(5):
                    inputs = {}
                    for p in graph.params():
                        ty = IntTy(p["width"], p["signed"])
                        inputs[p["path"]] = rng.randint(ty.min, ty.max)
                    assert interpret(sched.graph, inputs) == interpret(graph, inputs), name


def test_a_slower_clock_never_needs_more_stages(routes):
    model = DelayModel.load("ecp5")
    for name, graph in routes:
        counts = [schedule(graph, model=model, clock_mhz=c).n_stages for c in (150.0, 75.0, 25.0)]
        assert counts == sorted(counts, reverse=True), name


def test_forced_stages_on_the_examples(routes):
    model = DelayModel.load("ice40")
    for name, graph in routes:
        if len(graph) > 200:
            continue  # the large routes are covered at a clock above
        for n in (0, 1, 3):
            sched = schedule(graph, model=model, stages=n)
            sched.verify()
            assert sched.n_stages == n and sched.graph is graph, name
