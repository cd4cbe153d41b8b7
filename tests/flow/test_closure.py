"""Timing closure: a route on a path that routed too slow is scheduled for a faster clock.

The full loop (build, miss, reschedule, build again) runs in the slow board builds
(`test_board_build.py`, imaging on the iCEBreaker) and in `benchmarks/bench_boards.py`;
these tests check each piece on its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from fpgac.backend.board.platforms import board
from fpgac.build import (
    CLOSURE_GROWTH,
    CLOSURE_MARGIN,
    _critical_path,
    _faster_clock,
    _schedule_layout,
)
from fpgac.bundle import route_clocks, write_bundle
from fpgac.driver import compile_file, optimize
from fpgac.runtime import read_manifest
from fpgac.scheduling import DelayModel, schedule_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def imaging():
    return optimize(compile_file(EXAMPLES / "imaging.py"))


def _build(routes: list[str], achieved: float, asked: float = 48.0) -> dict:
    return {"critical_path": {"routes": routes},
            "clocks": {"clk": {"constraint_mhz": asked, "achieved_mhz": achieved}}}


def test_a_route_clock_schedules_that_route_alone_faster(imaging):
    model = DelayModel.load("ice40")
    graphs = {r.path: r.graph for r in imaging.routes}
    base = schedule_app(graphs, model=model, clock_mhz=48.0)
    faster = schedule_app(graphs, model=model, clock_mhz=48.0, route_clocks={"/luma": 70.0})
    assert faster["/luma"].clock_mhz == 70.0
    assert faster["/luma"].n_stages > base["/luma"].n_stages
    for path in graphs:
        if path != "/luma":
            assert faster[path].clock_mhz == 48.0
            assert faster[path].n_stages == base[path].n_stages


def test_the_bundle_records_route_clocks_and_the_build_reads_them_back(tmp_path, imaging):
    out = tmp_path / "imaging"
    write_bundle(imaging, out, target="ice40", clock_mhz=48.0, route_clocks={"/luma": 60.0})
    manifest = read_manifest(out)
    assert route_clocks(out, manifest) == {"/luma": 60.0}
    report = json.loads((out / "report.json").read_text())
    assert {r["path"]: r["scheduled_mhz"] for r in report["routes"]}["/grey"] == 48.0


def test_the_route_on_the_slow_path_gets_a_clock_scaled_by_the_miss(tmp_path, imaging):
    out = tmp_path / "imaging"
    write_bundle(imaging, out, target="ice40", clock_mhz=48.0)
    manifest = read_manifest(out)
    icebreaker = board("icebreaker")
    name = next(r["name"] for r in manifest["routes"] if r["path"] == "/luma")
    path, mhz = _faster_clock(out, manifest, icebreaker, _build([name], 40.0), {})
    assert path == "/luma" and mhz == pytest.approx(48.0 * 48.0 / 40.0 * CLOSURE_MARGIN, abs=0.01)
    # Already scheduled faster once: the next clock starts from that one.
    _, again = _faster_clock(out, manifest, icebreaker, _build([name], 46.0), {"/luma": 60.0})
    assert again == pytest.approx(60.0 * 48.0 / 46.0 * CLOSURE_MARGIN, abs=0.01)
    # /luma has one schedule from 50 to 56 MHz: a miss of 2% would build it again as it
    # is, so the clock is raised until its schedule changes.
    scaled = 50.0 * 48.0 / 47.0 * CLOSURE_MARGIN
    _, raised = _faster_clock(out, manifest, icebreaker, _build([name], 47.0), {"/luma": 50.0})
    graphs = {r.path: r.graph for r in imaging.routes}
    model = DelayModel.load("ice40")

    def layout(mhz: float) -> tuple:
        return _schedule_layout(schedule_app(graphs, model=model, clock_mhz=48.0,
                                             route_clocks={"/luma": mhz})["/luma"])

    assert layout(scaled) == layout(50.0)
    assert raised > scaled and layout(raised) != layout(50.0)
    assert layout(raised / CLOSURE_MARGIN) == layout(50.0)  # the first clock that does
    # A path that starts in one route and ends in another's register (synthesis shared
    # their logic): the route whose stage it ends is sped up.
    names = {r["path"]: r["name"] for r in manifest["routes"]}
    ends_in_grey = {"critical_path": {"routes": [names["/luma"], names["/grey"]],
                                      "to": f"link.app.{names['/grey']}.v9_s2"},
                    "clocks": {"clk": {"constraint_mhz": 48.0, "achieved_mhz": 46.0}}}
    assert _faster_clock(out, manifest, icebreaker, ends_in_grey, {})[0] == "/grey"
    # A path through the host link alone: no route to speed up.
    assert _faster_clock(out, manifest, icebreaker, _build([], 40.0), {}) is None
    # A clock more than twice the asked one: the model is not that far off; none.
    assert _faster_clock(out, manifest, icebreaker, _build([name], 20.0), {}) is None
    # No clock reported at all: none, and no crash.
    assert _faster_clock(out, manifest, icebreaker, {"critical_path": {"routes": [name]},
                                                     "clocks": {}}, {}) is None


def test_a_bundle_that_cannot_be_rescheduled_is_left_as_it_was(tmp_path, imaging):
    from fpgac.frontend.diagnostics import FpgacError

    out = tmp_path / "imaging"
    write_bundle(imaging, out, target="ice40", clock_mhz=48.0)
    before = read_manifest(out)["bundle_hash"]
    with pytest.raises(FpgacError):  # no adder is that fast
        write_bundle(imaging, out, target="ice40", clock_mhz=48.0, route_clocks={"/luma": 900})
    assert read_manifest(out)["bundle_hash"] == before


def test_the_critical_path_names_the_routes_it_runs_through():
    source = ("class LumaCore(wiring.Component):\n"
              "        # v12: u16 = add(v3, v4)  imaging.py:31:12\n"
              "class ImagingApp(wiring.Component):\n"
              "        m.submodules.luma = luma_core = LumaCore()\n")
    nextpnr = {"critical_paths": [{"path": [
        {"from": {"cell": "link.queue.mem_SB_RAM"}, "to": {"cell": "link.app.luma.v12_SB_LUT4"},
         "net": "link.app.luma.v12", "delay": 3.0}]}]}
    path = _critical_path(nextpnr, source)
    assert path["routes"] == ["luma"] and path["source_lines"] == ["imaging.py:31"]
    # A register of the value (`v12_s3`) and the core's output register name it too.
    nextpnr = {"critical_paths": [{"path": [
        {"from": {"cell": "link.app.luma.v12_s3_SB_DFFE"},
         "to": {"cell": "link.app.luma.o__payload_SB_DFFESR"},
         "net": "link.app.luma.v12_s3[4]", "delay": 3.0}]}]}
    path = _critical_path(nextpnr, source)
    assert path["routes"] == ["luma"] and path["source_lines"] == ["imaging.py:31"]
    # A one-stage core's registers can take the app's names: its input port names it,
    # and an output register with no route in its name does not.
    nextpnr = {"critical_paths": [{"path": [
        {"from": {"cell": "link.app.crc32_prefix_i__payload_TRELLIS_FF"},
         "to": {"cell": "link.app.o__payload_TRELLIS_FF_Q_21"},
         "net": "link.app.crc32_prefix_i__payload[100]", "delay": 3.0}]}]}
    path = _critical_path(nextpnr, source)
    assert path["routes"] == ["crc32_prefix"] and path["to"] == "link.app.o__payload"


def test_a_clock_no_schedule_meets_is_bisected_against_one_that_changes_nothing(
        tmp_path, imaging, monkeypatch):
    import fpgac.build
    import fpgac.scheduling
    from fpgac.frontend.diagnostics import FpgacError

    class NoSchedule(FpgacError):
        def __init__(self):
            Exception.__init__(self, "no schedule meets the clock")

    out = tmp_path / "imaging"
    write_bundle(imaging, out, target="ice40", clock_mhz=48.0)
    manifest = read_manifest(out)
    name = next(r["name"] for r in manifest["routes"] if r["path"] == "/luma")

    # /luma: one schedule below 55.5 MHz, another from 55.5 to 56, none from 56 up.
    def schedule_app(graphs, *, model, clock_mhz, route_clocks, max_operations=None):
        clock = route_clocks["/luma"]
        if clock >= 56.0:
            raise NoSchedule()
        return {"/luma": SimpleNamespace(graph=range(10), changed=clock >= 55.5)}

    monkeypatch.setattr(fpgac.scheduling, "schedule_app", schedule_app)
    monkeypatch.setattr(fpgac.build, "_schedule_layout", lambda s: s.changed)
    icebreaker = board("icebreaker")
    # 50 x 48/47 x 1.04 = 53.11 and 55.23 change nothing, 57.44 and 56.34 fail: 55.78 does.
    path, mhz = _faster_clock(out, manifest, icebreaker, _build([name], 47.0), {"/luma": 50.0})
    assert path == "/luma" and mhz == pytest.approx(55.78, abs=0.02)
    # 54 x 48/47 x 1.04 = 57.35 fails; between 54 and it, 55.67 changes the schedule.
    path, mhz = _faster_clock(out, manifest, icebreaker, _build([name], 47.0), {"/luma": 54.0})
    assert path == "/luma" and mhz == pytest.approx((54.0 + 57.35) / 2, abs=0.01)
    # Nothing between 55.5 and 56 when the route is at 55.9 already: none.
    assert _faster_clock(out, manifest, icebreaker, _build([name], 47.0), {"/luma": 55.9}) is None


def test_a_faster_schedule_many_times_larger_counts_as_none(tmp_path, imaging, monkeypatch):
    # On the ULX3S, hashing64's /fmix64 has one schedule from 170 to 184 MHz; above that
    # its products leave the DSP blocks for logic, 161 operations become 26,893, and a
    # 2% miss would cost a core many times larger. Closure treats such a clock as one
    # no schedule meets.
    import fpgac.build
    import fpgac.scheduling
    from fpgac.scheduling import ScheduleTooLarge

    out = tmp_path / "imaging"
    write_bundle(imaging, out, target="ice40", clock_mhz=48.0)
    manifest = read_manifest(out)
    name = next(r["name"] for r in manifest["routes"] if r["path"] == "/luma")

    def schedule_app(graphs, *, model, clock_mhz, route_clocks, max_operations=None):
        clock = route_clocks["/luma"]
        size = 10 if clock < 56.0 else int(10 * CLOSURE_GROWTH) + 1
        if max_operations and size > max_operations["/luma"]:
            raise ScheduleTooLarge()   # refused before it is scheduled
        return {"/luma": SimpleNamespace(graph=range(size), layout=clock >= 55.5)}

    monkeypatch.setattr(fpgac.scheduling, "schedule_app", schedule_app)
    monkeypatch.setattr(fpgac.build, "_schedule_layout", lambda s: s.layout)
    icebreaker = board("icebreaker")
    # As with no schedule at all: between 55.23 (the same) and 57.44 (too large), 55.78.
    path, mhz = _faster_clock(out, manifest, icebreaker, _build([name], 47.0), {"/luma": 50.0})
    assert path == "/luma" and mhz == pytest.approx(55.78, abs=0.02)
    # Only larger schedules are faster: none.
    assert _faster_clock(out, manifest, icebreaker, _build([name], 47.0), {"/luma": 55.9}) is None


def test_schedules_that_split_an_operation_differently_have_different_layouts():
    # Two splits of one wide addition can keep the same ids, ops and stages and differ
    # only in the widths of their pieces: closure must see them as different cores.
    from fpgac.ir import IntTy, Node

    def schedule(piece_width: int) -> SimpleNamespace:
        nodes = [Node(1, "param", (), IntTy(32), {"name": "x"}),
                 Node(2, "add", (1, 1), IntTy(piece_width)),
                 Node(3, "add", (1, 1), IntTy(33 - piece_width))]
        return SimpleNamespace(n_stages=2, graph=nodes, stage={1: 0, 2: 0, 3: 1},
                               block_roms=(), xor_trees=())

    assert _schedule_layout(schedule(16)) == _schedule_layout(schedule(16))
    assert _schedule_layout(schedule(16)) != _schedule_layout(schedule(20))


def _fake_flow(fmax_by_seed: dict, calls: list):
    """Return a stand-in for the tool flow: its routed Fmax depends on the placement seed,
    and its slowest path is in the host link (no route to schedule faster)."""
    import re

    def run_flow(work: Path, toolchain: str, step) -> None:
        match = re.search(r"--seed (\d+)", (work / "build_top.sh").read_text())
        seed = int(match.group(1)) if match else None
        calls.append(seed)
        (work / "top.report.json").write_text(json.dumps({
            "fmax": {"clk": {"achieved": fmax_by_seed[seed], "constraint": 48.0}},
            "critical_paths": [{"path": [{"from": {"cell": "link.rx.shift_SB_DFF"},
                                          "to": {"cell": "link.rx.data_SB_DFF"},
                                          "net": "link.rx.shift", "delay": 20.0}]}]}))
        (work / "top.rpt").write_text("")
        (work / "top.bin").write_bytes(b"")

    return run_flow


def test_a_near_miss_in_the_link_is_placed_again_with_other_seeds(tmp_path, monkeypatch):
    import fpgac.build
    from fpgac.build import CLOSURE_SEEDS, TimingError, build_bundle

    monkeypatch.setattr(fpgac.build, "cache_dir", lambda: tmp_path / "cache")
    calls: list = []
    monkeypatch.setattr(fpgac.build, "_run_flow", _fake_flow({None: 47.0, 1: 46.5, 2: 48.4}, calls))
    out = tmp_path / "lookup"
    result = build_bundle(EXAMPLES / "lookup.py", "icebreaker", out=out)
    assert calls == [None, 1, 2]
    assert result.build["closure"] == [{"seed": 1, "routed_mhz": 47.0},
                                       {"seed": 2, "routed_mhz": 46.5}]
    assert result.build["seed"] == 2 and result.build["clocks"]["clk"]["met"]
    assert json.loads((out / "board" / "build.json").read_text())["seed"] == 2
    assert "placed again with seed 2 after routing at 46.50 MHz" in (out / "report.txt").read_text()
    # Built again, the bundle starts from the seed it ended with: nothing runs.
    again = build_bundle(out, "icebreaker")
    assert again.reused and calls == [None, 1, 2]

    # A miss of more than 5% is not placement luck: no seeds, and the message says so.
    # (Each case has its own cache: the same design would otherwise reuse the runs above.)
    calls.clear()
    monkeypatch.setattr(fpgac.build, "cache_dir", lambda: tmp_path / "cache-far")
    monkeypatch.setattr(fpgac.build, "_run_flow", _fake_flow({None: 44.0}, calls))
    with pytest.raises(TimingError, match=r"44\.0 MHz achieved, 48\.0 MHz asked"):
        build_bundle(EXAMPLES / "lookup.py", "icebreaker", out=tmp_path / "far")
    assert calls == [None]
    # No seed meets it: closure stops after CLOSURE_SEEDS, and the message lists them.
    calls.clear()
    monkeypatch.setattr(fpgac.build, "cache_dir", lambda: tmp_path / "cache-near")
    monkeypatch.setattr(fpgac.build, "_run_flow", _fake_flow(
        {seed: 47.5 for seed in [None, *range(1, CLOSURE_SEEDS + 1)]}, calls))
    with pytest.raises(TimingError, match=r"tried 3 time\(s\) first: placed again with seed 1;"):
        build_bundle(EXAMPLES / "lookup.py", "icebreaker", out=tmp_path / "near")
    assert calls == [None, *range(1, CLOSURE_SEEDS + 1)]


def test_seeds_place_the_fastest_attempt_and_a_failed_closure_keeps_it(tmp_path, monkeypatch):
    import fpgac.build
    from fpgac.build import build_bundle

    # Routed Fmax by the flow's call: the first build, the closure step that made it
    # slower, then three seeds on the first build's schedule, each short of the clock.
    fmax = iter([47.0, 44.0, 46.0, 46.8, 46.9])
    calls: list = []

    def run_flow(work: Path, toolchain: str, step) -> None:
        routed = next(fmax)
        _fake_flow({seed: routed for seed in (None, 1, 2, 3)}, calls)(work, toolchain, step)

    steps = iter([("/luma", 60.0)])   # one closure step, then no route to speed up
    monkeypatch.setattr(fpgac.build, "_faster_clock", lambda *args: next(steps, None))
    monkeypatch.setattr(fpgac.build, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(fpgac.build, "_run_flow", run_flow)
    out = tmp_path / "imaging"
    result = build_bundle(EXAMPLES / "imaging.py", "icebreaker", out=out,
                          allow_timing_failure=True)
    assert calls == [None, None, 1, 2, 3]   # keeping the fastest reuses its build: no sixth
    assert result.build["closure"] == [
        {"route": "/luma", "routed_mhz": 47.0, "scheduled_mhz": 60.0},
        {"seed": 1, "routed_mhz": 44.0, "from_mhz": 47.0},
        {"seed": 2, "routed_mhz": 46.0},
        {"seed": 3, "routed_mhz": 46.8},
        {"kept_mhz": 47.0, "routed_mhz": 46.9}]
    # The result is the first build: its schedule (no route clock), its seed, its Fmax.
    assert result.build["clocks"]["clk"]["achieved_mhz"] == 47.0 and result.build["seed"] is None
    assert route_clocks(out, read_manifest(out)) == {}
    text = (out / "report.txt").read_text()
    assert "the schedule that routed at 47.00 MHz placed again with seed 1" in text
    assert "kept the fastest attempt (47.00 MHz) after routing at 46.90 MHz" in text
    # The bundle is the first build's: built again, it is reused.
    assert build_bundle(out, "icebreaker", allow_timing_failure=True).reused and len(calls) == 5


def test_the_scheduler_refuses_a_graph_larger_than_asked_before_scheduling_it(imaging):
    from fpgac.scheduling import ScheduleTooLarge, schedule

    graph = next(r.graph for r in imaging.routes if r.path == "/luma")
    model = DelayModel.load("ice40")
    split = schedule(graph, model=model, clock_mhz=60.0)   # /luma's products in pieces
    assert len(split.graph) > 2 * len(graph)
    assert schedule(graph, model=model, clock_mhz=60.0, max_operations=len(split.graph)).stage \
        == split.stage
    with pytest.raises(ScheduleTooLarge):
        schedule(graph, model=model, clock_mhz=60.0, max_operations=len(split.graph) - 1)
