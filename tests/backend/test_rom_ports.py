"""Tables in block RAM: a read port clocked with the pipeline, cycle-identical to LUT ROMs."""

from __future__ import annotations

import copy
import dataclasses

import pytest
from harness import check_core, example, random_requests

from fpgac.backend import elaborate, generate_route, pack_leaves, route_signature, simulate_stream
from fpgac.backend._simple_schedule import SimpleSchedule, asap_schedule
from fpgac.driver import compile_source, optimize
from fpgac.scheduling import DelayModel, schedule

ICE40 = DelayModel.load("ice40")

#: A non-linear 300-entry table (2400 bits: an SB_RAM40_4K), read with indices that can
#: leave it (u16) or be negative (i16).
SOURCE = f'''
from fpgac import App, Table, i16, u8, u16

app = App("t")
WIDE = Table(u8, {[(i * i + 7 * i) >> 3 & 0xFF for i in range(300)]})


@app.post("/unsigned")
def unsigned(a: u16, c: u8) -> u8:
    return WIDE[a] ^ c


@app.post("/signed")
def signed(a: i16, c: u8) -> u16:
    return WIDE[a] + WIDE[a + 1] + c
'''


def _roms(sched):
    return [n.id for n in sched.graph if n.op == "rom"]


def _cores(route, sched):
    """Return the source and core of ``sched``, and of the same schedule in LUT ROMs."""
    source = generate_route(route, sched)
    lut = copy.copy(sched)
    lut.block_roms = frozenset()
    return source, elaborate(source), elaborate(generate_route(route, lut))


def _same_trace(route, sched, n=120, seed=3):
    source, block, lut = _cores(route, sched)
    signature = route_signature(route, sched)
    requests = random_requests(route, n, seed)
    ours = check_core(route, block, signature, requests, gap=0.3, stall=0.3, seed=seed,
                      graph=sched.graph)
    bits = [pack_leaves(signature["request"]["leaves"], r) for r in requests]
    theirs = simulate_stream(lut, bits, gap=0.3, stall=0.3, seed=seed)
    assert (ours.responses, ours.accepted_at, ours.answered_at) == \
        (theirs.responses, theirs.accepted_at, theirs.answered_at)
    return source


def test_a_block_ram_read_is_a_synchronous_port_enabled_by_advance():
    route = example("lookup.py").route("/gamma")
    sched = schedule(route.graph, model=ICE40, clock_mhz=48)
    (rom,) = _roms(sched)
    assert sched.block_roms == {rom}
    source = _same_trace(route, sched)
    assert f'rom_v{rom}_read = rom_v{rom}.read_port(domain="sync")' in source
    assert f"rom_v{rom}_read.en.eq(advance)" in source
    assert f"v{rom}_s1.eq(rom_v{rom}_read.data)" in source
    assert f"v{rom}_s1.eq(v{rom})" not in source  # the block's register is the pipeline's
    assert 'domain="comb"' not in source


@pytest.mark.parametrize("path", ["/unsigned", "/signed"])
def test_an_index_outside_the_table_reads_0_through_a_registered_flag(path):
    route = optimize(compile_source(SOURCE, "t.py")).route(path)
    sched = schedule(route.graph, model=ICE40, clock_mhz=48)
    roms = _roms(sched)
    assert roms and set(roms) == sched.block_roms
    source = _same_trace(route, sched)
    for rom in roms:
        at = sched.stage[rom] + 1
        assert f"v{rom}_inside_s{at}.eq(" in source
        assert f"v{rom}_s{at}.eq(Mux(v{rom}_inside_s{at}, rom_v{rom}_read.data, 0))" in source


def test_a_read_used_stages_later_is_registered_again():
    route = optimize(compile_source(SOURCE, "t.py")).route("/unsigned")
    (rom,) = [n.id for n in route.graph if n.op == "rom"]
    # Read in stage 0, used in stage 3: the block's register, then two fabric ones.
    sched = SimpleSchedule(route.graph, {n.id: 0 if n.op in ("param", "rom") else 3
                                         for n in route.graph}, 4)
    sched.block_roms = frozenset({rom})
    source = _same_trace(route, sched)
    assert f"v{rom}_s2.eq(v{rom}_s1)" in source and f"v{rom}_s3.eq(v{rom}_s2)" in source


def test_a_schedule_without_block_roms_keeps_lut_roms():
    route = example("lookup.py").route("/gamma")
    source = generate_route(route, asap_schedule(route.graph, 1))
    assert 'read_port(domain="comb")' in source and "domain=\"sync\"" not in source


def test_a_read_used_in_its_own_stage_cannot_be_a_block_ram_read():
    route = optimize(compile_source(SOURCE, "t.py")).route("/unsigned")
    sched = schedule(route.graph, model=ICE40, stages=1)
    assert not sched.block_roms
    (rom,) = _roms(sched)
    with pytest.raises(AssertionError, match="used in that stage"):
        generate_route(route, dataclasses.replace(sched, block_roms=frozenset({rom})))
