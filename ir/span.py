"""Source locations, carried from the lexer to the emitted hardware."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Span"]


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file: 1-based lines and columns, ``end_col`` exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def to(self, other: Span) -> Span:
        """Return the span from the start of ``self`` to the end of ``other``."""
        return Span(self.file, self.line, self.col, other.end_line, other.end_col)

    def to_json(self) -> list[int]:
        return [self.line, self.col, self.end_line, self.end_col]

    @classmethod
    def from_json(cls, file: str, data: list[int]) -> Span:
        return cls(file, *data)
