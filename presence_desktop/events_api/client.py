"""One resilient AppSync Events WebSocket: connect, keep alive, subscribe, publish, reconnect.

No Qt: the client core adapts this (client/backends.py). Protocol facts: docs/appsync-events-protocol.md
(sections 2 and 3), citing the AWS docs
"Understanding the Event API WebSocket protocol"
(https://docs.aws.amazon.com/appsync/latest/eventapi/event-api-websocket-protocol.html).

Usage (inside a running asyncio loop)::

    client = EventsClient.from_settings(profile.events, CognitoAuth(session.id_token, host,
                                        force_refresh=session.force_refresh))
    client.add_state_listener(on_state)          # EventsClientState objects, see below
    await client.start()
    sub = await client.subscribe("/agent-presence/*")   # raises SubscriptionError if denied
    async for item in sub:
        if isinstance(item, LostEvents):         # overflow, reconnect or a garbled event:
            ...                                  # fetch a snapshot again (join protocol)
        else:
            ...                                  # a parsed event (dict from the JSON string)
    await client.close()

Behaviour:
- ``connection_init`` then ``connection_ack`` within ``ack_timeout``. Liveness is AWS's ``ka``
  alone (no WebSocket pings by default): a watchdog reset by ``ka`` and ``data`` reports
  ``lagging`` after ``ka_late_after`` ``ka`` intervals and drops the socket after ``ka_dead_after``
  (about 2.5 intervals; at most ``connectionTimeoutMs`` from the ack, top-level, else
  ``payload.``, else 300000); the client then reconnects.
- Reconnect: exponential backoff with full jitter, at most 0.5 s apart in the first 5 s of an
  outage (never under 50 ms), then growing with the outage up to 30 s (:mod:`.reconnect`; a connection that dies
  within ``stable_after`` keeps the streak and gets no fast lane). An auth refusal at connect
  makes the client ask its authorizer for fresh credentials once; a second refusal (or a failed
  refresh) ends in state ``failed`` with a "sign in again" reason, until :meth:`EventsClient.resume`.
- Every live subscription is re-sent, with freshly computed authorization, on each new connection
  (same id); its consumer then gets ``LostEvents(reason="reconnected")``.
- A ``subscribe_error`` fails that subscription only. When it refuses the token itself
  (``UnauthorizedException``, not an onSubscribe ``Unauthorized`` deny), the subscription's
  authorizer is refreshed and the subscribe re-sent once first.
- Per-subscription buffers are bounded. A full buffer holds the reader back (backpressure: the
  socket is not read, so TCP slows the server down) until the consumer takes an item; only a
  consumer that takes nothing for ``backpressure_timeout`` seconds gets events dropped and
  ``LostEvents("overflow")`` queued. The reader yields to the loop every ``READ_SLICE`` frames, so
  a burst never holds the (GUI) thread for a whole socket read of frames.
- TLS is always verified (system store plus an optional CA file); ``ws://`` needs ``allow_plaintext``.
- Tokens, keys and signatures are never logged (websockets' handshake debug log is muted too:
  the ``header-`` subprotocol carries the credentials).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import logging
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from presence_desktop.net.tls import client_ssl_context

from . import protocol as p
from .auth import Authorizer, AuthRefreshError
from .protocol import ErrorInfo, MalformedFrame, ServerFrame
from .reconnect import Backoff, ReconnectSchedule, ReconnectSettings

log = logging.getLogger(__name__)
# websockets logs handshake headers at DEBUG; ours carry credentials in Sec-WebSocket-Protocol.
_wire_log = logging.getLogger(__name__ + ".wire")
_wire_log.setLevel(logging.INFO)

DEFAULT_MAX_FRAME_BYTES = 1024 * 1024  # 240 KB events, JSON-escaped inside a frame, fit easily
DEFAULT_MAX_QUEUE = 1000
DEFAULT_BACKPRESSURE_TIMEOUT_S = 2.0
READ_SLICE = 100  # frames handled per loop turn before the reader yields
SIGN_IN_AGAIN = "sign in again"
CLOSE_MESSAGE_TOO_BIG = 1009  # RFC 6455 section 7.4.1
MAX_TOO_BIG_IN_A_ROW = 3

EventsClientStatus = Literal["idle", "connecting", "connected", "reconnecting", "failed", "closed"]


# ---------------------------------------------------------------- public data types and errors

@dataclass(frozen=True, slots=True)
class EventsClientState:
    """The connection as the UI shows it.

    - ``status``: ``idle`` (not started), ``connecting``, ``connected``, ``reconnecting`` (waiting
      for ``next_attempt_at``), ``failed`` (stopped; ``reason`` says why, e.g. "sign in again: …"),
      ``closed`` (by :meth:`EventsClient.close`).
    - ``needs_sign_in``: ``failed`` because the credentials were refused and could not be
      refreshed: only the user signing in again can help (the typed fact; ``reason`` is for people).
    - ``attempt``: number of the next/current reconnect attempt (0 while connected).
    - ``next_attempt_at``: wall-clock time (``time.time()`` seconds) of the next attempt, when
      ``reconnecting``; ``retry_in`` the same as a delay in seconds from ``at``.
    - ``reason``: the last error, in words without secrets.
    - ``at``: wall-clock time this state began.
    - ``quiet_since``: while ``connected`` but no ``ka`` (or data) has come for longer than the
      client's ``ka_late_after`` intervals: the wall-clock time of the last frame (events may be
      missing; the roster is stale); None otherwise. The connection is replaced at
      ``ka_dead_after`` intervals unless a ``ka`` comes first (then a ``connected`` state with
      ``quiet_since`` None follows).
    """

    status: EventsClientStatus
    attempt: int = 0
    next_attempt_at: float | None = None
    retry_in: float | None = None
    reason: str | None = None
    connection_timeout_ms: int | None = None
    at: float = 0.0
    needs_sign_in: bool = False
    quiet_since: float | None = None

    @property
    def lagging(self) -> bool:
        """Connected, but the server's keep-alive is overdue (see ``quiet_since``)."""
        return self.quiet_since is not None


@dataclass(frozen=True, slots=True)
class LostEvents:
    """Queued in a subscription in place of events it could not deliver; the consumer should
    refetch a snapshot. ``reason``: ``overflow`` (the consumer fell behind by more than the queue
    bound; ``count`` events dropped), ``reconnected`` (resubscribed on a new connection: events
    published while down are gone; ``count`` None = unknown), ``malformed`` (an event that was not
    JSON), ``broadcast_error`` (the server reported an event it could not deliver)."""

    reason: Literal["overflow", "reconnected", "malformed", "broadcast_error"]
    count: int | None = None


