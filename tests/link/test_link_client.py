"""LinkClient against the fake board: exact results in order, through loss, damage and delay."""

from __future__ import annotations

import random
from collections import deque

import pytest
from fake_board import FakeBoard, Line, MemoryPort
from hypothesis import given, settings
from hypothesis import strategies as st

from fpgac.runtime import DeviceError
from fpgac.runtime._framing import KIND_STATUS, FrameDecoder, encode_frame
from fpgac.runtime._link import LinkClient, LinkError


def client_for(board, *, up=None, down=None, **options) -> tuple[LinkClient, MemoryPort]:
    port = MemoryPort(board, up=up, down=down)
    client = LinkClient(port, board.app.leaves(), design_hash=board.app.design_hash,
                        clock=port.clock, **options)
    return client, port


def sent_frames(port: MemoryPort) -> list[tuple[int, int]]:
    """Return ``(kind, tag)`` of every frame the client wrote, in order."""
    decoder = FrameDecoder()
    return [(f.kind, f.tag) for f in decoder.feed(b"".join(port.written))]


def test_requests_of_every_route_come_back_exact_and_in_order(board_app):
    board = FakeBoard(board_app, window=8)
    client, port = client_for(board)
    status = client.connect()
    assert (status.n_routes, status.window, status.design_hash) == (3, 8, board_app.design_hash)
    assert client.window == 8
    rng = random.Random(5)
    for kind in range(3):
        bodies = board_app.random_bodies(kind, 300, rng)
        assert client.run(kind, bodies) == board_app.compute(kind, bodies)
    assert client.counters() == {"sent": 901, "received": 901, "retries": 0, "timeouts": 0,
                                 "probes": 0, "dropped": 0, "duplicates": 0, "unexpected": 0}
    assert board.overflows == 0
    # Tags cycle: no tag is used twice while it may still be answered.
    tags = [tag for _, tag in sent_frames(port)]
    assert tags == list(range(901))


def test_the_window_is_never_exceeded(board_app):
    board = FakeBoard(board_app, window=4, hold=0.7, seed=1)
    client, _ = client_for(board, window=10)
    client.connect()
    assert client.window == 4  # capped by the board's own window
    bodies = board_app.random_bodies(0, 200, random.Random(1))
    assert client.run(0, bodies) == board_app.compute(0, bodies)
    assert board.overflows == 0 and client.resent == 0


def test_an_empty_run_sends_nothing(board_app):
    client, port = client_for(FakeBoard(board_app))
    client.connect()
    before = len(port.written)
    assert client.run(1, []) == [] and len(port.written) == before


def test_a_body_of_the_wrong_length_is_refused(board_app):
    client, _ = client_for(FakeBoard(board_app))
    with pytest.raises(ValueError, match=r"^request 1 of route kind 0 has 2 body bytes, not 3$"):
        client.run(0, [b"abc", b"ab"])
    with pytest.raises(ValueError, match=r"route kind 3 is not one of the board's 3 routes"):
        client.run(3, [])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       corrupt=st.sampled_from([0.0, 0.001, 0.004, 0.01]),
       drop=st.sampled_from([0.0, 0.001, 0.004, 0.01]),
       duplicate=st.sampled_from([0.0, 0.1, 0.5]),
       hold=st.sampled_from([0.0, 0.3, 0.8]),
       reorder=st.booleans(),
       window=st.sampled_from([1, 3, 16]),
       kinds=st.lists(st.integers(0, 2), min_size=1, max_size=4),
       sizes=st.lists(st.integers(0, 60), min_size=4, max_size=4))
