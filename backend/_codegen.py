"""Generate the Amaranth source of a route's pipelined core, as readable Python text.

Every IR node becomes a named signal of exactly its type (``v12 =
Signal(signed(9))``) with a comment giving the node and its source span. A
value used in a later stage than the one that computes it is carried by one
register per stage boundary (``v12_s1``, ``v12_s2``). Generation only writes
text: it does not import Amaranth.

Each node's Amaranth expression computes the op's exact value (Amaranth's
``+ - * //`` and comparisons are exact and widen as needed), and the node's
signal is proven to hold that value, so the assignment never loses a bit.
The few places where Amaranth differs from the IR get explicit code:
``x % 0`` (Amaranth gives 0, the IR gives ``x``), ``~`` on an unsigned value
(Amaranth keeps the width), and shift amounts wider than the result can use.
"""

from __future__ import annotations

import builtins
import keyword
import re
from pathlib import Path

from ..ir.affine import AffineForms
from ..ir.ops import OPS
from ..ir.program import Program, Route
from ..ir.types import ArrayTy, BoolTy, IntTy, RecordTy, Ty
from ._simple_schedule import verify_schedule

__all__ = ["generate_route", "generate_app", "route_class_name", "app_class_name"]

_INDENT = "    "

#: Attributes of an Amaranth ``data.View``: a field with one of these names is read as
#: ``view["name"]``, every other field as ``view.name``.
_VIEW_ATTRS = frozenset({"as_value", "eq", "shape", "lowermethod"})

#: Names every generated module defines or imports.
_RESERVED = frozenset({
    "Cat", "Const", "Module", "Mux", "Signal", "signed", "unsigned", "data", "stream", "wiring",
    "In", "Out", "Memory", "connect", "flipped", "TOP", "popcount", "count_leading_zeros",
    "count_trailing_zeros", "reverse_bits", "rotate_left", "rotate_right", "ClockSignal",
    "Instance", "registered_product",
}) | frozenset(keyword.kwlist) | frozenset(dir(builtins))

_HELPERS = {
    "popcount": '''
def popcount(value):
    """Return the number of 1 bits of ``value``, summed by a balanced adder tree."""
    terms = [value[i] for i in range(len(value))]
    while len(terms) > 1:
        pairs = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = pairs + terms[2 * len(pairs):]
    return terms[0]
''',
    "count_leading_zeros": '''
def count_leading_zeros(value):
    """Return the number of 0 bits above the highest 1 bit of ``value`` (its width if 0)."""
    if len(value) == 1:
        return ~value[0]
    low, high = value[:len(value) // 2], value[len(value) // 2:]
    return Mux(high.any(), count_leading_zeros(high), len(high) + count_leading_zeros(low))
''',
    "count_trailing_zeros": '''
def count_trailing_zeros(value):
    """Return the number of 0 bits below the lowest 1 bit of ``value`` (its width if 0)."""
    if len(value) == 1:
        return ~value[0]
    low, high = value[:len(value) // 2], value[len(value) // 2:]
    return Mux(low.any(), count_trailing_zeros(low), len(low) + count_trailing_zeros(high))
''',
    "reverse_bits": '''
def reverse_bits(value):
    """Return the bits of ``value`` in reverse order."""
    return Cat(*(value[i] for i in reversed(range(len(value)))))
''',
    "rotate_left": '''
def rotate_left(m, value, amount):
    """Rotate ``value`` left by ``amount`` modulo its width: one mux layer per amount bit.

    Each layer is a signal of its own: nested `Mux`es that each use the previous layer
    twice would make an expression tree of exponential size.
    """
    for i in range(len(amount)):
        if (1 << i) % len(value):  # a rotation by a multiple of the width changes nothing
            layer = Signal(len(value), name=f"rotate_left_{i}")
            m.d.comb += layer.eq(Mux(amount[i], value.rotate_left(1 << i), value))
            value = layer
    return value
''',
    "registered_product": '''
def registered_product(m, platform, enable, product, a, a_next, b, b_next):
    """Load the register ``product`` with ``a * b`` on every clock edge with ``enable``.

    ``a`` and ``b`` are the registers loaded with ``a_next`` and ``b_next`` on the same
    edges. On an ECP5 a MULT18X18D does it with its own input and output registers,
    loaded from ``a_next`` and ``b_next``: they are the same registers, inside the block
    (between fabric registers the block would be slow to reach). Anywhere else, and in
    simulation, ``product`` is a register of ``a * b``: the same values, cycle for cycle.
    """
    if getattr(platform, "family", None) != "ecp5":
        with m.If(enable):
            m.d.sync += product.eq(a * b)
        return
    signed_ = a.shape().signed or b.shape().signed
    a18, b18, p36 = Signal(signed(18)), Signal(signed(18)), Signal(36)
    m.d.comb += [a18.eq(a_next), b18.eq(b_next)]  # extended by each operand's signedness
    ports = {**{f"i_A{i}": a18[i] for i in range(18)}, **{f"i_B{i}": b18[i] for i in range(18)},
             **{f"i_C{i}": 0 for i in range(18)}, **{f"o_P{i}": p36[i] for i in range(36)}}
    m.submodules += Instance(
        "MULT18X18D", p_REG_INPUTA_CLK="CLK0", p_REG_INPUTB_CLK="CLK0",
        p_REG_OUTPUT_CLK="CLK0", i_CLK0=ClockSignal(), i_CE0=enable, i_RST0=0,
        i_SIGNEDA=signed_, i_SIGNEDB=signed_, i_SOURCEA=0, i_SOURCEB=0, **ports)
    m.d.comb += product.eq(p36.as_signed() if signed_ else p36)
''',
    "rotate_right": '''
def rotate_right(m, value, amount):
    """Rotate ``value`` right by ``amount`` modulo its width: one mux layer per amount bit.

    Each layer is a signal of its own: nested `Mux`es that each use the previous layer
    twice would make an expression tree of exponential size.
    """
    for i in range(len(amount)):
        if (1 << i) % len(value):  # a rotation by a multiple of the width changes nothing
            layer = Signal(len(value), name=f"rotate_right_{i}")
            m.d.comb += layer.eq(Mux(amount[i], value.rotate_right(1 << i), value))
            value = layer
    return value
''',
}


