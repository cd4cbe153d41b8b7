"""The names a handler module may import from ``fpgac``, and what each one is."""

from __future__ import annotations

__all__ = ["INT_TYPES", "FPGAC_NAMES", "INTRINSICS", "BUILTINS"]

#: ``u1`` … ``u64`` and ``i1`` … ``i64``: name -> (width, signed).
INT_TYPES: dict[str, tuple[int, bool]] = {
    **{f"u{n}": (n, False) for n in range(1, 65)},
    **{f"i{n}": (n, True) for n in range(1, 65)},
}

INTRINSICS = frozenset(
    {"bits", "concat", "popcount", "clz", "ctz", "rotl", "rotr", "reverse_bits"})

#: Everything ``from fpgac import ...`` may name.
FPGAC_NAMES = frozenset(
    {"App", "Record", "Array", "Table", "uint", "sint", *INT_TYPES, *INTRINSICS})

#: Python built-ins a handler may call.
BUILTINS = frozenset({"range", "len", "min", "max", "abs", "bool"})
