"""Tests of the parser: AST shape, exact spans, refused constructs, syntax errors in words."""

from __future__ import annotations

import ast as pyast
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Tree

from fpgac.frontend import ast as A
from fpgac.frontend import parser as parser_module
from fpgac.frontend.diagnostics import FpgacError
from fpgac.frontend.parser import parse
from fpgac.ir.span import Span

SPEC_EXAMPLE = '''\
from fpgac import App, Record, Array, Table, u8, u16, u32, i16

app = App("imaging")

class RGB(Record):
    r: u8
    g: u8
    b: u8

GAMMA = Table(u8, [0, 1, 2, 3, 4])          # a constant table (a ROM)

def clamp8(v: i16) -> u8:                    # a helper: inlined where called
    if v < 0:
        return 0
    if v > 255:
        return 255
    return v

@app.post("/luma")
def luma(p: RGB) -> u8:
    return ((66 * p.r + 129 * p.g + 25 * p.b + 128) >> 8) + 16

@app.post("/contrast")
def contrast(v: u8, gain: u8) -> u8:
    return clamp8(((v - 128) * gain >> 4) + 128)
'''


# --- helpers ----------------------------------------------------------------------------------


def show(node: object) -> str:
    """Write an expression back as fully parenthesized text, naming what is refused."""
    if isinstance(node, A.Name):
        return node.id
    if isinstance(node, A.Const):
        return str(bool(node.value)) if node.is_bool else str(node.value)
    if isinstance(node, A.Str):
        return repr(node.value)
    if isinstance(node, A.Float):
        return f"float {node.text}"
    if isinstance(node, A.UnaryOp):
        space = " " if node.op == "not" else ""
        return f"({node.op}{space}{show(node.operand)})"
    if isinstance(node, A.BinOp):
        return f"({show(node.left)} {node.op} {show(node.right)})"
    if isinstance(node, A.BoolOp):
        return "(" + f" {node.op} ".join(show(v) for v in node.values) + ")"
    if isinstance(node, A.Compare):
        parts = [show(node.left)]
        for op, right in zip(node.ops, node.comparators):
            parts += [op, show(right)]
        return "(" + " ".join(parts) + ")"
    if isinstance(node, A.IfExp):
        return f"({show(node.body)} if {show(node.test)} else {show(node.orelse)})"
    if isinstance(node, A.Call):
        args = [show(a) for a in node.args]
        args += [f"{k.name}={show(k.value)}" if k.name else f"**{show(k.value)}"
                 for k in node.keywords]
        args += ["*"] * len(node.starred)
        return f"{show(node.func)}({', '.join(args)})"
    if isinstance(node, A.Attribute):
        return f"{show(node.value)}.{node.attr}"
    if isinstance(node, A.Subscript):
        return f"{show(node.value)}[{show(node.index)}]"
    if isinstance(node, A.ListExpr):
        return "[" + ", ".join(show(e) for e in node.elts) + "]"
    if isinstance(node, A.TupleExpr):
        return "tuple(" + ", ".join(show(e) for e in node.elts) + ")"
    if isinstance(node, A.Refused):
        return f"<{node.kind}>"
    raise AssertionError(f"show() does not know {node!r}")


def expr(text: str) -> A.Expr:
    """Parse one expression statement and return its expression."""
    (stmt,) = parse(text + "\n", "e.py").body
    assert isinstance(stmt, A.ExprStmt)
    return stmt.value


def at(node: A.Node) -> tuple[int, int, int, int]:
    return node.span.line, node.span.col, node.span.end_line, node.span.end_col


def errors(source: str) -> str:
    with pytest.raises(FpgacError) as info:
        parse(source, "h.py")
    return info.value.render()


# --- Python's own parser as a reference for shapes and spans ---------------------------------

_PY_OPS = {
    pyast.Add: "+", pyast.Sub: "-", pyast.Mult: "*", pyast.FloorDiv: "//", pyast.Mod: "%",
    pyast.Div: "/", pyast.MatMult: "@", pyast.Pow: "**", pyast.LShift: "<<",
    pyast.RShift: ">>", pyast.BitOr: "|", pyast.BitXor: "^", pyast.BitAnd: "&",
    pyast.USub: "-", pyast.UAdd: "+", pyast.Invert: "~", pyast.Not: "not",
    pyast.And: "and", pyast.Or: "or", pyast.Lt: "<", pyast.LtE: "<=", pyast.Gt: ">",
    pyast.GtE: ">=", pyast.Eq: "==", pyast.NotEq: "!=", pyast.Is: "is", pyast.IsNot: "is not",
    pyast.In: "in", pyast.NotIn: "not in",
}


