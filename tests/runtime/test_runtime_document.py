"""A bundle is untrusted data: malformed IR documents are refused with clear errors."""

from __future__ import annotations

import copy

import pytest
from rt_helpers import document

from fpgac.ir import ArrayTy, Graph, IntTy
from fpgac.runtime import BundleError, model_from_ir


def _doc() -> dict:
    """``f(a: u8, b: u8) -> u9 = a + b`` with ``v0, v1`` params, ``v2`` add, ``v3`` output."""
    g = Graph("f")
    a = g.add("param", path="a", width=8, signed=False)
    b = g.add("param", path="b", width=8, signed=False)
    g.add("output", (g.add("add", (a, b)),), path="return")
    return document(g, [("a", IntTy(8)), ("b", IntTy(8))], IntTy(9))


def _nodes(doc: dict) -> list[dict]:
    return doc["routes"][0]["nodes"]


def test_the_document_builds_a_working_model():
    assert model_from_ir(_doc()).route("f")(200, 100) == 300


def _edit(fn):
    doc = copy.deepcopy(_doc())
    fn(doc)
    return doc


def _set(path, value):
    def edit(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


def _node(index, key, value):
    return lambda doc: _nodes(doc)[index].__setitem__(key, value)


CASES = [
    (lambda d: None, None),
    (_set(["format"], "other"), "not an fpgac IR document (format 'other')"),
    (_set(["version"], 2), "IR version 2 is not supported (this runtime reads version 1)"),
    (_set(["version"], True), "IR version True is not supported (this runtime reads version 1)"),
    (_set(["extra"], 1), "the IR document: unexpected extra"),
    (_set(["app"], "not an identifier"),
     "the app name must be an identifier, not the string 'not an identifier'"),
    (_set(["routes"], {}), "`routes` must be a list, not a dict of 0 keys"),
    (_set(["routes", 0, "path"], "no-slash"),
     "route 0: the path must be a string starting with '/', not the string 'no-slash'"),
    (_set(["routes", 0, "path"], "/a\nimport os"),
     "route 0: the path must be a string starting with '/', not the string '/a\\nimport os'"),
    (_set(["routes", 0, "name"], "f(); import os"),
     "route /f: the handler name must be an identifier, not the string 'f(); import os'"),
    (_set(["routes", 0, "params", 0, "name"], "class"),
     "route /f: param 0: the name must be a new identifier, not the string 'class'"),
    (_set(["routes", 0, "params", 1, "name"], "a"),
     "route /f: param 1: the name must be a new identifier, not the string 'a'"),
    (_set(["routes", 0, "params", 0, "type"], {"kind": "int", "width": 8.0, "signed": False}),
     "route /f: param a: an int width must be an integer from 1 to 1024, not the float 8.0"),
    (_set(["routes", 0, "params", 0, "type"], {"kind": "int", "width": 8, "signed": 0}),
     "route /f: param a: `signed` must be true or false, not the integer 0"),
    (_set(["routes", 0, "params", 0, "type"], {"kind": "float"}),
     "route /f: param a: unknown type kind the string 'float'"),
    (_set(["routes", 0, "params", 0, "type"],
          {"kind": "array", "elem": {"kind": "int", "width": 8, "signed": False},
           "length": 10 ** 12}),
     "route /f: the param nodes do not match the parameters' leaves"),
    (_node(2, "op", "frobnicate"), "route /f: node 2 (v2): unknown op the string 'frobnicate'"),
    (_node(2, "id", True), "route /f: node 2: the id must be a non-negative integer, not the "
                           "bool True"),
    (_node(2, "id", 0), "route /f: two nodes have the id v0"),
    (_node(2, "type", "u0"), "route /f: node 2 (v2): the type must be u1..u1024 or "
                             "i1..i1024, not the string 'u0'"),
    (_node(2, "type", "u2000"), "route /f: node 2 (v2): the type must be u1..u1024 or "
                                "i1..i1024, not the string 'u2000'"),
    (_node(2, "type", "u8"), "route /f: v2 (add): the type u8 cannot hold its values [0, 510]"),
    (_node(2, "operands", [0]), "route /f: node 2 (v2): add takes 2 operands, not 1"),
    (_node(2, "operands", [0, 1.0]),
     "route /f: node 2 (v2): `operands` must be a list of node ids, not a list of 2 elements"),
    (_node(2, "operands", [0, 99]), "route /f: v2 uses v99, which is not in the route"),
    (_node(2, "operands", [0, 3]), "route /f: the nodes form a cycle"),
    (_node(2, "attrs", {"width": 3}),
     "route /f: node 2 (v2): add takes the attributes none, not ['width']"),
    (_node(2, "extra", 1), "route /f: node 2: unexpected extra"),
    (_node(0, "attrs", {"path": "a", "width": 8, "signed": 0}),
     "route /f: node 0 (v0): attribute signed: must be true or false, not the integer 0"),
    (_node(0, "attrs", {"path": 5, "width": 8, "signed": False}),
     "route /f: node 0 (v0): attribute path: must be a non-empty string, not the integer 5"),
    (_node(0, "attrs", {"path": "a'); import os; ('", "width": 8, "signed": False}),
     "route /f: v0: param \"a'); import os; ('\" is not a leaf of the parameters, or appears "
     "twice"),
    (_node(0, "attrs", {"path": "a", "width": 9, "signed": False}),
     "route /f: v0: param 'a' does not have the parameter's type u8"),
    (_node(3, "attrs", {"path": "return.x"}),
     "route /f: v3: output 'return.x' is not a leaf of the return type, or appears twice"),
    (_node(0, "span", [1, 2, 3]),
     "route /f: node 0 (v0): a span must be a list of 4 integers, not a list of 3 elements"),
]


@pytest.mark.parametrize("edit,message", CASES, ids=[str(m) for _, m in CASES])
def test_malformed_documents_are_refused(edit, message):
    doc = _edit(edit)
    if message is None:
        model_from_ir(doc)
        return
    with pytest.raises(BundleError) as e:
        model_from_ir(doc)
    assert str(e.value) == message
    assert isinstance(e.value, ValueError)


def _const_doc(value) -> dict:
    g = Graph("f")
    a = g.add("param", path="a", width=8, signed=False)
    g.add("output", (g.add("add", (a, g.const(1))),), path="return")
    doc = document(g, [("a", IntTy(8))], IntTy(9))
    _nodes(doc)[1]["attrs"]["value"] = value
    return doc


@pytest.mark.parametrize("value,found", [(1.0, "the float 1.0"), (True, "the bool True"),
                                         ("1", "the string '1'"), (None, "None")])
def test_constants_must_be_ints(value, found):
    with pytest.raises(BundleError) as e:
        model_from_ir(_const_doc(value))
    assert str(e.value) == (f"route /f: node 1 (v1): attribute value: must be an integer of at "
                            f"most 1024 bits, not {found}")


def test_a_shift_amount_that_can_be_negative_is_refused():
    g = Graph("f")
    a = g.add("param", path="a", width=8, signed=False)
    g.add("output", (g.add("shr", (a, g.const(1))),), path="return")
    doc = document(g, [("a", IntTy(8))], IntTy(8))
    _nodes(doc)[1]["attrs"]["value"] = -1
    _nodes(doc)[1]["type"] = "i1"
    with pytest.raises(BundleError) as e:
        model_from_ir(doc)
    assert str(e.value) == "route /f: v2 (shr): the shift amount can be negative"


def test_a_huge_shift_is_refused_before_it_is_computed():
    g = Graph("f")
    a = g.add("param", path="a", width=8, signed=False)
    g.add("output", (g.add("wrap", (g.add("shl", (a, g.const(3))),), width=8, signed=False),),
          path="return")
    doc = document(g, [("a", IntTy(8))], IntTy(8))
    _nodes(doc)[1]["attrs"]["value"] = 1 << 1000  # a << 2**1000 would never finish
    _nodes(doc)[1]["type"] = "u1001"
    with pytest.raises(BundleError) as e:
        model_from_ir(doc)
    assert str(e.value) == ("route /f: v2 (shl): the shift amount can exceed any type's width")


def test_strings_from_the_document_never_reach_generated_code():
    g = Graph("f")
    a = g.add("param", path="a", width=8, signed=False)
    g.add("output", (g.add("rom", (a,), values=[7, 8, 9]),), path="return[0]")
    doc = document(g, [("a", IntTy(8))], ArrayTy(IntTy(4), 1), path="/x'\"y", name="odd")
    route = model_from_ir(doc).route("/x'\"y")
    for source in (route.scalar_source, route.batch_source):
        assert "return" not in source.replace("    return (", "")
        assert "x'" not in source and "odd" not in source and "7, 8, 9" not in source
    assert route(1) == [8] and route.batch([(1,), (5,)]) == [[8], [0]]


def test_two_routes_with_the_same_path_are_refused():
    doc = _doc()
    doc["routes"].append(copy.deepcopy(doc["routes"][0]))
    doc["routes"][1]["name"] = "g"
    with pytest.raises(BundleError) as e:
        model_from_ir(doc)
    assert str(e.value) == "two routes have the path '/f'"


def test_unknown_routes_are_a_key_error_listing_the_routes():
    app = model_from_ir(_doc())
    assert app.route("/f") is app.route("f") is app.routes["/f"]
    with pytest.raises(KeyError) as e:
        app.route("/nope")
    assert e.value.args[0] == "app 'testapp' has no route '/nope'; its routes: /f (f)"
