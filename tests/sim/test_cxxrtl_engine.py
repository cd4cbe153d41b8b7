"""The CXXRTL engine itself: its cache, its seeds, several jobs and streams, a stuck core."""

import os

import pytest
from sim_helpers import ICE40, example

from fpgac.backend import elaborate, generate_route, route_signature, simulate_stream
from fpgac.backend.sim import Job, build_cxxrtl, cache_dir, run_pysim
from fpgac.scheduling import schedule


def _luma_core(stages: int):
    route = example("imaging.py").route("/luma")
    sched = schedule(route.graph, model=ICE40, stages=stages)
    return elaborate(generate_route(route, sched)), route_signature(route, sched)


def test_a_second_build_comes_from_the_cache(tmp_path):
    # An explicit cache directory: moving XDG_CACHE_HOME would also move YoWASP's cache of
    # compiled yosys, and recompiling that takes a minute.
    cache = tmp_path / "sim"
    first = build_cxxrtl([_luma_core(2)[0]], cache=cache)
    assert not first.cached
    assert first.executable.parent.parent == cache
    built_at = os.stat(first.executable).st_mtime_ns
    second = build_cxxrtl([_luma_core(2)[0]], cache=cache)
    assert second.cached
    assert second.executable == first.executable
    assert os.stat(second.executable).st_mtime_ns == built_at
    # Another design is another entry; nothing is left behind from the builds.
    third = build_cxxrtl([_luma_core(3)[0]], cache=cache)
    assert not third.cached and third.executable != first.executable
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [first.executable.parent.name, third.executable.parent.name])
    # The cached model runs.
    assert second.run_stream([0x102030]).responses == first.run_stream([0x102030]).responses


def test_the_cache_lives_under_xdg_cache_home_or_the_home_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "fpgac" / "sim"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "fpgac" / "sim"


@pytest.fixture(scope="module")
def luma():
    core, signature = _luma_core(3)
    return build_cxxrtl([core]), core, signature


@pytest.mark.parametrize("seed", [0, 1, 2**32 - 1, 2**32, 2**40 + 5, 3**50])
def test_seeds_draw_as_python_does(luma, seed):
    # The same gaps and stalls as the backend's Amaranth testbench, for any seed: the
    # testbench's generator is Python's MT19937, seeded the same way.
    model, core, _ = luma
    requests = [k * 0x010203 & 0xFFFFFF for k in range(50)]
    ours = model.run_stream(requests, gap=0.4, stall=0.4, seed=seed)
    theirs = simulate_stream(core, requests, gap=0.4, stall=0.4, seed=seed)
    assert (ours.responses, ours.accepted_at, ours.answered_at, ours.cycles) == \
        (theirs.responses, theirs.accepted_at, theirs.answered_at, theirs.cycles)


def test_several_jobs_in_one_process_are_independent(luma):
    model, _, _ = luma
    a = [k * 7 for k in range(30)]
    b = [k * 11 + 5 for k in range(45)]
    alone = [model.run_stream(a, stall=0.3, seed=1), model.run_stream(b, gap=0.2, seed=2)]
    together = model.run([Job(a, stall=0.3, seed=1), Job(b, gap=0.2, seed=2)])
    for x, y in zip(alone, together):
        assert (x.responses, x.accepted_at, x.answered_at, x.cycles) == \
            (y.responses, y.accepted_at, y.answered_at, y.cycles)


def test_streams_of_one_model_serve_their_own_cores():
    luma_core, luma_sig = _luma_core(2)
    route = example("lookup.py").route("/sine")
    sched = schedule(route.graph, model=ICE40, stages=1)
    model = build_cxxrtl([luma_core, elaborate(generate_route(route, sched))])
    assert [s.in_width for s in model.streams] == [24, route_signature(route, sched)
                                                  ["request"]["width"]]
    requests = list(range(0, 256, 3))
    sine = model.run_stream(requests, stream=1, stall=0.2, seed=4)
    reference = run_pysim(elaborate(generate_route(route, sched)), requests, stall=0.2, seed=4)
    assert sine.responses == reference.responses
    assert model.run_stream([0], stream=0).responses == run_pysim(luma_core, [0]).responses


def test_a_stuck_core_is_reported():
    from amaranth.hdl import Module
    from amaranth.lib import stream, wiring
    from amaranth.lib.wiring import In, Out

    class Sink(wiring.Component):
        """Take every request and never answer."""

        i: In(stream.Signature(8))
        o: Out(stream.Signature(8))

        def elaborate(self, platform):
            m = Module()
            m.d.comb += self.i.ready.eq(1)
            return m

    model = build_cxxrtl([Sink()])
    with pytest.raises(AssertionError, match="stuck: 3 requests accepted, 0 answered"):
        model.run_stream([1, 2, 3], max_idle=100)


def test_bad_jobs_are_refused(luma):
    model, _, _ = luma
    with pytest.raises(ValueError, match="does not fit 24 bits"):
        model.run_stream([1 << 24])
    with pytest.raises(ValueError, match="`stall` must be a probability below 1"):
        model.run_stream([1], stall=1.0)
    with pytest.raises(ValueError, match="no stream 1"):
        model.run_stream([1], stream=1)
    with pytest.raises(ValueError, match="without waveform support"):
        model.run_stream([1], vcd="x.vcd")
