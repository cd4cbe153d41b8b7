"""Every example route: the software model, the Amaranth simulation and CXXRTL agree.

Each example core (over 0 to 5 stages) answers random requests, extremes
included, while the producer idles and the consumer stalls at random. The
CXXRTL engine's responses must equal the software model's and the IR
interpreter's bit for bit, in order; and with the same seed, the Amaranth
simulation (through fpgac's harness and through the backend's own) must show
the same responses on the same clock edges.
"""

import pytest
from sim_helpers import example, example_cores, example_routes, is_big, seed_of

from fpgac.backend import elaborate, simulate_stream
from fpgac.ir import interpret
from fpgac.simulate import SimCore, random_requests

ROUTES = example_routes()


def _params(slow_big: bool):
    out = []
    for file, path in ROUTES:
        big = is_big(example(file).route(path))
        marks = [pytest.mark.slow] if big and slow_big else []
        out.append(pytest.param(file, path, id=f"{file}:{path}", marks=marks))
    return out


@pytest.mark.parametrize("file, path", _params(slow_big=False))
def test_cxxrtl_matches_the_model_under_gaps_and_stalls(file, path):
    core = example_cores()[(file, path)]
    route = core.route
    requests = random_requests(route, 300, seed=seed_of(path))
    result = core.run(requests, gap=0.3, stall=0.3, seed=seed_of(path) + 1)
    assert result.mismatches == []
    assert len(result.response_leaves) == len(requests)
    # The reference of the check is the runtime's model; the IR interpreter agrees directly.
    assert result.response_leaves[:25] == [interpret(route.graph, r) for r in requests[:25]]
    # Gaps and stalls really happened.
    assert result.cycles > len(requests) + result.latency


@pytest.mark.parametrize("file, path", _params(slow_big=True))
def test_cxxrtl_and_amaranth_agree_edge_for_edge(file, path):
    cxx = example_cores()[(file, path)]
    route = cxx.route
    n = 8 if is_big(route) else 40
    requests = random_requests(route, n, seed=seed_of(path) + 2)
    seed = seed_of(path) + 3
    fast = cxx.run(requests, gap=0.35, stall=0.35, seed=seed)
    slow = SimCore(route, cxx.schedule, engine="amaranth").run(requests, gap=0.35, stall=0.35,
                                                                seed=seed)
    assert slow.mismatches == [] and fast.mismatches == []
    assert fast.response_leaves == slow.response_leaves
    assert (fast.cycles, fast.accepted_at, fast.answered_at) == \
        (slow.cycles, slow.accepted_at, slow.answered_at)
    # The backend's own testbench, written independently, sees the same trace.
    bits = [cxx.pack(cxx.leaves(r)) for r in requests]
    theirs = simulate_stream(elaborate(cxx.source), bits, gap=0.35, stall=0.35, seed=seed)
    assert [cxx.unpack(b) for b in theirs.responses] == fast.response_leaves
    assert (theirs.cycles, theirs.accepted_at, theirs.answered_at) == \
        (fast.cycles, fast.accepted_at, fast.answered_at)


def test_the_example_cores_cover_every_depth():
    depths = {core.latency for core in example_cores().values()}
    assert depths == {0, 1, 2, 3, 5}
