"""Elaborate a checked handler module into IR: one dataflow graph per route.

Elaboration runs each handler symbolically. Every variable maps to a value
(an IR node with its static type, or a record or array of them); control flow
becomes multiplexers:

* ``if``/``else`` elaborates both branches on copies of the environment and
  merges the variables with ``mux(cond, else, then)``; a constant condition
  elaborates only the branch taken.
* ``return``, ``break`` and ``continue`` remove the current path condition
  (``alive``) from the paths still running. A ``return`` records its value
  under that condition; ``break`` and ``continue`` record the paths they
  take, and a snapshot of the variables on those paths, in the enclosing
  loop, which revives them (with their snapshot) after the loop or at the
  next iteration.
* Loops are unrolled: bounds are compile-time constants.
* Helpers are inlined at each call.

Static types follow SPEC §3: every expression gets the narrowest type that
holds its range, computed from its operands' types by the op table's range
rules; a store into a declared type wraps.
"""

from __future__ import annotations

import keyword
import sys
from dataclasses import dataclass, field

from ..ir import ops as irops
from ..ir.graph import Graph
from ..ir.program import Program, Route
from ..ir.span import Span
from ..ir.types import (
    BOOL,
    MAX_WIDTH,
    ArrayTy,
    BoolTy,
    IntTy,
    RecordTy,
    Ty,
    narrowest,
    scalar_int_ty,
)
from . import ast
from .diagnostics import Diagnostic, FpgacError
from .names import BUILTINS, FPGAC_NAMES, INT_TYPES, INTRINSICS
from .refusals import refusals
from .values import (
    AppVal,
    ArrayVal,
    BuiltinVal,
    FuncVal,
    RecordVal,
    Scalar,
    TableVal,
    TypeVal,
    Undefined,
    Value,
    leaf_values,
)

__all__ = ["lower_module", "MAX_UNROLL"]

#: At most this many loop iterations are unrolled in one handler (SPEC §4).
MAX_UNROLL = 65_536

_BINOPS = {"+": "add", "-": "sub", "*": "mul", "//": "floordiv", "%": "mod", "&": "and",
           "|": "or", "^": "xor", "<<": "shl", ">>": "shr"}
_CMPOPS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}


class _Error(Exception):
    """A user's mistake found while elaborating; reported, then elaboration goes on."""

    def __init__(self, span: Span, message: str):
        super().__init__(message)
        self.diag = Diagnostic(span, message)


class _Silent(Exception):
    """Something already reported (or derived from it); skip without a new message."""


_POISON = object()  # the value of a variable whose assignment failed


def _describe(ty: Ty) -> str:
    if isinstance(ty, RecordTy):
        return f"record `{ty.name}`"
    if isinstance(ty, ArrayTy):
        return f"`{ty}`"
    return f"`{ty}`"


def _describe_value(v) -> str:
    if isinstance(v, Scalar):
        return f"an integer of type `{v.ty}`"
    if isinstance(v, RecordVal):
        return f"a `{v.ty.name}` record"
    if isinstance(v, ArrayVal):
        return f"an array `{v.ty}`"
    if isinstance(v, TableVal):
        return f"the table `{v.name}`"
    if isinstance(v, TypeVal):
        return f"the type `{v.ty}`"
    if isinstance(v, FuncVal):
        return f"the function `{v.name}`"
    return "a name that is not a value"


@dataclass
class _Loop:
    """Paths that left the current loop iteration, and their variables."""

    broken: Scalar
    continued: Scalar
    break_env: dict | None = None
    continue_env: dict | None = None


@dataclass
class _Signature:
    params: list[tuple[str, Ty]]
    returns: Ty


@dataclass
class _ModuleInfo:
    file: str
    source: str
    app_name: str | None = None
    app_var: str | None = None
    imported: set[str] = field(default_factory=set)
    globals: dict[str, object] = field(default_factory=dict)
    functions: dict[str, ast.FunctionDef] = field(default_factory=dict)
    routes: list[tuple[str, ast.FunctionDef]] = field(default_factory=list)
    records: dict[str, RecordTy] = field(default_factory=dict)
    signatures: dict[str, _Signature | None] = field(default_factory=dict)


