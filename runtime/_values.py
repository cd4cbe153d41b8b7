"""Requests in, responses out: value types, request checking and response building.

A route's signature is read from the JSON type descriptors of ``ir.json``
(``{"kind": "int", "width", "signed"}``, ``{"kind": "bool"}``,
``{"kind": "record", "name", "fields"}``, ``{"kind": "array", "elem", "length"}``).
A request is flattened into *leaves*, one integer per scalar field, keyed by
leaf path (``v``, ``p.r``, ``data[3]``, ``pts[1].x``) in port order; a
response is rebuilt from the output leaves (``return``, ``return.r``, ...).

What a request may hold (SPEC §6): integers that fit the declared type
(never wrapped); ``True``/``False`` only for ``bool`` and ``u1`` fields;
records as dicts of exactly their fields or as objects with the fields as
attributes; arrays as lists or tuples of exactly their length. Anything else is
a :class:`RequestError` naming the field by its path.
"""

from __future__ import annotations

import gc
import keyword
import operator
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

from ._errors import BundleError, RequestError
from ._semantics import MAX_WIDTH

__all__ = [
    "IntT", "BoolT", "RecordT", "ArrayT", "Type", "ScalarT", "parse_type", "leaves",
    "leaf_count", "fits_int64", "Signature",
]

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

#: Record types nest at most this deep (a guard against hostile documents).
MAX_DEPTH = 32


def fits_int64(lo: int, hi: int) -> bool:
    """Return whether every value in ``[lo, hi]`` is an ``int64``."""
    return INT64_MIN <= lo and hi <= INT64_MAX


def column_kind(lo: int, hi: int) -> str:
    """Return how a column of values in ``[lo, hi]`` travels.

    "i": ``int64``; "u": ``uint64`` (for ``u64``); "o": an object array of Python ints.
    """
    if fits_int64(lo, hi):
        return "i"
    return "u" if 0 <= lo and hi >> 64 == 0 else "o"


_DTYPES = {"i": np.int64, "u": np.uint64, "o": object}


# --- types -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
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

    def __str__(self) -> str:
        return f"{'i' if self.signed else 'u'}{self.width}"


@dataclass(frozen=True, slots=True)
class BoolT:
    """``bool``: one bit; requests may send ``true``/``false``."""

    width = 1
    signed = False
    lo = 0
    hi = 1

    def __str__(self) -> str:
        return "bool"


@dataclass(frozen=True, slots=True)
class RecordT:
    """A record: named fields in declaration order."""

    name: str
    fields: tuple[tuple[str, Type], ...]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class ArrayT:
    """``Array[T, N]``."""

    elem: Type
    length: int

    def __str__(self) -> str:
        return f"Array[{self.elem}, {self.length}]"


ScalarT = IntT | BoolT
Type = IntT | BoolT | RecordT | ArrayT


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and value.isidentifier() and not keyword.iskeyword(value)


def _exact_int(value: Any) -> bool:
    return type(value) is int


def _check_keys(data: dict, required: set[str], where: str) -> None:
    keys = set(data)
    if keys != required:
        missing, extra = sorted(required - keys), sorted(map(str, keys - required))
        parts = [f"missing {', '.join(missing)}"] if missing else []
        parts += [f"unexpected {', '.join(extra)}"] if extra else []
        raise BundleError(f"{where}: {'; '.join(parts)}")


