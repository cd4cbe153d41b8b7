"""The core's signature: JSON data whose leaf offsets are the Amaranth layouts' own."""

import json
import subprocess
import sys

import pytest
from harness import EXAMPLE_FILES, example

from fpgac.backend import (
    elaborate,
    generate_route,
    pack_leaves,
    payload_leaves,
    route_signature,
    unpack_leaves,
)
from fpgac.backend._simple_schedule import asap_schedule
from fpgac.ir import ArrayTy, BoolTy, IntTy, RecordTy


def _layout_offsets(shape, prefix, offset=0, out=None):
    """Walk an Amaranth layout: return {leaf path: (offset, width, signed)}."""
    from amaranth.lib import data

    out = {} if out is None else out
    if isinstance(shape, data.Layout):
        for key, field in shape:  # struct fields by name, array elements by index
            path = f"{prefix}[{key}]" if isinstance(key, int) else f"{prefix}.{key}"
            _layout_offsets(field.shape, path, offset + field.offset, out)
    else:
        out[prefix] = (offset, shape.width, shape.signed)
    return out


@pytest.mark.parametrize("file", EXAMPLE_FILES)
def test_leaf_offsets_match_the_generated_layouts(file):
    from amaranth.hdl import Value

    for route in example(file).routes:
        schedule = asap_schedule(route.graph, 1)
        signature = json.loads(json.dumps(route_signature(route, schedule)))
        component = elaborate(generate_route(route, schedule))
        component._MustUse__silence = True  # only its ports are inspected, never elaborated
        request = _layout_offsets(component.i.payload.shape(), "")
        assert {leaf["path"]: (leaf["offset"], leaf["width"], leaf["signed"])
                for leaf in signature["request"]["leaves"]} == {
            path[1:]: v for path, v in request.items()}
        response = _layout_offsets(component.o.payload.shape(), "return")
        assert {leaf["path"]: (leaf["offset"], leaf["width"], leaf["signed"])
                for leaf in signature["response"]["leaves"]} == response
        assert signature["request"]["width"] == len(Value.cast(component.i.payload))
        assert signature["response"]["width"] == len(Value.cast(component.o.payload))


def test_signature_of_a_route():
    route = example("imaging.py").route("/ycbcr")
    signature = route_signature(route, asap_schedule(route.graph, 4), component="YcbcrCore")
    assert json.loads(json.dumps(signature)) == signature
    assert signature["latency"] == 4 and signature["initiation_interval"] == 1
    assert signature["handshake"] == "valid-ready"
    assert signature["ports"] == {
        "i": {"direction": "in", "payload": "i__payload", "valid": "i__valid",
              "ready": "i__ready", "width": 24},
        "o": {"direction": "out", "payload": "o__payload", "valid": "o__valid",
              "ready": "o__ready", "width": 24},
    }
    assert [(leaf["path"], leaf["offset"]) for leaf in signature["response"]["leaves"]] == [
        ("return.y", 0), ("return.cb", 8), ("return.cr", 16)]


def test_nested_records_arrays_and_bools_pack_first_field_lowest():
    inner = RecordTy("In", (("flag", BoolTy()), ("v", IntTy(5, True))))
    leaves = payload_leaves([("a", IntTy(3)), ("xs", ArrayTy(inner, 2)), ("z", IntTy(4))])
    assert [(x["path"], x["offset"], x["width"], x["signed"], x["bool"]) for x in leaves] == [
        ("a", 0, 3, False, False),
        ("xs[0].flag", 3, 1, False, True), ("xs[0].v", 4, 5, True, False),
        ("xs[1].flag", 9, 1, False, True), ("xs[1].v", 10, 5, True, False),
        ("z", 15, 4, False, False),
    ]
    values = {"a": 5, "xs[0].flag": 1, "xs[0].v": -16, "xs[1].flag": 0, "xs[1].v": 15, "z": 9}
    bits = pack_leaves(leaves, values)
    assert bits == 5 | 1 << 3 | 0b10000 << 4 | 0b01111 << 10 | 9 << 15
    assert unpack_leaves(leaves, bits) == values


def test_packing_refuses_a_value_that_does_not_fit():
    leaves = payload_leaves([("v", IntTy(4, True))])
    with pytest.raises(ValueError, match=r"`v` = 8 does not fit its 4-bit signed field"):
        pack_leaves(leaves, {"v": 8})


def test_importing_the_backend_does_not_import_amaranth():
    probe = ("import fpgac.backend, sys; "
             "print(any(m.split('.')[0] == 'amaranth' for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