class _Compiler:
    """Check a module's structure, then elaborate each route."""

    def __init__(self, module: ast.Module, file: str):
        self.m = _ModuleInfo(file, module.source)
        self.module = module
        self.diags: dict[tuple, Diagnostic] = {}
        self.unrolled = 0

    # -- diagnostics -------------------------------------------------------------------------

    def report(self, diag: Diagnostic) -> None:
        key = (diag.span.line, diag.span.col, diag.span.end_line, diag.span.end_col, diag.message)
        self.diags.setdefault(key, diag)

    def text(self, node: ast.Node) -> str:
        """Return the source text of a node (first line only)."""
        lines = self.m.source.splitlines()
        s = node.span
        if not 1 <= s.line <= len(lines):
            return "?"
        line = lines[s.line - 1]
        end = s.end_col - 1 if s.end_line == s.line else len(line)
        return line[s.col - 1:end]

    # -- the module --------------------------------------------------------------------------

    def run(self) -> Program:
        for d in refusals(self.module):
            self.report(d)
        self.scan_module()
        routes: list[Route] = []
        for path, func in self.m.routes:
            route = self.lower_route(path, func)
            if route is not None:
                routes.append(route)
        # Helpers no route calls are still checked, on their own.
        for name, func in self.m.functions.items():
            if name not in {f.name for _, f in self.m.routes}:
                self.check_helper(func)
        if self.diags:
            raise FpgacError(list(self.diags.values()), self.m.source)
        return Program(self.m.app_name or "app", self.m.file, routes, dict(self.m.records))

    def scan_module(self) -> None:
        m = self.m
        first = self.module.body[0].span if self.module.body else Span(m.file, 1, 1, 1, 2)
        for stmt in self.module.body:
            if isinstance(stmt, ast.ImportFrom) and stmt.module == "fpgac":
                for name, asname, span in stmt.names:
                    if name == "*":
                        self.report(Diagnostic(span, "`from fpgac import *` is not allowed; "
                                                     "name what you use, e.g. "
                                                     "`from fpgac import App, u8`"))
                    elif name not in FPGAC_NAMES:
                        self.report(Diagnostic(span, f"`fpgac` has no `{name}`; it provides "
                                                     "`App`, `Record`, `Array`, `Table`, the "
                                                     "types `u1`…`u64`, `i1`…`i64`, `uint`, "
                                                     "`sint` and the intrinsics"))
                    elif asname not in (None, name):
                        self.report(Diagnostic(span, f"renaming imports is not allowed; write "
                                                     f"`from fpgac import {name}`"))
                    else:
                        m.imported.add(name)
        for stmt in self.module.body:
            try:
                self.scan_stmt(stmt)
            except _Error as e:
                self.report(e.diag)
            except _Silent:
                pass
        if m.app_var is None:
            self.report(Diagnostic(first, "a handler module needs an app: add "
                                          "`app = App(\"name\")` and decorate handlers with "
                                          "`@app.post(\"/path\")`"))
        elif not m.routes:
            self.report(Diagnostic(first, f"app `{m.app_name}` has no routes; decorate a "
                                          "function with `@app.post(\"/path\")`"))

    def define_global(self, name: str, span: Span, value: object) -> None:
        if name in self.m.globals or name in self.m.imported:
            raise _Error(span, f"`{name}` is defined twice at module level; give each "
                               "definition its own name")
        self.m.globals[name] = value

    def scan_stmt(self, stmt: ast.Stmt) -> None:
        if isinstance(stmt, ast.ImportFrom | ast.Import | ast.RefusedStmt | ast.ExprStmt):
            return  # imports handled above; the rest reported by refusals()
        if isinstance(stmt, ast.ClassDef):
            if len(stmt.bases) == 1 and isinstance(stmt.bases[0], ast.Name) \
                    and stmt.bases[0].id == "Record":
                self.need_import("Record", stmt.bases[0].span)
                self.define_record(stmt)
            return
        if isinstance(stmt, ast.FunctionDef):
            self.define_function(stmt)
            return
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if len(targets) != 1 or not isinstance(targets[0], ast.Name):
                if isinstance(stmt, ast.Assign) and len(targets) == 1 and isinstance(
                        targets[0], ast.TupleExpr | ast.ListExpr):
                    return  # reported by refusals()
                raise _Error(stmt.span, "at module level, assign only to a plain name, "
                                        "like `LIMIT = 100`")
            name = targets[0].id
            value = stmt.value
            if value is None:
                raise _Error(stmt.span, f"module constant `{name}` needs a value")
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) \
                    and value.func.id == "App":
                self.define_app(name, stmt, value)
            elif isinstance(value, ast.Call) and isinstance(value.func, ast.Name) \
                    and value.func.id == "Table":
                self.define_table(name, stmt, value)
            else:
                self.define_constant(name, stmt)
            return
        raise _Error(stmt.span, "only imports, the app, records, tables, constants and "
                                "functions may appear at module level")

    def need_import(self, name: str, span: Span) -> None:
        if name not in self.m.imported:
            raise _Error(span, f"`{name}` is not imported; add it to `from fpgac import ...`")

    def define_app(self, var: str, stmt: ast.Stmt, call: ast.Call) -> None:
        self.need_import("App", call.func.span)
        if self.m.app_var is not None:
            raise _Error(stmt.span, "a module holds exactly one `App`; put every route on it")
        if len(call.args) != 1 or call.keywords or not isinstance(call.args[0], ast.Str):
            raise _Error(call.span, "write `App(\"name\")` with the app's name as a string")
        name = call.args[0].value
        span = call.args[0].span
        self.m.app_var = var
        if not name.isidentifier() or keyword.iskeyword(name):
            raise _Error(span, f"the app name {name!r} must be a Python identifier (it becomes "
                               "a package name), e.g. `App(\"imaging\")`")
        if name in sys.stdlib_module_names or name == "fpgac":
            raise _Error(span, f"the app name {name!r} is the name of a standard-library "
                               "module; choose another (it becomes a package name)")
        self.m.app_name = name
        self.m.app_var = var
        self.define_global(var, stmt.span, AppVal(name))

    def define_record(self, c: ast.ClassDef) -> None:
        fields: list[tuple[str, Ty]] = []
        for s in c.body:
            if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name):
                try:
                    ty = self.resolve_type(s.annotation, None)
                except _Error as e:
                    self.report(e.diag)
                    continue
                if any(f == s.target.id for f, _ in fields):
                    self.report(Diagnostic(s.target.span, f"field `{s.target.id}` is declared "
                                                          "twice"))
                    continue
                fields.append((s.target.id, ty))
        if not fields:
            raise _Error(c.name_span, f"record `{c.name}` has no fields; declare them like "
                                      "`x: u8`")
        rec = RecordTy(c.name, tuple(fields))
        self.define_global(c.name, c.name_span, TypeVal(rec))
        self.m.records[c.name] = rec

    def define_table(self, name: str, stmt: ast.Stmt, call: ast.Call) -> None:
        self.need_import("Table", call.func.span)
        if len(call.args) != 2 or call.keywords or not isinstance(call.args[1], ast.ListExpr):
            raise _Error(call.span, "write a table as `Table(T, [v0, v1, ...])`, e.g. "
                                    "`Table(u8, [0, 1, 4, 9])`")
        ty = self.resolve_type(call.args[0], None)
        if not isinstance(ty, IntTy | BoolTy):
            raise _Error(call.args[0].span, "table entries must be integers, e.g. `Table(u8, [...])`")
        ity = scalar_int_ty(ty)
        if not call.args[1].elts:
            raise _Error(call.args[1].span, "a table needs at least one entry")
        values = []
        for elt in call.args[1].elts:
            v = self.const_eval(elt)
            if not ity.min <= v <= ity.max:
                self.report(Diagnostic(elt.span, f"table entry {v} does not fit `{ty}` "
                                                 f"({ity.min} to {ity.max})"))
            values.append(ity.wrap(v))
        self.define_global(name, stmt.span, TableVal(name, ity, tuple(values)))

    def define_constant(self, name: str, stmt: ast.Stmt) -> None:
        value = self.const_eval(stmt.value)
        if isinstance(stmt, ast.AnnAssign):
            ty = self.resolve_type(stmt.annotation, None)
            if not isinstance(ty, IntTy | BoolTy):
                raise _Error(stmt.annotation.span, "module constants are integers; use a "
                                                   "`Table` for a list of constants")
            ity = scalar_int_ty(ty)
            if isinstance(ty, BoolTy):
                value = int(value != 0)
            elif not ity.min <= value <= ity.max:
                raise _Error(stmt.value.span, f"constant {value} does not fit `{ty}` "
                                              f"({ity.min} to {ity.max})")
            const = (value, ity)
        else:
            const = (value, narrowest(value, value))
        self.define_global(name, stmt.span, const)

    def const_eval(self, expr: ast.Expr) -> int:
        """Evaluate a module-level constant expression."""
        lowerer = _Function(self, Graph("const"), None, ())
        v = lowerer.value(expr)
        if not isinstance(v, Scalar) or v.const is None:
            raise _Error(expr.span, f"`{self.text(expr)}` is not a constant; module constants "
                                    "are built from literals and other constants")
        return v.const

    def define_function(self, f: ast.FunctionDef) -> None:
        m = self.m
        route_path = None
        for d in f.decorators:
            if (isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)
                    and isinstance(d.func.value, ast.Name) and d.func.value.id == m.app_var
                    and d.func.attr in ("post", "route")):
                if len(d.args) != 1 or d.keywords or not isinstance(d.args[0], ast.Str):
                    raise _Error(d.span, f"write the route as `@{m.app_var}.{d.func.attr}"
                                         "(\"/path\")`")
                path = d.args[0].value
                if not path.startswith("/") or any(c.isspace() for c in path):
                    raise _Error(d.args[0].span, f"the route path {path!r} must be a URL path "
                                                 "starting with `/`, like \"/luma\"")
                if any(p == path for p, _ in m.routes):
                    raise _Error(d.args[0].span, f"route {path!r} is defined twice; each path "
                                                 "has one handler")
                if route_path is not None:
                    raise _Error(d.span, "a handler has exactly one route decorator")
                route_path = path
            else:
                raise _Error(d.span, "the only decorator is the app's route, e.g. "
                                     f"`@{m.app_var or 'app'}.post(\"/path\")`")
        self.define_global(f.name, f.name_span, FuncVal(f.name))
        m.functions[f.name] = f
        if route_path is not None:
            m.routes.append((route_path, f))

    # -- types ---------------------------------------------------------------------------------

    def resolve_type(self, e: ast.Expr, fn: _Function | None) -> Ty:
        """Resolve a type annotation."""
        hint = ("use `u8`…`u64`, `i8`…`i64`, `uint(N)`, `sint(N)`, `bool`, "
                "`Array[T, N]` or a `Record` class")
        if isinstance(e, ast.Name):
            if e.id in INT_TYPES:
                self.need_import(e.id, e.span)
                return IntTy(*INT_TYPES[e.id])
            if e.id == "bool":
                return BoolTy()
            g = self.m.globals.get(e.id)
            if isinstance(g, TypeVal):
                return g.ty
            if e.id in ("int", "float", "str"):
                raise _Error(e.span, f"`{e.id}` is not a fixed-width type; {hint}")
            raise _Error(e.span, f"`{e.id}` is not a type; {hint}")
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) \
                and e.func.id in ("uint", "sint") and len(e.args) == 1 and not e.keywords:
            self.need_import(e.func.id, e.func.span)
            n = self.type_const(e.args[0], fn)
            if not 1 <= n <= MAX_WIDTH:
                raise _Error(e.args[0].span, f"a width must be between 1 and {MAX_WIDTH}, not {n}")
            return IntTy(n, e.func.id == "sint")
        if isinstance(e, ast.Subscript) and isinstance(e.value, ast.Name) \
                and e.value.id == "Array":
            self.need_import("Array", e.value.span)
            if not (isinstance(e.index, ast.TupleExpr) and len(e.index.elts) == 2):
                raise _Error(e.span, "write an array type as `Array[T, N]`, e.g. `Array[u8, 4]`")
            elem = self.resolve_type(e.index.elts[0], fn)
            n = self.type_const(e.index.elts[1], fn)
            if n < 1:
                raise _Error(e.index.elts[1].span, f"an array needs at least one element, not {n}")
            if n > 65_536:
                raise _Error(e.index.elts[1].span, f"an array of {n} elements is too large "
                                                   "(at most 65,536)")
            return ArrayTy(elem, n)
        raise _Error(e.span, f"`{self.text(e)}` is not a type; {hint}")

    def type_const(self, e: ast.Expr, fn: _Function | None) -> int:
        lowerer = fn or _Function(self, Graph("const"), None, ())
        v = lowerer.value(e)
        if not isinstance(v, Scalar) or v.const is None:
            raise _Error(e.span, f"`{self.text(e)}` must be a constant here")
        return v.const

    def signature(self, f: ast.FunctionDef) -> _Signature | None:
        """Resolve a function's parameter and return types (reported once)."""
        if f.name in self.m.signatures:
            return self.m.signatures[f.name]
        params, ok = [], True
        for p in f.params:
            if p.kind or p.annotation is None:
                ok = False
                continue
            try:
                params.append((p.name, self.resolve_type(p.annotation, None)))
            except _Error as e:
                self.report(e.diag)
                ok = False
        returns = None
        if f.returns is not None:
            try:
                returns = self.resolve_type(f.returns, None)
            except _Error as e:
                self.report(e.diag)
        sig = _Signature(params, returns) if ok and returns is not None else None
        self.m.signatures[f.name] = sig
        return sig

    # -- routes ----------------------------------------------------------------------------------

    def lower_route(self, path: str, f: ast.FunctionDef) -> Route | None:
        sig = self.signature(f)
        if sig is None:
            return None
        graph = Graph(f.name)
        self.unrolled = 0
        fn = _Function(self, graph, f, (f.name,))
        args = {name: fn.param_value(name, ty, name) for name, ty in sig.params}
        n_diags = len(self.diags)
        ret = fn.run(args, sig)
        if ret is None or len(self.diags) > n_diags:
            return None
        for leaf_path, sc in leaf_values(ret, "return"):
            graph.add("output", (sc.node,), type=sc.ty, span=f.name_span, path=leaf_path)
        doc = None
        if f.body and isinstance(f.body[0], ast.ExprStmt) and isinstance(f.body[0].value, ast.Str):
            doc = f.body[0].value.value
        return Route(path, f.name, sig.params, sig.returns, graph, f.name_span, doc)

    def check_helper(self, f: ast.FunctionDef) -> None:
        sig = self.signature(f)
        if sig is None:
            return
        self.unrolled = 0
        fn = _Function(self, Graph(f.name), f, (f.name,))
        fn.run({name: fn.param_value(name, ty, name) for name, ty in sig.params}, sig)


