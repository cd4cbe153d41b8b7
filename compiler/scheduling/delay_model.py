"""Per-target delay models: fitted formulas of operand width, read from JSON data files.

A model holds, per delay key of the op table, a formula ``delay(w)`` in ns, where
``w`` is the width the key depends on (:meth:`DelayModel.width_of`), plus the
register overhead (clock-to-out + setup). A stage's period is estimated as the
register overhead plus the sum of the delays along its longest path. The numbers
come from ``benchmarks/characterize_delays.py``, which measures each key at several
widths with yosys + nextpnr and fits the formula; ``docs/scheduling.md`` gives the fits.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ..ir.graph import Graph, Node
from ..ir.ops import OPS
from .lut_timing import LutTimer, is_bit_level, rom_bit_functions

__all__ = ["BlockRam", "DelayModel", "DspBlock", "LutMapping", "OpDelay", "TARGETS"]

#: The targets that ship a model.
TARGETS = ("ice40", "ecp5", "generic")

_FAMILIES = {
    "linear": lambda w, c: c[0] + c[1] * w,
    "log2": lambda w, c: c[0] + c[1] * math.log2(w),
    "quadratic": lambda w, c: c[0] + c[1] * w + c[2] * w * w,
}

#: Bitwise ops whose result bits are each an operand bit, its inverse or a constant
#: when one operand is a constant: wiring, and inversions that fold into the LUT
#: reading them.
_WIRING_WITH_CONST = frozenset({"and", "or", "xor"})
#: Shifts and rotations by a constant amount are wiring.
_SHIFTS = frozenset({"shl", "shr", "rotl", "rotr"})


@dataclass(frozen=True)
class OpDelay:
    """One fitted formula: ``family`` of ``w`` with ``coeffs`` (ns)."""

    formula: str
    coeffs: tuple[float, ...]
    fit: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self):
        assert self.formula in _FAMILIES, f"unknown delay formula {self.formula!r}"

    def __call__(self, width: int) -> float:
        """Return the delay at ``width`` in ns (never negative)."""
        return max(0.0, _FAMILIES[self.formula](max(width, 1), self.coeffs))


@dataclass(frozen=True)
class DspBlock:
    """A hard multiplier: the products synthesis maps to it and its delay.

    A ``mul`` goes to one block when each operand fits ``a_width`` by ``b_width``
    bits (either way round) as synthesis sees it: Amaranth multiplies a signed by
    an unsigned operand as signed, so the unsigned one takes a bit more; and when
    its result has at least ``min_result_width`` bits (smaller products stay in
    LUTs). ``delay_ns`` is the block's combinational delay with the routing into
    and out of it. A ``registered`` block takes its operands and gives its product
    through its own registers: such a product gets a stage of its own, its operands
    computed in earlier stages and its users in later ones.
    """

    name: str
    a_width: int
    b_width: int
    delay_ns: float
    min_result_width: int = 0
    registered: bool = False
    #: How many blocks the device has, for the whole app.
    count: int | None = None
    #: How much later than a fabric register's a registered block's product reaches
    #: the logic after it (a longer clock-to-out and the routing out of the block).
    output_ns: float = 0.0

    def fits(self, a_width: int, a_signed: bool, b_width: int, b_signed: bool,
             result_width: int) -> bool:
        """Return whether a product of these operands is one block."""
        if result_width < self.min_result_width:
            return False
        if a_signed != b_signed:  # the unsigned operand is extended by a sign bit
            a_width += not a_signed
            b_width += not b_signed
        return ((a_width <= self.a_width and b_width <= self.b_width)
                or (a_width <= self.b_width and b_width <= self.a_width))


@dataclass(frozen=True)
class BlockRam:
    """A block RAM that holds a large table as a ROM read through its own register.

    A table of at least ``min_bits`` bits (entries times the entry's width) is a
    block-RAM ROM: its address is computed in a stage, and the data is registered by
    the block at that stage's boundary (a registered read), so its users are in later
    stages. ``output_ns`` is how much later than a fabric register's the read data
    reaches the logic after it (the block's clock-to-out and the routing out of it);
    ``setup_ns`` how much earlier than a fabric register's input the address must be
    there. ``bits`` is one block's size; ``count`` the device's blocks.
    """

    name: str
    bits: int
    min_bits: int
    output_ns: float = 0.0
    setup_ns: float = 0.0
    count: int | None = None


@dataclass(frozen=True)
class LutMapping:
    """How synthesis maps bitwise logic: ``inputs``-input LUTs, ``level_ns`` per level.

    ``first_level_ns`` is one LUT straight after a register (its input needs no
    routing hop of its own). With a mapping, the delay of bitwise cones follows
    their LUT depth (:mod:`.lut_timing`) instead of a formula per operation.

    A table in LUTs (a ``rom``) whose index has ``k`` bits is a ``k``-input function
    per result bit: one LUT level up to ``rom_free_bits`` index bits, then
    ``rom_levels_per_bit`` more levels per further index bit (:meth:`rom_levels`;
    fitted to measured random tables).
    """

    inputs: int
    level_ns: float
    first_level_ns: float
    rom_free_bits: int = 4
    rom_levels_per_bit: float = 1.0

    def rom_levels(self, index_bits: int) -> float:
        """Return the LUT levels of a table in LUTs with ``index_bits`` index bits."""
        return 1.0 + self.rom_levels_per_bit * max(0, index_bits - self.rom_free_bits)


@dataclass(frozen=True)
class DelayModel:
    """The delays of one target, in ns."""

    target: str
    register_overhead_ns: float
    lut_level_ns: float
    ops: dict[str, OpDelay]
    default_clock_mhz: float = 100.0
    device: str = ""
    #: The target's hard multiplier, if synthesis maps products to one.
    dsp: DspBlock | None = None
    #: How bitwise logic maps into LUTs; without it, each bitwise op costs its formula.
    lut_mapping: LutMapping | None = None
    #: The delay of an addition or comparison chained behind an addition in the same
    #: stage: its carry chain ripples right behind the first one (bit-level timing only).
    chained_add_ns: float | None = None
    #: The target's block RAM, if large tables become block-RAM ROMs.
    block_ram: BlockRam | None = None
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # -- loading ----------------------------------------------------------------------------

    @classmethod
    def load(cls, target: str) -> DelayModel:
        """Load the model shipped for ``target`` (``ice40``, ``ecp5`` or ``generic``)."""
        if target not in TARGETS:
            raise ValueError(f"unknown target `{target}`; the targets are "
                             + ", ".join(f"`{t}`" for t in TARGETS))
        text = resources.files(__package__).joinpath("models", f"{target}.json").read_text()
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> DelayModel:
        """Load a model from a JSON file."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DelayModel:
        """Build a model from its JSON form."""
        ops = {key: OpDelay(op["formula"], tuple(op["coeffs"]), op.get("fit", {}))
               for key, op in data["ops"].items()}
        dsp = data.get("dsp")
        if dsp is not None:
            dsp = DspBlock(dsp["name"], dsp["a_width"], dsp["b_width"], dsp["delay_ns"],
                           dsp.get("min_result_width", 0), dsp.get("registered", False),
                           dsp.get("count"), dsp.get("output_ns", 0.0))
        luts = data.get("lut_mapping")
        if luts is not None:
            luts = LutMapping(luts["inputs"], luts["level_ns"], luts["first_level_ns"],
                              luts.get("rom_free_bits", luts["inputs"]),
                              luts.get("rom_levels_per_bit", 1.0))
        ram = data.get("block_ram")
        if ram is not None:
            ram = BlockRam(ram["name"], ram["bits"], ram["min_bits"], ram.get("output_ns", 0.0),
                           ram.get("setup_ns", 0.0), ram.get("count"))
        return cls(target=data["target"], register_overhead_ns=data["register_overhead_ns"],
                   lut_level_ns=data["lut_level_ns"], ops=ops,
                   default_clock_mhz=data.get("default_clock_mhz", 100.0),
                   device=data.get("device", ""), dsp=dsp, lut_mapping=luts,
                   chained_add_ns=data.get("chained_add_ns"), block_ram=ram, data=data)

    # -- delays -----------------------------------------------------------------------------

    def stage_budget_ns(self, clock_mhz: float) -> float:
        """Return the logic delay one stage may have at ``clock_mhz``."""
        return 1000.0 / clock_mhz - self.register_overhead_ns

    def key_delay(self, key: str, width: int) -> float:
        """Return the delay of delay key ``key`` at width ``width``, in ns."""
        op = self.ops.get(key)
        if op is None:  # a key the model was not fitted for: one LUT level per use
            return self.lut_level_ns
        return op(width)

    @staticmethod
    def width_of(node: Node, graph: Graph) -> int:
        """Return the width the delay of ``node`` depends on.

        ``add``: the result width (the carry chain's length). ``mul``, ``div``,
        ``logic``, ``compare``: the widest operand. ``shift``: the wider of the shifted
        operand and the result. ``mux``: the number of choices (2 for ``mux``).
        ``rom``: the index bits that select an entry. ``popcount``, ``priority``: the
        counted width.
        """
        key = OPS[node.op].delay_key
        widths = [graph[o].type.width for o in node.operands]
        if key == "add":
            return node.type.width
        if key == "shift":
            return max(widths[0], node.type.width)
        if key == "mux":
            return 2 if node.op == "mux" else len(node.operands) - 1
        if key == "rom":
            entries = len(node["values"])
            return max(1, min(widths[0], (entries - 1).bit_length()))
        if key in ("popcount", "priority"):
            return node["width"]
        return max(widths)

    def maps_to_dsp(self, node: Node, graph: Graph) -> bool:
        """Return whether ``node`` is a product that synthesis puts in one hard multiplier."""
        if node.op != "mul" or self.dsp is None:
            return False
        if any(graph[o].op == "const" and graph[o]["value"] in (0, 1) for o in node.operands):
            return False  # folded away
        a, b = (graph[o].type for o in node.operands)
        if min(a.width, b.width) < 2:
            return False  # yosys's mul2dsp leaves a product by one bit to LUTs: an AND
        return self.dsp.fits(a.width, getattr(a, "signed", False), b.width,
                             getattr(b, "signed", False), node.type.width)

    def timer(self, graph: Graph, block_roms: Collection[int] | None = None) -> LutTimer:
        """Return a :class:`LutTimer` of ``graph`` under this model (which has a LUT mapping).

        ``block_roms`` are the ``rom`` nodes read from block RAM, through its register;
        by default every table this model puts in block RAM (:meth:`block_rom`).
        """
        assert self.lut_mapping is not None, f"`{self.target}` has no LUT mapping"
        m = self.lut_mapping
        if block_roms is None:
            def in_block_ram(node_id: int) -> bool:
                return self.block_rom(graph[node_id])
        else:
            block_roms = frozenset(block_roms) if self.block_ram is not None else frozenset()

            def in_block_ram(node_id: int) -> bool:
                return node_id in block_roms

        def register_delay(node: Node) -> float:
            if in_block_ram(node.id):
                return self.block_ram.output_ns
            return self.dsp.output_ns if self.registered_dsp(node, graph) else 0.0

        return LutTimer(graph, inputs=m.inputs, level_ns=m.level_ns,
                        first_level_ns=m.first_level_ns,
                        op_delay=lambda node: self.op_delay(node, graph),
                        chained_add_ns=self.chained_add_ns,
                        register_delay=register_delay, rom_levels=m.rom_levels,
                        in_block_ram=in_block_ram,
                        block_setup_ns=self.block_ram.setup_ns if self.block_ram else 0.0)

    def block_rom(self, node: Node) -> bool:
        """Return whether ``node`` reads a table that this target keeps in block RAM.

        That is a table of at least the block RAM's ``min_bits`` (its entries times the
        width of the value read) that is not cheap logic: a table whose every bit is an
        XOR of index bits (a CRC table) or a function of at most one LUT's inputs stays
        in LUTs whatever its size, where it is small and fast.
        """
        if node.op != "rom" or self.block_ram is None:
            return False
        values, width = tuple(node["values"]), node.type.width
        if len(values) * width < self.block_ram.min_bits:
            return False
        inputs = self.lut_mapping.inputs if self.lut_mapping is not None else 4
        return not all(kind == "affine" or len(support) <= inputs
                       for kind, support, _ in rom_bit_functions(values, width))

    def registered_dsp(self, node: Node, graph: Graph) -> bool:
        """Return whether ``node`` is a product in a DSP block with its own registers."""
        return self.dsp is not None and self.dsp.registered and self.maps_to_dsp(node, graph)

    def delay(self, node: Node, graph: Graph) -> float:
        """Return the estimated delay of ``node`` alone, its operands registered (ns).

        With a LUT mapping, a bitwise node or a table costs the LUT levels of its own bits
        (:mod:`.lut_timing`; a table in block RAM, its address's setup); otherwise, and for
        every other op, its formula.
        """
        if self.lut_mapping is not None and (is_bit_level(node, graph) or node.op == "rom"):
            timer = self.timer(graph)
            for o in node.operands:
                # Fabric registers: a block's own output register (a DSP's, a block RAM's)
                # is slower, but a node can always be put a stage further from it.
                timer.stage[o] = -2
            return timer.place(node.id, 0)
        return self.op_delay(node, graph)

    def op_delay(self, node: Node, graph: Graph) -> float:
        """Return the delay of ``node`` by its key's formula, in ns (0 for wiring)."""
        key = OPS[node.op].delay_key
        if key is None or node.op == "not":  # an inversion folds into the LUT reading it
            return 0.0
        if node.op in _SHIFTS and graph[node.operands[1]].op == "const":
            return 0.0
        if node.op in _WIRING_WITH_CONST and any(graph[o].op == "const" for o in node.operands):
            return 0.0
        if self.maps_to_dsp(node, graph):
            return self.dsp.delay_ns
        return self.key_delay(key, self.width_of(node, graph))