def parse_type(data: Any, where: str, depth: int = 0) -> Type:
    """Read a JSON type descriptor strictly; raise :class:`BundleError` on anything else."""
    if depth > MAX_DEPTH:
        raise BundleError(f"{where}: types nest more than {MAX_DEPTH} levels deep")
    if type(data) is not dict:
        raise BundleError(f"{where}: a type must be an object, not {_describe(data)}")
    kind = data.get("kind")
    if kind == "int":
        _check_keys(data, {"kind", "width", "signed"}, where)
        width, signed = data["width"], data["signed"]
        if not (_exact_int(width) and 1 <= width <= MAX_WIDTH):
            raise BundleError(f"{where}: an int width must be an integer from 1 to {MAX_WIDTH}, "
                              f"not {_describe(width)}")
        if type(signed) is not bool:
            raise BundleError(f"{where}: `signed` must be true or false, not {_describe(signed)}")
        return IntT(width, signed)
    if kind == "bool":
        _check_keys(data, {"kind"}, where)
        return BoolT()
    if kind == "record":
        _check_keys(data, {"kind", "name", "fields"}, where)
        name, fields = data["name"], data["fields"]
        if not _is_name(name):
            raise BundleError(f"{where}: a record name must be an identifier, not "
                              f"{_describe(name)}")
        if type(fields) is not list or not fields:
            raise BundleError(f"{where}: record {name} needs a non-empty list of fields")
        parsed: list[tuple[str, Type]] = []
        for i, f in enumerate(fields):
            fwhere = f"{where}: record {name} field {i}"
            if type(f) is not dict:
                raise BundleError(f"{fwhere}: must be an object, not {_describe(f)}")
            _check_keys(f, {"name", "type"}, fwhere)
            if not _is_name(f["name"]):
                raise BundleError(f"{fwhere}: the name must be an identifier, not "
                                  f"{_describe(f['name'])}")
            if any(f["name"] == n for n, _ in parsed):
                raise BundleError(f"{fwhere}: duplicate field {f['name']}")
            parsed.append((f["name"], parse_type(f["type"], f"{where}.{f['name']}", depth + 1)))
        return RecordT(name, tuple(parsed))
    if kind == "array":
        _check_keys(data, {"kind", "elem", "length"}, where)
        length = data["length"]
        if not (_exact_int(length) and length >= 1):
            raise BundleError(f"{where}: an array length must be a positive integer, not "
                              f"{_describe(length)}")
        return ArrayT(parse_type(data["elem"], f"{where}[]", depth + 1), length)
    raise BundleError(f"{where}: unknown type kind {_describe(kind)}")


def leaf_count(t: Type) -> int:
    """Return how many scalar leaves ``t`` has, without listing them."""
    if isinstance(t, RecordT):
        return sum(leaf_count(ft) for _, ft in t.fields)
    if isinstance(t, ArrayT):
        return t.length * leaf_count(t.elem)
    return 1


def leaves(t: Type, prefix: str) -> list[tuple[str, ScalarT]]:
    """Flatten ``t`` into ``(path, scalar type)`` leaves in port order."""
    if isinstance(t, RecordT):
        return [leaf for name, ft in t.fields for leaf in leaves(ft, f"{prefix}.{name}")]
    if isinstance(t, ArrayT):
        return [leaf for i in range(t.length) for leaf in leaves(t.elem, f"{prefix}[{i}]")]
    return [(prefix, t)]


# --- messages ----------------------------------------------------------------------------------


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(value: Any) -> str:
    """Describe a refused value in a few words: ``the string 'abc'``, ``a list of 3 elements``."""
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return f"the bool {bool(value)}"
    if isinstance(value, str):
        return f"the string {_short(repr(value))}"
    if isinstance(value, float):
        return f"the float {_short(repr(value))}"
    if isinstance(value, int):
        return f"the integer {_short(str(value))}"
    if isinstance(value, dict):
        return f"a dict of {len(value)} keys" if len(value) != 1 else "a dict of 1 key"
    if isinstance(value, (list, tuple)):
        n = len(value)
        return f"a {type(value).__name__} of {n} element{'s' if n != 1 else ''}"
    return f"a {type(value).__name__}"


def _key(key: Any) -> str:
    return key if isinstance(key, str) else repr(key)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# --- one request -------------------------------------------------------------------------------

_NOT_A_RECORD = (int, float, complex, str, bytes, list, tuple, dict, type(None))
_SEQUENCES = (list, tuple, np.ndarray)


def _as_int(t: ScalarT, value: Any, path: str) -> int:
    """Return ``value`` as a Python int of type ``t``, or refuse it."""
    if type(value) is not int:
        if isinstance(value, (bool, np.bool_)):
            if t.width != 1 or t.signed:
                raise RequestError(f"`{path}` must be an integer, not {_describe(value)} "
                                   f"(true and false are accepted only for bool and u1)", path)
            value = int(value)
        elif hasattr(type(value), "__index__"):
            value = operator.index(value)
        elif isinstance(t, BoolT):
            raise RequestError(f"`{path}` must be a bool (true, false, 0 or 1), not "
                               f"{_describe(value)}", path)
        else:
            raise RequestError(f"`{path}` must be an integer, not {_describe(value)}", path)
    if not t.lo <= value <= t.hi:
        if isinstance(t, BoolT):
            raise RequestError(f"`{path}` must be a bool (true, false, 0 or 1), not "
                               f"{_short(str(value))}", path)
        raise RequestError(f"`{path}` must fit {t} ({t.lo} to {t.hi}), not {_short(str(value))}",
                           path)
    return value


