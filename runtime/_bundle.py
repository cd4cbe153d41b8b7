"""Bundles: finish one (bindings, manifest, hashes) and load one as a set of route functions.

A bundle is data. Loading it checks the manifest, the hash of every listed
file and the agreement of ``ir.json`` with the manifest, then builds the
software model from ``ir.json`` — no Python from the bundle is executed.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._bindings import annotation, bindings_source, make_record_classes, route_doc
from ._devices import BundleData, Device, SoftwareDevice, open_device, pick_device
from ._dispatch import (
    DEFAULT_CHUNK,
    DEFAULT_DEPTH,
    DEFAULT_RETRY_AFTER,
    DEFAULT_TIMEOUT,
    Dispatcher,
)
from ._errors import BundleError
from ._manifest import (
    BODY_KEYS,
    FORMAT,
    ROUTE_KEYS,
    SCHEMA_VERSION,
    RouteInfo,
    check_body,
    check_manifest,
    files_hash,
)
from ._metrics import Metrics
from ._model import AppModel, RouteModel, model_from_ir
from ._values import parse_type

__all__ = ["finish_bundle", "read_manifest", "load", "BundleApp", "RouteFunction"]

MANIFEST = "manifest.json"
BINDINGS = "__init__.py"
#: A manifest larger than this is refused unread.
MAX_MANIFEST_BYTES = 64 << 20


def _fpgac_version() -> str:
    from .. import __version__

    return __version__


# --- writing -----------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _bundle_files(directory: Path) -> dict[str, str]:
    """Hash every file under ``directory`` except the manifest and ``__pycache__`` folders."""
    files: dict[str, str] = {}
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            path = Path(root) / name
            rel = path.relative_to(directory).as_posix()
            if rel in (MANIFEST, f".{MANIFEST}.tmp"):
                continue
            if path.is_symlink() or not path.is_file():
                raise BundleError(f"cannot write the bundle: {rel} is not a regular file")
            files[rel] = _sha256(path)
    return dict(sorted(files.items()))


def _route_entry(route: Any) -> Any:
    """Return a route of ``meta`` in manifest key order, optional keys defaulting to null."""
    if not isinstance(route, Mapping):
        return route  # refused by the manifest check, with its position
    route = {"doc": None, "latency": None, "ii": None, **route}
    return {**{k: route[k] for k in ROUTE_KEYS if k in route}, **route}


def finish_bundle(directory: str | os.PathLike, meta: Mapping[str, Any]) -> dict[str, Any]:
    """Write the host bindings and the manifest of the bundle in ``directory``; return the manifest.

    ``meta`` holds ``app``, ``target``, ``clock_mhz``, ``routes`` (each with
    ``path``, ``name``, ``doc``, ``params``, ``returns``, ``latency``, ``ii``)
    and ``records``; ``ir.json`` and the other files must already be in
    ``directory``. The manifest lists the SHA-256 of every file of the
    bundle (the bindings included) and is written last, so a bundle with a
    manifest is complete.
    """
    directory = Path(directory)
    allowed = {"app", "target", "clock_mhz", "routes", "records"}
    extra = sorted(map(str, set(meta) - allowed))
    if extra:
        raise BundleError(f"cannot write the bundle: unexpected meta keys {', '.join(extra)}")
    routes = [_route_entry(r) for r in meta.get("routes") or []]
    body: dict[str, Any] = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "fpgac_version": _fpgac_version(),
        "app": meta.get("app"),
        "target": meta.get("target"),
        "clock_mhz": meta.get("clock_mhz"),
        "routes": routes,
        "records": dict(meta.get("records") or {}),
    }
    # A JSON round trip: the manifest holds plain JSON values, copied from `meta`.
    body = json.loads(json.dumps(body))
    check_body(body, complete=False)
    ir = _read_json(directory / "ir.json", "ir.json")
    _check_ir(ir, body)
    (directory / BINDINGS).write_text(bindings_source(body), encoding="utf-8")
    files = _bundle_files(directory)
    manifest = {key: body[key] for key in BODY_KEYS}
    manifest["files"] = files
    manifest["bundle_hash"] = files_hash(files)
    text = json.dumps(manifest, indent=2) + "\n"
    # Write then rename: a reader never sees a half-written manifest.
    tmp = directory / f".{MANIFEST}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, directory / MANIFEST)
    return manifest


# --- reading -----------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _read_json(path: Path, what: str) -> Any:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise BundleError(f"{what} is missing from the bundle") from None
    if size > MAX_MANIFEST_BYTES and what == MANIFEST:
        raise BundleError(f"{what} is {size} bytes; a manifest over {MAX_MANIFEST_BYTES} bytes "
                          f"is refused")
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise BundleError(f"{what} is not valid JSON: {e.msg} at line {e.lineno} column "
                          f"{e.colno} (is the file truncated?)") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise BundleError(f"{what} is not valid JSON: {e}") from None


def read_manifest(directory: str | os.PathLike) -> dict[str, Any]:
    """Read and validate ``directory``'s manifest and check every listed file's hash.

    Return the manifest; raise :class:`BundleError` with the reason otherwise.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise BundleError(f"{str(directory)!r} is not a directory, so not an fpgac bundle")
    if not (directory / MANIFEST).is_file():
        raise BundleError(f"{str(directory)!r} is not an fpgac bundle: it has no {MANIFEST} "
                          f"(write one with `fpgac compile`)")
    manifest = _read_json(directory / MANIFEST, MANIFEST)
    _, _, files = check_manifest(manifest)
    root = directory.resolve()
    for rel, digest in files.items():
        path = directory / rel
        if not path.is_file():
            raise BundleError(f"the bundle is incomplete: {rel} is listed in {MANIFEST} but "
                              f"missing")
        if not path.resolve().is_relative_to(root):
            raise BundleError(f"{rel} points outside the bundle directory")
        if _sha256(path) != digest:
            raise BundleError(f"{rel} does not match its hash in {MANIFEST}: the file was "
                              f"altered or damaged after the bundle was written")
    return manifest


