"""Cycle-accurate simulation of a route's core, every response checked against the software model.

    sched = schedule(route.graph, model=DelayModel.load("ice40"), clock_mhz=48)
    result = simulate(route, sched, requests, stall=0.2, gap=0.1, seed=1)
    result.responses, result.cycles, result.requests_per_cycle, result.mismatches

Two engines run the same generated core: ``cxxrtl`` (the default) compiles it
to native code through yosys's CXXRTL backend and a C++ testbench, cached by
content hash; ``amaranth`` runs it in Amaranth's Python simulator. Both drive
the input stream with random idle cycles (``gap``, a probability per cycle)
and hold the output's ``ready`` low at random (``stall``), drawn from the same
seeded generator, so the same seed gives the same cycle-by-cycle trace in both.

Requests are dicts keyed by parameter name in the JSON shape (``{"p": {"r": 1,
...}}``) or dicts of IR leaves (``{"p.r": 1, ...}``). :func:`run_cli` is the
whole of ``fpgac sim`` once its options are parsed.
"""

from __future__ import annotations

import json
import os
import random as _random
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .ir import Program, Route, interpret, program_to_json

__all__ = ["DEFAULT_ENGINE", "ENGINES", "Mismatch", "SimCore", "SimResult", "prepare",
           "prepare_groups", "prepare_many", "random_requests", "run_cli", "simulate"]

#: The simulation engines, fastest first.
ENGINES = ("cxxrtl", "amaranth")
DEFAULT_ENGINE = "cxxrtl"
#: The references a core's responses are checked against (see :class:`SimCore`).
REFERENCES = ("model", "interpret", "none")


@dataclass(frozen=True)
class Mismatch:
    """A response that differs from the software model's, by IR leaves."""

    index: int
    request: dict[str, int]
    got: dict[str, int]
    expected: dict[str, int]

    def __str__(self) -> str:
        wrong = [p for p in self.expected if self.got.get(p) != self.expected[p]]
        detail = ", ".join(f"`{p}` is {self.got.get(p)}, the model says {self.expected[p]}"
                           for p in wrong)
        return f"request {self.index} {self.request}: {detail}"


@dataclass
class SimResult:
    """The responses of one simulation run, in request order, and how the core got there."""

    route: str
    engine: str
    #: The responses in the JSON shape (a number, or dicts and lists for records and arrays).
    responses: list[Any]
    #: The same responses as IR leaves (``{"return.r": 10, ...}``).
    response_leaves: list[dict[str, int]]
    #: Clock edges from the first cycle up to and including the last response's transfer.
    cycles: int
    #: Cycles from a request's transfer on the input to its response on the output.
    latency: int
    #: The edge (counted from 1) of each request's transfer on ``i`` and response's on ``o``.
    accepted_at: list[int]
    answered_at: list[int]
    mismatches: list[Mismatch] = field(default_factory=list)
    #: Seconds the engine spent clocking the core.
    seconds: float = 0.0
    #: Seconds spent preparing the engine (elaboration; yosys and C++ unless cached).
    build_seconds: float = 0.0
    #: For the cxxrtl engine: whether the compiled model came from the cache.
    cached: bool | None = None

    @property
    def requests(self) -> int:
        """Return the number of requests served."""
        return len(self.responses)

    @property
    def requests_per_cycle(self) -> float:
        """Return the requests served per clock cycle (1.0 at most, near it at full rate)."""
        return self.requests / self.cycles if self.cycles else 0.0

    @property
    def cycles_per_second(self) -> float:
        """Return the simulated cycles per second of engine time."""
        return self.cycles / self.seconds if self.seconds > 0 else float("inf")

    @property
    def ok(self) -> bool:
        """Return whether every response matched the reference."""
        return not self.mismatches


