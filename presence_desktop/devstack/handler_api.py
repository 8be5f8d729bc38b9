"""What namespace handlers (onPublish / onSubscribe) see and may raise: the local stand-in for
AppSync's APPSYNC_JS ``ctx`` and ``util.unauthorized()`` / ``util.error()``.

Source: AWS AppSync Events "Process real-time events with AWS AppSync event handlers" and
"Event API context reference" (docs.aws.amazon.com/appsync/latest/eventapi/
channel-namespace-handlers.html, context-reference.html); docs/appsync-events-protocol.md section 6.

A handler is a plain callable (sync or async) taking one ``ctx`` dict::

    {"identity": <dict or None (API key)>,
     "info": {"channel": {"path": "/ns/a/b", "segments": ["ns", "a", "b"]},
              "channelNamespace": {"name": "ns"},
              "operation": "PUBLISH" | "SUBSCRIBE"},
     "events": [{"id": "<uuid>", "payload": <parsed JSON>}, ...],   # PUBLISH only, else None
     "request": {"headers": {<lower-case name>: value, without secrets}, "domainName": None},
     "stash": {}}

``onSubscribe`` returns None to allow, or raises :class:`Unauthorized` (subscriber gets
``subscribe_error`` errorType ``Unauthorized``) or :class:`HandlerError`.
``onPublish`` returns the list of events to broadcast, ``[{"id", "payload"}]``; an item
``{"id", "error": "<message>"}`` is not broadcast and is reported in ``failed``; events left out
are not broadcast; returning None broadcasts nothing. Raising :class:`HandlerError` fails the
whole publish.
"""

from __future__ import annotations

from typing import Any

PUBLISH = "PUBLISH"
SUBSCRIBE = "SUBSCRIBE"


class HandlerError(Exception):
    """``util.error(message, errorType)``: fail the operation with this errorType."""

    def __init__(self, message: str, error_type: str = "BadRequestException") -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type


class Unauthorized(HandlerError):
    """``util.unauthorized()``: the subscriber gets errorType ``Unauthorized`` (amplify-js #14947)."""

    def __init__(self, message: str = "You are not authorized to make this call.") -> None:
        super().__init__(message, "Unauthorized")


def make_context(
    operation: str,
    channel_path: str,
    *,
    identity: dict[str, Any] | None = None,
    payloads: list[Any] | None = None,
    event_ids: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Build a handler ``ctx`` (shape in the module docstring). ``channel_path`` is a normalized
    path (leading ``/``). ``payloads`` are parsed JSON values (PUBLISH); ids default to
    ``"0"``, ``"1"``... Used by the server and by tests of the handlers."""
    segments = [s for s in channel_path.split("/") if s]
    events = None
    if operation == PUBLISH:
        payloads = payloads or []
        ids = event_ids or [str(i) for i in range(len(payloads))]
        events = [{"id": i, "payload": p} for i, p in zip(ids, payloads, strict=True)]
    return {
        "identity": identity,
        "info": {
            "channel": {"path": "/" + "/".join(segments), "segments": segments},
            "channelNamespace": {"name": segments[0] if segments else ""},
            "operation": operation,
        },
        "events": events,
        "request": {"headers": dict(headers or {}), "domainName": None},
        "stash": {},
    }


def cognito_identity(
    *,
    sub: str,
    username: str,
    groups: list[str] | tuple[str, ...] | None,
    issuer: str = "",
    claims: dict[str, Any] | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The Cognito identity shape handlers get (powertools ``appsync-shared.ts``)."""
    return {
        "sub": sub,
        "issuer": issuer,
        "username": username,
        "claims": dict(claims or {}),
        "sourceIp": [source_ip],
        "defaultAuthStrategy": "ALLOW",
        "groups": list(groups) if groups else None,
    }
