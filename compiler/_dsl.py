"""The names a handler module imports from ``fpgac``.

These objects make a handler module importable as ordinary Python: types are
callable casts, records are small value classes, and ``@app.post`` leaves a
callable that runs the bit-exact software model. None of this module imports
the compiler; the first call of a handler compiles its module lazily.
"""

from __future__ import annotations

import builtins
from typing import Any

__all__ = [
    "IntType", "uint", "sint", "Record", "Array", "ArrayType", "Table", "App", "Handler",
    "bits", "concat", "popcount", "clz", "ctz", "rotl", "rotr", "reverse_bits",
]


class IntType:
    """An N-bit integer type; calling it wraps a value, like a cast in a handler."""

    __slots__ = ("width", "signed")

    def __init__(self, width: int, signed: bool):
        if not isinstance(width, int) or isinstance(width, builtins.bool) or width < 1:
            raise ValueError(f"an integer type needs a width of at least 1, not {width!r}")
        self.width = width
        self.signed = signed

    @property
    def min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    def __call__(self, value: int) -> int:
        value = int(value) & ((1 << self.width) - 1)
        if self.signed and value >> (self.width - 1):
            value -= 1 << self.width
        return value

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, IntType)
                and (self.width, self.signed) == (other.width, other.signed))

    def __hash__(self) -> int:
        return hash((self.width, self.signed))

    def __repr__(self) -> str:
        return f"{'i' if self.signed else 'u'}{self.width}"


def uint(width: int) -> IntType:
    """Return the unsigned type of ``width`` bits."""
    return IntType(width, False)


def sint(width: int) -> IntType:
    """Return the two's complement signed type of ``width`` bits."""
    return IntType(width, True)


class ArrayType:
    """``Array[T, N]``: N elements of type T."""

    __slots__ = ("elem", "length")

    def __init__(self, elem: Any, length: int):
        self.elem = elem
        self.length = length

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArrayType) and (self.elem, self.length) == (
            other.elem, other.length)

    def __hash__(self) -> int:
        return hash((self.elem, self.length))

    def __repr__(self) -> str:
        elem = getattr(self.elem, "__name__", repr(self.elem))
        return f"Array[{elem}, {self.length}]"


class _ArrayMeta(type):
    def __getitem__(cls, item):
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError("write `Array[T, N]`, e.g. `Array[u8, 4]`")
        return ArrayType(item[0], item[1])


class Array(metaclass=_ArrayMeta):
    """Write ``Array[u8, 4]`` for four ``u8`` elements."""


class Record:
    """Base class of packed records: ``class RGB(Record): r: u8; g: u8; b: u8``."""

    __fields__: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__fields__ = tuple(cls.__dict__.get("__annotations__", {}))

    def __init__(self, **values: Any):
        missing = [f for f in self.__fields__ if f not in values]
        extra = [k for k in values if k not in self.__fields__]
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing " + ", ".join(f"`{m}`" for m in missing))
            if extra:
                parts.append("unknown " + ", ".join(f"`{e}`" for e in extra))
            raise TypeError(f"{type(self).__name__}(...) needs every field by keyword: "
                            + "; ".join(parts))
        for name in self.__fields__:
            object.__setattr__(self, name, values[name])

    def _asdict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__fields__}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._asdict() == other._asdict()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self._asdict().items()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._asdict().items())
        return f"{type(self).__name__}({inner})"


class Table:
    """A module-level constant table, read as ``NAME[i]`` (0 outside it); becomes a ROM."""

    __slots__ = ("type", "values")

    def __init__(self, type: Any, values: list[int]):
        self.type = type
        self.values = tuple(values)

    def __getitem__(self, index: int) -> int:
        return self.values[index] if 0 <= index < len(self.values) else 0

    def __len__(self) -> int:
        return len(self.values)


class Handler:
    """A route's handler: call it, or use ``.batch`` / ``.stream``, to run the software model."""

    def __init__(self, app: App, path: str, func):
        self.app = app
        self.path = path
        self.func = func
        self.__name__ = func.__name__
        self.__qualname__ = func.__qualname__
        self.__doc__ = func.__doc__
        self.__module__ = func.__module__
        self.__wrapped__ = func

    def _model(self):
        # Compiled once per handler; the module's source does not change under a running import.
        model = self.__dict__.get("_compiled")
        if model is None:
            from ._handlers import route_model

            model = self._compiled = route_model(self)
        return model

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._model()(*args, **kwargs)

    def batch(self, requests):
        """Run many requests; return the responses in order."""
        return self._model().batch(requests)

    def stream(self, requests):
        """Run an iterable of requests lazily; yield the responses in order."""
        return self._model().stream(requests)

    def __repr__(self) -> str:
        return f"<fpgac handler {self.path} {self.__name__}>"


class App:
    """An app of routes; its name becomes the name of the bundle's Python package."""

    def __init__(self, name: str):
        self.name = name
        self.routes: dict[str, Handler] = {}

    def post(self, path: str):
        """Register a handler for ``path``: ``@app.post("/luma")``."""

        def decorate(func) -> Handler:
            if path in self.routes:
                raise ValueError(f"route {path!r} is already registered in app {self.name!r}")
            handler = Handler(self, path, func)
            self.routes[path] = handler
            return handler

        return decorate

    route = post

    def __repr__(self) -> str:
        return f"App({self.name!r})"


# --- intrinsics, for use outside handlers on plain integers -----------------------------------
# Inside a handler the compiler gives them their exact meaning from static types. Outside,
# the ones whose result depends on an operand's width take that width explicitly.


def bits(x: int, lo: int, width: int) -> int:
    """Return ``(x >> lo)`` wrapped to ``uint(width)``."""
    return (x >> lo) & ((1 << width) - 1)


def _needs_width(name: str):
    def fn(*args, **kwargs):
        raise TypeError(f"`{name}()` depends on the static type of its operand and works only "
                        f"inside a handler; call the handler instead")
    fn.__name__ = name
    return fn


concat = _needs_width("concat")
clz = _needs_width("clz")
ctz = _needs_width("ctz")
rotl = _needs_width("rotl")
rotr = _needs_width("rotr")
reverse_bits = _needs_width("reverse_bits")


def popcount(x: int) -> int:
    """Return the number of set bits of a non-negative ``x``."""
    if x < 0:
        raise ValueError("popcount() of a negative value depends on its width; "
                         "use it inside a handler")
    return bin(x).count("1")
