"""Parse a handler module's source text into the AST of :mod:`fpgac.frontend.ast`.

The grammar (``grammar.lark``) is LALR, with Python's indentation rules applied by a
post-lexer. It parses the language and also the common Python constructs the language
refuses, so that the checker can name them; a syntax error becomes an :class:`FpgacError`
whose message is written in words, not token names.

Spans: every node spans exactly its source text, 1-based, ``end_col`` exclusive. An
expression in parentheses keeps the span of what is inside them, and the operation that
contains it spans the parentheses too (as Python's ``ast`` does). A simple statement spans
its text without the newline or a trailing comment. A compound statement (``if``, ``for``,
``def``, ``class``, a refused ``while``...) spans the whole statement, from its first keyword
to the end of the last statement of its last block; a ``def`` or ``class`` starts at ``def``
or ``class`` (or ``async``), not at its decorators. An ``elif`` is an :class:`If` that
starts at ``elif``.
"""

from __future__ import annotations

import ast as _pyast
import os
import threading
import warnings
from collections import deque
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)
from lark.indenter import PythonIndenter

from ..ir.span import Span
from . import ast as A
from .diagnostics import Diagnostic, FpgacError

__all__ = ["parse"]

#: Python refuses more than 200 nested brackets; so do we (the AST stays shallow enough
#: for the passes that walk it recursively).
MAX_BRACKET_DEPTH = 200

_OPENERS = {"LPAR": "(", "LSQB": "[", "LBRACE": "{"}
_CLOSERS = {"RPAR": ")", "RSQB": "]", "RBRACE": "}"}
_PAIRS = {"(": ")", "[": "]", "{": "}"}
_LAYOUT = frozenset({"_NEWLINE", "_INDENT", "_DEDENT"})


def parse(source: str, file: str) -> A.Module:
    """Parse ``source`` (the text of ``file``) into a :class:`~fpgac.frontend.ast.Module`.

    Raise :class:`FpgacError` with one diagnostic, for the first syntax error, if the text
    is not a module the grammar accepts.
    """
    # Python reads "\r\n" and a lone "\r" as newlines; lark's terminals only know "\n".
    # Both replacements keep every line and column where it was.
    text = source.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte order mark is not text, and shows as nothing
    if not text.endswith("\n"):
        text += "\n"  # the indenter needs each line, comments included, to end in "\n"
    parser, indenter = _parser()
    with _LOCK:  # the indenter keeps the state of the parse in progress
        try:
            tree = parser.parse(text)
        except _SyntaxProblem as problem:
            raise _error(file, source, problem.span, problem.message) from None
        except UnexpectedInput as exc:
            span, message = _explain(exc, indenter, parser, text)
            raise _error(file, source, span, message) from None
    try:
        body = _ToAst(file).transform(tree)
    except VisitError as exc:  # lark wraps what a callback raises
        if isinstance(exc.orig_exc, _SyntaxProblem):
            raise _error(file, source, exc.orig_exc.span, exc.orig_exc.message) from None
        raise exc.orig_exc from None
    lines = text.split("\n")[:-1]
    end = Span(file, 1, 1, max(len(lines), 1), len(lines[-1]) + 1 if lines else 1)
    return A.Module(end, body, source)


def _error(file: str, source: str, span: Span | tuple, message: str) -> FpgacError:
    """Make the error for one syntax problem; ``span`` may be (line, col, end line, end col)."""
    if not isinstance(span, Span):
        span = Span(file, *span)
    return FpgacError([Diagnostic(span, message)], source)


class _SyntaxProblem(Exception):
    """A syntax error found outside lark's parser: by the indenter or in a literal."""

    def __init__(self, span: Span | tuple[int, int, int, int], message: str):
        super().__init__(message)
        self.span = span
        self.message = message


# --- building the parser once ---------------------------------------------------------------


_LOCK = threading.RLock()
_PARSER: tuple[Lark, _Indenter] | None = None


def _parser() -> tuple[Lark, _Indenter]:
    """Return the module's Lark parser and its indenter, building them on first use.

    Analysing the grammar takes most of a second, so lark's cache of the analysed tables is
    kept in the user's cache directory (lark checks the grammar's hash before using it).
    """
    global _PARSER
    with _LOCK:
        if _PARSER is None:
            grammar = resources.files(__package__).joinpath("grammar.lark").read_text("utf-8")
            indenter = _Indenter()
            parser = Lark(
                grammar,
                parser="lalr",
                lexer="basic",
                postlex=indenter,
                propagate_positions=_NotLayout(),
                maybe_placeholders=True,
                cache=_cache_file() or False,
            )
            _PARSER = (parser, indenter)
        return _PARSER


