"""Requests in, responses out: checking values by path, and rebuilding records and arrays."""

from __future__ import annotations

import numpy as np
import pytest
from rt_helpers import model

from fpgac import Record, u8
from fpgac.ir import ArrayTy, BoolTy, Graph, IntTy, RecordTy
from fpgac.runtime import RequestError

RGB = RecordTy("RGB", (("r", IntTy(8)), ("g", IntTy(8)), ("b", IntTy(8))))
PT = RecordTy("Pt", (("x", IntTy(8, True)), ("y", IntTy(8))))
OUT = RecordTy("Out", (("total", IntTy(16)), ("pts", ArrayTy(PT, 2)), ("big", IntTy(100))))
PARAMS = [("p", RGB), ("data", ArrayTy(IntTy(8), 3)), ("flag", BoolTy()), ("bit", IntTy(1)),
          ("s", IntTy(8, True)), ("big", IntTy(100))]


def _mix_model():
    """``mix(p, data, flag, bit, s, big) -> Out``: sums, copies and negates its inputs."""
    g = Graph("mix")
    leaf = {}
    for path, width, signed in [("p.r", 8, False), ("p.g", 8, False), ("p.b", 8, False),
                                ("data[0]", 8, False), ("data[1]", 8, False),
                                ("data[2]", 8, False), ("flag", 1, False), ("bit", 1, False),
                                ("s", 8, True), ("big", 100, False)]:
        leaf[path] = g.add("param", path=path, width=width, signed=signed)
    total = leaf["p.r"]
    for path in ("data[0]", "data[1]", "data[2]", "flag", "bit"):
        total = g.add("add", (total, leaf[path]))
    g.add("output", (g.add("wrap", (total,), width=16, signed=False),), path="return.total")
    g.add("output", (leaf["s"],), path="return.pts[0].x")
    g.add("output", (leaf["p.g"],), path="return.pts[0].y")
    neg = g.add("wrap", (g.add("neg", (leaf["s"],)),), width=8, signed=True)
    g.add("output", (neg,), path="return.pts[1].x")
    g.add("output", (leaf["data[1]"],), path="return.pts[1].y")
    g.add("output", (leaf["big"],), path="return.big")
    return model(g, PARAMS, OUT, path="/mix", name="mix",
                 records={"RGB": RGB, "Pt": PT, "Out": OUT})


MIX = _mix_model()
GOOD = {"p": {"r": 1, "g": 2, "b": 3}, "data": [4, 5, 6], "flag": True, "bit": 1, "s": -7,
        "big": (1 << 99) + 5}
ANSWER = {"total": 1 + 4 + 5 + 6 + 1 + 1,
          "pts": [{"x": -7, "y": 2}, {"x": 7, "y": 5}], "big": (1 << 99) + 5}


class RGBRecord(Record):
    r: u8
    g: u8
    b: u8


class Point:
    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __eq__(self, other):
        return type(other) is Point and self.__dict__ == other.__dict__


# --- accepted values ---------------------------------------------------------------------------


def test_a_call_with_keywords_positions_records_and_tuples():
    assert MIX(**GOOD) == ANSWER
    args = (RGBRecord(r=1, g=2, b=3), (4, 5, 6), 1, True, -7, (1 << 99) + 5)
    assert MIX(*args) == ANSWER
    assert MIX(*args[:2], flag=True, bit=1, s=-7, big=(1 << 99) + 5) == ANSWER
    assert MIX.handle(GOOD) == ANSWER
    assert MIX.handle(args) == ANSWER


def test_numpy_integers_are_accepted_and_responses_are_plain_ints():
    request = dict(GOOD, s=np.int8(-7), data=np.array([4, 5, 6], dtype=np.uint8))
    response = MIX(**request)
    assert response == ANSWER
    assert type(response["pts"][0]["x"]) is int


