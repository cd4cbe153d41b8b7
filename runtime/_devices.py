"""Devices: where a route's requests run, behind one small interface, and their registry.

A device receives requests as *leaf columns* — one numpy array per scalar
leaf of the request, keyed by leaf path (``"p.r"``), all of one length — and
returns the response's leaf columns keyed by output path (``"return"``,
``"return.y"``). That is the form a hardware core consumes and produces
(one port per leaf), and the form the software model runs fastest on.

Devices are opened by name: ``"software"``, or ``"PREFIX"`` / ``"PREFIX:ARG"``
for a registered prefix (``"serial:/dev/ttyUSB1"``). The software device is
always present and is also every other device's fallback.
"""

from __future__ import annotations

import abc
import importlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._model import AppModel, RouteModel

__all__ = ["Device", "DeviceError", "SoftwareDevice", "BundleData", "register_device",
           "unregister_device", "registered_devices", "open_device", "pick_device"]

Columns = Mapping[str, np.ndarray]


class DeviceError(RuntimeError):
    """A device cannot be opened, is not available, or failed while running requests."""


@dataclass(frozen=True)
class BundleData:
    """What a device factory gets to open a device for a bundle.

    ``directory`` is the bundle directory (its files were checked against the
    manifest), ``manifest`` the validated manifest, ``model`` the software
    model built from ``ir.json``.
    """

    directory: Path
    manifest: dict[str, Any]
    model: AppModel


class Device(abc.ABC):
    """The interface every device implements; subclass it.

    - ``name``: the name the device was opened with (``"software"``, ``"serial:COM3"``).
    - ``available()``: whether the device can run requests now (a board is
      plugged in, a simulator is installed). Cheap; called when choosing.
    - ``run(route, columns)``: run ``n`` requests of ``route`` (a
      :class:`RouteModel`) given as leaf columns in ``route.param_paths``
      order — a dict of equal-length one-dimensional arrays — and return the
      output leaf columns as a dict keyed by ``route.output_paths``, each of
      length ``n``, in the same order as the requests. Columns travel as
      ``int64`` where the leaf's type fits it, ``uint64`` for 64-bit unsigned
      leaves, else as object arrays of Python ints. Raise any exception on
      failure; the dispatcher then re-runs the requests on the software
      fallback. ``run`` is called from one worker thread at a time.
    - ``health()``: a dict with at least ``"ok"`` (a bool); more keys are
      free-form diagnostics. Called after a failure to decide when the
      device may be used again.
    - ``close()``: release the device; idempotent.
    """

    name = "device"

    def available(self) -> bool:
        """Return whether the device can run requests now."""
        return True

    @abc.abstractmethod
    def run(self, route: RouteModel, columns: Columns) -> dict[str, np.ndarray]:
        """Run the requests given as leaf columns; return the output leaf columns."""

    def health(self) -> dict[str, Any]:
        """Return ``{"ok": bool, ...}``."""
        return {"ok": self.available()}

    def close(self) -> None:  # noqa: B027 - releasing nothing is a fine default
        """Release the device."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class SoftwareDevice(Device):
    """The bit-exact software model generated from ``ir.json``: always available."""

    name = "software"

    def run(self, route: RouteModel, columns: Columns) -> dict[str, np.ndarray]:
        """Run the route's numpy batch model on the columns."""
        return route.run_columns(columns)

    def health(self) -> dict[str, Any]:
        """Return ``{"ok": True}``: the software model does not fail."""
        return {"ok": True}


# --- the registry ------------------------------------------------------------------------------

#: ``factory(bundle, arg)``: ``arg`` is the text after ``PREFIX:``, or None for plain ``PREFIX``.
DeviceFactory = Callable[[BundleData, "str | None"], Device]


@dataclass(frozen=True)
class _Entry:
    factory: DeviceFactory
    auto: bool
    priority: int


