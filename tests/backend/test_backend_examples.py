"""Every example route as a pipelined core, simulated against the software model.

Requests are random (extremes included); the producer idles at random and the
consumer stalls at random, so every register holds data through stalls. Every
response must equal the IR interpreter's on the optimized IR, bit for bit, in
order, none lost or duplicated.
"""

import zlib

import pytest
from harness import build_core, check_core, example, example_routes, random_requests

from fpgac.backend import elaborate, generate_route, route_signature

#: Routes with this many nodes or more take seconds to simulate: the long runs are slow.
BIG = 300

ROUTES = example_routes()


def _params(big_marks):
    out = []
    for file, path in ROUTES:
        big = len(example(file).route(path).graph) >= BIG
        marks = [pytest.mark.slow] if big and big_marks else []
        out.append(pytest.param(file, path, id=f"{file}:{path}", marks=marks))
    return out


def _stages(route) -> int:
    # Deep routes get more stages, as a real schedule would give them; it also keeps
    # each stage shallow, which is what the Python simulator's speed depends on.
    return 3 if len(route.graph) < BIG else 40


@pytest.mark.parametrize("file, path", _params(big_marks=True))
def test_route_matches_the_model_under_gaps_and_stalls(file, path):
    route = example(file).route(path)
    component, signature, _ = build_core(route, _stages(route))
    requests = random_requests(route, 200, seed=zlib.crc32(path.encode()))
    result = check_core(route, component, signature, requests, gap=0.3, stall=0.3, seed=7)
    # Stalls really happened: the run took longer than at full rate.
    assert result.cycles > len(requests) + signature["latency"]


@pytest.mark.parametrize("file, path", [("crc.py", "/crc32"), ("crc.py", "/crc32_prefix")])
def test_big_route_matches_the_model_on_a_few_requests(file, path):
    route = example(file).route(path)
    component, signature, _ = build_core(route, _stages(route))
    requests = random_requests(route, 12, seed=1)
    check_core(route, component, signature, requests, gap=0.3, stall=0.3, seed=3)


@pytest.mark.parametrize("n_stages", [0, 1, 4])
@pytest.mark.parametrize("file, path", [("imaging.py", "/ycbcr"), ("lookup.py", "/sine"),
                                        ("fixedpoint.py", "/fir4"), ("bitpack.py",
                                                                     "/base64_decode")])
def test_full_rate_n_requests_take_n_plus_latency_cycles(file, path, n_stages):
    route = example(file).route(path)
    component, signature, _ = build_core(route, n_stages)
    requests = random_requests(route, 40, seed=5)
    result = check_core(route, component, signature, requests, gap=0.0, stall=0.0, seed=5)
    assert signature["latency"] == n_stages
    assert signature["initiation_interval"] == 1
    # One request accepted on every edge, each answered exactly `latency` edges later.
    assert result.accepted_at == list(range(1, len(requests) + 1))
    assert result.answered_at == [k + n_stages for k in result.accepted_at]
    assert result.cycles == len(requests) + n_stages


@pytest.mark.parametrize("file, path", [("imaging.py", "/luma"), ("hashing.py", "/murmur3_32"),
                                        ("ipv4.py", "/checksum"), ("lookup.py", "/crc8"),
                                        ("saturating.py", "/mul_q15")])
@pytest.mark.parametrize("stages", [2, 5])
def test_cores_from_the_real_scheduler(file, path, stages):
    from fpgac.scheduling import DelayModel, schedule

    route = example(file).route(path)
    sched = schedule(route.graph, model=DelayModel.load("ice40"), stages=stages)
    component = elaborate(generate_route(route, sched))
    signature = route_signature(route, sched)
    assert signature["latency"] == stages
    check_core(route, component, signature, random_requests(route, 80, seed=2),
               gap=0.25, stall=0.25, seed=2)


def test_an_app_core_serves_every_route_on_its_own_streams():
    from fpgac.backend import (
        app_signature,
        generate_app,
        pack_leaves,
        simulate_stream,
        unpack_leaves,
    )
    from fpgac.backend._simple_schedule import asap_schedule
    from fpgac.ir import interpret

    program = example("imaging.py")
    schedules = {r.path: asap_schedule(r.graph, k + 1) for k, r in enumerate(program.routes)}
    signature = app_signature(program, schedules)
    for route, route_sig in zip(program.routes, signature["routes"]):
        component = elaborate(generate_app(program, schedules))
        requests = random_requests(route, 40, seed=9)
        bits = [pack_leaves(route_sig["request"]["leaves"], r) for r in requests]
        result = simulate_stream(component, bits, gap=0.2, stall=0.2, seed=9,
                                 i=f"{route.name}_i", o=f"{route.name}_o")
        got = [unpack_leaves(route_sig["response"]["leaves"], b) for b in result.responses]
        assert got == [interpret(route.graph, r) for r in requests]
        assert route_sig["ports"]["i"]["payload"] == f"{route.name}_i__payload"


def test_a_stalled_output_holds_its_response_and_stops_the_input():
    from amaranth.hdl import Value
    from amaranth.sim import Simulator

    route = example("imaging.py").route("/luma")
    component, signature, _ = build_core(route, 3)
    trace = []

    async def bench(ctx):
        ctx.set(component.o.ready, 0)
        ctx.set(component.i.valid, 1)
        for cycle in range(20):
            ctx.set(Value.cast(component.i.payload), cycle * 0x010203)
            _, _, accepted, valid, payload = await ctx.tick().sample(
                component.i.ready, component.o.valid, Value.cast(component.o.payload))
            trace.append((accepted, valid, payload))

    sim = Simulator(component)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    # The pipeline fills (3 requests), then the output waits with valid high and its
    # payload held, and the input is refused until the output is read.
    assert [t[0] for t in trace] == [1, 1, 1] + [0] * 17
    assert [t[1] for t in trace] == [0, 0, 0] + [1] * 17
    assert len({t[2] for t in trace[3:]}) == 1
