"""XOR-linear cones: the bits of bitwise logic that are XORs of a few input bits.

Shifts, rotations and slices by constants, XORs, ``and``/``or`` with a constant, and
muxes whose two choices differ by a constant are all affine over GF(2): every result
bit is a constant XOR the XOR of some *leaf* bits. A CRC's shift-and-xor steps, a
Gray code or a xorshift round are such cones. Written as the program says, a cone is
a chain as long as the program; written per result bit, it is a balanced XOR tree
of its leaves, ``log_k`` of their number deep in k-input LUTs. The scheduler times
both and keeps the faster; the backend writes the nodes it chose as trees.

The form of a node is taken within its pipeline stage. Its leaves are the bits of
the values that enter the cone there: a register of a value from an earlier stage,
or a value of the same stage that is not affine (a sum, a comparison, a product).
A leaf is ``(node_id, bit)``. A form is ``(leaves, constant)``, ``leaves`` a
frozenset; a node's forms are one per result bit, or ``None`` when the node is not
affine in its stage.
"""

from __future__ import annotations

from collections.abc import Callable

from .bits import is_bit_level, node_bits
from .graph import Graph

__all__ = ["AffineForms", "Form", "LEAF_LIMIT"]

Form = tuple[frozenset, int]

#: The most leaves a bit may have; a bit with more makes its node a leaf in turn.
LEAF_LIMIT = 512

_EMPTY: frozenset = frozenset()
ZERO: Form = (_EMPTY, 0)
ONE: Form = (_EMPTY, 1)


class _Algebra:
    """Bits as XOR forms; ``None`` for a bit that is not affine in the leaves."""

    zero, one = ZERO, ONE

    def xor(self, a, b):
        if a is None or b is None:
            return None
        return (a[0] ^ b[0], a[1] ^ b[1])

    def flip(self, a):
        return None if a is None else (a[0], a[1] ^ 1)

    def and_(self, a, b):
        for x, y in ((a, b), (b, a)):
            if x is not None and not x[0]:  # a constant
                return y if x[1] else ZERO
        return a if a is not None and a == b else None

    def or_(self, a, b):
        return self.flip(self.and_(self.flip(a), self.flip(b)))

    def mux(self, sel, if_false, if_true):
        if sel is not None and not sel[0]:
            return if_true if sel[1] else if_false
        if if_false is not None and if_false == if_true:
            return if_false
        differ = self.xor(if_false, if_true)
        if sel is None or differ is None or differ[0]:
            return None
        # The choices differ by a constant: the result is if_false, flipped when both
        # the selector and that constant are 1.
        return self.xor(if_false, sel) if differ[1] else if_false


_ALGEBRA = _Algebra()


class AffineForms:
    """The forms of a graph's nodes, each within its stage, computed as nodes are placed."""

    def __init__(self, graph: Graph, limit: int = LEAF_LIMIT):
        self.graph = graph
        self.limit = limit
        self.forms: dict[int, tuple[Form, ...] | None] = {}

    def operand_forms(self, operand: int, stage: int,
                      stage_of: Callable[[int], int]) -> tuple[Form, ...]:
        """Return the forms of ``operand``'s bits as a node of ``stage`` reads them."""
        node = self.graph[operand]
        if node.op == "const":
            value = node["value"]
            return tuple(ONE if value >> i & 1 else ZERO for i in range(node.type.width))
        own = self.forms.get(operand)
        if own is not None and stage_of(operand) == stage:
            return own
        return tuple((frozenset(((operand, i),)), 0) for i in range(node.type.width))

    def place(self, node_id: int, stage: int,
              stage_of: Callable[[int], int]) -> tuple[Form, ...] | None:
        """Compute and return the forms of ``node_id`` placed in ``stage``."""
        node = self.graph[node_id]
        forms = None
        if node.op != "output" and is_bit_level(node, self.graph):
            operands = [self.operand_forms(o, stage, stage_of) for o in node.operands]
            signed = [getattr(self.graph[o].type, "signed", False) for o in node.operands]
            bits = node_bits(node, self.graph, operands, signed, _ALGEBRA)
            if all(b is not None and len(b[0]) <= self.limit for b in bits):
                forms = bits
        self.forms[node_id] = forms
        return forms