def _cache_file() -> str | None:
    """Return where to cache the analysed grammar, or None if there is no usable place."""
    try:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        folder = base / "fpgac"
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):
        return None
    return str(folder / "grammar-lalr.cache")


class _NotLayout:
    """Tell lark which children count for positions: not newlines, indents, dedents.

    Its text form is fixed, because lark hashes the options into the cache key.
    """

    def __call__(self, child: object) -> bool:
        return not (isinstance(child, Token) and child.type in _LAYOUT)

    def __repr__(self) -> str:
        return "fpgac.frontend.parser._NotLayout"


# --- the indenter ---------------------------------------------------------------------------


class _Indenter(PythonIndenter):
    """Python's indentation post-lexer, with located errors and soft keywords.

    Beyond lark's :class:`PythonIndenter` it reports unmatched brackets and a dedent to no
    enclosing level as :class:`_SyntaxProblem`, positions the ``_INDENT``/``_DEDENT``
    tokens at the first character of their line, turns ``match``/``case`` at the start of
    a line ending a header into ``_MATCH``/``_CASE``, and remembers what the error messages
    need: the open brackets, the tokens of the current and previous logical lines, and
    the last two tokens.
    """

    def __init__(self) -> None:
        super().__init__()
        self._reset()

    def _reset(self) -> None:
        self.paren_level = 0
        self.indent_level = [0]
        self.brackets: list[Token] = []
        self.line: list[Token] = []
        self.previous_line: list[Token] = []
        self.recent: deque[Token] = deque(maxlen=2)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        self._reset()
        return self._tokens(stream)

    def _tokens(self, stream: Iterator[Token]) -> Iterator[Token]:
        stream = iter(stream)
        pending: deque[Token] = deque()
        last: Token | None = None
        while True:
            token = pending.popleft() if pending else next(stream, None)
            if token is None:
                break
            last = token
            if token.type == "_NEWLINE":
                if not self.brackets:  # inside brackets a newline is only white space
                    yield from self._newline(token)
                continue
            if not self.recent and token.column > 1:  # the first line is indented
                raise _SyntaxProblem(_token_span(token), "unexpected indentation")
            if token.type == "NAME" and not self.line and token in ("match", "case"):
                token = self._soft_keyword(token, stream, pending)
            self.line.append(token)
            self.recent.append(token)
            if token.type in _OPENERS:
                self.brackets.append(token)
                self.paren_level = len(self.brackets)
                if len(self.brackets) > MAX_BRACKET_DEPTH:
                    raise _SyntaxProblem(
                        _token_span(token),
                        f"too many nested brackets; at most {MAX_BRACKET_DEPTH} are allowed",
                    )
            elif token.type in _CLOSERS:
                self._close(token)
            yield token
        while len(self.indent_level) > 1:
            self.indent_level.pop()
            yield _layout_token(self.DEDENT_type, "", last)

    def _newline(self, token: Token) -> Iterator[Token]:
        yield token
        self.previous_line, self.line = self.line, []
        indent_text = token.rsplit("\n", 1)[-1]
        indent = indent_text.count(" ") + indent_text.count("\t") * self.tab_len
        if indent > self.indent_level[-1]:
            self.indent_level.append(indent)
            yield _layout_token(self.INDENT_type, indent_text, token)
            return
        while indent < self.indent_level[-1]:
            self.indent_level.pop()
            yield _layout_token(self.DEDENT_type, indent_text, token)
        if indent != self.indent_level[-1]:
            line, col = token.end_line, token.end_column
            raise _SyntaxProblem(
                (line, col, line, col + 1),
                "this line is indented less than the block it closes, "
                "and does not line up with any enclosing block",
            )

    def _close(self, token: Token) -> None:
        if not self.brackets:
            raise _SyntaxProblem(_token_span(token), f"unmatched `{token}`")
        opener = self.brackets.pop()
        self.paren_level = len(self.brackets)
        if _PAIRS[str(opener)] != token:
            where = "" if opener.line == token.line else f" on line {opener.line}"
            raise _SyntaxProblem(
                _token_span(token), f"closing `{token}` does not match the opening `{opener}`{where}"
            )

    def _soft_keyword(self, token: Token, stream: Iterator[Token], pending: deque) -> Token:
        """Decide whether ``match``/``case`` starting a line is a keyword.

        It is when the logical line holds a ``:`` outside brackets and the next token does
        not make it a plain name (``match = 1``, ``match: u8``, ``match.x``, ``match += 1``).
        """
        depth = 0
        colon = False
        while True:
            following = next(stream, None)
            if following is None:
                break
            pending.append(following)
            if following.type == "_NEWLINE" and depth == 0:
                break
            if following.type in _OPENERS:
                depth += 1
            elif following.type in _CLOSERS:
                depth = max(depth - 1, 0)
            elif following.type == "COLON" and depth == 0:
                colon = True
        first = pending[0] if pending else None
        plain = first is None or first.type in ("EQUAL", "COLON", "DOT", "AUGOP", "COMMA",
                                                  "SEMICOLON", "_NEWLINE")
        if colon and not plain:
            return Token.new_borrow_pos("_MATCH" if token == "match" else "_CASE", token, token)
        return token


