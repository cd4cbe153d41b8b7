"""The reference semantics of a handler module: the oracle of the differential tests.

SPEC §3 defines a handler's meaning in one sentence: the handler evaluated on
Python integers, with a wrap wherever a value is stored into a declared type.
This module implements exactly that sentence, and nothing of the compiler: it
parses the handler with Python's own :mod:`ast`, inserts the wraps with an
:class:`ast.NodeTransformer`, and runs the result as ordinary Python with
small reference implementations of the ``fpgac`` names bound in its namespace.
Every other layer — the IR interpreter before and after the passes, the
runtime's scalar and batch models, the HDL simulations — must agree with it
bit for bit.

What the transform changes, and why:

- A local declared once (``x: u8 = e``) wraps on every later store to ``x``,
  ``x += e`` included; a helper wraps a copy of each argument to its
  parameter's type on entry; ``return e`` wraps to the return type. Undeclared
  locals keep the exact value (a copy, for records and arrays).
- ``a // b`` and ``a % b`` give ``0`` and ``a`` when ``b == 0``.
- ``and``/``or``/``not`` and comparisons give ``0`` or ``1``; ``True`` and
  ``False`` are ``1`` and ``0``. Every operand of ``and``/``or`` is evaluated;
  without side effects that is invisible.
- ``for x in arr`` reads ``arr[0]``, ``arr[1]``, … as copies.
- The width-dependent intrinsics (``popcount``, ``clz``, ``ctz``, ``rotl``,
  ``rotr``, ``reverse_bits``, ``concat``) receive their operand's static type:
  a cast's type; the declared type of a parameter, an annotated local or an
  annotated module constant; or, for a compile-time constant (literals,
  unannotated module constants, ``range`` loop variables, ``len(a)`` and
  arithmetic on these), the narrowest type that holds its value. Any other
  operand has its *exact* type, which only the compiler's range analysis
  knows; the reference refuses it with :class:`ReferenceLimitation`.

Records and arrays are values: every store makes a copy wrapped to the
destination's type, so no two variables ever share one. Arrays read 0 (or an
all-zero record) outside their index range — negative indexes included — and
ignore writes outside it; tables read 0 outside.

Requests and responses use the JSON shapes of SPEC §6: a request is a dict
keyed by parameter name, records are dicts of fields, arrays are lists; a
response is an int, a dict or a list.
"""

from __future__ import annotations

import ast
import copy
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

__all__ = ["ReferenceLimitation", "ReferenceModule", "load_reference"]


class ReferenceLimitation(Exception):
    """The reference cannot evaluate this handler without the compiler's range analysis."""


# --- types ---------------------------------------------------------------------------------


class IntType:
    """``uN`` / ``iN``: calling it wraps a value, as a cast does."""

    __slots__ = ("width", "signed")

    def __init__(self, width: int, signed: bool):
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise TypeError(f"an integer type needs a width of at least 1, not {width!r}")
        self.width = width
        self.signed = signed

    @property
    def min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    def __call__(self, value: Any) -> int:
        value = _as_int(value) & ((1 << self.width) - 1)
        if self.signed and value >> (self.width - 1):
            value -= 1 << self.width
        return value

    def __repr__(self) -> str:
        return f"{'i' if self.signed else 'u'}{self.width}"


class BoolType:
    """``bool``: calling it gives ``1`` if the value is non-zero, else ``0``."""

    width = 1
    signed = False
    min = 0
    max = 1

    def __call__(self, value: Any) -> int:
        return 1 if _as_int(value) != 0 else 0

    def __repr__(self) -> str:
        return "bool"


BOOL = BoolType()


def uint(width: int) -> IntType:
    """Return the unsigned type of ``width`` bits."""
    return IntType(width, False)


def sint(width: int) -> IntType:
    """Return the signed type of ``width`` bits."""
    return IntType(width, True)


class ArrayType:
    """``Array[T, N]``."""

    __slots__ = ("elem", "length")

    def __init__(self, elem: Any, length: int):
        if not isinstance(length, int) or length < 1:
            raise TypeError(f"an array needs a constant length of at least 1, not {length!r}")
        self.elem = elem
        self.length = length

    def __repr__(self) -> str:
        return f"Array[{self.elem!r}, {self.length}]"


