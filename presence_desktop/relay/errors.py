"""The relay's one error type: an HTTP status, a stable machine code and a human message.

Every adapter (aiohttp, Lambda) turns it into the error body of docs/relay-api.md:
``{"error": {"code": "<code>", "message": "<message>"}}``.
"""

from __future__ import annotations

from typing import Any


class RelayError(Exception):
    """A request the relay refuses or could not complete.

    ``status``: HTTP status (400, 401, 403, 404, 405, 409, 413, 429, 502, 503).
    ``code``: stable snake_case code clients may switch on (e.g. ``unknown_status``).
    ``headers``: extra response headers (``Retry-After``, ``WWW-Authenticate``).
    """

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}

    def __repr__(self) -> str:
        return f"RelayError({self.status}, {self.code!r}, {self.message!r})"
