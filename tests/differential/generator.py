"""Random well-typed handler modules, and random requests for them, as hypothesis strategies.

:func:`handler_programs` draws the source of a valid handler module: records
(nested, with array fields), tables, module constants, helpers, one or two
routes, and function bodies that mix every construct of SPEC §2–4. Each
program obeys the language's rules, so the compiler must accept it:

- every expression's exact range stays within :data:`CAP_BITS` bits (the
  generator tracks ranges the way the compiler's range analysis does, but
  more loosely), so no value nears the 1024-bit limit;
- shift amounts are constants, or casts to and names of small unsigned types;
- a constant index (literals, module constants, loop variables and arithmetic
  on them) is always inside its array, or sits under ``if j < len(a):`` in an
  unrolled loop; a variable index is built from a parameter that the function
  never writes, so constant folding cannot turn it into a constant;
- a ``for x in a`` body may write ``a``'s elements but never rebinds ``a``;
- an undeclared local is reassigned only at the loop depth where it was
  defined, so no value grows from one unrolled iteration to the next;
- intrinsics whose result depends on a width take a cast, a declared name or a
  constant;
- every path returns; nothing follows a ``return``, ``break`` or ``continue``
  in its block.

:func:`requests_for` draws requests (dicts in the JSON shape) for one route,
and :func:`handler_cases` draws a program together with requests for each of
its routes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "CAP_BITS", "IntT", "BoolT", "RecT", "ArrT", "GeneratedProgram", "GeneratedRoute",
    "handler_programs", "requests_for", "requests_for_ir", "handler_cases",
]

#: No expression's exact range needs more bits than this.
CAP_BITS = 160
#: Return inside loops (SPEC §4: "with return anywhere").
RETURN_IN_LOOPS = True
#: Size limits: statements per helper and per route (nested ones count), expression depth.
HELPER_STATEMENTS = 5
ROUTE_STATEMENTS = 9
MAX_EXPR_DEPTH = 3


# --- types ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntT:
    """``uN`` or ``iN``."""

    width: int
    signed: bool

    @property
    def lo(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def src(self) -> str:
        if self.width <= 64:
            return f"{'i' if self.signed else 'u'}{self.width}"
        return f"{'sint' if self.signed else 'uint'}({self.width})"


@dataclass(frozen=True)
class BoolT:
    """``bool``."""

    width = 1
    signed = False
    lo = 0
    hi = 1
    src = "bool"


@dataclass(frozen=True)
class RecT:
    """A record class."""

    name: str
    fields: tuple[tuple[str, Any], ...]

    @property
    def src(self) -> str:
        return self.name


@dataclass(frozen=True)
class ArrT:
    """``Array[T, N]``."""

    elem: Any
    length: int

    @property
    def src(self) -> str:
        return f"Array[{self.elem.src}, {self.length}]"


def _is_scalar(ty: Any) -> bool:
    return isinstance(ty, (IntT, BoolT))


def bits_of(lo: int, hi: int) -> int:
    """Return the width of the narrowest type that holds ``[lo, hi]``."""
    if lo >= 0:
        return max(1, hi.bit_length())
    return max((-lo - 1).bit_length(), hi.bit_length()) + 1


# --- expressions and variables -------------------------------------------------------------


@dataclass
class E:
    """A generated integer expression: its source and its exact range."""

    src: str
    lo: int
    hi: int

    @property
    def bits(self) -> int:
        return bits_of(self.lo, self.hi)


def _hull(*es: E) -> tuple[int, int]:
    return min(e.lo for e in es), max(e.hi for e in es)


def _corners(fn, a: E, b: E) -> tuple[int, int]:
    vals = [fn(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
    return min(vals), max(vals)


def _bitwise_range(a: E, b: E) -> tuple[int, int]:
    width = max(a.bits, b.bits) + 1
    if a.lo >= 0 and b.lo >= 0:
        return 0, (1 << width) - 1
    return -(1 << width), (1 << width) - 1


@dataclass
class Var:
    """A name in scope: its type, and what the generator may do with it."""

    name: str
    ty: Any
    lo: int = 0
    hi: int = 0
    #: Its static type is its declared type (a parameter or an annotated local).
    declared: bool = False
    #: Stores into it wrap to its type (so its range is its type's).
    wraps: bool = False
    #: May be assigned, or its fields and elements written.
    writable: bool = False
    #: The loop depth where an undeclared local was defined (its only reassignment depth).
    loop_depth: int = 0
    #: Holds data no constant folding can see through: usable in a variable index.
    index_safe: bool = False
    #: The values of a loop variable (a compile-time constant in each unrolled iteration).
    values: tuple[int, ...] | None = None
    #: Paths inside it that a `for` loop walks: they may not be assigned as a whole.
    walked: tuple[str, ...] = ()


@dataclass
class Helper:
    name: str
    params: list[tuple[str, Any]]
    returns: Any
    #: Parameters the helper uses in variable indexes: every call passes data to them.
    data_params: frozenset[str] = frozenset()


@dataclass
class Ctx:
    """What a function body is being generated for."""

    returns: Any
    helpers: list[Helper]
    loop_depth: int = 0
    stmts_left: int = 12
    #: A declared accumulator that statements mix values into, so that they reach the result.
    acc: Var | None = None


@dataclass
class GeneratedRoute:
    """One route of a generated program."""

    path: str
    name: str
    params: list[tuple[str, Any]]
    returns: Any


@dataclass
class GeneratedProgram:
    """A generated handler module."""

    source: str
    routes: list[GeneratedRoute] = field(default_factory=list)

    def __str__(self) -> str:
        return self.source


_ARITH_AUG = ["+", "-", "*", "//", "%", "&", "|", "^"]


class _Gen:
    """Draw one program; every choice goes through hypothesis so that failures shrink."""

    def __init__(self, draw):
        self._draw = draw
        self.counter = 0
        self.records: list[RecT] = []
        self.tables: list[tuple[str, IntT, list[int]]] = []
        self.consts: list[tuple[str, int]] = []
        #: The declared types of annotated module constants.
        self.const_types: dict[str, IntT] = {}
        self.helpers: list[Helper] = []

    # -- drawing ---------------------------------------------------------------------------

    def int_(self, lo: int, hi: int) -> int:
        return self._draw(st.integers(lo, hi))

    def chance(self, percent: int) -> bool:
        """Return True with the given probability; shrinks to False."""
        return self.int_(0, 99) >= 100 - percent

    def pick(self, options: list) -> Any:
        return options[self.int_(0, len(options) - 1)]

    def weighted(self, options: list[tuple[int, Any]]) -> Any:
        total = sum(w for w, _ in options)
        roll = self.int_(0, total - 1)
        for w, value in options:
            if roll < w:
                return value
            roll -= w
        raise AssertionError

    def depth(self) -> int:
        """Return the nesting depth of a statement's expression."""
        return self.int_(1, MAX_EXPR_DEPTH)

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # -- types -----------------------------------------------------------------------------

    def int_type(self, max_width: int = 70) -> IntT:
        width = self.weighted([(6, (1, 16)), (3, (17, 64)), (2, (65, 70))])
        width = self.int_(width[0], min(width[1], max_width)) if width[0] <= max_width else 8
        return IntT(width, self.chance(50))

    def scalar_type(self) -> Any:
        return BoolT() if self.chance(12) else self.int_type()

    def array_type(self, allow_records: bool = True) -> ArrT:
        kind = self.weighted([(8, "scalar"), (2 if allow_records and self.records else 0, "record"),
                              (1 if allow_records else 0, "array")])
        if kind == "record":
            elem = self.pick(self.records)
        elif kind == "array":
            elem = ArrT(self.scalar_type(), self.int_(1, 3))
        else:
            elem = self.scalar_type()
        return ArrT(elem, self.int_(1, 5))

    def value_type(self) -> Any:
        kind = self.weighted([(10, "scalar"), (3, "record"), (3, "array")])
        if kind == "record" and self.records:
            return self.pick(self.records)
        if kind == "array":
            return self.array_type()
        return self.scalar_type()

    # -- module level ----------------------------------------------------------------------

    def gen_records(self) -> list[str]:
        lines: list[str] = []
        for _ in range(self.int_(0, 2)):
            name = self.fresh("Rec")
            fields = []
            for _ in range(self.int_(1, 3)):
                kind = self.weighted([(8, "scalar"), (2, "record"), (2, "array")])
                if kind == "record" and self.records:
                    fty = self.pick(self.records)
                elif kind == "array":
                    fty = self.array_type(allow_records=False)
                else:
                    fty = self.scalar_type()
                fields.append((self.fresh("f"), fty))
            rec = RecT(name, tuple(fields))
            self.records.append(rec)
            lines.append(f"class {name}(Record):")
            lines += [f"    {fname}: {fty.src}" for fname, fty in fields]
            lines.append("")
        return lines

    def gen_consts(self) -> list[str]:
        lines = []
        for _ in range(self.int_(0, 3)):
            name = self.fresh("C")
            if self.consts and self.chance(30):
                other, value = self.pick(self.consts)
                k = self.int_(-3, 5)
                lines.append(f"{name} = {other} * 2 + {k}" if k >= 0
                             else f"{name} = {other} * 2 - {-k}")
                self.consts.append((name, value * 2 + k))
                continue
            value = self.int_(-20, 40) if self.chance(80) else self.int_(-(1 << 40), 1 << 70)
            if self.chance(40):
                signed = value < 0 or self.chance(30)
                width = (value.bit_length() + 1 if signed and value >= 0
                         else bits_of(value, value))
                ty = IntT(width + self.int_(0, 3), signed)
                self.const_types[name] = ty
                lines.append(f"{name}: {ty.src} = {value}")
            else:
                lines.append(f"{name} = {value}")
            self.consts.append((name, value))
        return lines

    def gen_tables(self) -> list[str]:
        lines = []
        for _ in range(self.int_(0, 2)):
            name = self.fresh("TAB")
            ty = self.int_type(max_width=40)
            values = [self.int_(ty.lo, ty.hi) for _ in range(self.int_(1, 8))]
            self.tables.append((name, ty, values))
            lines.append(f"{name} = Table({ty.src}, {values})")
        return lines

    # -- leaves ----------------------------------------------------------------------------

    def scalar_places(self, env: dict[str, Var]) -> list[tuple[str, Any, Var]]:
        """Return every readable scalar: names, record fields (nested), as (source, type, root)."""
        out = []

        def walk(src: str, ty: Any, root: Var):
            if _is_scalar(ty):
                out.append((src, ty, root))
            elif isinstance(ty, RecT):
                for fname, fty in ty.fields:
                    walk(f"{src}.{fname}", fty, root)

        for var in env.values():
            if var.ty is None:
                continue
            walk(var.name, var.ty, var)
        return out

    def array_places(self, env: dict[str, Var], elem_scalar: bool = True
                     ) -> list[tuple[str, ArrT, Var]]:
        """Return every readable array (names and record fields) as (source, type, root)."""
        out = []

        def walk(src: str, ty: Any, root: Var):
            if isinstance(ty, ArrT):
                if not elem_scalar or _is_scalar(ty.elem):
                    out.append((src, ty, root))
            elif isinstance(ty, RecT):
                for fname, fty in ty.fields:
                    walk(f"{src}.{fname}", fty, root)

        for var in env.values():
            walk(var.name, var.ty, var)
        return out

    def literal(self) -> E:
        kind = self.weighted([(6, "small"), (2, "medium"), (1, "big")])
        if kind == "small":
            v = self.int_(-4, 16)
        elif kind == "medium":
            v = self.int_(-300, 70000)
        else:
            v = self.int_(-(1 << 72), 1 << 72)
        return E(f"({v})" if v < 0 else str(v), v, v)

    def var_expr(self, src: str, ty: Any, var: Var) -> E:
        if src == var.name and not var.wraps:
            return E(src, var.lo, var.hi)
        return E(src, ty.lo, ty.hi)

    def leaf(self, env: dict[str, Var]) -> E:
        options: list[tuple[int, str]] = [(3, "literal")]
        places = self.scalar_places(env)
        compound = [v for v in env.values() if isinstance(v.ty, (RecT, ArrT))]
        if places:
            options.append((10, "name"))
        if compound:
            options.append((4, "compound"))
        if self.tables:
            options.append((2, "table"))
        if self.consts:
            options.append((1, "const"))
        kind = self.weighted(options)
        if kind == "name":
            return self.var_expr(*self.pick(places))
        if kind == "compound":
            var = self.pick(compound)
            return self.descend(env, var.name, var.ty)
        if kind == "table":
            name, ty, values = self.pick(self.tables)
            index = self.index(env, len(values))
            return E(f"{name}[{index}]", min(0, *values), max(0, *values))
        if kind == "const":
            name, value = self.pick(self.consts)
            if name in self.const_types:
                # An annotated constant has its declared type (a shift or rotate amount of a
                # signed type is refused even when the value is positive).
                return E(name, min(value, self.const_types[name].lo),
                         max(value, self.const_types[name].hi))
            return E(name, value, value)
        return self.literal()

    def descend(self, env: dict[str, Var], src: str, ty: Any) -> E:
        """Read a scalar inside a record or array value, through fields and elements."""
        zero = False  # an element read outside its array gives 0 (or an all-zero record)
        while not _is_scalar(ty):
            if isinstance(ty, RecT):
                fname, ty = self.pick(list(ty.fields))
                src = f"{src}.{fname}"
                continue
            if self.chance(10):
                return E(f"len({src})", ty.length, ty.length)
            src = f"{src}[{self.index(env, ty.length, src)}]"
            ty, zero = ty.elem, True
        return E(src, min(ty.lo, 0) if zero else ty.lo, max(ty.hi, 0) if zero else ty.hi)

    # -- indexes ---------------------------------------------------------------------------

    def index(self, env: dict[str, Var], length: int, src: str | None = None) -> str:
        """Return an index expression for an array of ``length``: constant in range, or data."""
        options: list[tuple[int, str]] = [(2, "literal")]
        loop_vars = [v for v in env.values() if v.values is not None]
        fitting = [v for v in loop_vars if all(0 <= x < length for x in v.values)]
        safe = self.data_places(env)
        consts = [(n, v) for n, v in self.consts if 0 <= v < length]
        if fitting:
            options.append((4, "loop"))
        if loop_vars:
            options.append((2, "loop_offset"))
        if safe:
            options.append((6, "data"))
        if consts:
            options.append((1, "const"))
        kind = self.weighted(options)
        if kind == "loop":
            return self.pick(fitting).name
        if kind == "loop_offset":
            var = self.pick(loop_vars)
            lo, hi = min(var.values), max(var.values)
            # `j + c` stays inside [0, length) for every value j takes, or falls back.
            shifts = [c for c in range(-hi, length - lo) if 0 <= lo + c and hi + c < length]
            if shifts:
                c = self.pick(shifts)
                return f"{var.name} + {c}" if c >= 0 else f"{var.name} - {-c}"
            return str(self.int_(0, length - 1))
        if kind == "data":
            src = self.pick(safe)
            form = self.int_(0, 4)
            if form == 1:
                return f"{src} % {length + self.int_(0, 2)}" if length > 1 else src
            if form == 2:
                return f"{src} - {self.int_(1, 3)}"
            if form == 3:
                return f"u{self.int_(1, 4)}({src})"
            return src
        if kind == "const":
            return self.pick(consts)[0]
        if src is not None and self.chance(20):
            return f"len({src}) - 1"
        return str(self.int_(0, length - 1))

    # -- expressions -----------------------------------------------------------------------

    def expr(self, env: dict[str, Var], ctx: Ctx, depth: int) -> E:
        """Return an integer expression whose exact range fits :data:`CAP_BITS`."""
        for _ in range(3):
            e = self._expr(env, ctx, depth)
            if e.bits <= CAP_BITS:
                return e
        return self.leaf(env)

    def _expr(self, env: dict[str, Var], ctx: Ctx, depth: int) -> E:
        if depth <= 0 or self.chance(25):
            return self.leaf(env)
        int_helpers = self.callable(env, ctx)
        options = [
            (6, "arith"), (3, "divmod"), (3, "bitwise"), (2, "unary"), (3, "shift"),
            (3, "compare"), (1, "chain"), (2, "boolop"), (1, "not"), (2, "ifexp"),
            (2, "minmax"), (1, "abs"), (3, "cast"), (3, "intrinsic"), (1, "pow"),
        ]
        if int_helpers:
            options.append((2, "helper"))
        kind = self.weighted(options)
        sub = lambda: self.expr(env, ctx, depth - 1)  # noqa: E731
        if kind == "arith":
            a, b = sub(), sub()
            op = self.pick(["+", "-", "*"])
            if op == "+":
                return E(f"({a.src} + {b.src})", a.lo + b.lo, a.hi + b.hi)
            if op == "-":
                return E(f"({a.src} - {b.src})", a.lo - b.hi, a.hi - b.lo)
            return E(f"({a.src} * {b.src})", *_corners(lambda x, y: x * y, a, b))
        if kind == "divmod":
            a, b = sub(), self.divisor(env, ctx, depth - 1)
            m = max(abs(a.lo), abs(a.hi))
            if self.chance(50):
                return E(f"({a.src} // {b.src})", -m, m)
            d = max(abs(b.lo), abs(b.hi))
            return E(f"({a.src} % {b.src})", min(a.lo, -d), max(a.hi, d))
        if kind == "bitwise":
            a, b = sub(), sub()
            return E(f"({a.src} {self.pick(['&', '|', '^'])} {b.src})", *_bitwise_range(a, b))
        if kind == "unary":
            a = sub()
            if self.chance(50):
                return E(f"(-{a.src})", -a.hi, -a.lo)
            return E(f"(~{a.src})", -a.hi - 1, -a.lo - 1)
        if kind == "shift":
            a = sub()
            left = self.chance(50)
            amount, top = self.shift_amount(env, left)
            if left:
                return E(f"({a.src} << {amount})", min(a.lo, a.lo << top),
                         max(a.hi, a.hi << top))
            return E(f"({a.src} >> {amount})", min(a.lo, 0), max(a.hi, 0))
        if kind == "compare":
            a, b = sub(), sub()
            return E(f"({a.src} {self.pick(['<', '<=', '>', '>=', '==', '!='])} {b.src})", 0, 1)
        if kind == "chain":
            a, b, c = sub(), sub(), sub()
            op1, op2 = self.pick(["<", "<=", "=="]), self.pick(["<", "<=", "!=", ">"])
            return E(f"({a.src} {op1} {b.src} {op2} {c.src})", 0, 1)
        if kind == "boolop":
            es = [sub() for _ in range(self.int_(2, 3))]
            op = self.pick([" and ", " or "])
            return E("(" + op.join(e.src for e in es) + ")", 0, 1)
        if kind == "not":
            return E(f"(not {sub().src})", 0, 1)
        if kind == "ifexp":
            c, a, b = sub(), sub(), sub()
            return E(f"({a.src} if {c.src} else {b.src})", *_hull(a, b))
        if kind == "minmax":
            es = [sub() for _ in range(self.int_(2, 3))]
            fn = self.pick(["min", "max"])
            return E(f"{fn}({', '.join(e.src for e in es)})", *_hull(*es))
        if kind == "abs":
            a = sub()
            m = max(abs(a.lo), abs(a.hi))
            return E(f"abs({a.src})", 0 if a.lo <= 0 <= a.hi else min(abs(a.lo), abs(a.hi)), m)
        if kind == "cast":
            ty = self.scalar_type()
            return E(f"{ty.src}({sub().src})", ty.lo, ty.hi)
        if kind == "intrinsic":
            return self.intrinsic(env, ctx, depth)
        if kind == "pow":
            a, k = sub(), self.int_(0, 3)
            vals = [a.lo ** k, a.hi ** k] + ([0] if a.lo < 0 < a.hi else [])
            return E(f"({a.src} ** {k})", min(vals), max(vals))
        helper = self.pick(int_helpers)
        call = self.call(env, ctx, helper, depth - 1)
        if _is_scalar(helper.returns):
            return E(call, helper.returns.lo, helper.returns.hi)
        return self.descend(env, call, helper.returns)  # `h(x).f`, `h(x)[i]`

    def divisor(self, env: dict[str, Var], ctx: Ctx, depth: int) -> E:
        """Return a divisor that is often zero or negative (x // 0 and x % 0 are defined)."""
        if self.chance(60):
            return self.expr(env, ctx, depth)
        a = self.leaf(env)
        form = self.int_(0, 4)
        if form == 0:
            v = self.int_(-2, 2)
            return E(f"({v})" if v < 0 else str(v), v, v)
        if form == 1:
            return E(f"({a.src} & 1)", 0, 1)
        if form == 2:
            return E(f"i2({a.src})", -2, 1)
        if form == 3:
            return E(f"({a.src} % 3)", -2, 2)
        return E(f"bool({a.src})", 0, 1)

    def shift_amount(self, env: dict[str, Var], left: bool) -> tuple[str, int]:
        """Return a shift amount that is never negative, and its largest value."""
        limit = 3 if left else 7
        names = [v for v in env.values()
                 if v.declared and isinstance(v.ty, (IntT, BoolT)) and not v.ty.signed
                 and v.ty.width <= limit]
        loop_vars = [v for v in env.values()
                     if v.values is not None and min(v.values) >= 0 and max(v.values) <= 8]
        options = [(3, "literal"), (3, "cast")]
        if names:
            options.append((2, "name"))
        if loop_vars:
            options.append((1, "loop"))
        kind = self.weighted(options)
        if kind == "literal":
            k = self.int_(0, 8 if left else 72)
            return str(k), k
        if kind == "name":
            var = self.pick(names)
            return var.name, var.ty.hi
        if kind == "loop":
            var = self.pick(loop_vars)
            return var.name, max(var.values)
        width = self.int_(1, limit)
        inner = self.leaf(env)
        return f"u{width}({inner.src})", (1 << width) - 1

    def typed_operand(self, env: dict[str, Var], ctx: Ctx, depth: int) -> tuple[str, int]:
        """Return an intrinsic operand with a static width: a cast, a declared name or a constant.

        A constant's static type is the narrowest that holds its value, in each unrolled
        iteration for a loop variable; the generator bounds the result with the widest.
        """
        names = [v for v in env.values() if v.declared and _is_scalar(v.ty)]
        if names and self.chance(35):
            var = self.pick(names)
            return var.name, var.ty.width
        if self.chance(25):
            loop_vars = [v for v in env.values() if v.values is not None]
            kind = self.weighted([(2, "literal"), (3 if loop_vars else 0, "loop"),
                                  (2 if self.consts else 0, "const")])
            if kind == "loop":
                var = self.pick(loop_vars)
                c = self.int_(-3, 3)
                src = var.name if c == 0 else f"({var.name} + {c})" if c > 0 else (
                    f"({var.name} - {-c})")
                values = [v + c for v in var.values]
                if self.chance(30):
                    src, values = f"(~{src})", [~v for v in values]
                return src, max(bits_of(v, v) for v in values)
            if kind == "const":
                name, value = self.pick(self.consts)
                if name in self.const_types:
                    return name, self.const_types[name].width
                return name, bits_of(value, value)
            value = self.int_(-40, 300)
            return (f"({value})" if value < 0 else str(value)), bits_of(value, value)
        ty = self.scalar_type()
        return f"{ty.src}({self.expr(env, ctx, depth - 1).src})", ty.width

    def intrinsic(self, env: dict[str, Var], ctx: Ctx, depth: int) -> E:
        name = self.pick(["popcount", "clz", "ctz", "reverse_bits", "rotl", "rotr", "concat",
                          "bits"])
        if name == "bits":
            a = self.expr(env, ctx, depth - 1)
            lo, width = self.int_(0, 20), self.int_(1, 16)
            return E(f"bits({a.src}, {lo}, {width})", 0, (1 << width) - 1)
        if name == "concat":
            operands = [self.typed_operand(env, ctx, depth) for _ in range(self.int_(1, 3))]
            total = sum(w for _, w in operands)
            return E(f"concat({', '.join(s for s, _ in operands)})", 0, (1 << total) - 1)
        src, width = self.typed_operand(env, ctx, depth)
        if name in ("rotl", "rotr"):
            n = self.expr(env, ctx, depth - 1)
            if n.lo < 0 or self.chance(50):
                n = E(f"u{self.int_(1, 7)}({n.src})", 0, 127)
            return E(f"{name}({src}, {n.src})", 0, (1 << width) - 1)
        if name == "reverse_bits":
            return E(f"reverse_bits({src})", 0, (1 << width) - 1)
        return E(f"{name}({src})", 0, width)

    def value_of(self, env: dict[str, Var], ctx: Ctx, ty: Any, depth: int) -> str:
        """Return an expression of type ``ty`` (for stores into records and arrays)."""
        if _is_scalar(ty):
            return self.expr(env, ctx, depth).src
        same = self.sources_of(env, ty)
        if same and self.chance(50):
            src = self.pick(same)
            if self.chance(15):
                # A conditional between two values of the type.
                return f"({src} if {self.condition(env, ctx)} else {self.pick(same)})"
            return src
        if isinstance(ty, RecT):
            record_helpers = [h for h in self.callable(env, ctx) if h.returns == ty]
            if record_helpers and self.chance(30):
                return self.call(env, ctx, self.pick(record_helpers), depth - 1)
            args = ", ".join(f"{fname}={self.value_of(env, ctx, fty, depth - 1)}"
                             for fname, fty in ty.fields)
            return f"{ty.name}({args})"
        elems = ", ".join(self.value_of(env, ctx, ty.elem, depth - 1) for _ in range(ty.length))
        return f"[{elems}]"

    def sources_of(self, env: dict[str, Var], ty: Any) -> list[str]:
        """Return reads of type ``ty``: variables, fields, and array elements (any index)."""
        out = []
        for var in env.values():
            if var.ty == ty:
                out.append(var.name)
            elif isinstance(var.ty, ArrT) and var.ty.elem == ty:
                out.append(f"{var.name}[{self.index(env, var.ty.length, var.name)}]")
            elif isinstance(var.ty, RecT):
                out += [f"{var.name}.{fname}" for fname, fty in var.ty.fields if fty == ty]
        return out

    def data_places(self, env: dict[str, Var]) -> list[str]:
        return [src for src, ty, root in self.scalar_places(env)
                if root.index_safe and isinstance(ty, IntT)]

    def callable(self, env: dict[str, Var], ctx: Ctx) -> list[Helper]:
        """Return the helpers a call here can pass data to (see :attr:`Helper.data_params`)."""
        has_data = bool(self.data_places(env))
        return [h for h in ctx.helpers if has_data or not h.data_params]

    def call(self, env: dict[str, Var], ctx: Ctx, helper: Helper, depth: int) -> str:
        # A helper is inlined: a constant argument would make its variable indexes constant.
        args = [self.pick(self.data_places(env)) if name in helper.data_params
                else self.value_of(env, ctx, pty, max(depth, 0)) for name, pty in helper.params]
        if self.chance(20):
            return f"{helper.name}({', '.join(f'{n}={a}' for (n, _), a in zip(helper.params, args))})"
        return f"{helper.name}({', '.join(args)})"

    def condition(self, env: dict[str, Var], ctx: Ctx) -> str:
        if self.chance(70):
            a, b = self.expr(env, ctx, 1), self.expr(env, ctx, 1)
            return f"{a.src} {self.pick(['<', '<=', '>', '>=', '==', '!='])} {b.src}"
        return self.expr(env, ctx, 2).src

    # -- statements ------------------------------------------------------------------------

    def block(self, env: dict[str, Var], ctx: Ctx, indent: int, count: int, nest: int,
              in_loop: bool, scoped: bool = True) -> tuple[list[str], bool]:
        """Return a block's lines and whether it always leaves (return, break, continue).

        Names defined in a nested block stay in it (``scoped``); a function's body defines
        them in ``env`` itself.
        """
        if scoped:
            env = dict(env)
        lines: list[str] = []
        for _ in range(count):
            if ctx.stmts_left <= 0:
                break
            ctx.stmts_left -= 1
            stmt, leaves = self.statement(env, ctx, indent, nest, in_loop)
            lines += stmt
            if leaves:
                return lines, True
        return lines, False

    def statement(self, env: dict[str, Var], ctx: Ctx, indent: int, nest: int,
                  in_loop: bool) -> tuple[list[str], bool]:
        pad = "    " * indent
        ints = [v for v in env.values() if v.writable and _is_scalar(v.ty)
                and (v.wraps or v.loop_depth == ctx.loop_depth)]
        compound = [v for v in env.values() if v.writable and isinstance(v.ty, (RecT, ArrT))]
        options = [(5, "declare"), (3, "let"), (1, "pass")]
        if ints:
            options.append((5, "assign"))
        if compound:
            options.append((6, "store"))
        if ctx.acc is not None:
            options.append((5, "mix"))
        if self.callable(env, ctx):
            options.append((2, "call"))
        options.append((2, "record_local") if self.records else (0, "x"))
        options.append((2, "array_local"))
        if nest < 3:
            options += [(4, "if"), (3, "for_range"), (2, "for_each")]
        if RETURN_IN_LOOPS or not in_loop:
            options.append((2, "early_return"))
        if in_loop:
            options.append((3, "jump"))
        kind = self.weighted([o for o in options if o[0]])
        return getattr(self, f"stmt_{kind}")(env, ctx, pad, indent, nest, in_loop)

    def stmt_pass(self, env, ctx, pad, indent, nest, in_loop):
        return [f"{pad}pass"], False

    def stmt_mix(self, env, ctx, pad, indent, nest, in_loop):
        acc = ctx.acc.name
        locals_ = [src for src, _, root in self.scalar_places(env)
                   if root.name.startswith(("v", "e", "j")) and root.name != acc]
        value = self.pick(locals_) if locals_ and self.chance(70) else self.expr(env, ctx, 2).src
        form = self.int_(0, 2)
        if form == 0:
            return [f"{pad}{acc} = {acc} * 31 + {value}"], False
        if form == 1:
            return [f"{pad}{acc} ^= {value}"], False
        return [f"{pad}{acc} += {value}"], False

    def stmt_call(self, env, ctx, pad, indent, nest, in_loop):
        helper = self.pick(self.callable(env, ctx))
        call = self.call(env, ctx, helper, self.depth())
        name = self.fresh("v")
        ty = helper.returns
        env[name] = Var(name, ty, lo=ty.lo if _is_scalar(ty) else 0,
                        hi=ty.hi if _is_scalar(ty) else 0, writable=True,
                        loop_depth=ctx.loop_depth)
        return [f"{pad}{name} = {call}"], False

    def stmt_declare(self, env, ctx, pad, indent, nest, in_loop):
        ty = self.scalar_type()
        name = self.fresh("v")
        e = self.expr(env, ctx, self.depth())
        env[name] = Var(name, ty, declared=True, wraps=True, writable=True)
        return [f"{pad}{name}: {ty.src} = {e.src}"], False

    def stmt_let(self, env, ctx, pad, indent, nest, in_loop):
        name = self.fresh("v")
        e = self.expr(env, ctx, self.depth())
        env[name] = Var(name, IntT(max(e.bits, 1), e.lo < 0), lo=e.lo, hi=e.hi, writable=True,
                        loop_depth=ctx.loop_depth)
        return [f"{pad}{name} = {e.src}"], False

    def stmt_assign(self, env, ctx, pad, indent, nest, in_loop):
        ints = [v for v in env.values() if v.writable and _is_scalar(v.ty)
                and (v.wraps or v.loop_depth == ctx.loop_depth)]
        var = self.pick(ints)
        current = self.var_expr(var.name, var.ty, var)
        if self.chance(40):
            op = self.pick(_ARITH_AUG + ["<<", ">>"])
            if op in ("<<", ">>"):
                amount, top = self.shift_amount(env, op == "<<")
                line = f"{pad}{var.name} {op}= {amount}"
                if op == "<<":
                    result = E("", min(current.lo, current.lo << top),
                               max(current.hi, current.hi << top))
                else:
                    result = E("", min(current.lo, 0), max(current.hi, 0))
            else:
                e = (self.divisor(env, ctx, 2) if op in ("//", "%") else self.expr(env, ctx, 2))
                line = f"{pad}{var.name} {op}= {e.src}"
                result = self._combine(op, current, e)
        else:
            e = self.expr(env, ctx, self.depth())
            line = f"{pad}{var.name} = {e.src}"
            result = e
        if not var.wraps:
            if result.bits > CAP_BITS:
                return [f"{pad}pass"], False
            var.lo, var.hi = min(var.lo, result.lo), max(var.hi, result.hi)
            var.ty = IntT(bits_of(var.lo, var.hi), var.lo < 0)
        elif result.bits > CAP_BITS:
            return [f"{pad}pass"], False
        var.index_safe = False
        return [line], False

    @staticmethod
    def _combine(op: str, a: E, b: E) -> E:
        if op == "+":
            return E("", a.lo + b.lo, a.hi + b.hi)
        if op == "-":
            return E("", a.lo - b.hi, a.hi - b.lo)
        if op == "*":
            return E("", *_corners(lambda x, y: x * y, a, b))
        if op == "//":
            m = max(abs(a.lo), abs(a.hi))
            return E("", -m, m)
        if op == "%":
            d = max(abs(b.lo), abs(b.hi))
            return E("", min(a.lo, -d), max(a.hi, d))
        return E("", *_bitwise_range(a, b))

    def sub_place(self, env: dict[str, Var], root: Var) -> tuple[str, Any]:
        """Pick a place inside a writable record or array: a field, an element, deeper.

        A place that holds an array a `for` loop walks is not assigned as a whole.
        """
        def walked(src: str) -> bool:
            return any(w == src or w.startswith((src + ".", src + "[")) for w in root.walked)

        src, ty = root.name, root.ty
        while not _is_scalar(ty) and (walked(src) or src == root.name or self.chance(60)):
            if isinstance(ty, RecT):
                fname, ty = self.pick(list(ty.fields))
                src = f"{src}.{fname}"
            else:
                src = f"{src}[{self.index(env, ty.length, src)}]"
                ty = ty.elem
        return src, ty

    def stmt_store(self, env, ctx, pad, indent, nest, in_loop):
        root = self.pick([v for v in env.values()
                          if v.writable and isinstance(v.ty, (RecT, ArrT))])
        root.index_safe = False
        if self.chance(15) and not root.walked and (root.wraps or self.sources_of(env, root.ty)):
            # The whole value; a declared local wraps, an undeclared one keeps its type (and
            # takes no array literal, which needs a declared type).
            value = (self.value_of(env, ctx, root.ty, self.depth()) if root.wraps
                     or isinstance(root.ty, RecT) else self.pick(self.sources_of(env, root.ty)))
            return [f"{pad}{root.name} = {value}"], False
        src, ty = self.sub_place(env, root)
        if self.chance(30) and _is_scalar(ty):
            op = self.pick(_ARITH_AUG)
            e = (self.divisor(env, ctx, 2) if op in ("//", "%") else self.expr(env, ctx, 2))
            return [f"{pad}{src} {op}= {e.src}"], False
        return [f"{pad}{src} = {self.value_of(env, ctx, ty, self.depth())}"], False

    def stmt_record_local(self, env, ctx, pad, indent, nest, in_loop):
        ty = self.pick(self.records)
        name = self.fresh("v")
        value = self.value_of(env, ctx, ty, 2)
        declared = self.chance(50)
        env[name] = Var(name, ty, declared=declared, wraps=declared, writable=True,
                        loop_depth=ctx.loop_depth)
        return [f"{pad}{name}: {ty.src} = {value}" if declared else f"{pad}{name} = {value}"], False

    def stmt_array_local(self, env, ctx, pad, indent, nest, in_loop):
        existing = [v for v in env.values() if isinstance(v.ty, ArrT)]
        name = self.fresh("v")
        if existing and self.chance(40):
            src = self.pick(existing)
            env[name] = Var(name, src.ty, writable=True, loop_depth=ctx.loop_depth)
            return [f"{pad}{name} = {src.name}"], False
        ty = self.array_type()
        value = self.value_of(env, ctx, ty, 2)
        env[name] = Var(name, ty, declared=True, wraps=True, writable=True)
        return [f"{pad}{name}: {ty.src} = {value}"], False

    def stmt_if(self, env, ctx, pad, indent, nest, in_loop):
        lines = [f"{pad}if {self.condition(env, ctx)}:"]
        body, all_leave = self.block(env, ctx, indent + 1, self.int_(1, 3), nest + 1, in_loop)
        lines += body or [f"{pad}    pass"]
        for _ in range(self.int_(0, 2) if self.chance(50) else 0):
            lines.append(f"{pad}elif {self.condition(env, ctx)}:")
            body, leaves = self.block(env, ctx, indent + 1, self.int_(1, 2), nest + 1, in_loop)
            lines += body or [f"{pad}    pass"]
            all_leave = all_leave and leaves
        if self.chance(50):
            lines.append(f"{pad}else:")
            body, leaves = self.block(env, ctx, indent + 1, self.int_(1, 3), nest + 1, in_loop)
            lines += body or [f"{pad}    pass"]
            return lines, all_leave and leaves
        return lines, False

    def _loop_body(self, env, ctx, pad, indent, nest, header: list[str]):
        ctx.loop_depth += 1
        try:
            body, _ = self.block(env, ctx, indent + 1, self.int_(1, 4), nest + 1, True)
        finally:
            ctx.loop_depth -= 1
        return header + (body or [f"{pad}    pass"]), False

    def stmt_for_range(self, env, ctx, pad, indent, nest, in_loop):
        form = self.int_(0, 3)
        small = [(n, v) for n, v in self.consts if 0 <= v <= 6]
        if form == 0:
            stop = self.int_(1, 6) - (1 if self.chance(10) else 0)
            values, bounds = range(stop), str(stop)
            if small and self.chance(30):
                name, stop = self.pick(small)
                values, bounds = range(stop), name
            arrays = self.array_places(env, elem_scalar=False)
            if arrays and self.chance(30):
                src, ty, _ = self.pick(arrays)
                values, bounds = range(ty.length), f"len({src})"
        elif form == 1:
            start = self.int_(-2, 4)
            stop = start + self.int_(1, 6) - (1 if self.chance(10) else 0)
            values, bounds = range(start, stop), f"{start}, {stop}"
        else:
            step = self.pick([1, 2, 3, -1, -2])
            start = self.int_(-2, 6)
            stop = start + step * self.int_(1, 5) - (1 if step > 0 else -1) * self.int_(0, 1)
            values, bounds = range(start, stop, step), f"{start}, {stop}, {step}"
        name = self.fresh("j")
        inner = dict(env)
        inner[name] = Var(name, IntT(8, True), lo=min(values, default=0),
                          hi=max(values, default=0), values=tuple(values) or (0,))
        header = [f"{pad}for {name} in range({bounds}):"]
        arrays = self.array_places(inner)
        partial = [a for a in arrays if any(not 0 <= v < a[1].length for v in values)
                   and any(0 <= v < a[1].length for v in values)]
        if partial and self.chance(30):
            # A constant index out of range is fine under a branch that is constant-false there.
            src, ty, _ = self.pick(partial)
            guarded = dict(inner)
            guarded[name] = Var(name, IntT(8, True), values=tuple(
                v for v in values if 0 <= v < ty.length))
            guarded[name].lo, guarded[name].hi = min(guarded[name].values), max(
                guarded[name].values)
            ctx.loop_depth += 1
            try:
                lines, _ = self.block(guarded, ctx, indent + 2, self.int_(1, 3), nest + 2, True)
            finally:
                ctx.loop_depth -= 1
            guard = f"{pad}    if {name} >= 0 and {name} < len({src}):"
            if min(values) >= 0:
                guard = f"{pad}    if {name} < len({src}):"
            return header + [guard] + (lines or [f"{pad}        pass"]), False
        return self._loop_body(inner, ctx, pad, indent, nest, header)

    def stmt_for_each(self, env, ctx, pad, indent, nest, in_loop):
        arrays = self.array_places(env, elem_scalar=False)
        name = self.fresh("e")
        inner = dict(env)
        if arrays and self.chance(80):
            src, ty, root = self.pick(arrays)
            if _is_scalar(ty.elem):
                inner[name] = Var(name, ty.elem, lo=ty.elem.lo, hi=ty.elem.hi,
                                  index_safe=root.index_safe)
            else:
                inner[name] = Var(name, ty.elem)
            # The loop reads each element as it goes, so the body may write the array, but
            # it may not rebind the variable that holds it.
            inner[root.name] = Var(root.name, root.ty, declared=root.declared,
                                   wraps=root.wraps, writable=root.writable,
                                   loop_depth=root.loop_depth, index_safe=root.index_safe,
                                   walked=root.walked + (src,))
        elif self.tables:
            tname, tty, values = self.pick(self.tables)
            src = tname
            inner[name] = Var(name, tty, lo=min(values), hi=max(values))
        else:
            return self.stmt_for_range(env, ctx, pad, indent, nest, in_loop)
        return self._loop_body(inner, ctx, pad, indent, nest, [f"{pad}for {name} in {src}:"])

    def stmt_early_return(self, env, ctx, pad, indent, nest, in_loop):
        lines = [f"{pad}if {self.condition(env, ctx)}:",
                 f"{pad}    return {self.value_of(env, ctx, ctx.returns, self.depth())}"]
        return lines, False

    def stmt_jump(self, env, ctx, pad, indent, nest, in_loop):
        word = self.pick(["break", "continue"])
        if self.chance(20):
            return [f"{pad}{word}"], True
        return [f"{pad}if {self.condition(env, ctx)}:", f"{pad}    {word}"], False

    # -- functions -------------------------------------------------------------------------

    def function(self, name: str, decorator: str | None, ctx_helpers: list[Helper],
                 budget: int) -> tuple[list[str], Helper]:
        params = []
        env: dict[str, Var] = {}
        data_params = set()
        for _ in range(self.int_(1, 4)):
            pname = self.fresh("a")
            ty = self.value_type()
            frozen = self.chance(70)
            # A route's parameters are request data; a helper's are data only if every call
            # passes data (integers only, to keep call sites simple).
            index_safe = frozen and (decorator is not None or isinstance(ty, IntT))
            if index_safe and decorator is None:
                data_params.add(pname)
            params.append((pname, ty))
            env[pname] = Var(pname, ty, lo=ty.lo if _is_scalar(ty) else 0,
                             hi=ty.hi if _is_scalar(ty) else 0, declared=True, wraps=True,
                             writable=not frozen, index_safe=index_safe)
        # A route often returns an array of its final locals, wide enough to hold any of them,
        # so that a wrong value anywhere is likely to reach the response.
        observe = decorator is not None and self.chance(60)
        returns = ArrT(IntT(CAP_BITS + 1, True), self.int_(2, 6)) if observe else self.value_type()
        ctx = Ctx(returns, ctx_helpers, stmts_left=budget)
        lines = [decorator] if decorator else []
        sig = ", ".join(f"{n}: {t.src}" for n, t in params)
        lines.append(f"def {name}({sig}) -> {returns.src}:")
        if self.chance(10):
            lines.append('    """A generated handler."""')
        if self.chance(75):
            acc = self.fresh("v")
            ty = IntT(self.pick([32, 64, 65]), self.chance(50))
            ctx.acc = env[acc] = Var(acc, ty, declared=True, wraps=True, writable=True)
            lines.append(f"    {acc}: {ty.src} = {self.int_(0, 7)}")
        body, leaves = self.block(env, ctx, 1, self.int_(1, 6), 0, False, scoped=False)
        lines += body
        if leaves:
            pass
        elif observe:
            lines.append(f"    return {self.observation(env, ctx, returns.length)}")
        elif ctx.acc is not None and _is_scalar(returns) and self.chance(60):
            lines.append(f"    return {ctx.acc.name} ^ {self.expr(env, ctx, self.depth()).src}")
        else:
            lines.append(f"    return {self.value_of(env, ctx, returns, self.depth())}")
        lines.append("")
        return lines, Helper(name, params, returns, frozenset(data_params))

    def observation(self, env: dict[str, Var], ctx: Ctx, count: int) -> str:
        """Return a list literal of ``count`` scalars in scope, locals first."""
        places = self.scalar_places(env)
        locals_ = [src for src, _, root in places if root.name.startswith("v")]
        if ctx.acc is not None:
            locals_.remove(ctx.acc.name)
            locals_.insert(0, ctx.acc.name)  # always observed
        params = [src for src, _, root in places if not root.name.startswith("v")]
        chosen: list[str] = []
        if ctx.acc is not None:
            chosen.append(locals_.pop(0))
        for pool in (locals_, params):
            while pool and len(chosen) < count:
                chosen.append(pool.pop(self.int_(0, len(pool) - 1)))
        while len(chosen) < count:
            chosen.append(self.expr(env, ctx, self.depth()).src)
        return "[" + ", ".join(chosen) + "]"

    def program(self) -> GeneratedProgram:
        lines = ["app = App(\"fuzzapp\")", ""]
        lines += self.gen_records()
        lines += self.gen_consts()
        lines += self.gen_tables()
        lines.append("")
        for _ in range(self.int_(0, 2)):
            name = self.fresh("helper")
            body, helper = self.function(name, None, list(self.helpers), HELPER_STATEMENTS)
            self.helpers.append(helper)
            lines += body
        routes = []
        for _ in range(self.int_(1, 2)):
            name = self.fresh("route")
            path = f"/{name}"
            verb = "route" if self.chance(20) else "post"
            body, route = self.function(name, f'@app.{verb}("{path}")', list(self.helpers),
                                        ROUTE_STATEMENTS)
            routes.append(GeneratedRoute(path, name, route.params, route.returns))
            lines += body
        text = "\n".join(lines)
        imports = ["App", "Array", "Record", "Table", "bits", "clz", "concat", "ctz",
                   "popcount", "reverse_bits", "rotl", "rotr", "sint", "uint"]
        used = sorted({f"{p}{w}" for p in "ui" for w in range(1, 65)
                       if _mentions(text, f"{p}{w}")}, key=lambda s: (s[0], int(s[1:])))
        header = "from fpgac import " + ", ".join(imports + used)
        return GeneratedProgram(header + "\n\n" + text, routes)


