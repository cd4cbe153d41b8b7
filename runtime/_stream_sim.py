"""Drive a compiled stream testbench: requests in, responses and transfer cycles out.

fpgac's CXXRTL testbench (the compiler's ``backend/sim/_driver.cc``, filled in
for one design) is an executable that speaks a text protocol on stdin and
stdout. Each job is a header line

    job <stream> <n> <gap> <stall> <max_idle> <key_in...> <key_out...>

followed by ``n`` request payloads in hexadecimal; for each job the driver
prints ``done <cycles> <nanoseconds>`` and then ``n`` lines ``<response hex>
<accepted> <answered>`` (the clock edges of each request's transfers). A core
that moves nothing for ``max_idle`` cycles makes it print ``stuck ...`` and
exit with status 3.

:func:`run_jobs` writes the jobs and reads the answers. The compiler's
simulation engine (``fpgac sim``) and the runtime's ``sim`` device both use it;
it needs nothing but the standard library.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Job", "JobResult", "StuckError", "run_jobs"]


class StuckError(AssertionError):
    """The core stopped moving: requests went in and no response came out for too long."""


@dataclass
class Job:
    """One run of a stream: packed request payloads and the handshake randomness.

    ``gap`` is the chance that the producer idles for a cycle before offering a
    request, ``stall`` the chance that the consumer holds ``ready`` low in a
    cycle; both are drawn from ``random.Random(seed)`` and ``random.Random(seed
    + 1)``, as fpgac's Amaranth testbench draws them.
    """

    requests: Sequence[int]
    stream: int = 0
    gap: float = 0.0
    stall: float = 0.0
    seed: int = 0
    #: Cycles without any transfer after which the core counts as stuck; None: a bound that a
    #: working core misses with negligible probability at the given gap and stall.
    max_idle: int | None = None


@dataclass
class JobResult:
    """What one job did: the responses in order, its cycles, and each transfer's edge."""

    responses: list[int] = field(default_factory=list)
    cycles: int = 0
    accepted_at: list[int] = field(default_factory=list)
    answered_at: list[int] = field(default_factory=list)
    #: Seconds the executable spent clocking the core.
    seconds: float = 0.0


def run_jobs(executable: str | os.PathLike, jobs: Sequence[Job], in_widths: Sequence[int], *,
             vcd: str | os.PathLike | None = None) -> list[JobResult]:
    """Run ``jobs`` one after another in one process of ``executable``; return their results.

    ``in_widths`` are the request payload widths of the executable's streams, by
    index. Each job starts when the previous one has received all its responses,
    so the pipeline is empty and edges are counted from 1 again. Raise
    :class:`ValueError` for a job the executable cannot take, :class:`StuckError`
    when a core stops moving and :class:`RuntimeError` when the executable fails.
    """
    text, counts = [], []
    for job in jobs:
        if not 0 <= job.stream < len(in_widths):
            raise ValueError(f"no stream {job.stream}; the model has {len(in_widths)}")
        for name, p in (("gap", job.gap), ("stall", job.stall)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"`{name}` must be a probability below 1, not {p!r}")
        limit = 1 << in_widths[job.stream]
        max_idle = job.max_idle if job.max_idle is not None else _default_max_idle(job)
        text.append(f"job {job.stream} {len(job.requests)} {job.gap!r} {job.stall!r} "
                    f"{max_idle} {_key(job.seed)} {_key(job.seed + 1)}\n")
        for bits in job.requests:
            if not 0 <= bits < limit:
                raise ValueError(f"request payload {bits:#x} does not fit "
                                 f"{in_widths[job.stream]} bits")
            text.append(f"{bits:x}\n")
        counts.append(len(job.requests))
    argv = [os.fspath(executable)] + ([os.fspath(vcd)] if vcd is not None else [])
    done = subprocess.run(argv, input="".join(text), capture_output=True, text=True)
    lines = done.stdout.splitlines()
    if done.returncode != 0:
        stuck = next((ln for ln in lines if ln.startswith("stuck ")), None)
        if stuck is not None:
            accepted, answered, cycles = stuck.split()[1:]
            raise StuckError(f"the core is stuck: {accepted} requests accepted, {answered} "
                             f"answered, no transfer for too long (after {cycles} cycles)")
        raise RuntimeError(f"the simulation failed (exit {done.returncode}): "
                           f"{done.stderr.strip()}")
    results, at = [], 0
    for n in counts:
        head = lines[at].split() if at < len(lines) else []
        if head[:1] != ["done"] or len(head) < 3 or len(lines) < at + 1 + n:
            raise RuntimeError(f"the simulation ended where a job's results were due "
                               f"(line {at + 1} of its output)")
        result = JobResult(cycles=int(head[1]), seconds=int(head[2]) * 1e-9)
        for line in lines[at + 1:at + 1 + n]:
            bits, accepted, answered = line.split()
            result.responses.append(int(bits, 16))
            result.accepted_at.append(int(accepted))
            result.answered_at.append(int(answered))
        results.append(result)
        at += 1 + n
    return results


def _default_max_idle(job: Job) -> int:
    # A working core moves something at least every `latency` cycles in which both sides
    # are willing; 10,000 idle cycles in a row at a stall or gap probability p < 0.99
    # happen with probability below 1e-43.
    worst = max(job.gap, job.stall)
    return 10_000 if worst < 0.99 else int(10_000 / (1 - worst))


def _key(seed: int) -> str:
    """Return Python's MT19937 seeding key for an integer seed, as ``count word...``."""
    n = abs(seed)
    words = []
    while True:
        words.append(n & 0xFFFFFFFF)
        n >>= 32
        if not n:
            break
    return " ".join(map(str, [len(words), *words]))
