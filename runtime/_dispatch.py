"""The dispatcher: requests to a device in chunks, results back in order, failover to software.

One dispatcher serves one loaded bundle. It holds the chosen device, the
software fallback, one worker thread per non-software device, and the
counters. Its guarantees (see docs/runtime.md):

- Order: ``batch`` returns and ``stream`` yields responses in request order.
- Bounded memory: a stream reads its input ``chunk`` requests at a time and
  keeps at most ``depth`` chunks in flight; nothing is read ahead of a slow
  consumer beyond that.
- Failover: when a device call raises, times out, or answers with the wrong
  shape, that chunk and every chunk still in flight on the device are re-run
  on the software fallback — each request is answered exactly once — and the
  device is marked unhealthy; it is used again only after a later
  ``health()`` says ``ok``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future
from itertools import islice
from typing import Any

import numpy as np

from ._devices import Device, SoftwareDevice
from ._errors import RequestError
from ._metrics import Metrics
from ._model import RouteModel

__all__ = ["Dispatcher", "DEFAULT_CHUNK", "DEFAULT_DEPTH", "DEFAULT_TIMEOUT",
           "DEFAULT_RETRY_AFTER"]

#: Requests per device call in a stream (micro-batching toward the device).
DEFAULT_CHUNK = 4096
#: Requests per call of the in-process software model in ``batch``: as large as the model's
#: own batch slice, where numpy's per-call cost is amortized.
SOFTWARE_BATCH_CHUNK = 1 << 16
#: Chunks in flight per stream on a device (the bound on read-ahead).
DEFAULT_DEPTH = 4
#: Seconds a device call may take once the dispatcher waits for it.
DEFAULT_TIMEOUT = 30.0
#: Seconds after a failure before a device's health is checked again.
DEFAULT_RETRY_AFTER = 30.0

_DTYPES = {"i": np.int64, "u": np.uint64, "o": object}


class _Worker:
    """A thread that runs one device's calls one at a time, fed by a bounded queue."""

    def __init__(self, device: Device, depth: int):
        self.device = device
        self.jobs: queue.Queue = queue.Queue(maxsize=depth)
        # A daemon thread: a device hung inside `run` must not keep the interpreter alive.
        self.thread = threading.Thread(target=self._loop, name=f"fpgac-device-{device.name}",
                                       daemon=True)
        self.thread.start()

    def submit(self, route: RouteModel, columns: Mapping[str, np.ndarray],
               timeout: float) -> Future:
        """Queue one call; raise ``queue.Full`` if the device takes no work for ``timeout``."""
        future: Future = Future()
        self.jobs.put((future, route, columns), timeout=timeout)
        return future

    def _loop(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            future, route, columns = job
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while queued: its requests went to the fallback
            start = time.perf_counter()
            try:
                outputs = self.device.run(route, columns)
            except BaseException as e:  # reported to the waiting stream, never lost
                future.set_exception(e)
            else:
                future.set_result((outputs, time.perf_counter() - start))

    def stop(self) -> None:
        """Ask the thread to end after its queued calls; never block (it may be hung)."""
        try:
            self.jobs.put_nowait(None)
        except queue.Full:
            pass


class _Pending:
    """One chunk on its way: its columns (kept for a re-run), size, and the device's future."""

    __slots__ = ("columns", "n", "future", "device")

    def __init__(self, columns: Mapping[str, np.ndarray], n: int, future: Future | None,
                 device: Device):
        self.columns = columns
        self.n = n
        self.future = future
        self.device = device


class Dispatcher:
    """Run a bundle's requests on a device, in order, with failover to the software model."""

    def __init__(self, device: Device, fallback: SoftwareDevice, metrics: Metrics, *,
                 chunk: int = DEFAULT_CHUNK, depth: int = DEFAULT_DEPTH,
                 timeout: float = DEFAULT_TIMEOUT, retry_after: float = DEFAULT_RETRY_AFTER):
        if chunk < 1 or depth < 1:
            raise ValueError(f"chunk and depth must be at least 1, not {chunk} and {depth}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        self.device = device
        self.fallback = fallback
        self.metrics = metrics
        self.chunk = chunk
        self.depth = depth
        self.timeout = timeout
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._healthy = True
        self._checked_at = 0.0
        self._last_error: str | None = None
        self._worker: _Worker | None = None
        self._closed = False

    # -- devices --------------------------------------------------------------------------------

    @property
    def devices(self) -> dict[str, Device]:
        """The devices by name: the chosen one first, the software fallback last."""
        return {self.device.name: self.device, self.fallback.name: self.fallback}

    def active(self) -> Device:
        """Return the device new work goes to: the chosen one while healthy, else the fallback.

        An unhealthy device's ``health()`` is asked again at most once per
        ``retry_after`` seconds; when it says ``ok`` the device is used again.
        """
        if self.device is self.fallback:
            return self.fallback
        with self._lock:
            if self._closed:
                raise RuntimeError("the bundle was closed")
            if self._healthy:
                return self.device
            now = time.monotonic()
            if now - self._checked_at < self.retry_after:
                return self.fallback
            self._checked_at = now
        if self._probe():
            with self._lock:
                self._healthy = True
            return self.device
        return self.fallback

    def _probe(self) -> bool:
        try:
            return self.device.health().get("ok") is True
        except Exception:
            return False

    def _worker_for(self, device: Device) -> _Worker:
        with self._lock:
            if self._worker is None:
                self._worker = _Worker(device, self.depth)
            return self._worker

    def _mark_failed(self, device: Device, error: BaseException) -> None:
        """Take ``device`` out of service and drop its worker (which may be hung)."""
        with self._lock:
            if device is not self.device:
                return
            self._healthy = False
            self._checked_at = time.monotonic()
            self._last_error = f"{type(error).__name__}: {error}" if str(error) else \
                type(error).__name__
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()

    def health(self) -> dict[str, dict[str, Any]]:
        """Return, per device, its own ``health()`` and whether the dispatcher uses it."""
        out: dict[str, dict[str, Any]] = {}
        for name, device in self.devices.items():
            try:
                report = dict(device.health())
            except Exception as e:
                report = {"ok": False, "error": f"{type(e).__name__}: {e}"}
            with self._lock:
                in_service = device is self.fallback or self._healthy
                last = self._last_error if device is self.device else None
            report["in_service"] = in_service
            if last is not None:
                report["last_error"] = last
            out[name] = report
        return out

    def close(self) -> None:
        """Stop the worker and close the devices; later calls raise."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()
        for device in self.devices.values():
            device.close()

    # -- running --------------------------------------------------------------------------------

    def call(self, route: RouteModel, args: tuple, kwargs: Mapping[str, Any]) -> Any:
        """Run one request given as Python arguments; return its response."""
        device = self.active()
        if device is self.fallback:
            # The scalar model: the fastest path for a single request.
            start = time.perf_counter()
            try:
                response = route(*args, **kwargs)
            except RequestError:
                self.metrics.refused(route.path, device.name)
                raise
            self.metrics.answered(route.path, device.name, 1, time.perf_counter() - start)
            return response
        try:
            leaves = route.signature.bind(args, kwargs)
        except RequestError:
            self.metrics.refused(route.path, device.name)
            raise
        columns = {path: np.array([v], dtype=_DTYPES[kind]) for path, v, kind
                   in zip(route.param_paths, leaves, route.signature.param_kinds)}
        entry = self._submit(route, device, columns, 1)
        outputs = self._finish(route, entry, deque())
        return self._responses(route, outputs)[0]

    def batch(self, route: RouteModel, requests: Iterable[Any]) -> list[Any]:
        """Run many requests; return the responses in order.

        A refused request refuses the whole batch with a :class:`RequestError`
        carrying its index.
        """
        if not isinstance(requests, (list, tuple)):
            requests = list(requests)
        results: list[Any] = []
        for part in self._chunks(route, requests, batch=True):
            results += part
        return results

    def stream(self, route: RouteModel, requests: Iterable[Any]) -> Iterator[Any]:
        """Yield the responses to an iterable of requests lazily, in order.

        A refused request ends the stream with a :class:`RequestError`
        carrying its index, after every response before it was yielded.
        """
        for part in self._chunks(route, requests, batch=False):
            yield from part

    def _chunks(self, route: RouteModel, requests: Iterable[Any], batch: bool
                ) -> Iterator[list[Any]]:
        """Yield the responses chunk by chunk, keeping at most ``depth`` chunks in flight."""
        if isinstance(requests, (list, tuple)):
            # Slicing a list copies pointers in C; islice would step through every item.
            sequence, position = requests, 0

            def take(size: int) -> list[Any]:
                nonlocal position
                part = sequence[position:position + size]
                if not isinstance(part, list):
                    part = list(part)
                position += len(part)
                return part
        else:
            it = iter(requests)

            def take(size: int) -> list[Any]:
                return list(islice(it, size))
        window: deque[_Pending] = deque()
        done = 0                 # requests read so far
        error: RequestError | None = None
        exhausted = False
        try:
            while True:
                device = self.active()
                inline = device is self.fallback
                # The software model runs on this thread: reading ahead would only cost memory.
                limit = 1 if inline else self.depth
                size = SOFTWARE_BATCH_CHUNK if inline and batch else self.chunk
                while not exhausted and error is None and len(window) < limit:
                    part = take(size)
                    if not part:
                        exhausted = True
                        break
                    try:
                        arrays = route.signature.columns(part)
                    except RequestError as e:
                        bad = e.index or 0
                        error = e.at(done + bad)
                        self.metrics.refused(route.path, device.name)
                        del part[bad:]
                        arrays = route.signature.columns(part) if part else []
                    if part:
                        columns = dict(zip(route.param_paths, arrays))
                        window.append(self._submit(route, device, columns, len(part)))
                        done += len(part)
                if not window:
                    if error is not None:
                        raise error
                    return
                entry = window.popleft()
                yield self._responses(route, self._finish(route, entry, window))
        finally:
            # A consumer that stops early: chunks still queued on the device are not needed.
            for entry in window:
                if entry.future is not None:
                    entry.future.cancel()

    def _submit(self, route: RouteModel, device: Device, columns: Mapping[str, np.ndarray],
                n: int) -> _Pending:
        if device is self.fallback:
            return _Pending(columns, n, None, device)
        try:
            future = self._worker_for(device).submit(route, columns, self.timeout)
        except queue.Full:
            # The device stopped taking work: this chunk goes to the fallback when its turn comes.
            self._mark_failed(device, TimeoutError(f"device {device.name!r} took no work for "
                                                   f"{self.timeout} s"))
            self.metrics.failed(route.path, device.name, n)
            return _Pending(columns, n, None, self.fallback)
        return _Pending(columns, n, future, device)

    def _finish(self, route: RouteModel, entry: _Pending, window: deque[_Pending]
                ) -> Mapping[str, np.ndarray]:
        """Return the output columns of ``entry``, from its device or else from the fallback."""
        if entry.future is not None:
            try:
                outputs, seconds = entry.future.result(timeout=self.timeout)
                _check_outputs(route, outputs, entry.n)
            except Exception as e:
                if isinstance(e, TimeoutError):
                    e = TimeoutError(f"device {entry.device.name!r} gave no answer within "
                                     f"{self.timeout} s")
                self._mark_failed(entry.device, e)
                # Everything still in flight on the failed device re-runs on the fallback, in
                # its turn; results the device may still produce are never read.
                moved = entry.n
                for other in window:
                    if other.future is not None and other.device is entry.device:
                        other.future.cancel()
                        other.future = None
                        moved += other.n
                self.metrics.failed(route.path, entry.device.name, moved)
            else:
                self.metrics.answered(route.path, entry.device.name, entry.n, seconds)
                return outputs
        start = time.perf_counter()
        outputs = self.fallback.run(route, entry.columns)
        self.metrics.answered(route.path, self.fallback.name, entry.n,
                              time.perf_counter() - start)
        return outputs

    @staticmethod
    def _responses(route: RouteModel, outputs: Mapping[str, np.ndarray]) -> list[Any]:
        return route.signature.responses([outputs[path].tolist() for path in route.output_paths])


def _check_outputs(route: RouteModel, outputs: Any, n: int) -> None:
    """Refuse a device answer that is not one integer column of length ``n`` per output."""
    if not isinstance(outputs, Mapping):
        raise TypeError(f"a device must answer with a dict of columns, not "
                        f"{type(outputs).__name__}")
    for path in route.output_paths:
        column = outputs.get(path)
        if not isinstance(column, np.ndarray) or column.ndim != 1 or len(column) != n \
                or column.dtype.kind not in "iuO":
            raise TypeError(f"the device's answer for {path!r} is not an integer column of "
                            f"{n} values")
