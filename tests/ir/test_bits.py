"""The bit-level rules of bitwise ops, run on concrete bits, equal the ops' exact values."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fpgac.ir import Graph
from fpgac.ir.bits import is_bit_level, node_bits
from fpgac.ir.ops import OPS


class Concrete:
    """Bits as 0 and 1."""

    zero, one = 0, 1

    def and_(self, a, b):
        return a & b

    def or_(self, a, b):
        return a | b

    def xor(self, a, b):
        return a ^ b

    def flip(self, a):
        return 1 - a

    def mux(self, sel, if_false, if_true):
        return if_true if sel else if_false


def _bits(value: int, width: int) -> tuple[int, ...]:
    return tuple(value >> i & 1 for i in range(width))


types = st.tuples(st.integers(1, 12), st.booleans())


@st.composite
def cases(draw):
    g = Graph("bits")
    (wa, sa), (wb, sb) = draw(types), draw(types)
    a = g.add("param", path="a", width=wa, signed=sa)
    b = g.add("param", path="b", width=wb, signed=sb)
    c = g.const(draw(st.integers(-300, 300)))
    op = draw(st.sampled_from(["and", "or", "xor", "not", "shl", "shr", "rotl", "rotr", "wrap",
                               "concat", "reverse", "mux", "select", "eq", "ne"]))
    x, y = draw(st.permutations([a, b, c]))[:2]
    if op in ("and", "or", "xor", "eq", "ne"):
        node = g.add(op, (x, y))
    elif op == "not":
        node = g.add("not", (x,))
    elif op in ("shl", "shr"):
        node = g.add(op, (x, g.const(draw(st.integers(0, 14)))))
    elif op in ("rotl", "rotr", "reverse"):
        w = draw(st.integers(1, 14))
        low = g.add("wrap", (x,), width=w, signed=False)
        node = g.add(op, (low, g.const(draw(st.integers(0, 30)))), width=w) if op != "reverse" \
            else g.add("reverse", (low,), width=w)
    elif op == "wrap":
        node = g.add("wrap", (x,), width=draw(st.integers(1, 14)), signed=draw(st.booleans()))
    elif op == "concat":
        node = g.add("concat", (a, b), widths=(wa, wb))
    elif op == "mux":
        node = g.add("mux", (x, a, b))
    else:  # an index of either signedness, some elements, often fewer than it can name
        index = a
        elements = [b, c, a][:draw(st.integers(1, 3))] * draw(st.integers(1, 3))
        node = g.add("select", (index, *elements))
    inputs = {"a": draw(st.integers(-(1 << wa - 1) if sa else 0, (1 << wa - sa) - 1)),
              "b": draw(st.integers(-(1 << wb - 1) if sb else 0, (1 << wb - sb) - 1))}
    return g, node, inputs


@settings(max_examples=2000, deadline=None, database=None, derandomize=True)
@given(cases())
def test_node_bits_are_the_exact_value(case):
    g, node_id, inputs = case
    values = {}
    for node in g:
        values[node.id] = inputs[node["path"]] if node.op == "param" else \
            OPS[node.op].evaluate(node.attrs, *(values[o] for o in node.operands))
    node = g[node_id]
    assert is_bit_level(node, g)
    operands = [_bits(values[o], g[o].type.width) for o in node.operands]
    signed = [g[o].type.signed for o in node.operands]
    got = node_bits(node, g, operands, signed, Concrete())
    assert got == _bits(values[node_id], node.type.width), (node, inputs)