class Array:
    """Write ``Array[T, N]`` for an array type."""

    def __class_getitem__(cls, item: tuple) -> ArrayType:
        elem, length = item
        return ArrayType(elem, length)


class Record:
    """Base of record classes: value objects whose field stores wrap to the field type."""

    __fields__: tuple[tuple[str, Any], ...] = ()

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        cls.__fields__ = tuple(cls.__dict__.get("__annotations__", {}).items())

    def __init__(self, **values: Any):
        names = [name for name, _ in self.__fields__]
        if sorted(values) != sorted(names):
            raise TypeError(f"{type(self).__name__}(...) needs exactly the fields {names}, "
                            f"got {sorted(values)}")
        for name, ty in self.__fields__:
            object.__setattr__(self, name, store(ty, values[name]))

    def __setattr__(self, name: str, value: Any) -> None:
        for fname, ty in self.__fields__:
            if fname == name:
                object.__setattr__(self, name, store(ty, value))
                return
        raise AttributeError(f"record {type(self).__name__} has no field `{name}`")

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n, _ in self.__fields__)
        return f"{type(self).__name__}({inner})"


class ArrayValue:
    """An array value: element stores wrap; out-of-range reads give 0, writes do nothing."""

    __slots__ = ("type", "items")

    def __init__(self, type: ArrayType, items: list):
        self.type = type
        self.items = items

    def __getitem__(self, index: Any) -> Any:
        index = _as_int(index)
        if 0 <= index < len(self.items):
            return self.items[index]
        return zero(self.type.elem)

    def __setitem__(self, index: Any, value: Any) -> None:
        index = _as_int(index)
        if 0 <= index < len(self.items):
            self.items[index] = store(self.type.elem, value)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        raise TypeError("iterate arrays through the transform (`for x in a`)")

    def __repr__(self) -> str:
        return f"{self.type!r}({self.items!r})"


class Table:
    """A constant table: ``T[i]`` reads entry ``i``, or 0 outside the table."""

    def __init__(self, type: Any, values: list):
        self.type = type
        self.values = [_as_int(v) for v in values]
        for v in self.values:
            if not type.min <= v <= type.max:
                raise ValueError(f"table entry {v} does not fit {type!r}")

    def __getitem__(self, index: Any) -> int:
        index = _as_int(index)
        return self.values[index] if 0 <= index < len(self.values) else 0

    def __len__(self) -> int:
        return len(self.values)


class App:
    """Collect the routes of a handler module: ``@app.post(PATH)`` and ``@app.route(PATH)``."""

    def __init__(self, name: str):
        self.name = name
        self.routes: dict[str, Callable] = {}

    def post(self, path: str):
        def decorate(func: Callable) -> Callable:
            if path in self.routes:
                raise ValueError(f"route {path!r} is registered twice")
            self.routes[path] = func
            return func

        return decorate

    route = post


# --- values --------------------------------------------------------------------------------


def _as_int(value: Any) -> int:
    if isinstance(value, int):  # bool included: True is 1
        return int(value)
    raise TypeError(f"expected an integer, got {value!r}")


def _is_int_type(ty: Any) -> bool:
    return isinstance(ty, (IntType, BoolType))


def store(ty: Any, value: Any) -> Any:
    """Return ``value`` wrapped to ``ty`` as a fresh value: the meaning of every store."""
    if _is_int_type(ty):
        return ty(value)
    if isinstance(ty, type) and issubclass(ty, Record):
        if type(value) is not ty:
            raise TypeError(f"expected a {ty.__name__}, got {value!r}")
        return ty(**{name: getattr(value, name) for name, _ in ty.__fields__})
    if isinstance(ty, ArrayType):
        items = value.items if isinstance(value, ArrayValue) else value
        if not isinstance(items, list) or len(items) != ty.length:
            raise TypeError(f"expected {ty!r}, got {value!r}")
        return ArrayValue(ty, [store(ty.elem, v) for v in items])
    raise TypeError(f"not a type: {ty!r}")