class SimCore:
    """A route's core ready to simulate: built once, run as often as wanted.

    ``reference`` chooses what responses are checked against: ``"model"`` (the
    runtime's bit-exact numpy model of the route's IR, fast on big runs),
    ``"interpret"`` (:func:`fpgac.ir.interpret` on the route's graph, request by
    request) or ``"none"``.
    """

    def __init__(self, route: Route, schedule, *, engine: str = DEFAULT_ENGINE,
                 reference: str = "model", _model=None, _stream: int = 0):
        from .backend import generate_route, route_signature

        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; the engines are {', '.join(ENGINES)}")
        if reference not in REFERENCES:
            raise ValueError(f"unknown reference {reference!r}; choose from "
                             f"{', '.join(REFERENCES)}")
        self.route, self.schedule, self.engine, self.reference = route, schedule, engine, reference
        self.signature = route_signature(route, schedule)
        self.latency: int = self.signature["latency"]
        self.source = generate_route(route, schedule)
        self._request_leaves = self.signature["request"]["leaves"]
        self._response_leaves = self.signature["response"]["leaves"]
        self._model, self._stream = _model, _stream
        self._vcd_model = None
        self._software = None
        if engine == "cxxrtl" and _model is None:
            from .backend import elaborate
            from .backend.sim import build_cxxrtl

            self._model = build_cxxrtl([elaborate(self.source)])

    def __repr__(self) -> str:
        return f"<SimCore {self.route.path} engine={self.engine} latency={self.latency}>"

    @property
    def cached(self) -> bool | None:
        """Return whether the compiled model came from the cache (None for pysim)."""
        return self._model.cached if self._model is not None else None

    @property
    def build_seconds(self) -> float:
        """Return the seconds spent preparing the compiled model (0 for pysim)."""
        return self._model.build_seconds if self._model is not None else 0.0

    # -- requests and responses -----------------------------------------------------------------

    def software_model(self):
        """Return the runtime's software model of the route (built on first use)."""
        if self._software is None:
            from .runtime import model_from_ir

            file = self.route.span.file if self.route.span is not None else "<route>"
            doc = program_to_json(Program("sim", file, [self.route]))
            self._software = model_from_ir(doc).route(self.route.path)
        return self._software

    def leaves(self, request: Mapping[str, Any]) -> dict[str, int]:
        """Return the IR leaves of one request, given as JSON-shaped values or as leaves.

        Raises :class:`fpgac.runtime.RequestError` naming the field when a value
        does not fit its type, or a key is missing or unknown.
        """
        model = self.software_model()
        # Leaf paths and parameter names differ unless every parameter is a scalar, and then
        # both readings are the same.
        if set(request) == set(model.param_paths):
            values = model.signature.check_leaves(request)
        else:
            values = model.signature.from_request(dict(request))
        return dict(zip(model.param_paths, values))

    def pack(self, leaves: Mapping[str, int]) -> int:
        """Return the request payload bits of a request given as IR leaves."""
        from .backend import pack_leaves

        return pack_leaves(self._request_leaves, leaves)

    def unpack(self, bits: int) -> dict[str, int]:
        """Return the IR leaves of a response payload."""
        from .backend import unpack_leaves

        return unpack_leaves(self._response_leaves, bits)

    def expected(self, requests: Sequence[Mapping[str, int]]) -> list[dict[str, int]]:
        """Return the reference's output leaves for requests given as IR leaves."""
        if self.reference == "interpret":
            return [interpret(self.route.graph, r) for r in requests]
        import numpy as np

        model = self.software_model()
        # Object arrays of Python ints convert exactly to whatever column type the model uses.
        columns = {p: np.array([r[p] for r in requests], dtype=object) for p in model.param_paths}
        outputs = model.run_columns(columns)
        lists = [outputs[p].tolist() for p in model.output_paths]
        return [dict(zip(model.output_paths, row)) for row in zip(*lists)]

    # -- running --------------------------------------------------------------------------------

    def run(self, requests: Sequence[Mapping[str, Any]], *, stall: float = 0.0, gap: float = 0.0,
            seed: int = 0, vcd: str | os.PathLike | None = None) -> SimResult:
        """Stream ``requests`` through the core; return the responses and the statistics.

        ``gap`` is the chance that the producer idles for a cycle before offering
        a request, ``stall`` the chance that the consumer holds ``ready`` low in a
        cycle; ``seed`` seeds both. ``vcd`` names a waveform file to write.
        """
        for name, p in (("stall", stall), ("gap", gap)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"`{name}` must be a probability in [0, 1), not {p!r}")
        leaves = [self.leaves(r) for r in requests]
        bits = [self.pack(r) for r in leaves]
        run = self._run_bits(bits, stall=stall, gap=gap, seed=seed, vcd=vcd)
        got = [self.unpack(b) for b in run.responses]
        if len(got) != len(leaves):
            raise AssertionError(f"{len(leaves)} requests but {len(got)} responses")
        mismatches = []
        if self.reference != "none" and leaves:
            for k, (request, out, exp) in enumerate(zip(leaves, got, self.expected(leaves))):
                if out != exp:
                    mismatches.append(Mismatch(k, request, out, exp))
        model = self.software_model()
        responses = [model.signature.response([g[p] for p in model.output_paths]) for g in got]
        return SimResult(self.route.path, self.engine, responses, got, run.cycles, self.latency,
                         run.accepted_at, run.answered_at, mismatches, seconds=run.seconds,
                         build_seconds=self.build_seconds, cached=self.cached)

    def _run_bits(self, bits: list[int], *, stall: float, gap: float, seed: int, vcd):
        """Run packed payloads through the engine; return its :class:`StreamRun`."""
        if self.engine == "amaranth":
            from .backend import elaborate
            from .backend.sim import run_pysim

            return run_pysim(elaborate(self.source), bits, gap=gap, stall=stall, seed=seed,
                             vcd=vcd)
        model = self._model
        if vcd is not None:
            if self._vcd_model is None:
                from .backend import elaborate
                from .backend.sim import build_cxxrtl

                self._vcd_model = build_cxxrtl([elaborate(self.source)], vcd=True)
            model = self._vcd_model
            return model.run_stream(bits, gap=gap, stall=stall, seed=seed, vcd=vcd)
        return model.run_stream(bits, stream=self._stream, gap=gap, stall=stall, seed=seed)