def _layout_token(kind: str, text: str, after: Token | None) -> Token:
    """Make an _INDENT/_DEDENT token placed where the next line's text starts."""
    if after is None:
        return Token(kind, text, 0, 1, 1, 1, 1, 0)
    return Token(kind, text, after.end_pos, after.end_line, after.end_column,
                 after.end_line, after.end_column, after.end_pos)


def _token_span(token: Token) -> tuple[int, int, int, int]:
    return (token.line, token.column, token.end_line, token.end_column)


# --- syntax errors in words -----------------------------------------------------------------

_NUMBERS = frozenset({"DEC_NUMBER", "HEX_NUMBER", "OCT_NUMBER", "BIN_NUMBER", "FLOAT_NUMBER",
                      "IMAG_NUMBER"})
_STRINGS = frozenset({"STRING", "LONG_STRING"})
#: Texts of the terminals that continue an expression after an operand.
_OPERATORS = frozenset({"+", "-", "*", "/", "//", "%", "@", "**", "<<", ">>", "&", "|", "^",
                        "<", ">", "==", ">=", "<=", "!=", "and", "or", "in", "is", "not",
                        "if", "(", "[", ".", ":="})
#: Texts of the terminals that can only start an expression.
_STARTERS = frozenset({"~", "lambda", "await", "None", "True", "False", "...", "{", "yield"})
#: The order in which the remaining expected tokens are listed.
_ORDER = [":", ",", ")", "]", "}", "=", "in", "import", "as", "->", "except", "finally",
          "else", "for", "from", ";"]

#: Tokens that end an operand: an expression is not expected "after" them.
_OPERANDS = _NUMBERS | _STRINGS | {"NAME", "RPAR", "RSQB", "RBRACE", "TRUE", "FALSE", "NONE"}

#: Keywords that continue a statement, found where a statement starts.
_ORPHANS = {
    "ELSE": "`else` without a matching `if` or `for`",
    "ELIF": "`elif` without a matching `if`",
    "EXCEPT": "`except` without a matching `try`",
    "FINALLY": "`finally` without a matching `try`",
}
_CONDITIONS = frozenset({"if", "elif", "while"})

#: What a missing ``:`` follows, by the keyword that starts the header.
_COLON_AFTER = {
    "if": "the `if` condition", "elif": "the `elif` condition", "else": "`else`",
    "while": "the `while` condition", "for": "the `for` loop header",
    "def": "the function signature", "class": "the class header", "try": "`try`",
    "except": "the `except` clause", "finally": "`finally`", "with": "the `with` items",
    "_MATCH": "the `match` subject", "_CASE": "the `case` pattern",
}
#: What an indented block follows, by the keyword that starts the header.
_BLOCK_AFTER = {
    "if": "the `if` statement", "elif": "the `elif` clause", "else": "the `else` clause",
    "while": "the `while` statement", "for": "the `for` loop",
    "def": "the function definition", "class": "the class definition",
    "try": "the `try` statement", "except": "the `except` clause",
    "finally": "the `finally` clause", "with": "the `with` statement",
    "_MATCH": "the `match` statement", "_CASE": "the `case` clause",
}