def copy_value(value: Any) -> Any:
    """Return a copy of ``value`` that shares nothing with it (a store into an undeclared local)."""
    if isinstance(value, Record):
        return store(type(value), value)
    if isinstance(value, ArrayValue):
        return store(value.type, value)
    if isinstance(value, list):
        return [copy_value(v) for v in value]
    if isinstance(value, int):
        return int(value)
    return value  # module-level objects: the app, tables, types


def zero(ty: Any) -> Any:
    """Return the all-zero value of ``ty`` (what an out-of-range read gives)."""
    if _is_int_type(ty):
        return 0
    if isinstance(ty, type) and issubclass(ty, Record):
        return ty(**{name: zero(fty) for name, fty in ty.__fields__})
    if isinstance(ty, ArrayType):
        return ArrayValue(ty, [zero(ty.elem) for _ in range(ty.length)])
    raise TypeError(f"not a type: {ty!r}")


def _floordiv(a: Any, b: Any) -> int:
    return a // b if b != 0 else 0


def _mod(a: Any, b: Any) -> int:
    return a % b if b != 0 else _as_int(a)


def _pow(a: Any, k: Any) -> int:
    if not isinstance(k, int) or k < 0:
        raise ValueError(f"`x ** k` needs a constant `k >= 0`, not {k!r}")
    return a**k


def _constant(ty: Any, value: Any) -> Any:
    """Check an annotated module constant: it must fit its type (a compile error otherwise)."""
    if _is_int_type(ty) and not ty.min <= _as_int(value) <= ty.max:
        raise ValueError(f"module constant {value} does not fit {ty!r}")
    return store(ty, value)


def _and(*values: Any) -> int:
    return int(all(v != 0 for v in values))


def _or(*values: Any) -> int:
    return int(any(v != 0 for v in values))


def _not(value: Any) -> int:
    return int(value == 0)


def _iterate(values: Any) -> Iterator[Any]:
    """Yield the elements of an array (read one at a time, as copies), a table or a range."""
    if isinstance(values, ArrayValue):
        for i in range(len(values)):
            yield copy_value(values[i])
    elif isinstance(values, (Table, range)):
        for i in range(len(values)):
            yield values[i]
    else:
        raise TypeError(f"`for` iterates over a range, an array or a table, not {values!r}")


# --- intrinsics ----------------------------------------------------------------------------


def _static_width(ty: Any, intrinsic: str) -> int:
    if _is_int_type(ty):
        return ty.width
    if callable(ty) and not isinstance(ty, type):
        raise ReferenceLimitation(
            f"the operand of `{intrinsic}()` is a call of `{getattr(ty, '__name__', ty)}`, not a "
            f"cast; its static type is its exact type, which only the compiler knows")
    raise TypeError(f"`{intrinsic}()` needs an integer operand, not a value of type {ty!r}")


def _low(value: Any, width: int) -> int:
    return _as_int(value) & ((1 << width) - 1)


def bits(x: Any, lo: int, width: int) -> int:
    """Return ``x >> lo`` wrapped to ``uint(width)``."""
    return _low(_as_int(x) >> lo, width)


def _popcount(ty: Any, x: Any) -> int:
    return bin(_low(x, _static_width(ty, "popcount"))).count("1")


def _clz(ty: Any, x: Any) -> int:
    width = _static_width(ty, "clz")
    return width - _low(x, width).bit_length()


def _ctz(ty: Any, x: Any) -> int:
    width = _static_width(ty, "ctz")
    v = _low(x, width)
    return (v & -v).bit_length() - 1 if v else width


def _rotl(ty: Any, x: Any, n: Any) -> int:
    width = _static_width(ty, "rotl")
    v, n = _low(x, width), _as_int(n) % width
    return ((v << n) | (v >> (width - n))) & ((1 << width) - 1)


def _rotr(ty: Any, x: Any, n: Any) -> int:
    width = _static_width(ty, "rotr")
    v, n = _low(x, width), _as_int(n) % width
    return ((v >> n) | (v << (width - n))) & ((1 << width) - 1)


def _reverse_bits(ty: Any, x: Any) -> int:
    width = _static_width(ty, "reverse_bits")
    v = _low(x, width)
    return sum(((v >> i) & 1) << (width - 1 - i) for i in range(width))


