"""Give products to the target's hard multipliers, within the device's count of them.

Strength reduction (``fpgac.passes.strength``) runs before the target is known and
turns ``x * c`` into shifted copies of ``x`` added and subtracted (``66 * r`` into
``(r << 6) + (r << 1)``), which is the cheaper form in LUTs. A target with DSP blocks
does the whole product in one block instead, without a LUT: there the scheduler
folds every such tree back into one ``mul`` when the product fits a block.

A tree is a node built from one value ``x`` through ``add``, ``sub``, ``neg`` and
shifts left by a constant, with at least one addition: its value is ``c * x`` for a
constant ``c``, read off the tree. Only trees whose inner nodes are used nowhere
else are folded, so every addition of the tree goes away. The folded node keeps
its id and its type (which holds ``c * x``: the type holds every value the tree can
take), so its users and every value in the graph are unchanged.

A device has a fixed number of blocks for the whole app. :func:`limit_dsp_products`
keeps the products that would cost the most in LUTs in blocks and writes the others
as shifts and additions (LUT logic synthesis cannot put in a block):
:func:`dsp_products` and :func:`lut_cost` say which products there are and what each
would cost without a block.
"""

from __future__ import annotations

from ..ir.graph import Graph, Node
from ..ir.ops import OPS
from ..ir.ranges import value_ranges
from ..ir.types import narrowest
from .delay_model import DelayModel
from .split import widen_types

__all__ = ["fuse_constant_products", "dsp_products", "limit_dsp_products", "lut_cost"]

#: (x, c, additions): the node's value is ``c * x``, built with that many additions.
_Form = tuple[int, int, int]


def _forms(graph: Graph) -> dict[int, _Form]:
    """Return the linear form of every node that is a shift-and-add tree over one value."""
    forms: dict[int, _Form] = {}

    def form(node_id: int) -> _Form | None:
        if node_id in forms:
            return forms[node_id]
        return None if graph[node_id].op == "const" else (node_id, 1, 0)

    for node in graph:
        ops = node.operands
        if node.op == "shl" and graph[ops[1]].op == "const":
            f = form(ops[0])
            if f is not None:
                forms[node.id] = (f[0], f[1] << graph[ops[1]]["value"], f[2])
        elif node.op in ("add", "sub"):
            a, b = form(ops[0]), form(ops[1])
            if a is not None and b is not None and a[0] == b[0]:
                c = a[1] + b[1] if node.op == "add" else a[1] - b[1]
                forms[node.id] = (a[0], c, a[2] + b[2] + 1)
        elif node.op == "neg":
            f = form(ops[0])
            if f is not None:
                forms[node.id] = (f[0], -f[1], f[2])
    return forms


def _tree(graph: Graph, root: int, leaf: int) -> list[int]:
    """Return the inner nodes of the tree under ``root`` (not ``root``, not the leaf)."""
    inner, stack = [], [o for o in graph[root].operands]
    while stack:
        node_id = stack.pop()
        if node_id == leaf or graph[node_id].op == "const" or node_id in inner:
            continue
        inner.append(node_id)
        stack.extend(graph[node_id].operands)
    return inner


def fuse_constant_products(graph: Graph, model: DelayModel) -> Graph:
    """Return ``graph``, or a copy in which shift-and-add products that fit a DSP are ``mul``s."""
    if model.dsp is None:
        return graph
    forms = _forms(graph)
    result: Graph | None = None
    # Outermost trees first: a tree inside a folded one is gone with it.
    for node_id in reversed(graph.order()):
        g = result or graph
        if node_id not in g or node_id not in forms:
            continue
        leaf, c, additions = forms[node_id]
        if additions == 0 or c in (-1, 0, 1):
            continue
        inner = _tree(g, node_id, leaf)
        members = set(inner) | {node_id}
        if any(u not in members for n in inner for u in g.users(n)):
            continue  # an inner value is used elsewhere: folding would not save its adder
        x, k = g[leaf].type, narrowest(c, c)
        if not model.dsp.fits(x.width, getattr(x, "signed", False), k.width, k.signed,
                              g[node_id].type.width):
            continue
        if result is None:
            result = g = graph.copy()
        span = g[node_id].span
        g.replace(node_id, op="mul", operands=(leaf, g.const(c, span=span)), attrs={})
        pending = set(inner)
        while dead := sorted(n for n in pending if not g.users(n)):
            for n in dead:
                g.remove(n)
            pending.difference_update(dead)
    return result or graph


