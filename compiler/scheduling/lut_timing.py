"""The delay of bitwise logic as synthesis maps it: LUT levels by cuts, bit by bit.

Synthesis (yosys's ``abc9``) does not build one LUT per bitwise operation: it maps
whole cones of bitwise logic (``and or xor not``, shifts, rotations and slices by
constants, ``concat``, ``mux``, ``select``, ``==`` and ``!=``) into k-input LUTs,
choosing for every output bit a cut of at most k signals it depends on. A chain of
XORs of 16 bits costs two LUT levels, not fifteen; a mux whose two choices are the
same bit costs nothing. Charging each operation a LUT level would make a cone of
shifts and XORs look many times slower than it routes, and so pipeline it many
times deeper than needed.

:class:`LutTimer` models this bit by bit. Every result bit of a bitwise node is a
constant, another bit (a wire, possibly inverted: an inversion folds into the LUT
reading it), or a gate of two or three earlier bits. Gates get *priority cuts*, as
in abc's mapper: sets of at most ``k`` earlier signals that determine the gate,
each with the latest arrival among its signals; a gate's arrival is its best cut's
plus one LUT level. Only the few best cuts per gate are kept, so the estimate is a
structural one, like the mapper's: a cone that is a balanced tree gets about
``log_k`` of its support in levels, a long chain about its length over what one LUT
can absorb.

A table read in LUTs (``rom``) is a function of its index bits per result bit: a
gate of them when they fit one LUT (so it merges with the logic around it), else
the model's LUT levels for that many index bits after the latest of them. A table in
block RAM is read through the block's register: its address must arrive by the end
of its stage (plus the block's setup), and its data arrives in the next stage a
little later than a fabric register's (``register_delay``).

Every other operation (additions, comparisons in carry chains, products, dividers,
counts, shifts by a variable amount) keeps its fitted delay from the model:
it starts when its last operand bit arrives, and its result bits are new signals
arriving when it finishes. Stage boundaries cut the cones: a value from an earlier
stage is a register, whose bits are new signals that arrive at the register's
clock-to-out (the model's ``first_level_ns - level_ns``, so that one LUT right
after a register costs ``first_level_ns``, as measured). A register that a block
(a DSP's product, a block RAM's data) provides right at the end of its node's stage
arrives ``register_delay(node)`` later; copies in later stages are fabric registers.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable, Sequence

from ..ir.affine import AffineForms
from ..ir.bits import BIT_LEVEL_OPS, is_bit_level, node_bits, reduce_balanced
from ..ir.graph import Graph, Node
from ..ir.ops import OPS

__all__ = ["LutTimer", "BIT_LEVEL_OPS", "is_bit_level", "rom_bit_functions"]

#: The constant bits; other signals are ``2 * id + inverted``.
ZERO, ONE = -2, -1
#: How many cuts each gate keeps (abc keeps 8 priority cuts; a few are enough here).
CUTS_KEPT = 6


@functools.lru_cache(maxsize=64)
def rom_bit_functions(values: tuple[int, ...],
                      width: int) -> tuple[tuple[str, tuple[int, ...], int], ...]:
    """Return, per result bit of a table, what function of the index bits it is.

    Each is ``(kind, support, constant)``: ``support`` the index bits it depends on
    (entries past the table read as 0, as the hardware gives 0 there); ``kind`` is
    ``"affine"`` when the bit is ``constant`` XOR the XOR of its support bits (a CRC
    table's bits are), else ``"any"``.
    """
    used = max(1, (len(values) - 1).bit_length())
    mask = (1 << width) - 1
    table = [v & mask for v in values] + [0] * ((1 << used) - len(values))
    result = []
    for b in range(width):
        column = [v >> b & 1 for v in table]
        support = tuple(j for j in range(used)
                        if any(column[i] != column[i | 1 << j]
                               for i in range(len(column)) if not i >> j & 1))
        base = column[0]
        flips = [column[1 << j] ^ base for j in range(used)]
        affine = all(column[i] == base ^ _parity(i, flips) for i in range(len(column)))
        result.append(("affine" if affine else "any", support, base))
    return tuple(result)


def _parity(i: int, flips: list[int]) -> int:
    parity = 0
    for j, flip in enumerate(flips):
        if i >> j & 1:
            parity ^= flip
    return parity


def _flip(signal: int) -> int:
    """Return the inverse of ``signal``."""
    if signal < 0:
        return ONE if signal == ZERO else ZERO
    return signal ^ 1


class LutTimer:
    """Arrival times of a graph's nodes, bitwise cones mapped into LUTs, stage by stage.

    ``stage_of(node_id)`` gives the stage of each node already placed; nodes are
    placed in topological order with :meth:`place`, which returns the node's arrival
    (ns after its stage's clock edge; a wire of a register arrives at 0).
    ``op_delay(node)`` gives the fitted delay of an operation that is not bit-level.
    """

    def __init__(self, graph: Graph, *, inputs: int, level_ns: float, first_level_ns: float,
                 op_delay: Callable[[Node], float], chained_add_ns: float | None = None,
                 register_delay: Callable[[Node], float] = lambda node: 0.0,
                 rom_levels: Callable[[int], float] | None = None,
                 in_block_ram: Callable[[int], bool] = lambda node_id: False,
                 block_setup_ns: float = 0.0):
        self.graph = graph
        self.k = inputs
        self.level_ns = level_ns
        #: When a register's bits arrive: one LUT after them costs ``first_level_ns``.
        self.register_ns = min(0.0, first_level_ns - level_ns)
        self.op_delay = op_delay
        self.chained_add_ns = chained_add_ns
        self.register_delay = register_delay
        #: The LUT levels of a table in LUTs, by index bits (default: one per bit beyond k).
        self.rom_levels = rom_levels or (lambda bits: 1.0 + max(0, bits - inputs))
        #: Whether a ``rom`` node is read from block RAM through its register, and the
        #: address's setup there.
        self.in_block_ram = in_block_ram
        self.block_setup_ns = block_setup_ns
        #: Block-RAM reads that can fall outside their table: per node, whether its data is
        #: and-ed with a registered in-range bit in the stage after the read.
        self._guarded: set[int] = set()
        #: Per signal id of a bit of an addition's result: the bit's position in it.
        self._sum_bit: dict[int, int] = {}
        self.stage: dict[int, int] = {}
        #: Per placed node: its arrival (ns, never negative) and its bits in its stage.
        self.arrival: dict[int, float] = {}
        self._bits: dict[int, tuple[int, ...]] = {}
        #: Per signal id: its arrival and its cuts (leaf ids, latest leaf arrival).
        self._time: list[float] = []
        self._cuts: list[list[tuple[frozenset[int], float]]] = []
        self._registers: dict[tuple[int, int], tuple[int, ...]] = {}
        #: The XOR forms of the nodes in their stages (:mod:`fpgac.ir.affine`), and the
        #: nodes that are faster as one balanced XOR tree per bit than as written.
        self.affine = AffineForms(graph)
        self.xor_trees: set[int] = set()
        self._tree_times: dict[tuple, float] = {}

    #: The constant bits, for :func:`fpgac.ir.bits.node_bits`.
    zero, one = ZERO, ONE

    # -- signals ----------------------------------------------------------------------------

    def _new(self, time: float, cuts=()) -> int:
        self._time.append(time)
        self._cuts.append(list(cuts))
        return 2 * (len(self._time) - 1)

    def signal_time(self, signal: int) -> float:
        """Return when ``signal`` arrives (constants: never later than anything)."""
        return -math.inf if signal < 0 else self._time[signal >> 1]

    def _finish(self, signal: int) -> float:
        """Return when ``signal`` is ready: a gate's time, an operation's result's finish."""
        if signal < 0:
            return 0.0
        i = signal >> 1
        return self._time[i] if self._cuts[i] else self._time[i] - self.register_ns

    def _gate(self, inputs: Sequence[int]) -> int:
        """Return a gate of ``inputs`` (non-constant signals of distinct ids, two or more)."""
        ids = sorted({s >> 1 for s in inputs})
        if len(ids) == 1:  # an inversion or a copy, which folds into the reading LUT
            return 2 * ids[0]
        partial: list[tuple[frozenset[int], float]] = [(frozenset(), -math.inf)]
        for i in ids:
            own = [(frozenset((i,)), self._time[i])] + self._cuts[i]
            merged: dict[frozenset[int], float] = {}
            for leaves, t in partial:
                for more, u in own:
                    cut = leaves | more
                    if len(cut) <= self.k:
                        w = max(t, u)
                        if merged.get(cut, math.inf) > w:
                            merged[cut] = w
            partial = sorted(merged.items(), key=lambda c: (c[1], len(c[0])))[:4 * CUTS_KEPT]
        best = partial[:CUTS_KEPT]
        return self._new(best[0][1] + self.level_ns, best)

    def and_(self, a: int, b: int) -> int:
        if a == ZERO or b == ZERO or a == _flip(b):
            return ZERO
        if a == ONE or a == b:
            return b
        if b == ONE:
            return a
        return self._gate((a, b))

    def xor(self, a: int, b: int) -> int:
        if a < 0 and b < 0:
            return ZERO if a == b else ONE
        if a < 0 or b < 0:
            const, other = (a, b) if a < 0 else (b, a)
            return other if const == ZERO else _flip(other)
        if a == b:
            return ZERO
        if a == _flip(b):
            return ONE
        return self._gate((a, b))

    def or_(self, a: int, b: int) -> int:
        return _flip(self.and_(_flip(a), _flip(b)))

    def flip(self, a: int) -> int:
        return _flip(a)

    def mux(self, sel: int, f: int, t: int) -> int:
        if sel < 0:
            return t if sel == ONE else f
        if f == t:
            return f
        return self._gate([s for s in (sel, f, t) if s >= 0])

    # -- nodes ------------------------------------------------------------------------------

    def _operand_bits(self, operand: int, stage: int) -> tuple[int, ...]:
        node = self.graph[operand]
        if node.op == "const":
            value, width = node["value"], node.type.width
            return tuple(ONE if value >> i & 1 else ZERO for i in range(width))
        if self.stage[operand] == stage:
            return self._bits[operand]
        key = (operand, stage)
        if key not in self._registers:
            # Only the register right after the node's stage can be a block's own; the
            # copies in later stages are fabric registers.
            own = stage == self.stage[operand] + 1
            t = self.register_ns + (self.register_delay(node) if own else 0.0)
            bits = tuple(self._new(t) for _ in range(node.type.width))
            if own and operand in self._guarded:  # 0 outside the table: a registered flag
                inside = self._new(self.register_ns)
                bits = tuple(self.and_(b, inside) for b in bits)
            self._registers[key] = bits
        return self._registers[key]

    def place(self, node_id: int, stage: int) -> float:
        """Place ``node_id`` in ``stage`` (its operands are placed); return its arrival."""
        node = self.graph[node_id]
        self.stage[node_id] = stage
        if node.op in ("const", "param"):
            self._bits[node_id] = self._operand_bits(node_id, stage) if node.op == "const" \
                else tuple(self._new(self.register_ns) for _ in range(node.type.width))
            self.arrival[node_id] = 0.0
            return 0.0
        operands = [self._operand_bits(o, stage) for o in node.operands]
        signed = [getattr(self.graph[o].type, "signed", False) for o in node.operands]
        if node.op == "rom":
            bits, arrival = self._rom(node, operands[0], signed[0])
        elif is_bit_level(node, self.graph):
            bits = node_bits(node, self.graph, operands, signed, self)
            arrival = max((self._finish(s) for s in bits), default=0.0)
            forms = self.affine.place(node_id, stage, self.stage.__getitem__)
            self.xor_trees.discard(node_id)
            if forms is not None and any(len(leaves) > 1 for leaves, _ in forms):
                trees = self._xor_trees(forms, stage, arrival)
                if trees is not None:
                    bits, arrival = trees
                    self.xor_trees.add(node_id)
        else:
            signals = [s for bits in operands for s in bits if s >= 0]
            latest = max(signals, key=self._finish, default=ZERO)
            start = max(self._finish(latest), 0.0)
            delay = self.op_delay(node)
            key = OPS[node.op].delay_key
            if (key in ("add", "compare") and self.chained_add_ns is not None
                    and latest >> 1 in self._sum_bit and self._aligned_sums(operands)):
                # It reads additions' sums bit for bit, unshifted: synthesis merges them into
                # one multi-operand adder, and each adds little to the first one's delay.
                delay = min(delay, self.chained_add_ns)
            arrival = start + delay
            # The fitted delay holds the routing out of the operation, which is also the
            # routing into a LUT reading it: such a LUT costs what one after a register does.
            bits = tuple(self._new(arrival + self.register_ns) for _ in range(node.type.width))
            if key == "add":
                self._sum_bit.update((b >> 1, i) for i, b in enumerate(bits))
        self._bits[node_id] = bits
        self.arrival[node_id] = max(arrival, 0.0)
        return self.arrival[node_id]

    def _xor_trees(self, forms, stage: int,
                   written: float) -> tuple[tuple[int, ...], float] | None:
        """Return a node's bits as balanced XOR trees of its forms' leaves, and their arrival.

        ``None`` when that arrives no earlier than ``written``, the node as written.
        """
        leaf_bits = {o: self._operand_bits(o, stage) for leaves, _ in forms for o, _ in leaves}
        per_bit = []
        for leaves, constant in forms:
            signals = [s for s in (leaf_bits[o][i] for o, i in leaves) if s >= 0]
            if len(signals) <= 1:  # a constant or a wire
                per_bit.append((signals, constant, self._finish(signals[0]) if signals else 0.0))
            else:
                t = self._tree_time([self._time[s >> 1] for s in signals])
                per_bit.append((signals, constant, t))
        arrival = max((t for _, _, t in per_bit), default=0.0)
        if arrival >= written - 1e-9:
            return None
        bits = []
        for signals, constant, t in per_bit:
            if not signals:
                bit = ZERO
            elif len(signals) == 1:
                bit = signals[0]
            else:  # the tree's last LUT, over (at most) k inputs that arrive a level earlier
                inputs = frozenset(self._new(t - self.level_ns) >> 1
                                   for _ in range(min(self.k, len(signals))))
                bit = self._new(t, [(inputs, t - self.level_ns)])
            bits.append(_flip(bit) if constant else bit)
        return tuple(bits), arrival

    def _tree_time(self, times: list[float]) -> float:
        """Return when a balanced tree of k-input LUTs over leaves arriving at ``times`` is done.

        The tree exists when the leaves can sit at depths ``d_i <= (T - t_i) / level``
        with ``sum(k ** -d_i) <= 1`` (Kraft's inequality); the earliest such ``T`` is one
        of the leaves' times plus whole levels.
        """
        key = tuple(sorted(Counter(times).items()))
        known = self._tree_times.get(key)
        if known is not None:
            return known
        level, k = self.level_ns, self.k
        latest = key[-1][0]
        n = sum(c for _, c in key)
        span = math.ceil((latest - key[0][0]) / level) + math.ceil(math.log(n, k)) + 2
        candidates = sorted({t + m * level for t, _ in key for m in range(1, span + 1)
                             if t + m * level >= latest + level - 1e-9})
        for total in candidates:
            if sum(c * k ** -math.floor((total - t) / level + 1e-9) for t, c in key) <= 1 + 1e-12:
                break
        self._tree_times[key] = total
        return total

    def _aligned_sums(self, operands) -> bool:
        """Return whether every sum bit among ``operands`` is read at its own position."""
        return all(self._sum_bit.get(s >> 1, i) == i
                   for bits in operands for i, s in enumerate(bits) if s >= 0)

    def _rom(self, node: Node, index: tuple[int, ...],
             signed: bool) -> tuple[tuple[int, ...], float]:
        """Return the bits of a table read and its arrival.

        In LUTs each result bit is a function of the index bits it depends on (its
        support, read off the table: :func:`rom_bit_functions`): a constant, an XOR of
        them when the bit is affine in them (as in a CRC table), one LUT when they fit
        one, else the model's LUT levels for that many inputs after the latest of them.
        It is and-ed with "the index is in the table" when the index can be outside (its
        higher bits, or its sign, must be zero). In block RAM, the node arrives when its
        address (and that flag) must be there; its bits are the block's register, in the
        next stage.
        """
        entries = len(node["values"])
        used = max(1, (entries - 1).bit_length())
        low = list(index[:used]) + [ZERO] * (used - len(index))
        guard = [s for s in index[used:] if s >= 0]
        if signed and len(index) <= used and index and index[-1] >= 0:
            guard.append(index[-1])
        if self.in_block_ram(node.id):
            if guard:
                self._guarded.add(node.id)
            ready = max((self._finish(s) for s in low + guard if s >= 0), default=0.0)
            arrival = max(ready, 0.0) + self.block_setup_ns
            # Not read in this stage (the schedule puts its users later): opaque bits.
            bits = tuple(self._new(arrival + self.register_ns) for _ in range(node.type.width))
            return bits, arrival
        bits = []
        for kind, support, constant in rom_bit_functions(tuple(node["values"]),
                                                         node.type.width):
            inputs = [low[j] for j in support]
            if kind == "affine":
                value = reduce_balanced(inputs or [ZERO], self.xor)
                bits.append(_flip(value) if constant else value)
                continue
            inputs = [s for s in inputs if s >= 0]
            ids = sorted({s >> 1 for s in inputs})
            if len(ids) <= 1:  # a constant entry bit's function of one bit: a wire
                bits.append(inputs[0] if inputs else ZERO)
            elif len(ids) <= self.k:
                bits.append(self._gate(inputs))
            else:
                start = max(self._time[i] for i in ids)
                t = start + self.rom_levels(len(ids)) * self.level_ns
                bits.append(self._new(t, [(frozenset(ids), start)]))
        if guard:
            inside = _flip(reduce_balanced(guard, self.or_))
            bits = [self.and_(b, inside) for b in bits]
        bits = tuple(bits)
        return bits, max((self._finish(s) for s in bits), default=0.0)