def _shape(ty: IntTy) -> str:
    return f"{'signed' if ty.signed else 'unsigned'}({ty.width})"


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or "Route"


def route_class_name(route: Route) -> str:
    """Return the name of the component class generated for ``route``."""
    return f"{_camel(route.name)}Core"


def app_class_name(program: Program) -> str:
    """Return the name of the app-level component class."""
    return f"{_camel(program.app)}App"


def _struct(name: str, fields: list[str]) -> str:
    """Return ``name = data.StructLayout({...})``, one field per line when it is long."""
    line = f"{name} = data.StructLayout({{{', '.join(fields)}}})"
    if len(line) <= 100:
        return line
    body = "".join(f"{_INDENT}{f},\n" for f in fields)
    return f"{name} = data.StructLayout({{\n{body}}})"


def _span_text(span) -> str:
    # Only the file's name: generated text must not depend on where the source was found.
    return f"{Path(span.file).name}:{span.line}" + (f":{span.col}" if span.col else "")


def _field_access(base: str, path: str) -> str:
    """Turn a leaf path suffix (``.p.r``, ``[3]``, ``.a[2].b``) into View accesses on ``base``."""
    text = base
    for name, index in re.findall(r"\.([A-Za-z_][A-Za-z_0-9]*)|\[(\d+)\]", path):
        if index:
            text += f"[{index}]"
        elif name in _VIEW_ATTRS or name.startswith("_"):
            text += f"[{name!r}]"
        else:
            text += f".{name}"
    return text


class _Operand:
    """One operand of a node as seen from a given stage: its text, type and constant value."""

    def __init__(self, text: str, ty: IntTy, const: int | None):
        self.text, self.ty, self.const = text, ty, const

    @property
    def value(self) -> str:
        """Return text that is an Amaranth value even when the operand is a constant."""
        if self.const is None:
            return self.text
        return f"Const({self.const}, {_shape(self.ty)})"

    def __str__(self) -> str:
        return self.text