def test_batch_and_stream_keep_order_and_agree_with_single_calls():
    requests = [dict(GOOD, s=s, data=[s % 256, 0, 255]) for s in range(-128, 128)]
    expected = [MIX(**r) for r in requests]
    assert MIX.batch(requests) == expected
    # Mixed shapes (dicts, tuples, record objects) take the per-request path: same answers.
    mixed = [tuple(r.values()) if k % 3 == 0 else r for k, r in enumerate(requests)]
    mixed[5] = dict(mixed[5], p=RGBRecord(r=1, g=2, b=3))
    assert MIX.batch(mixed) == expected
    assert list(MIX.stream(iter(requests), chunk=7)) == expected


def test_stream_is_lazy():
    taken = []

    def requests():
        for s in range(100):
            taken.append(s)
            yield dict(GOOD, s=s)

    stream = MIX.stream(requests(), chunk=10)
    assert next(stream)["pts"][0]["x"] == 0
    assert len(taken) == 10
    assert [r["pts"][0]["x"] for r in stream][-1] == 99


def test_record_objects_in_a_batch_take_the_fast_path_and_agree():
    requests = [dict(GOOD, p=RGBRecord(r=k, g=k, b=k)) for k in range(256)]
    assert MIX.batch(requests) == [MIX(**r) for r in requests]


def test_response_records_built_by_factories():
    with_points = MIX.with_records({"Pt": Point})
    response = with_points(**GOOD)
    assert response["pts"] == [Point(x=-7, y=2), Point(x=7, y=5)]
    assert with_points.batch([GOOD])[0]["pts"][1] == Point(x=7, y=5)
    assert MIX(**GOOD)["pts"][0] == {"x": -7, "y": 2}  # the original still gives dicts


def test_run_leaves_and_run_columns():
    leaves = {"p.r": 1, "p.g": 2, "p.b": 3, "data[0]": 4, "data[1]": 5, "data[2]": 6,
              "flag": 1, "bit": 1, "s": -7, "big": 9}
    assert MIX.run_leaves(leaves) == {"return.total": 18, "return.pts[0].x": -7,
                                      "return.pts[0].y": 2, "return.pts[1].x": 7,
                                      "return.pts[1].y": 5, "return.big": 9}
    columns = MIX.run_columns({k: np.array([v, v]) for k, v in leaves.items()})
    assert columns["return.total"].tolist() == [18, 18]
    assert columns["return.big"].dtype == object
    with pytest.raises(RequestError) as e:
        MIX.run_leaves(dict(leaves, s=200))
    assert str(e.value) == "`s` must fit i8 (-128 to 127), not 200"
    with pytest.raises(RequestError) as e:
        MIX.run_leaves({k: v for k, v in leaves.items() if k != "p.g"})
    assert str(e.value) == "`p.g` is missing"
    with pytest.raises(RequestError) as e:
        MIX.run_leaves(dict(leaves, extra=1))
    assert str(e.value) == "`extra` is not a leaf of `mix`'s request"


# --- refused values: whole messages ------------------------------------------------------------

