"""A device that fails mid-stream: its unfinished requests re-run on the software fallback."""

from __future__ import annotations

import pytest
from dispatch_helpers import FaultyDevice, echo_bundle, inc_requests

from fpgac.runtime import load

N = 2000


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return echo_bundle(tmp_path_factory.mktemp("echo"))


def _rows(app):
    routes = app.metrics()["routes"]["/inc"]
    return routes.get("faulty", {}), routes.get("software", {})


def _check_counters(app, device, n):
    """Every request answered exactly once, by the device or by the fallback."""
    dev, sw = _rows(app)
    assert dev["errors"] == 1
    assert dev["requests"] == device.answered
    assert dev["requests"] + sw["requests"] == n
    return dev, sw


@pytest.mark.parametrize("chunk,depth,k", [(16, 4, 0), (16, 4, 5), (7, 1, 3), (100, 8, 12),
                                           (1, 3, 40)])
def test_a_device_that_dies_mid_stream(bundle, chunk, depth, k):
    device = FaultyDevice(die_after=k, delay=0.0005, seed=k)
    app = load(bundle, device=device, chunk=chunk, depth=depth)
    assert list(app.inc.stream(inc_requests(N))) == [x + 1 for x in range(N)]
    dev, sw = _check_counters(app, device, N)
    assert dev["requests"] == k * chunk           # the chunks answered before it died
    assert chunk <= dev["fallbacks"] <= depth * chunk   # what was in flight when it died
    assert sw["requests"] == N - k * chunk
    health = app.health()["faulty"]
    assert health["in_service"] is False and health["ok"] is False
    assert health["last_error"] == "DeviceError: the link went down"
    assert app.device.name == "software"
    # Later requests go straight to the fallback; the device is not asked again.
    calls = device.calls
    assert app.inc.batch([{"x": 1}, {"x": 2}]) == [2, 3]
    assert device.calls == calls


def test_a_glitch_takes_the_device_out_until_its_health_is_ok(bundle):
    device = FaultyDevice(fail_at=3)
    app = load(bundle, device=device, chunk=10, depth=4)  # health asked again after 30 s
    assert list(app.inc.stream(inc_requests(N))) == [x + 1 for x in range(N)]
    dev, sw = _check_counters(app, device, N)
    assert dev["requests"] == 30 and sw["requests"] == N - 30
    assert app.device.name == "software"


def test_a_device_back_in_health_is_used_again(bundle):
    device = FaultyDevice(fail_at=3)
    app = load(bundle, device=device, chunk=10, depth=4, retry_after=0)
    assert list(app.inc.stream(inc_requests(N))) == [x + 1 for x in range(N)]
    dev, sw = _check_counters(app, device, N)
    # With retry_after=0 its health is asked at once, says ok, and the device takes the next
    # chunks: only the chunks in flight at the glitch ran on the fallback.
    assert 10 <= sw["requests"] == dev["fallbacks"] <= 40
    assert dev["requests"] == N - sw["requests"]
    assert app.health()["faulty"]["last_error"] == "RuntimeError: a glitch"
    answered = device.answered
    assert app.inc.batch(list(inc_requests(50))) == [x + 1 for x in range(50)]
    assert device.answered == answered + 50
    assert app.health()["faulty"]["in_service"] is True


def test_a_device_that_hangs_past_the_timeout(bundle):
    device = FaultyDevice(hang_after=2)
    app = load(bundle, device=device, chunk=25, depth=3, timeout=1.0)
    try:
        assert list(app.inc.stream(inc_requests(500))) == [x + 1 for x in range(500)]
        dev, sw = _check_counters(app, device, 500)
        assert dev["requests"] == 50 and dev["fallbacks"] >= 25
        assert app.health()["faulty"]["last_error"] == \
            "TimeoutError: device 'faulty' gave no answer within 1.0 s"
    finally:
        device.close()  # let the hung call return


def test_a_wrong_answer_is_a_failure(bundle):
    device = FaultyDevice(short_after=2)
    app = load(bundle, device=device, chunk=10, depth=2)
    assert app.inc.batch(list(inc_requests(N))) == [x + 1 for x in range(N)]
    dev, sw = _rows(app)
    assert dev["errors"] == 1 and dev["requests"] == 20 and sw["requests"] == N - 20
    assert "the device's answer for 'return' is not an integer column of 10 values" in \
        app.health()["faulty"]["last_error"]


def test_batch_and_single_requests_fail_over_too(bundle):
    device = FaultyDevice(die_after=1)
    app = load(bundle, device=device, chunk=64)
    assert app.inc.batch(list(inc_requests(1000))) == [x + 1 for x in range(1000)]
    dev, sw = _check_counters(app, device, 1000)
    assert dev["requests"] == 64
    device = FaultyDevice(die_after=0)
    app = load(bundle, device=device)
    assert app.inc(9) == 10
    dev, sw = _check_counters(app, device, 1)
    assert (dev["fallbacks"], sw["requests"]) == (1, 1)


def test_a_consumer_that_stops_after_a_failure(bundle):
    device = FaultyDevice(die_after=2)
    app = load(bundle, device=device, chunk=10, depth=4)
    stream = app.inc.stream(inc_requests(10**9))
    assert [next(stream) for _ in range(45)] == list(range(1, 46))
    stream.close()
    assert app.inc(0) == 1
