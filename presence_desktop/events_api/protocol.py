"""AppSync Events WebSocket wire protocol: frames, their encoding, and the auth subprotocol.

Pure functions and small data types, no I/O. Source of every fact: docs/appsync-events-protocol.md
(sections 2 and 3), which cites the AWS docs
"Understanding the Event API WebSocket protocol"
(https://docs.aws.amazon.com/appsync/latest/eventapi/event-api-websocket-protocol.html) and the
AWS-authored clients (amplify-js, aws-appsync-events-swift/kotlin).

- Every frame is a JSON text frame with a ``type`` field.
- Client frames: ``connection_init``, ``subscribe {id, channel, authorization}``,
  ``unsubscribe {id}``, ``publish {id, channel, events[1..5 JSON strings], authorization}``.
- Server frames: ``connection_ack {connectionTimeoutMs}``, ``ka``, ``subscribe_success|error``,
  ``unsubscribe_success|error``, ``data {id, event: JSON string}``, ``broadcast_error``,
  ``publish_success {successful, failed}``, ``publish_error``, ``error``, ``connection_error``.
- The connect authorization travels in a second subprotocol ``header-<base64url(JSON)>`` with
  the padding stripped (RFC 6455 subprotocols must be HTTP tokens; ``=`` is not a token char).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from presence_desktop.domain.compact_json import compact_json

from .channels import Channel, parse_channel

SUBPROTOCOL = "aws-appsync-event-ws"
AUTH_SUBPROTOCOL_PREFIX = "header-"
DEFAULT_CONNECTION_TIMEOUT_MS = 300_000
MAX_EVENTS_PER_PUBLISH = 5
MAX_EVENT_BYTES = 240 * 1024

# Client -> server
CONNECTION_INIT = "connection_init"
SUBSCRIBE = "subscribe"
UNSUBSCRIBE = "unsubscribe"
PUBLISH = "publish"
# Server -> client
CONNECTION_ACK = "connection_ack"
CONNECTION_ERROR = "connection_error"
KA = "ka"
SUBSCRIBE_SUCCESS = "subscribe_success"
SUBSCRIBE_ERROR = "subscribe_error"
UNSUBSCRIBE_SUCCESS = "unsubscribe_success"
UNSUBSCRIBE_ERROR = "unsubscribe_error"
DATA = "data"
BROADCAST_ERROR = "broadcast_error"
PUBLISH_SUCCESS = "publish_success"
PUBLISH_ERROR = "publish_error"
ERROR = "error"

SERVER_TYPES = frozenset({
    CONNECTION_ACK, CONNECTION_ERROR, KA, SUBSCRIBE_SUCCESS, SUBSCRIBE_ERROR, UNSUBSCRIBE_SUCCESS,
    UNSUBSCRIBE_ERROR, DATA, BROADCAST_ERROR, PUBLISH_SUCCESS, PUBLISH_ERROR, ERROR,
})
# Frame types that must name the request/subscription they answer.
_ID_REQUIRED = frozenset({
    SUBSCRIBE_SUCCESS, SUBSCRIBE_ERROR, UNSUBSCRIBE_SUCCESS, UNSUBSCRIBE_ERROR, DATA,
    BROADCAST_ERROR, PUBLISH_SUCCESS, PUBLISH_ERROR,
})
# Authorization modes (AWS "Configuring authorization and authentication to secure Event APIs",
# https://docs.aws.amazon.com/appsync/latest/eventapi/configure-event-api-auth.html).
API_KEY = "API_KEY"
AWS_IAM = "AWS_IAM"
COGNITO = "AMAZON_COGNITO_USER_POOLS"
AUTH_MODES = (API_KEY, AWS_IAM, COGNITO)

# errorType values of refused requests.
UNAUTHORIZED_EXCEPTION = "UnauthorizedException"
BAD_REQUEST_EXCEPTION = "BadRequestException"
# errorType values that mean "your credentials were refused" (amplify's non-retryable list plus
# the onSubscribe deny type; docs section 3.2).
AUTH_ERROR_TYPES = frozenset({
    UNAUTHORIZED_EXCEPTION, "Unauthorized", "NotAuthorizedException", BAD_REQUEST_EXCEPTION,
})
AUTH_ERROR_CODES = frozenset({400, 401, 403})


class ProtocolError(ValueError):
    """A frame that breaks the protocol (bad JSON, missing or mistyped field)."""


class MalformedFrame(ProtocolError):
    """A server frame the client cannot use. ``raw_preview`` is at most 200 chars for logs."""

    def __init__(self, message: str, raw: str | bytes = ""):
        super().__init__(message)
        text = raw if isinstance(raw, str) else repr(raw[:200])
        self.raw_preview = text[:200]


# ---------------------------------------------------------------- endpoints

def realtime_url_for(http_url: str) -> str:
    """The realtime URL for an HTTP publish URL (docs section 1; amplify appsyncUrl.ts, Swift
    EventsEndpointHelper): ``https://<id>.appsync-api.<region>.amazonaws.com/event`` becomes
    ``wss://<id>.appsync-realtime-api.<region>.amazonaws.com/event/realtime``; any other host
    (custom domain, the devstack) keeps its host and gets ``/realtime`` appended, ``http`` -> ``ws``.
    Raises ``ValueError`` unless the URL is ``http(s)://<host>[:port]/event``."""
    parts = urlsplit(http_url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.path.rstrip("/") != "/event":
        raise ValueError(f"expected https://<host>/event, got {http_url!r}")
    if parts.query or parts.fragment:
        raise ValueError("the events URL takes no query or fragment")
    netloc = parts.netloc
    host = parts.hostname
    if ".appsync-api." in host and (host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn")):
        netloc = netloc.replace(".appsync-api.", ".appsync-realtime-api.", 1)
    return f"{'wss' if parts.scheme == 'https' else 'ws'}://{netloc}/event/realtime"


# ---------------------------------------------------------------- auth subprotocol

def encode_auth_subprotocol(headers: Mapping[str, str]) -> str:
    """``header-`` + base64url(compact JSON of ``headers``) without ``=`` padding (docs/appsync-events-protocol.md)."""
    raw = compact_json(dict(headers)).encode("utf-8")
    return AUTH_SUBPROTOCOL_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_auth_subprotocol(value: str) -> dict[str, str]:
    """Inverse of :func:`encode_auth_subprotocol`. Raises :class:`ProtocolError` on bad input."""
    if not value.startswith(AUTH_SUBPROTOCOL_PREFIX):
        raise ProtocolError("auth subprotocol must start with 'header-'")
    b64 = value[len(AUTH_SUBPROTOCOL_PREFIX):]
    try:
        decoded = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
        obj = json.loads(decoded.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"auth subprotocol is not base64url JSON: {exc}") from None
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in obj.items()):
        raise ProtocolError("auth subprotocol must be a JSON object of strings")
    return obj


def subprotocols_for(connect_headers: Mapping[str, str]) -> list[str]:
    """The two subprotocols to offer: ``["aws-appsync-event-ws", "header-…"]``."""
    return [SUBPROTOCOL, encode_auth_subprotocol(connect_headers)]


# ---------------------------------------------------------------- bodies that IAM signs

CONNECT_BODY = "{}"


def subscribe_body(channel: str) -> str:
    """The body signed for a subscribe frame: ``{"channel":"…"}`` (docs/appsync-events-protocol.md)."""
    return compact_json({"channel": channel})


def publish_body(channel: str, events: Sequence[str]) -> str:
    """The body signed for a publish (WebSocket or HTTP): ``{"channel":"…","events":[…]}``."""
    return compact_json({"channel": channel, "events": list(events)})


# ---------------------------------------------------------------- client frames

def connection_init_frame() -> str:
    return compact_json({"type": CONNECTION_INIT})


def subscribe_frame(sub_id: str, channel: str, authorization: Mapping[str, str]) -> str:
    """``{"type":"subscribe","id","channel","authorization"}``; ``channel`` as already validated."""
    return compact_json({"type": SUBSCRIBE, "id": sub_id, "channel": channel,
                          "authorization": dict(authorization)})


def unsubscribe_frame(sub_id: str) -> str:
    return compact_json({"type": UNSUBSCRIBE, "id": sub_id})


def publish_frame(pub_id: str, channel: str, events: Sequence[str], authorization: Mapping[str, str]) -> str:
    """``{"type":"publish","id","channel","events":[JSON strings],"authorization"}``."""
    return compact_json({"type": PUBLISH, "id": pub_id, "channel": channel, "events": list(events),
                          "authorization": dict(authorization)})


def validate_subscribe_channel(channel: str) -> Channel:
    """Normalize a channel to subscribe to (wildcard allowed). Raises ``ChannelError``."""
    return parse_channel(channel, allow_wildcard=True)


def validate_publish_channel(channel: str) -> Channel:
    """Normalize a channel to publish to (no wildcard). Raises ``ChannelError``."""
    return parse_channel(channel, allow_wildcard=False)


def serialize_events(values: Sequence[Any]) -> list[str]:
    """Turn Python values into the 1-5 JSON strings a publish carries (docs sections 3.1, 5).

    Raises ``ValueError`` for an empty batch, more than 5 events, a value that is not JSON
    serializable, or an event over 240 KB (UTF-8).
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError("events must be a list of JSON-serializable values")
    if not 1 <= len(values) <= MAX_EVENTS_PER_PUBLISH:
        raise ValueError(f"a publish carries 1-{MAX_EVENTS_PER_PUBLISH} events, got {len(values)}")
    out = []
    for index, value in enumerate(values):
        try:
            text = compact_json(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"event {index} is not JSON serializable: {exc}") from None
        if len(text.encode("utf-8")) > MAX_EVENT_BYTES:
            raise ValueError(f"event {index} is over 240 KB ({MAX_EVENT_BYTES} bytes)")
        out.append(text)
    return out


# ---------------------------------------------------------------- server frames

@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """One entry of an ``errors`` array: ``errorType`` and ``message`` (``errorCode`` when sent)."""

    error_type: str
    message: str
    error_code: int | None = None

    @property
    def is_auth(self) -> bool:
        return self.error_type in AUTH_ERROR_TYPES or self.error_code in AUTH_ERROR_CODES

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}" if self.message else self.error_type


@dataclass(frozen=True, slots=True)
class ServerFrame:
    """A decoded server frame. ``raw`` is the whole JSON object; the common fields are lifted."""

    type: str
    id: str | None = None
    errors: tuple[ErrorInfo, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def event_text(self) -> str | None:
        """For ``data``: the event's JSON string (None when there is none)."""
        return _event_text(self.raw.get("event"))

    @property
    def event(self) -> Any:
        """For ``data``: the event parsed from its JSON string. Raises :class:`MalformedFrame`."""
        text = _event_text(self.raw.get("event"))
        if text is None:
            raise MalformedFrame("data frame without a string 'event'", compact_json(dict(self.raw)))
        return parse_event_text(text)

    @property
    def connection_timeout_ms(self) -> int:
        """For ``connection_ack``: ``connectionTimeoutMs`` top-level, else ``payload.connectionTimeoutMs``
        (the Swift client's reading), else 300000 (docs section 3.2)."""
        for source in (self.raw, self.raw.get("payload")):
            if isinstance(source, Mapping):
                value = source.get("connectionTimeoutMs")
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                    return int(value)
        return DEFAULT_CONNECTION_TIMEOUT_MS

    @property
    def is_auth_error(self) -> bool:
        return any(e.is_auth for e in self.errors)


def _event_text(value: Any) -> str | None:
    """A data frame's ``event``: a JSON string, as AWS's clients read it; one example on AWS's
    protocol page shows a one-element array of it, accepted too
    (https://docs.aws.amazon.com/appsync/latest/eventapi/event-api-websocket-protocol.html)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    return None


def _parse_errors(value: Any) -> tuple[ErrorInfo, ...]:
    if not isinstance(value, list):
        return ()
    out = []
    for item in value:
        if not isinstance(item, Mapping):
            out.append(ErrorInfo("UnknownError", str(item)[:200]))
            continue
        code = item.get("errorCode")
        out.append(ErrorInfo(
            str(item.get("errorType") or "UnknownError"),
            str(item.get("message") or ""),
            code if isinstance(code, int) and not isinstance(code, bool) else None,
        ))
    return tuple(out)


def decode_server_frame(raw: str | bytes) -> ServerFrame:
    """Parse one server frame. Raises :class:`MalformedFrame` for binary frames, invalid JSON,
    a non-object, a missing/unknown ``type``, or a missing ``id`` where one is required.
    ``data`` frames are checked to carry a string ``event``; parsing it is :attr:`ServerFrame.event`'s job.
    """
    return frame_from_object(parse_frame_json(raw), raw)


def parse_frame_json(raw: str | bytes) -> Any:
    """The JSON value of one server frame (the first step of :func:`decode_server_frame`).
    Raises :class:`MalformedFrame` for a binary frame or invalid JSON."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        raise MalformedFrame("binary frame (the protocol uses text frames only)", bytes(raw))
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise MalformedFrame(f"invalid JSON: {exc}", raw) from None


def data_frame_parts(obj: Any) -> tuple[str, str] | None:
    """``(id, event text)`` when ``obj`` (a parsed frame) is a well-formed ``data`` frame, else None
    (then :func:`frame_from_object` says what is wrong, or what else it is). The client's path for
    the one frame type that comes thousands of times a second: no :class:`ServerFrame` built."""
    if type(obj) is dict and obj.get("type") == DATA:
        frame_id = obj.get("id")
        event = obj.get("event")
        if type(frame_id) is str and frame_id and type(event) is str:
            return frame_id, event
    return None


def parse_event_text(text: str) -> Any:
    """A ``data`` frame's event string, parsed. Raises :class:`MalformedFrame`."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise MalformedFrame(f"data 'event' is not JSON: {exc}", text) from None


def frame_from_object(obj: Any, raw: str | bytes = "") -> ServerFrame:
    """Check a parsed server frame (see :func:`decode_server_frame`); ``raw`` is for the error's preview."""
    if not isinstance(obj, dict):
        raise MalformedFrame("frame is not a JSON object", raw)
    frame_type = obj.get("type")
    errors = _parse_errors(obj.get("errors"))
    if frame_type is None and errors:
        # AWS has been seen to answer a bad IAM connect signature with a bare {"errors":[…]} (https://github.com/aws-amplify/amplify-js/issues/14001).
        frame_type = ERROR
    if not isinstance(frame_type, str):
        raise MalformedFrame("frame without a string 'type'", raw)
    if frame_type not in SERVER_TYPES:
        raise MalformedFrame(f"unknown frame type {frame_type!r}", raw)
    frame_id = obj.get("id")
    if frame_id is not None and not isinstance(frame_id, str):
        raise MalformedFrame(f"{frame_type} frame with a non-string 'id'", raw)
    if frame_type in _ID_REQUIRED and not frame_id:
        raise MalformedFrame(f"{frame_type} frame without an 'id'", raw)
    if frame_type == DATA and _event_text(obj.get("event")) is None:
        raise MalformedFrame("data frame without a string 'event' (or a one-element list of one)", raw)
    return ServerFrame(frame_type, frame_id, errors, obj)
