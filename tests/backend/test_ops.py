"""Every op in hardware, on hand-built graphs: the simulated core equals the IR interpreter.

The graphs mix signedness and widths on purpose, divide by zero, index outside
tables, and shift by variable amounts: the places where Amaranth's own
operators differ from the IR's or are easy to get wrong.
"""

import random

import pytest
from harness import check_core, random_leaf

from fpgac.backend import elaborate, generate_route, route_signature
from fpgac.backend._simple_schedule import SimpleSchedule, asap_schedule
from fpgac.ir import Graph, IntTy, RecordTy, Route, verify

u = IntTy
i = lambda w: IntTy(w, True)  # noqa: E731


def make_route(params: dict[str, IntTy], build, *, check: bool = True) -> Route:
    """Build a route whose response has one field per node that ``build`` returns."""
    g = Graph("ops")
    ids = {name: g.add("param", type=ty, path=name, width=ty.width, signed=ty.signed)
           for name, ty in params.items()}
    results = build(g, ids)
    fields = []
    for k, nid in enumerate(results):
        g.add("output", (nid,), type=g[nid].type, path=f"return.f{k}")
        fields.append((f"f{k}", g[nid].type))
    if check:
        verify(g)
    return Route("/ops", "ops", list(params.items()), RecordTy("Out", tuple(fields)), g)


def run(route, n_stages=1, n=150, seed=0, request_filter=None, graph=None):
    schedule = asap_schedule(route.graph, n_stages)
    component = elaborate(generate_route(route, schedule))
    signature = route_signature(route, schedule)
    rng = random.Random(seed)
    leaves = signature["request"]["leaves"]
    requests = []
    while len(requests) < n:
        request = {leaf["path"]: random_leaf(rng, leaf) for leaf in leaves}
        if request_filter is None or request_filter(request):
            requests.append(request)
    check_core(route, component, signature, requests, gap=0.2, stall=0.2, seed=seed)


def binary(op):
    return lambda g, p: [g.add(op, (p["a"], p["b"]))]


SIGNEDNESS = [(u(8), u(8)), (u(8), i(6)), (i(7), u(5)), (i(8), i(8)), (u(1), i(1))]


@pytest.mark.parametrize("op", ["add", "sub", "mul", "and", "or", "xor",
                                "eq", "ne", "lt", "le", "gt", "ge", "floordiv", "mod"])
def test_binary_ops_on_mixed_signedness(op):
    def build(g, p):
        return [g.add(op, (p[f"a{k}"], p[f"b{k}"])) for k in range(len(SIGNEDNESS))]

    params = {}
    for k, (ta, tb) in enumerate(SIGNEDNESS):
        params[f"a{k}"], params[f"b{k}"] = ta, tb
    run(make_route(params, build), n=120)


def test_division_and_modulo_by_zero_and_constants():
    def build(g, p):
        zero, three, minus3 = g.const(0), g.const(3), g.const(-3)
        return [g.add("floordiv", (p["a"], zero)), g.add("mod", (p["a"], zero)),
                g.add("floordiv", (p["a"], minus3)), g.add("mod", (p["a"], minus3)),
                g.add("floordiv", (p["a"], three)), g.add("mod", (p["s"], three)),
                g.add("floordiv", (minus3, p["b"])), g.add("mod", (minus3, p["b"]))]

    # Zero divisors are frequent: `b` is drawn often at 0 by the leaf distribution.
    run(make_route({"a": i(8), "s": u(8), "b": i(3)}, build))


def test_unary_ops():
    def build(g, p):
        return [g.add("neg", (p["a"],)), g.add("neg", (p["s"],)),
                g.add("not", (p["a"],)), g.add("not", (p["s"],)), g.add("not", (p["one"],))]

    run(make_route({"a": i(8), "s": u(8), "one": u(1)}, build))


def test_shifts():
    def build(g, p):
        return [g.add("shl", (p["a"], p["n"])), g.add("shr", (p["a"], p["n"])),
                g.add("shl", (p["s"], p["n"])), g.add("shr", (p["s"], p["n"])),
                g.add("shr", (p["s"], p["wide"])), g.add("shr", (p["a"], p["wide"])),
                g.add("shl", (p["a"], g.const(3))), g.add("shr", (p["a"], g.const(3))),
                g.add("shr", (p["s"], g.const(12))), g.add("shr", (p["a"], g.const(12))),
                g.add("shl", (g.const(-5), p["n"])), g.add("shr", (g.const(-100), p["n"]))]

    run(make_route({"a": i(8), "s": u(8), "n": u(4), "wide": u(16)}, build))


def test_left_shift_by_a_wide_amount_uses_only_the_bits_that_matter():
    # The node's type is a container that the requests sent (not the verifier's range
    # rules) keep big enough; the amount's type is far wider than the result could use.
    def build(g, p):
        return [g.add("shl", (p["a"], p["n"]), type=u(16)),
                g.add("shl", (p["b"], p["n"]), type=i(16))]

    route = make_route({"a": u(8), "b": i(8), "n": u(12)}, build, check=False)
    text = generate_route(route, asap_schedule(route.graph, 1))
    assert "<< v2[:4]" in text
    run(route, request_filter=lambda r: r["n"] <= 8 or (r["a"] == 0 and r["b"] == 0))