def _explain(exc: UnexpectedInput, indenter: _Indenter, parser: Lark,
             text: str) -> tuple[tuple[int, int, int, int], str]:
    """Turn one of lark's errors into a span (line, col, end line, end col) and a message."""
    if isinstance(exc, UnexpectedCharacters):
        return _bad_character(exc, text)
    if isinstance(exc, UnexpectedToken):
        return _ErrorContext(exc, indenter, parser).explain()
    if isinstance(exc, UnexpectedEOF):  # not raised by the LALR parser; kept for safety
        last = indenter.recent[-1] if indenter.recent else None
        return _after(last), "unexpected end of file"
    line, col = getattr(exc, "line", 1), getattr(exc, "column", 1)
    if not isinstance(line, int) or not isinstance(col, int):
        line, col = 1, 1
    return (line, col, line, col + 1), "invalid syntax"


def _bad_character(exc: UnexpectedCharacters, text: str) -> tuple[tuple, str]:
    line, col = exc.line, exc.column
    char = exc.char
    rest = text[exc.pos_in_stream:].split("\n", 1)[0]
    if char in "\"'":
        span = (line, col, line, col + len(rest))
        if rest.startswith(char * 3):
            return span, "unterminated triple-quoted string"
        return span, "unterminated string"
    here = (line, col, line, col + 1)
    if char == "\\":
        return here, "a line continuation `\\` must be the last character on its line"
    if char == "!":
        return here, "unexpected character `!`; write `!=` for 'not equal' and `not` for negation"
    if char == "0" and len(rest) > 1 and rest[1].isdigit():
        digits = len(rest) - len(rest.lstrip("0123456789_"))
        return (line, col, line, col + digits), (
            "a decimal integer cannot start with `0`; write `0o` for an octal number")
    if char.isprintable() and not char.isspace():
        return here, f"unexpected character `{char}`"
    return here, f"unexpected character U+{ord(char):04X}"


def _after(token: Token | None) -> tuple[int, int, int, int]:
    """Return the one-character span just after ``token`` (or the file's start)."""
    if token is None:
        return (1, 1, 1, 2)
    return (token.end_line, token.end_column, token.end_line, token.end_column + 1)