def _concat(*typed: Any) -> int:
    """``concat(hi, ..., lo)`` given as ``(T0, v0, T1, v1, ...)``, most significant first."""
    result = 0
    for ty, value in zip(typed[0::2], typed[1::2]):
        width = _static_width(ty, "concat")
        result = (result << width) | _low(value, width)
    return result


def _unavailable(name: str) -> Callable:
    def fn(*args: Any, **kwargs: Any) -> Any:
        raise ReferenceLimitation(f"`{name}()` reached the reference untransformed")

    fn.__name__ = name
    return fn


def _exact_type(value: Any) -> IntType:
    """Return the narrowest type that holds a constant's value: its exact type."""
    value = _as_int(value)
    if value >= 0:
        return IntType(max(1, value.bit_length()), False)
    return IntType((-value - 1).bit_length() + 1, True)


#: Calls that fold to a constant when their arguments are constants.
_CONSTANT_FOLDABLE = frozenset({
    "min", "max", "abs", "_fpgac_floordiv", "_fpgac_mod", "_fpgac_pow", "_fpgac_and", "_fpgac_or",
    "_fpgac_not", "_fpgac_int",
})
#: One-argument calls that are not casts.
_NOT_CASTS = _CONSTANT_FOLDABLE | {"len"}

#: Intrinsics whose result depends on the static width of the given operands.
_WIDTH_INTRINSICS = {
    "popcount": (1, "_popcount"), "clz": (1, "_clz"), "ctz": (1, "_ctz"),
    "reverse_bits": (1, "_reverse_bits"), "rotl": (1, "_rotl"), "rotr": (1, "_rotr"),
    "concat": (None, "_concat"),
}


def _fpgac_names() -> dict[str, Any]:
    """Return the reference meaning of every name a handler may import from ``fpgac``."""
    names: dict[str, Any] = {
        "App": App, "Array": Array, "Record": Record, "Table": Table, "uint": uint, "sint": sint,
        "bits": bits,
    }
    for width in range(1, 65):
        names[f"u{width}"] = uint(width)
        names[f"i{width}"] = sint(width)
    for name in _WIDTH_INTRINSICS:
        names[name] = _unavailable(name)
    return names


_FPGAC = _fpgac_names()

_RUNTIME = {
    "_fpgac_store": store, "_fpgac_copy": copy_value, "_fpgac_zero": zero,
    "_fpgac_floordiv": _floordiv, "_fpgac_mod": _mod, "_fpgac_pow": _pow,
    "_fpgac_constant": _constant, "_fpgac_exact_type": _exact_type, "_fpgac_and": _and, "_fpgac_or": _or,
    "_fpgac_not": _not, "_fpgac_iterate": _iterate, "_fpgac_popcount": _popcount,
    "_fpgac_clz": _clz, "_fpgac_ctz": _ctz, "_fpgac_rotl": _rotl, "_fpgac_rotr": _rotr,
    "_fpgac_reverse_bits": _reverse_bits, "_fpgac_concat": _concat,
    "_fpgac_int": int, "_fpgac_module": SimpleNamespace(**_FPGAC),
}


# --- the transform -------------------------------------------------------------------------


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


def _load(node: ast.expr) -> ast.expr:
    """Return a copy of a store target usable as an expression."""
    node = copy.deepcopy(node)
    for sub in ast.walk(node):
        if hasattr(sub, "ctx"):
            sub.ctx = ast.Load()
    node.ctx = ast.Load()
    return node


def _stored_names(body: list[ast.stmt]) -> set[str]:
    """Return every name a function body stores into (its locals, in Python's sense)."""
    names = set()
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return names


def _range_loop_names(body: list[ast.stmt]) -> set[str]:
    """Return the names stored only as ``for NAME in range(...)`` targets: constants per iteration."""
    loop_targets: set[str] = set()
    other_stores: set[str] = set()
    for stmt in body:
        for node in ast.walk(stmt):
            if (isinstance(node, ast.For) and isinstance(node.target, ast.Name)
                    and isinstance(node.iter, ast.Call) and isinstance(node.iter.func, ast.Name)
                    and node.iter.func.id == "range"):
                loop_targets.add(node.target.id)
            elif isinstance(node, ast.For):
                other_stores |= _stored_names([ast.Expr(node.target)])
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                other_stores |= _stored_names([ast.Expr(t) for t in targets])
    return loop_targets - other_stores


