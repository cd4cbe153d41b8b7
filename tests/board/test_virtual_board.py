"""The virtual board: the board's link top level simulated behind a pseudo-terminal.

Two designs are served. A small UART echo (each byte back, plus one) checks the
line itself: bit timing, back-to-back bytes, damage and statistics. The imaging
example's real link top level checks the board as a host sees it: frames in,
responses equal to the software model's, status counters, and the runtime's
``virtual`` device, bit for bit against the software device.
"""


import json
import random
import shutil
import time
from pathlib import Path

import pytest
import serial
from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out
from virtual_helpers import BAUD, CLK_HZ, EXAMPLES, random_value, virtual_bundle

from fpgac.backend.board.virtual import write_virtual_board
from fpgac.runtime import (
    BundleData,
    DeviceError,
    SoftwareDevice,
    finish_bundle,
    load,
    model_from_ir,
)
from fpgac.runtime._framing import (
    KIND_STATUS,
    FrameDecoder,
    Status,
    encode_frame,
    pack_body,
    payload_bytes,
    unpack_body,
)
from fpgac.runtime._serial import BoardDevice
from fpgac.runtime._virtual import VirtualBoard, _options, board_config

# --- a UART echo: the line without the link ----------------------------------------------------


class Echo(wiring.Component):
    """Send back every byte received on ``rx``, plus one, on ``tx`` (8N1)."""

    rx: In(1, init=1)
    tx: Out(1, init=1)

    def __init__(self, clk_hz: int, baud: int):
        self.clk_hz, self.baud = clk_hz, baud
        self.divisor = round(clk_hz / baud)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        # Bytes wait in a FIFO while the previous one is being sent.
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=8, depth=32)
        timer = Signal(range(2 * d))
        bit = Signal(range(9))
        shift = Signal(8)
        busy = Signal()
        m.d.comb += fifo.w_data.eq(shift + 1)
        m.d.sync += fifo.w_en.eq(0)
        with m.If(~busy):
            with m.If(~self.rx):  # a start bit: sample the data bits in their middles
                m.d.sync += [busy.eq(1), timer.eq(d + d // 2 - 1), bit.eq(0)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Elif(bit == 8):
            m.d.sync += [busy.eq(0), fifo.w_en.eq(1)]
        with m.Else():
            m.d.sync += [shift.eq(Cat(shift[1:], self.rx)), bit.eq(bit + 1), timer.eq(d - 1)]
        t_timer = Signal(range(d))
        t_bits = Signal(range(11))
        t_shift = Signal(10, init=0x3FF)
        m.d.comb += self.tx.eq(t_shift[0])
        with m.If((t_bits == 0) | ((t_bits == 1) & (t_timer == 0))):
            # Idle, or at the end of a stop bit: the next byte starts at once.
            m.d.comb += fifo.r_en.eq(1)
            with m.If(fifo.r_rdy):
                m.d.sync += [t_shift.eq(Cat(0, fifo.r_data, 1)), t_bits.eq(10),
                             t_timer.eq(d - 1)]
            with m.Else():
                m.d.sync += [t_shift.eq(0x3FF), t_bits.eq(0)]
        with m.Elif(t_timer != 0):
            m.d.sync += t_timer.eq(t_timer - 1)
        with m.Else():
            m.d.sync += [t_shift.eq(Cat(t_shift[1:], 1)), t_bits.eq(t_bits - 1),
                         t_timer.eq(d - 1)]
        return m


@pytest.fixture(scope="module")
def echo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("echo")
    write_virtual_board(Echo(CLK_HZ, BAUD), out)
    return out


def _read(port: serial.Serial, n: int, *, seconds: float = 30.0, quiet: float = 1.0) -> bytes:
    """Read ``n`` bytes, or what came before ``quiet`` seconds without any or ``seconds``."""
    data = bytearray()
    deadline = time.monotonic() + seconds
    last = time.monotonic()
    while len(data) < n and time.monotonic() < deadline and time.monotonic() - last < quiet:
        more = port.read(max(1, min(n - len(data), port.in_waiting)))
        if more:
            data += more
            last = time.monotonic()
    return bytes(data)


def _echo(directory: Path, data: bytes, **options) -> tuple[bytes, dict]:
    """Send ``data`` through the echo; return what came back and the simulator's statistics."""
    with VirtualBoard(directory, **options) as board:
        port = serial.Serial(board.port, BAUD, timeout=0.05)
        port.write(data)
        back = _read(port, len(data))
        port.close()
    return back, board.stats()


def test_board_json_describes_the_simulation(echo_dir):
    config = json.loads((echo_dir / "virtual" / "board.json").read_text())
    assert {k: config[k] for k in ("format", "top", "class", "clk_hz", "baud", "divisor")} == {
        "format": 1, "top": "board", "class": "p_board", "clk_hz": CLK_HZ, "baud": BAUD,
        "divisor": 16}
    assert config["ports"] == {"clk": "p_clk", "rst": "p_rst", "rx": "p_rx", "tx": "p_tx"}
    assert "struct p_board" in (echo_dir / "virtual" / "board.cc").read_text()
    # The runtime reads it from the bundle or from its `virtual` folder alike.
    assert board_config(echo_dir)["divisor"] == board_config(echo_dir / "virtual")["divisor"]


def test_bytes_cross_the_line_back_to_back(echo_dir):
    data = bytes(range(256)) * 4
    back, stats = _echo(echo_dir, data)
    assert back == bytes((b + 1) & 0xFF for b in data)
    assert stats["bytes_in"] == stats["bytes_out"] == len(data)
    assert stats["framing_errors"] == stats["overflow"] == 0
    assert stats["corrupted_in"] == stats["dropped_out"] == 0
    assert stats["exit_status"] == 0
    # 10 bits of 16 cycles per byte with no gaps; the echo of the last byte ends 19.5 bit
    # times after that byte started (the echo answers when it samples the last data bit).
    span = stats["last_out_cycle"] - stats["first_in_cycle"]
    assert len(data) * 160 <= span <= (len(data) - 1) * 160 + 20 * 16
    assert stats["cycles"] >= stats["last_out_cycle"]


def test_the_line_drops_bytes_and_counts_them(echo_dir):
    data = bytes(range(256)) * 4
    back, stats = _echo(echo_dir, data, drop=0.05, seed=3)
    assert stats["dropped_in"] > 0 and stats["dropped_out"] > 0
    assert len(back) == len(data) - stats["dropped_in"] - stats["dropped_out"]
    assert stats["bytes_out"] == len(data) - stats["dropped_in"]
    assert stats["corrupted_in"] == stats["corrupted_out"] == 0
    # What arrived is the echo of a subsequence of what was sent, in order.
    it = iter(data)
    assert all(any((b + 1) & 0xFF == got for b in it) for got in back)


def test_the_line_corrupts_one_bit_of_a_byte_and_counts_it(echo_dir):
    data = bytes(range(256)) * 4
    back, stats = _echo(echo_dir, data, corrupt=0.05, seed=4)
    assert len(back) == len(data)
    damaged = sum(got != (b + 1) & 0xFF for b, got in zip(data, back))
    assert stats["corrupted_in"] > 0 and stats["corrupted_out"] > 0
    # Each damaged byte was hit at least once; two hits on one byte may cancel or add up.
    assert 0 < damaged <= stats["corrupted_in"] + stats["corrupted_out"]


def test_the_same_seed_damages_the_same_bytes(echo_dir):
    data = bytes(range(256)) * 2
    first, _ = _echo(echo_dir, data, corrupt=0.05, seed=9)
    second, _ = _echo(echo_dir, data, corrupt=0.05, seed=9)
    assert first == second


def test_the_simulator_stops_when_the_host_closes_the_port(echo_dir):
    board = VirtualBoard(echo_dir)
    try:
        port = serial.Serial(board.port, BAUD, timeout=0.05)
        port.write(b"x")
        assert _read(port, 1) == b"y"
        port.close()
        deadline = time.monotonic() + 10
        while board.running() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not board.running()
    finally:
        board.close()
    assert board.stats()["bytes_in"] == 1


def test_a_persistent_board_outlives_its_host(echo_dir):
    with VirtualBoard(echo_dir, persist=True) as board:
        for text in (b"ab", b"cd"):
            port = serial.Serial(board.port, BAUD, timeout=0.05)
            port.write(text)
            assert _read(port, 2) == bytes(b + 1 for b in text)
            port.close()
        assert board.running()
    assert board.stats()["bytes_in"] == 4


def test_an_idle_board_sleeps_until_the_host_writes(echo_dir):
    with VirtualBoard(echo_dir, idle_cycles=1000, persist=True) as board:
        time.sleep(0.3)
        port = serial.Serial(board.port, BAUD, timeout=0.05)
        port.write(b"a")
        assert _read(port, 1) == b"b"
        port.close()
        time.sleep(0.3)
    stats = board.stats()
    # 1000 idle cycles, the byte and its echo (19.5 bit times), 1000 idle cycles again:
    # however long the host took, simulated time stood still while it slept.
    assert stats["first_in_cycle"] == 1001
    assert 19 * 16 <= stats["last_out_cycle"] - stats["first_in_cycle"] <= 21 * 16
    assert 1000 <= stats["cycles"] - stats["last_out_cycle"] + 16 <= 1016


def test_stats_wait_for_the_simulator_to_stop(echo_dir):
    with VirtualBoard(echo_dir) as board:
        with pytest.raises(RuntimeError, match="still running"):
            board.stats()
    stats = board.stats()
    assert stats["exit_status"] == 0
    assert {"cycles", "bytes_in", "bytes_out", "corrupted_in", "corrupted_out", "dropped_in",
            "dropped_out", "first_in_cycle", "last_out_cycle"} <= set(stats)


def test_a_bad_probability_is_refused(echo_dir):
    with pytest.raises(ValueError, match="`corrupt` must be a probability between 0 and 1"):
        VirtualBoard(echo_dir, corrupt=1.5)


def test_a_link_top_needs_just_rx_and_tx(tmp_path):
    class Extra(Echo):
        led: Out(1)

    with pytest.raises(ValueError, match="only the ports `rx` and `tx`; found also `led`"):
        write_virtual_board(Extra(CLK_HZ, BAUD), tmp_path)


def test_device_options_parse_and_refuse():
    assert _options(None) == {}
    assert _options("corrupt=0.01,drop=0.001,seed=7") == {"corrupt": 0.01, "drop": 0.001,
                                                         "seed": 7}
    with pytest.raises(DeviceError, match="takes `corrupt=P`, `drop=P` and `seed=S`"):
        _options("noise=1")


# --- the imaging example's board ---------------------------------------------------------------


@pytest.fixture(scope="module")
def imaging(tmp_path_factory) -> Path:
    """Return the imaging bundle with its virtual board (the real link top level)."""
    return virtual_bundle(EXAMPLES / "imaging.py", tmp_path_factory.mktemp("bundle"))


def _exchange(port: serial.Serial, frames: list[bytes], *, window: int = 64,
              quiet: float = 0.5, seconds: float = 60.0) -> tuple[list, FrameDecoder]:
    """Send ``frames`` keeping at most ``window`` unanswered; return the frames received.

    A frame still unanswered when the line has been quiet for ``quiet`` seconds was lost
    (its request or its answer was damaged): it no longer counts in the window.
    """
    decoder = FrameDecoder()
    received, sent, lost = [], 0, 0
    deadline = time.monotonic() + seconds
    last = time.monotonic()
    while sent < len(frames) or len(received) + lost < sent:
        if time.monotonic() > deadline:
            break
        if sent < len(frames) and sent - len(received) - lost < window:
            upto = min(len(frames), len(received) + lost + window)
            port.write(b"".join(frames[sent:upto]))
            sent = upto
        data = port.read(max(1, port.in_waiting))
        now = time.monotonic()
        if data:
            received += decoder.feed(data)
            last = now
        elif now - last > quiet:
            lost = sent - len(received)
            last = now
    return received, decoder


def _random_requests(signature: dict, n: int, seed: int):
    """Return ``(kind, leaf values, body)`` of ``n`` random requests, routes interleaved."""
    rng = random.Random(seed)
    routes = signature["routes"]
    out = []
    for i in range(n):
        kind = i % len(routes)
        leaves = routes[kind]["request"]["leaves"]
        values = [rng.randrange(1 << leaf["width"]) for leaf in leaves]
        out.append((kind, values, pack_body(leaves, values)))
    return out


def test_responses_equal_the_software_model(imaging):
    signature = json.loads((imaging / "signature.json").read_text())
    model = model_from_ir(json.loads((imaging / "ir.json").read_text()))
    requests = _random_requests(signature, 300, seed=1)
    frames = [encode_frame(kind, tag, body) for tag, (kind, _, body) in enumerate(requests)]
    with VirtualBoard(imaging) as board:
        port = serial.Serial(board.port, BAUD, timeout=0.01)
        received, decoder = _exchange(port, frames)
        port.close()
    assert decoder.dropped == 0
    assert sorted(f.tag for f in received) == list(range(len(requests)))
    for frame in received:
        kind, values, _ = requests[frame.tag]
        route = signature["routes"][kind]
        assert frame.kind == kind
        assert len(frame.body) == payload_bytes(route["response"]["width"])
        inputs = dict(zip((leaf["path"] for leaf in route["request"]["leaves"]), values))
        want = model.route(route["path"]).run_leaves(inputs)
        got = unpack_body(route["response"]["leaves"], frame.body)
        assert got == [want[leaf["path"]] for leaf in route["response"]["leaves"]]
    # Each route answers in order.
    for kind in range(3):
        tags = [f.tag for f in received if f.kind == kind]
        assert tags == sorted(tags)
    stats = board.stats()
    assert stats["bytes_in"] == sum(map(len, frames))
    assert stats["dropped_in"] == stats["corrupted_out"] == stats["framing_errors"] == 0


def _status(port: serial.Serial, tag: int, tries: int = 20) -> tuple[Status, int]:
    """Ask for the status until an intact answer comes back; return it and the queries sent."""
    for query in range(1, tries + 1):
        received, _ = _exchange(port, [encode_frame(KIND_STATUS, tag)])
        for frame in received:
            if frame.kind == KIND_STATUS and frame.tag == tag:
                return Status.decode(frame.body), query
    raise AssertionError("the board never answered the status query intact")


def test_the_status_names_the_design(imaging):
    manifest = json.loads((imaging / "manifest.json").read_text())
    with VirtualBoard(imaging) as board:
        port = serial.Serial(board.port, BAUD, timeout=0.01)
        status, _ = _status(port, 0x1234)
        port.close()
    assert status.design_hash == bytes.fromhex(manifest["files"]["ir.json"])
    assert (status.n_routes, status.clock_khz, status.baud, status.window) == (3, 48_000, BAUD,
                                                                              64)
    assert (status.rx_frames, status.rx_dropped, status.tx_frames) == (1, 0, 0)


def test_a_corrupting_line_shows_in_the_status_counters(imaging):
    signature = json.loads((imaging / "signature.json").read_text())
    requests = _random_requests(signature, 600, seed=2)
    frames = [encode_frame(kind, tag, body) for tag, (kind, _, body) in enumerate(requests)]
    with VirtualBoard(imaging, corrupt=0.01, seed=5) as board:
        port = serial.Serial(board.port, BAUD, timeout=0.01)
        received, decoder = _exchange(port, frames)
        status, queries = _status(port, 0xFFFF)
        port.close()
    stats = board.stats()
    assert stats["corrupted_in"] > 0 and stats["corrupted_out"] > 0
    # CRC-16 catches every single-bit error. A flipped bit can also make or unmake an END, so
    # one damaged byte costs one or two frames, and changes the number of frames by one.
    assert 0 < status.rx_dropped <= 2 * stats["corrupted_in"]
    assert abs(status.rx_frames + status.rx_dropped - (len(frames) + queries)) \
        <= stats["corrupted_in"]
    # The line fell quiet before the last query: every other frame the board took was answered.
    assert status.tx_frames == status.rx_frames - 1
    assert 0 < decoder.dropped <= 2 * stats["corrupted_out"]
    assert len(received) < len(frames)


def test_the_virtual_device_equals_the_software_device(imaging):
    rng = random.Random(7)
    requests = [{"p": {"r": rng.randrange(256), "g": rng.randrange(256),
                       "b": rng.randrange(256)}} for _ in range(1000)]
    software = load(imaging, device="software")
    with load(imaging, device="virtual") as app:
        assert app.device.name == "virtual"
        for route in ("luma", "ycbcr", "grey"):
            got = app.route(route).batch(requests)
            want = software.route(route).batch(requests)
            # Each loaded bundle has its own record classes: compare the plain values.
            assert [_plain(v) for v in got] == [_plain(v) for v in want], route
        metrics = app.metrics()
        health = app.device.health()
    software.close()
    assert health["ok"] and health["rx_dropped"] == 0
    for path in ("/luma", "/ycbcr", "/grey"):
        rows = metrics["routes"][path]
        assert rows["virtual"]["requests"] == 1000, rows
        assert rows["virtual"]["fallbacks"] == 0


def test_the_virtual_device_recovers_from_a_corrupting_line(imaging):
    rng = random.Random(8)
    requests = [{"p": {"r": rng.randrange(256), "g": rng.randrange(256),
                       "b": rng.randrange(256)}} for _ in range(600)]
    software = load(imaging, device="software")
    with load(imaging, device="virtual:corrupt=0.003,seed=1") as app:
        got = app.route("ycbcr").batch(requests)
        device = app.device
        link = device.client.counters()
        metrics = app.metrics()
    assert [_plain(v) for v in got] == [_plain(v) for v in software.route("ycbcr").batch(requests)]
    software.close()
    # Damaged frames were resent, and the answers still came from the board.
    assert link["dropped"] > 0 and link["retries"] > 0
    assert metrics["routes"]["/ycbcr"]["virtual:corrupt=0.003,seed=1"]["fallbacks"] == 0
    stats = device.board.stats()
    assert stats["corrupted_in"] > 0 and stats["corrupted_out"] > 0


def test_the_driver_survives_one_corrupted_byte_in_a_hundred(imaging):
    # The driver with its defaults, as a serial port opens it, on the real link: requests are
    # lost several times in a row, status replies damaged half the time, and the simulated
    # line runs far slower than real time. None of it may end in a LinkError.
    with load(imaging, device="software") as software:
        data = BundleData(software.directory, software.manifest, software.model)
    route = data.model.route("/ycbcr")
    for seed in (1, 2, 3):
        rng = random.Random(seed)
        requests = [{"p": {"r": rng.randrange(256), "g": rng.randrange(256),
                           "b": rng.randrange(256)}} for _ in range(600)]
        columns = dict(zip(route.param_paths, route.signature.columns(requests)))
        with VirtualBoard(imaging, corrupt=0.01, seed=seed, persist=True) as board:
            device = BoardDevice.open(data, board.port, BAUD)
            try:
                got = device.run(route, columns)
                link = device.client.counters()
            finally:
                device.close()
        want = SoftwareDevice().run(route, columns)
        assert {p: c.tolist() for p, c in got.items()} == {p: c.tolist() for p, c in want.items()}
        assert link["retries"] > 0 and link["dropped"] > 0
        stats = board.stats()
        assert stats["corrupted_in"] > 0 and stats["corrupted_out"] > 0


def _plain(value):
    return value._asdict() if hasattr(value, "_asdict") else value


def test_the_virtual_device_needs_a_built_bundle(imaging, tmp_path):
    out = Path(shutil.copytree(imaging, tmp_path / "imaging"))
    shutil.rmtree(out / "virtual")
    manifest = json.loads((out / "manifest.json").read_text())
    finish_bundle(out, {k: manifest[k] for k in ("app", "target", "clock_mhz", "routes",
                                                 "records")})
    with pytest.raises(DeviceError, match="build the bundle with `fpgac build` first"):
        load(out, device="virtual")


# --- a line that drops bytes, on the real link: the lookup example's board ---------------------


@pytest.fixture(scope="module")
def lookup(tmp_path_factory) -> Path:
    """Return the lookup bundle with its virtual board (the real link top level)."""
    return virtual_bundle(EXAMPLES / "lookup.py", tmp_path_factory.mktemp("bundle"))


@pytest.mark.parametrize("options", ["drop=0.01,seed=21", "corrupt=0.005,drop=0.005,seed=22"])
def test_the_virtual_device_answers_exactly_over_a_dropping_line(lookup, options):
    # Requests through the driver, the UART bit stream, the frame receiver and the real cores
    # and back, while the line loses whole bytes (and flips bits, in the second case): every
    # answer must be the software model's, in order, one per request, none from the fallback.
    per_route = 600
    routes = json.loads((lookup / "ir.json").read_text())["routes"]
    rng = random.Random(options)
    device = f"virtual:{options}"
    with load(lookup, device="software") as software, \
            load(lookup, device=device, timeout=600.0, records=software.records) as app:
        assert app.device.name == device
        for route in routes:
            requests = [{p["name"]: random_value(p["type"], rng) for p in route["params"]}
                        for _ in range(per_route)]
            got = app.route(route["path"]).batch(requests)
            want = software.route(route["path"]).batch(requests)
            assert len(got) == len(want) == per_route, route["path"]
            wrong = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
            assert not wrong, (f"{route['path']}: {len(wrong)} of {per_route} responses "
                               f"differ, the first request {requests[wrong[0]]}: "
                               f"{got[wrong[0]]} != {want[wrong[0]]}")
        metrics = app.metrics()["routes"]
        health = app.device.health()
        link = app.device.client.counters()
        board = app.device.board
    stats = board.stats()
    for route in routes:
        rows = metrics[route["path"]]
        # Each request was answered once, by the board: none went to the software fallback.
        assert set(rows) == {device}, rows
        assert (rows[device]["requests"], rows[device]["fallbacks"], rows[device]["errors"]) \
            == (per_route, 0, 0), rows
    assert health["ok"], health
    # The line did lose bytes both ways (and flipped bits when asked to), nothing else.
    corrupting = "corrupt=" in options
    assert stats["dropped_in"] > 0 and stats["dropped_out"] > 0, stats
    assert (stats["corrupted_in"] > 0 and stats["corrupted_out"] > 0) == corrupting, stats
    if not corrupting:
        assert stats["corrupted_in"] == stats["corrupted_out"] == 0, stats
    assert stats["framing_errors"] == stats["overflow"] == 0, stats
    # Both ends saw the damaged frames and dropped them; the link resent what was lost. A lost
    # byte damages one frame (a lost END merges two into one bad frame); a flipped bit may
    # also make an END, splitting a frame into two bad ones.
    assert 0 < health["rx_dropped"] <= stats["dropped_in"] + 2 * stats["corrupted_in"], \
        (health, stats)
    assert 0 < link["dropped"] <= stats["dropped_out"] + 2 * stats["corrupted_out"], \
        (link, stats)
    assert link["retries"] > 0, link
    assert link["received"] >= len(routes) * per_route, link