def dsp_products(graph: Graph, model: DelayModel) -> list[Node]:
    """Return the products of ``graph`` that synthesis puts in hard multipliers."""
    return [node for node in graph if model.maps_to_dsp(node, graph)]


def lut_cost(node: Node, graph: Graph) -> int:
    """Return the adder bits a product would cost as shifts and additions in LUTs.

    ``x * c`` adds one shifted copy of ``x`` per 1 bit of ``|c|`` after the first; ``x * y``
    adds one (muxed) copy per bit of the narrower operand. Each addition is about as
    wide as the product.
    """
    a, b = (graph[o] for o in node.operands)
    consts = [o["value"] for o in (a, b) if o.op == "const"]
    if consts:
        additions = max(bin(abs(consts[0])).count("1") - 1, 0)
    else:
        additions = min(a.type.width, b.type.width) - 1
    return additions * node.type.width


def limit_dsp_products(graph: Graph, model: DelayModel, budget: int) -> Graph:
    """Return ``graph``, or a copy in which at most ``budget`` products use DSP blocks.

    The products that would cost the most in LUTs (:func:`lut_cost`; ties: the earlier
    node) keep their blocks; the others become shifts and additions of the same value.
    """
    products = dsp_products(graph, model)
    if len(products) <= budget:
        return graph
    ranked = sorted(products, key=lambda n: (-lut_cost(n, graph), n.id))
    result = graph.copy()
    ranges = value_ranges(result)
    for node in ranked[max(budget, 0):]:
        value = _shift_and_add(result, ranges, node)
        result.replace_uses(node.id, value)
        result.remove(node.id)
    # Interval arithmetic over the terms can give a looser range than the product had.
    widen_types(result)
    return result


def _shift_and_add(g: Graph, ranges: dict, node: Node) -> int:
    """Add ``node``'s product as shifts and additions to ``g``; return the new value's id."""

    def add(op: str, operands, **attrs) -> int:
        rng = OPS[op].range(attrs, *(ranges[o] for o in operands))
        new = g.add(op, operands, type=narrowest(*rng), span=node.span, **attrs)
        ranges[new] = rng
        return new

    def const(value: int) -> int:
        return add("const", (), value=value)

    a, b = node.operands
    if g[a].op == "const":
        a, b = b, a
    terms: list[tuple[int, bool]] = []  # (value, subtract it)
    if g[b].op == "const":
        c = g[b]["value"]
        for i in range(abs(c).bit_length()):
            if abs(c) >> i & 1:
                terms.append((add("shl", (a, const(i))) if i else a, c < 0))
    else:
        ty = g[b].type
        for i in range(ty.width):
            bit = add("and", (add("shr", (b, const(i))) if i else b, const(1)))
            shifted = add("shl", (a, const(i))) if i else a
            # In two's complement the top bit of a signed operand weighs -2**(w-1).
            terms.append((add("mux", (bit, const(0), shifted)), ty.signed and i == ty.width - 1))
    # A balanced tree of additions; subtracted terms are subtracted where they meet one.
    while len(terms) > 1:
        paired = []
        for (x, neg_x), (y, neg_y) in zip(terms[::2], terms[1::2]):
            if neg_x == neg_y:
                paired.append((add("add", (x, y)), neg_x))
            else:
                paired.append((add("sub", (y, x) if neg_x else (x, y)), False))
        terms = paired + ([terms[-1]] if len(terms) % 2 else [])
    value, negative = terms[0] if terms else (const(0), False)
    return add("neg", (value,)) if negative else value
