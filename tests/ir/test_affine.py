"""XOR forms: every bit a form claims is the XOR of its leaves, on random bitwise graphs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fpgac.ir import Graph
from fpgac.ir.affine import AffineForms
from fpgac.ir.ops import OPS

PARAMS = [(8, False), (8, True), (16, False), (5, True)]


def _value_bit(value: int, i: int) -> int:
    return value >> i & 1  # Python's >> is two's complement for negative values


@st.composite
def bitwise_graphs(draw):
    g = Graph("affine")
    values = [g.add("param", path=f"p{k}", width=w, signed=s) for k, (w, s) in enumerate(PARAMS)]
    for _ in range(draw(st.integers(1, 25))):
        pick = st.sampled_from(values)
        kind = draw(st.sampled_from(["xor", "and_c", "or_c", "and", "not", "shl", "shr", "rotl",
                                     "rotr", "wrap", "concat", "reverse", "mux", "mux_c"]))
        a = draw(pick)
        width = g[a].type.width
        if kind == "xor":
            node = g.add("xor", (a, draw(pick)))
        elif kind in ("and_c", "or_c"):
            c = g.const(draw(st.integers(0, 2**16 - 1)))
            node = g.add(kind[:-2], (a, c) if draw(st.booleans()) else (c, a))
        elif kind == "and":
            node = g.add("and", (a, draw(pick)))
        elif kind == "not":
            node = g.add("not", (a,))
        elif kind in ("shl", "shr"):
            node = g.add(kind, (a, g.const(draw(st.integers(0, 12)))))
        elif kind in ("rotl", "rotr"):
            if g[a].type.signed:
                continue
            node = g.add(kind, (a, g.const(draw(st.integers(0, 40)))), width=width)
        elif kind == "wrap":
            node = g.add("wrap", (a,), width=draw(st.integers(1, 20)),
                         signed=draw(st.booleans()))
        elif kind == "concat":
            b = draw(pick)
            node = g.add("concat", (a, b), widths=(width, g[b].type.width))
        elif kind == "reverse":
            if g[a].type.signed:
                continue
            node = g.add("reverse", (a,), width=width)
        else:
            sel = g.add("wrap", (draw(pick),), width=1, signed=False)
            if kind == "mux":
                node = g.add("mux", (sel, a, draw(pick)))
            else:  # choices that differ by a constant: linear in the selector
                node = g.add("mux", (sel, a, g.add("xor", (a, g.const(draw(st.integers(0, 255)))))))
        values.append(node)
    inputs = {f"p{k}": draw(st.integers(-(1 << w - 1) if s else 0, (1 << w - (s > 0)) - 1))
              for k, (w, s) in enumerate(PARAMS)}
    return g, inputs


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(bitwise_graphs())
def test_every_form_is_the_xor_of_its_leaves(case):
    g, inputs = case
    values: dict[int, int] = {}
    for node in g:
        values[node.id] = inputs[node["path"]] if node.op == "param" else \
            OPS[node.op].evaluate(node.attrs, *(values[o] for o in node.operands))
    affine = AffineForms(g)
    for node in g:
        forms = affine.place(node.id, 0, lambda _: 0)
        if forms is None:
            continue
        assert len(forms) == node.type.width
        for i, (leaves, constant) in enumerate(forms):
            got = constant
            for o, b in leaves:
                assert g[o].op in ("param", "and", "mux"), g[o].op  # only non-affine leaves
                got ^= _value_bit(values[o], b)
            assert got == _value_bit(values[node.id], i), (node, i)


def test_a_crc_step_is_affine_and_a_product_is_a_leaf():
    g = Graph("crc")
    crc = g.add("param", path="crc", width=32, signed=False)
    low = g.add("and", (crc, g.const(1)))
    shifted = g.add("shr", (crc, g.const(1)))
    step = g.add("mux", (low, shifted, g.add("xor", (shifted, g.const(0xEDB88320)))))
    square = g.add("mul", (step, step))
    mixed = g.add("xor", (square, step))
    affine = AffineForms(g)
    forms = {node.id: affine.place(node.id, 0, lambda _: 0) for node in g}
    # bit 31 of the step is "bit 0 of crc" (the polynomial's top bit, selected by it)
    assert forms[step][31] == (frozenset({(crc, 0)}), 0)
    assert forms[step][0] == (frozenset({(crc, 1)}), 0)  # 0xEDB88320 has bit 0 clear...
    assert forms[step][5] == (frozenset({(crc, 0), (crc, 6)}), 0)  # ...and bit 5 set
    assert forms[square] is None
    assert (square, 0) in forms[mixed][0][0]
    # In a later stage than its operand, a node reads the operand's register bits.
    later = AffineForms(g)
    stages = {n.id: (1 if n.id == mixed else 0) for n in g}
    for node in g:
        later.place(node.id, stages[node.id], stages.__getitem__)
    assert later.forms[mixed][5] == (frozenset({(square, 5), (step, 5)}), 0)
