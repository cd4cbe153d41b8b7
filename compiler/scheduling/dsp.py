"""Give constant products back to the target's hard multipliers.

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
"""

from __future__ import annotations

from ..ir.graph import Graph
from ..ir.types import narrowest
from .delay_model import DelayModel

__all__ = ["fuse_constant_products"]

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
