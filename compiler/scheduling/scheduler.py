"""Pipeline scheduling: the fewest stages that fit a clock, then the fewest register bits.

The formulation is the SDC (system of difference constraints) one of XLS. Every
non-constant node ``v`` gets an integer stage ``s_v`` and, when it is a value worth
registering, a lifetime end ``L_v``; every constraint has the form
``x_j - x_i >= d``:

- dependencies: ``s_v - s_p >= 0`` for each operand ``p`` of ``v``;
- timing: ``s_v - s_u >= 1`` when the longest path from the start of ``u`` to the
  end of ``v`` exceeds the stage budget (clock period minus register overhead); only
  the first such ``v`` along each path from ``u`` is needed, the rest follow;
- parameters in stage 0, outputs in the last stage, every stage in ``0..N-1``;
- lifetimes: ``L_v - s_u >= 0`` for each user ``u``, and ``L_v - s_last >= 1`` when
  ``v`` feeds an output (it crosses the last boundary too).

The objective, the register bits, is ``sum(width_v * (L_v - s_v))``. A linear program
whose constraints are all difference constraints is the dual of a min-cost flow
(one flow node per variable, one arc per constraint, costed ``-d``; a variable's
objective coefficient is its demand), so networkx's network simplex solves it
exactly, and the stages are recovered as potentials: longest paths over the
constraints, with the arcs that carry flow held tight. Integer data give integer
stages.

The fewest stages for a budget come from as-soon-as-possible placement with
chaining, which is optimal here (no resource limits): each node takes the earliest
stage, and within it the earliest finish, that its operands allow.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter

import networkx as nx

from ..frontend.diagnostics import Diagnostic, FpgacError
from ..ir.graph import Graph
from ..ir.ranges import value_ranges
from ..ir.span import Span
from .delay_model import DelayModel
from .dsp import dsp_products, fuse_constant_products, limit_dsp_products, lut_cost
from .schedule import EPSILON_NS, Schedule
from .split import split_slow_ops
from .xor_cones import expand_deep_xor_cones

__all__ = ["schedule", "schedule_app", "ScheduleTooLarge", "asap_stages", "mapped_asap_stages", "registered_dsp_pairs",
           "block_rom_pairs", "block_rom_reads", "timing_constraints"]


class ScheduleTooLarge(Exception):
    """Splitting made a route's graph larger than the caller's ``max_operations``."""


def schedule_app(graphs: dict[str, Graph], *, model: DelayModel,
                 clock_mhz: float | None = None, stages: int | None = None,
                 dsp_budget: int | None = None,
                 route_clocks: dict[str, float] | None = None,
                 max_operations: dict[str, int] | None = None) -> dict[str, Schedule]:
    """Schedule every route of an app (path -> graph), sharing the device's DSP blocks.

    ``route_clocks`` schedules the routes it names for their own clocks instead of
    ``clock_mhz`` (timing closure asks a faster one of a route that routed too slow).
    ``max_operations`` limits the routes it names as :func:`schedule` does.

    The routes together use at most ``dsp_budget`` blocks (default: the device's count
    in the model). When their products need more, the products that would cost the
    most in LUTs keep blocks, across all routes, and the others become LUT logic
    (:func:`.dsp.limit_dsp_products`). Otherwise each route is scheduled as by
    :func:`schedule`.
    """
    route_clocks, limits = route_clocks or {}, max_operations or {}
    clocks = {path: route_clocks.get(path, clock_mhz) if stages is None else None
              for path in graphs}
    scheds = {path: schedule(g, model=model, clock_mhz=clocks[path], stages=stages,
                             max_operations=limits.get(path))
              for path, g in graphs.items()}
    if dsp_budget is None:
        dsp_budget = model.dsp.count if model.dsp is not None else None
    if dsp_budget is None:
        return scheds
    products = sorted((-lut_cost(n, s.graph), path, n.id)
                      for path, s in scheds.items() for n in dsp_products(s.graph, model))
    if len(products) <= dsp_budget:
        return scheds
    kept = Counter(path for _, path, _ in products[:max(dsp_budget, 0)])
    demand = Counter(path for _, path, _ in products)
    for path in scheds:
        if kept[path] < demand[path]:
            scheds[path] = schedule(graphs[path], model=model, clock_mhz=clocks[path],
                                    stages=stages, dsp_budget=kept[path],
                                    max_operations=limits.get(path))
    return scheds


def schedule(graph: Graph, *, model: DelayModel, clock_mhz: float | None = None,
             stages: int | None = None, dsp_budget: int | None = None,
             max_operations: int | None = None) -> Schedule:
    """Schedule ``graph`` into pipeline stages.

    With ``clock_mhz``: the fewest stages whose estimated delays fit the clock period,
    and among those the fewest pipeline register bits; operations slower than a whole
    stage are split first (:mod:`.split`), or reported as an :class:`FpgacError`.
    With ``stages=N``: exactly N stages (0: purely combinational), the slowest stage as
    fast as N stages allow, then the fewest register bits. With neither: the model's
    default clock. With a clock, on a target with DSP blocks, constant products that
    strength reduction turned into shifts and additions first become one
    multiplication again (:mod:`.dsp`). With ``dsp_budget``, at most that many products
    use DSP blocks; the others become shifts and additions. ``Schedule.graph`` is the
    graph the stages refer to: ``graph`` itself, or a rewritten copy when an operation
    was split or a product folded or moved to LUTs. With ``max_operations``, a
    rewritten graph with more operations raises :class:`ScheduleTooLarge` before it
    is scheduled (timing closure asks for no core many times larger than the last).
    """
    if clock_mhz is not None and stages is not None:
        raise ValueError("give `clock_mhz` or `stages`, not both")
    if stages is not None:
        if dsp_budget is not None:
            graph = limit_dsp_products(graph, model, dsp_budget)
        result = _schedule_stages(graph, model, stages)
        result.block_roms = block_rom_reads(graph, result.stage, result.n_stages, model)
        result.xor_trees = xor_tree_nodes(graph, result.stage, model, result.block_roms)
        return result
    if clock_mhz is None:
        clock_mhz = model.default_clock_mhz
    if not clock_mhz > 0:
        raise ValueError(f"the clock must be positive, not {clock_mhz!r} MHz")
    budget = model.stage_budget_ns(clock_mhz)
    if budget <= 0:
        raise _overhead_error(graph, model, clock_mhz)
    graph = fuse_constant_products(graph, model)
    graph = expand_deep_xor_cones(graph, model, budget)
    graph = split_slow_ops(graph, model, budget, clock_mhz=clock_mhz)
    if dsp_budget is not None:
        limited = limit_dsp_products(graph, model, dsp_budget)
        if limited is not graph:  # the new additions may need splitting in turn
            graph = split_slow_ops(limited, model, budget, clock_mhz=clock_mhz)
    if max_operations is not None and len(graph) > max_operations:
        raise ScheduleTooLarge(f"{len(graph)} operations after splitting, more than "
                               f"{max_operations}")
    if model.lut_mapping is None:
        delays = {node.id: model.delay(node, graph) for node in graph}
        asap, _ = asap_stages(graph, delays, budget)
        n = max(asap.values(), default=0) + 1
        stage = _min_register_schedule(graph, delays, budget, n)
    else:
        asap, delays = mapped_asap_stages(graph, model, budget)
        n = max(asap.values(), default=0) + 1
        stage = _mapped_min_register_schedule(graph, model, delays, budget, n, asap)
    block_roms = block_rom_reads(graph, stage, n, model)
    result = Schedule(graph, stage, n, clock_mhz=clock_mhz, target=model.target,
                      block_roms=block_roms,
                      xor_trees=xor_tree_nodes(graph, stage, model, block_roms))
    result.verify()
    result.verify_timing(None, 1000.0 / clock_mhz, model)
    return result


# --- fewest stages ------------------------------------------------------------------------


def asap_stages(graph: Graph, delays: dict[int, float],
                budget: float) -> tuple[dict[int, int], dict[int, float]]:
    """Place every node as early as possible: return its stage and its finish time in it.

    Constants take stage 0 and time 0: they are free wherever they are used.
    """
    stage: dict[int, int] = {}
    finish: dict[int, float] = {}
    for node in graph:
        ops = [o for o in node.operands if graph[o].op != "const"]
        s = max((stage[o] for o in ops), default=0)
        start = max((finish[o] for o in ops if stage[o] == s), default=0.0)
        if start + delays[node.id] > budget + EPSILON_NS:
            s, start = s + 1, 0.0
        stage[node.id] = s
        finish[node.id] = start + delays[node.id]
    return stage, finish


def mapped_asap_stages(graph: Graph, model: DelayModel,
                       budget: float) -> tuple[dict[int, int], dict[int, float]]:
    """Place every node as early as possible, bitwise cones timed by their LUT depth.

    Return each node's stage and its delay in that placement: how much later than its
    latest operand in the same stage it arrives. Summed along paths, these delays give
    the placement's arrival times again, which is what the register minimization needs.
    """
    timer = model.timer(graph)
    apart = set(registered_dsp_pairs(graph, model) + block_rom_pairs(graph, model))
    stage: dict[int, int] = {}
    delays: dict[int, float] = {}
    for node in graph:
        ops = [o for o in node.operands if graph[o].op != "const"]
        s = max((stage[o] + ((o, node.id) in apart) for o in ops), default=0)
        t = timer.place(node.id, s)
        # One stage later helps when an operand is computed in this stage, or comes from a
        # block's own register (slower than a fabric one) at this stage's start.
        if t > budget + EPSILON_NS and any(
                stage[o] == s or (stage[o] == s - 1 and (o, node.id) in apart) for o in ops):
            s += 1
            t = timer.place(node.id, s)
        stage[node.id] = s
        start = max((timer.arrival[o] for o in ops if stage[o] == s), default=0.0)
        delays[node.id] = max(0.0, t - start)
    return stage, delays


def registered_dsp_pairs(graph: Graph, model: DelayModel) -> list[tuple[int, int]]:
    """Return the pairs ``(u, v)`` a DSP block's own registers put in different stages.

    A product in a block with registers (ECP5's MULT18X18D, as the backend writes it)
    takes its operands from the previous stage's registers and gives its product to
    the next stage's: it is alone in its stage, its operands' logic before it and its
    users after it. (An output reads the product's register anyway.)
    """
    pairs = []
    for node in graph:
        if model.registered_dsp(node, graph):
            pairs += [(o, node.id) for o in node.operands if graph[o].op != "const"]
            pairs += [(node.id, u) for u in graph.users(node.id) if graph[u].op != "output"]
    return pairs


def block_rom_pairs(graph: Graph, model: DelayModel) -> list[tuple[int, int]]:
    """Return the pairs ``(rom, user)`` a block RAM's read register puts in different stages.

    A table in block RAM (:meth:`DelayModel.block_rom`) is read through the block's
    register: its address is computed in its stage, and its data is that stage's
    pipeline register, so every user is in a later stage. (An output reads the
    register anyway.)
    """
    return [(node.id, u) for node in graph if model.block_rom(node)
            for u in graph.users(node.id) if graph[u].op != "output"]


def block_rom_reads(graph: Graph, stage: dict[int, int], n_stages: int,
                    model: DelayModel) -> frozenset[int]:
    """Return the table reads of a schedule that the backend takes from block RAM.

    They are the tables the model puts in block RAM whose users are all in later
    stages (outputs aside): the block's read register is then the pipeline register
    after the read's stage. Any other table read is a ROM in LUTs.
    """
    if n_stages == 0:
        return frozenset()
    return frozenset(
        node.id for node in graph if model.block_rom(node)
        and all(stage[u] > stage[node.id] for u in graph.users(node.id)
                if graph[u].op != "output"))


def xor_tree_nodes(graph: Graph, stage: dict[int, int], model: DelayModel,
                   block_roms: frozenset[int]) -> frozenset[int]:
    """Return the nodes the backend writes as one balanced XOR tree per result bit.

    They are the XOR-linear nodes (:mod:`fpgac.ir.affine`) that the LUT timer found
    faster that way than as the program writes them, in their stages. A model without
    a LUT mapping times no cone, and leaves every node as written.
    """
    if model.lut_mapping is None:
        return frozenset()
    timer = model.timer(graph, block_roms)
    for node in graph:
        timer.place(node.id, stage[node.id])
    return frozenset(timer.xor_trees)


def _fits(graph: Graph, delays: dict[int, float], budget: float, n: int) -> bool:
    if any(d > budget + EPSILON_NS for d in delays.values()):
        return False
    asap, _ = asap_stages(graph, delays, budget)
    return max(asap.values(), default=0) + 1 <= n


def _schedule_stages(graph: Graph, model: DelayModel, n: int) -> Schedule:
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"the number of stages must be a whole number >= 0, not {n!r}")
    if n == 0:
        return Schedule(graph, {node.id: 0 for node in graph}, 0, target=model.target)
    if model.lut_mapping is None:
        delays = {node.id: model.delay(node, graph) for node in graph}
    else:  # each node's share of the LUT depth when the whole graph is one stage
        _, delays = mapped_asap_stages(graph, model, math.inf)
    # The smallest budget that n stages can meet is the delay of some path; search for it
    # by bisection, then read the exact value off the schedule it gives.
    _, finish = asap_stages(graph, delays, math.inf)
    lo, hi = max(delays.values(), default=0.0), max(finish.values(), default=0.0)
    if not _fits(graph, delays, lo, n):
        for _ in range(100):
            if hi - lo <= 1e-7:
                break
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if _fits(graph, delays, mid, n) else (mid, hi)
        _, finish = asap_stages(graph, delays, hi)
        lo = max(finish.values(), default=0.0)
    stage = _min_register_schedule(graph, delays, lo, n)
    result = Schedule(graph, stage, n, target=model.target)
    result.verify()
    return result


# --- fewest register bits -----------------------------------------------------------------


def timing_constraints(graph: Graph, delays: dict[int, float],
                       budget: float) -> list[tuple[int, int]]:
    """Return the pairs ``(u, v)`` that must be in different stages (``s_v >= s_u + 1``).

    ``v`` is a first node, along some path from ``u``, at which the path's delay
    (``u`` and ``v`` included) exceeds ``budget``; later nodes are implied.
    """
    position = {node_id: i for i, node_id in enumerate(graph.order())}
    pairs = []
    for node in graph:
        u = node.id
        if node.op in ("const", "output"):
            continue
        # Visit the cone of u in topological order, so a node's longest distance from u
        # is final when it is taken; stop at the first node beyond the budget.
        reach = {u: delays[u]}
        heap = [(position[u], u)]
        while heap:
            _, v = heapq.heappop(heap)
            if v != u and reach[v] > budget + EPSILON_NS:
                pairs.append((u, v))
                continue
            for w in graph.users(v):
                if w not in reach:
                    heapq.heappush(heap, (position[w], w))
                reach[w] = max(reach.get(w, 0.0), reach[v] + delays[w])
    return pairs


def _windows(graph: Graph, pairs: list[tuple[int, int]], n: int):
    """Return each non-constant node's earliest and latest stage under the constraints."""
    after: dict[int, list[int]] = {}
    before: dict[int, list[int]] = {}
    for u, v in pairs:
        after.setdefault(u, []).append(v)
        before.setdefault(v, []).append(u)
    order = [i for i in graph.order() if graph[i].op != "const"]
    earliest: dict[int, int] = {}
    for v in order:
        node = graph[v]
        earliest[v] = n - 1 if node.op == "output" else max(
            [earliest[o] for o in node.operands if graph[o].op != "const"]
            + [earliest[u] + 1 for u in before.get(v, ())], default=0)
    latest: dict[int, int] = {}
    for v in reversed(order):
        latest[v] = 0 if graph[v].op == "param" else min(
            [latest[u] for u in graph.users(v)] + [latest[w] - 1 for w in after.get(v, ())],
            default=n - 1)
        if earliest[v] > latest[v]:
            raise _Infeasible(f"v{v} has no stage in 0..{n - 1}")
    return earliest, latest


class _Infeasible(Exception):
    """The constraints leave some node no stage."""


def _mapped_min_register_schedule(graph: Graph, model: DelayModel, delays: dict[int, float],
                                  budget: float, n: int, asap: dict[int, int]) -> dict[int, int]:
    """Return the fewest-register stages under bit-level timing, checked and repaired.

    The register minimization sees each node's delay in the as-soon-as-possible
    placement. Moving a node across a boundary changes the LUT depths around it, so
    the result is timed again bit by bit; each stage that is too slow adds the
    constraint that its critical path's first and last nodes be in different stages,
    and the minimization runs again. If that does not converge, the as-soon-as-possible
    placement (which meets the budget by construction) is the schedule.
    """
    extra = registered_dsp_pairs(graph, model) + block_rom_pairs(graph, model)
    for _ in range(_REPAIR_ROUNDS):
        try:
            stage = _min_register_schedule(graph, delays, budget, n, extra)
        except (_Infeasible, nx.NetworkXUnfeasible):
            break
        timer = model.timer(graph)
        late: dict[int, int] = {}  # stage -> its first node that arrives too late
        for node in graph:
            if timer.place(node.id, stage[node.id]) > budget + EPSILON_NS:
                late.setdefault(stage[node.id], node.id)
        if not late:
            return stage
        for s, v in late.items():
            u = v
            while True:
                prev = [o for o in graph[u].operands
                        if graph[o].op != "const" and stage[o] == s]
                if not prev:
                    break
                u = max(prev, key=timer.arrival.get)
            if u == v:  # one node alone is too slow here: no constraint can help
                break
            extra.append((u, v))
        else:
            continue
        break
    stage = dict(asap)
    last = n - 1
    for node in graph:
        if node.op == "output":
            stage[node.id] = last
        elif node.op == "const":
            stage[node.id] = min((stage[u] for u in graph.users(node.id)), default=0)
    return stage


#: How many times the bit-level check may send the register minimization back.
_REPAIR_ROUNDS = 6


def _min_register_schedule(graph: Graph, delays: dict[int, float], budget: float,
                           n: int, extra: list[tuple[int, int]] = ()) -> dict[int, int]:
    """Return the stages of the schedule with ``n`` stages and the fewest register bits.

    ``extra`` holds more pairs ``(u, v)`` that must be in different stages.
    """
    if n <= 1:
        return {node.id: 0 for node in graph}
    ranges = value_ranges(graph)
    nodes = [node for node in graph if node.op != "const"]
    last = n - 1
    pairs = [(u, v) for u, v in timing_constraints(graph, delays, budget)
             if graph[v].op != "const"] + list(extra)
    earliest, latest = _windows(graph, pairs, n)
    # A node whose window is one stage wide is no variable: it is the zero variable plus
    # that stage, which keeps the flow problem small.
    zero, end = ("zero",), ("end",)
    fixed = {v: earliest[v] for v in earliest if earliest[v] == latest[v]}
    fixed[end] = last
    arcs: dict[tuple, int] = {}  # (i, j) -> d for x_j - x_i >= d; the largest d wins

    def need(i, j, d):
        d += fixed.get(i, 0) - fixed.get(j, 0)
        i, j = (zero if i in fixed else i), (zero if j in fixed else j)
        if i == j:
            assert d <= 0, "a fixed stage breaks a constraint"
        elif arcs.get((i, j), -math.inf) < d:
            arcs[(i, j)] = d

    demand: dict = {zero: 0}
    for node in nodes:
        v = node.id
        if v not in fixed:
            demand[v] = demand.get(v, 0)
            need(zero, v, earliest[v])
            need(v, end, -latest[v] + last)
        for o in node.operands:
            if graph[o].op != "const":
                need(o, v, 0)
        lo, hi = ranges[v]
        if node.op == "output" or lo == hi:
            continue  # wires and constants are never registered
        lifetime = ("life", v)
        users = graph.users(v)
        if not users:
            need(v, lifetime, 0)
        for u in users:
            if graph[u].op == "output":
                need(end, lifetime, 1)
            else:
                need(u, lifetime, 0)
        width = node.type.width
        demand[lifetime] = width
        source = zero if v in fixed else v
        demand[source] = demand.get(source, 0) - width
    for u, v in pairs:
        need(u, v, 1)

    flow_net = nx.DiGraph()
    for var, d in demand.items():
        flow_net.add_node(var, demand=d)
    for (i, j), d in arcs.items():
        flow_net.add_edge(i, j, weight=-d)
    _, flow = nx.network_simplex(flow_net)

    # Potentials: the least values meeting every constraint, with the arcs that carry
    # flow made tight (complementary slackness makes any such solution optimal).
    tight = nx.DiGraph()
    tight.add_nodes_from(flow_net)

    def tighten(i, j, weight):  # x_j <= x_i + weight, in shortest-path terms; keep the least
        if not tight.has_edge(i, j) or tight[i][j]["weight"] > weight:
            tight.add_edge(i, j, weight=weight)

    for (i, j), d in arcs.items():
        tighten(i, j, -d)
        if flow[i][j] > 0:
            tighten(j, i, d)
    distance = nx.single_source_bellman_ford_path_length(tight, zero)
    base = -distance[zero]
    stage = {node.id: fixed[node.id] if node.id in fixed else -distance[node.id] - base
             for node in nodes}
    for node in graph:
        if node.op == "const":
            users = [stage[u] for u in graph.users(node.id) if u in stage]
            stage[node.id] = min(users, default=0)
    return stage


def _overhead_error(graph: Graph, model: DelayModel, clock_mhz: float) -> FpgacError:
    spans = [node.span for node in graph if node.span is not None]
    span = spans[0] if spans else Span(graph.name, 0, 0, 0, 0)
    fastest = 1000.0 / model.register_overhead_ns
    return FpgacError([Diagnostic(span, (
        f"a {clock_mhz:g} MHz clock has a {1000.0 / clock_mhz:.2f} ns period, shorter than "
        f"the {model.register_overhead_ns:.2f} ns a register alone needs on `{model.target}`; "
        f"use `--clock-mhz` below {fastest:.0f}"))])

