"""Turn generated Amaranth source into a component, and a component into Verilog or RTLIL.

Amaranth is imported here, lazily, inside each function: importing
:mod:`fpgac.backend` stays cheap, and nothing else in fpgac imports Amaranth.
"""

from __future__ import annotations

import linecache

__all__ = ["elaborate", "load_module", "to_verilog", "to_rtlil"]


def load_module(source_text: str, *, filename: str = "fpgac_core.py") -> dict:
    """Execute generated source in a fresh namespace and return that namespace.

    The source is fpgac's own output (never code from a bundle). It is registered
    with :mod:`linecache` under ``filename`` so tracebacks and Amaranth's source
    locations point at its lines.
    """
    lines = source_text.splitlines(keepends=True)
    linecache.cache[filename] = (len(source_text), None, lines, filename)
    namespace: dict = {"__name__": f"fpgac_generated_{abs(hash(source_text)):x}"}
    # dont_inherit: this file's `from __future__ import annotations` would turn the
    # component's port annotations into strings, which wiring.Component cannot read.
    exec(compile(source_text, filename, "exec", dont_inherit=True), namespace)
    return namespace


def elaborate(source_text: str, *, filename: str = "fpgac_core.py"):
    """Execute generated source and return an instance of its top-level component (``TOP``)."""
    return load_module(source_text, filename=filename)["TOP"]()


def to_verilog(component, name: str = "top", *, emit_src: bool = False) -> str:
    """Return the Verilog text of ``component`` as a module called ``name``.

    ``emit_src`` adds ``src`` attributes pointing at the generated Python lines; it is
    off by default so the text does not depend on where the packages are installed.
    """
    from amaranth.back import verilog

    return verilog.convert(component, name=name, emit_src=emit_src)


def to_rtlil(component, name: str = "top", *, emit_src: bool = False) -> str:
    """Return the RTLIL text (yosys's own format) of ``component`` as a module ``name``."""
    from amaranth.back import rtlil

    return rtlil.convert(component, name=name, emit_src=emit_src)
