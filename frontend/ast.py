"""The AST of a handler module: every node carries the :class:`Span` of its source.

The parser builds these nodes for the language's subset and also for the
Python constructs the language refuses (as :class:`Refused` and
:class:`RefusedStmt`), so that the checker can point at them with a message
instead of the parser failing with a syntax error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.span import Span

__all__ = [
    "Node", "Expr", "Name", "Const", "Str", "Float", "UnaryOp", "BinOp", "BoolOp", "Compare",
    "IfExp", "Keyword", "Call", "Attribute", "Subscript", "ListExpr", "TupleExpr", "Refused",
    "Stmt", "ExprStmt", "Assign", "AnnAssign", "AugAssign", "Return", "If", "For", "Break",
    "Continue", "Pass", "Param", "FunctionDef", "ClassDef", "ImportFrom", "Import",
    "RefusedStmt", "Module",
]


@dataclass(eq=False)
class Node:
    span: Span


# --- expressions ----------------------------------------------------------------------------


@dataclass(eq=False)
class Expr(Node):
    pass


@dataclass(eq=False)
class Name(Expr):
    id: str


@dataclass(eq=False)
class Const(Expr):
    """An integer literal, or ``True``/``False`` (``is_bool``)."""

    value: int
    is_bool: bool = False


@dataclass(eq=False)
class Str(Expr):
    """A string literal (only docstrings, ``App`` names and route paths are allowed)."""

    value: str


@dataclass(eq=False)
class Float(Expr):
    """A floating-point or imaginary literal (always refused)."""

    text: str


@dataclass(eq=False)
class UnaryOp(Expr):
    op: str  # "-", "+", "~", "not"
    operand: Expr


@dataclass(eq=False)
class BinOp(Expr):
    op: str  # "+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>", "**", "/", "@"
    left: Expr
    right: Expr


@dataclass(eq=False)
class BoolOp(Expr):
    op: str  # "and", "or"
    values: list[Expr]


@dataclass(eq=False)
class Compare(Expr):
    """``left ops[0] comparators[0] ops[1] comparators[1] ...``."""

    left: Expr
    ops: list[str]  # "<", "<=", ">", ">=", "==", "!=", "is", "is not", "in", "not in"
    comparators: list[Expr]


@dataclass(eq=False)
class IfExp(Expr):
    test: Expr
    body: Expr
    orelse: Expr


@dataclass(eq=False)
class Keyword(Node):
    """``name=value`` in a call; ``name`` is None for ``**value``."""

    name: str | None
    value: Expr


@dataclass(eq=False)
class Call(Expr):
    func: Expr
    args: list[Expr]
    keywords: list[Keyword] = field(default_factory=list)
    #: Spans of ``*x`` arguments (refused).
    starred: list[Span] = field(default_factory=list)


@dataclass(eq=False)
class Attribute(Expr):
    value: Expr
    attr: str


@dataclass(eq=False)
class Subscript(Expr):
    value: Expr
    index: Expr  # a TupleExpr for ``Array[u8, 4]``; a Refused("slice") for ``a[1:2]``


@dataclass(eq=False)
class ListExpr(Expr):
    elts: list[Expr]


@dataclass(eq=False)
class TupleExpr(Expr):
    elts: list[Expr]


@dataclass(eq=False)
class Refused(Expr):
    """An expression the language refuses; ``kind`` names it.

    Kinds: ``lambda``, ``yield``, ``await``, ``dict``, ``set``, ``comprehension``,
    ``starred``, ``slice``, ``fstring``, ``walrus``, ``ellipsis``, ``none``.
    """

    kind: str


# --- statements -----------------------------------------------------------------------------


@dataclass(eq=False)
class Stmt(Node):
    pass


@dataclass(eq=False)
class ExprStmt(Stmt):
    value: Expr


@dataclass(eq=False)
class Assign(Stmt):
    """``targets[0] = targets[1] = ... = value``; a target may be a TupleExpr (refused)."""

    targets: list[Expr]
    value: Expr


@dataclass(eq=False)
class AnnAssign(Stmt):
    target: Expr
    annotation: Expr
    value: Expr | None


@dataclass(eq=False)
class AugAssign(Stmt):
    target: Expr
    op: str  # the binary operator, e.g. "+" for "+="
    value: Expr


@dataclass(eq=False)
class Return(Stmt):
    value: Expr | None


@dataclass(eq=False)
class If(Stmt):
    """``if``; an ``elif`` is an :class:`If` alone in ``orelse``."""

    test: Expr
    body: list[Stmt]
    orelse: list[Stmt]


@dataclass(eq=False)
class For(Stmt):
    target: Expr
    iter: Expr
    body: list[Stmt]
    orelse: list[Stmt] = field(default_factory=list)  # ``for ... else`` (refused)


@dataclass(eq=False)
class Break(Stmt):
    pass


@dataclass(eq=False)
class Continue(Stmt):
    pass


@dataclass(eq=False)
class Pass(Stmt):
    pass


@dataclass(eq=False)
class Param(Node):
    """A parameter; ``kind`` is ``""``, ``"*"`` or ``"**"``."""

    name: str
    annotation: Expr | None
    default: Expr | None = None
    kind: str = ""


@dataclass(eq=False)
class FunctionDef(Stmt):
    name: str
    #: The span of the name alone (for "here is the function" diagnostics).
    name_span: Span
    params: list[Param]
    returns: Expr | None
    body: list[Stmt]
    decorators: list[Expr] = field(default_factory=list)
    is_async: bool = False


@dataclass(eq=False)
class ClassDef(Stmt):
    name: str
    name_span: Span
    bases: list[Expr]
    keywords: list[Keyword]
    body: list[Stmt]
    decorators: list[Expr] = field(default_factory=list)


@dataclass(eq=False)
class ImportFrom(Stmt):
    """``from module import name as asname, ...``; ``module`` keeps leading dots."""

    module: str
    names: list[tuple[str, str | None, Span]]


@dataclass(eq=False)
class Import(Stmt):
    """``import a.b as c`` (refused: handler modules import only from ``fpgac``)."""

    names: list[tuple[str, str | None, Span]]


@dataclass(eq=False)
class RefusedStmt(Stmt):
    """A statement the language refuses; ``kind`` is its keyword.

    Kinds: ``while``, ``try``, ``with``, ``global``, ``nonlocal``, ``del``, ``assert``,
    ``raise``, ``async``, ``match``, ``type``.
    """

    kind: str


@dataclass(eq=False)
class Module(Node):
    body: list[Stmt]
    source: str
