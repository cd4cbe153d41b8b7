"""JSON lines in, JSON lines out: the loop behind ``fpgac run``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

from ._bindings import _plain
from ._model import RouteModel
from ._values import ArrayT, RecordT

__all__ = ["run_jsonl"]

#: Lines per chunk sent through the batch path.
CHUNK = 4096


def _error_line(message: str, line: int) -> str:
    return json.dumps({"error": message, "line": line}) + "\n"


def run_jsonl(route: RouteModel, lines: Iterable[str], write: Callable[[str], None],
              *, chunk: int = CHUNK) -> int:
    """Answer every line of ``lines`` with one line passed to ``write``; return the refusals.

    Each input line holds one request, a JSON object keyed by parameter name.
    For each, in order, ``write`` receives one line (ending in ``"\\n"``): the
    response as JSON, or ``{"error": "...", "line": N}`` with the 1-based line
    number when the line is refused — unparsable JSON, not an object, a
    missing or unknown key, a value of the wrong type or out of range (the
    message names the field by its path). A refused line does not stop the
    others. A blank line (empty or only whitespace) is refused as
    ``"empty line"``: every input line gets exactly one answer, so outputs and
    inputs stay aligned line for line. Duplicate keys in an object follow
    Python's ``json`` module: the last one wins.

    Lines are parsed and run ``chunk`` at a time through the batch path.
    """
    refused = 0
    scalar = not isinstance(route.returns, (RecordT, ArrayT))
    # A loaded bundle's routes answer records as its record classes: JSON takes their fields.
    encode: Callable[[Any], str] = str if scalar else (lambda value: json.dumps(_plain(value)))
    it = iter(lines)
    first = 1  # the line number of the chunk's first line
    while True:
        part = list(islice(it, chunk))
        if not part:
            return refused
        out: list[str] = [""] * len(part)
        requests: list[Any] = []
        positions: list[int] = []
        for i, text in enumerate(part):
            request, reason = _parse(text)
            if reason is None:
                requests.append(request)
                positions.append(i)
            else:
                out[i] = _error_line(reason, first + i)
                refused += 1
        for i, (ok, value) in zip(positions, route.run_isolated(requests)):
            if ok:
                out[i] = encode(value) + "\n"
            else:
                out[i] = _error_line(value.reason, first + i)
                refused += 1
        for text in out:
            write(text)
        first += len(part)


_DECODE = json.JSONDecoder().decode
_KINDS = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def _parse(text: str) -> tuple[Any, str | None]:
    """Return ``(request, None)`` for a line holding a JSON object, else ``(None, reason)``."""
    if not text.strip():
        return None, "empty line"
    try:
        request = _DECODE(text.rstrip("\r\n"))  # a column, not a column on "line 2"
    except json.JSONDecodeError as e:
        return None, f"not valid JSON: {e.msg} (column {e.colno})"
    except ValueError as e:  # an integer beyond Python's digit limit
        return None, f"not valid JSON: {e}"
    if not isinstance(request, dict):
        kind = _KINDS.get(type(request), "a number")
        return None, f"a request must be a JSON object keyed by parameter name, not {kind}"
    return request, None
