"""The generated Amaranth of two examples, compared whole with golden files.

Regenerate the files with ``FPGAC_REGEN_GOLDEN=1 pytest tests/backend/test_golden.py``
after a deliberate change to the generator, and review the diff; never edit them by hand.
"""

import os
from pathlib import Path

import pytest
from harness import example

from fpgac.backend import generate_app, generate_route
from fpgac.backend._simple_schedule import asap_schedule

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("FPGAC_REGEN_GOLDEN") == "1"


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path.name} is missing; run with FPGAC_REGEN_GOLDEN=1 to write it"
    assert text == path.read_text(encoding="utf-8"), (
        f"the generated text differs from {path.name}; if the change is deliberate, "
        f"regenerate with FPGAC_REGEN_GOLDEN=1 and review the diff")


def test_golden_imaging_app():
    program = example("imaging.py")
    schedules = {r.path: asap_schedule(r.graph, 2) for r in program.routes}
    _check("imaging_app.py.txt", generate_app(program, schedules))


def test_golden_lookup_app():
    # Tables (ROMs), signed values and records.
    program = example("lookup.py")
    schedules = {r.path: asap_schedule(r.graph, 2) for r in program.routes}
    _check("lookup_app.py.txt", generate_app(program, schedules))


def test_golden_block_ram_reads():
    # A table read from block RAM: a synchronous read port whose data is the register
    # after its stage, and one whose index can leave the table (a registered flag).
    program = example("lookup.py")
    schedules = {}
    for route in program.routes:
        sched = asap_schedule(route.graph, 2)
        sched.block_roms = frozenset(
            n.id for n in route.graph if n.op == "rom"
            and all(sched.stage[u] > sched.stage[n.id] for u in route.graph.users(n.id)
                    if route.graph[u].op != "output"))
        schedules[route.path] = sched
    assert any(s.block_roms for s in schedules.values())
    _check("lookup_block_ram_app.py.txt", generate_app(program, schedules))


@pytest.mark.parametrize("n_stages", [0, 3])
def test_golden_luma_route(n_stages):
    route = example("imaging.py").route("/luma")
    _check(f"luma_{n_stages}_stages.py.txt",
           generate_route(route, asap_schedule(route.graph, n_stages)))


def test_generation_is_deterministic():
    program = example("bitpack.py")
    schedules = {r.path: asap_schedule(r.graph, 3) for r in program.routes}
    assert generate_app(program, schedules) == generate_app(program, schedules)
