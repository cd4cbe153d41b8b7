"""The bit-exact software model of an app, built from its IR document."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any

import numpy as np

from ._codegen import CompiledRoute, compile_route
from ._document import ProgramDoc, RouteDoc, read_document
from ._errors import RequestError
from ._values import _DTYPES, RecordFactory, RecordT, Signature, Type

__all__ = ["RouteModel", "AppModel", "model_from_ir"]

#: Requests per slice of ``batch``: big enough to amortize numpy's per-call cost, small
#: enough that the columns of one slice stay in cache and bound temporary memory.
BATCH_SLICE = 1 << 16
#: Rows per call of the generated batch function.
BLOCK = 1 << 13


class RouteModel:
    """The software model of one route: call it, or run many requests with ``batch``/``stream``.

    Requests are checked, never wrapped: a value that does not fit its
    parameter's type is refused with a :class:`RequestError` naming its path.
    """

    def __init__(self, route: RouteDoc, factories: Mapping[str, RecordFactory] | None = None):
        self.path = route.path
        self.name = route.name
        self.doc = route.doc
        self.params: list[tuple[str, Type]] = list(route.params)
        self.returns: Type = route.returns
        self.signature = Signature(route.name, route.params, route.returns, factories)
        #: Leaf paths of the request and of the response, in port order.
        self.param_paths = [p for p, _ in self.signature.param_leaves]
        self.output_paths = [p for p, _ in self.signature.return_leaves]
        self._compiled: CompiledRoute = compile_route(
            route, self.param_paths, self.signature.param_kinds,
            self.output_paths, self.signature.return_kinds)
        self._scalar = self._compiled.scalar
        self._batch = self._compiled.batch

    def __repr__(self) -> str:
        return f"<RouteModel {self.path} {self.name}>"

    def with_records(self, records: Mapping[str, RecordFactory]) -> RouteModel:
        """Return this route's model building response records with ``records`` (by name).

        Each factory is called with a record's fields as keywords, e.g. a
        handler module's ``Record`` classes; records not named stay dicts.
        """
        clone = copy.copy(self)
        sig = self.signature
        clone.signature = Signature(sig.route, sig.params, sig.returns,
                                    {**sig.factories, **records})
        return clone

    # -- one request ----------------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run one request given as Python arguments; return the response."""
        sig = self.signature
        return sig.response(self._scalar(*sig.bind(args, kwargs)))

    def handle(self, request: Any) -> Any:
        """Run one request given as a dict keyed by parameter or a positional tuple."""
        sig = self.signature
        return sig.response(self._scalar(*sig.from_request(request)))

    def run_leaves(self, leaves: Mapping[str, Any]) -> dict[str, int]:
        """Run one request given as leaves (``{"p.r": 10, ...}``); return the output leaves."""
        outputs = self._scalar(*self.signature.check_leaves(leaves))
        return dict(zip(self.output_paths, outputs))

    # -- many requests --------------------------------------------------------------------------

    def run_columns(self, columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Run the batch model on leaf columns; return the output leaf columns.

        This is the raw model: values are taken as given, not checked against
        their types. A leaf column travels as ``int64`` where the leaf's type
        fits ``int64``, as ``uint64`` for ``u64``, else as an object array of
        Python ints; inputs are converted to that form, outputs returned in it.
        """
        extra = set(columns) - set(self.param_paths)
        if extra:
            raise ValueError(f"unknown columns: {', '.join(sorted(extra))}")
        arrays, n = [], None
        for path, kind in zip(self.param_paths, self.signature.param_kinds):
            if path not in columns:
                raise ValueError(f"column {path!r} is missing")
            array = np.ascontiguousarray(np.asarray(columns[path]).astype(_DTYPES[kind],
                                                                            copy=False))
            if array.ndim != 1 or (n is not None and len(array) != n):
                raise ValueError(f"column {path!r} must be one-dimensional, of the same "
                                 f"length as the others")
            n = len(array)
            arrays.append(array)
        return dict(zip(self.output_paths, self._run(arrays, n or 0)))

    def _run(self, arrays: Sequence[np.ndarray], n: int) -> tuple[np.ndarray, ...]:
        if arrays:
            n = len(arrays[0])
        if n <= BLOCK:
            return self._batch(n, *arrays)
        # Run cache-sized blocks: a route's intermediate columns then stay in the CPU cache.
        parts = [self._batch(min(BLOCK, n - start), *(a[start:start + BLOCK] for a in arrays))
                 for start in range(0, n, BLOCK)]
        return tuple(np.concatenate(columns) for columns in zip(*parts))

    def _responses(self, arrays: Sequence[np.ndarray], n: int) -> list[Any]:
        outputs = self._run(arrays, n)
        return self.signature.responses([column.tolist() for column in outputs])

    def batch(self, requests: Iterable[Any]) -> list[Any]:
        """Run many requests (dicts keyed by parameter, or positional tuples); keep the order.

        A bad request refuses the whole batch with a :class:`RequestError`
        whose ``index`` is the request's position.
        """
        if not isinstance(requests, (list, tuple)):
            requests = list(requests)
        results: list[Any] = []
        for start in range(0, len(requests), BATCH_SLICE):
            part = requests[start:start + BATCH_SLICE]
            try:
                arrays = self.signature.columns(part)
            except RequestError as e:
                raise e.at(start + (e.index or 0)) from None
            results += self._responses(arrays, len(part))
        return results

    def stream(self, requests: Iterable[Any], chunk: int = 4096) -> Iterator[Any]:
        """Yield the responses to an iterable of requests lazily, in order, ``chunk`` at a time."""
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, not {chunk}")
        it = iter(requests)
        done = 0
        while True:
            part = list(islice(it, chunk))
            if not part:
                return
            try:
                arrays = self.signature.columns(part)
            except RequestError as e:
                raise e.at(done + (e.index or 0)) from None
            yield from self._responses(arrays, len(part))
            done += len(part)

    def run_isolated(self, requests: Sequence[Any]) -> list[tuple[bool, Any]]:
        """Run many requests through the batch path, refusing bad ones one by one.

        Return, in order, ``(True, response)`` or ``(False, RequestError)`` per request.
        """
        arrays, errors = self.signature.columns_isolated(requests)
        good = self._responses(arrays, len(requests) - len(errors))
        results: list[tuple[bool, Any]] = []
        it = iter(good)
        for i in range(len(requests)):
            error = errors.get(i)
            results.append((False, error) if error is not None else (True, next(it)))
        return results

    # -- introspection --------------------------------------------------------------------------

    @property
    def scalar_source(self) -> str:
        """The generated scalar function's source."""
        return self._compiled.scalar_source

    @property
    def batch_source(self) -> str:
        """The generated batch function's source."""
        return self._compiled.batch_source


class AppModel:
    """The software model of an app: one :class:`RouteModel` per route."""

    def __init__(self, program: ProgramDoc,
                 records: Mapping[str, RecordFactory] | None = None):
        self.app = program.app
        self.file = program.file
        self.records: dict[str, RecordT] = dict(program.records)
        #: Route models by URL path, in the document's order.
        self.routes: dict[str, RouteModel] = {
            r.path: RouteModel(r, records) for r in program.routes}

    def route(self, path_or_name: str) -> RouteModel:
        """Return a route by its URL path or its handler name."""
        for model in self.routes.values():
            if path_or_name in (model.path, model.name):
                return model
        known = ", ".join(f"{m.path} ({m.name})" for m in self.routes.values()) or "none"
        raise KeyError(f"app {self.app!r} has no route {path_or_name!r}; its routes: {known}")

    def __repr__(self) -> str:
        return f"<AppModel {self.app}: {', '.join(self.routes)}>"


def model_from_ir(doc: Any, *, records: Mapping[str, RecordFactory] | None = None) -> AppModel:
    """Build the software model of an app from its IR document (``ir.json``, parsed).

    The document is untrusted data: it is validated completely and refused
    with a :class:`BundleError` if anything is off. ``records`` optionally
    maps record names to factories (called with the fields as keywords) that
    build record values in responses; by default records come back as dicts.
    """
    return AppModel(read_document(doc), records)
