"""The front end: parse a handler module, check it, and elaborate it into IR."""

from .diagnostics import Diagnostic, FpgacError

__all__ = ["Diagnostic", "FpgacError", "compile_source"]


def compile_source(source: str, file: str = "<string>"):
    """Parse, check and lower a handler module to an (unoptimized) :class:`~fpgac.ir.Program`.

    Raise :class:`FpgacError` with every diagnostic the module has.
    """
    from .lower import lower_module
    from .parser import parse

    return lower_module(parse(source, file), file)
