"""The two ways the runtime refuses input: a bad bundle and a bad request."""

from __future__ import annotations

__all__ = ["BundleError", "RequestError"]


class BundleError(ValueError):
    """A bundle or IR document is malformed, unsupported or inconsistent.

    A bundle is untrusted data: anything that does not follow the format is
    refused with this error before any code is generated from it.
    """


class RequestError(ValueError):
    """A request value does not fit the route's signature; nothing was computed.

    ``path`` names the offending field (``"p.r"``, ``"data[3]"``, a parameter
    name, or ``""`` for the request as a whole); ``reason`` is the message
    without position; ``index`` is the request's position in a batch, if any.
    """

    def __init__(self, reason: str, path: str = "", index: int | None = None):
        self.reason = reason
        self.path = path
        self.index = index
        super().__init__(reason if index is None else f"request {index}: {reason}")

    def at(self, index: int) -> RequestError:
        """Return the same error, placed at position ``index`` of a batch."""
        return RequestError(self.reason, self.path, index)