def test_mux_of_mixed_signedness():
    def build(g, p):
        lt = g.add("lt", (p["a"], p["s"]))
        return [g.add("mux", (p["sel"], p["a"], p["s"])), g.add("mux", (lt, p["s"], p["a"])),
                g.add("mux", (p["sel"], g.const(-7), p["s"]))]

    run(make_route({"a": i(8), "s": u(8), "sel": u(1)}, build))


def test_wrap_every_direction():
    def build(g, p):
        out = []
        for w, s in [(4, False), (4, True), (8, False), (8, True), (12, False), (12, True),
                     (1, False), (1, True)]:
            for src in ("a", "s"):
                out.append(g.add("wrap", (p[src],), width=w, signed=s))
        # A container wider than the wrap: the wrap must still happen.
        out.append(g.add("wrap", (p["a"],), type=u(16), width=12, signed=False))
        out.append(g.add("wrap", (p["s"],), type=i(16), width=6, signed=True))
        return out

    run(make_route({"a": i(8), "s": u(9)}, build))


def test_bit_intrinsics_on_the_low_width_bits():
    def build(g, p):
        out = []
        for src, w in [("a", 8), ("a", 12), ("a", 3), ("s", 16), ("s", 1), ("s", 7)]:
            for op in ("popcount", "clz", "ctz", "reverse"):
                out.append(g.add(op, (p[src],), width=w))
        return out

    run(make_route({"a": i(8), "s": u(16)}, build))


def test_rotations():
    def build(g, p):
        out = []
        for src, w in [("a", 8), ("a", 5), ("s", 16), ("s", 12)]:
            for op in ("rotl", "rotr"):
                out.append(g.add(op, (p[src], p["n"]), width=w))
                out.append(g.add(op, (p[src], g.const(19)), width=w))
        out.append(g.add("rotl", (g.const(0b1011), p["n"]), width=4))
        return out

    run(make_route({"a": i(8), "s": u(16), "n": u(6)}, build))


def test_concat_of_mixed_operands():
    def build(g, p):
        return [g.add("concat", (p["a"], p["s"], p["b"]), widths=(8, 3, 12)),
                g.add("concat", (p["b"],), widths=(2,)),
                g.add("concat", (g.const(5), p["a"]), widths=(4, 4))]

    run(make_route({"a": i(6), "s": u(8), "b": i(8)}, build))


def test_rom_with_out_of_range_and_negative_indexes():
    def build(g, p):
        values = (7, -3, 100, 0, -128, 55)
        return [g.add("rom", (p["s"],), values=values), g.add("rom", (p["a"],), values=values),
                g.add("rom", (p["two"],), values=(9, 8, 7, 6))]

    run(make_route({"s": u(4), "a": i(4), "two": u(2)}, build))


def test_select_with_out_of_range_and_negative_indexes():
    def build(g, p):
        return [g.add("select", (p["s"], p["x"], p["y"], p["z"])),
                g.add("select", (p["a"], p["x"], p["y"], p["z"])),
                g.add("select", (p["one"], p["x"], p["y"])),
                g.add("select", (g.const(1), p["x"], p["y"]))]

    run(make_route({"s": u(3), "a": i(3), "one": u(1), "x": i(8), "y": u(7), "z": u(2)},
                   build))


@pytest.mark.parametrize("n_stages", [0, 1, 2, 5])
def test_values_cross_several_stage_boundaries(n_stages):
    # `a` is used in the last stage too: its copy travels through every register.
    def build(g, p):
        x = p["a"]
        for k in range(6):
            x = g.add("add", (x, p["b"] if k % 2 else g.const(k + 1)))
        return [g.add("xor", (x, p["a"])), p["b"]]

    run(make_route({"a": u(8), "b": i(8)}, build), n_stages=n_stages)


def test_a_schedule_may_leave_stages_empty():
    route = make_route({"a": u(8), "b": u(8)}, binary("mul"))
    stage = {n.id: 0 for n in route.graph}
    schedule = SimpleSchedule(route.graph, stage, 4)
    component = elaborate(generate_route(route, schedule))
    signature = route_signature(route, schedule)
    rng = random.Random(3)
    requests = [{"a": rng.randrange(256), "b": rng.randrange(256)} for _ in range(60)]
    result = check_core(route, component, signature, requests, gap=0.3, stall=0.3, seed=3)
    assert signature["latency"] == 4
    assert all(out - acc >= 4 for acc, out in zip(result.accepted_at, result.answered_at))


@pytest.mark.parametrize("n_stages", [0, 2])
def test_a_route_without_parameters(n_stages):
    route = make_route({}, lambda g, p: [g.const(42), g.const(-3)])
    schedule = asap_schedule(route.graph, n_stages)
    component = elaborate(generate_route(route, schedule))
    signature = route_signature(route, schedule)
    assert signature["ports"]["i"]["payload"] is None
    result = check_core(route, component, signature, [{}] * 5, gap=0.3, stall=0.3, seed=1)
    assert len(result.responses) == 5


def test_rotation_by_a_wide_amount_stays_small():
    # Regression: 37 mux layers over a 37-bit value, each using the one before twice,
    # once made an expression tree of 2**37 nodes that never finished elaborating.
    def build(g, p):
        return [g.add("rotr", (p["x"], p["x"]), width=37),
                g.add("rotl", (p["x"], p["x"]), width=37)]

    run(make_route({"x": u(37)}, build), n=60)