def _check_ir(ir: Any, manifest: Mapping[str, Any],
              classes: Mapping[str, type] | None = None) -> AppModel:
    """Check that the IR document is valid and agrees with the manifest; return its model.

    The model builds response records with ``classes`` (by name).
    """
    model = model_from_ir(ir, records=classes)
    routes, _records = check_body(dict(manifest), complete="files" in manifest)
    if model.app != manifest["app"]:
        raise BundleError(f"ir.json is the app {model.app!r}, but the manifest says "
                          f"{manifest['app']!r}")
    ir_routes = list(model.routes.values())
    if [r.path for r in ir_routes] != [r.path for r in routes]:
        raise BundleError(f"ir.json does not match the manifest's routes: ir.json has "
                          f"{[r.path for r in ir_routes]}, the manifest "
                          f"{[r.path for r in routes]}")
    for got, want in zip(ir_routes, routes):
        if got.name != want.name or tuple(got.params) != want.params \
                or got.returns != want.returns:
            raise BundleError(f"ir.json does not match the manifest's route {want.path}: the "
                              f"handler name or signature differs")
    for name, descriptor in manifest["records"].items():
        if model.records.get(name) != parse_type(descriptor, f"record {name!r}"):
            raise BundleError(f"ir.json does not match the manifest's record {name!r}")
    return model


# --- the loaded app ----------------------------------------------------------------------------


class RouteFunction:
    """One route of a loaded bundle, callable like the handler.

    ``f(*args, **kwargs)`` runs one request; ``f.batch(list)`` many, in order;
    ``f.stream(iterable)`` yields responses lazily, in order. Requests are
    checked, never wrapped: a value that does not fit is refused with a
    :class:`RequestError` (a ``ValueError``) naming the field by its path.
    """

    def __init__(self, dispatcher: Dispatcher, model: RouteModel, info: RouteInfo,
                 classes: Mapping[str, type], clock_mhz: float | None):
        self._dispatcher = dispatcher
        self.model = model
        self.path = info.path
        self.name = self.__name__ = self.__qualname__ = info.name
        self.latency = info.latency
        self.ii = info.ii
        self.__doc__ = route_doc(info, clock_mhz)
        self.signature = self.__signature__ = inspect.Signature(
            [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                               annotation=annotation(t, classes)) for n, t in info.params],
            return_annotation=annotation(info.returns, classes))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run one request given as the handler's arguments; return the response."""
        return self._dispatcher.call(self.model, args, kwargs)

    def batch(self, requests: Iterable[Any]) -> list[Any]:
        """Run many requests (dicts keyed by parameter, or tuples of arguments), in order.

        A refused request refuses the whole batch; the error's ``index`` is its position.
        """
        return self._dispatcher.batch(self.model, requests)

    def stream(self, requests: Iterable[Any]) -> Iterator[Any]:
        """Yield the responses to an iterable of requests lazily, in order, in bounded memory.

        A refused request ends the stream with a :class:`RequestError` whose
        ``index`` is its position, after every earlier response.
        """
        return self._dispatcher.stream(self.model, requests)

    @property
    def returns(self) -> Any:
        """The route's return type."""
        return self.model.returns

    def handle(self, request: Any) -> Any:
        """Run one request given as a dict keyed by parameter (or a tuple); return the response."""
        return self._dispatcher.batch(self.model, [request])[0]

    def run_isolated(self, requests: Sequence[Any]) -> list[tuple[bool, Any]]:
        """Run many requests on the device, refusing bad ones one by one.

        Return, in order, ``(True, response)`` or ``(False, RequestError)`` per
        request, as :meth:`RouteModel.run_isolated` does: what ``fpgac run`` and
        the server need to answer every good request of a batch with bad ones.
        """
        _, errors = self.model.signature.columns_isolated(requests)
        good = [r for i, r in enumerate(requests) if i not in errors]
        responses = iter(self._dispatcher.batch(self.model, good) if good else ())
        return [(False, errors[i]) if i in errors else (True, next(responses))
                for i in range(len(requests))]

    def __repr__(self) -> str:
        return f"<route {self.path} {self.name}{self.signature}>"


