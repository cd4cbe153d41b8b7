"""Random well-typed handlers (the differential generator) as cores, against the model.

Each drawn module is compiled and optimized; every route becomes a core over a
random number of stages and answers random requests under random gaps and
stalls, bit for bit as the IR interpreter does. ``FPGAC_HW_EXAMPLES`` sets how
many modules the slow run draws.
"""

import os
import random
import sys
from pathlib import Path

import pytest
from harness import check_core, random_leaf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpgac.backend import elaborate, generate_route, route_signature
from fpgac.backend._simple_schedule import asap_schedule
from fpgac.driver import compile_source, optimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "differential"))
from generator import handler_programs  # noqa: E402

SLOW_EXAMPLES = int(os.environ.get("FPGAC_HW_EXAMPLES", "60"))


def _check_program(source: str, seed: int) -> None:
    program = optimize(compile_source(source, "random_handler.py"))
    rng = random.Random(seed)
    for route in program.routes:
        # Half the time every XOR-linear node is written as XOR trees of its cone's leaves.
        schedule = asap_schedule(route.graph, rng.randint(0, 4), xor_trees=rng.random() < 0.5)
        component = elaborate(generate_route(route, schedule))
        signature = route_signature(route, schedule)
        leaves = signature["request"]["leaves"]
        requests = [{leaf["path"]: random_leaf(rng, leaf) for leaf in leaves}
                    for _ in range(24)]
        check_core(route, component, signature, requests, gap=0.25, stall=0.25, seed=seed)


def _settings(n):
    return settings(max_examples=n, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@_settings(6)
@given(handler_programs(), st.integers(0, 2**16))
def test_random_handlers_in_hardware(program, seed):
    _check_program(program.source, seed)


@pytest.mark.slow
@_settings(SLOW_EXAMPLES)
@given(handler_programs(), st.integers(0, 2**16))
def test_many_random_handlers_in_hardware(program, seed):
    _check_program(program.source, seed)