class _Module:
    """The text of one generated module: layouts, tables, helpers and component classes."""

    def __init__(self, doc: str):
        self.doc = doc
        self.names: set[str] = set(_RESERVED)
        self.layout_names: dict[RecordTy, str] = {}
        self.layout_defs: list[str] = []
        self.tables: dict[tuple, str] = {}
        self.table_defs: list[str] = []
        self.helpers: set[str] = set()
        self.uses_memory = False
        self.uses_connect = False
        self.classes: list[str] = []
        self.top: str | None = None

    def fresh(self, base: str) -> str:
        """Reserve and return a module-level name based on ``base``."""
        name, n = base, 1
        while name in self.names:
            n += 1
            name = f"{base}{n}"
        self.names.add(name)
        return name

    def layout(self, ty: Ty) -> str:
        """Return the text of the Amaranth shape or layout of ``ty`` (defining records once)."""
        if isinstance(ty, IntTy):
            return _shape(ty)
        if isinstance(ty, BoolTy):
            return "unsigned(1)"
        if isinstance(ty, ArrayTy):
            return f"data.ArrayLayout({self.layout(ty.elem)}, {ty.length})"
        assert isinstance(ty, RecordTy), ty
        if ty not in self.layout_names:
            fields = [f"{name!r}: {self.layout(fty)}" for name, fty in ty.fields]
            name = self.fresh(ty.name)
            self.layout_names[ty] = name
            self.layout_defs.append(
                f"#: The record `{ty.name}`; its first field is in the least significant bits.\n"
                + _struct(name, fields))
        return self.layout_names[ty]

    def table(self, values: tuple[int, ...], where: str = "") -> str:
        """Return the name of a module-level tuple holding ``values`` (defining it once)."""
        if values not in self.tables:
            name = self.fresh(f"TABLE_{len(self.tables)}")
            self.tables[values] = name
            rows = [", ".join(str(v) for v in values[i:i + 12]) for i in range(0, len(values), 12)]
            body = "".join(f"{_INDENT}{row},\n" for row in rows)
            note = f"#: A constant table (a ROM), first read at {where}.\n" if where else ""
            self.table_defs.append(f"{note}{name} = (\n{body})")
        return self.tables[values]

    def render(self) -> str:
        """Return the whole module text."""
        code = "\n".join(self.layout_defs + self.classes + [_HELPERS[h] for h in self.helpers])
        hdl = [n for n in ("Cat", "ClockSignal", "Const", "Instance")
               if re.search(rf"\b{n}\(", code)]
        hdl += ["Module"] + (["Mux"] if re.search(r"\bMux\(", code) else [])
        hdl += ["Signal"] + [n for n in ("signed", "unsigned") if re.search(rf"\b{n}\(", code)]
        out = [f'"""{self.doc}\n"""\n', f"from amaranth.hdl import {', '.join(hdl)}",
               "from amaranth.lib import data, stream, wiring"]
        if self.uses_memory:
            out.append("from amaranth.lib.memory import Memory")
        wiring_names = ["In", "Out"] + (["connect", "flipped"] if self.uses_connect else [])
        out.append(f"from amaranth.lib.wiring import {', '.join(wiring_names)}")
        out.append("")
        for block in self.layout_defs + self.table_defs:
            out += ["", block]
        for name in sorted(self.helpers):
            out += ["", _HELPERS[name].strip("\n")]
        for cls in self.classes:
            out += ["", "", cls.rstrip("\n")]
        out += ["", "", "#: The component this module provides.", f"TOP = {self.top}", ""]
        return "\n".join(out)