def prepare(route: Route, schedule, *, engine: str = DEFAULT_ENGINE,
            reference: str = "model") -> SimCore:
    """Build the simulation of ``route``'s core under ``schedule`` (cached for cxxrtl)."""
    return SimCore(route, schedule, engine=engine, reference=reference)


def prepare_many(pairs: Sequence[tuple[Route, Any]], *, engine: str = DEFAULT_ENGINE,
                 reference: str = "model", batch: int | None = None, quick: bool = False,
                 jobs: int | None = None) -> list[SimCore]:
    """Build the simulations of many ``(route, schedule)`` pairs at once.

    With the cxxrtl engine, ``batch`` consecutive cores share one compiled model
    (all of them when None); see :func:`prepare_groups`.
    """
    size = batch or max(1, len(pairs))
    groups = [pairs[k:k + size] for k in range(0, len(pairs), size)]
    return [core for group in prepare_groups(groups, engine=engine, reference=reference,
                                             quick=quick, jobs=jobs) for core in group]


def prepare_groups(groups: Sequence[Sequence[tuple[Route, Any]]], *,
                   engine: str = DEFAULT_ENGINE, reference: str = "model", quick: bool = False,
                   jobs: int | None = None) -> list[list[SimCore]]:
    """Build the simulations of groups of ``(route, schedule)`` pairs, a model per group.

    With the cxxrtl engine the cores of a group share one compiled model, one
    stream pair each, so the C++ compiler runs once per group; the groups are
    compiled ``jobs`` at a time (default: one per CPU). Every core of a model is
    evaluated in every cycle, so big groups suit short runs. ``quick`` compiles
    with little optimization: about three times sooner, for runs of a few
    thousand cycles.
    """
    if engine != "cxxrtl":
        return [[SimCore(r, s, engine=engine, reference=reference) for r, s in group]
                for group in groups]
    from .backend import elaborate, generate_route
    from .backend.sim import QUICK_CXXFLAGS, build_cxxrtl_many

    groups = [group for group in groups if group]
    models = build_cxxrtl_many([[elaborate(generate_route(r, s)) for r, s in group]
                                for group in groups],
                               cxxflags=QUICK_CXXFLAGS if quick else None, jobs=jobs)
    return [[SimCore(r, s, engine=engine, reference=reference, _model=model, _stream=k)
             for k, (r, s) in enumerate(group)] for group, model in zip(groups, models)]


def simulate(route: Route, schedule, requests: Sequence[Mapping[str, Any]], *,
             engine: str = DEFAULT_ENGINE, stall: float = 0.0, gap: float = 0.0, seed: int = 0,
             vcd: str | os.PathLike | None = None, reference: str = "model") -> SimResult:
    """Simulate ``route``'s core under ``schedule`` on ``requests``; check every response.

    See :class:`SimCore` for the engines and references and :meth:`SimCore.run`
    for the handshake options. The result lists the responses in request order
    and every mismatch against the reference.
    """
    core = SimCore(route, schedule, engine=engine, reference=reference)
    return core.run(requests, stall=stall, gap=gap, seed=seed, vcd=vcd)