def py_walk(node: pyast.AST, out: list) -> list:
    """List Python's nodes in the same order and form as :func:`our_walk`."""
    span = (node.lineno, node.col_offset + 1, node.end_lineno, node.end_col_offset + 1)
    kind = type(node)
    if kind is pyast.Name:
        out.append(("Name", node.id, span))
    elif kind is pyast.Constant:
        out.append(("Const", repr(node.value), span))
    elif kind is pyast.UnaryOp:
        out.append(("UnaryOp", _PY_OPS[type(node.op)], span))
        py_walk(node.operand, out)
    elif kind is pyast.BinOp:
        out.append(("BinOp", _PY_OPS[type(node.op)], span))
        py_walk(node.left, out)
        py_walk(node.right, out)
    elif kind is pyast.BoolOp:
        out.append(("BoolOp", (_PY_OPS[type(node.op)], len(node.values)), span))
        for value in node.values:
            py_walk(value, out)
    elif kind is pyast.Compare:
        out.append(("Compare", tuple(_PY_OPS[type(op)] for op in node.ops), span))
        for sub in [node.left, *node.comparators]:
            py_walk(sub, out)
    elif kind is pyast.IfExp:
        out.append(("IfExp", None, span))
        for sub in (node.test, node.body, node.orelse):
            py_walk(sub, out)
    elif kind is pyast.Call:
        out.append(("Call", (len(node.args), len(node.keywords)), span))
        for sub in [node.func, *node.args, *node.keywords]:
            py_walk(sub, out)
    elif kind is pyast.keyword:
        out.append(("Keyword", node.arg, span))
        py_walk(node.value, out)
    elif kind is pyast.Attribute:
        out.append(("Attribute", node.attr, span))
        py_walk(node.value, out)
    elif kind is pyast.Subscript:
        out.append(("Subscript", None, span))
        py_walk(node.value, out)
        py_walk(node.slice, out)
    elif kind in (pyast.List, pyast.Tuple):
        out.append((kind.__name__, len(node.elts), span))
        for sub in node.elts:
            py_walk(sub, out)
    elif kind is pyast.Expr:
        out.append(("ExprStmt", None, span))
        py_walk(node.value, out)
    elif kind is pyast.Assign:
        out.append(("Assign", len(node.targets), span))
        for sub in [*node.targets, node.value]:
            py_walk(sub, out)
    elif kind is pyast.AnnAssign:
        out.append(("AnnAssign", node.value is not None, span))
        for sub in (node.target, node.annotation, node.value):
            if sub is not None:
                py_walk(sub, out)
    elif kind is pyast.AugAssign:
        out.append(("AugAssign", _PY_OPS[type(node.op)], span))
        py_walk(node.target, out)
        py_walk(node.value, out)
    elif kind is pyast.Return:
        out.append(("Return", node.value is not None, span))
        if node.value is not None:
            py_walk(node.value, out)
    elif kind in (pyast.If, pyast.For):
        out.append((kind.__name__, (len(node.body), len(node.orelse)), span))
        heads = [node.test] if kind is pyast.If else [node.target, node.iter]
        for sub in [*heads, *node.body, *node.orelse]:
            py_walk(sub, out)
    elif kind in (pyast.Pass, pyast.Break, pyast.Continue):
        out.append((kind.__name__, None, span))
    elif kind is pyast.FunctionDef:
        out.append(("FunctionDef", (node.name, len(node.args.args)), span))
        for sub in node.decorator_list:
            py_walk(sub, out)
        for arg in node.args.args:
            out.append(("Param", arg.arg, (arg.lineno, arg.col_offset + 1, arg.end_lineno,
                                           arg.end_col_offset + 1)))
            py_walk(arg.annotation, out)
        py_walk(node.returns, out)
        for sub in node.body:
            py_walk(sub, out)
    elif kind is pyast.ClassDef:
        out.append(("ClassDef", node.name, span))
        for sub in [*node.bases, *node.keywords, *node.body]:
            py_walk(sub, out)
    elif kind is pyast.ImportFrom:
        names = tuple((a.name, a.asname, (a.lineno, a.col_offset + 1, a.end_lineno,
                                          a.end_col_offset + 1)) for a in node.names)
        out.append(("ImportFrom", ("." * node.level + (node.module or ""), names), span))
    else:
        raise AssertionError(f"py_walk() does not know {kind.__name__}")
    return out


def our_walk(node: A.Node, out: list) -> list:
    """List our nodes in pre-order as (kind, details, span); see :func:`py_walk`."""
    span = at(node)
    if isinstance(node, A.Name):
        out.append(("Name", node.id, span))
    elif isinstance(node, A.Const):
        out.append(("Const", repr(bool(node.value) if node.is_bool else node.value), span))
    elif isinstance(node, A.Str):
        out.append(("Const", repr(node.value), span))
    elif isinstance(node, A.UnaryOp):
        out.append(("UnaryOp", node.op, span))
        our_walk(node.operand, out)
    elif isinstance(node, A.BinOp):
        out.append(("BinOp", node.op, span))
        our_walk(node.left, out)
        our_walk(node.right, out)
    elif isinstance(node, A.BoolOp):
        out.append(("BoolOp", (node.op, len(node.values)), span))
        for value in node.values:
            our_walk(value, out)
    elif isinstance(node, A.Compare):
        out.append(("Compare", tuple(node.ops), span))
        for sub in [node.left, *node.comparators]:
            our_walk(sub, out)
    elif isinstance(node, A.IfExp):
        out.append(("IfExp", None, span))
        for sub in (node.test, node.body, node.orelse):
            our_walk(sub, out)
    elif isinstance(node, A.Call):
        assert not node.starred
        out.append(("Call", (len(node.args), len(node.keywords)), span))
        for sub in [node.func, *node.args, *node.keywords]:
            our_walk(sub, out)
    elif isinstance(node, A.Keyword):
        out.append(("Keyword", node.name, span))
        our_walk(node.value, out)
    elif isinstance(node, A.Attribute):
        out.append(("Attribute", node.attr, span))
        our_walk(node.value, out)
    elif isinstance(node, A.Subscript):
        out.append(("Subscript", None, span))
        our_walk(node.value, out)
        our_walk(node.index, out)
    elif isinstance(node, (A.ListExpr, A.TupleExpr)):
        kind = "List" if isinstance(node, A.ListExpr) else "Tuple"
        out.append((kind, len(node.elts), span))
        for sub in node.elts:
            our_walk(sub, out)
    elif isinstance(node, A.ExprStmt):
        out.append(("ExprStmt", None, span))
        our_walk(node.value, out)
    elif isinstance(node, A.Assign):
        out.append(("Assign", len(node.targets), span))
        for sub in [*node.targets, node.value]:
            our_walk(sub, out)
    elif isinstance(node, A.AnnAssign):
        out.append(("AnnAssign", node.value is not None, span))
        for sub in (node.target, node.annotation, node.value):
            if sub is not None:
                our_walk(sub, out)
    elif isinstance(node, A.AugAssign):
        out.append(("AugAssign", node.op, span))
        our_walk(node.target, out)
        our_walk(node.value, out)
    elif isinstance(node, A.Return):
        out.append(("Return", node.value is not None, span))
        if node.value is not None:
            our_walk(node.value, out)
    elif isinstance(node, (A.If, A.For)):
        out.append((type(node).__name__, (len(node.body), len(node.orelse)), span))
        heads = [node.test] if isinstance(node, A.If) else [node.target, node.iter]
        for sub in [*heads, *node.body, *node.orelse]:
            our_walk(sub, out)
    elif isinstance(node, (A.Pass, A.Break, A.Continue)):
        out.append((type(node).__name__, None, span))
    elif isinstance(node, A.FunctionDef):
        out.append(("FunctionDef", (node.name, len(node.params)), span))
        for sub in node.decorators:
            our_walk(sub, out)
        for param in node.params:
            assert param.kind == "" and param.default is None
            out.append(("Param", param.name, at(param)))
            our_walk(param.annotation, out)
        our_walk(node.returns, out)
        for sub in node.body:
            our_walk(sub, out)
    elif isinstance(node, A.ClassDef):
        out.append(("ClassDef", node.name, span))
        for sub in [*node.bases, *node.keywords, *node.body]:
            our_walk(sub, out)
    elif isinstance(node, A.ImportFrom):
        names = tuple((n, a, (s.line, s.col, s.end_line, s.end_col)) for n, a, s in node.names)
        out.append(("ImportFrom", (node.module, names), span))
    else:
        raise AssertionError(f"our_walk() does not know {type(node).__name__}")
    return out


