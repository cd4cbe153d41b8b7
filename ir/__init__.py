"""The typed SSA dataflow IR: op table, graph, verifier, printer, JSON form, interpreter."""

from .graph import Graph, Node
from .interpreter import interpret
from .ops import OPS, OpInfo, op_info
from .printer import format_graph, format_node, format_program, format_route
from .program import Program, Route
from .ranges import value_ranges
from .serialize import program_from_json, program_to_json
from .span import Span
from .types import (
    BOOL,
    MAX_WIDTH,
    ArrayTy,
    BoolTy,
    IntTy,
    RecordTy,
    Ty,
    bit_width,
    leaves,
    narrowest,
    scalar_int_ty,
    ty_from_json,
    ty_to_json,
)
from .verifier import VerifyError, verify, verify_route

__all__ = [
    "Graph", "Node", "interpret", "OPS", "OpInfo", "op_info", "format_graph", "format_node",
    "format_program", "format_route", "Program", "Route", "value_ranges", "program_from_json",
    "program_to_json", "Span", "BOOL", "MAX_WIDTH", "ArrayTy", "BoolTy", "IntTy", "RecordTy",
    "Ty", "bit_width", "leaves", "narrowest", "scalar_int_ty", "ty_from_json", "ty_to_json",
    "VerifyError", "verify", "verify_route",
]
