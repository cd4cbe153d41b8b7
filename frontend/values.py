"""Compile-time values of the elaborator: what a name or an expression stands for."""

from __future__ import annotations

from dataclasses import dataclass

from ..ir.span import Span
from ..ir.types import ArrayTy, IntTy, RecordTy, Ty

__all__ = ["Scalar", "RecordVal", "ArrayVal", "Value", "TableVal", "TypeVal", "FuncVal",
           "BuiltinVal", "AppVal", "Undefined", "leaf_values"]


@dataclass(frozen=True)
class Scalar:
    """An integer: an IR node, its static type, and its value if known at compile time."""

    node: int
    ty: IntTy
    const: int | None = None


@dataclass(frozen=True)
class RecordVal:
    ty: RecordTy
    fields: dict[str, Value]


@dataclass(frozen=True)
class ArrayVal:
    ty: ArrayTy
    elems: tuple[Value, ...]


Value = Scalar | RecordVal | ArrayVal


@dataclass(frozen=True)
class TableVal:
    """A module-level ``Table``: a ROM of constants."""

    name: str
    elem: IntTy
    values: tuple[int, ...]


@dataclass(frozen=True)
class TypeVal:
    """A type used as a value: a cast (``u8(x)``) or a record constructor (``RGB(...)``)."""

    ty: Ty


@dataclass(frozen=True)
class FuncVal:
    """A helper function, inlined where called."""

    name: str


@dataclass(frozen=True)
class BuiltinVal:
    """A built-in or an intrinsic: ``range``, ``len``, ``min``, ``popcount``, ``uint``, ..."""

    name: str


@dataclass(frozen=True)
class AppVal:
    name: str


@dataclass(frozen=True)
class Undefined:
    """A variable assigned on some paths only; reading it is an error."""

    span: Span


def leaf_values(value: Value, prefix: str) -> list[tuple[str, Scalar]]:
    """Flatten a value into ``(path, Scalar)`` leaves, least significant first."""
    if isinstance(value, RecordVal):
        return [leaf for name, _ in value.ty.fields
                for leaf in leaf_values(value.fields[name], f"{prefix}.{name}")]
    if isinstance(value, ArrayVal):
        return [leaf for i, e in enumerate(value.elems) for leaf in leaf_values(e, f"{prefix}[{i}]")]
    return [(prefix, value)]
