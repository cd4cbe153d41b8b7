"""Payloads wider than 64 bits, signed leaves, records, arrays and a request without fields.

The CXXRTL testbench moves payloads as 32-bit words; these cores put leaves
across word boundaries, beyond 64 bits, and at the top of a 257-bit payload.
"""

import functools

import pytest

from fpgac.driver import compile_source, optimize
from fpgac.scheduling import DelayModel, schedule
from fpgac.simulate import prepare_many, random_requests

SOURCE = '''
from fpgac import App, Array, Record, bits, concat, sint, u1, u8, u64, uint

app = App("wide")

class Pair(Record):
    a: uint(100)
    b: sint(97)

class Packet(Record):
    head: u8
    words: Array[u64, 3]
    flag: bool

@app.post("/swap")
def swap(p: Pair) -> Pair:
    return Pair(a=p.b, b=p.a + 1)

@app.post("/mix")
def mix(x: Packet, k: sint(33)) -> Array[sint(70), 3]:
    out: Array[sint(70), 3] = [0, 0, 0]
    for i in range(3):
        out[i] = x.words[i] * k + x.head - (x.flag << 69)
    return out

@app.post("/join")
def join(a: u64, b: u64, c: u1) -> uint(129):
    return concat(c, a, b)

@app.post("/split")
def split(v: uint(257)) -> Packet:
    return Packet(head=bits(v, 249, 8), words=[bits(v, 0, 64), bits(v, 64, 64),
                                              bits(v, 128, 64)], flag=bits(v, 256, 1))

@app.post("/answer")
def answer() -> u8:
    return 42
'''


@functools.cache
def _cores(engine: str):
    program = optimize(compile_source(SOURCE, "wide.py"))
    model = DelayModel.load("ice40")
    pairs = [(r, schedule(r.graph, model=model, stages=k % 3))
             for k, r in enumerate(program.routes)]
    return {core.route.path: core for core in prepare_many(pairs, engine=engine,
                                                           reference="interpret")}


PATHS = ["/swap", "/mix", "/join", "/split", "/answer"]


@pytest.mark.parametrize("path", PATHS)
def test_wide_payloads_agree_in_both_engines(path):
    fast, slow = _cores("cxxrtl")[path], _cores("amaranth")[path]
    requests = random_requests(fast.route, 60, seed=5)
    a = fast.run(requests, gap=0.3, stall=0.3, seed=9)
    b = slow.run(requests, gap=0.3, stall=0.3, seed=9)
    assert a.mismatches == [] and b.mismatches == []
    assert a.responses == b.responses
    assert (a.cycles, a.accepted_at, a.answered_at) == (b.cycles, b.accepted_at, b.answered_at)


def test_the_widest_values_survive_the_trip():
    core = _cores("cxxrtl")["/split"]
    top = (1 << 257) - 1
    result = core.run([{"v": top}, {"v": 1 << 256}, {"v": 0}, {"v": 0xAB << 249}])
    assert result.responses == [
        {"head": 255, "words": [2**64 - 1] * 3, "flag": 1},
        {"head": 128, "words": [0, 0, 0], "flag": 1},  # `head` is bits 249 to 256
        {"head": 0, "words": [0, 0, 0], "flag": 0},
        {"head": 0xAB, "words": [0, 0, 0], "flag": 1},
    ]


def test_signed_leaves_come_back_negative():
    core = _cores("cxxrtl")["/swap"]
    low = -(1 << 96)
    result = core.run([{"p": {"a": 0, "b": low}}, {"p": {"a": (1 << 96) - 1, "b": -5}}])
    assert result.mismatches == []
    # `b = p.a + 1` wraps to 97 signed bits: 2**96 reads as -2**96.
    assert result.responses == [{"a": (1 << 100) + low, "b": 1},
                                {"a": (1 << 100) - 5, "b": low}]


def test_a_request_without_fields():
    core = _cores("cxxrtl")["/answer"]
    assert core.signature["request"]["width"] == 0
    result = core.run([{}] * 5, stall=0.5, seed=1)
    assert result.responses == [42] * 5