class _ErrorContext:
    """Explain an UnexpectedToken with what the parser and the indenter knew."""

    def __init__(self, exc: UnexpectedToken, indenter: _Indenter, parser: Lark):
        self.token: Token = exc.token
        try:  # `accepts` replays the parser on each candidate token: exact, unlike `expected`
            self.accepts = set(exc.accepts or exc.expected)
        except Exception:  # never let the explanation of an error raise another one
            self.accepts = set(exc.expected)
        self.texts = {t.name: t.pattern.value for t in parser.terminals
                      if t.pattern.type == "str"}
        self.indenter = indenter
        significant = self.token.type not in _LAYOUT and self.token.type != "$END"
        recent = list(indenter.recent)
        if significant and recent and recent[-1] is self.token:
            recent.pop()
        self.prev: Token | None = recent[-1] if recent else None
        self.brackets = [b for b in indenter.brackets if b is not self.token]
        #: The tokens before this one on its logical line; empty at the start of a line.
        self.line = [t for t in indenter.line if t is not self.token]

    # -- descriptions

    def text(self, name: str) -> str | None:
        return self.texts.get(name)

    def found(self, article: bool = True) -> str:
        """Describe the unexpected token: "the name `x`", or "name `x`" without article."""
        tok = self.token
        the = "the " if article else ""
        if tok.type == "NAME":
            return f"{the}name `{_short(tok)}`"
        if tok.type in _NUMBERS:
            return f"{the}number `{_short(tok)}`"
        if tok.type in _STRINGS:
            return "a string" if article else "string"
        if tok.type == "_NEWLINE":
            return f"{the}end of the line"
        if tok.type == "$END":
            return f"{the}end of the file"
        if tok.type == "_DEDENT":
            return f"{the}end of the block"
        if tok.type == "_INDENT":
            return "an indented line" if article else "indentation"
        return f"`{_short(tok)}`"

    def where(self) -> tuple[int, int, int, int]:
        """Return the span to underline: the token, or the place a line or file ended."""
        tok = self.token
        if tok.type in ("_NEWLINE", "$END", "_DEDENT"):
            return _after(self.prev)
        if tok.type == "_INDENT":
            return (tok.line, tok.column, tok.line, tok.column + 1)
        return _token_span(tok)

    def header(self) -> str | None:
        """Return the keyword (or _MATCH/_CASE) starting this line if it is an open header."""
        if not self.line:
            return None
        first = self.line[1] if self.line[0].type == "ASYNC" and len(self.line) > 1 \
            else self.line[0]
        key = first.type if first.type in ("_MATCH", "_CASE") else str(first)
        if key not in _COLON_AFTER:
            return None
        depth = 0
        for tok in self.line[1:]:  # a `:` outside brackets closes the header
            if tok.type in _OPENERS:
                depth += 1
            elif tok.type in _CLOSERS:
                depth -= 1
            elif tok.type == "COLON" and depth == 0:
                return None
        return key

    # -- the message

    def explain(self) -> tuple[tuple[int, int, int, int], str]:
        tok, accepts = self.token, self.accepts
        where = self.where()
        if tok.type == "_INDENT":
            return where, "unexpected indentation"
        if accepts == {"_INDENT"}:
            return where, self.missing_block()
        if tok.type == "$END" and self.brackets:
            opener = self.brackets[-1]
            return _token_span(opener), f"`{opener}` was never closed"
        found = self.found()
        tail = "" if tok.type == "_NEWLINE" else f", found {found}"
        if not self.line and tok.type in _ORPHANS:
            return where, _ORPHANS[tok.type]
        if self.after_decorator():
            return where, "expected a function or a class definition after the decorator"
        key = self.header()
        if "COLON" in accepts and key is not None and not self.brackets:
            if key == "else" and tok == "if":
                return where, "expected `:` after `else`; write `elif` for 'else if'"
            if tok.type == "_NEWLINE" or "DEC_NUMBER" not in accepts:
                hint = " (use `==` to compare)" if tok == "=" and key in _CONDITIONS else ""
                return where, f"expected `:` after {_COLON_AFTER[key]}{tail}{hint}"
        if "DEC_NUMBER" in accepts:
            after = ""
            if self.prev is not None and any(t is self.prev for t in self.line) \
                    and self.prev.type not in _OPERANDS:
                after = f" after `{_short(self.prev)}`"
            return where, f"expected an expression{after}{tail}"
        if "NAME" in accepts:
            return where, f"{self.expected_name()}{tail}"
        if self.brackets:
            opener = self.brackets[-1]
            closer = _PAIRS[str(opener)]
            if closer in {self.text(t) for t in accepts}:
                what = f"`,` or `{closer}`" if "COMMA" in accepts else f"`{closer}`"
                if opener.line != tok.line:
                    what += f" (to close the `{opener}` on line {opener.line})"
                return where, f"expected {what}{tail}"
        if "_NEWLINE" in accepts and tok.type != "_NEWLINE":
            expected = "an operator or the end of the line" if self.any_operator() \
                else "the end of the line"
            return where, f"expected {expected}{tail}"
        return where, self.generic(tail)

    def any_operator(self) -> bool:
        """Tell whether an operand just ended: `|` is accepted exactly there."""
        return "VBAR" in self.accepts

    def after_decorator(self) -> bool:
        previous = self.indenter.previous_line
        return not self.line and bool(previous) and previous[0] == "@" \
            and self.accepts <= {"ASYNC", "CLASS", "DEF", "AT"}

    def expected_name(self) -> str:
        prev = self.prev
        if prev == "def":
            return "expected the function name after `def`"
        if prev == "class":
            return "expected the class name after `class`"
        if prev == ".":
            return "expected an attribute name after `.`"
        if prev in ("import", "from") or (self.line and self.line[0] in ("import", "from")):
            return "expected a module or a name to import"
        return "expected a name"

    def missing_block(self) -> str:
        header = self.indenter.previous_line  # an _INDENT is expected just after a newline
        if header:
            first = header[1] if header[0].type == "ASYNC" and len(header) > 1 else header[0]
            key = first.type if first.type in ("_MATCH", "_CASE") else str(first)
            if key in _BLOCK_AFTER:
                return (f"expected an indented block after {_BLOCK_AFTER[key]} "
                        f"on line {first.line}")
        return "expected an indented block"

    def generic(self, tail: str) -> str:
        """List what the parser accepts here in words, or just say what is unexpected."""
        operator = self.any_operator()
        comparing = any(self.text(t) == "==" for t in self.accepts)
        items = ["an operator"] if operator else []
        texts = sorted((self.text(t) for t in self.accepts if self.text(t) is not None),
                       key=lambda x: (_ORDER.index(x) if x in _ORDER else len(_ORDER), x))
        for text in texts:
            if text == "type" or (operator and text in _OPERATORS
                                  and not (text == "in" and not comparing)):
                continue
            items.append(f"`{text}`")
        if "_CASE" in self.accepts:
            items.append("a `case` clause")
        if "_NEWLINE" in self.accepts:
            items.append("the end of the line")
        if not items or len(items) > 6:
            return f"unexpected {self.found(article=False)}"
        listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
        return f"expected {listed}{tail}"