def test_a_damaged_line_still_gives_exact_results_in_order(
        board_app, seed, corrupt, drop, duplicate, hold, reorder, window, kinds, sizes):
    board = FakeBoard(board_app, window=window, duplicate=duplicate, hold=hold,
                      reorder=reorder, seed=seed)
    client, _ = client_for(board, up=Line(corrupt=corrupt, drop=drop, seed=seed + 1),
                           down=Line(corrupt=corrupt, drop=drop, seed=seed + 2), retries=60)
    rng = random.Random(seed)
    for kind, n in zip(kinds, sizes):
        bodies = board_app.random_bodies(kind, n, rng)
        # Every request answered exactly once, by its own response, in request order.
        assert client.run(kind, bodies) == board_app.compute(kind, bodies)
    assert board.overflows == 0
    if not (corrupt or drop or duplicate):
        assert client.resent == client.duplicates == client.dropped == 0


def test_every_duplicate_is_dropped_and_counted(board_app):
    board = FakeBoard(board_app, duplicate=1.0)
    client, _ = client_for(board)
    client.connect()
    bodies = board_app.random_bodies(2, 100, random.Random(2))
    assert client.run(2, bodies) == board_app.compute(2, bodies)
    assert client.duplicates >= 100 and client.resent == 0


def test_damaged_responses_are_counted_and_resent(board_app):
    board = FakeBoard(board_app)
    client, _ = client_for(board, down=Line(corrupt=0.05, seed=3), retries=30)
    client.connect()
    bodies = board_app.random_bodies(1, 200, random.Random(3))
    assert client.run(1, bodies) == board_app.compute(1, bodies)
    assert client.dropped > 0 and client.resent >= client.dropped - 1


def test_a_board_that_stops_answering_raises_after_the_retries(board_app):
    board = FakeBoard(board_app)
    client, port = client_for(board, retries=3, timeout=0.5)
    client.connect()
    board.mute = {0, KIND_STATUS}  # the board sends nothing more, not even to its probes
    start = port.clock.now
    with pytest.raises(LinkError, match=r"^the board did not answer request 0 of route kind 0 "
                                        r"after 4 attempts, and sent nothing at all during the "
                                        r"last 4 \(timeouts from 0\.5 s, doubling\); link "
                                        r"counters: \{'sent': 24, 'received': 1, 'retries': 15, "
                                        r"'timeouts': 15, 'probes': 3, "):
        client.run(0, board_app.random_bodies(0, 5, random.Random(4)))
    assert isinstance(LinkError("x"), DeviceError)
    # Each timeout in silence is twice the one before.
    assert 0.5 + 1 + 2 + 4 <= port.clock.now - start < 0.5 + 1 + 2 + 4 + 0.2
    # The link works again once the board answers.
    board.mute.clear()
    bodies = board_app.random_bodies(0, 40, random.Random(6))
    assert client.run(0, bodies) == board_app.compute(0, bodies)


def test_a_route_that_never_answers_raises_after_the_attempts(board_app):
    board = FakeBoard(board_app, mute={0})  # the board still answers its status queries
    client, port = client_for(board, retries=1, max_attempts=6, timeout=0.5)
    client.connect()
    start = port.clock.now
    with pytest.raises(LinkError, match=r"^the board did not answer request 0 of route kind 0 "
                                        r"after 6 attempts, while it answered others: the line "
                                        r"loses too many frames, or the board never answers "
                                        r"this request; link counters: "):
        client.run(0, board_app.random_bodies(0, 5, random.Random(4)))
    # A timeout in silence sends a probe and doubles the next wait; the probe's reply shows the
    # board alive, so the timeout after it is not one in silence.
    assert 3 * (0.5 + 1) <= port.clock.now - start < 3 * (0.5 + 1) + 0.2
    assert client.probes == 3 and client.last_status.rx_frames > 1
    # The link still works for the other routes, and for this one once the board answers.
    bodies = board_app.random_bodies(1, 40, random.Random(5))
    assert client.run(1, bodies) == board_app.compute(1, bodies)
    board.mute.clear()
    bodies = board_app.random_bodies(0, 40, random.Random(6))
    assert client.run(0, bodies) == board_app.compute(0, bodies)