@dataclass(frozen=True, slots=True)
class PublishResult:
    """``successful``: ``[{identifier, index}]``; ``failed``: the server's failed entries (their
    fields are UNCONFIRMED: best evidence ``{identifier, index, errorCode, errorMessage}``)."""

    id: str
    successful: list[dict[str, Any]]
    failed: list[dict[str, Any]]


class EventsError(Exception):
    """Base of this module's errors. ``errors`` are the server's error entries, if any.
    ``needs_sign_in``: the credentials themselves were refused (given, or read from ``errors``)."""

    def __init__(self, message: str, errors: Sequence[ErrorInfo] = (), *, needs_sign_in: bool = False):
        super().__init__(message)
        self.errors = tuple(errors)
        self.needs_sign_in = needs_sign_in or _refuses_token(self.errors)

    @property
    def error_type(self) -> str | None:
        return self.errors[0].error_type if self.errors else None


class SubscriptionError(EventsError):
    """The server refused a subscription (``subscribe_error``), or it never answered."""


class PublishError(EventsError):
    """``publish_error`` (or a generic ``error``) for a publish."""


class NotConnectedError(EventsError, ConnectionError):
    """The operation needs a live connection and there is none right now."""


class ConnectionLostError(EventsError, ConnectionError):
    """The connection ended while a request waited for its answer (its outcome is unknown)."""


class ClientFailedError(EventsError, ConnectionError):
    """The client stopped (state ``failed``), e.g. credentials refused: sign in again."""


class ClientClosedError(EventsError):
    """The client was closed."""


class _AuthRejected(Exception):
    """Connect authorization refused by the server. ``bad_request``: every error was
    BadRequestException / 400 (the request is malformed: wrong host or region, a bad signature,
    a clock far off), which fresh credentials may fix once (an IAM signature) but a new sign-in
    will not."""

    def __init__(self, message: str, bad_request: bool = False) -> None:
        super().__init__(message)
        self.bad_request = bad_request


class _Transient(Exception):
    """A connect failure worth retrying; ``throttled``: the server asked for fewer attempts."""

    def __init__(self, message: str, throttled: bool = False):
        super().__init__(message)
        self.throttled = throttled


_THROTTLE_TYPES = ("LimitExceededError", "LimitExceededException", "ThrottlingException",
                   "TooManyRequestsException")


# ---------------------------------------------------------------- backoff
# Backoff (the delay formula), ReconnectSchedule (one client's streak, outage clock and lane) and
# ReconnectSettings live in .reconnect; Backoff is re-exported here for existing callers.


# ---------------------------------------------------------------- TLS

def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------- subscription

