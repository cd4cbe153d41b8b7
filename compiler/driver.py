"""The compiler driver: source to unoptimized and optimized IR, with a small cache."""

from __future__ import annotations

import os
from pathlib import Path

from .frontend import FpgacError, compile_source
from .ir import Program

__all__ = ["FpgacError", "compile_source", "compile_file", "optimize", "read_source"]


def read_source(path: str | os.PathLike) -> str:
    """Read a handler module as text."""
    return Path(path).read_text(encoding="utf-8")


def compile_file(path: str | os.PathLike) -> Program:
    """Parse, check and lower the handler module at ``path``."""
    path = Path(path)
    return compile_source(read_source(path), str(path))


def optimize(program: Program, *, dump_dir: str | os.PathLike | None = None) -> Program:
    """Return an optimized copy of ``program`` (the default pass pipeline)."""
    from .passes import optimize_program

    return optimize_program(program, dump_dir=dump_dir)
