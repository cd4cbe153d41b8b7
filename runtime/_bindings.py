"""Host bindings: record classes, route docstrings, and the bundle's generated ``__init__.py``.

The generated module is plain Python that a user may read: one record class
per record with annotated fields, one typed function per route with a
docstring, each delegating to :func:`fpgac.runtime.load` on the bundle's own
folder. Every identifier in it comes from a checked name (see
``_manifest.check_name``); every other text — paths, docstrings, versions —
enters only through ``repr()``.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from ._manifest import RouteInfo, annotation_text, check_body, type_text
from ._values import ArrayT, BoolT, RecordT, Type

__all__ = ["RecordValue", "make_record_classes", "annotation", "route_doc", "record_doc",
           "bindings_source"]


class RecordValue:
    """Base class of the record classes of a loaded bundle: ``RGB(r=10, g=20, b=30)``.

    Subclasses declare their fields as annotations, in declaration order.
    Records are built with every field by keyword, compare equal when of the
    same class with equal fields, and print as their constructor call.
    Field values are not checked here: a route refuses a value that does not
    fit its field when the record is sent, naming the field (``p.r``).
    """

    # Not annotated: the annotations of a record class are exactly its fields.
    __fields__ = ()

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        cls.__fields__ = tuple(cls.__dict__.get("__annotations__", {}))

    def __init__(self, **values: Any):
        missing = [f for f in self.__fields__ if f not in values]
        extra = [k for k in values if k not in self.__fields__]
        if missing or extra:
            parts = (["missing " + ", ".join(f"`{m}`" for m in missing)] if missing else []) \
                + (["unknown " + ", ".join(f"`{e}`" for e in extra)] if extra else [])
            raise TypeError(f"{type(self).__name__}(...) needs every field by keyword: "
                            + "; ".join(parts))
        for name in self.__fields__:
            setattr(self, name, values[name])

    def _asdict(self) -> dict[str, Any]:
        """Return the fields as a dict, nested records and arrays included (JSON-ready)."""
        return {f: _plain(getattr(self, f)) for f in self.__fields__}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self.__fields__)

    def __hash__(self) -> int:
        return hash((type(self).__name__, *(_frozen(getattr(self, f)) for f in self.__fields__)))

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__fields__)
        return f"{type(self).__name__}({inner})"


def _plain(value: Any) -> Any:
    if isinstance(value, RecordValue):
        return value._asdict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _frozen(value: Any) -> Any:
    return tuple(map(_frozen, value)) if isinstance(value, list) else value


def annotation(t: Type, classes: Mapping[str, type]) -> Any:
    """Return the Python annotation of a type, with record classes from ``classes``."""
    if isinstance(t, RecordT):
        return classes.get(t.name, dict)
    if isinstance(t, ArrayT):
        return list[annotation(t.elem, classes)]
    return bool if isinstance(t, BoolT) else int


def record_doc(t: RecordT) -> str:
    """Return a record class's docstring: its fields and their fpgac types."""
    fields = ", ".join(f"{name}: {type_text(ft)}" for name, ft in t.fields)
    return (f"The fpgac record {t.name} ({fields}); the first field is in the least "
            f"significant bits.")


def make_record_classes(records: Mapping[str, RecordT], module: str = __name__
                        ) -> dict[str, type]:
    """Create one :class:`RecordValue` subclass per record (records given nested first).

    The classes say they come from ``module`` (the app's name, as the bindings do).
    """
    classes: dict[str, type] = {}
    for name, t in records.items():
        namespace = {
            "__annotations__": {f: annotation(ft, classes) for f, ft in t.fields},
            "__doc__": record_doc(t),
            "__module__": module,
            "__qualname__": name,
        }
        classes[name] = type(name, (RecordValue,), namespace)
    return classes