# -- random requests ----------------------------------------------------------------------------

def _random_leaf(rng: _random.Random, width: int, signed: bool) -> int:
    lo = -(1 << (width - 1)) if signed else 0
    hi = (1 << (width - 1)) - 1 if signed else (1 << width) - 1
    roll = rng.random()
    # One in five values is an extreme or a small number, where wrapping bugs live.
    if roll < 0.1:
        return rng.choice([lo, hi, 0, min(1, hi), max(-1, lo)])
    if roll < 0.2:
        return rng.randint(max(lo, -4), min(hi, 4))
    return rng.randint(lo, hi)


def random_requests(route: Route, n: int, seed: int = 0) -> list[dict[str, int]]:
    """Draw ``n`` requests for ``route`` as IR leaves: often extremes, otherwise uniform."""
    from .backend import payload_leaves

    rng = _random.Random(seed)
    leaves = payload_leaves(route.params)
    return [{leaf["path"]: _random_leaf(rng, leaf["width"], leaf["signed"]) for leaf in leaves}
            for _ in range(n)]


# -- the command line ---------------------------------------------------------------------------

def _read_requests(core: SimCore, lines: Iterable[str]):
    """Parse JSON lines; return ``(requests, errors)`` with errors by 0-based line index.

    A line is refused for the reasons, and in the words, ``fpgac run`` refuses it.
    """
    from .runtime import RequestError
    from .runtime._jsonl import _parse

    requests: dict[int, dict[str, int]] = {}
    errors: dict[int, str] = {}
    for k, text in enumerate(lines):
        request, reason = _parse(text)
        if reason is not None:
            errors[k] = reason
            continue
        try:
            requests[k] = core.leaves(request)
        except RequestError as e:
            errors[k] = e.reason
    return requests, errors


