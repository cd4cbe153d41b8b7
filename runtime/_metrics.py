"""Counters per route and device: requests, refusals, errors, fallbacks, latency percentiles."""

from __future__ import annotations

import math
import random
import threading
from typing import Any

__all__ = ["Metrics", "Reservoir"]

#: Latency samples kept per route and device: enough for a stable p99, small and fixed.
RESERVOIR_SIZE = 2048


class Reservoir:
    """Keep a uniform random sample of at most ``size`` values from an endless sequence.

    Algorithm R: the i-th value replaces a random slot with probability
    ``size / i``, so every value seen so far is equally likely to be kept and
    memory never grows.
    """

    def __init__(self, size: int = RESERVOIR_SIZE, seed: int = 0):
        self.size = size
        self.seen = 0
        self.samples: list[float] = []
        self._random = random.Random(seed)

    def add(self, value: float) -> None:
        """Offer one value to the sample."""
        self.seen += 1
        if len(self.samples) < self.size:
            self.samples.append(value)
        else:
            slot = self._random.randrange(self.seen)
            if slot < self.size:
                self.samples[slot] = value

    def percentiles(self, *qs: float) -> list[float | None]:
        """Return the nearest-rank percentile of the sample for each ``q`` in 0..100."""
        if not self.samples:
            return [None for _ in qs]
        ordered = sorted(self.samples)
        n = len(ordered)
        # Nearest rank: the smallest value with at least q% of the sample at or below it.
        return [ordered[min(n - 1, max(0, math.ceil(q * n / 100) - 1))] for q in qs]


class _Row:
    """The counters of one route on one device."""

    __slots__ = ("requests", "refused", "errors", "fallbacks", "calls", "latency")

    def __init__(self) -> None:
        self.requests = 0      # requests answered by this device
        self.refused = 0       # requests refused before reaching a device (bad values)
        self.errors = 0        # device calls that raised, timed out or answered wrongly
        self.fallbacks = 0     # requests this device did not answer, re-run on the fallback
        self.calls = 0         # device calls (one per chunk, or per single request)
        self.latency = Reservoir()

    def snapshot(self) -> dict[str, Any]:
        p50, p90, p99 = (None if s is None else round(s * 1e3, 6)
                         for s in self.latency.percentiles(50, 90, 99))
        return {"requests": self.requests, "refused": self.refused, "errors": self.errors,
                "fallbacks": self.fallbacks, "calls": self.calls,
                "latency_ms": {"p50": p50, "p90": p90, "p99": p99}}


class Metrics:
    """Thread-safe counters keyed by route path and device name.

    Latency is measured per device call — a chunk of requests or one single
    request — from the moment it is handed to the device until its results
    are back; every request of a chunk shares the chunk's latency.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], _Row] = {}

    def _row(self, route: str, device: str) -> _Row:
        row = self._rows.get((route, device))
        if row is None:
            row = self._rows[(route, device)] = _Row()
        return row

    def answered(self, route: str, device: str, n: int, seconds: float) -> None:
        """Count ``n`` requests answered by one device call that took ``seconds``."""
        with self._lock:
            row = self._row(route, device)
            row.requests += n
            row.calls += 1
            row.latency.add(seconds)

    def refused(self, route: str, device: str, n: int = 1) -> None:
        """Count ``n`` requests refused for their values."""
        with self._lock:
            self._row(route, device).refused += n

    def failed(self, route: str, device: str, moved: int) -> None:
        """Count a failed device call whose ``moved`` requests went to the fallback."""
        with self._lock:
            row = self._row(route, device)
            row.errors += 1
            row.fallbacks += moved

    def moved(self, route: str, device: str, n: int) -> None:
        """Count ``n`` more requests taken from a failed device to the fallback."""
        with self._lock:
            self._row(route, device).fallbacks += n

    def snapshot(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Return ``{route path: {device name: counters}}`` as plain data."""
        with self._lock:
            out: dict[str, dict[str, dict[str, Any]]] = {}
            for (route, device), row in sorted(self._rows.items()):
                out.setdefault(route, {})[device] = row.snapshot()
            return out
