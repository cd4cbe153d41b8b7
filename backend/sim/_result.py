"""What a simulation engine hands back for one run of a stream."""

from __future__ import annotations

from dataclasses import dataclass

from .._simulate import SimResult

__all__ = ["StreamRun"]


@dataclass
class StreamRun(SimResult):
    """The response payloads in order, the transfer edges, and the engine's own run time."""

    #: Seconds the engine spent clocking the core (not building it or moving data in and out).
    seconds: float = 0.0

    @property
    def cycles_per_second(self) -> float:
        """Return the simulated clock cycles per second of engine time."""
        return self.cycles / self.seconds if self.seconds > 0 else float("inf")
