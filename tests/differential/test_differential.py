"""Random well-typed handlers: the five software layers agree with the reference bit for bit.

The layers are the reference semantics, the IR interpreter before and after the
optimization passes, and the runtime's scalar and numpy batch models (see
``layers.py``). The run is derandomized, so CI sees the same programs every
time; set ``FPGAC_DIFF_EXAMPLES`` to run more (or fewer) programs, and
``FPGAC_DIFF_SEED`` to explore a different random sequence.
"""

import os

import pytest
from generator import handler_cases
from hypothesis import HealthCheck, given, seed, settings
from layers import check_layers

EXAMPLES = int(os.environ.get("FPGAC_DIFF_EXAMPLES", "2000"))
SEED = os.environ.get("FPGAC_DIFF_SEED")


def _explore(test):
    """Apply the run's settings: derandomized by default, seeded when asked."""
    test = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    derandomize=SEED is None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])(test)
    return seed(int(SEED))(test) if SEED is not None else test


@pytest.mark.slow
@_explore
@given(handler_cases(max_requests=6))
def test_five_layers_agree_on_random_handlers(case):
    program, cases = case
    check_layers(program.source, cases)