def test_a_late_answer_is_never_taken_for_another_request(board_app):
    # Route 0's answers are held back until the client gives up on them.
    board = FakeBoard(board_app, stall={0}, window=8)
    client, port = client_for(board, max_attempts=3, timeout=0.5)
    client.connect()
    with pytest.raises(LinkError):
        client.run(0, board_app.random_bodies(0, 3, random.Random(7)))
    held = {tag for kind, tag in sent_frames(port) if kind == 0}
    assert len(held) >= 3 and len(board.stalled) == len(held)
    # Steer the tag counter right onto the held tags: they must be skipped, not reused.
    client._next_tag = (min(held) - 2) % 65536
    first = len(port.written)
    bodies = board_app.random_bodies(0, 50, random.Random(8))
    board.release()  # the late answers now arrive among the new ones, with their old tags
    assert client.run(0, bodies) == board_app.compute(0, bodies)
    new_tags = [f.tag for f in FrameDecoder().feed(b"".join(port.written[first:]))]
    assert not held & set(new_tags) and len(new_tags) == len(set(new_tags))
    assert client.duplicates == len(held)


def test_a_lost_status_query_is_sent_again(board_app):
    class LoseFirst(Line):
        def carry(self, data):
            self.damaged += 1
            return b"" if self.damaged == 1 else data

    client, port = client_for(FakeBoard(board_app), up=LoseFirst())
    assert client.status().window == 16
    assert [kind for kind, _ in sent_frames(port)] == [KIND_STATUS, KIND_STATUS]
    assert client.resent == 1


def test_a_board_with_another_design_is_refused(board_app):
    board = FakeBoard(board_app, design_hash=bytes(32))
    client, _ = client_for(board)
    with pytest.raises(LinkError, match=r"^the board carries another design \(ir\.json hash "
                                        r"0000000000000000…\), not this bundle's \([0-9a-f]{16}…\);"
                                        r" build and program it with `fpgac build`$"):
        client.connect()


def test_a_board_with_other_routes_is_refused(board_app):
    client, _ = client_for(FakeBoard(board_app, n_routes=2))
    with pytest.raises(LinkError, match=r"^the board has 2 routes, the bundle 3$"):
        client.connect()


def test_a_device_that_is_not_a_board_is_refused(board_app):
    class Impostor(FakeBoard):
        def receive(self, data):
            for frame in self.decoder.feed(data):
                self.queues.setdefault(frame.kind, deque()).append(
                    encode_frame(frame.kind, frame.tag, bytes(60)))
                self.order.append(frame.kind)

    client, _ = client_for(Impostor(board_app))
    with pytest.raises(LinkError, match=r"^the device on the port is not an fpgac board: a "
                                        r"status body starts with b'FPGC', not b'\\x00"):
        client.connect()


def test_a_failing_port_raises_a_link_error(board_app):
    client, port = client_for(FakeBoard(board_app))
    client.connect()
    port.unplugged = True
    with pytest.raises(LinkError, match=r"^writing to the board's port failed: \[Errno 5\]"):
        client.run(0, board_app.random_bodies(0, 3, random.Random(9)))
    client.close()
    client.close()
    assert port.closed


# --- the damage of a real line: regressions ----------------------------------------------------


def flipping_client(board, seed: int, p: float = 0.01, **options):
    """Return a client and port whose line flips one bit of a byte with probability ``p``."""
    return client_for(board, up=Line(flip=p, seed=2 * seed + 1),
                      down=Line(flip=p, seed=2 * seed + 2), **options)


@pytest.mark.parametrize("kind", [0, 1, 2])
def test_a_line_flipping_bits_in_one_byte_of_a_hundred_loses_nothing(board_app, kind):
    # The virtual board's damage, with its window and the default retries: a frame and its
    # answer are lost one time in six for the smallest route, one in three for the widest, so
    # a request is often lost several times in a row. That is noise, not a dead board.
    for seed in range(12):
        board = FakeBoard(board_app, window=64, seed=seed)
        client, _ = flipping_client(board, seed)
        bodies = board_app.random_bodies(kind, 600, random.Random(seed))
        assert client.run(kind, bodies) == board_app.compute(kind, bodies)
        assert client.resent > 0 and client.dropped > 0 and board.overflows == 0