class Subscription:
    """One channel subscription; an async iterator of parsed events and :class:`LostEvents` markers.

    Iteration ends (``StopAsyncIteration``) after :meth:`unsubscribe` or :meth:`EventsClient.close`;
    it raises :class:`SubscriptionError` once the server refused the subscription (items already
    queued are delivered first). ``state``: ``pending`` (waiting for a connection or for
    ``subscribe_success``), ``active``, ``failed``, ``closed``. ``lost_total`` counts dropped events.
    """

    def __init__(self, client: EventsClient, channel: str, auth: Authorizer, max_queue: int):
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self.id = str(uuid.uuid4())
        self.channel = channel
        self.auth = auth
        self.max_queue = max_queue
        self.state: Literal["pending", "active", "failed", "closed"] = "pending"
        self.error: EventsError | None = None
        self.lost_total = 0
        self.received_total = 0
        self._client = client
        self._items: collections.deque[Any] = collections.deque()
        self._queued_events = 0
        self._wakeup = asyncio.Event()
        self._settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._conn: _Connection | None = None  # the connection its subscribe frame went out on
        self._ever_active = False
        self._timeouts = 0
        self._auth_retried = False  # one fresh-credentials retry per refusal streak
        self._room = asyncio.Event()  # set when the consumer has drained a full queue to half
        self._taken = 0  # events the consumer took (progress, for the backpressure timeout)
        self._stalled = False  # full for a whole backpressure timeout: drop instead of waiting

    # --- consumer side
    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Any:
        while True:
            if self._items:
                item = self._items.popleft()
                if not isinstance(item, LostEvents):
                    self._queued_events -= 1
                    self._taken += 1
                    self._stalled = False
                    if self._queued_events <= self.max_queue // 2:
                        self._room.set()  # wake a waiting reader at half, not per item
                return item
            if self.state == "failed" and self.error is not None:
                raise self.error
            if self.state == "closed":
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()

    async def get(self, timeout: float | None = None) -> Any:
        """The next item, waiting at most ``timeout`` seconds (``TimeoutError``)."""
        return await asyncio.wait_for(self.__anext__(), timeout)

    def pending_items(self) -> int:
        """Items queued and not yet consumed (markers included)."""
        return len(self._items)

    async def wait_active(self, timeout: float | None = None) -> None:
        """Wait for the first ``subscribe_success``. Raises :class:`SubscriptionError`,
        :class:`ClientFailedError`, :class:`ClientClosedError` or ``TimeoutError``."""
        await asyncio.wait_for(asyncio.shield(self._settled), timeout)

    async def unsubscribe(self) -> None:
        """Stop receiving: sends ``unsubscribe`` if the subscription is live (waits for its answer
        at most the client's request timeout; a refusal is only logged) and ends iteration."""
        await self._client._unsubscribe(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.unsubscribe()

    def __repr__(self) -> str:
        return f"Subscription(id={self.id!r}, channel={self.channel!r}, state={self.state!r})"

    # --- client side
    def _push(self, event: Any) -> None:
        self.received_total += 1
        if self._queued_events >= self.max_queue:
            self.lost_total += 1
            last = self._items[-1] if self._items else None
            if isinstance(last, LostEvents) and last.reason == "overflow":
                self._items[-1] = LostEvents("overflow", (last.count or 0) + 1)
            else:
                self._items.append(LostEvents("overflow", 1))
                log.warning("subscription %s on %s: consumer behind by %d events, dropping",
                            self.id, self.channel, self.max_queue)
        else:
            self._items.append(event)
            self._queued_events += 1
            if self._queued_events >= self.max_queue and not self._stalled:
                self._client._backlogged.add(self)  # the reader waits before the next frame
        self._wakeup.set()

    @property
    def full(self) -> bool:
        return self._queued_events >= self.max_queue

    def _push_marker(self, marker: LostEvents) -> None:
        if marker.count:
            self.lost_total += marker.count
        self._items.append(marker)
        self._wakeup.set()

    def _activated(self) -> None:
        if self._ever_active:
            self._push_marker(LostEvents("reconnected"))
        self._ever_active = True
        self._timeouts = 0
        self._auth_retried = False
        self.state = "active"
        if not self._settled.done():
            self._settled.set_result(None)

    def _fail(self, error: EventsError) -> None:
        if self.state in ("failed", "closed"):
            return
        self.state = "failed"
        self.error = error
        if not self._settled.done():
            self._settled.set_exception(error)
            self._settled.exception()  # retrieved: nobody may be waiting
        self._wakeup.set()

    def _close(self, error: EventsError | None = None) -> None:
        if self.state == "closed":
            return
        self.state = "closed"
        self._room.set()  # a reader waiting for room must not wait for a closed subscription
        if not self._settled.done():
            self._settled.set_exception(error or ClientClosedError("subscription closed"))
            self._settled.exception()
        self._wakeup.set()


# ---------------------------------------------------------------- one connection

class _Connection:
    def __init__(self, ws: ClientConnection, timeout_ms: int, wall_clock: Callable[[], float] = time.time):
        self.ws = ws
        self.timeout_ms = timeout_ms
        self.too_big = False  # we closed it with 1009: the server sent a frame over max_frame_bytes
        self._wall_clock = wall_clock
        self.last_alive = asyncio.get_running_loop().time()
        self.last_alive_wall = wall_clock()
        self.retired: set[str] = set()    # ids unsubscribed here: late data is expected, not news
        self.abandoned: set[str] = set()  # subscribe() gave up waiting: unsubscribe if it succeeds
        self.pending: dict[tuple[str, str], asyncio.Future[ServerFrame]] = {}
        self.closed = False
        self.reason: str | None = None
        self.last_ka: float | None = None
        self.ka_gaps: collections.deque[float] = collections.deque(maxlen=4)
        self.lagging = False

    def touch(self) -> None:
        self.last_alive = asyncio.get_running_loop().time()
        self.last_alive_wall = self._wall_clock()

    def ka_seen(self) -> None:
        now = asyncio.get_running_loop().time()
        if self.last_ka is not None:
            self.ka_gaps.append(now - self.last_ka)
        self.last_ka = now
        self.touch()

    def ka_interval(self, expected: float) -> float:
        """The server's ``ka`` interval: the longest of the last gaps seen, at most ``expected``;
        ``expected`` until two ``ka`` frames have come."""
        return min(max(self.ka_gaps), expected) if self.ka_gaps else expected

    def expect(self, op: str, request_id: str) -> asyncio.Future[ServerFrame]:
        fut: asyncio.Future[ServerFrame] = asyncio.get_running_loop().create_future()
        self.pending[(op, request_id)] = fut
        return fut

    def resolve(self, op: str, frame: ServerFrame) -> bool:
        fut = self.pending.pop((op, frame.id or ""), None)
        if fut is None or fut.done():
            return False
        fut.set_result(frame)
        return True

    def abort(self, reason: str) -> None:
        """Drop the socket now (no closing handshake: the peer may be gone)."""
        if self.reason is None:
            self.reason = reason
        transport = getattr(self.ws, "transport", None)
        if transport is not None:
            transport.abort()

    def lost(self, reason: str) -> None:
        self.closed = True
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(ConnectionLostError(f"connection lost: {reason}"))
                fut.exception()
        self.pending.clear()


# ---------------------------------------------------------------- the client

class EventsClient:
    """One AppSync Events WebSocket shared by all subscriptions (see the module docstring).

    Parameters:
    - ``realtime_url``: ``wss://<host>/event/realtime`` (``ws://`` only with ``allow_plaintext``).
    - ``http_url``: ``https://<host>/event`` (kept for reference; auth objects carry its host).
    - ``connect_auth``: the :class:`~presence_desktop.events_api.auth.Authorizer` for the connection;
      also the default for subscribe and publish.
    - ``ssl_context``: must verify (``CERT_REQUIRED`` and hostname check), else ``ValueError``;
      None = :func:`~presence_desktop.net.tls.client_ssl_context` (system store).
    - ``ack_timeout`` / ``request_timeout`` / ``open_timeout``: seconds for ``connection_ack``, a
      subscribe/unsubscribe/publish answer, and the TCP+TLS+HTTP upgrade.
    - ``backoff``: :class:`~.reconnect.Backoff` (default: :class:`~.reconnect.ReconnectSettings`
      defaults). ``max_queue``: default per-subscription bound (events).
    - ``max_frame_bytes``: larger incoming frames close the socket (1009) and the client reconnects;
      after ``MAX_TOO_BIG_IN_A_ROW`` such closes in a row it stops (state ``failed``, reason
      "stopped reconnecting: the server sent a message larger than …") until :meth:`resume`.
    - ``ping_interval``: websockets' protocol pings (None, the default, sends none: AWS's clients
      send none and the protocol describes only ``ka``; whether AppSync answers pings is UNCONFIRMED).
    - ``ka_interval_s``: the ``ka`` interval to expect until two have been seen (then the measured
      one, at most this); ``ka_late_after`` / ``ka_dead_after``: intervals without ``ka`` or data
      after which the state's ``quiet_since`` is set / the connection is dropped and replaced.
      Never later than the ack's ``connectionTimeoutMs``.
    - ``proxy``: as websockets' ``proxy``; None for loopback hosts by default, else system settings.
    - ``max_subscribe_timeouts``: unanswered subscribes (each recycles the connection) before that
      subscription fails. ``stable_after``: seconds a connection must live to reset the backoff.
    - ``backpressure_timeout``: seconds the reader waits for a consumer whose queue is full before
      dropping its events (0: drop at once). Keep it well under ``ping_interval`` and the ack's
      ``connectionTimeoutMs``: nothing is read meanwhile.
    Raises ``ValueError`` for a bad URL or an unverified TLS context.
    """

    def __init__(self, realtime_url: str, http_url: str | None, connect_auth: Authorizer,
                 ssl_context: ssl.SSLContext | None = None, *, allow_plaintext: bool = False,
                 ack_timeout: float = 15.0, request_timeout: float = 15.0, open_timeout: float = 10.0,
                 backoff: Backoff | None = None, max_queue: int = DEFAULT_MAX_QUEUE,
                 max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES, ping_interval: float | None = None,
                 ka_interval_s: float = 60.0, ka_late_after: float = 1.1, ka_dead_after: float = 2.5,
                 proxy: str | bool | None = None, max_subscribe_timeouts: int = 3,
                 stable_after: float = 10.0, backpressure_timeout: float = DEFAULT_BACKPRESSURE_TIMEOUT_S):
        parts = urlsplit(realtime_url)
        if parts.scheme == "wss":
            ctx = ssl_context or client_ssl_context()
            if ctx.verify_mode != ssl.CERT_REQUIRED or not ctx.check_hostname:
                raise ValueError("TLS verification must stay on (CERT_REQUIRED and check_hostname)")
            self._ssl: ssl.SSLContext | None = ctx
        elif parts.scheme == "ws":
            if not allow_plaintext:
                raise ValueError("ws:// needs allow_plaintext (devstack --no-tls only)")
            self._ssl = None
        else:
            raise ValueError(f"realtime_url must be wss:// (or ws://), got {realtime_url!r}")
        if not parts.hostname:
            raise ValueError(f"realtime_url has no host: {realtime_url!r}")
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self.realtime_url = realtime_url
        self.http_url = http_url
        self.connect_auth = connect_auth
        self.ack_timeout = ack_timeout
        self.request_timeout = request_timeout
        self.open_timeout = open_timeout
        self.backoff = backoff or Backoff()
        self.max_queue = max_queue
        self.max_frame_bytes = max_frame_bytes
        self._too_big_streak = 0  # connections in a row closed with 1009 (a frame over max_frame_bytes)
        self.ping_interval = ping_interval
        if not 0 < ka_late_after < ka_dead_after or ka_interval_s <= 0:
            raise ValueError("need ka_interval_s > 0 and 0 < ka_late_after < ka_dead_after")
        self.ka_interval_s = ka_interval_s
        self.ka_late_after = ka_late_after
        self.ka_dead_after = ka_dead_after
        self.max_subscribe_timeouts = max_subscribe_timeouts
        self.stable_after = stable_after
        if backpressure_timeout < 0:
            raise ValueError("backpressure_timeout must be >= 0")
        self.backpressure_timeout = backpressure_timeout
        self._backlogged: set[Subscription] = set()  # full queues the reader waits on
        self.watchdog_wall_check_s = 2.0
        self._wall_clock: Callable[[], float] = time.time
        self._proxy = (None if _is_loopback(parts.hostname) else True) if proxy is None else proxy
        self._state = EventsClientState("idle", at=time.time())
        self._listeners: list[Callable[[EventsClientState], None]] = []
        self._subs: dict[str, Subscription] = {}
        self._conn: _Connection | None = None
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wake = asyncio.Event()      # cuts a backoff sleep short (reconnect_now, close)
        self._resume = asyncio.Event()    # leaves the failed state
        self._connected = asyncio.Event()
        self._closing = False
        self.stats = collections.Counter()  # malformed_frames, unknown_id, reconnects, …

    @classmethod
    def from_settings(cls, settings: Any, connect_auth: Authorizer, **kwargs: Any) -> EventsClient:
        """Build from ``presence_desktop.client.profile.EventsSettings`` (its ``ca_file`` is trusted on
        top of the system store; ``allow_plaintext`` permits ``ws://``; its ``reconnect``, a
        :class:`~.reconnect.ReconnectSettings`, sets ``backoff`` and ``stable_after``). An
        ``ssl_context`` given replaces the one made from ``ca_file`` (the app shares one)."""
        reconnect = getattr(settings, "reconnect", None) or ReconnectSettings()
        kwargs.setdefault("backoff", Backoff.from_settings(reconnect))
        kwargs.setdefault("stable_after", reconnect.stable_after_s)
        liveness = getattr(settings, "liveness", None)
        if liveness is not None:
            kwargs.setdefault("ping_interval", liveness.ws_ping_interval_s)
            kwargs.setdefault("ka_interval_s", liveness.ka_interval_s)
            kwargs.setdefault("ka_late_after", liveness.ka_late_after)
            kwargs.setdefault("ka_dead_after", liveness.ka_dead_after)
        ctx = kwargs.pop("ssl_context", None)
        if ctx is None and settings.realtime_url.startswith("wss://"):
            ctx = client_ssl_context(settings.ca_file)
        return cls(settings.realtime_url, settings.http_url, connect_auth, ctx,
                   allow_plaintext=settings.allow_plaintext, **kwargs)

    # ------------------------------------------------------------ state
    @property
    def state(self) -> EventsClientState:
        return self._state

    @property
    def ka_interval_observed(self) -> float | None:
        """Seconds between the server's last ``ka`` frames on the current connection (the longest
        of the last few gaps), or None before two have come or while not connected."""
        conn = self._conn
        return max(conn.ka_gaps) if conn is not None and conn.ka_gaps else None

    @property
    def connected(self) -> bool:
        return self._state.status == "connected"

    def add_state_listener(self, callback: Callable[[EventsClientState], None]) -> Callable[[], None]:
        """Call ``callback(state)`` on every change (in the loop's thread); returns a remover."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    async def states(self, max_backlog: int = 64) -> AsyncIterator[EventsClientState]:
        """Async stream of states: the current one, then each change (oldest dropped past
        ``max_backlog``). Ends after ``closed``."""
        queue: collections.deque[EventsClientState] = collections.deque([self._state], maxlen=max_backlog)
        ready = asyncio.Event()
        ready.set()

        def on_state(state: EventsClientState) -> None:
            queue.append(state)
            ready.set()

        remove = self.add_state_listener(on_state)
        try:
            while True:
                await ready.wait()
                ready.clear()
                while queue:
                    state = queue.popleft()
                    yield state
                    if state.status == "closed":
                        return
        finally:
            remove()

    def _set_state(self, status: EventsClientStatus, **fields: Any) -> None:
        self._state = EventsClientState(status, at=time.time(), **fields)
        if status == "connected":
            self._connected.set()
        else:
            self._connected.clear()
        log.info("events connection %s%s", status,
                 f" (attempt {self._state.attempt}, retry in {self._state.retry_in:.2f} s: {self._state.reason})"
                 if status == "reconnecting" else (f": {self._state.reason}" if self._state.reason else ""))
        for callback in list(self._listeners):
            try:
                callback(self._state)
            except Exception:
                log.exception("state listener failed")

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start connecting in the background (idempotent). Raises :class:`ClientClosedError`."""
        if self._closing:
            raise ClientClosedError("client closed")
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="events-client")
            self._runner.add_done_callback(self._runner_done)

    def _runner_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        # Never a silent stop: the UI sees "failed" with the reason.
        log.error("events client supervisor crashed", exc_info=task.exception())
        self._runner = None
        self._fail(f"internal error: {_describe(task.exception())}")

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until ``connected``. Raises ``TimeoutError``."""
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def resume(self, connect_auth: Authorizer | None = None) -> None:
        """Leave ``failed`` (e.g. after the user signed in again) and reconnect now; live
        subscriptions are re-sent. ``connect_auth`` replaces the connection's authorizer."""
        if connect_auth is not None:
            self.connect_auth = connect_auth
        self._resume.set()
        self._wake.set()
        await self.start()

    def reconnect_now(self, reason: str = "reconnect requested") -> None:
        """Drop the current connection (or skip the backoff wait) and reconnect at once, e.g.
        after the OS reports a network change or a wake from sleep."""
        if self._conn is not None and not self._conn.closed:
            self._conn.abort(reason)
        self._wake.set()

    async def close(self) -> None:
        """Close the socket, end every subscription's iteration, stop. Idempotent."""
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        self._resume.set()
        for sub in list(self._subs.values()):
            sub._close(ClientClosedError("client closed"))
        self._subs.clear()
        conn = self._conn
        if conn is not None and not conn.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(), 2.0)
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._set_state("closed")

    async def __aenter__(self) -> EventsClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("events client task %s failed", task.get_name(), exc_info=task.exception())

    # ------------------------------------------------------------ supervisor
    async def _run(self) -> None:
        sched = ReconnectSchedule(self.backoff, self.stable_after, asyncio.get_running_loop().time)
        refreshed = False
        reason: str | None = None
        while not self._closing:
            if self._state.status == "failed":
                await self._resume.wait()
                self._resume.clear()
                if self._closing:
                    break
                sched.reset()
                refreshed, reason = False, None
            if sched.attempt:
                delay = sched.next_delay()
                now = time.time()
                self._set_state("reconnecting", attempt=sched.attempt, next_attempt_at=now + delay,
                                retry_in=delay, reason=reason)
                await self._sleep(delay)
                if self._closing:
                    break
            self._set_state("connecting", attempt=sched.attempt, reason=reason)
            try:
                conn = await self._open()
            except _AuthRejected as exc:
                if refreshed and exc.bad_request:
                    # Not the user's sign-in: the request (URL, region, signature, clock) is wrong.
                    self._fail(f"the events API refused the connection request as malformed ({exc}); "
                               "check the profile's events URLs and region, and the computer's clock")
                    continue
                if refreshed:
                    self._fail(f"{SIGN_IN_AGAIN}: credentials refused after a refresh ({exc})", needs_sign_in=True)
                    continue
                log.warning("connect refused (%s); asking for fresh credentials once", exc)
                try:
                    await self.connect_auth.refresh()
                except AuthRefreshError as rexc:
                    self._fail(f"{SIGN_IN_AGAIN}: {rexc}", needs_sign_in=True)
                    continue
                except Exception as rexc:  # noqa: BLE001 - whatever the refresh raised, only signing in again helps
                    self._fail(f"{SIGN_IN_AGAIN}: refresh failed ({type(rexc).__name__})", needs_sign_in=True)
                    continue
                refreshed = True
                reason = f"credentials refused, retrying with fresh ones ({exc})"
                continue  # straight away: this is not a network problem
            except AuthRefreshError as exc:
                self._fail(f"{SIGN_IN_AGAIN}: {exc}", needs_sign_in=True)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every connect failure is retried, and logged below
                sched.failed(throttled=isinstance(exc, _Transient) and exc.throttled)
                reason = _describe(exc)
                log.warning("connect failed (attempt %d, outage %.1f s): %s", sched.attempt, sched.outage_s, reason)
                continue
            sched.connected()
            refreshed = False
            self._conn = conn
            self._set_state("connected", connection_timeout_ms=conn.timeout_ms)
            self._resubscribe_all(conn)
            reason = await self._serve(conn)
            conn.lost(reason)
            self._conn = None
            self._too_big_streak = self._too_big_streak + 1 if conn.too_big else 0
            if self._too_big_streak >= MAX_TOO_BIG_IN_A_ROW and not self._closing:
                # The server sends the same oversized message after every reconnect: retrying for
                # ever only hammers it. Stop and say why (resume() tries again).
                self._too_big_streak = 0
                for sub in self._subs.values():
                    if sub.state == "active":
                        sub.state = "pending"
                self._fail(f"stopped reconnecting: the server sent a message larger than "
                           f"{self.max_frame_bytes // 1024} KiB {MAX_TOO_BIG_IN_A_ROW} times in a row")
                continue
            for sub in self._subs.values():
                if sub.state == "active":
                    sub.state = "pending"
            if self._closing:
                break
            self.stats["reconnects"] += 1
            log.warning("events connection lost: %s", reason)
            # A connection that dies young keeps the streak and closes the fast lane: no flapping loop.
            sched.lost()

    def _fail(self, reason: str, *, needs_sign_in: bool = False) -> None:
        log.error("events client stopped: %s", reason)
        self._resume.clear()
        self._set_state("failed", reason=reason, needs_sign_in=needs_sign_in)
        error = ClientFailedError(reason, needs_sign_in=needs_sign_in)
        for sub in list(self._subs.values()):
            if not sub._ever_active:  # a subscribe() still waiting for its first answer
                self._subs.pop(sub.id, None)
                sub._fail(error)

    async def _sleep(self, delay: float) -> None:
        self._wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    async def _open(self) -> _Connection:
        headers = await self.connect_auth.headers(p.CONNECT_BODY)
        try:
            ws = await websockets.connect(
                self.realtime_url, subprotocols=p.subprotocols_for(headers), ssl=self._ssl,
                open_timeout=self.open_timeout, max_size=self.max_frame_bytes,
                ping_interval=self.ping_interval, ping_timeout=self.ping_interval,
                close_timeout=2.0, proxy=self._proxy, logger=_wire_log,
                user_agent_header="presence-desktop (python websockets)",
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise _AuthRejected(f"HTTP {status} on upgrade") from None
            raise _Transient(f"HTTP {status} on upgrade", throttled=status == 429) from None
        except InvalidHandshake as exc:
            raise _Transient(f"handshake failed: {type(exc).__name__}: {exc}") from None
        try:
            if ws.subprotocol != p.SUBPROTOCOL:
                raise _Transient(f"server selected subprotocol {ws.subprotocol!r}, not {p.SUBPROTOCOL!r}")
            try:
                await ws.send(p.connection_init_frame())
            except ConnectionClosed:
                pass  # the server may have said why before closing: read it below
            ack = await asyncio.wait_for(self._await_ack(ws), self.ack_timeout)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 1.0)
            raise
        conn = _Connection(ws, ack.connection_timeout_ms, self._wall_clock)
        log.info("connected to %s (connectionTimeoutMs %d)", self.realtime_url, conn.timeout_ms)
        return conn

    async def _await_ack(self, ws: ClientConnection) -> ServerFrame:
        while True:
            try:
                raw = await ws.recv()
            except ConnectionClosed as exc:
                raise _Transient(f"closed before connection_ack ({_close_text(exc)})") from None
            try:
                frame = p.decode_server_frame(raw)
            except MalformedFrame as exc:
                self.stats["malformed_frames"] += 1
                log.warning("ignored malformed frame before connection_ack: %s: %r", exc, exc.raw_preview)
                continue
            if frame.type == p.CONNECTION_ACK:
                return frame
            if frame.type in (p.CONNECTION_ERROR, p.ERROR):
                text = "; ".join(str(e) for e in frame.errors) or frame.type
                if frame.is_auth_error:
                    raise _AuthRejected(text, bad_request=all(_is_bad_request(e) for e in frame.errors))
                throttled = any(e.error_type in _THROTTLE_TYPES or e.error_code == 429 for e in frame.errors)
                raise _Transient(f"{frame.type}: {text}", throttled=throttled)
            log.debug("ignored %s before connection_ack", frame.type)

    async def _serve(self, conn: _Connection) -> str:
        watchdog = asyncio.create_task(self._watchdog(conn), name="events-watchdog")
        try:
            handled = 0
            async for raw in conn.ws:
                try:
                    self._handle(conn, raw)
                except Exception:  # a bug here must not kill the connection's reader
                    log.exception("error while handling a %d-char frame; frame ignored", len(raw))
                if self._backlogged:
                    await self._wait_for_room()
                handled += 1
                if handled >= READ_SLICE:
                    # websockets hands over every frame it has parsed without suspending: without
                    # this one socket read under load was one long, uninterrupted loop turn.
                    handled = 0
                    await asyncio.sleep(0)
            close = f"closed by server ({_close_text_ws(conn.ws)})"
        except ConnectionClosed as exc:
            close = f"connection closed ({_close_text(exc)})"
            if exc.sent is not None and exc.sent.code == CLOSE_MESSAGE_TOO_BIG:  # we refused a frame
                conn.too_big = True
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
        return conn.reason or close

    async def _wait_for_room(self) -> None:
        """Backpressure: before reading another frame, wait until every full subscription's
        consumer has taken an item. A consumer that takes nothing for ``backpressure_timeout`` s
        is marked stalled: its events are dropped (``LostEvents("overflow")``) until it takes one."""
        while self._backlogged:
            sub = self._backlogged.pop()
            if not sub.full or sub._stalled or sub.state not in ("pending", "active"):
                continue
            sub._room.clear()
            while True:
                taken = sub._taken
                try:
                    await asyncio.wait_for(sub._room.wait(), self.backpressure_timeout)
                    break
                except TimeoutError:
                    if sub._taken != taken:
                        continue  # slow but moving: keep waiting
                    if sub.full and sub.state in ("pending", "active"):
                        sub._stalled = True
                        log.warning("subscription %s on %s: consumer took nothing for %.1f s; dropping events",
                                    sub.id, sub.channel, self.backpressure_timeout)
                    break

    async def _watchdog(self, conn: _Connection) -> None:
        loop = asyncio.get_running_loop()
        hard = conn.timeout_ms / 1000.0
        while True:
            interval = conn.ka_interval(self.ka_interval_s)
            limit = min(hard, self.ka_dead_after * interval)
            late = min(limit, self.ka_late_after * interval)
            quiet = loop.time() - conn.last_alive
            remaining = limit - quiet
            # The loop's monotonic clock stops while the machine sleeps; the wall clock does not.
            # A laptop that wakes after longer than the timeout must not trust its old socket.
            slept = self._wall_clock() - conn.last_alive_wall - limit > 0
            if remaining <= 0 or slept:
                why = "the machine slept" if slept and remaining > 0 else f"no keep-alive for {limit:.1f} s"
                self._lagging(conn, True, why)  # stale first, even when the check woke late
                log.warning("%s: dropping the connection", why)
                conn.abort(f"keep-alive timeout ({limit:.1f} s without ka/data; {why})")
                return
            if quiet >= late:
                self._lagging(conn, True, f"no keep-alive from the server for {quiet:.0f} s")
                wait = remaining
            else:
                wait = late - quiet
            await asyncio.sleep(max(0.0, min(wait + 0.005, self.watchdog_wall_check_s)))

    def _lagging(self, conn: _Connection, lagging: bool, reason: str | None = None) -> None:
        if conn.lagging == lagging or conn is not self._conn or conn.closed:
            return
        conn.lagging = lagging
        if lagging:
            log.warning("events connection lagging: %s", reason)
        self._set_state("connected", connection_timeout_ms=conn.timeout_ms, reason=reason,
                        quiet_since=conn.last_alive_wall if lagging else None)

    # ------------------------------------------------------------ incoming frames
    def _handle(self, conn: _Connection, raw: str | bytes) -> None:
        try:
            obj = p.parse_frame_json(raw)
            data = p.data_frame_parts(obj)
            if data is not None:  # the common case, without a ServerFrame (protocol.data_frame_parts)
                conn.touch()
                if conn.lagging:
                    self._lagging(conn, False)
                self._on_data(conn, *data)
                return
            frame = p.frame_from_object(obj, raw)
        except MalformedFrame as exc:
            self.stats["malformed_frames"] += 1
            log.warning("ignored malformed frame: %s: %r", exc, exc.raw_preview)
            return
        kind = frame.type
        if kind == p.KA:
            conn.ka_seen()
            self._lagging(conn, False)
        elif kind == p.DATA:  # a well-formed one in an unusual shape (the event as a one-element list)
            conn.touch()
            self._lagging(conn, False)
            self._on_data(conn, frame.id or "", frame.event_text or "")
        elif kind == p.SUBSCRIBE_SUCCESS or kind == p.SUBSCRIBE_ERROR:
            sub = self._subs.get(frame.id or "")
            if sub is not None and sub._conn is conn and sub.state in ("pending", "active"):
                if kind == p.SUBSCRIBE_SUCCESS:
                    sub._activated()  # here, not in the waiting task: before any later data frame
                elif _token_refused(frame) and not sub._auth_retried:
                    # The token itself was refused (expired in between?): fresh credentials once.
                    sub._auth_retried = True
                    sub._conn = None
                    self._spawn(self._retry_with_fresh_auth(conn, sub, frame), f"resubscribe-{sub.id}")
                else:
                    self._refuse(sub, frame)
            resolved = conn.resolve("subscribe", frame)
            if frame.id in conn.abandoned:
                if kind == p.SUBSCRIBE_SUCCESS:
                    self._spawn(self._send_unsubscribe(conn, frame.id), f"unsubscribe-{frame.id}")
                else:
                    conn.abandoned.discard(frame.id)
            elif not resolved and sub is None:
                self.stats["unknown_id"] += 1
                log.warning("ignored %s for unknown id %r", kind, frame.id)
        elif kind in (p.UNSUBSCRIBE_SUCCESS, p.UNSUBSCRIBE_ERROR):
            if not conn.resolve("unsubscribe", frame):
                log.debug("ignored %s for id %r", kind, frame.id)
        elif kind in (p.PUBLISH_SUCCESS, p.PUBLISH_ERROR):
            if not conn.resolve("publish", frame):
                self.stats["unknown_id"] += 1
                log.warning("ignored %s for unknown id %r", kind, frame.id)
        elif kind == p.BROADCAST_ERROR:
            sub = self._subs.get(frame.id or "")
            log.warning("broadcast_error for %s: %s", frame.id, "; ".join(str(e) for e in frame.errors))
            if sub is not None and sub._conn is conn:
                sub._push_marker(LostEvents("broadcast_error", 1))
        elif kind == p.ERROR:
            text = "; ".join(str(e) for e in frame.errors) or "error"
            if frame.id and any(conn.resolve(op, frame) for op in ("subscribe", "publish", "unsubscribe")):
                if (sub := self._subs.get(frame.id)) is not None and sub._conn is conn and sub.state != "active":
                    self._subs.pop(sub.id, None)
                    sub._fail(SubscriptionError(f"subscribe to {sub.channel} failed: {text}", frame.errors))
                return
            log.warning("server error frame (id %r): %s", frame.id, text)
        elif kind == p.CONNECTION_ERROR:
            text = "; ".join(str(e) for e in frame.errors) or "connection_error"
            log.warning("connection_error after ack: %s; recycling the connection", text)
            conn.abort(f"connection_error: {text}")
        elif kind == p.CONNECTION_ACK:
            log.debug("ignored a repeated connection_ack")

    def _refuse(self, sub: Subscription, frame: ServerFrame) -> None:
        self._subs.pop(sub.id, None)
        text = "; ".join(str(e) for e in frame.errors) or "subscribe_error"
        log.warning("subscription %s to %s refused: %s", sub.id, sub.channel, text)
        sub._fail(SubscriptionError(f"subscribe to {sub.channel} refused: {text}", frame.errors))

    async def _retry_with_fresh_auth(self, conn: _Connection, sub: Subscription, frame: ServerFrame) -> None:
        log.warning("subscription %s: token refused; retrying once with fresh credentials", sub.id)
        try:
            await sub.auth.refresh()
        except Exception as exc:  # noqa: BLE001 - no fresh credentials, whatever the cause: refused
            log.warning("subscription %s: no fresh credentials (%s)", sub.id, _describe(exc))
            self._refuse(sub, frame)
            return
        if sub.state not in ("pending", "active") or sub._conn is not None:
            return
        if conn is self._conn and not conn.closed:
            self._send_subscribe(conn, sub)
        # else: the supervisor re-sends it on the next connection (its _conn is None)

    def _on_data(self, conn: _Connection, frame_id: str, text: str) -> None:
        sub = self._subs.get(frame_id)
        if sub is None or sub._conn is not conn or sub.state not in ("pending", "active"):
            if frame_id in conn.retired or frame_id in conn.abandoned:
                log.debug("data for unsubscribed id %r (in flight)", frame_id)
                return
            self.stats["unknown_id"] += 1
            log.warning("ignored data for unknown subscription id %r", frame_id)
            return
        try:
            event = p.parse_event_text(text)
        except MalformedFrame as exc:
            self.stats["malformed_frames"] += 1
            log.warning("subscription %s: event is not JSON (%s): %r", sub.id, exc, exc.raw_preview)
            sub._push_marker(LostEvents("malformed", 1))
            return
        sub._push(event)

    # ------------------------------------------------------------ subscribe / unsubscribe
    async def subscribe(self, channel: str, auth: Authorizer | None = None, *, wait: bool = True,
                        timeout: float | None = None, max_queue: int | None = None) -> Subscription:
        """Subscribe to ``channel`` (``/ns/a/b`` or ``/ns/a/*``; a leading ``/`` is added).

        ``auth`` signs this subscribe (default: the connection's authorizer); it is asked again on
        every resubscription. With ``wait`` the call returns once the server confirmed, raising
        :class:`SubscriptionError` (refused: only this subscription fails), :class:`ClientFailedError`,
        ``ChannelError`` (bad channel) or ``TimeoutError`` (``timeout`` seconds, default unlimited:
        the client keeps reconnecting). Without ``wait`` it returns at once; errors then surface
        when iterating.
        """
        if self._closing:
            raise ClientClosedError("client closed")
        path = p.validate_subscribe_channel(channel).path
        sub = Subscription(self, path, auth or self.connect_auth, max_queue or self.max_queue)
        self._subs[sub.id] = sub
        await self.start()
        if self._state.status == "failed":
            self._subs.pop(sub.id, None)
            sub._fail(ClientFailedError(self._state.reason or "client failed", needs_sign_in=self._state.needs_sign_in))
        elif self._conn is not None and not self._conn.closed:
            self._send_subscribe(self._conn, sub)
        if wait:
            try:
                await sub.wait_active(timeout)
            except TimeoutError:
                self._subs.pop(sub.id, None)
                if sub._conn is not None and not sub._conn.closed:
                    sub._conn.abandoned.add(sub.id)  # a late subscribe_success gets an unsubscribe
                sub._close()
                raise
        return sub

    def _resubscribe_all(self, conn: _Connection) -> None:
        for sub in list(self._subs.values()):
            if sub.state in ("pending", "active") and sub._conn is not conn:
                self._send_subscribe(conn, sub)

    def _send_subscribe(self, conn: _Connection, sub: Subscription) -> None:
        sub._conn = conn  # bound before any await: never sent twice, never missed
        self._spawn(self._subscribe_on(conn, sub), f"subscribe-{sub.id}")

    async def _subscribe_on(self, conn: _Connection, sub: Subscription) -> None:
        try:
            headers = await sub.auth.headers(p.subscribe_body(sub.channel))
        except Exception as exc:  # noqa: BLE001 - the subscription fails with the reason; the client goes on
            self._subs.pop(sub.id, None)
            sub._fail(SubscriptionError(f"no credentials to subscribe to {sub.channel}: {_describe(exc)}",
                                        needs_sign_in=isinstance(exc, AuthRefreshError)))
            return
        if conn.closed or sub._conn is not conn or sub.state not in ("pending", "active"):
            return
        fut = conn.expect("subscribe", sub.id)
        try:
            await conn.ws.send(p.subscribe_frame(sub.id, sub.channel, headers))
            log.info("subscribing %s to %s", sub.id, sub.channel)
            await asyncio.wait_for(fut, self.request_timeout)
        except (ConnectionClosed, ConnectionLostError):
            return  # re-sent on the next connection
        except TimeoutError:
            conn.pending.pop(("subscribe", sub.id), None)
            sub._timeouts += 1
            if sub._timeouts >= self.max_subscribe_timeouts:
                self._subs.pop(sub.id, None)
                sub._fail(SubscriptionError(f"subscribe to {sub.channel}: no answer after "
                                            f"{sub._timeouts} tries of {self.request_timeout} s"))
            elif not conn.closed:
                # An unanswered subscribe means a sick connection more often than a sick request.
                conn.abort(f"subscribe {sub.id} unanswered for {self.request_timeout} s")

    async def _unsubscribe(self, sub: Subscription) -> None:
        conn = sub._conn
        live = sub.state == "active" and conn is not None and conn is self._conn and not conn.closed
        self._subs.pop(sub.id, None)
        sub._close()
        if live and conn is not None:
            await self._send_unsubscribe(conn, sub.id)

    async def _send_unsubscribe(self, conn: _Connection, sub_id: str) -> None:
        conn.abandoned.discard(sub_id)
        conn.retired.add(sub_id)
        fut = conn.expect("unsubscribe", sub_id)
        try:
            await conn.ws.send(p.unsubscribe_frame(sub_id))
            frame = await asyncio.wait_for(fut, self.request_timeout)
            if frame.type != p.UNSUBSCRIBE_SUCCESS:
                log.warning("unsubscribe %s: %s", sub_id, "; ".join(str(e) for e in frame.errors))
        except (ConnectionClosed, ConnectionLostError):
            pass  # the server forgets it with the connection
        except TimeoutError:
            conn.pending.pop(("unsubscribe", sub_id), None)
            log.warning("unsubscribe %s: no answer in %.1f s", sub_id, self.request_timeout)

    # ------------------------------------------------------------ publish
    async def publish(self, channel: str, events: Sequence[Any], auth: Authorizer | None = None, *,
                      timeout: float | None = None) -> PublishResult:
        """Publish 1-5 JSON-serializable values to ``channel`` over the WebSocket.

        Each value is sent as its compact JSON string; ``auth`` (default: the connection's) signs
        ``{"channel","events"}``. Returns :class:`PublishResult` on ``publish_success``. Raises
        ``ValueError``/``ChannelError`` for bad input, :class:`NotConnectedError` when not connected,
        :class:`PublishError` on ``publish_error``, :class:`ConnectionLostError` if the connection
        ends first (outcome unknown), ``TimeoutError`` after ``timeout`` (default request_timeout).
        """
        path = p.validate_publish_channel(channel).path
        texts = p.serialize_events(events)
        conn = self._conn
        if conn is None or conn.closed:
            raise NotConnectedError(f"not connected ({self._state.status})")
        headers = await (auth or self.connect_auth).headers(p.publish_body(path, texts))
        pub_id = str(uuid.uuid4())
        fut = conn.expect("publish", pub_id)
        try:
            await conn.ws.send(p.publish_frame(pub_id, path, texts, headers))
            frame = await asyncio.wait_for(fut, timeout or self.request_timeout)
        except ConnectionClosed as exc:
            conn.pending.pop(("publish", pub_id), None)
            raise ConnectionLostError(f"connection lost while publishing: {_close_text(exc)}") from None
        except TimeoutError:
            conn.pending.pop(("publish", pub_id), None)
            raise
        if frame.type == p.PUBLISH_SUCCESS:
            ok = frame.raw.get("successful")
            failed = frame.raw.get("failed")
            return PublishResult(pub_id, list(ok) if isinstance(ok, list) else [],
                                 list(failed) if isinstance(failed, list) else [])
        text = "; ".join(str(e) for e in frame.errors) or frame.type
        raise PublishError(f"publish to {path} refused: {text}", frame.errors)


