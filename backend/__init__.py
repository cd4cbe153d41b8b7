"""The hardware backend: Amaranth source for each route's pipelined core, Verilog and RTLIL.

Generation writes Python text and needs no Amaranth; :func:`elaborate`,
:func:`to_verilog` and :func:`to_rtlil` import Amaranth when they are called.
This package is the only part of fpgac that imports Amaranth.
"""

from ._codegen import app_class_name, generate_app, generate_route, route_class_name
from ._elaborate import elaborate, load_module, to_rtlil, to_verilog
from ._signature import (
    SIGNATURE_VERSION,
    app_signature,
    pack_leaves,
    payload_leaves,
    route_signature,
    unpack_leaves,
)
from ._simulate import SimResult, simulate_stream

__all__ = [
    "SIGNATURE_VERSION", "SimResult", "app_class_name", "app_signature", "elaborate",
    "generate_app", "generate_route", "load_module", "pack_leaves", "payload_leaves",
    "route_class_name", "route_signature", "simulate_stream", "to_rtlil", "to_verilog",
    "unpack_leaves",
]