def test_the_status_query_survives_a_corrupting_line(board_app):
    # Its 60-byte answer is damaged about half the time at 1 % of bytes: giving up after five
    # losses in a row failed one connection in 25.
    for seed in range(150):
        client, port = flipping_client(FakeBoard(board_app, seed=seed), seed)
        assert client.connect().design_hash == board_app.design_hash
    assert client.resent > 0 or client.dropped == 0


def test_the_window_holds_through_damage_and_status_queries(board_app):
    board = FakeBoard(board_app, window=4, hold=0.5, seed=21)
    client, _ = flipping_client(board, 21, p=0.02)
    rng = random.Random(21)
    for kind in (0, 1, 2, 0):
        bodies = board_app.random_bodies(kind, 150, rng)
        assert client.run(kind, bodies) == board_app.compute(kind, bodies)
        assert client.status().window == 4
    assert board.overflows == 0 and client.resent > 0


class LoseFrames(Line):
    """Lose whole frames: the ``n``-th frame carried (counting from 0) when ``n`` is in ``lose``."""

    def __init__(self, lose: set[int]):
        super().__init__()
        self.lose = lose
        self.frames = 0

    def carry(self, data: bytes) -> bytes:
        out = []
        for piece in data.split(b"\xc0")[:-1]:
            if self.frames not in self.lose:
                out.append(piece + b"\xc0")
            self.frames += 1
        return b"".join(out)


def test_a_lost_tail_is_resent_after_its_timeout(board_app):
    # The last two requests, then their first resends, are lost on the way in: nothing later
    # proves them lost, and the board falls silent with the client waiting.
    client, port = client_for(FakeBoard(board_app, window=8),
                              up=LoseFrames({1 + 38, 1 + 39, 1 + 40, 1 + 41}), timeout=0.5)
    client.connect()
    bodies = board_app.random_bodies(0, 40, random.Random(22))
    start = port.clock.now
    assert client.run(0, bodies) == board_app.compute(0, bodies)
    assert client.timeouts == 4 and client.resent == 4
    # Answers to the requests before them came after they went out, so the first timeout did
    # not pass in silence; the second did, and sent a probe.
    assert client.probes == 1
    assert 0.5 + 0.5 <= port.clock.now - start < 0.5 + 0.5 + 0.1


def test_a_slow_board_lengthens_the_timeout(board_app):
    # Answers take 2 s, eight timeouts: as a board simulated far slower than real time.
    board = FakeBoard(board_app, window=16)
    client, port = client_for(board, timeout=0.25)
    port.delay = 2.0
    client.connect()  # its status query times out until the first answer comes
    assert client.current_timeout >= 2 * 2.0
    before = client.counters()
    bodies = board_app.random_bodies(1, 400, random.Random(23))
    assert client.run(1, bodies) == board_app.compute(1, bodies)
    after = client.counters()
    assert [after[k] - before[k] for k in ("timeouts", "retries")] == [0, 0]
    # Only late answers to the status query's resends came twice.
    assert after["duplicates"] - before["duplicates"] <= before["retries"]


def test_a_board_that_pauses_is_waited_for(board_app):
    board = FakeBoard(board_app, window=16)
    client, port = client_for(board, timeout=0.25)
    client.connect()
    bodies = board_app.random_bodies(0, 200, random.Random(24))
    # Silent for 5 s mid-run: 20 timeouts, but each one in silence doubles the next.
    port.quiet_until = port.clock.now + 5.0
    assert client.run(0, bodies) == board_app.compute(0, bodies)
    assert client.timeouts >= 4 * 16