def _flatten(t: Type, value: Any, path: str, out: list[int]) -> None:
    """Append the leaves of ``value`` (of type ``t``, at ``path``) to ``out``."""
    if isinstance(t, (IntT, BoolT)):
        out.append(_as_int(t, value, path))
    elif isinstance(t, RecordT):
        if isinstance(value, dict):
            if len(value) != len(t.fields):
                names = {n for n, _ in t.fields}
                for k in value:
                    if k not in names:
                        raise RequestError(f"`{_join(path, _key(k))}` is not a field of "
                                           f"`{t.name}`", _join(path, _key(k)))
            for name, ft in t.fields:
                if name not in value:
                    raise RequestError(f"`{path}.{name}` is missing", f"{path}.{name}")
                _flatten(ft, value[name], f"{path}.{name}", out)
        elif isinstance(value, _NOT_A_RECORD) or isinstance(value, (bool, np.generic)):
            fields = ", ".join(f"`{n}`" for n, _ in t.fields)
            raise RequestError(f"`{path}` must be a `{t.name}` record (a dict or an object with "
                               f"fields {fields}), not {_describe(value)}", path)
        else:
            for name, ft in t.fields:
                field = getattr(value, name, _MISSING)
                if field is _MISSING:
                    raise RequestError(f"`{path}.{name}` is missing", f"{path}.{name}")
                _flatten(ft, field, f"{path}.{name}", out)
    else:
        if not isinstance(value, _SEQUENCES) or getattr(value, "ndim", 1) != 1:
            raise RequestError(f"`{path}` must be an array of {t.length} elements, not "
                               f"{_describe(value)}", path)
        if len(value) != t.length:
            raise RequestError(f"`{path}` must have {t.length} elements, not {len(value)}", path)
        for i, elem in enumerate(value):
            _flatten(t.elem, elem, f"{path}[{i}]", out)


_MISSING = object()


class _Slow(Exception):
    """The fast column path cannot vouch for a batch; take the per-request path."""


# --- the signature -----------------------------------------------------------------------------

RecordFactory = Callable[..., Any]


