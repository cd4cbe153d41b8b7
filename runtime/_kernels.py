"""Vectorized bit intrinsics on ``uint64`` columns, and exact per-element fallbacks.

The generated batch code calls these for ``popcount``, ``clz``, ``ctz``,
``reverse``, ``rotl`` and ``rotr`` when the operand is an ``int64`` column and
the width is at most 64; wider cases go through :func:`elementwise`, which
applies the exact scalar rule to each Python int of an object column.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["low_u64", "popcount64", "bit_length64", "clz64", "ctz64", "reverse64", "rotl64",
           "elementwise", "select_gather", "full_column"]

_U = np.uint64


def low_u64(a: np.ndarray, width: int) -> np.ndarray:
    """Return the low ``width`` (≤ 64) bits of an ``int64`` column as ``uint64``."""
    u = np.ascontiguousarray(a).view(_U)
    return u & _U((1 << width) - 1) if width < 64 else u.copy()


if hasattr(np, "bitwise_count"):  # numpy >= 2.0

    def popcount64(x: np.ndarray) -> np.ndarray:
        """Return the number of set bits of each ``uint64``, as ``int64``."""
        return np.bitwise_count(x).astype(np.int64)

else:  # pragma: no cover - exercised only on numpy 1.x

    def popcount64(x: np.ndarray) -> np.ndarray:
        """Return the number of set bits of each ``uint64``, as ``int64`` (SWAR)."""
        x = x - ((x >> _U(1)) & _U(0x5555555555555555))
        x = (x & _U(0x3333333333333333)) + ((x >> _U(2)) & _U(0x3333333333333333))
        x = (x + (x >> _U(4))) & _U(0x0F0F0F0F0F0F0F0F)
        return ((x * _U(0x0101010101010101)) >> _U(56)).astype(np.int64)


def _exponent(x: np.ndarray) -> np.ndarray:
    """Return the biased binary exponent of each ``uint64`` converted to ``float64``."""
    return x.astype(np.float64).view(np.int64) >> 52


def bit_length64(x: np.ndarray, width: int = 64) -> np.ndarray:
    """Return ``int.bit_length`` of each ``uint64`` below ``2**width``, as ``int64``.

    The conversion to ``float64`` is exact below 2**53; above, the low 11 bits
    are cleared first, so rounding can never carry into the next power of two.
    """
    if width > 53:
        big = np.minimum(x >> _U(53), _U(1))  # 1 where x >= 2**53
        x = x & ~(big * _U(0x7FF))
    return np.maximum(_exponent(x) - 1022, 0)  # 0.0 has exponent 0: bit_length 0


def clz64(x: np.ndarray, width: int) -> np.ndarray:
    """Return the leading zeros of each ``uint64`` (already masked) within ``width`` bits."""
    return width - bit_length64(x, width)


def ctz64(x: np.ndarray, width: int) -> np.ndarray:
    """Return the trailing zeros of each ``uint64`` (already masked); ``width`` for 0."""
    lowest = x & (_U(0) - x)  # the lowest set bit: a power of two, exact as a float
    count = _exponent(lowest) - 1023  # -1023 for 0, which as uint64 exceeds any width
    return np.minimum(count.view(_U), _U(width)).view(np.int64)


_REVERSED_BYTES = np.array([int(f"{i:08b}"[::-1], 2) for i in range(256)], dtype=np.uint8)


def reverse64(x: np.ndarray, width: int) -> np.ndarray:
    """Return the low ``width`` bits of each ``uint64`` (already masked), reversed."""
    swapped = np.ascontiguousarray(x).byteswap()
    reversed_ = _REVERSED_BYTES[swapped.view(np.uint8)].view(_U)
    return reversed_ >> _U(64 - width) if width < 64 else reversed_


def rotl64(x: np.ndarray, n, width: int) -> np.ndarray:
    """Rotate the low ``width`` bits of each ``uint64`` left by ``n`` (already ``< width``)."""
    n = np.asarray(n).astype(_U)
    # (x >> 1) >> (width - 1 - n) is x >> (width - n) without ever shifting by 64.
    result = (x << n) | ((x >> _U(1)) >> (_U(width - 1) - n))
    return result & _U((1 << width) - 1) if width < 64 else result


def elementwise(fn: Callable[..., int], nin: int) -> Callable[..., np.ndarray]:
    """Return ``fn`` applied per element to object columns, giving an object column."""
    return np.frompyfunc(fn, nin, 1)


def select_gather(index: np.ndarray, elements: list, n: int, dtype) -> np.ndarray:
    """Return ``elements[index]`` per row; ``index`` is already in ``0..len(elements)-1``."""
    table = np.empty((len(elements), n), dtype=dtype)
    for row, element in zip(table, elements):
        row[...] = element
    return table[index, np.arange(n)]


def full_column(value: int, n: int, kind: str) -> np.ndarray:
    """Return a column of ``n`` copies of a constant: "i" int64, "u" uint64, "o" object."""
    if kind != "o":
        return np.full(n, value, dtype=np.int64 if kind == "i" else np.uint64)
    column = np.empty(n, dtype=object)
    column[...] = value
    return column