_PREFIX = re.compile(r"[a-z][a-z0-9_-]*")
_lock = threading.Lock()
_registry: dict[str, _Entry] = {}
#: Devices that come with the runtime, each in a module of its own that is imported only when
#: the device is first opened (it needs optional packages): prefix -> (module, factory name).
#: A registered prefix of the same name takes precedence.
_BUILTIN = {"serial": ("._serial", "open_serial"), "sim": ("._sim", "open_sim"),
            "virtual": ("._virtual", "_open_virtual")}


def register_device(prefix: str, factory: DeviceFactory, *, auto: bool = False,
                    priority: int = 0) -> None:
    """Make ``prefix`` (and ``prefix:ARG``) open a device with ``factory(bundle, arg)``.

    With ``auto=True`` the device takes part in choosing the best device when
    :func:`load` is given no device: factories are tried in decreasing
    ``priority`` with ``arg=None`` and the first device that is ``available()``
    wins; the software device is the last resort. Registering a prefix again
    replaces it; ``software`` cannot be replaced.
    """
    if not (isinstance(prefix, str) and _PREFIX.fullmatch(prefix)):
        raise ValueError(f"a device prefix must be lowercase letters, digits, `-` or `_`, "
                         f"starting with a letter, not {prefix!r}")
    if prefix == "software":
        raise ValueError("the `software` device is built in and cannot be replaced")
    if not callable(factory):
        raise TypeError(f"the factory for device {prefix!r} must be callable")
    with _lock:
        _registry[prefix] = _Entry(factory, auto, priority)


def unregister_device(prefix: str) -> None:
    """Forget a registered prefix (for tests and plug-ins that unload)."""
    with _lock:
        _registry.pop(prefix, None)


def registered_devices() -> list[str]:
    """Return the device prefixes that can be opened, ``software`` first.

    That is the runtime's own (``software``, ``serial``, ``sim``, ``virtual``) and those
    registered by plug-ins.
    """
    with _lock:
        return ["software", *sorted(set(_registry) | set(_BUILTIN))]


def open_device(spec: str, bundle: BundleData) -> Device:
    """Open the device named ``spec`` (``"software"``, ``"PREFIX"`` or ``"PREFIX:ARG"``).

    Raise :class:`DeviceError` for an unknown name or a device that is not available.
    """
    if not isinstance(spec, str):
        raise DeviceError(f"a device is named by a string such as 'software', not {spec!r}")
    prefix, sep, arg = spec.partition(":")
    if prefix == "software":
        if sep:
            raise DeviceError("the `software` device takes no argument (use 'software')")
        return SoftwareDevice()
    with _lock:
        entry = _registry.get(prefix)
    if entry is None and prefix in _BUILTIN:
        module, factory = _BUILTIN[prefix]
        entry = _Entry(getattr(importlib.import_module(module, __package__), factory), False, 0)
    if entry is None:
        known = ", ".join(repr(name) for name in registered_devices())
        raise DeviceError(f"unknown device {spec!r}; the devices known here: {known}")
    try:
        device = entry.factory(bundle, arg if sep else None)
    except DeviceError:
        raise
    except Exception as e:
        raise DeviceError(f"device {spec!r} could not be opened: {e}") from e
    if not device.available():
        device.close()
        raise DeviceError(f"device {spec!r} is not available")
    return device


def pick_device(bundle: BundleData) -> Device:
    """Open the best available device: an automatic registered one, else software.

    A factory that raises while probing is skipped: choosing must not fail
    because an optional device is absent or broken.
    """
    with _lock:
        entries = sorted(((e.priority, p, e) for p, e in _registry.items() if e.auto),
                         key=lambda item: (-item[0], item[1]))
    for _, _prefix, entry in entries:
        try:
            device = entry.factory(bundle, None)
        except Exception:
            continue
        try:
            if device.available():
                return device
        except Exception:
            pass
        device.close()
    return SoftwareDevice()