class _RouteWriter:
    """Write the component class of one route: handshake, stages, registers, response."""

    def __init__(self, module: _Module, route: Route, schedule, class_name: str):
        verify_schedule(schedule)
        self.module, self.route, self.schedule = module, route, schedule
        self.graph = schedule.graph
        self.stage = dict(schedule.stage)
        self.n = schedule.n_stages
        self.class_name = class_name
        self.lines: list[str] = []
        self.consts: dict[int, int] = {}
        self.last_use: dict[int, int] = {}
        self._analyze()

    # -- analysis -------------------------------------------------------------------------------

    def _analyze(self) -> None:
        """Fold constant subgraphs and find the last stage each value is needed in."""
        for node in self.graph:
            if node.op == "const":
                self.consts[node.id] = node.attrs["value"]
            elif (node.op not in ("param", "output") and node.operands
                  and all(o in self.consts for o in node.operands)):
                info = OPS[node.op]
                self.consts[node.id] = info.evaluate(node.attrs,
                                                     *(self.consts[o] for o in node.operands))
        # Nodes the schedule writes as XOR trees read their cones' leaves, not their operands.
        self.xor_trees = frozenset(getattr(self.schedule, "xor_trees", ()))
        self.forms: dict[int, tuple] = {}
        if self.xor_trees:
            affine = AffineForms(self.graph)
            for node in self.graph:
                affine.place(node.id, self.stage[node.id], self.stage.__getitem__)
            for i in self.xor_trees:
                assert affine.forms.get(i) is not None, f"v{i} is not XOR-linear in its stage"
                self.forms[i] = affine.forms[i]
        # What the hardware reads, from the outputs back: a node only a tree read through is
        # not written at all.
        needed = {node.id for node in self.graph if node.op == "output"}
        for node in reversed(list(self.graph)):
            if node.id not in needed:
                continue
            at = self.n if node.op == "output" else self.stage[node.id]
            if node.id in self.forms:
                reads = {o for form in self.forms[node.id] for o, _ in form[0]}
            else:
                reads = set(node.operands)
            for o in reads:
                if o not in self.consts:
                    needed.add(o)
                    self.last_use[o] = max(self.last_use.get(o, at), at)
        self.registered_products = {node.id for node in self.graph
                                    if self._registered_product(node)}
        # Table reads the schedule takes from block RAM (none for a schedule that does not say).
        self.block_roms = {i for i in getattr(self.schedule, "block_roms", ())
                           if i not in self.consts and self._live(i)}
        for i in self.block_roms:
            at = self.stage[i]
            assert self.graph[i].op == "rom" and self.n, f"v{i} cannot be a block-RAM read"
            assert all(self.stage[u] > at for u in self.graph.users(i)
                       if self.graph[u].op != "output"), \
                f"v{i} is read from block RAM in stage {at}, but used in that stage"

    def _registered_product(self, node) -> bool:
        """Return whether ``node`` is a product a DSP block can take with its registers.

        It must fit a MULT18X18D (18x18 bits; an unsigned operand times a signed one
        takes a bit more) and be alone in its stage: its operands computed in earlier
        stages (they arrive in registers) and its users in later ones (it leaves in one).
        """
        if node.op != "mul" or node.id in self.consts or not self.n:
            return False
        types = [self.graph[o].type for o in node.operands]
        any_signed = any(t.signed for t in types)
        if any(t.width + (any_signed and not t.signed) > 18 for t in types):
            return False
        at = self.stage[node.id]
        return (all(self.stage[o] < at for o in node.operands if o not in self.consts)
                and all(self.stage[u] > at for u in self.graph.users(node.id)
                        if self.graph[u].op != "output"))

    def _live(self, node_id: int) -> bool:
        return node_id in self.last_use

    # -- text helpers ---------------------------------------------------------------------------

    def emit(self, line: str = "", depth: int = 2) -> None:
        self.lines.append(f"{_INDENT * depth}{line}" if line else "")

    def section(self, title: str) -> None:
        head = f"# ---- {title} "
        self.emit(head + "-" * (90 - len(head)))

    def emit_comb(self, *assignments: str, depth: int = 2) -> None:
        if len(assignments) == 1:
            self.emit(f"m.d.comb += {assignments[0]}", depth)
        else:
            self.emit("m.d.comb += [", depth)
            for a in assignments:
                self.emit(f"{_INDENT}{a},", depth)
            self.emit("]", depth)

    def operand(self, node_id: int, at: int) -> _Operand:
        ty = self.graph[node_id].type
        if node_id in self.consts:
            return _Operand(str(self.consts[node_id]), ty, self.consts[node_id])
        name = f"v{node_id}" if at == self.stage[node_id] else f"v{node_id}_s{at}"
        return _Operand(name, ty, None)

    def comment(self, node) -> str:
        args = [f"v{o}" if o not in self.consts else str(self.consts[o]) for o in node.operands]
        for key, value in sorted(node.attrs.items()):
            if node.op == "rom" and key == "values":
                value = self.module.table(self._rom_values(node),
                                          _span_text(node.span) if node.span else "")
            elif node.op == "param" and key in ("width", "signed"):
                continue
            args.append(f"{key}={value}")
        text = f"# v{node.id}: {node.type} = {node.op}({', '.join(args)})"
        if node.span is not None:
            text += f"  {_span_text(node.span)}"
        return text

    def low_bits(self, node, index: int, op: _Operand, width: int) -> str:
        """Return an unsigned value of exactly ``width`` bits: the low bits of ``op``."""
        if op.const is not None:
            return f"Const({op.const & ((1 << width) - 1)}, {width})"
        if op.ty == IntTy(width, False):
            return op.text
        if op.ty.width >= width:
            return f"{op.text}[:{width}]"
        # Narrower than the field: the assignment extends it by its own signedness.
        name = f"v{node.id}_arg{index}"
        self.emit(f"{name} = Signal(unsigned({width}))  # the low {width} bits of {op.text}")
        self.emit_comb(f"{name}.eq({op.text})")
        return name

    # -- one node -------------------------------------------------------------------------------

    def node(self, node) -> None:
        """Emit the signal of one node and the logic that drives it."""
        at = self.stage[node.id]
        ops = [self.operand(o, at) for o in node.operands]
        name = f"v{node.id}"
        self.emit(self.comment(node))
        if node.id in self.forms:  # before `select`, which can be XOR-linear too
            self.xor_tree(node, at)
            return
        if node.op == "rom":
            if node.id in self.block_roms:
                self.block_rom(node, ops[0], at)
            else:
                self.rom(node, ops[0])
            return
        if node.op == "select":
            self.select(node, ops)
            return
        if node.id in self.registered_products:
            self.registered_product(node, at)
            return
        expr = self.expression(node, ops)
        self.emit(f"{name} = Signal({_shape(node.type)})")
        self.emit_comb(f"{name}.eq({expr})")

    def expression(self, node, ops: list[_Operand]) -> str:
        """Return the Amaranth expression computing ``node``'s exact value from ``ops``."""
        op = node.op
        a = ops[0] if ops else None
        b = ops[1] if len(ops) > 1 else None
        if op == "param":
            return _field_access("self.i.payload", "." + node.attrs["path"])
        if op in ("add", "sub", "mul", "and", "or", "xor", "lt", "le", "gt", "ge"):
            return f"{a} {OPS[op].symbol} {b}"
        if op in ("eq", "ne"):
            return f"{a} {OPS[op].symbol} {b}"
        if op == "neg":
            return f"-{a}"
        if op == "not":
            # Amaranth's `~` keeps an unsigned value unsigned; the IR's is `-a - 1`.
            return f"~{a}" if a.ty.signed else f"-{a} - 1"
        if op == "floordiv":
            # Amaranth floors like Python and gives 0 for a zero divisor, as the IR does.
            return "0" if b.const == 0 else f"{a} // {b}"
        if op == "mod":
            if b.const is not None:
                return str(a) if b.const == 0 else f"{a} % {b}"
            # Amaranth gives 0 for a zero divisor; the IR gives the dividend.
            return f"Mux({b} == 0, {a}, {a} % {b})"
        if op in ("shl", "shr"):
            return self.shift(node, a, b)
        if op == "mux":
            sel, if_false, if_true = ops
            return f"Mux({sel}, {if_true}, {if_false})"
        if op == "wrap":
            return self.wrap(node, a)
        if op in ("popcount", "clz", "ctz", "reverse"):
            helper = {"popcount": "popcount", "clz": "count_leading_zeros",
                      "ctz": "count_trailing_zeros", "reverse": "reverse_bits"}[op]
            self.module.helpers.add(helper)
            return f"{helper}({self.low_bits(node, 0, a, node.attrs['width'])})"
        if op in ("rotl", "rotr"):
            width = node.attrs["width"]
            value = self.low_bits(node, 0, a, width)
            method = "rotate_left" if op == "rotl" else "rotate_right"
            if b.const is not None:
                return f"{value}.{method}({b.const % width})"
            self.module.helpers.add(method)
            amount = f"{b}.as_unsigned()" if b.ty.signed else b.text  # proven non-negative
            return f"{method}(m, {value}, {amount})"
        if op == "concat":
            parts = [self.low_bits(node, i, o, w)
                     for i, (o, w) in enumerate(zip(ops, node.attrs["widths"]))]
            return f"Cat({', '.join(reversed(parts))})"  # Cat takes the low part first
        raise AssertionError(f"no hardware for op {op!r}")

    def xor_tree(self, node, at: int) -> None:
        """Emit an XOR-linear node bit by bit: each bit the XOR of its cone's leaf bits."""
        name = f"v{node.id}"
        self.emit("# XOR-linear: every bit is written as the XOR of the bits it depends on")
        self.emit(f"{name} = Signal({_shape(node.type)})")
        assignments = []
        for i, (leaves, constant) in enumerate(self.forms[node.id]):
            terms = []
            for o, b in sorted(leaves):
                if o in self.consts:
                    constant ^= self.consts[o] >> b & 1
                else:
                    terms.append(f"{self.operand(o, at).text}[{b}]")
            if not terms:
                value = str(constant)
            else:
                value = terms[0] if len(terms) == 1 else f"Cat({', '.join(terms)}).xor()"
                value = f"~{value}" if constant else value
            assignments.append(f"{name}[{i}].eq({value})")
        self.emit_comb(*assignments)

    def registered_product(self, node, at: int) -> None:
        """Emit a product whose operand and result registers are a DSP block's own."""
        self.module.helpers.add("registered_product")
        product = f"v{node.id}_s{at + 1}"
        args = []
        for o in node.operands:
            now, before = self.operand(o, at), self.operand(o, at - 1)
            args += [now.value, before.value]
        self.emit(f"{product} = Signal({_shape(node.type)}, reset_less=True)")
        self.emit(f"registered_product(m, platform, advance, {product}, {', '.join(args)})")

    def shift(self, node, a: _Operand, b: _Operand) -> str:
        direction = "left" if node.op == "shl" else "right"
        if b.const is not None:
            return f"{a.value}.shift_{direction}({b.const})"
        amount = b.text
        if node.op == "shl":
            # The result is proven to fit its node: a nonzero value can only be shifted by less
            # than that width, so the amount's higher bits are zero whenever they matter, and
            # Amaranth's `<<` (which widens by 2**len(amount) - 1) gets only the bits needed.
            needed = max(1, (node.type.width - 1).bit_length())
            if b.ty.width > needed:
                return f"{a.value} << {amount}[:{needed}]"
        if b.ty.signed:  # proven non-negative; Amaranth takes unsigned amounts only
            amount = f"{amount}.as_unsigned()"
        return f"{a.value} {'<<' if node.op == 'shl' else '>>'} {amount}"

    def wrap(self, node, a: _Operand) -> str:
        target = IntTy(node.attrs["width"], node.attrs["signed"])
        if target.holds(*a.ty.range) or node.type == target:
            # Either the value already fits, or the signal is exactly the target type: the
            # assignment keeps the low bits and reads them with the target's signedness.
            return a.text
        if a.ty.width >= target.width:
            return f"{a.text}[:{target.width}]" + (".as_signed()" if target.signed else "")
        name = f"v{node.id}_wrapped"
        self.emit(f"{name} = Signal({_shape(target)})")
        self.emit_comb(f"{name}.eq({a.text})")
        return name

    def _rom_values(self, node) -> tuple[int, ...]:
        # Entries the index can never reach need not fit the node's type: wrap them so the
        # memory's initial contents are valid; the reachable ones are unchanged.
        return tuple(node.type.wrap(v) for v in node.attrs["values"])

    def memory(self, node) -> tuple[str, int]:
        """Emit the memory holding a table read's values; return its name and depth."""
        self.module.uses_memory = True
        values = self._rom_values(node)
        table = self.module.table(values, _span_text(node.span) if node.span else "")
        mem = f"rom_v{node.id}"
        self.emit(f"m.submodules.{mem} = {mem} = Memory(shape={_shape(node.type)}, "
                  f"depth={len(values)}, init={table})")
        return mem, len(values)

    @staticmethod
    def inside(index: _Operand, depth: int) -> str | None:
        """Return the condition that ``index`` is inside a table of ``depth`` entries, if
        it can be outside."""
        terms = []
        if index.ty.signed:
            terms.append(f"({index} >= 0)")
        if index.ty.max >= depth:
            terms.append(f"({index} < {depth})")
        return " & ".join(terms) or None

    def rom(self, node, index: _Operand) -> None:
        """Emit a ROM as a memory with an asynchronous read port, 0 outside the table."""
        name = f"v{node.id}"
        mem, depth = self.memory(node)
        self.emit(f'{mem}_read = {mem}.read_port(domain="comb")')
        self.emit(f"{name} = Signal({_shape(node.type)})")
        data = f"{mem}_read.data"
        inside = self.inside(index, depth)
        if inside:
            data = f"Mux({inside}, {data}, 0)"
        self.emit_comb(f"{mem}_read.addr.eq({index})", f"{name}.eq({data})")

    def block_rom(self, node, index: _Operand, at: int) -> None:
        """Emit a ROM in block RAM: a registered read whose data is the next stage's register.

        The read port loads the entry at ``index`` whenever the pipeline advances, as the
        pipeline register after this stage would: the same values, cycle for cycle. Outside
        the table the data is 0, through a registered in-range flag.
        """
        data = f"v{node.id}_s{at + 1}"
        mem, depth = self.memory(node)
        self.emit(f"# The block RAM's read register is the pipeline register `{data}`.")
        self.emit(f'{mem}_read = {mem}.read_port(domain="sync")')
        self.emit_comb(f"{mem}_read.addr.eq({index})", f"{mem}_read.en.eq(advance)")
        self.emit(f"{data} = Signal({_shape(node.type)})")
        inside = self.inside(index, depth)
        if inside is None:
            self.emit_comb(f"{data}.eq({mem}_read.data)")
            return
        flag = f"v{node.id}_inside_s{at + 1}"
        self.emit(f"{flag} = Signal(reset_less=True)")
        self.emit("with m.If(advance):")
        self.emit(f"m.d.sync += {flag}.eq({inside})", 3)
        self.emit_comb(f"{data}.eq(Mux({flag}, {mem}_read.data, 0))")

    def select(self, node, ops: list[_Operand]) -> None:
        """Emit ``select`` as a switch over the index; no case matches outside: 0."""
        name = f"v{node.id}"
        index, elems = ops[0], ops[1:]
        self.emit(f"{name} = Signal({_shape(node.type)})")
        if index.const is not None:
            k = index.const
            self.emit_comb(f"{name}.eq({elems[k] if 0 <= k < len(elems) else 0})")
            return
        self.emit(f"with m.Switch({index}):")
        for k, elem in enumerate(elems):
            if index.ty.min <= k <= index.ty.max:
                self.emit(f"with m.Case({k}):", 3)
                self.emit(f"m.d.comb += {name}.eq({elem})", 4)
        if not (index.ty.min >= 0 and index.ty.max < len(elems)):
            self.emit("with m.Default():", 3)
            self.emit(f"m.d.comb += {name}.eq(0)", 4)

    # -- the class ------------------------------------------------------------------------------

    def write(self) -> str:
        """Return the text of the component class."""
        route, module = self.route, self.module
        request = module.fresh(f"{_camel(route.name)}Request")
        response = module.fresh(f"{_camel(route.name)}Response")
        self.request_name, self.response_name = request, response
        fields = [f"{name!r}: {module.layout(ty)}" for name, ty in route.params]
        module.layout_defs.append(
            f"#: The request of `{route.path}`: its parameters, the first in the least "
            f"significant bits.\n" + _struct(request, fields))
        module.layout_defs.append(
            f"#: The response of `{route.path}`: the returned value.\n"
            f"{response} = {module.layout(route.returns)}")

        self.body()
        params = ", ".join(f"{name}: {ty}" for name, ty in route.params)
        where = f" ({_span_text(route.span)})" if route.span is not None else ""
        head = [
            f"class {self.class_name}(wiring.Component):",
            f'{_INDENT}"""The core of the route `{route.path}`{where}.',
            "",
            f"{_INDENT}    {route.name}({params}) -> {route.returns}",
            "",
            f"{_INDENT}Accepts one request per cycle on ``i`` and answers it {self.n} "
            f"cycle{'s' if self.n != 1 else ''} later",
            f"{_INDENT}on ``o``, in order; valid/ready backpressure on both streams.",
            f'{_INDENT}"""',
            "",
            f"{_INDENT}#: Cycles from a request's transfer on ``i`` to its response on ``o``.",
            f"{_INDENT}LATENCY = {self.n}",
            f"{_INDENT}#: Cycles between two requests at full rate.",
            f"{_INDENT}INITIATION_INTERVAL = 1",
            "",
            f"{_INDENT}i: In(stream.Signature({request}))",
            f"{_INDENT}o: Out(stream.Signature({response}))",
            "",
            f"{_INDENT}def elaborate(self, platform):",
            f"{_INDENT * 2}m = Module()",
        ]
        return "\n".join(head + self.lines + [f"{_INDENT * 2}return m", ""])

    def body(self) -> None:
        n = self.n
        self.emit()
        if n == 0:
            self.emit("# No registers: the response is a combinational function of the request.")
            self.emit_comb("self.o.valid.eq(self.i.valid)", "self.i.ready.eq(self.o.ready)")
        else:
            self.emit("# A stalling pipeline: all stages move on together whenever the output "
                      "register")
            self.emit("# is empty or being read; a stage's valid bit never depends on ready.")
            self.emit("advance = Signal()")
            self.emit_comb("advance.eq(~self.o.valid | self.o.ready)",
                           "self.i.ready.eq(advance)")
        by_stage: dict[int, list] = {}
        for node in self.graph:
            if node.op in ("const", "output") or node.id in self.consts or not self._live(node.id):
                continue
            by_stage.setdefault(self.stage[node.id], []).append(node)
        for s in range(max(n, 1)):
            self.emit()
            self.section(f"stage {s}")
            for node in by_stage.get(s, []):
                self.node(node)
            if n:
                self.registers(s)
        self.response()

    def registers(self, s: int) -> None:
        """Emit the registers between stage ``s`` and stage ``s + 1``."""
        self.emit()
        self.section(f"registers: stage {s} -> stage {s + 1}")
        valid_in = "self.i.valid" if s == 0 else f"valid_s{s}"
        loads = [f"valid_s{s + 1}.eq({valid_in})"]
        self.emit(f"valid_s{s + 1} = Signal()")
        for node in self.graph:
            nid = node.id
            if nid in self.registered_products and self.stage[nid] == s:
                continue  # loaded by `registered_product` in its stage
            if nid in self.block_roms and self.stage[nid] == s:
                continue  # the block RAM's read register
            if nid in self.last_use and self.stage[nid] <= s < self.last_use[nid]:
                reg = f"v{nid}_s{s + 1}"
                self.emit(f"{reg} = Signal({_shape(node.type)}, reset_less=True)")
                loads.append(f"{reg}.eq({self.operand(nid, s)})")
        self.emit("with m.If(advance):")
        if len(loads) == 1:
            self.emit(f"m.d.sync += {loads[0]}", 3)
        else:
            self.emit("m.d.sync += [", 3)
            for load in loads:
                self.emit(f"{_INDENT}{load},", 3)
            self.emit("]", 3)

    def response(self) -> None:
        self.emit()
        self.section("response")
        assignments = [] if self.n == 0 else [f"self.o.valid.eq(valid_s{self.n})"]
        for node in self.graph:
            if node.op != "output":
                continue
            path = node.attrs["path"][len("return"):]
            target = _field_access("self.o.payload", path)
            assignments.append(f"{target}.eq({self.operand(node.operands[0], self.n)})")
        if assignments:
            self.emit_comb(*assignments)


