"""The schedule: which pipeline stage computes each node of a graph.

A core with ``n_stages == N >= 1`` has N stages, numbered 0 to N-1; each stage is
combinational logic followed by a register boundary, so the latency is N cycles.
Parameters are read in stage 0, straight from the request; outputs belong to stage
N-1 and leave through its registers. ``n_stages == 0`` is a purely combinational
core: every node is in stage 0 and no register is placed.

A value computed in stage ``s`` and used in stage ``t`` crosses the boundaries
``s, ..., t-1`` and is registered at each; a value sent to an output crosses every
boundary up to and including the last one. Constants are never registered.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir.graph import Graph
from ..ir.ranges import value_ranges
from .delay_model import DelayModel

__all__ = ["Schedule", "ScheduleError"]

#: Slack for comparing sums of float delays with a period.
EPSILON_NS = 1e-9


class ScheduleError(AssertionError):
    """A schedule breaks a rule: a compiler bug, never a user's mistake."""


@dataclass
class Schedule:
    """A pipeline schedule: node id -> stage, over :attr:`graph`."""

    #: The graph the schedule refers to (after any splitting of slow operations).
    graph: Graph
    #: Node id -> stage (0-based).
    stage: dict[int, int]
    #: The number of register boundaries, which is the latency in cycles.
    n_stages: int
    #: The clock the schedule was made for, if any.
    clock_mhz: float | None = None
    #: The target of the delay model it was made with.
    target: str | None = None
    #: The ``rom`` nodes read from block RAM through its register: the pipeline register
    #: after each one's stage is the block's (see :func:`.scheduler.block_rom_reads`).
    block_roms: frozenset[int] = frozenset()
    #: The XOR-linear nodes written as one balanced XOR tree of their cone's leaves per
    #: result bit (see :func:`.scheduler.xor_tree_nodes` and :mod:`fpgac.ir.affine`).
    xor_trees: frozenset[int] = frozenset()

    @property
    def latency(self) -> int:
        """Return the latency in cycles (the number of register boundaries)."""
        return self.n_stages

    @property
    def last_stage(self) -> int:
        """Return the stage of the outputs."""
        return max(self.n_stages - 1, 0)

    def nodes_in(self, stage: int) -> list[int]:
        """Return the ids of the nodes of ``stage``, in topological order."""
        return [i for i in self.graph.order() if self.stage[i] == stage]

    # -- checks -----------------------------------------------------------------------------

    def verify(self, graph: Graph | None = None) -> None:
        """Check that operands come no later than their users and outputs come last.

        Raise :class:`ScheduleError` on the first violation.
        """
        graph = self.graph if graph is None else graph
        if self.n_stages < 0:
            raise ScheduleError(f"{graph.name}: negative stage count {self.n_stages}")
        for node in graph:
            s = self.stage.get(node.id)
            if s is None:
                raise ScheduleError(f"{graph.name}: v{node.id} ({node.op}) has no stage")
            if not 0 <= s <= self.last_stage:
                raise ScheduleError(f"{graph.name}: v{node.id} ({node.op}) is in stage {s}, "
                                    f"outside 0..{self.last_stage}")
            if node.op == "param" and s != 0:
                raise ScheduleError(f"{graph.name}: param v{node.id} is in stage {s}, not 0")
            if node.op == "output" and s != self.last_stage:
                raise ScheduleError(f"{graph.name}: output v{node.id} is in stage {s}, "
                                    f"not the last stage {self.last_stage}")
            for o in node.operands:
                if self.stage[o] > s:
                    raise ScheduleError(f"{graph.name}: v{node.id} ({node.op}) in stage {s} "
                                        f"uses v{o} from the later stage {self.stage[o]}")
        extra = set(self.stage) - {n.id for n in graph}
        if extra:
            raise ScheduleError(f"{graph.name}: stages for nodes not in the graph: "
                                f"{sorted(extra)}")

    def arrival_times(self, graph: Graph | None, model: DelayModel) -> dict[int, float]:
        """Return, per node, the longest delay from its stage's start to its result (ns).

        With a LUT mapping in ``model``, bitwise cones are timed by their LUT depth
        (:mod:`.lut_timing`); otherwise each node adds its delay to its latest operand's.
        """
        graph = self.graph if graph is None else graph
        if model.lut_mapping is not None:
            timer = model.timer(graph, self.block_roms)
            for node in graph:
                timer.place(node.id, self.stage[node.id])
            return timer.arrival
        arrival: dict[int, float] = {}
        for node in graph:
            s = self.stage[node.id]
            start = max((arrival[o] for o in node.operands if self.stage[o] == s), default=0.0)
            arrival[node.id] = start + model.delay(node, graph)
        return arrival

    def stage_delays(self, graph: Graph | None, model: DelayModel) -> list[float]:
        """Return the longest combinational delay inside each stage (ns)."""
        graph = self.graph if graph is None else graph
        delays = [0.0] * (self.last_stage + 1)
        for node_id, t in self.arrival_times(graph, model).items():
            s = self.stage[node_id]
            delays[s] = max(delays[s], t)
        return delays

    def verify_timing(self, graph: Graph | None, period_ns: float, model: DelayModel) -> None:
        """Check that every stage's longest path fits ``period_ns`` minus the register overhead.

        Raise :class:`ScheduleError` naming the slowest path of the first stage that does not.
        """
        graph = self.graph if graph is None else graph
        budget = period_ns - model.register_overhead_ns
        arrival = self.arrival_times(graph, model)
        for s, delay in enumerate(self.stage_delays(graph, model)):
            if delay > budget + EPSILON_NS:
                end = max((i for i in arrival if self.stage[i] == s), key=arrival.get)
                path = self._critical_path(graph, model, arrival, end)
                raise ScheduleError(
                    f"{graph.name}: stage {s} needs {delay:.3f} ns, more than the "
                    f"{budget:.3f} ns a {period_ns:.3f} ns period leaves: "
                    + " -> ".join(f"v{i} ({graph[i].op})" for i in path))

    def _critical_path(self, graph, model, arrival, end) -> list[int]:
        if model.lut_mapping is not None:
            # Bit-level timing has no per-node delay to subtract: follow the latest operand.
            path = [end]
            while True:
                prev = [o for o in graph[path[-1]].operands
                        if self.stage[o] == self.stage[end] and graph[o].op != "const"]
                if not prev:
                    return path[::-1]
                path.append(max(prev, key=arrival.get))
        path = [end]
        while True:
            node = graph[path[-1]]
            start = arrival[node.id] - model.delay(node, graph)
            prev = [o for o in node.operands
                    if self.stage[o] == self.stage[end] and abs(arrival[o] - start) < 1e-9]
            if not prev or start <= 0:
                return path[::-1]
            path.append(prev[0])

    # -- costs ------------------------------------------------------------------------------

    def boundary_bits(self, graph: Graph | None = None) -> list[int]:
        """Return the register bits at each boundary (``n_stages`` numbers)."""
        graph = self.graph if graph is None else graph
        bits = [0] * self.n_stages
        if not self.n_stages:
            return bits
        ranges = value_ranges(graph)
        for node in graph:
            lo, hi = ranges[node.id]
            if node.op == "output" or lo == hi:  # an output is a wire; a constant needs none
                continue
            end = self.stage[node.id]
            for u in graph.users(node.id):
                end = max(end, self.n_stages if graph[u].op == "output" else self.stage[u])
            for b in range(self.stage[node.id], end):
                bits[b] += node.type.width
        return bits

    def register_bits(self, graph: Graph | None = None) -> int:
        """Return the pipeline register bits: each value's width once per boundary it crosses."""
        return sum(self.boundary_bits(graph))

    def estimated_fmax_mhz(self, graph: Graph | None, model: DelayModel) -> float:
        """Return the clock the model predicts: 1 / (register overhead + slowest stage).

        A stage of wiring alone counts as one LUT between registers (the ``logic``
        delay at width 1): no register-to-register path is faster than that.
        """
        graph = self.graph if graph is None else graph
        worst = max(self.stage_delays(graph, model), default=0.0)
        return 1000.0 / (model.register_overhead_ns + max(worst, model.key_delay("logic", 1)))

    def summary(self, model: DelayModel) -> dict:
        """Return the figures a report shows: latency, register bits, estimated Fmax."""
        return {
            "latency": self.n_stages,
            "register_bits": self.register_bits(),
            "estimated_fmax_mhz": round(self.estimated_fmax_mhz(None, model), 2),
            "clock_mhz": self.clock_mhz,
            "target": self.target,
        }
