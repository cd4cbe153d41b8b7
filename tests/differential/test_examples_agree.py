"""Every example handler: the five software layers agree with the reference on random requests."""

from pathlib import Path

import pytest
from generator import requests_for_ir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from layers import build, check_layers

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SOURCES = sorted([*EXAMPLES.glob("*.py"), *EXAMPLES.glob("ecp5/*.py")])


def test_there_are_examples():
    assert SOURCES, f"no examples under {EXAMPLES}"


@pytest.mark.slow
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
@settings(max_examples=10, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_example_layers_agree(path, data):
    source = path.read_text(encoding="utf-8")
    program = build(source, path.name)[1]
    cases = [(route.path, request) for route in program.routes
             for request in data.draw(st.lists(requests_for_ir(route), min_size=1, max_size=4),
                                      label=route.path)]
    check_layers(source, cases, path.name)
