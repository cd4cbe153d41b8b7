"""Order, backpressure and micro-batching of the dispatcher, and the device registry."""

from __future__ import annotations

import math
import threading
from itertools import islice

import pytest
from dispatch_helpers import FaultyDevice, echo_bundle, inc_requests

from fpgac.runtime import (
    Device,
    DeviceError,
    RequestError,
    SoftwareDevice,
    load,
    register_device,
    registered_devices,
    unregister_device,
)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return echo_bundle(tmp_path_factory.mktemp("echo"))


def test_order_under_random_device_latencies(bundle):
    device = FaultyDevice(delay=0.002, seed=7)
    app = load(bundle, device=device, chunk=7, depth=4)
    n = 3000
    assert list(app.inc.stream(inc_requests(n))) == [x + 1 for x in range(n)]
    assert app.inc.batch(list(inc_requests(n, 5))) == [x + 6 for x in range(n)]
    row = app.metrics()["routes"]["/inc"]["faulty"]
    assert (row["requests"], row["errors"], row["fallbacks"]) == (2 * n, 0, 0)
    assert row["calls"] == 2 * math.ceil(n / 7)   # micro-batches of `chunk` requests
    assert device.answered == 2 * n
    assert "software" not in app.metrics()["routes"]["/inc"]


def test_concurrent_streams_keep_their_own_order(bundle):
    app = load(bundle, device=FaultyDevice(delay=0.001, seed=3), chunk=16, depth=3)
    results: dict[int, list[int]] = {}

    def consume(k: int) -> None:
        results[k] = list(app.inc.stream(inc_requests(1000, start=k * 10_000)))

    threads = [threading.Thread(target=consume, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        assert results[k] == [x + 1 for x in range(k * 10_000, k * 10_000 + 1000)]
    assert app.metrics()["routes"]["/inc"]["faulty"]["requests"] == 4000


def test_records_through_a_device(bundle):
    app = load(bundle, device=FaultyDevice(), chunk=5)
    requests = [{"p": {"a": a, "b": a % 256}} for a in range(0, 1 << 32, 1 << 26)]
    got = app.pair.batch(requests)
    assert got == [app.Pair(a=(a + 1) % (1 << 32), b=(a % 256) ^ 255)
                   for a in range(0, 1 << 32, 1 << 26)]
    assert app.pair(app.Pair(a=(1 << 32) - 1, b=0)) == app.Pair(a=0, b=255)


class Counting:
    """An iterable of requests that counts how many were read."""

    def __init__(self, n: int):
        self.n = n
        self.read = 0

    def __iter__(self):
        for x in range(self.n):
            self.read += 1
            yield {"x": x}


@pytest.mark.parametrize("device", [None, "faulty"])
def test_a_slow_consumer_bounds_the_read_ahead(bundle, device):
    chunk, depth = 10, 3
    dev = FaultyDevice() if device else "software"
    app = load(bundle, device=dev, chunk=chunk, depth=depth)
    source = Counting(100_000)
    stream = app.inc.stream(source)
    bound = chunk * (depth + 1) if device else chunk
    for consumed in range(1, 500):
        assert next(stream) == consumed
        assert source.read - consumed <= bound
    stream.close()
    assert source.read < 600


def test_stopping_a_stream_early_cancels_its_work(bundle):
    device = FaultyDevice(delay=0.001)
    app = load(bundle, device=device, chunk=4, depth=4)
    assert list(islice(app.inc.stream(inc_requests(10**9)), 10)) == list(range(1, 11))
    assert device.calls <= 3 + 4
    assert app.inc(41) == 42


def test_a_refused_request_mid_stream_on_a_device(bundle):
    app = load(bundle, device=FaultyDevice(), chunk=8, depth=2)
    requests = [{"x": x} for x in range(30)] + [{"x": -1}] + [{"x": 1}] * 10
    out = []
    with pytest.raises(RequestError, match=r"^request 30: `x` must fit u32") as e:
        for y in app.inc.stream(requests):
            out.append(y)
    assert e.value.index == 30
    assert out == list(range(1, 31))
    assert app.metrics()["routes"]["/inc"]["faulty"]["refused"] == 1


def test_single_requests_through_a_device(bundle):
    device = FaultyDevice()
    app = load(bundle, device=device)
    assert app.inc(1) == 2 and app.inc(x=(1 << 32) - 1) == 0
    assert device.calls == 2
    with pytest.raises(RequestError, match=r"`x` must fit u32 \(0 to 4294967295\), not 4294967296"):
        app.inc(1 << 32)
    row = app.metrics()["routes"]["/inc"]["faulty"]
    assert (row["requests"], row["refused"], row["calls"]) == (2, 1, 2)


# --- the registry ------------------------------------------------------------------------------


class Board(FaultyDevice):
    present = True

    def available(self):
        return self.present


@pytest.fixture
def registered():
    opened: list[tuple[str | None, Device]] = []

    def factory(bundle, arg):
        device = Board(f"board:{arg}" if arg else "board")
        opened.append((arg, device))
        return device

    def broken(bundle, arg):
        raise OSError("no such port")

    register_device("board", factory, auto=True, priority=5)
    register_device("broken", broken, auto=True, priority=10)
    try:
        yield opened
    finally:
        unregister_device("board")
        unregister_device("broken")
        Board.present = True


def test_the_best_available_device_is_picked(bundle, registered):
    assert registered_devices() == ["software", "board", "broken", "serial", "sim", "virtual"]
    app = load(bundle)
    assert app.device.name == "board" and list(app.devices) == ["board", "software"]
    assert app.inc(1) == 2
    assert registered[0][0] is None
    Board.present = False
    app = load(bundle)
    assert app.device.name == "software" and list(app.devices) == ["software"]
    assert registered[-1][1].closed  # a probed device that is absent is closed again


def test_devices_by_name(bundle, registered):
    app = load(bundle, device="board:/dev/ttyUSB1")
    assert app.device.name == "board:/dev/ttyUSB1" and registered[-1][0] == "/dev/ttyUSB1"
    with pytest.raises(DeviceError, match=r"^device 'broken' could not be opened: no such port$"):
        load(bundle, device="broken")
    Board.present = False
    with pytest.raises(DeviceError, match=r"^device 'board' is not available$"):
        load(bundle, device="board")
    with pytest.raises(DeviceError, match=r"^unknown device 'fpga'; the devices known here: "
                                          r"'software', 'board', 'broken', 'serial', 'sim', "
                                          r"'virtual'$"):
        load(bundle, device="fpga")
    assert isinstance(load(bundle, device="software").device, SoftwareDevice)


def test_register_device_checks_its_arguments():
    with pytest.raises(ValueError, match="cannot be replaced"):
        register_device("software", lambda b, a: SoftwareDevice())
    with pytest.raises(ValueError, match="a device prefix must be lowercase"):
        register_device("Serial:", lambda b, a: SoftwareDevice())