class Signature:
    """A route's parameters and return type: checks requests and builds responses."""

    def __init__(self, route: str, params: Sequence[tuple[str, Type]], returns: Type,
                 factories: Mapping[str, RecordFactory] | None = None):
        self.route = route
        self.params = list(params)
        self.returns = returns
        self.factories = dict(factories or {})
        self.names = [n for n, _ in self.params]
        self.param_leaves = [leaf for n, t in self.params for leaf in leaves(t, n)]
        self.return_leaves = leaves(returns, "return")
        #: Per leaf, how its column travels: "i" int64, "u" uint64, "o" object (Python ints).
        self.param_kinds = [column_kind(t.lo, t.hi) for _, t in self.param_leaves]
        self.return_kinds = [column_kind(t.lo, t.hi) for _, t in self.return_leaves]
        self._getter = operator.itemgetter(*self.names) if self.names else None

    # -- one request ----------------------------------------------------------------------------

    def _from_mapping(self, mapping: Mapping[str, Any]) -> list[int]:
        if len(mapping) != len(self.params):
            for k in mapping:
                if k not in self.names:
                    listed = ", ".join(f"`{n}`" for n in self.names) or "none"
                    raise RequestError(f"`{_key(k)}` is not a parameter of `{self.route}` "
                                       f"(its parameters: {listed})", _key(k))
        out: list[int] = []
        for name, t in self.params:
            if name not in mapping:
                raise RequestError(f"`{name}` is missing", name)
            _flatten(t, mapping[name], name, out)
        return out

    def _from_positional(self, args: Sequence[Any]) -> list[int]:
        if len(args) != len(self.params):
            n = len(self.params)
            raise RequestError(f"`{self.route}` takes {n} argument{'s' if n != 1 else ''}, "
                               f"not {len(args)}")
        out: list[int] = []
        for (name, t), value in zip(self.params, args):
            _flatten(t, value, name, out)
        return out

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> list[int]:
        """Return the leaves of a Python call ``route(*args, **kwargs)``."""
        if not kwargs:
            return self._from_positional(args)
        if len(args) > len(self.params):
            return self._from_positional(args)  # refuses with the argument count
        values = dict(zip(self.names, args))
        for k, v in kwargs.items():
            if k in values:
                raise RequestError(f"`{k}` is given twice", k)
            values[k] = v
        return self._from_mapping(values)

    def from_request(self, request: Any) -> list[int]:
        """Return the leaves of one request: a dict keyed by parameter or a positional tuple."""
        if isinstance(request, dict):
            return self._from_mapping(request)
        if isinstance(request, (tuple, list)):
            return self._from_positional(request)
        raise RequestError(f"a request must be a dict keyed by parameter name or a tuple of "
                           f"positional arguments, not {_describe(request)}")

    def check_leaves(self, values: Mapping[str, Any]) -> list[int]:
        """Return the leaves given by path (``{"p.r": 1, ...}``) in port order, checked."""
        paths = [p for p, _ in self.param_leaves]
        for k in values:
            if k not in paths:
                raise RequestError(f"`{_key(k)}` is not a leaf of `{self.route}`'s request",
                                   _key(k))
        out = []
        for path, t in self.param_leaves:
            if path not in values:
                raise RequestError(f"`{path}` is missing", path)
            out.append(_as_int(t, values[path], path))
        return out

    # -- many requests --------------------------------------------------------------------------

    def columns(self, requests: Sequence[Any]) -> list[np.ndarray]:
        """Return one array per leaf for ``requests``; refuse the first bad one.

        Columns are ``int64`` where the leaf's type fits, ``uint64`` for ``u64``,
        else object arrays of Python ints. A :class:`RequestError` carries the
        request's index.
        """
        with _no_gc():
            try:
                return self._fast_columns(requests)
            except _Slow:
                pass
            rows = []
            for i, request in enumerate(requests):
                try:
                    rows.append(self.from_request(request))
                except RequestError as e:
                    raise e.at(i) from None
            return self._rows_to_columns(rows)

    def columns_isolated(self, requests: Sequence[Any]
                         ) -> tuple[list[np.ndarray], dict[int, RequestError]]:
        """Return the columns of the good requests and the error of each bad one, by index."""
        with _no_gc():
            try:
                return self._fast_columns(requests), {}
            except _Slow:
                pass
            rows, errors = [], {}
            for i, request in enumerate(requests):
                try:
                    rows.append(self.from_request(request))
                except RequestError as e:
                    errors[i] = e
            return self._rows_to_columns(rows), errors

    def _rows_to_columns(self, rows: list[list[int]]) -> list[np.ndarray]:
        if not rows:
            return [np.zeros(0, _DTYPES[kind]) for kind in self.param_kinds]
        return [_exact_array(col, kind) for col, kind in zip(zip(*rows), self.param_kinds)]

    def _fast_columns(self, requests: Sequence[Any]) -> list[np.ndarray]:
        # Everything here runs as C-level loops over the batch (map, set, itemgetter); any
        # doubt raises _Slow, and the per-request path then accepts or refuses precisely.
        if not len(requests):
            return self._rows_to_columns([])
        kinds = set(map(type, requests))
        if not kinds <= {dict, tuple, list} or set(map(len, requests)) != {len(self.params)}:
            raise _Slow
        if kinds == {dict}:
            keys: Sequence[Any] = self.names
        elif dict not in kinds:
            keys = range(len(self.params))
        else:
            raise _Slow
        leaf_columns: list[Sequence[Any]] = []
        for (_, t), key in zip(self.params, keys):
            try:
                column = list(map(operator.itemgetter(key), requests))
            except KeyError:
                raise _Slow from None
            _gather(t, column, leaf_columns)
        return [_leaf_array(t, col, kind) for (_, t), col, kind
                in zip(self.param_leaves, leaf_columns, self.param_kinds)]

    # -- responses ------------------------------------------------------------------------------

    def response(self, values: Sequence[int]) -> Any:
        """Rebuild one response from its output leaves, in port order."""
        return _build_one(self.returns, iter(values), self.factories)

    def responses(self, columns: Sequence[list[int]]) -> list[Any]:
        """Rebuild many responses from output leaf columns (lists of Python ints)."""
        with _no_gc():
            return _build_many(self.returns, iter(columns), self.factories)


