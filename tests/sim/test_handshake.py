"""The stream contract in the CXXRTL engine: nothing lost or duplicated, one request per cycle.

``/fmix32`` is a bijection on 32-bit words, so distinct requests give distinct
responses and a lost, duplicated or reordered request cannot hide; it is
scheduled for 48 MHz on iCE40, a deep pipeline with its multiplies split.
"""

import pytest
from sim_helpers import ICE40, example, example_cores

from fpgac.scheduling import schedule
from fpgac.simulate import SimCore, prepare

N = 2000


@pytest.fixture(scope="module")
def fmix32():
    route = example("hashing.py").route("/fmix32")
    return prepare(route, schedule(route.graph, model=ICE40, clock_mhz=48))


@pytest.mark.parametrize("gap, stall", [(0.0, 0.5), (0.5, 0.0), (0.5, 0.8), (0.1, 0.95)])
def test_no_request_is_lost_or_duplicated_under_backpressure(fmix32, gap, stall):
    requests = [{"h": (k * 0x9E3779B1) & 0xFFFFFFFF} for k in range(N)]
    result = fmix32.run(requests, gap=gap, stall=stall, seed=11)
    assert result.mismatches == []
    got = [leaves["return"] for leaves in result.response_leaves]
    assert len(got) == N and len(set(got)) == N
    assert result.accepted_at == sorted(set(result.accepted_at))
    assert result.answered_at == sorted(set(result.answered_at))
    # Each response leaves at least `latency` edges after its request came in.
    assert all(out - inn >= result.latency
               for inn, out in zip(result.accepted_at, result.answered_at))
    assert result.cycles == result.answered_at[-1]
    assert result.cycles > N + result.latency


def test_the_pipeline_is_deep(fmix32):
    assert fmix32.latency >= 6


def _full_rate(core, n):
    from fpgac.simulate import random_requests

    result = core.run(random_requests(core.route, n, seed=3))
    assert result.mismatches == []
    assert result.cycles == n + core.latency
    assert result.accepted_at == list(range(1, n + 1))
    assert result.answered_at == [k + core.latency for k in result.accepted_at]
    assert result.requests_per_cycle == n / (n + core.latency)
    return result


@pytest.mark.parametrize("file, path", [("imaging.py", "/ycbcr"), ("lookup.py", "/sine"),
                                        ("bitpack.py", "/base64_decode"), ("crc.py", "/crc32"),
                                        ("saturating.py", "/clamp"), ("ipv4.py", "/parse")])
def test_with_ready_high_n_requests_take_n_plus_latency_cycles(file, path):
    core = example_cores()[(file, path)]
    _full_rate(core, 300)


def test_full_rate_through_a_deep_pipeline_and_in_amaranth(fmix32):
    fast = _full_rate(fmix32, 500)
    slow = _full_rate(SimCore(fmix32.route, fmix32.schedule, engine="amaranth"), 60)
    assert slow.response_leaves == fast.response_leaves[:60]


def test_combinational_core_answers_in_the_same_cycle():
    # Latency 0 has no clock at all: each cycle's response is a function of its request.
    core = next(c for c in example_cores().values() if c.latency == 0)
    result = _full_rate(core, 100)
    assert result.accepted_at == result.answered_at