def route_doc(route: RouteInfo, clock_mhz: float | None) -> str:
    """Return a route function's docstring: the handler's doc, its signature and timing."""
    lines = [route.doc.strip() if route.doc and route.doc.strip() else
             f"Run one request of the route {route.path}."]
    params = ", ".join(f"{n}: {type_text(t)}" for n, t in route.params)
    lines += ["", f"Route {route.path}: {route.name}({params}) -> {type_text(route.returns)}."]
    if route.latency is None:
        lines.append("Latency: not scheduled.")
    else:
        cycles = f"{route.latency} cycle{'s' if route.latency != 1 else ''}"
        if clock_mhz:
            cycles += f" ({route.latency * 1e3 / clock_mhz:.4g} ns at {clock_mhz:g} MHz)"
        lines.append(f"Latency: {cycles}.")
    if route.ii is not None:
        every = "every clock" if route.ii == 1 else f"every {route.ii} clocks"
        lines.append(f"Initiation interval: {route.ii} (a new request {every}).")
    lines += ["", "Call it with one request; `.batch(list)` runs many and `.stream(iterable)` "
                  "yields responses lazily, both in order."]
    return "\n".join(lines)


def _literal(text: str, indent: str) -> list[str]:
    """Return source lines of a parenthesized string literal equal to ``text``, via repr()."""
    parts = text.splitlines(keepends=True) or [""]
    return [f"{indent}("] + [f"{indent}    {part!r}" for part in parts] + [f"{indent})"]


def bindings_source(manifest: Mapping[str, Any]) -> str:
    """Return the text of a bundle's ``__init__.py`` for a (validated) manifest.

    ``files`` and ``bundle_hash`` are not needed: the bindings are written
    before the manifest is complete.
    """
    routes, records = check_body(dict(manifest), complete="files" in manifest)
    app = manifest["app"]
    clock = manifest["clock_mhz"]
    out: list[str] = []
    summary = "\n".join(f"    {r.path}  {r.name}("
                        + ", ".join(f"{n}: {type_text(t)}" for n, t in r.params)
                        + f") -> {type_text(r.returns)}" for r in routes)
    doc = (f"Host bindings of the fpgac app {app}: one function per route.\n\n"
           f"Generated by fpgac {manifest['fpgac_version']}; do not edit. Each function runs "
           f"requests on the best device present, with the bit-exact software model built "
           f"from ir.json as the fallback; the bundle is loaded once, on import.\n\n"
           f"Routes:\n{summary}\n")
    out += _literal(doc, "")
    out += ["", "import os as _fpgac_os", "",
            "from fpgac.runtime import RecordValue as _fpgac_RecordValue",
            "from fpgac.runtime import load as _fpgac_load", ""]
    names = [*records, *(r.name for r in routes)]
    out.append("__all__ = [" + ", ".join(repr(n) for n in names) + "]")
    for name, t in records.items():
        out += ["", "", f"class {name}(_fpgac_RecordValue):"]
        out += _literal(record_doc(t), "    ")
        out.append("")
        for fname, ft in t.fields:
            out.append(f"    {fname}: {annotation_text(ft)}  # {type_text(ft)}")
    records_arg = "{" + ", ".join(f"{name!r}: {name}" for name in records) + "}"
    out += ["", "", "_fpgac_app = _fpgac_load(_fpgac_os.path.dirname(_fpgac_os.path.abspath("
            "__file__)),", f"                         records={records_arg})"]
    for r in routes:
        handle = f"_fpgac_{r.name}"
        params = ", ".join(f"{n}: {annotation_text(t)}" for n, t in r.params)
        out += ["", "", f"{handle} = _fpgac_app.route({r.name!r})", "",
                f"def {r.name}({params}) -> {annotation_text(r.returns)}:"]
        out += _literal(route_doc(r, clock), "    ")
        out.append(f"    return {handle}({', '.join(n for n, _ in r.params)})")
        out += ["", "",
                f"{r.name}.batch = {handle}.batch",
                f"{r.name}.stream = {handle}.stream",
                f"{r.name}.path = {r.path!r}",
                f"{r.name}.latency = {r.latency!r}",
                f"{r.name}.ii = {r.ii!r}"]
    source = "\n".join(out) + "\n"
    ast.parse(source)  # generated from checked names only; a failure here is a bug
    return source
