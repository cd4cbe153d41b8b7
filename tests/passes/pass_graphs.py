"""Random well-formed IR graphs and inputs, and the differential check the pass tests share."""

from __future__ import annotations

import random

from hypothesis import strategies as st

from fpgac.ir import Graph, IntTy, format_graph, interpret, verify

BINARY = ["add", "sub", "mul", "and", "or", "xor", "eq", "ne", "lt", "le", "gt", "ge"]
UNARY = ["neg", "not", "popcount", "clz", "ctz", "reverse"]
DIVISORS = [0, 1, -1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 100, 255, -2, -3, -4, -8]
OPS = BINARY + UNARY + ["const", "floordiv", "mod", "shl", "shr", "mux", "wrap", "rom",
                        "select", "rotl", "rotr", "concat"]
#: Results wider than this are wrapped back down, so graphs stay small and fast to verify.
WIDE = 40


class _Choices:
    """The random choices a graph is built from, by hypothesis or by ``random``."""

    def __init__(self, draw=None, rng: random.Random | None = None):
        self.draw, self.rng = draw, rng

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi)) if self.draw else self.rng.randint(lo, hi)

    def choice(self, items):
        return self.draw(st.sampled_from(items)) if self.draw else self.rng.choice(items)

    def boolean(self) -> bool:
        return self.integer(0, 1) == 1


def build_graph(ch: _Choices, n_nodes: int, n_params: int = 3) -> Graph:
    """Build a random verified DAG with ``n_params`` params and about ``n_nodes`` operations."""
    g = Graph("rand")
    pool: list[int] = []
    for i in range(n_params):
        pool.append(g.add("param", path=f"p{i}", width=ch.integer(1, 10), signed=ch.boolean()))

    def pick() -> int:
        return ch.choice(pool)

    def small_amount() -> int:
        if ch.boolean():
            return g.const(ch.integer(0, 6))
        return g.add("wrap", (pick(),), width=ch.integer(1, 3), signed=False)

    def bit() -> int:
        bits = [i for i in pool if g[i].type == IntTy(1, False)]
        if bits and ch.boolean():
            return ch.choice(bits)
        return g.add(ch.choice(["ne", "lt", "ge"]), (pick(), pick()))

    for _ in range(n_nodes):
        op = ch.choice(OPS)
        if op == "const":
            node = g.const(ch.choice([0, 1, -1, 2, 8, 255, ch.integer(-300, 300)]))
        elif op in BINARY:
            a = pick()
            node = g.add(op, (a, a if ch.integer(0, 4) == 0 else pick()))
        elif op in ("popcount", "clz", "ctz", "reverse"):
            node = g.add(op, (pick(),), width=ch.integer(1, 10))
        elif op in UNARY:
            node = g.add(op, (pick(),))
        elif op in ("floordiv", "mod"):
            divisor = g.const(ch.choice(DIVISORS)) if ch.boolean() else pick()
            node = g.add(op, (pick(), divisor))
        elif op in ("shl", "shr"):
            node = g.add(op, (pick(), small_amount()))
        elif op in ("rotl", "rotr"):
            node = g.add(op, (pick(), small_amount()), width=ch.integer(1, 10))
        elif op == "mux":
            f = pick()
            arms = (f, f) if ch.integer(0, 5) == 0 else (f, pick())
            node = g.add("mux", (bit(), *arms))
        elif op == "wrap":
            node = g.add("wrap", (pick(),), width=ch.integer(1, 12), signed=ch.boolean())
        elif op == "rom":
            values = [ch.integer(-50, 300) for _ in range(ch.integer(1, 6))]
            node = g.add("rom", (pick(),), values=values)
        elif op == "select":
            elems = [pick() for _ in range(ch.integer(1, 4))]
            node = g.add("select", (pick(), *elems))
        else:  # concat
            parts = [pick() for _ in range(ch.integer(1, 3))]
            node = g.add("concat", parts, widths=[ch.integer(1, 6) for _ in parts])
        if g[node].type.width > WIDE:
            node = g.add("wrap", (node,), width=ch.integer(1, 16), signed=ch.boolean())
        pool.append(node)

    outs = {pool[-1]} | {pick() for _ in range(ch.integer(0, 2))}
    for i, node in enumerate(sorted(outs)):
        g.add("output", (node,), path=f"return.{i}")
    verify(g)
    return g


@st.composite
def graphs(draw, max_nodes: int = 16) -> Graph:
    """Draw a random graph over every op of the IR."""
    return build_graph(_Choices(draw=draw), draw(st.integers(1, max_nodes)))


def random_graph(seed: int, n_nodes: int) -> Graph:
    """Build a random graph from a seed (for large graphs, where hypothesis is too slow)."""
    return build_graph(_Choices(rng=random.Random(seed)), n_nodes, n_params=8)


def param_inputs(graph: Graph):
    """Return a strategy of input dicts for ``graph``'s params, their extremes likely."""
    fields = {}
    for p in graph.params():
        ty = IntTy(p["width"], p["signed"])
        fields[p["path"]] = st.one_of(st.sampled_from([ty.min, ty.max, 0]),
                                      st.integers(ty.min, ty.max))
    return st.fixed_dictionaries(fields)


def check_preserved(before: Graph, after: Graph, inputs_list) -> None:
    """Assert that ``after`` verifies and computes ``before``'s outputs on every input."""
    verify(after)
    for inputs in inputs_list:
        expected = interpret(before, inputs)
        assert interpret(after, inputs) == expected, (inputs, format_graph(after, spans=False))


def run_pass(pass_obj, graph: Graph) -> tuple[Graph, bool]:
    """Run one pass on a copy; check its claim of change against the printed text."""
    after = graph.copy()
    text = format_graph(after)
    changed = pass_obj.run(after)
    assert changed == (format_graph(after) != text), f"{pass_obj.name} misreported a change"
    return after, changed
