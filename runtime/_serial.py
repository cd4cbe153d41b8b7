"""The `serial` device: a board running the bundle's design, reached over its USB UART.

``serial:PORT`` or ``serial:PORT@BAUD`` (``serial:/dev/ttyUSB1``,
``serial:COM3@115200``, any pyserial URL such as ``socket://host:port``)
opens the port with pyserial, asks the board for its status and checks that
it carries this bundle's design (the SHA-256 of ``ir.json``). Requests are
packed into frame bodies by the leaf layout of ``signature.json`` and run
through a :class:`LinkClient`. pyserial is imported only when a port is
opened (``pip install 'fpgac[link]'``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ._devices import BundleData, Device, DeviceError
from ._link import DEFAULT_RETRIES, POLL_SECONDS, LinkClient, LinkError, body_bytes
from ._model import RouteModel
from ._values import _DTYPES

__all__ = ["BoardDevice", "DEFAULT_BAUD", "open_serial", "parse_port", "route_layouts"]

#: The UART speed of the board designs unless a device name says otherwise.
DEFAULT_BAUD = 3_000_000


class _Layout:
    """One route's place on the link: its kind and how its payloads pack into bodies."""

    __slots__ = ("kind", "path", "request", "response", "request_bytes", "response_bytes")

    def __init__(self, kind: int, path: str, request: list[dict], response: list[dict]):
        self.kind = kind
        self.path = path
        self.request = request
        self.response = response
        self.request_bytes = body_bytes(request)
        self.response_bytes = body_bytes(response)


def _leaves(route: Any, side: str, where: str) -> list[dict]:
    payload = route.get(side) if isinstance(route, Mapping) else None
    leaves = payload.get("leaves") if isinstance(payload, Mapping) else None
    if not isinstance(leaves, list):
        raise DeviceError(f"signature.json is malformed: {where} has no {side} leaves")
    out = []
    for leaf in leaves:
        if not (isinstance(leaf, Mapping) and isinstance(leaf.get("path"), str)
                and all(type(leaf.get(k)) is int for k in ("offset", "width"))
                and leaf["offset"] >= 0 and leaf["width"] >= 1
                and isinstance(leaf.get("signed"), bool)):
            raise DeviceError(f"signature.json is malformed: a {side} leaf of {where} is "
                              f"{leaf!r}")
        out.append({"path": leaf["path"], "offset": leaf["offset"], "width": leaf["width"],
                    "signed": leaf["signed"], "bool": bool(leaf.get("bool"))})
    return out


def route_layouts(bundle: BundleData) -> list[_Layout]:
    """Read ``signature.json`` of ``bundle``: each route's request and response leaves, by kind.

    The file must be listed in the manifest with a matching hash, and its
    routes must be the manifest's, in order, with the model's leaf paths.
    Raise :class:`DeviceError` otherwise.
    """
    import json

    digest = bundle.manifest.get("files", {}).get("signature.json")
    path = bundle.directory / "signature.json"
    if digest is None or not path.is_file():
        raise DeviceError("the bundle has no signature.json, so it cannot run on a board; "
                          "compile it again with `fpgac compile`")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise DeviceError("signature.json does not match its hash in manifest.json: the file "
                          "was altered after the bundle was written")
    try:
        signature = json.loads(data)
    except ValueError as e:
        raise DeviceError(f"signature.json is not valid JSON: {e}") from None
    routes = signature.get("routes") if isinstance(signature, Mapping) else None
    models = list(bundle.model.routes.values())
    if not isinstance(routes, list) or [r.get("path") if isinstance(r, Mapping) else None
                                        for r in routes] != [m.path for m in models]:
        raise DeviceError("signature.json does not list the manifest's routes in order")
    layouts = []
    for kind, (route, model) in enumerate(zip(routes, models)):
        where = f"route {model.path}"
        layout = _Layout(kind, model.path, _leaves(route, "request", where),
                         _leaves(route, "response", where))
        if sorted(leaf["path"] for leaf in layout.request) != sorted(model.param_paths) \
                or sorted(leaf["path"] for leaf in layout.response) != sorted(model.output_paths):
            raise DeviceError(f"signature.json does not match ir.json: the leaves of {where} "
                              f"differ")
        layouts.append(layout)
    return layouts


