"""The signature of a generated core: ports, payload layouts, latency, handshake, as JSON data.

The signature is all the runtime and the host bindings read about a core: they
pack a request into the bits of the input payload and unpack a response from
the output payload by the leaf offsets given here, and never look at the HDL.
"""

from __future__ import annotations

from ..ir.program import Program, Route
from ..ir.types import BoolTy, Ty, leaves, scalar_int_ty, ty_to_json

__all__ = ["SIGNATURE_VERSION", "payload_leaves", "route_signature", "app_signature",
           "pack_leaves", "unpack_leaves"]

SIGNATURE_VERSION = 1


def payload_leaves(fields: list[tuple[str, Ty]]) -> list[dict]:
    """Return every scalar leaf of ``fields`` packed in order, first field least significant.

    Each leaf is ``{"path", "offset", "width", "signed", "bool"}``; ``path`` is the
    IR's leaf path (``p.r``, ``data[3]``, ``return.cb``).
    """
    result, offset = [], 0
    for name, ty in fields:
        for path, scalar in leaves(ty, name):
            int_ty = scalar_int_ty(scalar)
            result.append({"path": path, "offset": offset, "width": int_ty.width,
                           "signed": int_ty.signed, "bool": isinstance(scalar, BoolTy)})
            offset += int_ty.width
    return result


def _payload(fields: list[tuple[str, Ty]]) -> dict:
    leaf_list = payload_leaves(fields)
    return {"width": sum(leaf["width"] for leaf in leaf_list), "leaves": leaf_list}


def _stream_port(prefix: str, direction: str, width: int) -> dict:
    return {"direction": direction, "payload": f"{prefix}__payload" if width else None,
            "valid": f"{prefix}__valid", "ready": f"{prefix}__ready", "width": width}


def route_signature(route: Route, schedule, *, component: str | None = None,
                    port_prefix: str = "") -> dict:
    """Describe the core generated for ``route`` under ``schedule`` as JSON-ready data."""
    request = _payload(route.params)
    request["params"] = [{"name": n, "type": ty_to_json(t)} for n, t in route.params]
    response = _payload([("return", route.returns)])
    response["type"] = ty_to_json(route.returns)
    return {
        "version": SIGNATURE_VERSION,
        "kind": "route",
        "route": route.name,
        "path": route.path,
        "component": component,
        "latency": schedule.n_stages,
        "initiation_interval": 1,
        "handshake": "valid-ready",
        "clock": {"domain": "sync", "clk": "clk", "rst": "rst"},
        "ports": {
            "i": _stream_port(f"{port_prefix}i", "in", request["width"]),
            "o": _stream_port(f"{port_prefix}o", "out", response["width"]),
        },
        "request": request,
        "response": response,
    }


def app_signature(program: Program, schedules: dict, *, component: str | None = None,
                  classes: dict[str, str] | None = None) -> dict:
    """Describe the app-level core (one stream pair per route) as JSON-ready data."""
    classes = classes or {}
    return {
        "version": SIGNATURE_VERSION,
        "kind": "app",
        "app": program.app,
        "component": component,
        "clock": {"domain": "sync", "clk": "clk", "rst": "rst"},
        "routes": [route_signature(r, schedules[r.path], component=classes.get(r.path),
                                   port_prefix=f"{r.name}_")
                   for r in program.routes],
    }


def pack_leaves(leaf_list: list[dict], values: dict[str, int]) -> int:
    """Pack leaf values (exact integers that fit their leaves) into payload bits."""
    bits = 0
    for leaf in leaf_list:
        value = values[leaf["path"]]
        lo = -(1 << (leaf["width"] - 1)) if leaf["signed"] else 0
        hi = (1 << (leaf["width"] - (1 if leaf["signed"] else 0))) - 1
        if not lo <= value <= hi:
            raise ValueError(f"`{leaf['path']}` = {value} does not fit its {leaf['width']}-bit "
                             f"{'signed' if leaf['signed'] else 'unsigned'} field")
        bits |= (value & ((1 << leaf["width"]) - 1)) << leaf["offset"]
    return bits


def unpack_leaves(leaf_list: list[dict], bits: int) -> dict[str, int]:
    """Read every leaf's value out of payload bits (two's complement for signed leaves)."""
    values = {}
    for leaf in leaf_list:
        width = leaf["width"]
        value = (bits >> leaf["offset"]) & ((1 << width) - 1)
        if leaf["signed"] and value >> (width - 1):
            value -= 1 << width
        values[leaf["path"]] = value
    return values