@contextmanager
def _no_gc():
    """Pause the cycle collector while building many small containers.

    Creating a million tuples or dicts would otherwise trigger thousands of
    collections that each scan the young objects; none of them can free
    anything here, and they cost several times the work itself.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_INT_ONLY = frozenset({int})
_INT_OR_BOOL = frozenset({int, bool})


def _gather(t: Type, column: list[Any], out: list[Sequence[Any]]) -> None:
    """Split a column of values of type ``t`` into leaf columns; ``_Slow`` on any doubt."""
    if isinstance(t, (IntT, BoolT)):
        out.append(column)
        return
    kinds = set(map(type, column))
    if isinstance(t, RecordT):
        if kinds == {dict}:
            if set(map(len, column)) != {len(t.fields)}:
                raise _Slow
            getter: Callable[[str], Any] = operator.itemgetter
            missing: type[Exception] = KeyError
        elif not any(issubclass(k, _NOT_A_RECORD) or issubclass(k, (bool, np.generic))
                     for k in kinds):
            getter, missing = operator.attrgetter, AttributeError
        else:
            raise _Slow
        for name, ft in t.fields:
            try:
                field_column = list(map(getter(name), column))
            except missing:
                raise _Slow from None
            _gather(ft, field_column, out)
        return
    if not kinds <= {list, tuple} or set(map(len, column)) != {t.length}:
        raise _Slow
    for i in range(t.length):
        _gather(t.elem, list(map(operator.itemgetter(i), column)), out)


def _leaf_array(t: ScalarT, column: Sequence[Any], kind: str) -> np.ndarray:
    """Return a checked leaf column as an array; ``_Slow`` if any value needs a closer look."""
    allowed = _INT_OR_BOOL if t.width == 1 and not t.signed else _INT_ONLY
    if not set(map(type, column)) <= allowed:
        raise _Slow
    if kind == "o":
        if min(column) < t.lo or max(column) > t.hi:
            raise _Slow
        return _exact_array(column, "o")
    try:
        array = np.fromiter(column, dtype=_DTYPES[kind], count=len(column))
    except OverflowError:  # outside int64 (or uint64): out of range too
        raise _Slow from None
    if (t.lo, t.hi) not in _FULL_RANGES and (array.min() < t.lo or array.max() > t.hi):
        raise _Slow
    return array


_FULL_RANGES = {(INT64_MIN, INT64_MAX), (0, (1 << 64) - 1)}


def _exact_array(column: Sequence[int], kind: str) -> np.ndarray:
    """Return a column of checked Python ints as an array of its kind."""
    if kind != "o":
        return np.fromiter(column, dtype=_DTYPES[kind], count=len(column))
    array = np.empty(len(column), dtype=object)
    array[:] = column
    return array


def _build_one(t: Type, it, factories: Mapping[str, RecordFactory]) -> Any:
    if isinstance(t, RecordT):
        fields = {name: _build_one(ft, it, factories) for name, ft in t.fields}
        factory = factories.get(t.name)
        return fields if factory is None else factory(**fields)
    if isinstance(t, ArrayT):
        return [_build_one(t.elem, it, factories) for _ in range(t.length)]
    return next(it)


def _build_many(t: Type, it, factories: Mapping[str, RecordFactory]) -> list[Any]:
    if isinstance(t, RecordT):
        names = tuple(name for name, _ in t.fields)
        children = [_build_many(ft, it, factories) for _, ft in t.fields]
        factory = factories.get(t.name)
        if factory is None:
            return list(map(dict, map(zip, repeat(names), zip(*children))))
        return [factory(**dict(zip(names, values))) for values in zip(*children)]
    if isinstance(t, ArrayT):
        children = [_build_many(t.elem, it, factories) for _ in range(t.length)]
        return list(map(list, zip(*children)))
    return next(it)