class BoardDevice(Device):
    """A board carrying the bundle's design, reached through a :class:`LinkClient`.

    Open one with :meth:`open` (a port name or URL) or :meth:`over` (a port
    object already open, e.g. a simulated board's). Opening checks the
    board's design hash and raises :class:`DeviceError` on any mismatch.
    """

    def __init__(self, bundle: BundleData, client: LinkClient, layouts: Sequence[_Layout],
                 name: str):
        self.name = name
        self.bundle = bundle
        self.client = client
        self._layouts = {layout.path: layout for layout in layouts}
        #: Opens the same board again (set by :meth:`open`; a port object cannot be reopened).
        self._reopen: Callable[[], BoardDevice] | None = None
        self._closed = False

    @classmethod
    def open(cls, bundle: BundleData, port_url: str, baud: int = DEFAULT_BAUD, *,
             name: str | None = None, window: int | None = None, timeout: float | None = None,
             retries: int = DEFAULT_RETRIES) -> BoardDevice:
        """Open ``port_url`` (a device path or pyserial URL) at ``baud``; connect and check."""
        name = name or f"serial:{port_url}"
        serial = _pyserial(name)
        try:
            port = serial.serial_for_url(port_url, baudrate=baud, timeout=POLL_SECONDS)
        except (OSError, ValueError) as e:  # SerialException is an OSError
            raise DeviceError(f"cannot open the serial port {port_url!r}: {e}") from None
        device = cls.over(bundle, port, name=name, window=window, timeout=timeout,
                          retries=retries)
        # An adapter that was unplugged and plugged in again needs its port opened anew.
        device._reopen = lambda: cls.open(bundle, port_url, baud, name=name, window=window,
                                          timeout=timeout, retries=retries)
        return device

    @classmethod
    def over(cls, bundle: BundleData, port: Any, *, name: str, window: int | None = None,
             timeout: float | None = None, retries: int = DEFAULT_RETRIES) -> BoardDevice:
        """Connect through an open pyserial-like ``port`` (closed again on failure)."""
        try:
            layouts = route_layouts(bundle)
            design_hash = bytes.fromhex(bundle.manifest["files"]["ir.json"])
            client = LinkClient(port, [(lay.request, lay.response) for lay in layouts],
                                design_hash=design_hash, window=window, timeout=timeout,
                                retries=retries)
            if hasattr(port, "reset_input_buffer"):
                port.reset_input_buffer()  # bytes from before we came are not ours
            client.connect()
        except BaseException as e:
            try:
                port.close()
            except Exception:
                pass
            if isinstance(e, LinkError):
                raise LinkError(f"device {name!r}: {e}") from None
            if isinstance(e, OSError):
                raise DeviceError(f"device {name!r}: the port failed: {e}") from None
            raise
        return cls(bundle, client, layouts, name)

    def available(self) -> bool:
        """Return whether the device is open (it answered and carried the design when opened)."""
        return not self._closed

    def run(self, route: RouteModel, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Pack the requests, run them on the board, unpack the responses into columns."""
        layout = self._layouts.get(route.path)
        if layout is None:
            raise DeviceError(f"route {route.path} is not on the board {self.name!r}")
        if self._closed:
            raise DeviceError(f"device {self.name!r} is closed")
        bodies = _pack(layout, columns)
        responses = self.client.run(layout.kind, bodies)
        return _unpack(layout, route, responses)

    def health(self) -> dict[str, Any]:
        """Ask the board for its status: ``ok`` when it answers and carries the design.

        A device opened by port name whose board does not answer opens its
        port again, so a board that was unplugged comes back into service.
        """
        if self._closed:
            return {"ok": False, "error": "closed"}
        try:
            status = self.client.status()
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
            if self._reopen is None:
                return {"ok": False, "error": error, "link": self.client.counters()}
            counters = self.client.counters()
            self.client.close()  # the same port is opened again, by its name
            try:
                fresh = self._reopen()
            except Exception:
                return {"ok": False, "error": error, "link": counters}
            self.client = fresh.client
            status = self.client.last_status
            assert status is not None  # connect() asked for it
        report: dict[str, Any] = {"link": self.client.counters()}
        report.update(window=status.window, baud=status.baud, clock_khz=status.clock_khz,
                      rx_frames=status.rx_frames, rx_dropped=status.rx_dropped,
                      tx_frames=status.tx_frames)
        if status.design_hash != self.client.design_hash:
            return {"ok": False, "error": "the board now carries another design", **report}
        return {"ok": True, **report}

    def close(self) -> None:
        """Close the port; idempotent."""
        self._closed = True
        self.client.close()


def _pack(layout: _Layout, columns: Mapping[str, np.ndarray]) -> list[bytes]:
    """Return one request body per row of ``columns``, packed by the layout's leaves."""
    leaves = layout.request
    size = layout.request_bytes
    lists = [np.asarray(columns[leaf["path"]]).tolist() for leaf in leaves]
    n = len(lists[0]) if lists else len(next(iter(columns.values()), ()))
    if not leaves:
        return [b""] * n
    specs = [(leaf["offset"], (1 << leaf["width"]) - 1) for leaf in leaves]
    if len(specs) == 1:
        (offset, mask), = specs
        return [((v & mask) << offset).to_bytes(size, "little") for v in lists[0]]
    bodies = []
    for row in zip(*lists):
        word = 0
        for (offset, mask), value in zip(specs, row):
            word |= (value & mask) << offset
        bodies.append(word.to_bytes(size, "little"))
    return bodies


def _unpack(layout: _Layout, route: RouteModel, responses: list[bytes]
            ) -> dict[str, np.ndarray]:
    """Return the output leaf columns of the response bodies, typed as the software model's."""
    words = [int.from_bytes(body, "little") for body in responses]
    out: dict[str, np.ndarray] = {}
    kinds = dict(zip(route.output_paths, route.signature.return_kinds))
    for leaf in layout.response:
        offset, width = leaf["offset"], leaf["width"]
        mask = (1 << width) - 1
        if leaf["signed"]:
            sign, full = 1 << (width - 1), 1 << width
            values = [(v if v < sign else v - full) for v in ((w >> offset) & mask
                                                                for w in words)]
        else:
            values = [(w >> offset) & mask for w in words]
        dtype = _DTYPES[kinds[leaf["path"]]]
        out[leaf["path"]] = np.array(values, dtype=dtype) if dtype is not object else \
            _object_column(values)
    return out


def _object_column(values: list[int]) -> np.ndarray:
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


# --- the `serial` device -----------------------------------------------------------------------


def _pyserial(device: str) -> Any:
    try:
        import serial
    except ImportError:
        raise DeviceError(f"device {device!r} needs pyserial: pip install 'fpgac[link]'") \
            from None
    return serial


def parse_port(arg: str) -> tuple[str, int]:
    """Split ``PORT@BAUD`` into the port and the baud (:data:`DEFAULT_BAUD` when absent)."""
    port, at, baud = arg.rpartition("@")
    if at and baud.isdigit() and port:
        if int(baud) < 1:
            raise DeviceError(f"the baud rate in 'serial:{arg}' must be positive")
        return port, int(baud)
    return arg, DEFAULT_BAUD


def open_serial(bundle: BundleData, arg: str | None) -> BoardDevice:
    """Open ``serial:PORT[@BAUD]``: the factory of the built-in ``serial`` device."""
    if not arg:
        raise DeviceError("name the board's port: `serial:/dev/ttyUSB1`, "
                          "`serial:COM3@115200` (the default baud is 3000000)")
    port, baud = parse_port(arg)
    return BoardDevice.open(bundle, port, baud, name=f"serial:{arg}")
