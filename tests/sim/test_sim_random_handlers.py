"""Random well-typed handlers (the differential generator) as cores in both engines.

Every drawn module is compiled and optimized; each route becomes a core over
0 to 4 stages from the real scheduler, and answers random requests under
random gaps and stalls. CXXRTL must agree with the IR interpreter bit for bit
on every response; on every fifth route the Amaranth simulation, run with the
same seed, must show the same responses on the same clock edges.

Cores are compiled 25 to a model (a quick build), the models in parallel. The
slow run draws ``FPGAC_SIM_HANDLERS`` modules (default 300).
"""

import os
import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpgac.driver import compile_source, optimize
from fpgac.scheduling import DelayModel, schedule
from fpgac.simulate import SimCore, prepare_many, random_requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "differential"))
from generator import handler_programs  # noqa: E402

SLOW_HANDLERS = int(os.environ.get("FPGAC_SIM_HANDLERS", "300"))
ICE40 = DelayModel.load("ice40")


def _draw(n: int) -> list[tuple[str, int]]:
    """Return ``n`` random handler modules (source, seed), the same ones every run."""
    drawn = []

    @settings(max_examples=n, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])
    @given(handler_programs(), st.integers(0, 2**16))
    def collect(program, seed):
        drawn.append((program.source, seed))

    collect()
    return drawn


def _check(n: int, amaranth_every: int) -> int:
    """Run ``n`` random modules through CXXRTL (some also through Amaranth); return routes."""
    cases = []
    for source, seed in _draw(n):
        program = optimize(compile_source(source, "random_handler.py"))
        rng = random.Random(seed)
        for route in program.routes:
            sched = schedule(route.graph, model=ICE40, stages=rng.randint(0, 4))
            cases.append((route, sched, seed, source))
    assert len(cases) >= n  # every module has at least one route
    cores = prepare_many([(r, s) for r, s, _, _ in cases], reference="interpret", batch=25,
                         quick=True)
    for k, (core, (route, sched, seed, source)) in enumerate(zip(cores, cases)):
        requests = random_requests(route, 16, seed)
        fast = core.run(requests, gap=0.25, stall=0.25, seed=seed)
        assert fast.mismatches == [], f"{route.path} of\n{source}\n{fast.mismatches[0]}"
        if k % amaranth_every == 0:
            slow = SimCore(route, sched, engine="amaranth", reference="none")
            run = slow.run(requests, gap=0.25, stall=0.25, seed=seed)
            assert run.response_leaves == fast.response_leaves, f"{route.path} of\n{source}"
            assert (run.cycles, run.accepted_at, run.answered_at) == \
                (fast.cycles, fast.accepted_at, fast.answered_at)
    return len(cases)


def test_random_handlers_in_both_engines():
    assert _check(24, amaranth_every=3) >= 24


@pytest.mark.slow
def test_many_random_handlers_in_both_engines():
    assert _check(SLOW_HANDLERS, amaranth_every=5) >= SLOW_HANDLERS
