"""Drive a generated core in Amaranth's Python simulator: a stream in, a stream out.

The producer offers the requests in order, idling for random gaps; the
consumer drops ``o.ready`` at random. Transfers are counted where the stream
rules say they happen: on a clock edge with both valid and ready high. The
driver itself is :mod:`fpgac.backend.sim.pysim`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["SimResult", "simulate_stream"]


@dataclass
class SimResult:
    """What came out of the core: the response payloads in order, and how long it took."""

    responses: list[int]
    #: Clock edges up to and including the one that transferred the last response.
    cycles: int
    #: The edge (counted from 1) of each request's transfer on ``i`` and each response's on ``o``.
    accepted_at: list[int]
    answered_at: list[int]


def simulate_stream(component, requests: Sequence[int], *, gap: float = 0.0, stall: float = 0.0,
                    seed: int = 0, max_idle: int = 10_000,
                    i: str = "i", o: str = "o") -> SimResult:
    """Push payload bits ``requests`` through ``component`` and return what came out.

    ``gap`` is the chance that the producer idles for a cycle before offering a
    request; ``stall`` the chance that the consumer holds ``ready`` low in a cycle.
    ``max_idle`` cycles in a row without a transfer count as a stuck core.
    ``i`` and ``o`` name the stream members (``luma_i``/``luma_o`` on an app core).
    The Python-simulator engine of ``fpgac sim`` does the work
    (:func:`fpgac.backend.sim.pysim.run_pysim`), so the two draw alike.
    """
    from .sim.pysim import run_pysim

    return run_pysim(component, requests, gap=gap, stall=stall, seed=seed, max_idle=max_idle,
                     i=i, o=o)
