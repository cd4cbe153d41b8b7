"""Bitwise operations bit by bit, over any algebra of bits.

The ops whose result bits are simple logic of their operand bits (``and or xor
not``, shifts, rotations and slices by constants, ``concat``, ``reverse``, ``mux``,
``select``, ``==`` and ``!=``) are written once here, in terms of a small
:class:`BitAlgebra`: two constants and ``and``/``or``/``xor``/``not``/``mux`` of
bits. The scheduler's LUT timer runs them over timed signals; :mod:`.affine` runs
them over XOR forms to find the cones that are linear over GF(2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .graph import Graph, Node

__all__ = ["BIT_LEVEL_OPS", "SHIFTS", "BitAlgebra", "is_bit_level", "node_bits",
           "reduce_balanced"]

#: Ops whose result bits are logic of their operand bits (with constant shift amounts
#: where they take one).
BIT_LEVEL_OPS = frozenset({
    "and", "or", "xor", "not", "shl", "shr", "rotl", "rotr", "wrap", "concat", "reverse",
    "mux", "select", "eq", "ne", "output",
})

SHIFTS = frozenset({"shl", "shr", "rotl", "rotr"})


def is_bit_level(node: Node, graph: Graph) -> bool:
    """Return whether ``node``'s result bits are logic of its operand bits."""
    if node.op not in BIT_LEVEL_OPS:
        return False
    if node.op in SHIFTS:
        return graph[node.operands[1]].op == "const"
    return True


class BitAlgebra(Protocol):
    """The bit operations :func:`node_bits` needs; ``zero`` and ``one`` are the constants."""

    zero: Any
    one: Any

    def and_(self, a, b): ...

    def or_(self, a, b): ...

    def xor(self, a, b): ...

    def flip(self, a): ...

    def mux(self, sel, if_false, if_true): ...


def reduce_balanced(signals: list, combine: Callable) -> Any:
    """Combine ``signals`` in a balanced tree of two-input operations."""
    while len(signals) > 1:
        signals = [combine(signals[i], signals[i + 1]) if i + 1 < len(signals) else signals[i]
                   for i in range(0, len(signals), 2)]
    return signals[0]


def node_bits(node: Node, graph: Graph, operands: Sequence[Sequence],
              signed: Sequence[bool], alg: BitAlgebra) -> tuple:
    """Return the result bits of the bit-level ``node`` (:func:`is_bit_level`).

    ``operands`` are the bits of each operand, least significant first; a signed
    operand extends with its top bit, an unsigned one with ``alg.zero``.
    """
    op, width = node.op, node.type.width

    def bit(k: int, i: int):
        bits = operands[k]
        if i < len(bits):
            return bits[i]
        return bits[-1] if signed[k] and bits else alg.zero

    if op == "output":
        return tuple(operands[0])
    if op in ("and", "or", "xor"):
        combine = {"and": alg.and_, "or": alg.or_, "xor": alg.xor}[op]
        return tuple(combine(bit(0, i), bit(1, i)) for i in range(width))
    if op == "not":
        return tuple(alg.flip(bit(0, i)) for i in range(width))
    if op == "wrap":
        return tuple(bit(0, i) for i in range(width))
    if op in SHIFTS:
        n = graph[node.operands[1]]["value"]
        if op == "shl":
            return tuple(bit(0, i - n) if i >= n else alg.zero for i in range(width))
        if op == "shr":
            return tuple(bit(0, i + n) for i in range(width))
        w = node["width"]
        n = n % w if op == "rotl" else -n % w
        return tuple(bit(0, (i - n) % w) if i < w else alg.zero for i in range(width))
    if op == "reverse":
        w = node["width"]
        return tuple(bit(0, w - 1 - i) if i < w else alg.zero for i in range(width))
    if op == "concat":
        bits: list = []
        for k in reversed(range(len(operands))):  # the last operand is the low part
            bits.extend(bit(k, i) for i in range(node["widths"][k]))
        return tuple(bits[:width]) + (alg.zero,) * (width - len(bits))
    if op == "mux":
        nonzero = reduce_balanced(list(operands[0]) or [alg.zero], alg.or_)
        return tuple(alg.mux(nonzero, bit(1, i), bit(2, i)) for i in range(width))
    if op == "select":
        return _select(node, bit, operands, signed[0], alg)
    if op in ("eq", "ne"):
        # Operands of different signedness differ beyond the wider one's width too (u1 1
        # against i1 -1): one more bit, each extended by its own signedness, tells them apart.
        w = max(len(operands[0]), len(operands[1])) + (signed[0] != signed[1])
        differ = reduce_balanced([alg.xor(bit(0, i), bit(1, i)) for i in range(w)] or [alg.zero],
                         alg.or_)
        result = alg.flip(differ) if op == "eq" else differ
        return (result,) + (alg.zero,) * (width - 1)
    raise AssertionError(f"no bit-level rule for {op}")


def _select(node: Node, bit, operands, index_signed: bool, alg: BitAlgebra) -> tuple:
    index = list(operands[0])
    n = len(operands) - 1
    used = max(1, (n - 1).bit_length())
    # An index beyond the elements selects 0: its high bits must all be zero, and so must
    # a signed index's sign bit (a negative index is outside too).
    outside = index[used:]
    if index_signed and index and len(index) <= used:
        outside = [index[-1]]
    high = reduce_balanced(outside, alg.or_) if outside else alg.zero
    result = []
    for i in range(node.type.width):
        level = [bit(k, i) for k in range(1, n + 1)]
        for j in range(used):
            sel = index[j] if j < len(index) else alg.zero
            level = [alg.mux(sel, level[m], level[m + 1] if m + 1 < len(level) else alg.zero)
                     for m in range(0, len(level), 2)]
        result.append(alg.and_(level[0], alg.flip(high)))
    return tuple(result)