def _header(title: str, program_file: str | None, body: str) -> str:
    where = f" from {Path(program_file).name}" if program_file else ""
    return (f"{title}{where}.\n\nGenerated by fpgac: regenerate it rather than editing it. {body}")


def generate_route(route: Route, schedule, *, file: str | None = None) -> str:
    """Return the source of a Python module defining the Amaranth component of ``route``.

    ``schedule`` has ``.graph`` (the graph to build), ``.stage`` (node id to 0-based
    stage) and ``.n_stages`` (the latency: every stage ends in a register).
    """
    if file is None and route.span is not None:
        file = route.span.file
    module = _Module(_header(
        f"The Amaranth core of the route `{route.path}`", file,
        "The core takes one\nrequest per cycle; see docs/hardware.md for its interface."))
    cls = module.fresh(route_class_name(route))
    module.classes.append(_RouteWriter(module, route, schedule, cls).write())
    module.top = cls
    return module.render()


def generate_app(program: Program, schedules: dict) -> str:
    """Return the source of a module with every route's core and an app-level component.

    ``schedules`` maps each route's path to its schedule. The app component has one
    stream pair per route, named ``<route>_i`` and ``<route>_o``.
    """
    module = _Module(_header(
        f"The Amaranth cores of the app `{program.app}`", program.file,
        "One request and one\nresponse stream per route; see docs/hardware.md."))
    classes, writers = {}, {}
    for route in program.routes:
        cls = module.fresh(route_class_name(route))
        writer = _RouteWriter(module, route, schedules[route.path], cls)
        module.classes.append(writer.write())
        classes[route.path], writers[route.path] = cls, writer
    app = module.fresh(app_class_name(program))
    module.uses_connect = True
    lines = [f"class {app}(wiring.Component):",
             f'{_INDENT}"""Every route of `{program.app}`: one request and one response stream '
             f'per route."""', ""]
    for route in program.routes:
        writer = writers[route.path]
        lines.append(f"{_INDENT}{route.name}_i: In(stream.Signature({writer.request_name}))")
        lines.append(f"{_INDENT}{route.name}_o: Out(stream.Signature({writer.response_name}))")
    lines += ["", f"{_INDENT}def elaborate(self, platform):", f"{_INDENT * 2}m = Module()"]
    for route in program.routes:
        core = f"{route.name}_core"
        lines += [f"{_INDENT * 2}m.submodules.{route.name} = {core} = {classes[route.path]}()",
                  f"{_INDENT * 2}connect(m, flipped(self.{route.name}_i), {core}.i)",
                  f"{_INDENT * 2}connect(m, {core}.o, flipped(self.{route.name}_o))"]
    lines += [f"{_INDENT * 2}return m", ""]
    module.classes.append("\n".join(lines))
    module.top = app
    return module.render()
