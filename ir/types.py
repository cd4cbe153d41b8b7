"""Fixed-width integer types of the IR and the value-range arithmetic they come from."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["IntTy", "narrowest", "MAX_WIDTH", "BOOL"]

#: No single value may be wider than this (SPEC §2).
MAX_WIDTH = 1024


@dataclass(frozen=True, slots=True)
class IntTy:
    """An N-bit unsigned or two's complement signed integer type."""

    width: int
    signed: bool = False

    def __post_init__(self):
        assert self.width >= 1, f"width must be at least 1, not {self.width}"

    @property
    def min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def range(self) -> tuple[int, int]:
        return (self.min, self.max)

    def holds(self, lo: int, hi: int) -> bool:
        """Return whether every value in ``[lo, hi]`` is representable."""
        return self.min <= lo and hi <= self.max

    def wrap(self, value: int) -> int:
        """Wrap ``value`` to this type: ``mod 2**N``, read as two's complement if signed."""
        value &= (1 << self.width) - 1
        if self.signed and value >> (self.width - 1):
            value -= 1 << self.width
        return value

    def __str__(self) -> str:
        return f"{'i' if self.signed else 'u'}{self.width}"

    @classmethod
    def parse(cls, text: str) -> IntTy:
        """Parse the text form ``u8`` / ``i16``."""
        m = re.fullmatch(r"([ui])([1-9][0-9]*)", text)
        if not m:
            raise ValueError(f"not an integer type: {text!r}")
        return cls(int(m.group(2)), m.group(1) == "i")


BOOL = IntTy(1, False)


def narrowest(lo: int, hi: int) -> IntTy:
    """Return the narrowest type that holds every value in ``[lo, hi]``."""
    assert lo <= hi, (lo, hi)
    if lo >= 0:
        return IntTy(max(1, hi.bit_length()), False)
    # Signed: N bits hold [-2**(N-1), 2**(N-1) - 1].
    width = max((-lo - 1).bit_length(), max(hi, 0).bit_length()) + 1
    return IntTy(width, True)


# --- the value types of the language: scalars, records, arrays -------------------------------


@dataclass(frozen=True, slots=True)
class BoolTy:
    """``bool``: one bit like ``u1``, but a value stored into it becomes ``x != 0``."""

    @property
    def int_ty(self) -> IntTy:
        return BOOL

    def __str__(self) -> str:
        return "bool"


@dataclass(frozen=True, slots=True)
class RecordTy:
    """A packed record; the first field sits in the least significant bits."""

    name: str
    fields: tuple[tuple[str, Ty], ...]

    def field(self, name: str) -> Ty | None:
        for fname, fty in self.fields:
            if fname == name:
                return fty
        return None

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class ArrayTy:
    """``Array[T, N]``; element 0 sits in the least significant bits."""

    elem: Ty
    length: int

    def __str__(self) -> str:
        return f"Array[{self.elem}, {self.length}]"


Ty = IntTy | BoolTy | RecordTy | ArrayTy
ScalarTy = IntTy | BoolTy

__all__ += ["BoolTy", "RecordTy", "ArrayTy", "Ty", "ScalarTy", "leaves", "bit_width",
            "ty_to_json", "ty_from_json", "scalar_int_ty"]


def scalar_int_ty(ty: ScalarTy) -> IntTy:
    """Return the integer type that holds values of a scalar type."""
    return BOOL if isinstance(ty, BoolTy) else ty


def leaves(ty: Ty, prefix: str) -> list[tuple[str, ScalarTy]]:
    """Flatten ``ty`` into ``(path, scalar type)`` leaves, least significant first."""
    if isinstance(ty, RecordTy):
        return [leaf for name, fty in ty.fields for leaf in leaves(fty, f"{prefix}.{name}")]
    if isinstance(ty, ArrayTy):
        return [leaf for i in range(ty.length) for leaf in leaves(ty.elem, f"{prefix}[{i}]")]
    return [(prefix, ty)]


def bit_width(ty: Ty) -> int:
    """Return the packed width of ``ty`` in bits."""
    return sum(scalar_int_ty(t).width for _, t in leaves(ty, ""))


def ty_to_json(ty: Ty) -> dict:
    """Return the JSON descriptor of a type (the runtime reads only this)."""
    if isinstance(ty, IntTy):
        return {"kind": "int", "width": ty.width, "signed": ty.signed}
    if isinstance(ty, BoolTy):
        return {"kind": "bool"}
    if isinstance(ty, RecordTy):
        return {"kind": "record", "name": ty.name,
                "fields": [{"name": n, "type": ty_to_json(t)} for n, t in ty.fields]}
    if isinstance(ty, ArrayTy):
        return {"kind": "array", "elem": ty_to_json(ty.elem), "length": ty.length}
    raise AssertionError(f"not a type: {ty!r}")


def ty_from_json(data: dict) -> Ty:
    """Read a type descriptor written by :func:`ty_to_json`."""
    kind = data["kind"]
    if kind == "int":
        return IntTy(int(data["width"]), bool(data["signed"]))
    if kind == "bool":
        return BoolTy()
    if kind == "record":
        return RecordTy(data["name"],
                        tuple((f["name"], ty_from_json(f["type"])) for f in data["fields"]))
    if kind == "array":
        return ArrayTy(ty_from_json(data["elem"]), int(data["length"]))
    raise ValueError(f"unknown type kind {kind!r}")
