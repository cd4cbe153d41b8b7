"""Every example on the virtual board over a corrupting line: 10,000 requests, each exact.

Each example's bundle gets its board's link top level as a virtual board, as
`fpgac build` writes it (the app's cores, the link, the UART; CXXRTL behind a
pseudo-terminal). 10,000 random requests, spread evenly over the example's
routes, go through the runtime's ``virtual`` device while the line corrupts 1 %
of its bytes in each direction (one bit flipped per damaged byte). Every
response must equal the software model's, in order: none lost, none twice.
None may come from the software fallback, and the link's counters must show
that frames were damaged and requests resent.

The first run of an example also compiles its simulator (cached afterwards by
a hash of its C++): seconds for most, minutes for the largest designs.
"""

from __future__ import annotations

import json
import random
import time

import pytest
from virtual_helpers import EXAMPLES, random_value, virtual_bundle

from fpgac.runtime import load
from fpgac.runtime._virtual import build_simulator

NAMES = sorted(path.stem for path in EXAMPLES.glob("*.py"))
#: Requests per example, and the share of line bytes the line corrupts.
REQUESTS = 10_000
CORRUPT = 0.01
#: Seconds one device call (a chunk of 4096 requests) may take: the simulated board runs 25
#: to 100 times slower than a real one, slower still on a busy machine.
CALL_TIMEOUT = 1800.0


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_an_example_answers_exactly_over_a_corrupting_line(name, tmp_path):
    start = time.perf_counter()
    bundle = virtual_bundle(EXAMPLES / f"{name}.py", tmp_path)
    build_simulator(bundle)  # the one-time C++ build, timed apart from the run
    built = time.perf_counter()
    routes = json.loads((bundle / "ir.json").read_text())["routes"]
    rng = random.Random(name)
    shares = [REQUESTS // len(routes) + (k < REQUESTS % len(routes))
              for k in range(len(routes))]
    device = f"virtual:corrupt={CORRUPT},seed={NAMES.index(name) + 1}"
    with load(bundle, device="software") as software, \
            load(bundle, device=device, timeout=CALL_TIMEOUT, records=software.records) as app:
        assert app.device.name == device
        for route, n in zip(routes, shares):
            requests = [{p["name"]: random_value(p["type"], rng) for p in route["params"]}
                        for _ in range(n)]
            got = app.route(route["path"]).batch(requests)
            want = software.route(route["path"]).batch(requests)
            assert len(got) == n
            wrong = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
            assert not wrong, (f"{route['path']}: {len(wrong)} of {n} responses differ, the first "
                               f"request {requests[wrong[0]]}: {got[wrong[0]]} != {want[wrong[0]]}")
        metrics = app.metrics()["routes"]
        link = app.device.client.counters()
        board = app.device.board
    stats = board.stats()
    done = time.perf_counter()
    for route, n in zip(routes, shares):
        rows = metrics[route["path"]]
        # Every request was answered by the board; none fell back to the software model.
        assert set(rows) == {device}, rows
        assert (rows[device]["requests"], rows[device]["fallbacks"], rows[device]["errors"]) == \
            (n, 0, 0), rows
    # The line did damage frames both ways, and the link resent what was lost.
    assert stats["corrupted_in"] > 0 and stats["corrupted_out"] > 0, stats
    assert link["dropped"] > 0 and link["retries"] > 0, link
    print(f"\n{name}: {len(routes)} routes, {REQUESTS} requests; bundle and simulator "
          f"{built - start:.1f} s, run {done - built:.1f} s; link {link}; line: "
          f"{stats['corrupted_in']} bytes corrupted in, {stats['corrupted_out']} out, "
          f"{stats['cycles'] / stats['seconds'] / 1e6:.2f} M cycles/s")