REFUSED = [
    (dict(GOOD, p={"r": 300, "g": 2, "b": 3}), "p.r", "`p.r` must fit u8 (0 to 255), not 300"),
    (dict(GOOD, s=-129), "s", "`s` must fit i8 (-128 to 127), not -129"),
    (dict(GOOD, p={"r": 1, "b": 3}), "p.g", "`p.g` is missing"),
    (dict(GOOD, p={"r": 1, "g": 2, "b": 3, "x": 0}), "p.x", "`p.x` is not a field of `RGB`"),
    ({k: v for k, v in GOOD.items() if k != "big"}, "big", "`big` is missing"),
    (dict(GOOD, s="12"), "s", "`s` must be an integer, not the string '12'"),
    (dict(GOOD, s=1.5), "s", "`s` must be an integer, not the float 1.5"),
    (dict(GOOD, s=None), "s", "`s` must be an integer, not None"),
    (dict(GOOD, s=True), "s",
     "`s` must be an integer, not the bool True (true and false are accepted only for bool "
     "and u1)"),
    (dict(GOOD, flag=2), "flag", "`flag` must be a bool (true, false, 0 or 1), not 2"),
    (dict(GOOD, flag="yes"), "flag",
     "`flag` must be a bool (true, false, 0 or 1), not the string 'yes'"),
    (dict(GOOD, bit=2), "bit", "`bit` must fit u1 (0 to 1), not 2"),
    (dict(GOOD, data=[1, 2]), "data", "`data` must have 3 elements, not 2"),
    (dict(GOOD, data=5), "data", "`data` must be an array of 3 elements, not the integer 5"),
    (dict(GOOD, data={"0": 1}), "data",
     "`data` must be an array of 3 elements, not a dict of 1 key"),
    (dict(GOOD, data=[1, 256, 3]), "data[1]", "`data[1]` must fit u8 (0 to 255), not 256"),
    (dict(GOOD, data=[1, -1, 3]), "data[1]", "`data[1]` must fit u8 (0 to 255), not -1"),
    (dict(GOOD, p=5), "p",
     "`p` must be a `RGB` record (a dict or an object with fields `r`, `g`, `b`), not the "
     "integer 5"),
    (dict(GOOD, p=[1, 2, 3]), "p",
     "`p` must be a `RGB` record (a dict or an object with fields `r`, `g`, `b`), not a list "
     "of 3 elements"),
    (dict(GOOD, p=Point(r=1, g=2)), "p.b", "`p.b` is missing"),
    (dict(GOOD, big=1 << 100), "big",
     "`big` must fit u100 (0 to 1267650600228229401496703205375), not "
     "1267650600228229401496703205376"),
    (dict(GOOD, s=10**50), "s",
     "`s` must fit i8 (-128 to 127), not 1000000000000000000000000000000000000..."),
]


@pytest.mark.parametrize("request_,path,message", REFUSED, ids=[m for _, _, m in REFUSED])
def test_refused_values_name_their_path(request_, path, message):
    with pytest.raises(RequestError) as e:
        MIX(**request_)
    assert (str(e.value), e.value.path) == (message, path)
    assert isinstance(e.value, ValueError)
    # The batch path refuses the same request with the same words, placed by its index.
    with pytest.raises(RequestError) as e:
        MIX.batch([GOOD, GOOD, request_, GOOD])
    assert (str(e.value), e.value.path, e.value.index) == (f"request 2: {message}", path, 2)


def test_refused_calls():
    with pytest.raises(RequestError) as e:
        MIX(GOOD["p"], GOOD["data"])
    assert str(e.value) == "`mix` takes 6 arguments, not 2"
    with pytest.raises(RequestError) as e:
        MIX(GOOD["p"], p=GOOD["p"])
    assert (str(e.value), e.value.path) == ("`p` is given twice", "p")
    with pytest.raises(RequestError) as e:
        MIX(**GOOD, q=1)
    assert (str(e.value), e.value.path) == (
        "`q` is not a parameter of `mix` (its parameters: `p`, `data`, `flag`, `bit`, `s`, "
        "`big`)", "q")
    with pytest.raises(RequestError) as e:
        MIX.batch([GOOD, 7])
    assert str(e.value) == ("request 1: a request must be a dict keyed by parameter name or a "
                            "tuple of positional arguments, not the integer 7")


def test_a_refused_value_deep_in_a_long_batch_is_found():
    requests = [GOOD] * 70_000 + [dict(GOOD, s=500)] + [GOOD] * 10
    with pytest.raises(RequestError) as e:
        MIX.batch(requests)
    assert e.value.index == 70_000 and e.value.path == "s"


def test_isolated_runs_answer_good_requests_and_refuse_bad_ones():
    results = MIX.run_isolated([GOOD, dict(GOOD, s=500), GOOD, "nope"])
    assert [ok for ok, _ in results] == [True, False, True, False]
    assert results[0][1] == ANSWER and results[2][1] == ANSWER
    assert results[1][1].reason == "`s` must fit i8 (-128 to 127), not 500"
