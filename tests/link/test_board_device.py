"""BoardDevice: the `serial` device on the fake board, in memory and over a real pseudo-terminal."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import sys

import numpy as np
import pytest
from fake_board import FakeBoard, Line, MemoryPort, PtyBoard

from fpgac.runtime import BundleData, DeviceError, SoftwareDevice, load
from fpgac.runtime._devices import open_device
from fpgac.runtime._framing import KIND_STATUS
from fpgac.runtime._link import LinkError
from fpgac.runtime._serial import DEFAULT_BAUD, BoardDevice, parse_port


@pytest.fixture(scope="module")
def data(bundle):
    """The bundle as a device factory gets it."""
    app = load(bundle, device="software")
    yield BundleData(app.directory, app.manifest, app.model)
    app.close()


def requests_for(app, path: str, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    if path == "/luma":
        return [{"r": rng.randrange(256), "g": rng.randrange(256), "b": rng.randrange(256)}
                for _ in range(n)]
    if path == "/check":
        return [{"p": {"x": rng.randrange(-2**15, 2**15), "y": rng.randrange(-2**15, 2**15)},
                 "radius": rng.randrange(256), "xs": [rng.randrange(256) for _ in range(3)]}
                for _ in range(n)]
    return [{"a": rng.getrandbits(64), "b": rng.getrandbits(100), "f": rng.random() < 0.5}
            for _ in range(n)]


def columns_for(route, requests):
    return dict(zip(route.param_paths, route.signature.columns(requests)))


def test_outputs_are_the_software_models_columns(data, board_app):
    device = BoardDevice.over(data, MemoryPort(FakeBoard(board_app)), name="board")
    software = SoftwareDevice()
    for i, route in enumerate(data.model.routes.values()):
        columns = columns_for(route, requests_for(data.model, route.path, 200, i))
        got, want = device.run(route, columns), software.run(route, columns)
        assert list(got) == route.output_paths
        for path in route.output_paths:
            assert got[path].dtype == want[path].dtype and got[path].shape == (200,)
            assert got[path].tolist() == want[path].tolist()
    # The bool leaf comes back 0/1; the 100-bit one as exact Python ints.
    check = data.model.route("/check")
    inside = device.run(check, columns_for(check, requests_for(data.model, "/check", 50, 9)))
    assert set(inside["return.inside"].tolist()) <= {0, 1}
    wide = data.model.route("/wide")
    out = device.run(wide, columns_for(wide, requests_for(data.model, "/wide", 5, 1)))
    assert out["return"].dtype == object and all(type(v) is int for v in out["return"])
    device.close()
    device.close()
    assert not device.available() and device.health() == {"ok": False, "error": "closed"}


def test_a_loaded_app_runs_on_the_board(bundle, board_app):
    board = FakeBoard(board_app, reorder=True, hold=0.3, seed=3)
    with load(bundle, device="software") as reference:
        data = BundleData(reference.directory, reference.manifest, reference.model)
        device = BoardDevice.over(data, MemoryPort(board), name="board")
        with load(bundle, device=device, chunk=100, records=reference.records) as app:
            for name in ("luma", "check", "wide"):
                requests = requests_for(data.model, app.route(name).path, 250, 7)
                assert app.route(name).batch(requests) == reference.route(name).batch(requests)
            assert app.luma(r=10, g=20, b=30) == reference.luma(r=10, g=20, b=30)
            routes = app.metrics()["routes"]
            assert routes["/check"]["board"]["requests"] == 250
            assert "software" not in routes["/check"]
            health = app.health()["board"]
            assert health["ok"] and health["in_service"] and health["window"] == 16
            assert health["link"]["retries"] == 0


def test_a_board_that_stops_answering_fails_over_to_software(bundle, board_app):
    board = FakeBoard(board_app)
    with load(bundle, device="software") as reference:
        data = BundleData(reference.directory, reference.manifest, reference.model)
        port = MemoryPort(board, real_time=True)
        device = BoardDevice.over(data, port, name="board", timeout=0.05, retries=1)
        with load(bundle, device=device, chunk=50, retry_after=3600) as app:
            requests = requests_for(data.model, "/luma", 400, 8)
            results = []
            for i, response in enumerate(app.luma.stream(requests)):
                if i == 120:
                    port.unplugged = True  # the adapter is pulled out mid-stream
                results.append(response)
            assert results == reference.luma.batch(requests)
            routes = app.metrics()["routes"]["/luma"]
            assert routes["board"]["requests"] + routes["software"]["requests"] == 400
            assert routes["board"]["errors"] >= 1
            health = app.health()["board"]
            assert not health["ok"] and "Input/output error" in health["error"]
            assert not health["in_service"]


def test_a_board_with_another_design_is_refused_and_its_port_closed(data, board_app):
    port = MemoryPort(FakeBoard(board_app, design_hash=hashlib.sha256(b"other").digest()))
    with pytest.raises(LinkError, match=r"^device 'board': the board carries another design "):
        BoardDevice.over(data, port, name="board")
    assert port.closed


def test_the_serial_device_runs_over_a_pseudo_terminal(bundle, board_app):
    board = FakeBoard(board_app, window=8)
    with PtyBoard(board) as pty, load(bundle, device="software") as reference:
        with load(bundle, device=f"serial:{pty.port}@115200", chunk=64,
                  records=reference.records) as app:
            device = app.device
            assert device.name == f"serial:{pty.port}@115200"
            assert type(device.client.port).__module__.startswith("serial")
            assert device.client.port.baudrate == 115200
            for name in ("luma", "check", "wide"):
                requests = requests_for(reference.model, app.route(name).path, 300, 11)
                assert app.route(name).batch(requests) == reference.route(name).batch(requests)
            health = device.health()
            assert health["ok"] and health["rx_frames"] >= 901 and health["rx_dropped"] == 0
            assert health["link"]["sent"] == health["link"]["received"]
        assert device.client.port.is_open is False
    assert pty.bytes_in > 0 and pty.bytes_out > 0 and board.overflows == 0


def test_a_port_that_does_not_exist_is_a_device_error(data):
    with pytest.raises(DeviceError, match=r"^cannot open the serial port '/nonexistent/tty0': "):
        open_device("serial:/nonexistent/tty0", data)


def test_the_serial_device_needs_a_port(data):
    with pytest.raises(DeviceError, match=r"^name the board's port: `serial:/dev/ttyUSB1`"):
        open_device("serial", data)


def test_without_pyserial_the_error_says_what_to_install(data, monkeypatch):
    monkeypatch.setitem(sys.modules, "serial", None)  # `import serial` now fails
    with pytest.raises(DeviceError, match=r"^device 'serial:/dev/ttyUSB1' needs pyserial: "
                                          r"pip install 'fpgac\[link\]'$"):
        open_device("serial:/dev/ttyUSB1", data)


def test_port_names_and_baud_rates():
    assert parse_port("/dev/ttyUSB1") == ("/dev/ttyUSB1", DEFAULT_BAUD) == \
        ("/dev/ttyUSB1", 3_000_000)
    assert parse_port("COM3@115200") == ("COM3", 115200)
    assert parse_port("socket://localhost:7000@9600") == ("socket://localhost:7000", 9600)
    assert parse_port("rfc2217://host@x") == ("rfc2217://host@x", DEFAULT_BAUD)
    with pytest.raises(DeviceError, match="must be positive"):
        parse_port("COM3@0")


def copy_bundle(bundle, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(bundle, out)
    return out


def test_a_bundle_without_a_signature_cannot_run_on_a_board(bundle, board_app, tmp_path):
    copy = copy_bundle(bundle, tmp_path)
    with load(copy, device="software") as app:
        data = BundleData(app.directory, app.manifest, app.model)
        (copy / "signature.json").write_text(json.dumps({"routes": []}))
        with pytest.raises(DeviceError, match=r"^signature\.json does not match its hash"):
            BoardDevice.over(data, MemoryPort(FakeBoard(board_app)), name="board")
        (copy / "signature.json").unlink()
        with pytest.raises(DeviceError, match=r"^the bundle has no signature\.json"):
            BoardDevice.over(data, MemoryPort(FakeBoard(board_app)), name="board")


def test_importing_the_runtime_leaves_pyserial_and_the_link_unloaded():
    probe = ("import sys, fpgac.runtime; "
             "print(' '.join(sorted(m for m in sys.modules if m == 'serial' or "
             "m.startswith(('serial.', 'fpgac.runtime._serial', 'fpgac.runtime._link')))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == []


def test_columns_of_a_run_keep_request_order(data, board_app):
    # Responses of many in flight come back reordered by the link only in time, never in place.
    board = FakeBoard(board_app, window=16, hold=0.9, seed=4)
    device = BoardDevice.over(data, MemoryPort(board), name="board")
    luma = data.model.route("/luma")
    r = np.arange(1000) % 256
    columns = {"r": r, "g": (r * 7) % 256, "b": (r * 13) % 256}
    assert device.run(luma, columns)["return"].tolist() == \
        SoftwareDevice().run(luma, columns)["return"].tolist()


def test_a_damaged_pseudo_terminal_line_loses_and_duplicates_nothing(data, board_app):
    board = FakeBoard(board_app, duplicate=0.02, seed=12)
    up, down = Line(corrupt=0.004, drop=0.004, seed=13), Line(corrupt=0.004, drop=0.004, seed=14)
    with PtyBoard(board, up=up, down=down) as pty:
        device = BoardDevice.open(data, pty.port, 1_000_000, timeout=0.05, retries=40)
        try:
            check = data.model.route("/check")
            columns = columns_for(check, requests_for(data.model, "/check", 600, 15))
            got, want = device.run(check, columns), SoftwareDevice().run(check, columns)
            assert {p: c.tolist() for p, c in got.items()} == \
                {p: c.tolist() for p, c in want.items()}
            counters = device.client.counters()
            assert up.damaged and down.damaged and counters["retries"] > 0
            assert counters["dropped"] > 0 and counters["duplicates"] > 0
        finally:
            device.close()


def test_a_board_that_comes_back_is_used_again(bundle, board_app):
    board = FakeBoard(board_app)
    with PtyBoard(board) as pty, load(bundle, device="software") as reference:
        data = BundleData(reference.directory, reference.manifest, reference.model)
        device = BoardDevice.open(data, pty.port, timeout=0.05, retries=1)
        with load(bundle, device=device, chunk=50, retry_after=0,
                  records=reference.records) as app:
            requests = requests_for(data.model, "/luma", 100, 16)
            board.mute = {0, KIND_STATUS}  # the board stops answering
            assert app.luma.batch(requests) == reference.luma.batch(requests)
            assert app.metrics()["routes"]["/luma"]["software"]["requests"] == 100
            assert not app.health()["serial:" + pty.port]["ok"]
            board.mute.clear()  # and answers again: health() reopens the port
            assert app.health()["serial:" + pty.port]["ok"]
            assert app.luma.batch(requests) == reference.luma.batch(requests)
            assert app.metrics()["routes"]["/luma"][device.name]["requests"] == 100
