"""A local AWS AppSync Events API: the same wire protocol and auth modes, on one aiohttp port.

Endpoints (docs/appsync-events-protocol.md; AWS docs "Publish events via HTTP" / "Understanding the Event
API WebSocket protocol", docs.aws.amazon.com/appsync/latest/eventapi/):

- ``POST /event``: HTTP publish. Body ``{"channel": "/ns/a", "events": ["<JSON string>", 1..5]}``.
  200 ``{"successful": [{"identifier": uuid, "index": i}], "failed": [{"identifier", "index",
  "errorCode", "errorMessage"}]}``; an error is ``{"errors": [{"errorType", "message"}]}`` with
  400 (BadRequestException), 401 (UnauthorizedException) or 403 (handler ``Unauthorized``).
- ``GET /event/realtime``: WebSocket, subprotocol ``aws-appsync-event-ws``. The connect
  authorization object comes from the ``header-<base64url, unpadded JSON>`` subprotocol, or from
  plain upgrade headers (Swift style). Frames: ``connection_init`` -> ``connection_ack``
  (top-level ``connectionTimeoutMs``); ``ka`` every ``ka_interval_s``; ``subscribe`` ->
  ``subscribe_success`` / ``subscribe_error``; ``unsubscribe`` -> ``unsubscribe_success`` /
  ``unsubscribe_error``; ``publish`` -> ``publish_success`` / ``publish_error``; ``data``
  ``{"type":"data","id":<sub id>,"event":"<JSON string>"}`` one frame per event; ``error`` for
  unparsable, unknown or server-only frames sent by a client.

Auth modes (each checked for real): ``API_KEY`` (``x-api-key``), ``AMAZON_COGNITO_USER_POOLS``
(``authorization: <JWT>``, verified by :class:`~presence_desktop.relay.cognito_jwt.CognitoTokenVerifier`),
``AWS_IAM`` (SigV4 over ``POST /event`` with body ``{}`` connect, ``{"channel"}`` subscribe,
``{"channel","events"}`` publish; :mod:`presence_desktop.devstack.sigv4_verify`). Connection,
publish and subscribe modes are configured per API, with per-namespace overrides.

Facts marked unconfirmed in docs/appsync-events-protocol.md are :class:`Limits` / :class:`Behaviour`
settings, never hard-coded guesses.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import hmac
import inspect
import json
import logging
import socket
import ssl
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from presence_desktop.devstack.handler_api import PUBLISH, SUBSCRIBE, HandlerError, make_context
from presence_desktop.devstack.sigv4_verify import SigV4Error, looks_like_sigv4, verify_sigv4
from presence_desktop.events_api.channels import Channel, ChannelError, parse_channel

log = logging.getLogger(__name__)

API_KEY = "API_KEY"
AWS_IAM = "AWS_IAM"
COGNITO = "AMAZON_COGNITO_USER_POOLS"
AUTH_MODES = (API_KEY, AWS_IAM, COGNITO)
SUBPROTOCOL = "aws-appsync-event-ws"
HEADER_PREFIX = "header-"
UNAUTHORIZED = "UnauthorizedException"
BAD_REQUEST = "BadRequestException"
# Headers whose values are secrets: never given to handlers, never logged.
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "x-amz-security-token"})

Handler = Callable[[dict[str, Any]], Any]


@dataclass
class Limits:
    """Limits, each with the documented (or, if UNCONFIRMED, the assumed) AWS value.

    - ``max_event_bytes``: 240 KB per event, UTF-8 bytes of the event string [AWS concepts doc].
    - ``max_events_per_publish``: 1..5 [AWS publish docs].
    - ``max_subscriptions_per_connection``: 200 (third-party quota transcription, UNCONFIRMED).
    - ``ka_interval_s``: seconds between ``ka`` frames (UNCONFIRMED; amplify alerts after 65 s).
    - ``connection_timeout_ms``: sent in ``connection_ack`` (300000: amplify's default).
    - ``wildcard_any_depth``: ``/ns/a/*`` matches any depth below ``/ns/a`` (True) or one
      level (False); UNCONFIRMED.
    - ``max_channel_segments``: 5 [AWS namespaces doc].
    - ``send_queue_max_bytes``: frames waiting for one connection (counted in characters, a
      close lower bound of bytes); past it the subscriber is disconnected (close code ``slow_consumer_close_code``) instead of growing memory.
    - ``max_frame_bytes`` / ``max_request_bytes``: incoming WebSocket frame / HTTP body bound
      (5 x 240 KB must fit, JSON-escaped).
    - ``iam_max_skew_s``: allowed distance of ``x-amz-date`` from the server clock (AWS: 5 min).
    """

    max_event_bytes: int = 240 * 1024
    max_events_per_publish: int = 5
    max_subscriptions_per_connection: int = 200
    ka_interval_s: float = 60.0
    connection_timeout_ms: int = 300_000
    wildcard_any_depth: bool = True
    max_channel_segments: int = 5
    send_queue_max_bytes: int = 8 * 1024 * 1024
    max_frame_bytes: int = 8 * 1024 * 1024
    max_request_bytes: int = 8 * 1024 * 1024
    iam_max_skew_s: float = 300.0


@dataclass
class Behaviour:
    """Server reactions docs/appsync-events-protocol.md marks unconfirmed, as settings.

    - ``connect_error_type``: frame type of a refused connect (``connection_error``, as amplify
      expects; the alternative is ``error``); ``close_after_connect_error`` then closes with
      ``connect_error_close_code``.
    - ``*_error_type``: errorType for an unknown namespace, a duplicate subscription id on one
      connection, an unknown id in ``unsubscribe``, too many subscriptions, an unknown or
      server-only frame type, unparsable JSON.
    - ``require_subprotocol``: refuse (HTTP 400) an upgrade that does not offer
      ``aws-appsync-event-ws``, as Python ``websockets`` servers do.
    - ``ka_before_init``: send ``ka`` from the upgrade on, not only after the first frame.
    - ``websocket_compression``: accept permessage-deflate (off: whether AWS does is unknown,
      and it costs CPU on every fan-out frame).
    """

    connect_error_type: str = "connection_error"
    close_after_connect_error: bool = True
    connect_error_close_code: int = 1008
    unknown_namespace_error_type: str = BAD_REQUEST
    duplicate_subscription_error_type: str = BAD_REQUEST
    unknown_subscription_error_type: str = BAD_REQUEST
    max_subscriptions_error_type: str = "MaxSubscriptionsReachedError"
    unknown_type_error_type: str = "UnsupportedOperation"
    invalid_json_error_type: str = BAD_REQUEST
    require_subprotocol: bool = True
    ka_before_init: bool = False
    slow_consumer_close_code: int = 1013
    websocket_compression: bool = False


@dataclass
class NamespaceConfig:
    """One channel namespace. ``None`` auth modes = the API defaults. Handlers: see
    :mod:`presence_desktop.devstack.handler_api` (sync or async callables taking ``ctx``)."""

    publish_auth_modes: tuple[str, ...] | None = None
    subscribe_auth_modes: tuple[str, ...] | None = None
    on_publish: Handler | None = None
    on_subscribe: Handler | None = None


@dataclass
class EventsServerConfig:
    """Everything the server needs. ``tls`` None = plain HTTP/WS (``--no-tls`` only).

    ``iam_credentials``: access key id -> secret access key accepted for SigV4.
    ``cognito_verifier``: a ``CognitoTokenVerifier`` or None (then Cognito auth is refused).
    ``ca_file``: PEM of the CA that signed the TLS certificate (reported in ``ready_info``).
    """

    host: str = "127.0.0.1"
    port: int = 0
    tls: ssl.SSLContext | None = None
    ca_file: str | None = None
    api_keys: tuple[str, ...] = ()
    iam_credentials: dict[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    iam_account_id: str = "000000000000"
    iam_user_name: str = "presence-devstack"
    cognito_verifier: Any = None
    connection_auth_modes: tuple[str, ...] = (API_KEY, AWS_IAM, COGNITO)
    default_publish_auth_modes: tuple[str, ...] = (API_KEY,)
    default_subscribe_auth_modes: tuple[str, ...] = (API_KEY,)
    namespaces: dict[str, NamespaceConfig] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    behaviour: Behaviour = field(default_factory=Behaviour)

    def __post_init__(self) -> None:
        modes = [*self.connection_auth_modes, *self.default_publish_auth_modes, *self.default_subscribe_auth_modes]
        for ns in self.namespaces.values():
            modes += [*(ns.publish_auth_modes or ()), *(ns.subscribe_auth_modes or ())]
        unknown = sorted(set(modes) - set(AUTH_MODES))
        if unknown:
            raise ValueError(f"unsupported auth mode(s) {unknown}; supported: {AUTH_MODES}")


class OperationError(Exception):
    """An operation refused with an AppSync ``errorType`` (and the HTTP status for POST /event)."""

    def __init__(self, error_type: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status or (401 if error_type == UNAUTHORIZED else 403 if error_type == "Unauthorized" else 400)

    def errors(self) -> list[dict[str, str]]:
        return [{"errorType": self.error_type, "message": self.message}]


def compact(obj: Any) -> str:
    """Compact JSON as AWS JS clients produce it (``JSON.stringify``): what IAM signatures cover."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def decode_header_subprotocol(value: str) -> dict[str, str]:
    """``header-<base64url unpadded JSON>`` -> lower-case header map. Raises ``ValueError``."""
    b64 = value[len(HEADER_PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"header subprotocol is not base64url JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("header subprotocol must encode a JSON object")
    return {str(k).lower(): str(v) for k, v in data.items()}


def encode_header_subprotocol(auth: Mapping[str, str]) -> str:
    """The inverse of :func:`decode_header_subprotocol` (for tests and tools)."""
    raw = base64.urlsafe_b64encode(compact(dict(auth)).encode("utf-8")).decode("ascii")
    return HEADER_PREFIX + raw.rstrip("=")


class _Connection:
    """One WebSocket: its subscriptions and a byte-bounded send queue drained by one writer task."""

    def __init__(self, server: EventsServer, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.server = server
        self.ws = ws
        self.transport = request.transport
        self.source_ip = request.remote or ""
        self.subs: dict[str, Channel] = {}
        self.sub_prefix: dict[str, str] = {}  # sub id -> encoded '{"type":"data","id":<id>,"event":'
        self._queue: collections.deque[str] = collections.deque()
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self.closed = False
        self.writer_task: asyncio.Task | None = None
        self.ka_task: asyncio.Task | None = None

    def start(self) -> None:
        self.writer_task = asyncio.create_task(self._writer(), name="events-ws-writer")

    def start_ka(self) -> None:
        if self.ka_task is None and not self.closed:
            self.ka_task = asyncio.create_task(self._ka(), name="events-ws-ka")

    def send(self, frame: str) -> None:
        """Queue a text frame; a connection over its queue bound is disconnected."""
        if self.closed:
            return
        size = len(frame)
        if self._queued_bytes + size > self.server.config.limits.send_queue_max_bytes:
            log.warning("disconnecting %s: subscriber too slow (%d bytes queued)", self.source_ip, self._queued_bytes)
            self.closed = True
            self._queue.clear()
            self._queued_bytes = 0
            task = asyncio.ensure_future(self._close(self.server.config.behaviour.slow_consumer_close_code, "too slow"))
            self.server._background.add(task)  # keep a reference until it is done
            task.add_done_callback(self.server._background.discard)
            return
        self._queue.append(frame)
        self._queued_bytes += size
        self._wake.set()

    def send_json(self, obj: dict[str, Any]) -> None:
        self.send(compact(obj))

    async def _writer(self) -> None:
        try:
            while True:
                while not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                frame = self._queue.popleft()
                self._queued_bytes -= len(frame)
                if self.server.paused:
                    continue  # half-open simulation: frames vanish
                await self.ws.send_str(frame)
        except asyncio.CancelledError:
            raise
        except Exception:  # a dead socket ends the writer; the reader sees the close
            log.debug("writer for %s ended", self.source_ip, exc_info=True)
            self.abort()

    async def _ka(self) -> None:
        interval = self.server.config.limits.ka_interval_s
        while not self.closed:
            await asyncio.sleep(interval)
            self.send('{"type":"ka"}')

    def _cancel_tasks(self) -> None:
        current = asyncio.current_task()
        for task in (self.writer_task, self.ka_task):
            if task is not None and task is not current and not task.done():
                task.cancel()

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (client sees 1006)."""
        self.closed = True
        self._cancel_tasks()
        self.server._forget(self)
        if self.transport is not None:
            self.transport.abort()

    async def kill(self, code: int, reason: str) -> None:
        """Close with a close frame if that completes within a second, else abort."""
        if self.closed:
            return
        self.closed = True
        await self._close(code, reason)

    async def _close(self, code: int, reason: str) -> None:
        self._cancel_tasks()
        self.server._forget(self)
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=reason.encode()), 1.0)
        except Exception:  # noqa: BLE001 - includes the timeout: fall back to abort
            pass
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()


class EventsServer:
    """The local AppSync Events API. ``await start()`` / ``await stop()``; restartable on the same
    port (``start()`` after ``stop()`` rebinds the port it had).

    Fault-injection hooks for client tests:

    - :meth:`pause_sending` / :meth:`resume_sending`: half-open connections: nothing is sent
      (no ``ka``, no ``data``, no replies, no pongs) and incoming frames are ignored, yet sockets
      stay open.
    - :meth:`drop_all_connections`: close every WebSocket (abruptly by default, code 1006 seen
      by the client), keep serving.
    - :meth:`inject_raw`: send a raw text frame to every open WebSocket.
    - :meth:`stop` / :meth:`start`: the whole endpoint goes away and comes back on the same port.
    """

    def __init__(self, config: EventsServerConfig) -> None:
        self.config = config
        self.paused = False
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None
        self._connections: set[_Connection] = set()
        self._exact: dict[str, dict[tuple[_Connection, str], None]] = {}
        self._wild: dict[tuple[_Connection, str], Channel] = {}
        self.stats = collections.Counter()  # connections, subscribed, unsubscribed, published, delivered
        self._background: set[asyncio.Future] = set()

    # --- lifecycle --------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("the events server has not been started")
        return self._bound_port

    @property
    def running(self) -> bool:
        return self._runner is not None

    def _authority(self) -> str:
        host = self.config.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def http_url(self) -> str:
        """``https://127.0.0.1:P/event`` (``http://`` without TLS)."""
        return f"{'https' if self.config.tls else 'http'}://{self._authority()}/event"

    @property
    def realtime_url(self) -> str:
        """``wss://127.0.0.1:P/event/realtime`` (``ws://`` without TLS)."""
        return f"{'wss' if self.config.tls else 'ws'}://{self._authority()}/event/realtime"

    @property
    def http_host(self) -> str:
        """The ``host`` value clients put in authorization objects."""
        return self._authority()

    async def start(self) -> None:
        """Bind and serve; returns once connections are accepted. Raises ``OSError`` if the port
        is taken."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=self.config.limits.max_request_bytes)
        app.router.add_post("/event", self._http_publish)
        app.router.add_get("/event/realtime", self._realtime)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        port = self._bound_port if self._bound_port is not None else self.config.port
        site = web.TCPSite(runner, self.config.host, port, ssl_context=self.config.tls, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        sockets = site._server.sockets if site._server else []  # aiohttp has no public getter
        self._bound_port = next(s.getsockname()[1] for s in sockets if s.family in (socket.AF_INET, socket.AF_INET6))
        self._runner = runner
        self.paused = False
        log.info("events server on %s (realtime %s)", self.http_url, self.realtime_url)

    async def stop(self) -> None:
        """Close every WebSocket (code 1001) and stop listening; the port is released."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await asyncio.gather(*(c.kill(1001, "server stopping") for c in list(self._connections)))
        await runner.cleanup()

    def ready_info(self) -> dict[str, Any]:
        """``{"events": {"http", "realtime", "api_key", "ca_file"}, "iam": {"access_key_id",
        "secret_access_key"}}`` (the devstack ready file's keys)."""
        key_id, secret = next(iter(self.config.iam_credentials.items()), (None, None))
        return {
            "events": {
                "http": self.http_url,
                "realtime": self.realtime_url,
                "api_key": self.config.api_keys[0] if self.config.api_keys else None,
                "ca_file": self.config.ca_file,
            },
            "iam": {"access_key_id": key_id, "secret_access_key": secret},
        }

    # --- fault injection ----------------------------------------------------------------------
    def pause_sending(self) -> None:
        """Simulate half-open connections: from now on no frame (``ka``, ``data``, replies,
        pongs) reaches any client and client frames are ignored; sockets stay open.
        Frames produced while paused are discarded, as a dead network would."""
        self.paused = True

    def resume_sending(self) -> None:
        """Undo :meth:`pause_sending` (frames dropped meanwhile stay lost)."""
        self.paused = False

    async def drop_all_connections(self, *, abrupt: bool = True, code: int = 1001) -> int:
        """Close every open WebSocket and return how many. ``abrupt``: TCP abort, no close frame
        (client sees 1006); otherwise a close frame with ``code``. New connections are accepted."""
        conns = list(self._connections)
        for conn in conns:
            if abrupt:
                conn.abort()
            else:
                await conn.kill(code, "dropped by test")
        return len(conns)

    def inject_raw(self, text: str) -> int:
        """Queue ``text`` as a raw text frame (any content, even invalid JSON) on every open
        WebSocket; returns the number of connections."""
        conns = list(self._connections)
        for conn in conns:
            conn.send(text)
        return len(conns)

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    @property
    def subscription_count(self) -> int:
        return sum(len(c.subs) for c in self._connections)

    # --- auth -------------------------------------------------------------------------------
    async def authorize(
        self, modes: tuple[str, ...], headers: Mapping[str, str], body: str, source_ip: str
    ) -> dict[str, Any] | None:
        """Check one authorization object against the allowed ``modes``.

        ``headers``: lower-case names. ``body``: what an IAM signature must cover. Returns the
        identity handlers get (None for API_KEY). Raises :class:`OperationError`
        (UnauthorizedException or BadRequestException).
        """
        authz = str(headers.get("authorization", "") or "")
        presented = []
        if authz and looks_like_sigv4(headers):
            presented.append(AWS_IAM)
        elif authz:
            presented.append(COGNITO)
        if headers.get("x-api-key"):
            presented.append(API_KEY)
        if not presented:
            raise OperationError(UNAUTHORIZED, "No authorization information was provided.")
        usable = [m for m in presented if m in modes]
        if not usable:
            raise OperationError(
                UNAUTHORIZED, f"Auth mode {presented[0]} is not allowed here (allowed: {', '.join(modes)})."
            )
        mode = usable[0]
        if mode == API_KEY:
            given = str(headers["x-api-key"])
            if not any(hmac.compare_digest(given.encode(), k.encode()) for k in self.config.api_keys):
                raise OperationError(UNAUTHORIZED, "You are not authorized to make this call: invalid API key.")
            return None
        if mode == AWS_IAM:
            try:
                ident = verify_sigv4(
                    headers,
                    body,
                    credentials=self.config.iam_credentials,
                    region=self.config.region,
                    max_skew_s=self.config.limits.iam_max_skew_s,
                )
            except SigV4Error as exc:
                raise OperationError(exc.error_type, exc.message) from None
            acct = self.config.iam_account_id
            return {
                "accountId": acct,
                "cognitoIdentityPoolId": None,
                "cognitoIdentityId": None,
                "sourceIp": [source_ip],
                "username": ident.access_key_id,
                "userArn": f"arn:aws:iam::{acct}:user/{self.config.iam_user_name}",
                "cognitoIdentityAuthType": None,
                "cognitoIdentityAuthProvider": None,
            }
        verifier = self.config.cognito_verifier
        if verifier is None:
            raise OperationError(UNAUTHORIZED, "Cognito user pool auth is not configured on this API.")
        from presence_desktop.relay.cognito_jwt import TokenError

        try:
            claims = await verifier.verify_async(authz)
        except TokenError as exc:
            msg = "Token has expired." if exc.code == "expired" else f"Valid authorization header not provided ({exc.code})."
            raise OperationError(UNAUTHORIZED, msg) from None
        return {
            "sub": claims.sub,
            "issuer": claims.issuer,
            "username": claims.username,
            "claims": dict(claims.raw),
            "sourceIp": [source_ip],
            "defaultAuthStrategy": "ALLOW",
            "groups": list(claims.groups) or None,
        }

    # --- shared operations ------------------------------------------------------------------
    def _namespace(self, channel: Channel) -> NamespaceConfig:
        ns = self.config.namespaces.get(channel.namespace)
        if ns is None:
            raise OperationError(
                self.config.behaviour.unknown_namespace_error_type,
                f"Namespace {channel.namespace!r} does not exist on this API.",
            )
        return ns

    def _parse_channel(self, raw: Any, *, allow_wildcard: bool) -> Channel:
        try:
            return parse_channel(raw, allow_wildcard=allow_wildcard, max_segments=self.config.limits.max_channel_segments)
        except ChannelError as exc:
            raise OperationError(exc.error_type, str(exc)) from None

    @staticmethod
    async def _call(handler: Handler, ctx: dict[str, Any]) -> Any:
        result = handler(ctx)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def publish(
        self, raw_channel: Any, events: Any, auth: Mapping[str, str], signed_body: str, source_ip: str
    ) -> tuple[list[dict], list[dict]]:
        """Validate, authorize, run onPublish and fan out. Returns ``(successful, failed)``.
        Raises :class:`OperationError`."""
        limits = self.config.limits
        channel = self._parse_channel(raw_channel, allow_wildcard=False)
        ns = self._namespace(channel)
        modes = ns.publish_auth_modes or self.config.default_publish_auth_modes
        identity = await self.authorize(modes, auth, signed_body, source_ip)
        if not isinstance(events, list) or not events:
            raise OperationError(BAD_REQUEST, "events must be a non-empty list of JSON strings.")
        if len(events) > limits.max_events_per_publish:
            raise OperationError(BAD_REQUEST, f"At most {limits.max_events_per_publish} events per publish, got {len(events)}.")
        payloads = []
        for index, text in enumerate(events):
            if not isinstance(text, str):
                raise OperationError(BAD_REQUEST, f"events[{index}] must be a string holding JSON.")
            size = len(text.encode("utf-8"))
            if size > limits.max_event_bytes:
                raise OperationError(BAD_REQUEST, f"events[{index}] is {size} bytes; the limit is {limits.max_event_bytes}.")
            try:
                payloads.append(json.loads(text))
            except ValueError:
                raise OperationError(BAD_REQUEST, f"events[{index}] is not valid JSON.") from None
        ids = [str(uuid.uuid4()) for _ in events]
        failed: list[dict] = []
        if ns.on_publish is None:
            outgoing = list(events)
            ok = set(range(len(events)))
        else:
            ctx = make_context(
                PUBLISH, channel.path, identity=identity, payloads=payloads, event_ids=ids, headers=_public_headers(auth)
            )
            try:
                result = await self._call(ns.on_publish, ctx)
            except HandlerError as exc:
                raise OperationError(exc.error_type, exc.message) from None
            index_of = {eid: i for i, eid in enumerate(ids)}
            outgoing, ok = [], set(range(len(events)))
            for item in result or []:
                i = index_of.get(item.get("id")) if isinstance(item, dict) else None
                if i is None:
                    log.warning("onPublish returned an item with an unknown id; ignored")
                    continue
                if "error" in item:
                    ok.discard(i)
                    failed.append({"identifier": ids[i], "index": i, "errorCode": 400, "errorMessage": str(item["error"])})
                    continue
                text = compact(item.get("payload"))
                if len(text.encode("utf-8")) > limits.max_event_bytes:
                    log.warning("onPublish output for event %d over %d bytes dropped", i, limits.max_event_bytes)
                    continue  # AWS drops oversized handler output silently
                outgoing.append(text)
        self._fan_out(channel, outgoing)
        self.stats["published"] += len(outgoing)
        successful = [{"identifier": ids[i], "index": i} for i in sorted(ok)]
        return successful, failed

    def _fan_out(self, channel: Channel, events: list[str]) -> None:
        """Queue one ``data`` frame per event for every matching subscription, synchronously (so
        each connection gets events in the order publishes were accepted)."""
        if not events:
            return
        targets = list(self._exact.get(channel.path, ()))
        any_depth = self.config.limits.wildcard_any_depth
        targets += [key for key, sub in self._wild.items() if sub.matches(channel, any_depth=any_depth)]
        if not targets:
            return
        encoded = [json.dumps(e, ensure_ascii=False) for e in events]
        for conn, sid in targets:
            prefix = conn.sub_prefix.get(sid)
            if prefix is None:
                continue
            for enc in encoded:
                conn.send(prefix + enc + "}")
        self.stats["delivered"] += len(targets) * len(events)

    def _forget(self, conn: _Connection) -> None:
        self._connections.discard(conn)
        for sid in list(conn.subs):
            self._unregister(conn, sid)

    def _unregister(self, conn: _Connection, sid: str) -> None:
        channel = conn.subs.pop(sid, None)
        conn.sub_prefix.pop(sid, None)
        if channel is None:
            return
        key = (conn, sid)
        if channel.is_wildcard:
            self._wild.pop(key, None)
        else:
            bucket = self._exact.get(channel.path)
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del self._exact[channel.path]

    # --- HTTP publish -----------------------------------------------------------------------
    async def _http_publish(self, request: web.Request) -> web.Response:
        try:
            text = (await request.read()).decode("utf-8")
        except web.HTTPRequestEntityTooLarge:
            return _errors_response(
                OperationError(BAD_REQUEST, f"The request body is over {self.config.limits.max_request_bytes} bytes.", 413)
            )
        except UnicodeDecodeError:
            return _errors_response(OperationError(BAD_REQUEST, "The request body is not UTF-8."))
        try:
            body = json.loads(text)
        except ValueError:
            return _errors_response(OperationError(BAD_REQUEST, "The request body is not valid JSON."))
        if not isinstance(body, dict):
            return _errors_response(OperationError(BAD_REQUEST, "The request body must be a JSON object."))
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            successful, failed = await self.publish(
                body.get("channel"), body.get("events"), headers, text, request.remote or ""
            )
        except OperationError as exc:
            return _errors_response(exc)
        return web.json_response({"successful": successful, "failed": failed}, dumps=compact)

    # --- WebSocket ------------------------------------------------------------------------------
    async def _realtime(self, request: web.Request) -> web.StreamResponse:
        offered = [p.strip() for value in request.headers.getall("Sec-WebSocket-Protocol", []) for p in value.split(",")]
        offered = [p for p in offered if p]
        if SUBPROTOCOL not in offered and self.config.behaviour.require_subprotocol:
            raise web.HTTPBadRequest(text=f"the {SUBPROTOCOL} subprotocol is required")
        ws = web.WebSocketResponse(
            protocols=(SUBPROTOCOL,),
            autoping=False,
            heartbeat=None,
            max_msg_size=self.config.limits.max_frame_bytes,
            compress=self.config.behaviour.websocket_compression,
        )
        await ws.prepare(request)
        conn = _Connection(self, ws, request)
        conn.start()
        try:
            try:
                auth = _connect_auth(request, offered)
                await self.authorize(self.config.connection_auth_modes, auth, "{}", conn.source_ip)
            except OperationError as exc:
                await self._refuse_connect(conn, exc)
                async for _ in ws:  # left open by the setting: ignore everything until the client goes
                    pass
                return ws
            self._connections.add(conn)
            self.stats["connections"] += 1
            if self.config.behaviour.ka_before_init:
                conn.start_ka()
            async for msg in ws:
                if msg.type == WSMsgType.PING:
                    if not self.paused:
                        await ws.pong(msg.data)
                    continue
                if msg.type == WSMsgType.PONG or self.paused or conn.closed:
                    continue
                if msg.type == WSMsgType.TEXT:
                    await self._on_frame(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    conn.send_json(_error_frame(None, self.config.behaviour.invalid_json_error_type, "Binary frames are not supported."))
                elif msg.type == WSMsgType.ERROR:
                    break
        except ConnectionResetError:
            pass
        finally:
            conn.closed = True
            conn._cancel_tasks()
            self._forget(conn)
        return ws

    async def _refuse_connect(self, conn: _Connection, exc: OperationError) -> None:
        behaviour = self.config.behaviour
        log.info("connect refused from %s: %s", conn.source_ip, exc.error_type)
        conn._cancel_tasks()
        conn.closed = True
        try:
            await conn.ws.send_str(compact({"type": behaviour.connect_error_type, "errors": exc.errors()}))
            if behaviour.close_after_connect_error:
                await conn.ws.close(code=behaviour.connect_error_close_code, message=b"connection refused")
        except (ConnectionError, RuntimeError):
            pass  # the client left first

    async def _on_frame(self, conn: _Connection, text: str) -> None:
        behaviour = self.config.behaviour
        try:
            frame = json.loads(text)
        except ValueError:
            conn.send_json(_error_frame(None, behaviour.invalid_json_error_type, "The message is not valid JSON."))
            return
        if not isinstance(frame, dict):
            conn.send_json(_error_frame(None, behaviour.invalid_json_error_type, "A message must be a JSON object."))
            return
        kind = frame.get("type")
        fid = frame.get("id") if isinstance(frame.get("id"), str) else None
        if kind == "connection_init":
            conn.start_ka()
            conn.send_json({"type": "connection_ack", "connectionTimeoutMs": self.config.limits.connection_timeout_ms})
        elif kind == "subscribe":
            conn.start_ka()
            await self._ws_subscribe(conn, frame, fid)
        elif kind == "unsubscribe":
            self._ws_unsubscribe(conn, fid)
        elif kind == "publish":
            conn.start_ka()
            await self._ws_publish(conn, frame, fid)
        else:
            conn.send_json(_error_frame(fid, behaviour.unknown_type_error_type, f"Unsupported message type {kind!r}."))

    async def _ws_subscribe(self, conn: _Connection, frame: dict, sid: str | None) -> None:
        behaviour, limits = self.config.behaviour, self.config.limits
        try:
            if not sid:
                raise OperationError(BAD_REQUEST, "A subscribe message needs a non-empty string id.")
            if sid in conn.subs:
                raise OperationError(behaviour.duplicate_subscription_error_type, f"Subscription id {sid!r} is already in use.")
            if len(conn.subs) >= limits.max_subscriptions_per_connection:
                raise OperationError(
                    behaviour.max_subscriptions_error_type,
                    f"At most {limits.max_subscriptions_per_connection} subscriptions per connection.",
                )
            channel = self._parse_channel(frame.get("channel"), allow_wildcard=True)
            ns = self._namespace(channel)
            auth = _auth_object(frame)
            modes = ns.subscribe_auth_modes or self.config.default_subscribe_auth_modes
            identity = await self.authorize(modes, auth, compact({"channel": frame.get("channel")}), conn.source_ip)
            if ns.on_subscribe is not None:
                ctx = make_context(SUBSCRIBE, channel.path, identity=identity, headers=_public_headers(auth))
                try:
                    await self._call(ns.on_subscribe, ctx)
                except HandlerError as exc:
                    raise OperationError(exc.error_type, exc.message) from None
            if conn.closed:
                return
            if sid in conn.subs:  # a concurrent duplicate raced us through an await
                raise OperationError(behaviour.duplicate_subscription_error_type, f"Subscription id {sid!r} is already in use.")
        except OperationError as exc:
            conn.send_json({"type": "subscribe_error", "id": sid, "errors": exc.errors()})
            return
        conn.subs[sid] = channel
        conn.sub_prefix[sid] = '{"type":"data","id":' + json.dumps(sid, ensure_ascii=False) + ',"event":'
        key = (conn, sid)
        if channel.is_wildcard:
            self._wild[key] = channel
        else:
            self._exact.setdefault(channel.path, {})[key] = None
        self.stats["subscribed"] += 1
        conn.send_json({"type": "subscribe_success", "id": sid})

    def _ws_unsubscribe(self, conn: _Connection, sid: str | None) -> None:
        if not sid or sid not in conn.subs:
            conn.send_json(
                {
                    "type": "unsubscribe_error",
                    "id": sid,
                    "errors": [
                        {
                            "errorType": self.config.behaviour.unknown_subscription_error_type,
                            "message": f"No subscription with id {sid!r} on this connection.",
                        }
                    ],
                }
            )
            return
        self._unregister(conn, sid)
        self.stats["unsubscribed"] += 1
        conn.send_json({"type": "unsubscribe_success", "id": sid})

    async def _ws_publish(self, conn: _Connection, frame: dict, pid: str | None) -> None:
        try:
            if not pid:
                raise OperationError(BAD_REQUEST, "A publish message needs a non-empty string id.")
            auth = _auth_object(frame)
            signed = compact({"channel": frame.get("channel"), "events": frame.get("events")})
            successful, failed = await self.publish(frame.get("channel"), frame.get("events"), auth, signed, conn.source_ip)
        except OperationError as exc:
            conn.send_json({"type": "publish_error", "id": pid, "errors": exc.errors()})
            return
        conn.send_json({"type": "publish_success", "id": pid, "successful": successful, "failed": failed})


def _auth_object(frame: dict) -> dict[str, str]:
    auth = frame.get("authorization")
    if not isinstance(auth, dict):
        raise OperationError(UNAUTHORIZED, "The message has no authorization object.")
    return {str(k).lower(): str(v) for k, v in auth.items()}


def _connect_auth(request: web.Request, offered: list[str]) -> dict[str, str]:
    for proto in offered:
        if proto.startswith(HEADER_PREFIX):
            try:
                return decode_header_subprotocol(proto)
            except ValueError as exc:
                raise OperationError(BAD_REQUEST, str(exc)) from None
    # Swift style: the authorization headers ride on the upgrade request itself.
    return {k.lower(): v for k, v in request.headers.items() if k.lower() != "sec-websocket-protocol"}


def _public_headers(auth: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in auth.items() if k not in SECRET_HEADERS}


def _error_frame(fid: str | None, error_type: str, message: str) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error"}
    if fid:
        frame["id"] = fid
    frame["errors"] = [{"errorType": error_type, "message": message}]
    return frame


def _errors_response(exc: OperationError) -> web.Response:
    return web.json_response({"errors": exc.errors()}, status=exc.status, dumps=compact)

