"""Timing closure: a route on a path that routed too slow is scheduled for a faster clock.

The full loop (build, miss, reschedule, build again) runs in the slow board builds
(`test_board_build.py`, imaging on the iCEBreaker) and in `benchmarks/bench_boards.py`;
these tests check each piece on its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fpgac.backend.board.platforms import board
from fpgac.build import (
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
    def schedule_app(graphs, *, model, clock_mhz, route_clocks):
        clock = route_clocks["/luma"]
        if clock >= 56.0:
            raise NoSchedule()
        return {"/luma": clock >= 55.5}

    monkeypatch.setattr(fpgac.scheduling, "schedule_app", schedule_app)
    monkeypatch.setattr(fpgac.build, "_schedule_layout", lambda changed: changed)
    icebreaker = board("icebreaker")
    # 50 x 48/47 x 1.04 = 53.11 and 55.23 change nothing, 57.44 and 56.34 fail: 55.78 does.
    path, mhz = _faster_clock(out, manifest, icebreaker, _build([name], 47.0), {"/luma": 50.0})
    assert path == "/luma" and mhz == pytest.approx(55.78, abs=0.02)
    # 54 x 48/47 x 1.04 = 57.35 fails; between 54 and it, 55.67 changes the schedule.
    path, mhz = _faster_clock(out, manifest, icebreaker, _build([name], 47.0), {"/luma": 54.0})
    assert path == "/luma" and mhz == pytest.approx((54.0 + 57.35) / 2, abs=0.01)
    # Nothing between 55.5 and 56 when the route is at 55.9 already: none.
    assert _faster_clock(out, manifest, icebreaker, _build([name], 47.0), {"/luma": 55.9}) is None


def test_schedules_that_split_an_operation_differently_have_different_layouts():
    # Two splits of one wide addition can keep the same ids, ops and stages and differ
    # only in the widths of their pieces: closure must see them as different cores.
    from types import SimpleNamespace

    from fpgac.ir import IntTy, Node

    def schedule(piece_width: int) -> SimpleNamespace:
        nodes = [Node(1, "param", (), IntTy(32), {"name": "x"}),
                 Node(2, "add", (1, 1), IntTy(piece_width)),
                 Node(3, "add", (1, 1), IntTy(33 - piece_width))]
        return SimpleNamespace(n_stages=2, graph=nodes, stage={1: 0, 2: 0, 3: 1},
                               block_roms=(), xor_trees=())

    assert _schedule_layout(schedule(16)) == _schedule_layout(schedule(16))
    assert _schedule_layout(schedule(16)) != _schedule_layout(schedule(20))