class BundleApp:
    """A loaded bundle: one :class:`RouteFunction` per route, record classes, devices, metrics.

    Routes are attributes by handler name (``app.luma``) and always reachable
    with ``app.route(path_or_name)``; record classes are attributes by name
    (``app.RGB``) and in ``app.records``. A route named like one of this
    class's own attributes is reachable only through ``route()``.
    """

    def __init__(self, directory: Path, manifest: dict[str, Any], model: AppModel,
                 classes: dict[str, type], dispatcher: Dispatcher, metrics: Metrics,
                 routes: list[RouteInfo]):
        self.directory = directory
        self.manifest = manifest
        self.app = manifest["app"]
        self.bundle_hash: str = manifest["bundle_hash"]
        self.model = model
        self.records = dict(classes)
        self._dispatcher = dispatcher
        self._metrics = metrics
        #: Route functions by URL path, in the manifest's order.
        self.routes: dict[str, RouteFunction] = {
            info.path: RouteFunction(dispatcher, model.route(info.path), info, classes,
                                     manifest["clock_mhz"]) for info in routes}
        self._by_name = {f.name: f for f in self.routes.values()}

    def route(self, path_or_name: str) -> RouteFunction:
        """Return a route by its URL path or its handler name."""
        found = self.routes.get(path_or_name) or self._by_name.get(path_or_name)
        if found is None:
            known = ", ".join(f"{f.path} ({f.name})" for f in self.routes.values()) or "none"
            raise KeyError(f"app {self.app!r} has no route {path_or_name!r}; its routes: "
                           f"{known}")
        return found

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: routes, then record classes.
        if name.startswith("__"):
            raise AttributeError(name)
        by_name = self.__dict__.get("_by_name", {})
        if name in by_name:
            return by_name[name]
        records = self.__dict__.get("records", {})
        if name in records:
            return records[name]
        raise AttributeError(f"app {self.__dict__.get('app')!r} has no route or record "
                             f"{name!r}")

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._by_name, *self.records})

    @property
    def devices(self) -> dict[str, Device]:
        """The devices by name: the chosen one first, the software fallback last."""
        return self._dispatcher.devices

    @property
    def device(self) -> Device:
        """The device new requests go to now (the fallback while the chosen one is unhealthy)."""
        return self._dispatcher.active()

    def health(self) -> dict[str, dict[str, Any]]:
        """Return each device's health report and whether it is in service."""
        return self._dispatcher.health()

    def metrics(self) -> dict[str, Any]:
        """Return the counters: per route path, per device name, and the devices' health.

        ``{"app", "bundle_hash", "devices": {name: health}, "routes": {path: {device:
        {"requests", "refused", "errors", "fallbacks", "calls", "latency_ms": {"p50",
        "p90", "p99"}}}}}``.
        """
        return {"app": self.app, "bundle_hash": self.bundle_hash, "devices": self.health(),
                "routes": self._metrics.snapshot()}

    def close(self) -> None:
        """Release the devices; the route functions stop working."""
        self._dispatcher.close()

    def __enter__(self) -> BundleApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<BundleApp {self.app} [{self._dispatcher.device.name}]: "
                f"{', '.join(self.routes)}>")


def load(directory: str | os.PathLike, device: str | Device | None = None, *,
         records: Mapping[str, type] | None = None, chunk: int = DEFAULT_CHUNK,
         depth: int = DEFAULT_DEPTH, timeout: float = DEFAULT_TIMEOUT,
         retry_after: float = DEFAULT_RETRY_AFTER) -> BundleApp:
    """Load the bundle in ``directory``: check it, build its software model, open a device.

    ``device`` is a device name (``"software"``, ``"sim"``, ``"serial:PORT"``),
    a :class:`Device` instance, or None for the best available one. Responses
    build records with the classes in ``records`` (by name), by default with
    generated :class:`RecordValue` classes. ``chunk`` is the number of
    requests per device call in a stream, ``depth`` the chunks in flight,
    ``timeout`` the seconds a device call may take before its requests go to
    the software fallback, ``retry_after`` the seconds before a failed
    device's health is checked again.

    Raise :class:`BundleError` for anything wrong with the bundle and
    :class:`DeviceError` for a device that is unknown or not available.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    routes, found = check_body(manifest)
    classes = make_record_classes(found, manifest["app"])
    if records:
        classes.update(records)
    model = _check_ir(_read_json(directory / "ir.json", "ir.json"), manifest, classes)
    manifest = copy.deepcopy(manifest)
    bundle = BundleData(directory, manifest, model)
    if device is None:
        chosen = pick_device(bundle)
    elif isinstance(device, Device):
        chosen = device
    else:
        chosen = open_device(device, bundle)
    fallback = chosen if isinstance(chosen, SoftwareDevice) else SoftwareDevice()
    metrics = Metrics()
    dispatcher = Dispatcher(chosen, fallback, metrics, chunk=chunk, depth=depth,
                            timeout=timeout, retry_after=retry_after)
    return BundleApp(directory, manifest, model, classes, dispatcher, metrics, routes)