def _short(token: str) -> str:
    text = str(token)
    return text if len(text) <= 24 else text[:20] + "..."


# --- the transformer: parse tree to AST -----------------------------------------------------


class _StarArg:
    """A ``*x`` argument of a call, kept only for its span."""

    def __init__(self, span: Span):
        self.span = span


@v_args(meta=True)
class _ToAst(Transformer_NonRecursive):
    """Build the AST, with spans, from lark's tree. An unknown rule is an internal error."""

    def __init__(self, file: str):
        super().__init__()
        self.file = file

    def __default__(self, data: Any, children: list, meta: Any) -> Any:
        raise AssertionError(f"the parser has no AST rule for the grammar rule {data!r}")

    def _span(self, meta: Any) -> Span:
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tspan(self, token: Token) -> Span:
        return Span(self.file, token.line, token.column, token.end_line, token.end_column)

    # -- module, blocks and simple statements

    def start(self, meta: Any, children: list) -> list[A.Stmt]:
        return _flatten(children)

    def suite(self, meta: Any, children: list) -> list[A.Stmt]:
        return _flatten(children)

    def simple_stmt(self, meta: Any, children: list) -> list[A.Stmt]:
        return list(children)

    def expr_stmt(self, meta: Any, children: list) -> A.Stmt:
        return A.ExprStmt(self._span(meta), children[0])

    def assign(self, meta: Any, children: list) -> A.Stmt:
        return A.Assign(self._span(meta), list(children[:-1]), children[-1])

    def annassign(self, meta: Any, children: list) -> A.Stmt:
        target, annotation, *value = children  # `[... _assign_value]` has no placeholder
        return A.AnnAssign(self._span(meta), target, annotation, value[0] if value else None)

    def augassign(self, meta: Any, children: list) -> A.Stmt:
        target, op, value = children
        return A.AugAssign(self._span(meta), target, str(op)[:-1], value)

    def pass_stmt(self, meta: Any, children: list) -> A.Stmt:
        return A.Pass(self._span(meta))

    def break_stmt(self, meta: Any, children: list) -> A.Stmt:
        return A.Break(self._span(meta))

    def continue_stmt(self, meta: Any, children: list) -> A.Stmt:
        return A.Continue(self._span(meta))

    def return_stmt(self, meta: Any, children: list) -> A.Stmt:
        return A.Return(self._span(meta), children[0])

    # -- imports

    def import_name(self, meta: Any, children: list) -> A.Stmt:
        return A.Import(self._span(meta), list(children))

    def import_from(self, meta: Any, children: list) -> A.Stmt:
        module, names = children
        return A.ImportFrom(self._span(meta), module, names)

    def module_ref(self, meta: Any, children: list) -> str:
        return "".join(c if isinstance(c, str) else c[0] for c in children)

    def import_star(self, meta: Any, children: list) -> list:
        return [("*", None, self._span(meta))]

    def import_as_names(self, meta: Any, children: list) -> list:
        return list(children)

    def import_as_name(self, meta: Any, children: list) -> tuple:
        name, asname = children
        return (str(name), None if asname is None else str(asname), self._span(meta))

    def dotted_as_name(self, meta: Any, children: list) -> tuple:
        (name, _), asname = children
        return (name, None if asname is None else str(asname), self._span(meta))

    def dotted_name(self, meta: Any, children: list) -> tuple[str, Span]:
        return (".".join(str(c) for c in children), self._span(meta))

    # -- refused simple statements

    def global_stmt(self, meta: Any, children: list) -> A.Stmt:
        return A.RefusedStmt(self._span(meta), "global")

    def nonlocal_stmt(self, meta: Any, children: list) -> A.Stmt:
        return A.RefusedStmt(self._span(meta), "nonlocal")

    def del_stmt(self, meta: Any, children: list) -> A.Stmt:
        return A.RefusedStmt(self._span(meta), "del")

    def assert_stmt(self, meta: Any, children: list) -> A.Stmt:
        return A.RefusedStmt(self._span(meta), "assert")

    def raise_stmt(self, meta: Any, children: list) -> A.Stmt:
        return A.RefusedStmt(self._span(meta), "raise")

    def type_stmt(self, meta: Any, children: list) -> A.Stmt:
        return A.RefusedStmt(self._span(meta), "type")

    # -- compound statements

    def if_stmt(self, meta: Any, children: list) -> A.Stmt:
        return self.elif_stmt(meta, children)

    def elif_stmt(self, meta: Any, children: list) -> A.Stmt:
        test, body, *rest = children
        orelse: list[A.Stmt] = []
        if rest:
            orelse = [rest[0]] if isinstance(rest[0], A.If) else rest[0]
        return A.If(self._span(meta), test, body, orelse)

    def else_clause(self, meta: Any, children: list) -> list[A.Stmt]:
        return children[0]

    def for_stmt(self, meta: Any, children: list) -> A.Stmt:
        target, iterable, body, orelse = children
        return A.For(self._span(meta), target, iterable, body, orelse or [])

    def funcdef(self, meta: Any, children: list) -> A.Stmt:
        name, params, returns, body = children
        return A.FunctionDef(self._span(meta), str(name), self._tspan(name), params or [],
                             returns, body)

    def async_funcdef(self, meta: Any, children: list) -> A.Stmt:
        func = children[0]
        func.span = self._span(meta)
        func.is_async = True
        return func

    def classdef(self, meta: Any, children: list) -> A.Stmt:
        name, arguments, body = children
        bases, keywords, starred = arguments or ([], [], [])
        bases = bases + [A.Refused(span, "starred") for span in starred]
        return A.ClassDef(self._span(meta), str(name), self._tspan(name), bases, keywords, body)

    def decorated(self, meta: Any, children: list) -> A.Stmt:
        *decorators, definition = children
        definition.decorators = decorators
        return definition

    def decorator(self, meta: Any, children: list) -> A.Expr:
        return children[0]

    def parameters(self, meta: Any, children: list) -> list[A.Param]:
        return list(children)

    def param(self, meta: Any, children: list) -> A.Param:
        name, annotation, default = children
        return A.Param(self._span(meta), str(name), annotation, default)

    def star_param(self, meta: Any, children: list) -> A.Param:
        name, annotation = children
        return A.Param(self._span(meta), "" if name is None else str(name), annotation, kind="*")

    def starstar_param(self, meta: Any, children: list) -> A.Param:
        name, annotation = children
        return A.Param(self._span(meta), str(name), annotation, kind="**")

    def slash_param(self, meta: Any, children: list) -> A.Param:
        return A.Param(self._span(meta), "", None, kind="/")

    # -- refused compound statements (their parts are parsed, then dropped)

    def while_stmt(self, meta: Any, children: list) -> A.Stmt:
        return A.RefusedStmt(self._span(meta), "while")

    def try_stmt(self, meta: Any, children: list) -> A.Stmt:
        return A.RefusedStmt(self._span(meta), "try")

    def with_stmt(self, meta: Any, children: list) -> A.Stmt:
        return A.RefusedStmt(self._span(meta), "with")

    def match_stmt(self, meta: Any, children: list) -> A.Stmt:
        return A.RefusedStmt(self._span(meta), "match")

    def async_stmt(self, meta: Any, children: list) -> A.Stmt:
        if isinstance(children[0], A.FunctionDef):
            return children[0]
        return A.RefusedStmt(self._span(meta), "async")

    def _dropped(self, meta: Any, children: list) -> None:
        return None

    except_clause = finally_clause = with_item = case_clause = _dropped
    comprehension = dict_comprehension = comp_for = comp_if = lambda_param = _dropped

    # -- expressions

    def tuple_expr(self, meta: Any, children: list) -> A.Expr:
        return A.TupleExpr(self._span(meta), list(children))

    def list_expr(self, meta: Any, children: list) -> A.Expr:
        return A.ListExpr(self._span(meta), list(children))

    def paren(self, meta: Any, children: list) -> A.Expr:
        return children[0]

    def var(self, meta: Any, children: list) -> A.Expr:
        return A.Name(self._span(meta), str(children[0]))

    def name(self, meta: Any, children: list) -> Token:
        return children[0]

    def integer(self, meta: Any, children: list) -> A.Expr:
        text = str(children[0])
        try:
            value = int(text, 0)
        except ValueError:  # more decimal digits than Python converts
            raise _SyntaxProblem(self._span(meta), "this integer literal has too many digits; "
                                 "write it in hexadecimal") from None
        return A.Const(self._span(meta), value)

    def float_number(self, meta: Any, children: list) -> A.Expr:
        return A.Float(self._span(meta), str(children[0]))

    def true(self, meta: Any, children: list) -> A.Expr:
        return A.Const(self._span(meta), 1, is_bool=True)

    def false(self, meta: Any, children: list) -> A.Expr:
        return A.Const(self._span(meta), 0, is_bool=True)

    def strings(self, meta: Any, children: list) -> A.Expr:
        prefixes = [str(t)[: min(i for i in (str(t).find('"'), str(t).find("'")) if i >= 0)]
                    for t in children]
        if any("f" in p.lower() for p in prefixes):
            return A.Refused(self._span(meta), "fstring")
        if any("b" in p.lower() for p in prefixes):
            return A.Refused(self._span(meta), "bytes")
        return A.Str(self._span(meta), "".join(self._decode(t) for t in children))

    def _decode(self, token: Token) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Python warns about unknown escapes like "\d"
            try:
                value = _pyast.literal_eval(str(token))
            except (SyntaxError, ValueError, MemoryError, RecursionError):
                value = None
        if not isinstance(value, str):
            raise _SyntaxProblem(self._tspan(token), "this string has an invalid escape "
                                 "sequence or character")
        return value

    def attribute(self, meta: Any, children: list) -> A.Expr:
        value, attr = children
        return A.Attribute(self._span(meta), value, str(attr))

    def subscript(self, meta: Any, children: list) -> A.Expr:
        value, index = children
        return A.Subscript(self._span(meta), value, index)

    def call(self, meta: Any, children: list) -> A.Expr:
        func, arguments = children
        args, keywords, starred = arguments or ([], [], [])
        return A.Call(self._span(meta), func, args, keywords, starred)

    def arguments(self, meta: Any, children: list) -> tuple[list, list, list]:
        args = [c for c in children if isinstance(c, A.Expr)]
        keywords = [c for c in children if isinstance(c, A.Keyword)]
        starred = [c.span for c in children if isinstance(c, _StarArg)]
        return args, keywords, starred

    def genexp_argument(self, meta: Any, children: list) -> tuple[list, list, list]:
        return [A.Refused(self._span(meta), "comprehension")], [], []

    def keyword(self, meta: Any, children: list) -> A.Keyword:
        name, value = children
        return A.Keyword(self._span(meta), str(name), value)

    def starstar_argument(self, meta: Any, children: list) -> A.Keyword:
        return A.Keyword(self._span(meta), None, children[0])

    def star_argument(self, meta: Any, children: list) -> _StarArg:
        return _StarArg(self._span(meta))

    def binop(self, meta: Any, children: list) -> A.Expr:
        left, op, right = children
        return A.BinOp(self._span(meta), str(op), left, right)

    def unary(self, meta: Any, children: list) -> A.Expr:
        op, operand = children
        return A.UnaryOp(self._span(meta), str(op), operand)

    def not_test(self, meta: Any, children: list) -> A.Expr:
        return A.UnaryOp(self._span(meta), "not", children[0])

    def and_test(self, meta: Any, children: list) -> A.Expr:
        return A.BoolOp(self._span(meta), "and", list(children))

    def or_test(self, meta: Any, children: list) -> A.Expr:
        return A.BoolOp(self._span(meta), "or", list(children))

    def comparison(self, meta: Any, children: list) -> A.Expr:
        return A.Compare(self._span(meta), children[0], list(children[1::2]),
                         list(children[2::2]))

    def comp_op(self, meta: Any, children: list) -> str:
        return " ".join(str(c) for c in children)

    def ifexp(self, meta: Any, children: list) -> A.Expr:
        body, test, orelse = children
        return A.IfExp(self._span(meta), test, body, orelse)

    # -- refused expressions

    def _refused(kind: str):  # a factory, called in the class body below
        def callback(self: _ToAst, meta: Any, children: list) -> A.Expr:
            return A.Refused(self._span(meta), kind)
        callback.__name__ = callback.__qualname__ = f"refused_{kind}"
        return callback

    lambdef = _refused("lambda")
    yield_expr = _refused("yield")
    await_expr = _refused("await")
    dict_expr = _refused("dict")
    set_expr = _refused("set")
    genexp = listcomp = setcomp = dictcomp = _refused("comprehension")
    star_expr = _refused("starred")
    slice_expr = _refused("slice")
    walrus = _refused("walrus")
    ellipsis = _refused("ellipsis")
    none = _refused("none")
    del _refused


def _flatten(children: list) -> list[A.Stmt]:
    body: list[A.Stmt] = []
    for child in children:
        if isinstance(child, list):
            body.extend(child)
        else:
            body.append(child)
    return body