def _is_bad_request(error: Any) -> bool:
    return error.error_type == "BadRequestException" or (error.error_code == 400 and error.error_type not in (
        "UnauthorizedException", "Unauthorized", "NotAuthorizedException"))


def _token_refused(frame: ServerFrame) -> bool:
    return _refuses_token(frame.errors)


def _refuses_token(errors: Sequence[ErrorInfo]) -> bool:
    """A refusal of the credentials themselves (UnauthorizedException / 401), as opposed to a
    policy deny by the namespace's onSubscribe handler (``Unauthorized``) or a bad request."""
    return any(e.error_type in ("UnauthorizedException", "NotAuthorizedException") or e.error_code == 401
               for e in errors)


def _close_text(exc: ConnectionClosed) -> str:
    rcvd = exc.rcvd
    if rcvd is not None:
        return f"code {rcvd.code}{' ' + rcvd.reason if rcvd.reason else ''}"
    if exc.sent is not None:
        return f"we closed with code {exc.sent.code}{' ' + exc.sent.reason if exc.sent.reason else ''}"
    return "no close frame"


def _close_text_ws(ws: ClientConnection) -> str:
    code = ws.close_code
    return f"code {code}" if code is not None else "no close frame"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, asyncio.TimeoutError) or (not text and isinstance(exc, TimeoutError)):
        return "timed out"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = [
    "Backoff", "ClientClosedError", "ClientFailedError", "ConnectionLostError", "EventsClientState",
    "EventsClient", "EventsError", "LostEvents", "NotConnectedError", "PublishError", "PublishResult",
    "ReconnectSettings", "Subscription", "SubscriptionError",
]