def _mentions(text: str, word: str) -> bool:
    import re

    return re.search(rf"\b{word}\b", text) is not None


@st.composite
def handler_programs(draw) -> GeneratedProgram:
    """Draw a random valid handler module (see the module docstring for its guarantees)."""
    return _Gen(draw).program()


def _value(ty: Any) -> st.SearchStrategy:
    if _is_scalar(ty):
        edges = sorted({ty.lo, ty.hi, 0, 1, -1, ty.hi // 2, ty.lo // 2} & set(
            range(ty.lo, ty.hi + 1)) if ty.hi - ty.lo < 8 else
            {v for v in (ty.lo, ty.hi, 0, 1, -1, ty.hi // 2, ty.lo // 2) if ty.lo <= v <= ty.hi})
        return st.one_of(st.integers(ty.lo, ty.hi), st.sampled_from(edges))
    if isinstance(ty, RecT):
        return st.fixed_dictionaries({name: _value(fty) for name, fty in ty.fields})
    return st.lists(_value(ty.elem), min_size=ty.length, max_size=ty.length)


def requests_for(route: GeneratedRoute) -> st.SearchStrategy:
    """Return a strategy of requests (dicts keyed by parameter name) for ``route``."""
    return st.fixed_dictionaries({name: _value(ty) for name, ty in route.params})


def _ir_value(ty: Any) -> st.SearchStrategy:
    from fpgac.ir import ArrayTy, RecordTy, scalar_int_ty

    if isinstance(ty, RecordTy):
        return st.fixed_dictionaries({name: _ir_value(fty) for name, fty in ty.fields})
    if isinstance(ty, ArrayTy):
        return st.lists(_ir_value(ty.elem), min_size=ty.length, max_size=ty.length)
    int_ty = scalar_int_ty(ty)
    return _value(IntT(int_ty.width, int_ty.signed))


def requests_for_ir(route: Any) -> st.SearchStrategy:
    """Return a strategy of requests for a compiled route (an :class:`fpgac.ir.Route`)."""
    return st.fixed_dictionaries({name: _ir_value(ty) for name, ty in route.params})


@st.composite
def handler_cases(draw, max_requests: int = 6):
    """Draw ``(program, [(route path, request), ...])`` with requests for every route."""
    program = draw(handler_programs())
    cases = []
    for route in program.routes:
        for request in draw(st.lists(requests_for(route), min_size=2, max_size=max_requests)):
            cases.append((route.path, request))
    return program, cases