class _Function:
    """The elaboration of one function body (a route, or a helper being inlined)."""

    def __init__(self, c: _Compiler, graph: Graph, func: ast.FunctionDef | None,
                 stack: tuple[str, ...]):
        self.c = c
        self.g = graph
        self.func = func
        self.stack = stack
        self.env: dict[str, object] = {}
        self.declared: dict[str, Ty] = {}
        self.loops: list[_Loop] = []
        self.ret: Value | None = None
        self.ret_ty: Ty | None = None
        self.failed = False  # a statement had an error (so "no return" would be noise)
        self.alive = self.const(1, func.span if func else Span("<const>", 1, 1, 1, 1))

    # -- running a body ------------------------------------------------------------------------

    def run(self, args: dict[str, Value], sig: _Signature) -> Value | None:
        f = self.func
        self.ret_ty = sig.returns
        for name, ty in sig.params:
            self.declared[name] = ty
            self.env[name] = args[name]
        self.block(f.body)
        if self.alive.const != 0:
            if self.failed:
                return None
            if self.ret is None:
                raise_at = f.name_span
                self.c.report(Diagnostic(raise_at, f"function `{f.name}` never returns a value; "
                                                   f"add `return ...` with a `{sig.returns}`"))
            else:
                self.c.report(Diagnostic(f.name_span, f"function `{f.name}` does not return a "
                                                      "value on every path; add a `return` at "
                                                      "the end"))
            return None
        return self.ret

    def param_value(self, name: str, ty: Ty, path: str) -> Value:
        """Make param nodes for every leaf of ``ty`` and the value they form."""
        if isinstance(ty, RecordTy):
            return RecordVal(ty, {f: self.param_value(name, fty, f"{path}.{f}")
                                  for f, fty in ty.fields})
        if isinstance(ty, ArrayTy):
            return ArrayVal(ty, tuple(self.param_value(name, ty.elem, f"{path}[{i}]")
                                      for i in range(ty.length)))
        ity = scalar_int_ty(ty)
        node = self.g.add("param", (), type=ity, span=self.func.name_span, path=path,
                          width=ity.width, signed=ity.signed)
        return Scalar(node, ity)

    def block(self, stmts: list[ast.Stmt]) -> None:
        for s in stmts:
            if self.alive.const == 0:
                return  # unreachable code after return/break/continue
            try:
                self.stmt(s)
            except _Error as e:
                self.c.report(e.diag)
                self.poison(s)
                self.failed = True
            except _Silent:
                self.poison(s)
                self.failed = True

    def poison(self, s: ast.Stmt) -> None:
        target = None
        if isinstance(s, ast.Assign) and len(s.targets) == 1:
            target = s.targets[0]
        elif isinstance(s, ast.AnnAssign | ast.AugAssign):
            target = s.target
        while isinstance(target, ast.Attribute | ast.Subscript):
            target = target.value
        targets = target.elts if isinstance(target, ast.TupleExpr | ast.ListExpr) else [target]
        for t in targets:
            if isinstance(t, ast.Name) and t.id not in self.c.m.globals:
                self.env[t.id] = _POISON

    # -- statements ----------------------------------------------------------------------------

    def stmt(self, s: ast.Stmt) -> None:
        if isinstance(s, ast.Pass):
            return
        if isinstance(s, ast.ExprStmt):
            if isinstance(s.value, ast.Str):
                return  # a docstring (others are reported by refusals())
            raise _Silent
        if isinstance(s, ast.AnnAssign):
            self.ann_assign(s)
        elif isinstance(s, ast.Assign):
            if len(s.targets) != 1 or isinstance(s.targets[0], ast.TupleExpr | ast.ListExpr):
                raise _Silent
            self.assign(s.targets[0], s.value, None)
        elif isinstance(s, ast.AugAssign):
            if s.op not in _BINOPS and s.op != "**":
                raise _Silent
            current = self.value(s.target)
            rhs = self.value(s.value)
            new = self.binop(s.op, current, rhs, s.span)
            self.assign(s.target, None, new)
        elif isinstance(s, ast.Return):
            self.return_(s)
        elif isinstance(s, ast.If):
            self.if_(s)
        elif isinstance(s, ast.For):
            self.for_(s)
        elif isinstance(s, ast.Break | ast.Continue):
            self.jump(s)
        else:
            raise _Silent  # refused statements, reported by refusals()

    def ann_assign(self, s: ast.AnnAssign) -> None:
        if not isinstance(s.target, ast.Name):
            raise _Error(s.target.span, "only a plain variable can be declared with a type; "
                                        "record fields and array elements have their types "
                                        "already")
        name = s.target.id
        self.check_local_name(name, s.target.span)
        ty = self.c.resolve_type(s.annotation, self)
        old = self.declared.get(name)
        if old is not None and old != ty:
            raise _Error(s.annotation.span, f"`{name}` is already declared as `{old}`; a "
                                            "variable keeps its type for the whole function")
        if old is None and name in self.env:
            raise _Error(s.target.span, f"`{name}` already holds a value; declare its type "
                                        "at its first assignment")
        self.declared[name] = ty
        if s.value is not None:
            self.assign(s.target, s.value, None)

    def check_local_name(self, name: str, span: Span) -> None:
        if name in self.c.m.globals or name in self.c.m.imported:
            raise _Error(span, f"`{name}` is a module-level name and cannot be assigned in a "
                               "function; use a local variable with another name")
        if name in BUILTINS:
            raise _Error(span, f"`{name}` is a built-in; use another name for the variable")

    def assign(self, target: ast.Expr, value_expr: ast.Expr | None, value: Value | None):
        """Store ``value`` (or the value of ``value_expr``) into ``target``."""
        # Find the root variable and the accessor path from it.
        path: list[ast.Expr] = []
        root = target
        while isinstance(root, ast.Attribute | ast.Subscript):
            path.append(root)
            root = root.value
        path.reverse()
        if not isinstance(root, ast.Name):
            raise _Error(target.span, "you can assign only to a variable, a record field or an "
                                      "array element")
        name = root.id
        if name in self.c.m.globals and name not in self.env:
            what = self.c.m.globals[name]
            if isinstance(what, TableVal):
                raise _Error(target.span, f"table `{name}` is constant and cannot be changed; "
                                          "copy what you need into a local `Array`")
            raise _Error(target.span, f"`{name}` is a module-level name and cannot be "
                                      "changed in a function; use a local variable")
        self.check_local_name(name, root.span)
        if not path:
            declared = self.declared.get(name)
            if value is None:
                value = self.value(value_expr, declared)
            if declared is not None:
                value = self.coerce(value, declared, target.span)
            self.store(name, value)
            return
        current = self.read_name(root)
        if value is None:
            expected = self.lvalue_type(current, path)
            value = self.value(value_expr, expected)
        self.store(name, self.update(current, path, value))

    def lvalue_type(self, current: Value, path: list[ast.Expr]) -> Ty | None:
        v = current
        for acc in path:
            if isinstance(acc, ast.Attribute) and isinstance(v, RecordVal):
                if acc.attr not in v.fields:
                    return None
                v = v.fields[acc.attr]
            elif isinstance(acc, ast.Subscript) and isinstance(v, ArrayVal):
                v = v.elems[0]
            else:
                return None
        return v.ty if isinstance(v, RecordVal | ArrayVal) else None

    def update(self, current: Value, path: list[ast.Expr], new: Value) -> Value:
        """Return ``current`` with the element at ``path`` replaced by ``new``."""
        acc, rest = path[0], path[1:]
        if isinstance(acc, ast.Attribute):
            if not isinstance(current, RecordVal):
                raise _Error(acc.span, f"`{self.c.text(acc.value)}` is "
                                       f"{_describe_value(current)}, not a record")
            fty = current.ty.field(acc.attr)
            if fty is None:
                raise self.no_field(current.ty, acc)
            old = current.fields[acc.attr]
            value = self.update(old, rest, new) if rest else self.coerce(new, fty, acc.span)
            return RecordVal(current.ty, {**current.fields, acc.attr: value})
        assert isinstance(acc, ast.Subscript)
        if not isinstance(current, ArrayVal):
            raise _Error(acc.span, f"`{self.c.text(acc.value)}` is {_describe_value(current)}, "
                                   "not an array")
        index = self.scalar(acc.index)
        elems = list(current.elems)
        if index.const is not None:
            if not 0 <= index.const < len(elems):
                raise _Error(acc.index.span, f"index {index.const} is outside "
                                             f"`{current.ty}` (0 to {len(elems) - 1})")
            i = index.const
            elems[i] = self.update(elems[i], rest, new) if rest else self.coerce(
                new, current.ty.elem, acc.span)
        else:
            # A variable index writes every element under a condition (SPEC §3).
            for i, old in enumerate(elems):
                hit = self.op("eq", [index, self.const(i, acc.span)], acc.span)
                if hit.const == 0:
                    continue
                value = self.update(old, rest, new) if rest else self.coerce(
                    new, current.ty.elem, acc.span)
                elems[i] = self.mux(hit, old, value, acc.span)
        return ArrayVal(current.ty, tuple(elems))

    def store(self, name: str, value: Value) -> None:
        self.env[name] = value

    def return_(self, s: ast.Return) -> None:
        if s.value is None:
            raise _Error(s.span, f"`return` needs a value of type `{self.ret_ty}`")
        value = self.coerce(self.value(s.value, self.ret_ty), self.ret_ty, s.value.span)
        if self.ret is None:
            self.ret = value
        else:
            self.ret = self.mux(self.alive, self.ret, value, s.span)
        self.alive = self.const(0, s.span)

    def jump(self, s: ast.Break | ast.Continue) -> None:
        word = "break" if isinstance(s, ast.Break) else "continue"
        if not self.loops:
            raise _Error(s.span, f"`{word}` is outside a loop")
        loop = self.loops[-1]
        if word == "break":
            loop.broken = self.or_(loop.broken, self.alive, s.span)
            loop.break_env = self.snapshot(loop.break_env, s.span)
        else:
            loop.continued = self.or_(loop.continued, self.alive, s.span)
            loop.continue_env = self.snapshot(loop.continue_env, s.span)
        self.alive = self.const(0, s.span)

    def snapshot(self, saved: dict | None, span: Span) -> dict:
        """Add the variables of the paths leaving now to those of paths that left before."""
        if saved is None:
            return dict(self.env)
        return self.merge(self.alive, self.env, saved, span)

    def rejoin(self, alive: Scalar, env: dict, left: Scalar, left_env: dict | None,
               span: Span) -> None:
        """Continue with the running paths plus the paths that left (and their variables)."""
        if left_env is None or left.const == 0:
            self.alive, self.env = alive, env
        elif alive.const == 0:
            self.alive, self.env = left, left_env
        else:
            self.alive = self.or_(alive, left, span)
            self.env = self.merge(left, left_env, env, span)

    def if_(self, s: ast.If) -> None:
        cond = self.truth(self.value(s.test), s.test.span)
        if cond.const is not None:
            self.block(s.body if cond.const else s.orelse)
            return
        start_alive, start_env = self.alive, dict(self.env)
        self.alive = self.and_(start_alive, cond, s.test.span)
        self.block(s.body)
        then_alive, then_env = self.alive, self.env
        self.env = dict(start_env)
        self.alive = self.and_(start_alive, self.not_(cond, s.test.span), s.test.span)
        self.block(s.orelse)
        else_alive, else_env = self.alive, self.env
        self.alive = self.or_(then_alive, else_alive, s.span)
        if then_alive.const == 0:
            self.env = else_env
        elif else_alive.const == 0:
            self.env = then_env
        else:
            self.env = self.merge(cond, then_env, else_env, s.span)

    def merge(self, cond: Scalar, then_env: dict, else_env: dict, span: Span) -> dict:
        merged = {}
        # A fixed order keeps node ids reproducible (set order varies with the hash seed).
        for name in [*then_env, *(k for k in else_env if k not in then_env)]:
            t, e = then_env.get(name), else_env.get(name)
            if t is e:
                merged[name] = t
            elif t is None or e is None or isinstance(t, Undefined) or isinstance(e, Undefined):
                merged[name] = Undefined(span)
            elif t is _POISON or e is _POISON:
                merged[name] = _POISON
            else:
                try:
                    merged[name] = self.mux(cond, e, t, span)
                except _Error:
                    merged[name] = Undefined(span)
        return merged

    def for_(self, s: ast.For) -> None:
        if not isinstance(s.target, ast.Name):
            raise _Error(s.target.span, "a `for` loop needs one plain variable, "
                                        "like `for i in range(8):`")
        self.check_local_name(s.target.id, s.target.span)
        items = self.loop_items(s.iter)
        live = self.iterated_path(s)
        self.c.unrolled += len(items)
        if self.c.unrolled > MAX_UNROLL:
            raise _Error(s.span, f"this handler unrolls more than {MAX_UNROLL:,} loop iterations; "
                                 "use fewer or shorter loops")
        loop = _Loop(self.const(0, s.span), self.const(0, s.span))
        self.loops.append(loop)
        try:
            for i, item in enumerate(items):
                if self.alive.const == 0:
                    break
                if live:
                    # As in Python, `for x in a` reads a[i] when iteration i starts, so writes
                    # to later elements in the body are seen.
                    item = self.thing(s.iter).elems[i]
                declared = self.declared.get(s.target.id)
                if declared is not None:
                    item = self.coerce(item, declared, s.target.span)
                self.store(s.target.id, item)
                self.block(s.body)
                self.rejoin(self.alive, self.env, loop.continued, loop.continue_env, s.span)
                loop.continued, loop.continue_env = self.const(0, s.span), None
        finally:
            self.loops.pop()
        self.rejoin(self.alive, self.env, loop.broken, loop.break_env, s.span)

    def iterated_path(self, s: ast.For) -> bool:
        """Say whether ``s`` iterates over an array named by a path, read live per iteration.

        ``for x in a`` and ``for x in p.arr`` read their element when each iteration
        starts; the body may write elements but may not rebind the array itself (Python's
        iterator would keep the old object). Other array expressions are read once, so the
        body may not write to anything reachable from their root variable.
        """
        it = s.iter
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range":
            return False
        path: list[str] = []
        node = it
        while isinstance(node, ast.Attribute):
            path.append(node.attr)
            node = node.value
        path.reverse()
        root = node
        while isinstance(root, ast.Attribute | ast.Subscript | ast.Call):
            root = root.func if isinstance(root, ast.Call) else root.value
        if not isinstance(root, ast.Name) or root.id not in self.env:
            return False  # a table, a module constant, or a fresh value
        live = isinstance(node, ast.Name)
        for target in _assigned_targets(s):
            chain: list[str | None] = []
            t = target
            while isinstance(t, ast.Attribute | ast.Subscript):
                chain.append(t.attr if isinstance(t, ast.Attribute) else None)
                t = t.value
            chain.reverse()
            if not isinstance(t, ast.Name) or t.id != root.id:
                continue
            if live:
                # Rebinding the array or a record holding it; element writes are fine.
                if None not in chain and chain == path[:len(chain)]:
                    raise _Error(target.span, f"`{self.c.text(target)}` is assigned inside a "
                                              f"loop over `{self.c.text(it)}`; change its "
                                              "elements instead, or loop over "
                                              f"`range(len({self.c.text(it)}))`")
            else:
                raise _Error(target.span, f"`{self.c.text(target)}` is assigned inside a loop "
                                          f"over `{self.c.text(it)}`; copy the array into a "
                                          "local variable first and loop over that")
        return live

    def loop_items(self, it: ast.Expr) -> list[Value]:
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range" \
                and "range" not in self.env:
            if it.keywords or not 1 <= len(it.args) <= 3:
                raise _Error(it.span, "write `range(stop)`, `range(start, stop)` or "
                                      "`range(start, stop, step)`")
            bounds = []
            for a in it.args:
                v = self.value(a)
                if not isinstance(v, Scalar) or v.const is None:
                    raise _Error(a.span, f"`range` bounds must be constants, not "
                                         f"`{self.c.text(a)}`; use `for i in range(N):` with a "
                                         f"constant `N` and `if i < {self.c.text(a)}:` inside")
                bounds.append(v.const)
            if len(bounds) == 3 and bounds[2] == 0:
                raise _Error(it.args[2].span, "the `range` step must not be zero")
            r = range(*bounds)
            if len(r) > MAX_UNROLL:
                raise _Error(it.span, f"this loop has {len(r):,} iterations, more than "
                                      f"{MAX_UNROLL:,}")
            return [self.const(i, it.span) for i in r]
        v = self.thing(it)
        if isinstance(v, ArrayVal):
            return list(v.elems)
        if isinstance(v, TableVal):
            return [self.const(x, it.span) for x in v.values]
        raise _Error(it.span, "a `for` loop runs over `range(...)` with constant bounds or over "
                              f"an array; `{self.c.text(it)}` is {_describe_value(v)}")

    # -- building nodes -------------------------------------------------------------------------

    def const(self, value: int, span: Span) -> Scalar:
        ty = narrowest(value, value)
        if ty.width > MAX_WIDTH:
            raise _Error(span, f"this constant needs {ty.width} bits, more than the "
                               f"{MAX_WIDTH}-bit limit")
        return Scalar(self.g.const(value, span=span), ty, value)

    def op(self, name: str, args: list[Scalar], span: Span, **attrs) -> Scalar:
        """Add an op (folded when every operand is a constant) with its static type."""
        info = irops.OPS[name]
        if all(a.const is not None for a in args):
            value = info.evaluate(attrs, *(a.const for a in args))
            return self.const(value, span)
        # A constant operand counts by its value, a variable by its static type (SPEC §3).
        lo, hi = info.range(attrs, *((a.const, a.const) if a.const is not None else a.ty.range
                                     for a in args))
        ty = narrowest(lo, hi)
        if ty.width > MAX_WIDTH:
            raise _Error(span, f"this value can need {ty.width} bits, more than the "
                               f"{MAX_WIDTH}-bit limit; cast an operand to a narrower type "
                               "first")
        return Scalar(self.g.add(name, [a.node for a in args], type=ty, span=span, **attrs), ty)

    def truth(self, v: Value, span: Span) -> Scalar:
        """Return ``v != 0`` as a bit."""
        if not isinstance(v, Scalar):
            raise _Error(span, f"a condition must be an integer, not {_describe_value(v)}")
        if v.ty == BOOL:
            return v
        return self.op("ne", [v, self.const(0, span)], span)

    def and_(self, a: Scalar, b: Scalar, span: Span) -> Scalar:
        if a.const is not None:
            return b if a.const else a
        if b.const is not None:
            return a if b.const else b
        return self.op("and", [a, b], span)

    def or_(self, a: Scalar, b: Scalar, span: Span) -> Scalar:
        if a.const is not None:
            return a if a.const else b
        if b.const is not None:
            return b if b.const else a
        return self.op("or", [a, b], span)

    def not_(self, a: Scalar, span: Span) -> Scalar:
        return self.op("eq", [a, self.const(0, span)], span)

    def mux(self, sel: Scalar, if_false: Value, if_true: Value, span: Span) -> Value:
        if sel.const is not None:
            return if_true if sel.const else if_false
        if if_false is if_true:
            return if_false
        if isinstance(if_false, Scalar) and isinstance(if_true, Scalar):
            if if_false.node == if_true.node:
                return if_false if if_false.ty == if_true.ty else Scalar(
                    if_false.node, narrowest(min(if_false.ty.min, if_true.ty.min),
                                             max(if_false.ty.max, if_true.ty.max)))
            return self.op("mux", [sel, if_false, if_true], span)
        if isinstance(if_false, RecordVal) and isinstance(if_true, RecordVal) \
                and if_false.ty == if_true.ty:
            return RecordVal(if_false.ty, {f: self.mux(sel, if_false.fields[f], if_true.fields[f],
                                                       span) for f, _ in if_false.ty.fields})
        if isinstance(if_false, ArrayVal) and isinstance(if_true, ArrayVal) \
                and if_false.ty.length == if_true.ty.length:
            return ArrayVal(if_false.ty, tuple(self.mux(sel, f, t, span)
                                               for f, t in zip(if_false.elems, if_true.elems)))
        raise _Error(span, f"the two sides give different kinds of value: "
                           f"{_describe_value(if_false)} and {_describe_value(if_true)}")

    def coerce(self, v: Value, ty: Ty, span: Span) -> Value:
        """Store ``v`` into the declared type ``ty``: wrap integers, check the rest."""
        if isinstance(ty, IntTy | BoolTy):
            if not isinstance(v, Scalar):
                raise _Error(span, f"expected an integer of type `{ty}`, got "
                                   f"{_describe_value(v)}")
            if isinstance(ty, BoolTy):
                return self.truth(v, span)
            if v.const is not None:
                c = ty.wrap(v.const)
                return Scalar(self.g.const(c, span=span), ty, c)
            if ty.holds(*v.ty.range):
                return Scalar(v.node, ty)
            node = self.g.add("wrap", (v.node,), type=ty, span=span, width=ty.width,
                              signed=ty.signed)
            return Scalar(node, ty)
        if isinstance(ty, RecordTy):
            if not isinstance(v, RecordVal) or v.ty.name != ty.name:
                raise _Error(span, f"expected a `{ty.name}` record, got {_describe_value(v)}")
            return v
        assert isinstance(ty, ArrayTy)
        if not isinstance(v, ArrayVal) or v.ty.length != ty.length:
            raise _Error(span, f"expected `{ty}`, got {_describe_value(v)}")
        if v.ty == ty:
            return v
        return ArrayVal(ty, tuple(self.coerce(e, ty.elem, span) for e in v.elems))

    # -- expressions ---------------------------------------------------------------------------

    def value(self, e: ast.Expr, expected: Ty | None = None) -> Value:
        """Elaborate an expression that must give a value (integer, record or array)."""
        v = self.thing(e, expected)
        if isinstance(v, Scalar | RecordVal | ArrayVal):
            return v
        if isinstance(v, TableVal):
            raise _Error(e.span, f"table `{v.name}` can only be indexed (`{v.name}[i]`), "
                                 "looped over or passed to `len`")
        if isinstance(v, TypeVal | BuiltinVal | FuncVal):
            raise _Error(e.span, f"`{self.c.text(e)}` is {_describe_value(v)}; call it")
        raise _Error(e.span, f"`{self.c.text(e)}` is not a value")

    def scalar(self, e: ast.Expr) -> Scalar:
        v = self.value(e)
        if not isinstance(v, Scalar):
            raise _Error(e.span, f"expected an integer, but `{self.c.text(e)}` is "
                                 f"{_describe_value(v)}")
        return v

    def read_name(self, e: ast.Name):
        if e.id in self.env:
            v = self.env[e.id]
            if v is _POISON:
                raise _Silent
            if isinstance(v, Undefined):
                raise _Error(e.span, f"`{e.id}` may be undefined here: it is assigned on only "
                                     f"some paths (line {v.span.line}); assign it a value before")
            return v
        if e.id in self.declared:
            raise _Error(e.span, f"`{e.id}` is declared but has no value yet")
        m = self.c.m
        if e.id in m.globals:
            g = m.globals[e.id]
            if isinstance(g, tuple):
                value, ty = g
                return Scalar(self.g.const(value, span=e.span), ty, value)
            return g
        if e.id in FPGAC_NAMES:
            self.c.need_import(e.id, e.span)
            if e.id in INT_TYPES:
                return TypeVal(IntTy(*INT_TYPES[e.id]))
            return BuiltinVal(e.id)
        if e.id == "bool":
            return TypeVal(BoolTy())
        if e.id in BUILTINS:
            return BuiltinVal(e.id)
        if e.id in ("True", "False"):
            return self.const(int(e.id == "True"), e.span)
        raise _Error(e.span, f"`{e.id}` is not defined")

    def thing(self, e: ast.Expr, expected: Ty | None = None):
        """Elaborate any expression: a value, or a table, type, function or built-in.

        Each expression node of the AST is annotated with the static type of its
        value (``e.static_type``; in an unrolled loop, that of the last iteration).
        """
        result = self._thing(e, expected)
        if isinstance(result, Scalar):
            e.static_type = result.ty
        elif isinstance(result, RecordVal | ArrayVal):
            e.static_type = result.ty
        return result

    def _thing(self, e: ast.Expr, expected: Ty | None):
        if isinstance(e, ast.Const):
            return self.const(int(e.value), e.span)
        if isinstance(e, ast.Name):
            return self.read_name(e)
        if isinstance(e, ast.UnaryOp):
            return self.unary(e)
        if isinstance(e, ast.BinOp):
            if e.op not in _BINOPS and e.op != "**":
                raise _Silent  # `/` and `@`, reported by refusals()
            return self.binop(e.op, self.value(e.left), self.value(e.right), e.span, e)
        if isinstance(e, ast.BoolOp):
            bits = [self.truth(self.value(v), v.span) for v in e.values]
            result = bits[0]
            for b in bits[1:]:
                result = (self.and_ if e.op == "and" else self.or_)(result, b, e.span)
            return result
        if isinstance(e, ast.Compare):
            return self.compare(e)
        if isinstance(e, ast.IfExp):
            cond = self.truth(self.value(e.test), e.test.span)
            if cond.const is not None:
                return self.value(e.body if cond.const else e.orelse, expected)
            return self.mux(cond, self.value(e.orelse, expected), self.value(e.body, expected),
                            e.span)
        if isinstance(e, ast.Call):
            return self.call(e, expected)
        if isinstance(e, ast.Attribute):
            base = self.value(e.value)
            if not isinstance(base, RecordVal):
                raise _Error(e.span, f"`{self.c.text(e.value)}` is {_describe_value(base)}, "
                                     f"so it has no field `{e.attr}`")
            if e.attr not in base.fields:
                raise self.no_field(base.ty, e)
            return base.fields[e.attr]
        if isinstance(e, ast.Subscript):
            return self.subscript(e)
        if isinstance(e, ast.ListExpr):
            if not isinstance(expected, ArrayTy):
                raise _Error(e.span, "an array literal needs a declared type, e.g. "
                                     "`a: Array[u8, 3] = [1, 2, 3]`")
            if len(e.elts) != expected.length:
                raise _Error(e.span, f"`{expected}` needs {expected.length} elements, this "
                                     f"literal has {len(e.elts)}")
            return ArrayVal(expected, tuple(
                self.coerce(self.value(x, expected.elem), expected.elem, x.span)
                for x in e.elts))
        if isinstance(e, ast.TupleExpr):
            raise _Error(e.span, "tuples are not allowed; return a `Record` to give back "
                                 "several values")
        if isinstance(e, ast.Str | ast.Float | ast.Refused):
            raise _Silent  # reported by refusals()
        raise AssertionError(f"unknown expression {type(e).__name__}")

    def no_field(self, ty: RecordTy, e: ast.Attribute) -> _Error:
        names = ", ".join(f"`{f}`" for f, _ in ty.fields)
        return _Error(e.span, f"record `{ty.name}` has no field `{e.attr}`; its fields are {names}")

    def unary(self, e: ast.UnaryOp) -> Value:
        v = self.value(e.operand)
        if e.op == "not":
            return self.not_(self.truth(v, e.operand.span), e.span)
        if not isinstance(v, Scalar):
            raise _Error(e.span, f"`{e.op}` needs an integer, not {_describe_value(v)}")
        if e.op == "+":
            return v
        return self.op("neg" if e.op == "-" else "not", [v], e.span)

    def binop(self, op: str, a: Value, b: Value, span: Span, e: ast.BinOp | None = None):
        for side in (a, b):
            if not isinstance(side, Scalar):
                raise _Error(span, f"`{op}` needs integers, not {_describe_value(side)}")
        if op == "**":
            if b.const is None or b.const < 0:
                raise _Error(span, "`x ** k` needs a constant exponent `k >= 0`")
            if b.const > MAX_WIDTH:
                raise _Error(span, f"the exponent {b.const} is too large")
            result = self.const(1, span)
            for _ in range(b.const):
                result = self.op("mul", [result, a], span)
            return result
        if op in ("<<", ">>"):
            if b.const is not None and b.const < 0:
                raise _Error(span, f"negative shift amount {b.const}; shift the other way")
            if b.ty.min < 0:
                where = f"`{self.c.text(e.right)}`" if e is not None else "the shift amount"
                raise _Error(span, f"the shift amount {where} has type `{b.ty}`, which can be "
                                   f"negative; cast or mask it, e.g. `u8(n)` or `n & 31`")
            if op == "<<" and b.const is None:
                lo, hi = irops.OPS["shl"].range({}, a.ty.range, b.ty.range)
                width = narrowest(lo, hi).width
                if width > MAX_WIDTH:
                    raise _Error(span, f"this left shift can produce a {width}-bit value, more "
                                       f"than {MAX_WIDTH} bits; mask the shift amount, e.g. "
                                       "`x << (n & 31)`")
        return self.op(_BINOPS[op], [a, b], span)

    def compare(self, e: ast.Compare) -> Scalar:
        if any(op not in _CMPOPS for op in e.ops):
            raise _Silent  # `is`/`in`, reported by refusals()
        left = self.value(e.left)
        result = None
        for op, right_e in zip(e.ops, e.comparators):
            right = self.value(right_e)
            for side in (left, right):
                if not isinstance(side, Scalar):
                    raise _Error(e.span, f"`{op}` compares integers, not "
                                         f"{_describe_value(side)}; compare fields one by one")
            bit = self.op(_CMPOPS[op], [left, right], e.span)
            result = bit if result is None else self.and_(result, bit, e.span)
            left = right
        return result

    def subscript(self, e: ast.Subscript):
        base = self.thing(e.value)
        if isinstance(e.index, ast.Refused | ast.TupleExpr):
            if isinstance(e.index, ast.Refused):
                raise _Silent
            raise _Error(e.index.span, "an index is one integer")
        index = self.scalar(e.index)
        if isinstance(base, TableVal):
            n = len(base.values)
            if index.const is not None:
                if not 0 <= index.const < n:
                    raise _Error(e.index.span, f"index {index.const} is outside table "
                                               f"`{base.name}` (0 to {n - 1})")
                value = base.values[index.const]
                return Scalar(self.g.const(value, span=e.span), base.elem, value)
            # A table read has the table's declared type (for intrinsics' widths).
            read = self.op("rom", [index], e.span, values=base.values)
            return Scalar(read.node, base.elem)
        if isinstance(base, ArrayVal):
            n = base.ty.length
            if index.const is not None:
                if not 0 <= index.const < n:
                    raise _Error(e.index.span, f"index {index.const} is outside `{base.ty}` "
                                               f"(0 to {n - 1})")
                return base.elems[index.const]
            return self.select(index, list(base.elems), base.ty.elem, e.span)
        raise _Error(e.span, f"`{self.c.text(e.value)}` is {_describe_value(base)}; only arrays "
                             "and tables can be indexed")

    def select(self, index: Scalar, elems: list[Value], ty: Ty, span: Span) -> Value:
        if isinstance(ty, RecordTy):
            return RecordVal(ty, {f: self.select(index, [el.fields[f] for el in elems], fty, span)
                                  for f, fty in ty.fields})
        if isinstance(ty, ArrayTy):
            return ArrayVal(ty, tuple(self.select(index, [el.elems[i] for el in elems], ty.elem,
                                                  span) for i in range(ty.length)))
        result = self.op("select", [index, *elems], span)
        # Out-of-range reads give 0; the element type still describes the value.
        return Scalar(result.node, result.ty, result.const)

    # -- calls ---------------------------------------------------------------------------------

    def call(self, e: ast.Call, expected: Ty | None):
        if e.starred or any(k.name is None for k in e.keywords):
            raise _Silent
        if isinstance(e.func, ast.Call) and isinstance(e.func.func, ast.Name) \
                and e.func.func.id in ("uint", "sint"):
            callee = TypeVal(self.c.resolve_type(e.func, self))
        elif isinstance(e.func, ast.Name):
            if e.func.id not in self.env and e.func.id not in self.c.m.globals \
                    and e.func.id not in FPGAC_NAMES and e.func.id not in BUILTINS \
                    and e.func.id != "bool":
                raise _Error(e.func.span, f"`{e.func.id}` cannot be called: a handler calls only "
                                          "helper functions of this module, records, casts like "
                                          "`u8(x)`, the intrinsics and `len`, `min`, `max`, "
                                          "`abs`")
            callee = self.read_name(e.func)
        elif isinstance(e.func, ast.Attribute):
            raise _Error(e.func.span, "methods are not available; call a helper function "
                                      "or an intrinsic instead")
        else:
            raise _Error(e.func.span, f"`{self.c.text(e.func)}` cannot be called")
        if isinstance(callee, TypeVal):
            if isinstance(callee.ty, RecordTy):
                return self.construct(callee.ty, e)
            if isinstance(callee.ty, ArrayTy):
                raise _Error(e.span, "arrays are built with a literal, e.g. "
                                     "`a: Array[u8, 3] = [1, 2, 3]`")
            self.positional(e, 1, f"`{self.c.text(e.func)}(x)`")
            return self.coerce(self.scalar(e.args[0]), callee.ty, e.span) \
                if isinstance(callee.ty, IntTy) else self.truth(self.scalar(e.args[0]), e.span)
        if isinstance(callee, FuncVal):
            return self.inline(callee.name, e)
        if isinstance(callee, BuiltinVal):
            return self.builtin(callee.name, e)
        raise _Error(e.func.span, f"`{self.c.text(e.func)}` is {_describe_value(callee)} and "
                                  "cannot be called; only helpers, records, casts and "
                                  "intrinsics can")

    def positional(self, e: ast.Call, n: int | tuple[int, int], form: str) -> None:
        lo, hi = (n, n) if isinstance(n, int) else n
        if e.keywords or not lo <= len(e.args) <= hi:
            raise _Error(e.span, f"write {form}")

    def construct(self, ty: RecordTy, e: ast.Call) -> RecordVal:
        names = ", ".join(f"{f}=..." for f, _ in ty.fields)
        if e.args:
            raise _Error(e.span, f"give record fields by name: `{ty.name}({names})`")
        given = {k.name: k for k in e.keywords}
        missing = [f for f, _ in ty.fields if f not in given]
        extra = [k for k in given if ty.field(k) is None]
        if extra:
            raise _Error(given[extra[0]].span, f"record `{ty.name}` has no field `{extra[0]}`; "
                                               f"write `{ty.name}({names})`")
        if missing:
            raise _Error(e.span, f"`{ty.name}(...)` is missing "
                                 + ", ".join(f"`{m}`" for m in missing)
                                 + f"; give every field: `{ty.name}({names})`")
        if len(given) != len(e.keywords):
            raise _Error(e.span, "a field is given twice")
        return RecordVal(ty, {f: self.coerce(self.value(given[f].value, fty), fty,
                                             given[f].value.span) for f, fty in ty.fields})

    def inline(self, name: str, e: ast.Call) -> Value:
        f = self.c.m.functions[name]
        if name in self.stack:
            chain = " -> ".join((*self.stack[self.stack.index(name):], name))
            raise _Error(e.span, f"recursion is not allowed ({chain}); rewrite it as a loop "
                                 "with a constant bound")
        sig = self.c.signature(f)
        if sig is None:
            raise _Silent
        pnames = [p for p, _ in sig.params]
        given: dict[str, ast.Expr] = {}
        if len(e.args) > len(pnames):
            raise _Error(e.span, f"`{name}` takes {len(pnames)} argument(s), "
                                 f"{len(e.args)} given")
        for p, a in zip(pnames, e.args):
            given[p] = a
        for k in e.keywords:
            if k.name not in pnames:
                raise _Error(k.span, f"`{name}` has no parameter `{k.name}`")
            if k.name in given:
                raise _Error(k.span, f"parameter `{k.name}` is given twice")
            given[k.name] = k.value
        missing = [p for p in pnames if p not in given]
        if missing:
            raise _Error(e.span, f"`{name}(...)` is missing " +
                         ", ".join(f"`{m}`" for m in missing))
        args = {p: self.coerce(self.value(given[p], ty), ty, given[p].span)
                for p, ty in sig.params}
        sub = _Function(self.c, self.g, f, (*self.stack, name))
        result = sub.run(args, sig)
        if result is None:
            # The helper's errors are reported; go on with a stand-in value so the caller's
            # independent errors are reported too (no IR is produced when there are errors).
            return self.zero(sig.returns, e.span)
        return result

    def zero(self, ty: Ty, span: Span) -> Value:
        if isinstance(ty, RecordTy):
            return RecordVal(ty, {f: self.zero(fty, span) for f, fty in ty.fields})
        if isinstance(ty, ArrayTy):
            return ArrayVal(ty, tuple(self.zero(ty.elem, span) for _ in range(ty.length)))
        return self.coerce(self.const(0, span), ty, span)

    def builtin(self, name: str, e: ast.Call) -> Value:
        span = e.span
        if name == "range":
            raise _Error(span, "`range(...)` can only be used in a `for` loop")
        if name == "len":
            self.positional(e, 1, "`len(a)`")
            v = self.thing(e.args[0])
            if isinstance(v, ArrayVal):
                return self.const(v.ty.length, span)
            if isinstance(v, TableVal):
                return self.const(len(v.values), span)
            raise _Error(span, f"`len` needs an array or a table, not {_describe_value(v)}")
        if name in ("min", "max"):
            if e.keywords or len(e.args) < 2:
                raise _Error(span, f"write `{name}(a, b, ...)` with at least two integers")
            result = self.scalar(e.args[0])
            for a in e.args[1:]:
                x = self.scalar(a)
                # min: take x when x < result; max: take x when x > result (first wins ties).
                better = self.op("lt" if name == "min" else "gt", [x, result], span)
                result = self.mux(better, result, x, span)
            return result
        if name == "abs":
            self.positional(e, 1, "`abs(x)`")
            x = self.scalar(e.args[0])
            if x.ty.min >= 0:
                return x
            return self.mux(self.op("lt", [x, self.const(0, span)], span), x,
                            self.op("neg", [x], span), span)
        if name in ("uint", "sint"):
            raise _Error(span, f"`{name}(N)` is a type; cast with `{name}(N)(x)`")
        if name not in INTRINSICS:
            raise _Error(span, f"`{name}` is used at module level only, as in "
                               "`app = App(\"name\")` or `T = Table(u8, [...])`")
        return self.intrinsic(name, e)

    def intrinsic(self, name: str, e: ast.Call) -> Value:
        span = e.span
        if name == "bits":
            self.positional(e, 3, "`bits(x, lo, width)` with constant `lo` and `width`")
            x = self.scalar(e.args[0])
            lo = self.scalar(e.args[1])
            width = self.scalar(e.args[2])
            if lo.const is None or width.const is None:
                raise _Error(span, "`bits(x, lo, width)` needs constant `lo` and `width`")
            if lo.const < 0 or not 1 <= width.const <= MAX_WIDTH:
                raise _Error(span, f"`bits` needs `lo >= 0` and `width` between 1 and {MAX_WIDTH}")
            return self.coerce(self.op("shr", [x, lo], span), IntTy(width.const), span)
        if name == "concat":
            if e.keywords or not e.args:
                raise _Error(span, "write `concat(hi, ..., lo)` with one or more integers")
            parts = [self.scalar(a) for a in e.args]
            widths = tuple(p.ty.width for p in parts)
            if sum(widths) > MAX_WIDTH:
                raise _Error(span, f"`concat` gives {sum(widths)} bits, more than {MAX_WIDTH}")
            result = self.op("concat", parts, span, widths=widths)
            return Scalar(result.node, IntTy(sum(widths)), result.const)
        if name in ("rotl", "rotr"):
            self.positional(e, 2, f"`{name}(x, n)`")
            x, n = self.scalar(e.args[0]), self.scalar(e.args[1])
            w = x.ty.width
            if n.ty.min < 0:
                # The amount is taken modulo the width, as Python's `%` does for negatives.
                n = self.op("mod", [n, self.const(w, span)], span)
            result = self.op(name, [x, n], span, width=w)
            return Scalar(result.node, IntTy(w), result.const)
        self.positional(e, 1, f"`{name}(x)`")
        x = self.scalar(e.args[0])
        w = x.ty.width
        op = "reverse" if name == "reverse_bits" else name
        result = self.op(op, [x], span, width=w)
        if op == "reverse":
            return Scalar(result.node, IntTy(w), result.const)
        return result


def _assigned_targets(s: ast.For):
    """Yield every assignment target inside a loop, its own loop variable included."""
    yield s.target
    stack = list(s.body)
    while stack:
        st = stack.pop()
        if isinstance(st, ast.Assign):
            yield from st.targets
        elif isinstance(st, ast.AnnAssign | ast.AugAssign):
            yield st.target
        elif isinstance(st, ast.If):
            stack += st.body + st.orelse
        elif isinstance(st, ast.For):
            yield st.target
            stack += st.body


def lower_module(module: ast.Module, file: str) -> Program:
    """Check and elaborate a parsed module; raise :class:`FpgacError` with every error."""
    return _Compiler(module, file).run()
