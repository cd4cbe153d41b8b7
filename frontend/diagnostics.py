"""Diagnostics for a user's mistakes: located, with the source line and carets.

Two kinds of failure exist (STYLE.md): a user's mistake is an
:class:`FpgacError` carrying one or more :class:`Diagnostic`, printed without a
traceback; an internal bug is an assertion and prints a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir.span import Span

__all__ = ["Diagnostic", "FpgacError", "render"]


@dataclass(frozen=True)
class Diagnostic:
    """One error: where it is and what to do about it."""

    span: Span
    message: str

    def render(self, source: str | None) -> str:
        """Return ``FILE:LINE:COL: error: MESSAGE``, the source line and carets under the span."""
        head = f"{self.span}: error: {self.message}"
        lines = source.splitlines() if source is not None else []
        if not 1 <= self.span.line <= len(lines):
            return head
        text = lines[self.span.line - 1].expandtabs(1)
        start = self.span.col - 1
        end = self.span.end_col - 1 if self.span.end_line == self.span.line else len(text)
        end = max(min(end, len(text)), start + 1)
        gutter = f"{self.span.line:>5} | "
        return (f"{head}\n{gutter}{text}\n{' ' * (len(gutter) - 2)}| "
                f"{' ' * start}{'^' * (end - start)}")


def render(diagnostics: list[Diagnostic], source: str | None) -> str:
    """Render several diagnostics, in source order, separated by blank lines."""
    ordered = sorted(diagnostics, key=lambda d: (d.span.line, d.span.col))
    return "\n\n".join(d.render(source) for d in ordered)


class FpgacError(Exception):
    """A user's mistake in a handler module: one or more located diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic], source: str | None = None):
        assert diagnostics
        self.diagnostics = list(diagnostics)
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        return render(self.diagnostics, self.source)

    @property
    def messages(self) -> list[str]:
        return [d.message for d in sorted(self.diagnostics, key=lambda d: (d.span.line, d.span.col))]
