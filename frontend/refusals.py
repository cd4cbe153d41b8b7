"""Syntactic checks: the Python constructs the handler language refuses.

Each message says what is wrong and how to fix it. These checks look at the
AST alone, so every refused construct in a file is reported, also in code the
elaboration never reaches.
"""

from __future__ import annotations

from collections.abc import Iterator

from . import ast
from .diagnostics import Diagnostic

__all__ = ["refusals", "STMT_MESSAGES", "EXPR_MESSAGES"]

STMT_MESSAGES = {
    "while": "`while` loops are not allowed: a handler must finish in a fixed number of steps; "
             "use `for i in range(N):` with a constant `N` and `break`",
    "try": "`try` is not allowed: handlers cannot raise exceptions, so there is nothing to catch",
    "with": "`with` is not allowed in a handler module",
    "global": "`global` is not allowed: handlers cannot change module state; "
              "return the new value instead",
    "nonlocal": "`nonlocal` is not allowed: handlers cannot change state outside themselves; "
                "return the new value instead",
    "del": "`del` is not allowed: variables live until the end of the function",
    "assert": "`assert` is not allowed: handlers cannot fail; return an error code in the response "
              "instead",
    "raise": "`raise` is not allowed: handlers cannot fail; return an error code in the response "
             "instead",
    "async": "`async` is not allowed: every handler already runs as a pipeline",
    "match": "`match` is not allowed; use `if`/`elif`/`else`",
    "type": "`type` statements are not allowed; use `uint(N)`/`sint(N)` or a `Record`",
    "import": "`import` is not allowed: a handler module imports only from `fpgac`, "
              "as in `from fpgac import App, u8`",
}

EXPR_MESSAGES = {
    "lambda": "`lambda` is not allowed; define a helper function with `def` instead",
    "yield": "`yield` is not allowed: a handler returns exactly one response",
    "await": "`await` is not allowed: every handler already runs as a pipeline",
    "dict": "dictionaries are not allowed; use a `Record` with named fields",
    "set": "sets are not allowed; use an `Array[T, N]` or a `Record`",
    "comprehension": "comprehensions are not allowed; use a `for` loop over a constant `range` "
                     "that writes into a declared `Array[T, N]`",
    "starred": "`*` unpacking is not allowed; pass each value by name",
    "slice": "slices are not allowed; read elements one at a time, e.g. in a `for` loop",
    "fstring": "strings are not allowed in a handler; only docstrings, the `App` name and "
               "route paths are strings",
    "walrus": "`:=` is not allowed; assign the value on its own line first",
    "ellipsis": "`...` is not allowed; use `pass` for an empty block",
    "none": "`None` is not allowed: every value is a fixed-width integer, a record or an array",
}


def _refused_stmt(stmt: ast.RefusedStmt) -> Diagnostic:
    return Diagnostic(stmt.span, STMT_MESSAGES.get(stmt.kind, f"`{stmt.kind}` is not allowed"))


def refusals(module: ast.Module) -> list[Diagnostic]:
    """Return a diagnostic for every refused construct in ``module``."""
    return list(_Walker().module(module))