class _Scope:
    """The declared types known at one point of a function: ``name -> annotation AST``."""

    def __init__(self, declared: dict[str, ast.expr], locals_: set[str], returns: ast.expr | None,
                 loop_names: set[str]):
        self.declared = declared
        self.locals = locals_
        self.returns = returns
        #: ``range`` loop variables: compile-time constants in each unrolled iteration.
        self.loop_names = loop_names


class _Transform(ast.NodeTransformer):
    """Insert the wraps and copies of SPEC §3 into a handler module's Python AST."""

    def __init__(self, file: str):
        self.file = file
        self.module_declared: dict[str, ast.expr] = {}
        #: Names assigned at module level (constants, unless annotated or not integers).
        self.module_constants: set[str] = set()
        self.scope: _Scope | None = None
        #: Local name -> fpgac name, from ``from fpgac import x as y``.
        self.imported: dict[str, str] = {}
        #: Local names bound to the ``fpgac`` module itself (``import fpgac``).
        self.module_aliases: set[str] = set()

    def _limit(self, node: ast.AST, message: str) -> ReferenceLimitation:
        return ReferenceLimitation(
            f"{self.file}:{getattr(node, 'lineno', 0)}:{getattr(node, 'col_offset', -1) + 1}: "
            f"{message}")

    # -- imports ----------------------------------------------------------------------------

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        if node.module == "__future__":
            return None  # annotations must be evaluated eagerly here
        if node.module != "fpgac" or node.level:
            raise self._limit(node, f"a handler imports only from `fpgac`, not {node.module!r}")
        stmts = []
        for alias in node.names:
            if alias.name not in _FPGAC:
                raise self._limit(node, f"`fpgac` has no name `{alias.name}`")
            local = alias.asname or alias.name
            self.imported[local] = alias.name
            stmts.append(ast.Assign(
                targets=[ast.Name(id=local, ctx=ast.Store())],
                value=ast.Attribute(value=ast.Name(id="_fpgac_module", ctx=ast.Load()),
                                    attr=alias.name, ctx=ast.Load())))
        return stmts or None

    def visit_Import(self, node: ast.Import) -> Any:
        stmts = []
        for alias in node.names:
            if alias.name != "fpgac":
                raise self._limit(node, f"a handler imports only from `fpgac`, not {alias.name!r}")
            local = alias.asname or alias.name
            self.module_aliases.add(local)
            stmts.append(ast.Assign(targets=[ast.Name(id=local, ctx=ast.Store())],
                                    value=ast.Name(id="_fpgac_module", ctx=ast.Load())))
        return stmts

    def _fpgac_name(self, func: ast.expr) -> str | None:
        """Return which ``fpgac`` name ``func`` refers to, if it is one."""
        if isinstance(func, ast.Name) and func.id in self.imported:
            if self.scope is None or func.id not in self.scope.locals:
                return self.imported[func.id]
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id in self.module_aliases):
            return func.attr
        return None

    # -- definitions ------------------------------------------------------------------------

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        # A record's body is field annotations: they must stay declarations, not stores.
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        if self.scope is not None:
            raise self._limit(node, "functions inside functions are not part of the language")
        args = node.args
        if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs or args.defaults:
            raise self._limit(node, "parameters must be plain, annotated and without defaults")
        declared: dict[str, ast.expr] = {}
        for arg in args.args:
            if arg.annotation is None:
                raise self._limit(arg, f"parameter `{arg.arg}` needs a type annotation")
            declared[arg.arg] = arg.annotation
        if node.returns is None:
            raise self._limit(node, f"`{node.name}` needs a return annotation")
        params = {arg.arg for arg in args.args}
        self.scope = _Scope(declared, _stored_names(node.body) | params, node.returns,
                            _range_loop_names(node.body) - params)
        try:
            body = self._visit_body(node.body)
        finally:
            self.scope = None
        # A function gets its own copy of each argument, wrapped to the parameter's type.
        entry = [
            ast.Assign(targets=[ast.Name(id=arg.arg, ctx=ast.Store())],
                       value=_call("_fpgac_store", copy.deepcopy(arg.annotation),
                                   ast.Name(id=arg.arg, ctx=ast.Load())))
            for arg in args.args
        ]
        node.body = entry + body
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        return node

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> Any:
        raise self._limit(node, "`async` is not part of the language")

    def _visit_body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            result = self.visit(stmt)
            if result is None:
                continue
            out.extend(result if isinstance(result, list) else [result])
        return out or [ast.Pass()]

    # -- stores -----------------------------------------------------------------------------

    def _declared(self) -> dict[str, ast.expr]:
        return self.scope.declared if self.scope is not None else self.module_declared

    def _store_name(self, name: str, value: ast.expr) -> ast.expr:
        """Return the expression stored into ``name``: wrapped if declared, else a copy."""
        ann = self._declared().get(name)
        if ann is not None:
            return _call("_fpgac_store", copy.deepcopy(ann), value)
        return _call("_fpgac_copy", value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> Any:
        if not isinstance(node.target, ast.Name):
            raise self._limit(node, "only a plain name can be declared with a type")
        value = (self.visit(node.value) if node.value is not None
                 else _call("_fpgac_zero", copy.deepcopy(node.annotation)))
        self._declared()[node.target.id] = node.annotation
        check = "_fpgac_store" if self.scope is not None else "_fpgac_constant"
        assign = ast.Assign(targets=[node.target],
                            value=_call(check, copy.deepcopy(node.annotation), value))
        return ast.copy_location(assign, node)

    def _assign_to(self, target: ast.expr, value: ast.expr) -> ast.stmt:
        if isinstance(target, ast.Name):
            return ast.Assign(targets=[target], value=self._store_name(target.id, value))
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            # The record or array wraps (and copies) the value it is given.
            return ast.Assign(targets=[self.visit(target)], value=value)
        raise self._limit(target, "tuple assignment is not part of the language")

    def visit_Assign(self, node: ast.Assign) -> Any:
        if self.scope is None:
            self.module_constants |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        value = self.visit(node.value)
        if len(node.targets) == 1:
            return ast.copy_location(self._assign_to(node.targets[0], value), node)
        # `a = b = e`: compute `e` once, then store it into each target.
        tmp = ast.Name(id="_fpgac_tmp", ctx=ast.Store())
        stmts: list[ast.stmt] = [ast.Assign(targets=[tmp], value=value)]
        for target in node.targets:
            stmts.append(self._assign_to(target, ast.Name(id="_fpgac_tmp", ctx=ast.Load())))
        return [ast.copy_location(s, node) for s in stmts]

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        # `x op= y` means `x = x op y`; without side effects, evaluating the target twice is safe.
        combined = self.visit(ast.BinOp(left=_load(node.target), op=node.op,
                                        right=node.value))
        return ast.copy_location(self._assign_to(node.target, combined), node)

    def visit_Return(self, node: ast.Return) -> Any:
        if self.scope is None:
            raise self._limit(node, "`return` outside a function")
        value = self.visit(node.value) if node.value is not None else ast.Constant(value=None)
        node.value = _call("_fpgac_store", copy.deepcopy(self.scope.returns), value)
        return node

    def visit_For(self, node: ast.For) -> Any:
        if node.orelse:
            raise self._limit(node, "`for ... else` is not part of the language")
        if not isinstance(node.target, ast.Name):
            raise self._limit(node, "a `for` loop binds a single name")
        node.iter = _call("_fpgac_iterate", self.visit(node.iter))
        body = self._visit_body(node.body)
        name = node.target.id
        if name in self._declared():
            # A declared loop variable wraps like any other store into it.
            item = ast.Name(id="_fpgac_item", ctx=ast.Store())
            body.insert(0, ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())],
                                      value=self._store_name(name, ast.Name(
                                          id="_fpgac_item", ctx=ast.Load()))))
            node.target = item
        node.body = body
        return node

    def visit_If(self, node: ast.If) -> Any:
        node.test = self.visit(node.test)
        node.body = self._visit_body(node.body)
        node.orelse = self._visit_body(node.orelse) if node.orelse else []
        return node

    def visit_While(self, node: ast.While) -> Any:
        raise self._limit(node, "`while` is not part of the language")

    # -- expressions ------------------------------------------------------------------------

    def visit_Constant(self, node: ast.Constant) -> Any:
        if node.value is True or node.value is False:
            return ast.copy_location(ast.Constant(value=int(node.value)), node)
        if isinstance(node.value, (float, complex)):
            raise self._limit(node, "floats are not part of the language")
        return node

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        self.generic_visit(node)
        if isinstance(node.op, ast.FloorDiv):
            return ast.copy_location(_call("_fpgac_floordiv", node.left, node.right), node)
        if isinstance(node.op, ast.Mod):
            return ast.copy_location(_call("_fpgac_mod", node.left, node.right), node)
        if isinstance(node.op, ast.Pow):
            return ast.copy_location(_call("_fpgac_pow", node.left, node.right), node)
        if isinstance(node.op, (ast.Div, ast.MatMult)):
            raise self._limit(node, "`/` and `@` are not part of the language")
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        self.generic_visit(node)
        name = "_fpgac_and" if isinstance(node.op, ast.And) else "_fpgac_or"
        return ast.copy_location(_call(name, *node.values), node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            return ast.copy_location(_call("_fpgac_not", node.operand), node)
        return node

    def visit_Compare(self, node: ast.Compare) -> Any:
        for op in node.ops:
            if isinstance(op, (ast.Is, ast.IsNot, ast.In, ast.NotIn)):
                raise self._limit(node, "`is` and `in` are not part of the language")
        self.generic_visit(node)
        return ast.copy_location(_call("_fpgac_int", node), node)

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        raise self._limit(node, "`lambda` is not part of the language")

    def visit_Call(self, node: ast.Call) -> Any:
        intrinsic = self._fpgac_name(node.func)
        self.generic_visit(node)
        if intrinsic not in _WIDTH_INTRINSICS:
            return node
        if node.keywords:
            raise self._limit(node, f"`{intrinsic}()` takes positional arguments")
        typed_count, impl = _WIDTH_INTRINSICS[intrinsic]
        typed_count = len(node.args) if typed_count is None else typed_count
        if len(node.args) < typed_count:
            raise self._limit(node, f"`{intrinsic}()` needs an operand")
        args: list[ast.expr] = []
        for operand in node.args[:typed_count]:
            args += [self._static_type(operand, intrinsic), operand]
        args += node.args[typed_count:]
        return ast.copy_location(_call("_fpgac" + impl, *args), node)

    def _module_name(self, name: str) -> bool:
        """Return whether ``name`` here refers to a module-level name."""
        return self.scope is None or name not in self.scope.locals

    def _is_constant(self, node: ast.expr) -> bool:
        """Return whether a (transformed) expression is known at compile time (SPEC §4)."""
        if isinstance(node, ast.Constant):
            return isinstance(node.value, int)
        if isinstance(node, ast.Name):
            if self.scope is not None and node.id in self.scope.loop_names:
                return True
            return (self._module_name(node.id) and node.id in self.module_constants
                    and node.id not in self.module_declared)
        if isinstance(node, ast.UnaryOp):
            return self._is_constant(node.operand)
        if isinstance(node, ast.BinOp):
            return self._is_constant(node.left) and self._is_constant(node.right)
        if isinstance(node, ast.IfExp):
            return all(self._is_constant(n) for n in (node.test, node.body, node.orelse))
        if isinstance(node, ast.Compare):
            return all(self._is_constant(n) for n in [node.left, *node.comparators])
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            if node.func.id == "len" and self._module_name("len"):
                return True  # an array's length
            if node.func.id in _CONSTANT_FOLDABLE and (
                    node.func.id.startswith("_fpgac") or self._module_name(node.func.id)):
                return all(self._is_constant(a) for a in node.args)
        return False

    def _static_type(self, operand: ast.expr, intrinsic: str) -> ast.expr:
        """Return an expression for the static type of an intrinsic's operand."""
        if self._is_constant(operand):
            # A constant's exact type is the narrowest that holds its value.
            return _call("_fpgac_exact_type", copy.deepcopy(operand))
        if isinstance(operand, ast.Name):
            ann = self._declared().get(operand.id)
            if ann is None and self.scope is not None and operand.id not in self.scope.locals:
                ann = self.module_declared.get(operand.id)
            if ann is not None:
                return copy.deepcopy(ann)
        if (isinstance(operand, ast.Call) and len(operand.args) == 1 and not operand.keywords
                and not (isinstance(operand.func, ast.Name)
                         and operand.func.id in _NOT_CASTS)):
            return copy.deepcopy(operand.func)  # a cast `T(x)`: its type T (checked when run)
        raise self._limit(
            operand, f"the operand of `{intrinsic}()` has its exact type, which only the "
            f"compiler's range analysis knows; the reference needs a cast, a declared name "
            f"or a constant")


# --- loading -------------------------------------------------------------------------------


def _from_json(ty: Any, value: Any, path: str) -> Any:
    """Convert a request value (JSON shape) into a reference value, refusing what does not fit."""
    if _is_int_type(ty):
        if not isinstance(value, int):
            raise ValueError(f"`{path}` must be an integer, not {value!r}")
        value = int(value)
        if not ty.min <= value <= ty.max:
            raise ValueError(f"`{path}` = {value} does not fit {ty!r}")
        return value
    if isinstance(ty, type) and issubclass(ty, Record):
        names = [name for name, _ in ty.__fields__]
        if not isinstance(value, Mapping) or sorted(value) != sorted(names):
            raise ValueError(f"`{path}` must be an object with the fields {names}")
        return ty(**{n: _from_json(fty, value[n], f"{path}.{n}") for n, fty in ty.__fields__})
    if isinstance(ty, ArrayType):
        if not isinstance(value, (list, tuple)) or len(value) != ty.length:
            raise ValueError(f"`{path}` must be a list of {ty.length} elements")
        return ArrayValue(ty, [_from_json(ty.elem, v, f"{path}[{i}]")
                               for i, v in enumerate(value)])
    raise TypeError(f"not a type: {ty!r}")


def _to_json(value: Any) -> Any:
    """Convert a reference value into its JSON shape."""
    if isinstance(value, Record):
        return {name: _to_json(getattr(value, name)) for name, _ in value.__fields__}
    if isinstance(value, ArrayValue):
        return [_to_json(v) for v in value.items]
    return _as_int(value)


@dataclass
class ReferenceModule:
    """A handler module under the reference semantics."""

    #: The app's name.
    app: str
    #: URL path -> the route's function, which takes and returns reference values.
    routes: dict[str, Callable]
    #: The module's namespace after it ran (records, tables, helpers, constants).
    namespace: dict[str, Any]

    def route(self, path_or_name: str) -> Callable:
        """Return a route's function by its URL path or its function name."""
        if path_or_name in self.routes:
            return self.routes[path_or_name]
        for func in self.routes.values():
            if func.__name__ == path_or_name:
                return func
        raise KeyError(path_or_name)

    def call(self, path_or_name: str, request: Mapping[str, Any]) -> Any:
        """Run one request (a dict keyed by parameter name) and return the response, as JSON."""
        func = self.route(path_or_name)
        params = list(inspect.signature(func).parameters)
        types = func.__annotations__
        if sorted(request) != sorted(params):
            raise ValueError(f"the request needs exactly the keys {params}, got {sorted(request)}")
        args = {name: _from_json(types[name], request[name], name) for name in params}
        result = func(**args)
        return _to_json(result)


def load_reference(source: str, file: str = "<string>") -> ReferenceModule:
    """Run a handler module's source under the reference semantics.

    Raises :class:`ReferenceLimitation` for a construct whose meaning needs the
    compiler's range analysis (an intrinsic on an operand that is neither a cast
    nor a declared name) or that is not part of the language.
    """
    tree = ast.parse(source, filename=file)
    tree = _Transform(file).visit(tree)
    ast.fix_missing_locations(tree)
    namespace: dict[str, Any] = {"__name__": "fpgac_reference", "bool": BOOL, **_RUNTIME}
    exec(compile(tree, file, "exec", dont_inherit=True), namespace)
    apps = [v for v in namespace.values() if isinstance(v, App)]
    if len(apps) != 1:
        raise ValueError(f"a handler module holds exactly one `App`, found {len(apps)}")
    return ReferenceModule(apps[0].name, dict(apps[0].routes), namespace)
