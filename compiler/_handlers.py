"""Run a decorated handler from Python: compile its module once, then use the software model."""

from __future__ import annotations

import inspect
import os
import sys
import threading

__all__ = ["route_model"]

_lock = threading.Lock()
_cache: dict[tuple, object] = {}


def _app_model(path: str):
    from .driver import compile_file, optimize
    from .ir import program_to_json
    from .runtime import model_from_ir

    stat = os.stat(path)
    key = (path, stat.st_mtime_ns, stat.st_size)
    with _lock:
        model = _cache.get(key)
        if model is None:
            model = model_from_ir(program_to_json(optimize(compile_file(path))))
            _cache[key] = model
    return model


def route_model(handler):
    """Return the software model of ``handler``'s route, with its module's record classes."""
    path = inspect.getsourcefile(handler.func)
    if path is None:
        raise RuntimeError(f"cannot find the source of handler {handler.__name__!r}")
    route = _app_model(os.path.abspath(path)).route(handler.path)
    module = sys.modules.get(handler.func.__module__)
    records = {}
    if module is not None:
        from ._dsl import Record

        records = {name: obj for name, obj in vars(module).items()
                   if isinstance(obj, type) and issubclass(obj, Record) and obj is not Record}
    return route.with_records(records) if records else route