class _Walker:
    def module(self, module: ast.Module) -> Iterator[Diagnostic]:
        for i, stmt in enumerate(module.body):
            yield from self.stmt(stmt, docstring_ok=(i == 0), depth=0)

    def body(self, stmts: list[ast.Stmt], depth: int, docstring_ok: bool = False):
        for i, stmt in enumerate(stmts):
            yield from self.stmt(stmt, docstring_ok=docstring_ok and i == 0, depth=depth)

    def stmt(self, s: ast.Stmt, *, docstring_ok: bool, depth: int) -> Iterator[Diagnostic]:
        if isinstance(s, ast.RefusedStmt):
            yield _refused_stmt(s)
        elif isinstance(s, ast.Import):
            yield Diagnostic(s.span, STMT_MESSAGES["import"])
        elif isinstance(s, ast.ImportFrom):
            if depth:
                yield Diagnostic(s.span, "imports belong at the top of the module, "
                                         "not inside a function")
            elif s.module != "fpgac":
                yield Diagnostic(s.span, f"`from {s.module} import ...` is not allowed: a handler "
                                         "module imports only from `fpgac`")
        elif isinstance(s, ast.ExprStmt):
            if isinstance(s.value, ast.Str) and docstring_ok:
                return
            yield from self.expr(s.value)
            if isinstance(s.value, ast.Str):
                return  # already reported as a string
            if not isinstance(s.value, ast.Refused | ast.Float):
                yield Diagnostic(s.span, "this expression does nothing; assign its value to a "
                                         "variable or remove it")
        elif isinstance(s, ast.Assign):
            if len(s.targets) > 1:
                yield Diagnostic(s.span, "chained assignment `a = b = ...` is not allowed; "
                                         "assign each variable on its own line")
            for t in s.targets:
                if isinstance(t, ast.TupleExpr | ast.ListExpr):
                    yield Diagnostic(t.span, "tuple assignment is not allowed; assign each "
                                             "variable on its own line")
                else:
                    yield from self.expr(t)
            yield from self.expr(s.value)
        elif isinstance(s, ast.AnnAssign):
            yield from self.expr(s.target)
            if s.value is not None:
                yield from self.expr(s.value)
        elif isinstance(s, ast.AugAssign):
            yield from self.expr(s.target)
            yield from self.binop_symbol(s.op, s.span)
            yield from self.expr(s.value)
        elif isinstance(s, ast.Return):
            if s.value is not None:
                yield from self.expr(s.value)
        elif isinstance(s, ast.If):
            yield from self.expr(s.test)
            yield from self.body(s.body, depth)
            yield from self.body(s.orelse, depth)
        elif isinstance(s, ast.For):
            yield from self.expr(s.target)
            yield from self.expr(s.iter)
            yield from self.body(s.body, depth)
            if s.orelse:
                yield Diagnostic(s.orelse[0].span, "`for ... else` is not allowed; use a `bool` "
                                                   "variable set before `break` instead")
                yield from self.body(s.orelse, depth)
        elif isinstance(s, ast.FunctionDef):
            yield from self.function(s, depth)
        elif isinstance(s, ast.ClassDef):
            yield from self.klass(s, depth)
        elif isinstance(s, ast.Break | ast.Continue | ast.Pass):
            return
        else:
            raise AssertionError(f"unknown statement {type(s).__name__}")

    def function(self, f: ast.FunctionDef, depth: int) -> Iterator[Diagnostic]:
        if f.is_async:
            yield Diagnostic(f.span, STMT_MESSAGES["async"])
        if depth:
            yield Diagnostic(f.name_span, "functions inside functions are not allowed; define "
                                          f"`{f.name}` at module level (it is inlined where called)")
        for p in f.params:
            if p.kind:
                yield Diagnostic(p.span, f"`{p.kind}{p.name}` is not allowed: a handler takes a "
                                         "fixed set of named parameters")
            elif p.annotation is None:
                yield Diagnostic(p.span, f"parameter `{p.name}` needs a type, e.g. `{p.name}: u8`")
            if p.default is not None:
                yield Diagnostic(p.default.span, f"default values are not allowed; every request "
                                                 f"must give `{p.name}`")
        if f.returns is None:
            yield Diagnostic(f.name_span, f"function `{f.name}` needs a return type, "
                                          f"e.g. `def {f.name}(...) -> u8:`")
        for d in f.decorators:
            yield from self.expr(d, strings_ok=True)
        yield from self.body(f.body, depth + 1, docstring_ok=True)

    def klass(self, c: ast.ClassDef, depth: int) -> Iterator[Diagnostic]:
        if depth:
            yield Diagnostic(c.name_span, "classes inside functions are not allowed; define "
                                          f"`{c.name}` at module level")
        is_record = (len(c.bases) == 1 and isinstance(c.bases[0], ast.Name)
                     and c.bases[0].id == "Record" and not c.keywords and not c.decorators)
        if not is_record:
            yield Diagnostic(c.name_span, f"class `{c.name}` is not allowed: the only classes are "
                                          f"records, `class {c.name}(Record):` with annotated fields")
            return
        for i, s in enumerate(c.body):
            if isinstance(s, ast.ExprStmt) and isinstance(s.value, ast.Str) and i == 0:
                continue
            if isinstance(s, ast.Pass):
                continue
            if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name):
                if s.value is not None:
                    yield Diagnostic(s.value.span, "record fields cannot have default values; "
                                                   "give every field when constructing the record")
                continue
            if isinstance(s, ast.FunctionDef):
                yield Diagnostic(s.name_span, "records cannot have methods; write a helper "
                                              f"function `def {s.name}(r: {c.name}) -> ...:` "
                                              "at module level")
                continue
            yield Diagnostic(s.span, "a record body holds only annotated fields, like `x: u8`")

    def binop_symbol(self, op: str, span) -> Iterator[Diagnostic]:
        if op == "/":
            yield Diagnostic(span, "`/` is true division and gives floats; use `//` for "
                                   "floor division")
        elif op == "@":
            yield Diagnostic(span, "`@` (matrix multiplication) is not allowed")

    def expr(self, e: ast.Expr, strings_ok: bool = False) -> Iterator[Diagnostic]:
        if isinstance(e, ast.Refused):
            yield Diagnostic(e.span, EXPR_MESSAGES.get(e.kind, f"{e.kind} is not allowed"))
        elif isinstance(e, ast.Float):
            yield Diagnostic(e.span, f"floating-point numbers like `{e.text}` are not allowed; "
                                     "use fixed-point integers, e.g. scale by 256 and use `>> 8`")
        elif isinstance(e, ast.Str):
            if not strings_ok:
                yield Diagnostic(e.span, EXPR_MESSAGES["fstring"])
        elif isinstance(e, ast.Name | ast.Const):
            return
        elif isinstance(e, ast.UnaryOp):
            yield from self.expr(e.operand)
        elif isinstance(e, ast.BinOp):
            yield from self.binop_symbol(e.op, e.span)
            yield from self.expr(e.left)
            yield from self.expr(e.right)
        elif isinstance(e, ast.BoolOp):
            for v in e.values:
                yield from self.expr(v)
        elif isinstance(e, ast.Compare):
            for op in e.ops:
                if op in ("is", "is not"):
                    yield Diagnostic(e.span, f"`{op}` is not allowed; compare values with "
                                             f"`{'==' if op == 'is' else '!='}`")
                elif op in ("in", "not in"):
                    yield Diagnostic(e.span, f"`{op}` is not allowed; compare with each value, "
                                             "e.g. `x == a or x == b`, or loop over an array")
            yield from self.expr(e.left)
            for c in e.comparators:
                yield from self.expr(c)
        elif isinstance(e, ast.IfExp):
            for part in (e.test, e.body, e.orelse):
                yield from self.expr(part)
        elif isinstance(e, ast.Call):
            for span in e.starred:
                yield Diagnostic(span, EXPR_MESSAGES["starred"])
            yield from self.expr(e.func)
            is_app = (isinstance(e.func, ast.Name) and e.func.id == "App") or strings_ok
            for a in e.args:
                yield from self.expr(a, strings_ok=is_app)
            for k in e.keywords:
                if k.name is None:
                    yield Diagnostic(k.span, "`**` unpacking is not allowed; pass each field "
                                             "by name")
                yield from self.expr(k.value)
        elif isinstance(e, ast.Attribute):
            yield from self.expr(e.value)
        elif isinstance(e, ast.Subscript):
            yield from self.expr(e.value)
            yield from self.expr(e.index)
        elif isinstance(e, ast.ListExpr | ast.TupleExpr):
            for x in e.elts:
                yield from self.expr(x)
        else:
            raise AssertionError(f"unknown expression {type(e).__name__}")