def run_cli(file: str | os.PathLike, route: str, *, input_: str | os.PathLike | TextIO | None
            = None, random: int | None = None, engine: str = DEFAULT_ENGINE, stall: float = 0.0,
            gap: float = 0.0, seed: int = 0, vcd: str | os.PathLike | None = None,
            clock_mhz: float | None = None, stages: int | None = None, target: str | None = None,
            out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Do what ``fpgac sim`` does with parsed options; return the exit status.

    Compile and optimize ``file``, schedule ``route`` (``clock_mhz`` or ``stages``
    on ``target``'s delay model, ``ice40`` by default; neither: the model's default
    clock) or, when ``file`` is a bundle directory, take its route's core as the
    bundle was compiled (options given schedule it again), simulate
    its core on the JSON-line requests of ``input_`` (a path, ``"-"`` or ``None``
    for standard input, or an open text file) or on ``random`` random requests,
    and print one JSON line per request on ``out`` in order: the response, or
    ``{"error": ..., "line": N}`` for a refused line. Statistics and mismatches
    go to ``err``. Return 1 if any line was refused or any response differs from
    the software model, else 0. Bad options raise :class:`click.BadParameter`;
    errors in the handler raise :class:`fpgac.frontend.FpgacError`.
    """
    import click

    from .backend.sim import BuildError
    from .bundle import read_schedules
    from .driver import compile_file, optimize
    from .ir import program_from_json
    from .runtime import read_manifest
    from .scheduling import TARGETS, DelayModel, schedule

    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    if engine not in ENGINES:
        raise click.BadParameter(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}",
                                 param_hint="--engine")
    for name, p in (("--stall", stall), ("--gap", gap)):
        if not 0.0 <= p < 1.0:
            raise click.BadParameter(f"must be a probability in [0, 1), not {p}", param_hint=name)
    if random is not None and input_ is not None:
        raise click.BadParameter("give `--input` or `--random`, not both", param_hint="--random")
    if random is not None and random < 0:
        raise click.BadParameter(f"must not be negative, not {random}", param_hint="--random")
    if clock_mhz is not None and stages is not None:
        raise click.BadParameter("give `--clock-mhz` or `--stages`, not both",
                                 param_hint="--stages")
    if target is not None and target not in TARGETS:
        raise click.BadParameter(f"unknown target {target!r}; choose from {', '.join(TARGETS)}",
                                 param_hint="--target")

    if Path(file).is_dir():
        # A bundle: its cores as it was compiled, unless options ask for another schedule.
        manifest = read_manifest(file)  # a bundle, whole and unaltered
        target = target or manifest["target"]
        rescheduled = clock_mhz is not None or stages is not None or target != manifest["target"]
        if rescheduled:
            program = program_from_json(json.loads((Path(file) / "ir.json").read_text()))
            scheds = {}
        else:
            program, scheds = read_schedules(file, manifest)
    else:
        program, scheds, rescheduled = optimize(compile_file(file)), {}, True
        target = target or "ice40"
    try:
        chosen = program.route(route)
    except KeyError:
        known = ", ".join(r.path for r in program.routes)
        raise click.BadParameter(f"no route {route!r}; the routes are {known}",
                                 param_hint="--route") from None
    if rescheduled:
        try:
            sched = schedule(chosen.graph, model=DelayModel.load(target), clock_mhz=clock_mhz,
                             stages=stages)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--clock-mhz/--stages") from None
    else:
        sched = scheds[chosen.path]
    if vcd is not None:
        # The engines write it at the end of the run: fail before it, and leave the file be.
        where = Path(vcd).resolve()
        if where.is_dir() or not os.access(where.parent, os.W_OK) or (
                where.exists() and not os.access(where, os.W_OK)):
            raise click.BadParameter(f"cannot write {vcd}", param_hint="--vcd")
    if isinstance(input_, (str, os.PathLike)) and input_ != "-" and (
            not Path(input_).exists() or Path(input_).is_dir()):
        raise click.BadParameter(f"{input_} is not a file", param_hint="--input")
    try:
        core = SimCore(chosen, sched, engine=engine)
    except BuildError as e:
        raise click.ClickException(f"cannot build the {engine} simulation: {e}") from None

    if random is not None:
        requests = dict(enumerate(random_requests(chosen, random, seed)))
        errors: dict[int, str] = {}
        n_lines = random
    else:
        if input_ is None or input_ == "-":
            requests, errors = _read_requests(core, sys.stdin)
        elif isinstance(input_, (str, os.PathLike)):
            with open(input_, encoding="utf-8") as f:
                requests, errors = _read_requests(core, f)
        else:
            requests, errors = _read_requests(core, input_)
        n_lines = len(requests) + len(errors)

    order = sorted(requests)
    result = core.run([requests[k] for k in order], stall=stall, gap=gap, seed=seed, vcd=vcd)
    answers = dict(zip(order, result.responses))
    for k in range(n_lines):
        if k in errors:
            out.write(json.dumps({"error": errors[k], "line": k + 1}) + "\n")
        else:
            out.write(json.dumps(answers[k]) + "\n")
    out.flush()
    _report(err, result, sched, refused=len(errors), vcd=vcd)
    return 1 if errors or result.mismatches else 0


def _report(err: TextIO, result: SimResult, sched, *, refused: int, vcd) -> None:
    """Write the statistics of a run, and its first mismatches, to ``err``."""
    clock = getattr(sched, "clock_mhz", None)
    where = f", scheduled for {clock:g} MHz" if clock else ""
    lines = [
        f"route {result.route}: {result.requests} requests, latency {result.latency} "
        f"cycle{'s' if result.latency != 1 else ''}{where}",
        f"cycles: {result.cycles}, {result.requests_per_cycle:.3f} requests per cycle",
    ]
    speed = (f", {result.cycles_per_second:,.0f} cycles/s" if result.seconds > 0 else "")
    build = ""
    if result.cached is not None:
        build = f"; model {'from the cache' if result.cached else 'built'} in " \
                f"{result.build_seconds:.2f} s"
    lines.append(f"engine: {result.engine}, {result.seconds:.3f} s{speed}{build}")
    if vcd is not None:
        lines.append(f"waveform: {Path(vcd)}")
    if refused:
        lines.append(f"refused: {refused} line{'s' if refused != 1 else ''}")
    lines.append(f"mismatches: {len(result.mismatches)}")
    for m in result.mismatches[:10]:
        lines.append(f"  {m}")
    if len(result.mismatches) > 10:
        lines.append(f"  ... and {len(result.mismatches) - 10} more")
    err.write("\n".join(lines) + "\n")
    err.flush()
