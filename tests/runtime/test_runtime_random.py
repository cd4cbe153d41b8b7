"""Random graphs: the IR interpreter, the scalar model and the batch model agree bit for bit.

Widths are drawn around the boundaries that matter to the batch path (63, 64
and 65 bits, where columns switch between ``int64`` and Python ints) as well
as narrow and wide (up to 200 bits) values.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rt_helpers import check_agree, edge_values, model

from fpgac.ir import ArrayTy, Graph, IntTy

WIDTHS = [1, 2, 3, 7, 8, 9, 16, 31, 32, 33, 62, 63, 64, 65, 66, 100, 128, 200]
BINARY = ["add", "sub", "mul", "and", "or", "xor", "eq", "ne", "lt", "le", "gt", "ge",
          "floordiv", "mod"]
UNARY = ["neg", "not", "popcount", "clz", "ctz", "reverse"]
OPS = BINARY + UNARY + ["const", "shl", "shr", "mux", "wrap", "rom", "select", "rotl", "rotr",
                        "concat"]
#: Wider results are wrapped back down, so that values stay at most this many bits.
LIMIT = 220


@st.composite
def graphs(draw):
    """Draw a verified random route: (graph, params, returns)."""
    g = Graph("f")
    params = []
    pool: list[int] = []
    for i in range(draw(st.integers(1, 3))):
        ty = IntTy(draw(st.sampled_from(WIDTHS)), draw(st.booleans()))
        params.append((f"a{i}", ty))
        pool.append(g.add("param", path=f"a{i}", width=ty.width, signed=ty.signed))

    def pick() -> int:
        return draw(st.sampled_from(pool))

    def amount() -> int:
        if draw(st.booleans()):
            return g.const(draw(st.integers(0, 80)))
        return g.add("wrap", (pick(),), width=draw(st.integers(1, 7)), signed=False)

    def width() -> int:
        return draw(st.sampled_from(WIDTHS))

    for _ in range(draw(st.integers(1, 12))):
        op = draw(st.sampled_from(OPS))
        if op == "const":
            node = g.const(draw(st.one_of(st.integers(-300, 300),
                                          st.integers(-(1 << 70), 1 << 70))))
        elif op in BINARY:
            node = g.add(op, (pick(), pick()))
        elif op in UNARY:
            attrs = {"width": width()} if op not in ("neg", "not") else {}
            node = g.add(op, (pick(),), **attrs)
        elif op in ("shl", "shr"):
            node = g.add(op, (pick(), amount()))
        elif op in ("rotl", "rotr"):
            n = pick() if draw(st.booleans()) else amount()
            if g[n].type.signed:
                n = g.add("wrap", (n,), width=g[n].type.width, signed=False)
            node = g.add(op, (pick(), n), width=width())
        elif op == "mux":
            sel = g.add(draw(st.sampled_from(["lt", "ne", "ge"])), (pick(), pick()))
            node = g.add("mux", (sel, pick(), pick()))
        elif op == "wrap":
            node = g.add("wrap", (pick(),), width=width(), signed=draw(st.booleans()))
        elif op == "rom":
            values = draw(st.lists(st.integers(-(1 << 66), 1 << 66) | st.integers(-9, 9),
                                   min_size=0, max_size=12))
            node = g.add("rom", (pick(),), values=values)
        elif op == "select":
            elems = [pick() for _ in range(draw(st.integers(1, 12)))]
            node = g.add("select", (pick(), *elems))
        else:  # concat
            parts = [pick() for _ in range(draw(st.integers(1, 3)))]
            widths = [draw(st.sampled_from([1, 3, 8, 21, 32, 63, 64])) for _ in parts]
            node = g.add("concat", parts, widths=widths)
        if g[node].type.width > LIMIT:
            node = g.add("wrap", (node,), width=width(), signed=draw(st.booleans()))
        pool.append(node)
    # Return a few of the nodes, each wrapped to a common element type.
    elem = IntTy(draw(st.sampled_from(WIDTHS)), draw(st.booleans()))
    chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
    for i, node in enumerate(chosen):
        g.add("output", (g.add("wrap", (node,), width=elem.width, signed=elem.signed),),
              path=f"return[{i}]")
    return g, params, ArrayTy(elem, len(chosen))


@st.composite
def inputs(draw, params):
    """Draw request leaves, favouring each type's edge values."""
    leaves = {}
    for name, ty in params:
        leaves[name] = draw(st.sampled_from(edge_values(ty)) | st.integers(ty.min, ty.max))
    return leaves


def _check(data):
    g, params, returns = data.draw(graphs())
    route_model = model(g, params, returns)
    cases = data.draw(st.lists(inputs(params), min_size=1, max_size=20))
    check_agree(g, route_model, cases)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_interpreter_scalar_and_batch_agree(data):
    _check(data)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_interpreter_scalar_and_batch_agree_at_length(data):
    _check(data)
