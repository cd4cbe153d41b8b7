"""XOR-linear cones too deep for one stage, rewritten as explicit trees the scheduler can cut.

Written as one balanced XOR tree per bit (:mod:`fpgac.ir.affine`), a cone is a
single node to the scheduler: it fits a stage or it does not. A CRC of 16 bytes
is three LUT levels per bit, one stage at 48 MHz, but at 83 MHz on an iCE40 only
two levels fit a stage; the node would then have to be cut at the program's own
steps, and a CRC's steps form a chain, so every stage could only take a few bytes
and carry the register on: 24 stages. The cone itself has no chain: each result
bit is the XOR of request bits. Here such a cone becomes what a hand-written CRC
is: for every result bit, a balanced tree of two-input XORs of its leaf bits, so
the register minimization can cut every tree at the same level (after two LUT
levels, four partial XORs per bit) and the CRC takes two stages.
"""

from __future__ import annotations

import math

from ..ir.affine import AffineForms
from ..ir.bits import reduce_balanced
from ..ir.graph import Graph
from ..ir.ranges import value_ranges
from ..passes.dce import DCE
from .delay_model import DelayModel
from .split import _Builder, widen_types

__all__ = ["expand_deep_xor_cones"]

_EPSILON_NS = 1e-9


def _tree_ns(model: DelayModel, leaves: int) -> float:
    """Return the delay of a balanced tree of k-input XORs of ``leaves`` registered bits."""
    m = model.lut_mapping
    if leaves <= 1:
        return 0.0
    levels = math.ceil(math.log(leaves) / math.log(m.inputs) - 1e-9)
    return m.first_level_ns + (levels - 1) * m.level_ns


def _deep_roots(graph: Graph, model: DelayModel, budget_ns: float,
                affine: AffineForms) -> list[int]:
    """Return the cones' roots whose XOR trees alone take longer than a stage."""
    roots = []
    for node in graph:
        forms = affine.forms.get(node.id)
        if forms is None:
            continue
        users = graph.users(node.id)
        if users and all(affine.forms.get(u) is not None for u in users):
            continue  # inside a larger cone
        widest = max((len(leaves) for leaves, _ in forms), default=0)
        if _tree_ns(model, widest) > budget_ns + _EPSILON_NS:
            roots.append(node.id)
    return roots


def expand_deep_xor_cones(graph: Graph, model: DelayModel, budget_ns: float) -> Graph:
    """Return ``graph``, or a copy whose too-deep XOR-linear cones are explicit XOR trees.

    A cone's root (an XOR-linear node read by something that is not, or by an output)
    whose widest bit's tree of leaves does not fit ``budget_ns`` becomes the
    concatenation of one balanced tree of 1-bit XORs per result bit; the leaves are
    single bits of the values that enter the cone. The cone's old nodes, now unread,
    are removed. Values are unchanged; only the shape of the logic is.
    """
    if model.lut_mapping is None:
        return graph
    affine = AffineForms(graph)
    for node in graph:
        affine.place(node.id, 0, lambda _: 0)
    roots = _deep_roots(graph, model, budget_ns, affine)
    if not roots:
        return graph
    result = graph.copy()
    ranges = value_ranges(result)
    for root in roots:
        result.replace_uses(root, _tree(_Builder(result, ranges, result[root].span),
                                        affine.forms[root], result[root].type.signed))
    DCE().run(result)  # the cones' old nodes, now unread
    widen_types(result)
    return result


def _tree(b: _Builder, forms, signed: bool) -> int:
    """Add one balanced tree of 1-bit XORs per form; return their concatenation's id."""
    leaf_bits: dict[tuple[int, int], int] = {}

    def leaf(o: int, i: int) -> int:
        if (o, i) not in leaf_bits:
            shifted = b.add("shr", (o, b.const(i))) if i else o
            leaf_bits[o, i] = b.add("wrap", (shifted,), width=1, signed=False)
        return leaf_bits[o, i]

    bits = []
    for leaves, constant in forms:
        terms = [leaf(o, i) for o, i in sorted(leaves)]
        if not terms:
            bits.append(b.const(constant))
            continue
        # Balanced, neighbours first, as a hand-written tree.
        tree = reduce_balanced(terms, lambda x, y: b.add("xor", (x, y)))
        bits.append(b.add("xor", (tree, b.const(1))) if constant else tree)
    width = len(bits)
    value = b.add("concat", tuple(reversed(bits)), widths=(1,) * width)  # low part last
    return b.add("wrap", (value,), width=width, signed=True) if signed else value