def assert_same_as_python(source: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "is" with a literal
        expected = [n for s in pyast.parse(source).body for n in py_walk(s, [])]
    ours = [n for s in parse(source, "m.py").body for n in our_walk(s, [])]
    assert ours == expected


# --- the handler module of SPEC §1 ------------------------------------------------------------


def test_spec_example_shape():
    module = parse(SPEC_EXAMPLE, "imaging.py")
    assert module.source == SPEC_EXAMPLE
    assert [type(s).__name__ for s in module.body] == [
        "ImportFrom", "Assign", "ClassDef", "Assign", "FunctionDef", "FunctionDef", "FunctionDef"]
    imports, app, rgb, gamma, clamp8, luma, contrast = module.body

    assert imports.module == "fpgac"
    assert [n for n, _, _ in imports.names] == [
        "App", "Record", "Array", "Table", "u8", "u16", "u32", "i16"]
    assert all(asname is None for _, asname, _ in imports.names)

    assert show(app.targets[0]) == "app" and show(app.value) == "App('imaging')"

    assert rgb.name == "RGB" and [show(b) for b in rgb.bases] == ["Record"]
    assert [(show(f.target), show(f.annotation), f.value) for f in rgb.body] == [
        ("r", "u8", None), ("g", "u8", None), ("b", "u8", None)]

    assert show(gamma.value) == "Table(u8, [0, 1, 2, 3, 4])"

    assert clamp8.name == "clamp8" and clamp8.decorators == []
    assert [(p.name, show(p.annotation), p.kind) for p in clamp8.params] == [("v", "i16", "")]
    assert show(clamp8.returns) == "u8"
    first_if, second_if, final = clamp8.body
    assert show(first_if.test) == "(v < 0)" and show(first_if.body[0].value) == "0"
    assert first_if.orelse == [] and show(second_if.test) == "(v > 255)"
    assert isinstance(final, A.Return) and show(final.value) == "v"

    assert [show(d) for d in luma.decorators] == ["app.post('/luma')"]
    assert show(luma.body[0].value) == (
        "((((((66 * p.r) + (129 * p.g)) + (25 * p.b)) + 128) >> 8) + 16)")
    assert [show(d) for d in contrast.decorators] == ["app.post('/contrast')"]
    assert show(contrast.body[0].value) == "clamp8(((((v - 128) * gain) >> 4) + 128))"


def test_spec_example_spans():
    module = parse(SPEC_EXAMPLE, "imaging.py")
    imports, app, rgb, gamma, clamp8, luma, contrast = module.body
    assert imports.span == Span("imaging.py", 1, 1, 1, 63)
    assert imports.names[-1][2] == Span("imaging.py", 1, 60, 1, 63)
    assert at(app) == (3, 1, 3, 21)
    assert at(app.value.args[0]) == (3, 11, 3, 20)  # the string, quotes included
    assert at(rgb) == (5, 1, 8, 10)  # the whole class
    assert rgb.name_span == Span("imaging.py", 5, 7, 5, 10)
    assert at(rgb.body[1]) == (7, 5, 7, 10)
    assert at(gamma) == (10, 1, 10, 35)  # not the comment
    assert at(gamma.value.args[1]) == (10, 19, 10, 34)
    assert at(clamp8) == (12, 1, 17, 13)
    assert clamp8.name_span == Span("imaging.py", 12, 5, 12, 11)
    assert at(clamp8.params[0]) == (12, 12, 12, 18)
    assert at(clamp8.body[0]) == (13, 5, 14, 17)  # `if` to the end of its block
    assert at(clamp8.body[0].test) == (13, 8, 13, 13)
    assert at(luma) == (20, 1, 21, 63)  # from `def`, not from the decorator
    assert at(luma.decorators[0]) == (19, 2, 19, 19)
    ret = luma.body[0]
    assert at(ret) == (21, 5, 21, 63)
    assert at(ret.value) == (21, 12, 21, 63)  # `(...) + 16`, parentheses included
    shift = ret.value.left
    assert at(shift) == (21, 13, 21, 57)  # `(... + 128) >> 8`
    assert at(shift.left) == (21, 14, 21, 51)  # inside the parentheses
    assert at(shift.left.left.left.left) == (21, 14, 21, 22)  # `66 * p.r`
    assert at(shift.left.left.left.left.right) == (21, 19, 21, 22)  # `p.r`
    call = contrast.body[0].value
    assert at(call) == (25, 12, 25, 49)
    assert at(call.args[0]) == (25, 19, 25, 48)


def test_spec_example_matches_python():
    assert_same_as_python(SPEC_EXAMPLE)


@pytest.mark.parametrize("source", [
    "x = a if b else c if d else e\n",
    "y = not a or b and not c or d\n",
    "z = a < b <= c == d != e > f >= g\n",
    "z = a is b is not c in d not in e\n",
    "w = -x ** -y ** ~z\n",
    "v = a | b ^ c & d << e >> f + g - h * i // j % k / l @ m\n",
    "u = f(a, b)(c)[d].e[f, g]\n",
    "t = [1, (2, 3), (4,), (), []]\n",
    "s = x[(1, 2)]\n",
    "a = b = c\n",
    "a.b[c] += 1\n",
    "a -= 1; b *= 2; c //= 3; d %= 4; e &= 5; f |= 6; g ^= 7; h <<= 8; i >>= 9; j **= 10\n",
    "x: Array[u8, 4] = [1, 2, 3, 4]\n",
    "(a, b) = c\n",
    "a, b = c, d\n",
    "for i in range(0, 10, 2):\n    if i:\n        continue\n    elif j:\n        break\n"
    "    else:\n        pass\n",
    "if a:\n    pass\nelif b:\n    pass\nelif c:\n    x = 1\nelse:\n    y = 2\n",
    "x = (  # a comment\n    1 +\n    2\n)\n",
    "x = 1 + \\\n    2\n",
    "'''doc\nstring'''\n",
    "x = 'a' \"b\" '''c'''\n",
    "from fpgac import (u8 as byte,\n    u16,)\n",
    "from .. import x\n",
    "class R(Record, flag=1):\n    '''doc'''\n    a: u8\n",
    "x = f(a, key=b + 1)\n",
    "x = 0x_ff + 0o17 + 0b1010 + 1_000_000 + 0 + 00\n",
    "x = True + False\n",
    "x = (((a)))\n",
    "x = (a)(b)\n",
    "x = a.b.c(d)[e]\n",
])
def test_shapes_and_spans_match_python(source):
    assert_same_as_python(source)


# --- expressions: precedence, associativity, literals -----------------------------------------


@pytest.mark.parametrize("source, shown", [
    ("a + b * c", "(a + (b * c))"),
    ("a - b - c", "((a - b) - c)"),
    ("a ** b ** c", "(a ** (b ** c))"),
    ("-x ** 2", "(-(x ** 2))"),
    ("(-x) ** 2", "((-x) ** 2)"),
    ("2 ** -1", "(2 ** (-1))"),
    ("-a * b", "((-a) * b)"),
    ("~a + b", "((~a) + b)"),
    ("a << b + c", "(a << (b + c))"),
    ("a & b << c", "(a & (b << c))"),
    ("a | b ^ c & d", "(a | (b ^ (c & d)))"),
    ("a // b % c * d / e @ f", "(((((a // b) % c) * d) / e) @ f)"),
    ("a < b | c", "(a < (b | c))"),
    ("a < b < c", "(a < b < c)"),
    ("a is not b", "(a is not b)"),
    ("a not in b", "(a not in b)"),
    ("not a == b", "(not (a == b))"),
    ("not not a", "(not (not a))"),
    ("a and b or c and d", "((a and b) or (c and d))"),
    ("a or b or c", "(a or b or c)"),
    ("a and not b", "(a and (not b))"),
    ("a if b else c if d else e", "(a if b else (c if d else e))"),
    ("a or b if c and d else e", "((a or b) if (c and d) else e)"),
    ("f(a)(b)", "f(a)(b)"),
    ("a.b.c", "a.b.c"),
    ("a[b][c]", "a[b][c]"),
    ("-a.b[c](d)", "(-a.b[c](d))"),
    ("Array[u8, 4]", "Array[tuple(u8, 4)]"),
    ("a[1,]", "a[tuple(1)]"),
    ("f(a, k=b, *c, **d)", "f(a, k=b, **d, *)"),
    ("f(a,)", "f(a)"),
    ("[a, b,]", "[a, b]"),
    ("[]", "[]"),
    ("(a, b)", "tuple(a, b)"),
    ("a, b", "tuple(a, b)"),
    ("a,", "tuple(a)"),
    ("()", "tuple()"),
    ("(a)", "a"),
    ("uint(12)(x)", "uint(12)(x)"),
])
def test_precedence_and_associativity(source, shown):
    assert show(expr(source)) == shown


@pytest.mark.parametrize("source, value", [
    ("0", 0), ("00", 0), ("7", 7), ("1_000", 1000), ("0xFF", 255), ("0X_f_f", 255),
    ("0o17", 15), ("0O7", 7), ("0b101", 5), ("0B1_1", 3), ("123456789012345678901234567890",
                                                         123456789012345678901234567890),
])
def test_integer_literals(source, value):
    node = expr(source)
    assert isinstance(node, A.Const) and node.value == value and not node.is_bool


def test_booleans_are_flagged_constants():
    true, false = expr("(True, False)").elts
    assert (true.value, true.is_bool, false.value, false.is_bool) == (1, True, 0, True)


@pytest.mark.parametrize("source, value", [
    ("'abc'", "abc"),
    ('"a\\"b"', 'a"b'),
    ("'\\n\\t\\x41\\u00e9\\\\'", "\n\tA\u00e9\\"),
    ("r'\\n'", "\\n"),
    ("u'x'", "x"),
    ("'a' 'b' \"c\"", "abc"),
    ("'''x\ny'''", "x\ny"),
    ('"""a "quoted" b"""', 'a "quoted" b'),
    ("'\\d'", "\\d"),  # an unknown escape stays, as in Python
    ("'caf\u00e9'", "caf\u00e9"),
    ("('a'\n 'b')", "ab"),
    ("'a\\\nb'", "ab"),  # an escaped newline continues the string
])
def test_string_literals(source, value):
    node = expr(source)
    assert isinstance(node, A.Str) and node.value == value


def test_string_spans_cover_every_part():
    node = expr("x('ab'\n  \"cd\")").args[0]
    assert at(node) == (1, 3, 2, 7)


@pytest.mark.parametrize("source", ["1.5", "1.", ".5", "1e3", "1E-3", "1_0.0_1", "2j", "1.5J"])
def test_float_and_imaginary_literals(source):
    node = expr(source)
    assert isinstance(node, A.Float) and node.text == source


def test_comparison_spans_and_ops():
    node = expr("a  <  b is not c")
    assert at(node) == (1, 1, 1, 17)
    assert node.ops == ["<", "is not"]
    assert [at(c) for c in node.comparators] == [(1, 7, 1, 8), (1, 16, 1, 17)]


def test_binary_operation_includes_parenthesized_operands():
    node = expr("(a) + (b)")
    assert at(node) == (1, 1, 1, 10)
    assert at(node.left) == (1, 2, 1, 3) and at(node.right) == (1, 8, 1, 9)


def test_a_long_chain_parses_without_recursion():
    node = expr(" + ".join(["x"] * 5000))
    depth = 0
    while isinstance(node, A.BinOp):
        node, depth = node.left, depth + 1
    assert depth == 4999


# --- statements -------------------------------------------------------------------------------


def test_statements():
    source = (
        "x: u8 = 1\n"
        "y: u8\n"
        "x >>= 2\n"
        "a = b = 3\n"
        "def f(v: u8) -> u8:\n"
        "    '''doc'''\n"
        "    for i in range(4):\n"
        "        v += i\n"
        "    return\n"
    )
    ann, decl, aug, chain, func = parse(source, "s.py").body
    assert (show(ann.target), show(ann.annotation), show(ann.value)) == ("x", "u8", "1")
    assert decl.value is None
    assert (aug.op, show(aug.target), show(aug.value)) == (">>", "x", "2")
    assert [show(t) for t in chain.targets] == ["a", "b"] and show(chain.value) == "3"
    doc, loop, ret = func.body
    assert isinstance(doc, A.ExprStmt) and doc.value.value == "doc"
    assert (show(loop.target), show(loop.iter), loop.orelse) == ("i", "range(4)", [])
    assert isinstance(loop.body[0], A.AugAssign) and loop.body[0].op == "+"
    assert isinstance(ret, A.Return) and ret.value is None


@pytest.mark.parametrize("op", ["+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>", "**",
                                "/", "@"])
def test_augmented_assignment_operators(op):
    (stmt,) = parse(f"x {op}= 1\n", "a.py").body
    assert isinstance(stmt, A.AugAssign) and stmt.op == op
    assert at(stmt) == (1, 1, 1, len(op) + 6)


def test_elif_is_an_if_alone_in_orelse():
    (stmt,) = parse("if a:\n    x = 1\nelif b:\n    x = 2\nelse:\n    x = 3\n", "e.py").body
    assert at(stmt) == (1, 1, 6, 10)
    (inner,) = stmt.orelse
    assert isinstance(inner, A.If) and show(inner.test) == "b"
    assert at(inner) == (3, 1, 6, 10)
    assert show(inner.orelse[0].value) == "3"


def test_for_else_keeps_the_else_block():
    (stmt,) = parse("for x in a:\n    pass\nelse:\n    y = 1\n", "f.py").body
    assert isinstance(stmt, A.For) and isinstance(stmt.orelse[0], A.Assign)


def test_semicolons_and_one_line_blocks():
    (func,) = parse("def f(a: u8) -> u8: x = a; return x\n", "f.py").body
    assert [type(s).__name__ for s in func.body] == ["Assign", "Return"]
    assert at(func.body[1]) == (1, 28, 1, 36)


def test_tuple_target_and_tuple_return():
    assign, ret = parse("a, b = 1, 2\nreturn (a, b)\n", "t.py").body
    assert show(assign.targets[0]) == "tuple(a, b)" and show(assign.value) == "tuple(1, 2)"
    assert at(assign.targets[0]) == (1, 1, 1, 5)
    assert at(ret.value) == (2, 8, 2, 14)


def test_imports():
    source = "import os.path as p, sys\nfrom ..a.b import (c as d, e,)\nfrom x import *\n"
    plain, relative, star = parse(source, "i.py").body
    assert isinstance(plain, A.Import)
    assert [(n, a) for n, a, _ in plain.names] == [("os.path", "p"), ("sys", None)]
    assert plain.names[0][2] == Span("i.py", 1, 8, 1, 20)
    assert isinstance(relative, A.ImportFrom) and relative.module == "..a.b"
    assert [(n, a) for n, a, _ in relative.names] == [("c", "d"), ("e", None)]
    assert star.names[0][:2] == ("*", None)


def test_parameters_of_every_kind():
    (func,) = parse("def f(a, b: u8 = 3, /, *args: u8, c, **kw) -> u8:\n    pass\n",
                    "p.py").body
    got = [(p.name, p.kind, p.annotation and show(p.annotation), p.default and show(p.default))
           for p in func.params]
    assert got == [("a", "", None, None), ("b", "", "u8", "3"), ("", "/", None, None),
                   ("args", "*", "u8", None), ("c", "", None, None), ("kw", "**", None, None)]
    assert at(func.params[1]) == (1, 10, 1, 19)  # the default is part of the parameter
    (bare,) = parse("def g(*, a: u8): pass\n", "p.py").body
    assert [(p.name, p.kind) for p in bare.params] == [("", "*"), ("a", "")]


def test_class_with_bases_keywords_and_decorators():
    (cls,) = parse("@dec\nclass C(A, B, metaclass=M, *more):\n    pass\n", "c.py").body
    assert isinstance(cls, A.ClassDef) and cls.name == "C"
    assert [show(b) for b in cls.bases] == ["A", "B", "<starred>"]
    assert [(k.name, show(k.value)) for k in cls.keywords] == [("metaclass", "M")]
    assert [show(d) for d in cls.decorators] == ["dec"]
    assert at(cls) == (2, 1, 3, 9)


def test_async_def_is_a_function():
    (func,) = parse("@app.post('/x')\nasync def f() -> u8:\n    return 1\n", "a.py").body
    assert isinstance(func, A.FunctionDef) and func.is_async
    assert at(func) == (2, 1, 3, 13) and func.name_span.col == 11
    assert [show(d) for d in func.decorators] == ["app.post('/x')"]


def test_soft_keywords_are_names_elsewhere():
    source = ("match = 1\nmatch(x)\nmatch.y = 2\ncase = [3]\ncase[0] += 1\n"
              "type(x)\ntype = 4\nprint(match, case, type)\nmatch: u8 = 5\n")
    body = parse(source, "k.py").body
    assert [type(s).__name__ for s in body] == [
        "Assign", "ExprStmt", "Assign", "Assign", "AugAssign", "ExprStmt", "Assign", "ExprStmt",
        "AnnAssign"]
    assert show(body[7].value) == "print(match, case, type)"


# --- refused constructs are parsed, to be named by the checker --------------------------------


@pytest.mark.parametrize("source, kind", [
    ("lambda x: x + 1", "lambda"),
    ("lambda: 0", "lambda"),
    ("(yield)", "yield"),
    ("(yield a)", "yield"),
    ("(yield from a)", "yield"),
    ("await a", "await"),
    ("{}", "dict"),
    ("{1: 2, **a}", "dict"),
    ("{1, 2}", "set"),
    ("[x for x in a if x]", "comprehension"),
    ("(x for x in a)", "comprehension"),
    ("{x for x in a}", "comprehension"),
    ("{k: v for k, v in a}", "comprehension"),
    ("[x async for x in a]", "comprehension"),
    ("f'{x}'", "fstring"),
    ("'a' f'b'", "fstring"),
    ("b'x'", "bytes"),
    ("(x := 1)", "walrus"),
    ("...", "ellipsis"),
    ("None", "none"),
])
def test_refused_expressions(source, kind):
    node = expr(source)
    assert isinstance(node, A.Refused) and node.kind == kind
    if kind in ("yield", "walrus"):  # written in parentheses, which the span leaves out
        assert at(node) == (1, 2, 1, len(source))
    else:
        assert at(node) == (1, 1, 1, len(source) + 1)


@pytest.mark.parametrize("source, shown", [
    ("a[1:2]", "a[<slice>]"),
    ("a[::2]", "a[<slice>]"),
    ("a[:]", "a[<slice>]"),
    ("a[1:2, 3]", "a[tuple(<slice>, 3)]"),
    ("[*a, b]", "[<starred>, b]"),
    ("f(x for x in a)", "f(<comprehension>)"),
    ("f(*a)", "f(*)"),
    ("x = yield a", None),
])
def test_refused_parts_of_expressions(source, shown):
    if shown is None:
        (stmt,) = parse(source + "\n", "r.py").body
        assert isinstance(stmt.value, A.Refused) and stmt.value.kind == "yield"
    else:
        assert show(expr(source)) == shown


def test_starred_call_argument_keeps_its_span():
    node = expr("f(a, *b)")
    assert node.starred == [Span("e.py", 1, 6, 1, 8)]


@pytest.mark.parametrize("source, kind", [
    ("while x:\n    x -= 1\nelse:\n    pass\n", "while"),
    ("try:\n    pass\nexcept ValueError as e:\n    pass\nelse:\n    pass\n"
     "finally:\n    pass\n", "try"),
    ("try:\n    pass\nfinally:\n    pass\n", "try"),
    ("try:\n    pass\nexcept* E:\n    pass\n", "try"),
    ("with a as b, c:\n    pass\n", "with"),
    ("global a, b\n", "global"),
    ("nonlocal a\n", "nonlocal"),
    ("del a, b[0]\n", "del"),
    ("assert a, 'message'\n", "assert"),
    ("raise\n", "raise"),
    ("raise E from e\n", "raise"),
    ("async for a in b:\n    pass\n", "async"),
    ("async with a:\n    pass\n", "async"),
    ("match x:\n    case 1 | 2:\n        pass\n    case [a, *rest] if a:\n        pass\n"
     "    case Point(x=0) as p:\n        pass\n    case _:\n        pass\n", "match"),
    ("match (x):\n    case (1):\n        pass\n", "match"),
    ("type T = int\n", "type"),
    ("type T[A] = list\n", "type"),
])
def test_refused_statements(source, kind):
    (stmt,) = parse(source, "r.py").body
    assert isinstance(stmt, A.RefusedStmt) and stmt.kind == kind
    lines = source.splitlines()
    assert at(stmt) == (1, 1, len(lines), len(lines[-1]) + 1)


def test_refused_statement_inside_a_function_keeps_its_neighbours():
    source = "def f(a: u8) -> u8:\n    x = a\n    while x:\n        x -= 1\n    return x\n"
    (func,) = parse(source, "w.py").body
    assert [type(s).__name__ for s in func.body] == ["Assign", "RefusedStmt", "Return"]
    assert at(func.body[1]) == (3, 5, 4, 15)


# --- source text details ----------------------------------------------------------------------


def test_line_endings_and_missing_final_newline():
    unix = parse("x = 1\nif x:\n    y = 2\n", "n.py")
    for variant in ("x = 1\r\nif x:\r\n    y = 2\r\n", "x = 1\rif x:\r    y = 2",
                    "x = 1\nif x:\n    y = 2"):
        other = parse(variant, "n.py")
        assert [n for s in other.body for n in our_walk(s, [])] == \
            [n for s in unix.body for n in our_walk(s, [])]
        assert other.source == variant


def test_comments_blank_lines_and_continuations():
    source = ("# header\n\n"
              "def f(a: u8) -> u8:  # trailing\n"
              "\n"
              "        # a comment indented differently\n"
              "    x = (a +\n"
              "         # inside brackets\n"
              "         1)\n"
              "    y = x \\\n"
              "        + 2\n"
              "    return y  # done")
    (func,) = parse(source, "c.py").body
    assign, cont, ret = func.body
    assert at(assign) == (6, 5, 8, 12)
    assert at(cont) == (9, 5, 10, 12)
    assert at(ret) == (11, 5, 11, 13)


def test_tabs_count_as_one_column():
    (func,) = parse("def f():\n\tx = 1\n\treturn x\n", "t.py").body
    assert at(func.body[0]) == (2, 2, 2, 7)


def test_empty_and_comment_only_modules():
    for source in ("", "\n", "# nothing\n", "\n\n   \n# x\n"):
        module = parse(source, "e.py")
        assert module.body == [] and module.span.line == 1 and module.span.col == 1


def test_module_span_covers_the_file():
    module = parse("x = 1\nyy = 22\n", "m.py")
    assert module.span == Span("m.py", 1, 1, 2, 8)


# --- syntax errors, whole -------------------------------------------------------------------


@pytest.mark.parametrize("source, rendered", [
    ("x =\n", """\
h.py:1:4: error: expected an expression after `=`
    1 | x =
      |    ^"""),
    ("if x\n    pass\n", """\
h.py:1:5: error: expected `:` after the `if` condition
    1 | if x
      |     ^"""),
    ("if x  # why\n    pass\n", """\
h.py:1:5: error: expected `:` after the `if` condition
    1 | if x  # why
      |     ^"""),
    ("if x = 1:\n    pass\n", """\
h.py:1:6: error: expected `:` after the `if` condition, found `=` (use `==` to compare)
    1 | if x = 1:
      |      ^"""),
    ("def f(x: u8) -> u8\n    return x\n", """\
h.py:1:19: error: expected `:` after the function signature
    1 | def f(x: u8) -> u8
      |                   ^"""),
    ("for i in range(4)\n    pass\n", """\
h.py:1:18: error: expected `:` after the `for` loop header
    1 | for i in range(4)
      |                  ^"""),
    ("for i range(4):\n    pass\n", """\
h.py:1:7: error: expected an operator, `,` or `in`, found the name `range`
    1 | for i range(4):
      |       ^^^^^"""),
    ("if x:\n    pass\nelse if y:\n    pass\n", """\
h.py:3:6: error: expected `:` after `else`; write `elif` for 'else if'
    3 | else if y:
      |      ^^"""),
    ("else:\n    pass\n", """\
h.py:1:1: error: `else` without a matching `if` or `for`
    1 | else:
      | ^^^^"""),
    ("x = 1\n    y = 2\n", """\
h.py:2:5: error: unexpected indentation
    2 |     y = 2
      |     ^"""),
    ("  x = 1\n", """\
h.py:1:3: error: unexpected indentation
    1 |   x = 1
      |   ^"""),
    ("if x:\n        a = 1\n    b = 2\n", """\
h.py:3:5: error: this line is indented less than the block it closes, and does not line up \
with any enclosing block
    3 |     b = 2
      |     ^"""),
    ("def f(a: u8) -> u8:\nreturn a\n", """\
h.py:2:1: error: expected an indented block after the function definition on line 1
    2 | return a
      | ^^^^^^"""),
    ("if x:\n", """\
h.py:1:6: error: expected an indented block after the `if` statement on line 1
    1 | if x:
      |      ^"""),
    ("x = 'abc\n", """\
h.py:1:5: error: unterminated string
    1 | x = 'abc
      |     ^^^^"""),
    ('x = """abc\n\n', """\
h.py:1:5: error: unterminated triple-quoted string
    1 | x = \"\"\"abc
      |     ^^^^^^"""),
    ("x = (1 + 2\n", """\
h.py:1:5: error: `(` was never closed
    1 | x = (1 + 2
      |     ^"""),
    ("x = f(a\ny = 2\n", """\
h.py:2:1: error: expected `,` or `)` (to close the `(` on line 1), found the name `y`
    2 | y = 2
      | ^"""),
    ("x = [1, 2)\n", """\
h.py:1:10: error: closing `)` does not match the opening `[`
    1 | x = [1, 2)
      |          ^"""),
    ("x = 1)\n", """\
h.py:1:6: error: unmatched `)`
    1 | x = 1)
      |      ^"""),
    ("x = 1 2\n", """\
h.py:1:7: error: expected an operator or the end of the line, found the number `2`
    1 | x = 1 2
      |       ^"""),
    ("pass pass\n", """\
h.py:1:6: error: expected the end of the line, found `pass`
    1 | pass pass
      |      ^^^^"""),
    ("f(a b)\n", """\
h.py:1:5: error: expected `,` or `)`, found the name `b`
    1 | f(a b)
      |     ^"""),
    ("x = (a +)\n", """\
h.py:1:9: error: expected an expression after `+`, found `)`
    1 | x = (a +)
      |         ^"""),
    ("x = 0777\n", """\
h.py:1:5: error: a decimal integer cannot start with `0`; write `0o` for an octal number
    1 | x = 0777
      |     ^^^^"""),
    ("x = a $ b\n", """\
h.py:1:7: error: unexpected character `$`
    1 | x = a $ b
      |       ^"""),
    ("x = a ! b\n", """\
h.py:1:7: error: unexpected character `!`; write `!=` for 'not equal' and `not` for negation
    1 | x = a ! b
      |       ^"""),
    ("x = a \\ b\n", """\
h.py:1:7: error: a line continuation `\\` must be the last character on its line
    1 | x = a \\ b
      |       ^"""),
    ("def (x): pass\n", """\
h.py:1:5: error: expected the function name after `def`, found `(`
    1 | def (x): pass
      |     ^"""),
    ("x = a.\n", """\
h.py:1:7: error: expected an attribute name after `.`
    1 | x = a.
      |       ^"""),
    ("from fpgac import\n", """\
h.py:1:18: error: expected a module or a name to import
    1 | from fpgac import
      |                  ^"""),
    ("try:\n    pass\nx = 1\n", """\
h.py:3:1: error: expected `except` or `finally`, found the name `x`
    3 | x = 1
      | ^"""),
    ("@app.post('/x')\nx = 1\n", """\
h.py:2:1: error: expected a function or a class definition after the decorator
    2 | x = 1
      | ^"""),
    ("x = 1 if y\n", """\
h.py:1:11: error: expected `else`
    1 | x = 1 if y
      |           ^"""),
    ("match x:\n    cas 1:\n        pass\n", """\
h.py:2:5: error: expected a `case` clause, found the name `cas`
    2 |     cas 1:
      |     ^^^"""),
    ("x = 'a\\N{nope}'\n", """\
h.py:1:5: error: this string has an invalid escape sequence or character
    1 | x = 'a\\N{nope}'
      |     ^^^^^^^^^^^"""),
    ("x = 1" + "0" * 5000 + "\n", None),
    ("x = \x00\n", """\
h.py:1:5: error: unexpected character U+0000
    1 | x = \x00
      |     ^"""),
])
def test_syntax_errors_render_in_words(source, rendered):
    text = errors(source)
    if rendered is None:  # too long to spell out: check the head
        assert text.startswith("h.py:1:5: error: this integer literal has too many digits; "
                               "write it in hexadecimal\n")
    else:
        assert text == rendered


def test_too_deep_nesting_is_an_error_not_a_crash():
    text = errors("x = " + "(" * 250 + "1" + ")" * 250 + "\n")
    assert text.startswith("h.py:1:205: error: too many nested brackets; at most 200 are allowed")


def test_only_the_first_error_is_reported():
    with pytest.raises(FpgacError) as info:
        parse("x = \ny = \n", "h.py")
    assert len(info.value.diagnostics) == 1 and info.value.diagnostics[0].span.line == 1


def test_error_span_is_the_source_position():
    with pytest.raises(FpgacError) as info:
        parse("def f() -> u8:\n    return 1 +\n", "dir/h.py")
    (diag,) = info.value.diagnostics
    assert diag.span == Span("dir/h.py", 2, 15, 2, 16)


# --- the transformer and the parser object ----------------------------------------------------


def test_every_grammar_rule_has_a_transformer_callback():
    lark, _ = parser_module._parser()
    transformer = parser_module._ToAst("x.py")
    trees = set()
    for rule in lark.rules:
        name = rule.alias or rule.origin.name
        if isinstance(name, str) and name.startswith("_"):
            continue  # inlined into its parent
        if not rule.alias and rule.options.expand1 and len(rule.expansion) == 1:
            continue  # `?rule` with one child: replaced by the child
        trees.add(str(name))
    missing = sorted(t for t in trees if not hasattr(transformer, t))
    assert missing == []


def test_an_unknown_rule_is_an_internal_error():
    with pytest.raises(AssertionError, match="no AST rule for the grammar rule 'mystery'"):
        parser_module._ToAst("x.py").transform(Tree("mystery", []))


def test_the_parser_is_built_once():
    assert parser_module._parser() is parser_module._parser()


# --- random expressions: the same trees and spans as Python's parser -------------------------

_NAMES = st.sampled_from(["a", "b", "x1", "_y", "p"])
_ATOMS = st.one_of(
    _NAMES,
    st.integers(0, 10**12).map(str),
    st.sampled_from(["0x1F", "0o17", "0b101", "1_000", "0", "True", "False", "'s'"]),
)
_BINARY = st.sampled_from(["+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>", "**", "/",
                           "@", "and", "or"])
_COMPARE = st.sampled_from(["<", "<=", ">", ">=", "==", "!=", "is", "is not", "in", "not in"])
_UNARY = st.sampled_from(["-", "+", "~", "not "])


def _extend(inner):
    pair = st.tuples(inner, inner)
    return st.one_of(
        st.tuples(inner, _BINARY, inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(_UNARY, inner).map("".join),
        inner.map(lambda s: f"({s})"),
        st.tuples(inner, st.lists(st.tuples(_COMPARE, inner), min_size=1, max_size=3)).map(
            lambda t: t[0] + "".join(f" {op} {e}" for op, e in t[1])),
        st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
        st.tuples(_NAMES, st.lists(inner, max_size=3), st.lists(inner, max_size=2)).map(
            lambda t: f"{t[0]}(" + ", ".join(t[1] + [f"k{i}={v}" for i, v in enumerate(t[2])])
            + ")"),
        st.tuples(inner, _NAMES).map(lambda t: f"({t[0]}).{t[1]}"),
        pair.map(lambda t: f"({t[0]})[{t[1]}]"),
        pair.map(lambda t: f"a[{t[0]}, {t[1]}]"),
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        pair.map(lambda t: f"({t[0]}, {t[1]})"),
    )


_EXPRESSIONS = st.recursive(_ATOMS, _extend, max_leaves=10)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_EXPRESSIONS)
def test_random_expressions_parse_like_python(text):
    source = f"r = {text}\n"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pyast.parse(source)
    except SyntaxError:
        with pytest.raises(FpgacError):
            parse(source, "m.py")
    else:
        assert_same_as_python(source)


# --- robustness: any text gives an AST or an FpgacError, never anything else ------------------

_PIECES = list("()[]{}:;,.=+-*/%<>!&|^~@'\"\\#\n\t 0123456789abxyz_") + [
    "if ", "else", "elif ", "def ", "class ", "for ", " in ", "return ", "    ", "\n    ",
    "match ", "case ", "lambda", "**", "not ", "is ", "async ", "'''", '"""', "\r", "\x00",
    "\u00e9", "\u2028", "\x0c", "0x", "1e", "j", "while ", "try:", "with ", "yield ", "u8",
]


def _parses_or_fails_cleanly(text: str) -> None:
    try:
        module = parse(text, "fuzz.py")
    except FpgacError as error:
        assert error.diagnostics and error.render().startswith("fuzz.py:")
    else:
        assert isinstance(module, A.Module)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))
def test_random_text_never_crashes(text):
    _parses_or_fails_cleanly(text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_unicode_never_crashes(text):
    _parses_or_fails_cleanly(text)


@st.composite
def _mutations(draw):
    text = SPEC_EXAMPLE
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "copy"]))
        if action == "insert":
            text = text[:where] + draw(st.sampled_from(_PIECES)) + text[where:]
        elif action == "delete":
            text = text[:where] + text[where + draw(st.integers(1, 5)):]
        else:
            start = draw(st.integers(0, len(text)))
            text = text[:where] + text[start:start + draw(st.integers(1, 30))] + text[where:]
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_mutated_handlers_never_crash(text):
    _parses_or_fails_cleanly(text)
