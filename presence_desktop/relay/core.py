"""The relay core: verify, authorize, validate, version, store, publish. No web framework.

HTTP API (docs/relay-api.md; every request carries ``Authorization: Bearer <Cognito id token>``):

``POST /v1/status``  body ``{"status": str, "message"?: str|null, "agent_id"?: str,
"source"?: "manual"|"idle"|"system", "expected_version"?: int}`` -> 200 with the stored presence event
(``PresenceEvent.to_dict()``; ``status_since`` is kept from the stored event when the status
is the same, so a message edit keeps the time in status). ``agent_id`` of another agent only for
a supervisor of that agent's team (:meth:`Identity.may_change`; the event gets ``source:
"supervisor"``); ``expected_version`` makes the write conditional (409 when the stored version
differs). Own updates also count as a heartbeat. An agent's own ``source: "system"`` is the app's
"signed in" mark: only the catalogue's ``signed_in_status`` and only over no status or
``offline`` (409 ``status_already_set`` otherwise), so it can never replace a status someone chose.

``POST /v1/heartbeat``  (empty body or ``{}``) -> 200 ``{"agent_id", "team_id", "status",
"version", "heartbeat_ttl_s"}`` (``status``/``version`` null when no status was set yet). An
agent whose last status/heartbeat is older than ``heartbeat_ttl_s`` is set ``offline`` with
``source: "system"`` by :meth:`RelayCore.sweep` and that change is published once. A heartbeat
does not bring an expired agent back: its answer says ``"status": "offline"`` and the app sets
its status again. A supervisor's change to another agent is not a sign of that agent's life.

``GET /v1/roster[?team=<team id>][&cursor=<from "next">]`` -> 200 ``{"agents": [<event +
"last_seen">...], "as_of": "<ISO 8601 Z>", "heartbeat_ttl_s": n, "team": <team id|null>, "next":
<cursor|null>}``; each entry is the stored event plus ``last_seen`` (epoch seconds of the agent's
last status/heartbeat, or null), so a window can show an overdue agent as Unknown before the
sweeper sets it offline. At most ``RelayLimits.roster_page`` agents per answer (ordered by agent
id); ``next`` asks for the rest. Who may read which team is :meth:`Identity.may_watch`
(docs/teams.md): another team -> 403 ``team_forbidden``. Without ``?team=``: an agent gets the
own team, a manager every team, a supervisor 400 ``team_required`` (one request per team).

Identity: ``agent_id`` is the id token's ``cognito:username`` (a channel segment:
alphanumerics and ``-``, 1-50 chars), ``team_id`` is ``custom:team_id``, ``display_name`` is
``name`` or ``preferred_username`` or the username. ``changed_by`` is the acting user's
``agent_id`` (username) rather than the opaque ``sub``, so a window can show who changed it.
Only members of ``support_agents``, ``supervisors`` or ``managers`` may use the relay; setting
the own status and heartbeats need a ``custom:team_id`` (403 ``no_team``).

Errors: :class:`RelayError` -> ``{"error": {"code", "message"}}`` with 400 (invalid_json,
invalid_request, unknown_field, unknown_status, message_too_long), 401 (missing_token,
invalid_token + the verifier's code in the message), 403 (forbidden, not_an_agent, no_team,
team_forbidden), 400 team_required,
404 (not_found, unknown_agent), 405, 409 (version_conflict), 413 (body_too_large), 429
(rate_limited, with ``Retry-After``), 500 (store_unavailable, with ``Retry-After``: the store
stayed locked/throttled/unreachable and *nothing was written*; auth_unavailable, with
``Retry-After``: the pool's JWKS could not be fetched, nothing written; internal: a bug),
502 (publish_rejected), 503 (events_unavailable). A 502/503 *from the relay* whose error
carries ``"stored_version": n`` means the status was stored as version n and will be published
by the sweeper's retry (outbox; a refused version is retried too, after a pause that grows with
each refusal and that every relay process keeps, as the cause, e.g. rotated credentials, may be
fixed meanwhile); the same stored bytes are re-sent, so one version never travels with two
contents. Any other 502/503 (Lambda's own 502 on a timeout or crash, a proxy, a captive portal,
a body that is not the relay's JSON) means nothing is known to be stored: clients send again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from presence_desktop.domain.compact_json import compact_json
from presence_desktop.domain.history import RETENTION_DAYS
from presence_desktop.domain.identity import AGENT_GROUPS, Claims, Identity, identity_from_token
from presence_desktop.domain.presence import (
    DISPLAY_NAME_MAX_CHARS,
    MESSAGE_MAX_CHARS,
    PresenceEvent,
    format_time,
    valid_segment,
)
from presence_desktop.domain.statuses import OFFLINE_ID, StatusCatalogue
from presence_desktop.domain.text import clean_text
from presence_desktop.relay import history_api
from presence_desktop.relay.cognito_jwt import CognitoTokenVerifier, TokenError
from presence_desktop.relay.errors import RelayError
from presence_desktop.relay.floors import FloorStore
from presence_desktop.relay.history import HistoryStore, HistoryWriter
from presence_desktop.relay.publisher import EventsPublisher, HttpPublishError
from presence_desktop.relay.store import PresenceStore, StoredPresence, StoreUnavailable

log = logging.getLogger(__name__)

OWN_SOURCES = ("manual", "idle", "system")
REPUBLISH_MARGIN_S = 5.0
USER_RATE_WINDOW_S = 60.0
# A Cognito id token is a JWS in compact form: three base64url parts, a few hundred bytes to a few
# KB. Anything else is refused before any verification work (no JWKS fetch, no RSA).
_JWS_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}")
MAX_TOKEN_CHARS = 8192


def plausible_bearer(token: str) -> bool:
    """Whether ``token`` has the shape of a compact JWS (cheap; proves nothing)."""
    return len(token) <= MAX_TOKEN_CHARS and _JWS_SHAPE.fullmatch(token) is not None
STATUS_FIELDS = frozenset({"status", "message", "agent_id", "source", "expected_version"})


@dataclass
class RelayLimits:
    """Tunables. Units: bytes, requests per second, seconds.

    - ``rate_per_s`` / ``rate_burst``: per-user token bucket in this process (cheap, first).
    - ``user_rate_per_min``: status changes and roster reads per user per minute across every
      relay process (the store's counter; 0 disables). Heartbeats are left to the bucket: each
      costs one write, as its shared count would (packaging/README.md, "Flood").
    - ``republish_after_s``: the sweeper leaves an unpublished version alone this long after it
      was stored, so it never races the request still publishing it; None = that request's
      worst case (the publisher's retry policy) plus a margin.
    - ``sweep_concurrency``: expiries/publishes of one sweep in flight at once;
      ``sweep_budget_s``: a sweep starts no new expiry after this (the next run takes the rest).
    """

    max_body_bytes: int = 4096
    rate_per_s: float = 2.0
    rate_burst: int = 40  # an app start of a ten-team supervisor: 30 requests at once (docs/relay-api.md)
    user_rate_per_min: int = 120  # 3 requests per watched team at an app's start (docs/relay-api.md)
    heartbeat_ttl_s: float = 90.0
    republish_after_s: float | None = None
    sweep_concurrency: int = 16
    sweep_budget_s: float = 10.0
    rejected_retry_s: float = 10.0  # first pause before a version the events API refused is sent again
    rejected_retry_max_s: float = 300.0
    # Agents per roster answer: about 0.4 KB each, so a page stays far below Lambda's 6 MB
    # response cap (docs/teams.md has the measured bytes).
    roster_page: int = 1000


@dataclass
class RelayRequest:
    """A framework-neutral HTTP request. ``headers`` keys are matched case-insensitively."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    source_ip: str | None = None

    def header(self, name: str) -> str | None:
        """The first value of header ``name``, or None."""
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (a multidict may hold it more than once)."""
        name = name.lower()
        return [value for key, value in self.headers.items() if key.lower() == name]


@dataclass
class RelayResponse:
    """``body`` is sent as JSON; ``raw`` (content type, bytes), when set, is sent instead."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    raw: tuple[str, bytes] | None = None

    @property
    def content_type(self) -> str:
        return self.raw[0] if self.raw else "application/json; charset=utf-8"

    def body_bytes(self) -> bytes:
        return self.raw[1] if self.raw else self.json_bytes()

    def json_bytes(self) -> bytes:
        """The body as compact UTF-8 JSON (non-ASCII kept; escaped if it is not encodable)."""
        text = compact_json(self.body)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:  # never a 500 over an odd character in an error message
            return compact_json(self.body, ascii_only=True).encode("ascii")


@dataclass
class SweepResult:
    """Agent ids of one :meth:`RelayCore.sweep`: set offline, republished from the outbox, not
    published (kept in the outbox)."""

    expired: list[str] = field(default_factory=list)
    republished: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)  # silent, not expired: the budget ran out


class RateLimiter:
    """Token bucket per key: ``burst`` requests at once, refilled at ``rate_per_s``.

    In-process only: under Lambda each warm container has its own buckets (use API Gateway
    throttling for a global limit).
    """

    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str) -> float:
        """Take one token; return 0.0 when allowed, else the seconds to wait."""
        now = self.clock()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > self.max_keys:  # forget full buckets; they hold no state
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.burst - 1}
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate if self.rate > 0 else 60.0


class RelayCore:
    """The relay, independent of any web framework. Adapters call :meth:`handle`.

    ``clock`` returns epoch seconds (tests pass a fake one). The store and publisher are owned
    by the caller (closed by :meth:`close`).
    """

    def __init__(
        self,
        verifier: CognitoTokenVerifier,
        store: PresenceStore,
        publisher: EventsPublisher,
        catalogue: StatusCatalogue | None = None,
        limits: RelayLimits | None = None,
        clock: Callable[[], float] = time.time,
        history: HistoryStore | None = None,
        floors: FloorStore | None = None,
        history_retention_days: int = RETENTION_DAYS,
    ) -> None:
        if catalogue is None:
            from presence_desktop.resources import default_catalogue

            catalogue = default_catalogue()
        self.verifier = verifier
        self.store = store
        self.publisher = publisher
        self.catalogue = catalogue
        self.limits = limits or RelayLimits()
        self.clock = clock
        self.rate_limiter = RateLimiter(self.limits.rate_per_s, self.limits.rate_burst)
        self.history_store = history
        self.history = HistoryWriter(history) if history is not None else None
        self.history_retention_days = history_retention_days
        self.floors = floors
        self._in_flight: set[tuple[str, int]] = set()
        self._turns: dict[str, list[Any]] = {}  # agent id -> [asyncio.Lock, holders and waiters]
        if self.limits.republish_after_s is None:
            retry = getattr(publisher, "retry", None)
            worst = retry.worst_case_s() if retry is not None else 30.0
            self.limits.republish_after_s = worst + REPUBLISH_MARGIN_S

    # --- the HTTP surface ---------------------------------------------------------------------
    async def handle(self, request: RelayRequest) -> RelayResponse:
        """Route one request; never raises for a client or upstream error (returns JSON)."""
        try:
            return await self._route(request)
        except StoreUnavailable as exc:
            # 500, not 503: clients (client/service.py) read 502/503 as "stored, publishing later";
            # here nothing was written and the client must send it again.
            log.error("%s %s -> 500 store_unavailable: %s", request.method, request.path, exc)
            return RelayResponse(500, {"error": {"code": "store_unavailable", "message": "the presence store is busy "
                                                 "or unreachable; nothing was changed, try again"}}, {"Retry-After": "2"})
        except RelayError as exc:
            if exc.status >= 500:
                log.error("%s %s -> %d %s: %s", request.method, request.path, exc.status, exc.code, exc.message)
            return RelayResponse(exc.status, exc.body(), exc.headers)
        except Exception:  # a bug must not leak a stack trace to the client
            log.exception("internal error on %s %s", request.method, request.path)
            return RelayResponse(500, {"error": {"code": "internal", "message": "internal error"}})

    async def _route(self, request: RelayRequest) -> RelayResponse:
        routes: dict[str, tuple[str, ...]] = {"/v1/status": ("POST",), "/v1/heartbeat": ("POST",),
                                              "/v1/roster": ("GET",), **history_api.ROUTES}
        path = request.path.rstrip("/") or "/"
        if path not in routes:
            raise RelayError(404, "not_found", f"no such endpoint: {request.path}")
        if request.method.upper() not in routes[path]:
            allow = ", ".join(routes[path])
            raise RelayError(405, "method_not_allowed", f"{path} takes {allow}", {"Allow": allow})
        if len(request.body) > self.limits.max_body_bytes:
            raise body_too_large(self.limits.max_body_bytes)
        caller = await self.authenticate(request)
        wait = self.rate_limiter.check(caller.sub)
        if not wait and path != "/v1/heartbeat" and self.limits.user_rate_per_min > 0:
            wait = await self.store.take_rate(f"user#{caller.sub}", self.clock(), USER_RATE_WINDOW_S,
                                              self.limits.user_rate_per_min)
        if wait:
            raise RelayError(429, "rate_limited", "too many requests; slow down", {"Retry-After": str(max(1, math.ceil(wait)))})
        if path == "/v1/status":
            return RelayResponse(200, await self.set_status(caller, parse_json_object(request.body)))
        if path in history_api.ROUTES:
            body = parse_json_object(request.body) if request.method.upper() == "PUT" else None
            status, answer = await history_api.handle(self, caller, request.method.upper(), path, request.query, body)
            if isinstance(answer, tuple):
                return RelayResponse(status, {}, raw=answer)
            return RelayResponse(status, answer)
        if path == "/v1/heartbeat":
            if request.body.strip() not in (b"", b"{}"):
                parse_json_object(request.body)  # must at least be a JSON object
            return RelayResponse(200, await self.heartbeat(caller))
        query = parse_qs(request.query)
        team = query.get("team", [None])[-1]
        cursor = query.get("cursor", [None])[-1]
        return RelayResponse(200, await self.roster(caller, team, cursor))

    async def authenticate(self, request: RelayRequest) -> Identity:
        """Verify the bearer id token; raises 401/403 :class:`RelayError`."""
        values = request.header_values("authorization")
        if len(values) > 1:  # a singleton field (RFC 9110 section 5.3); which one would count?
            raise RelayError(400, "invalid_request", "send exactly one Authorization header")
        auth = values[0] if values else None
        challenge = {"WWW-Authenticate": 'Bearer realm="presence-relay"'}
        if not auth:
            raise RelayError(401, "missing_token", "send Authorization: Bearer <Cognito id token>", challenge)
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise RelayError(401, "missing_token", "Authorization must be 'Bearer <Cognito id token>'", challenge)
        if not plausible_bearer(token.strip()):
            raise RelayError(
                401, "invalid_token", "malformed: not a JWT",
                {"WWW-Authenticate": 'Bearer realm="presence-relay", error="invalid_token", error_description="malformed"'},
            )
        try:
            claims = await self.verifier.verify_async(token.strip(), token_use="id")
        except TokenError as exc:
            if exc.code == "jwks_unavailable":
                # 500, not 503: a 502/503 tells clients the status was stored (module docstring).
                raise RelayError(500, "auth_unavailable", "cannot check tokens right now (JWKS unreachable); "
                                 "nothing was changed, try again", {"Retry-After": "5"}) from None
            raise RelayError(
                401, "invalid_token", f"{exc.code}: {exc.message}",
                {"WWW-Authenticate": f'Bearer realm="presence-relay", error="invalid_token", error_description="{exc.code}"'},
            ) from None
        return caller_from_claims(claims)

    # --- operations -------------------------------------------------------------------------
    async def set_status(self, caller: Identity, body: dict[str, Any]) -> dict[str, Any]:
        """Validate, authorize, store with the next version, publish. Returns the event dict."""
        unknown = set(body) - STATUS_FIELDS
        if unknown:
            raise RelayError(400, "unknown_field", f"unknown field(s): {', '.join(sorted(unknown))}")
        status = body.get("status")
        if not isinstance(status, str) or not status:
            raise RelayError(400, "invalid_request", "status (a status id string) is required")
        if status not in self.catalogue:
            raise RelayError(400, "unknown_status", f"unknown status {status!r}; one of {self.catalogue.ids()}")
        message = body.get("message")
        if message is not None:
            if not isinstance(message, str):
                raise RelayError(400, "invalid_request", "message must be a string or null")
            message = clean_text(message) or None  # the text policy: domain/text.py, docs/text-policy.md
            if message is not None and len(message) > MESSAGE_MAX_CHARS:
                raise RelayError(400, "message_too_long", f"message is {len(message)} chars; at most {MESSAGE_MAX_CHARS}")
        expected = body.get("expected_version")
        if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool) or expected < 0):
            raise RelayError(400, "invalid_request", "expected_version must be a whole number >= 0 (0 = no status yet)")
        target = body.get("agent_id", caller.agent_id)
        if not isinstance(target, str) or not valid_segment(target):
            raise RelayError(400, "invalid_request", "agent_id must be 1-50 alphanumerics or '-'")
        own = target == caller.agent_id
        if own:
            own_team = require_team(caller)
            source = body.get("source", "manual")
            if source not in OWN_SOURCES:
                raise RelayError(400, "invalid_request", f"source must be one of {OWN_SOURCES}")
            if source == "system" and (self.catalogue.signed_in_status is None or status != self.catalogue.signed_in_status):
                raise RelayError(400, "invalid_request",
                                 f"source system is only for the signed-in status ({self.catalogue.signed_in_status!r})")
        else:
            if not caller.is_supervisor:
                raise RelayError(403, "forbidden", "only supervisors may set another agent's status")
            if "source" in body:
                raise RelayError(400, "invalid_request", "source is set by the relay for a supervisor change")
            source = "supervisor"

        now = self.clock()
        changed_at = format_time_epoch(now)

        def build(current: StoredPresence | None) -> StoredPresence:
            current_version = current.version if current else 0
            if expected is not None and expected != current_version:
                raise RelayError(409, "version_conflict", f"stored version is {current_version}, not {expected}")
            if own and source == "system" and current is not None and current.event.status != OFFLINE_ID:
                raise RelayError(409, "status_already_set", f"a status is already set ({current.event.status!r})")
            # The time in status runs from the last change of *status*: a new message (or the
            # same status chosen again) keeps it (docs/presence-event.md).
            since = current.event.status_since_at if current is not None and current.event.status == status else changed_at
            if own:
                event = PresenceEvent(
                    agent_id=caller.agent_id, team_id=own_team, display_name=caller.display_name or caller.username,
                    status=status, version=current_version + 1, changed_at=changed_at, source=source,
                    changed_by=caller.agent_id, message=message, status_since=since,
                )
                return StoredPresence.new(event, last_seen=now)
            if current is None:
                raise RelayError(404, "unknown_agent", f"agent {target!r} has never used the relay")
            if not caller.may_change(current.event.team_id):
                raise RelayError(403, "team_forbidden", f"agent {target!r} is not in a team you supervise")
            event = current.event.with_(
                status=status, version=current_version + 1, changed_at=changed_at, source=source,
                changed_by=caller.agent_id, message=message, status_since=since,
            )
            return StoredPresence.new(event, last_seen=current.last_seen)

        async with self._agent_turn(target):
            old, row = await self.store.update(target, build)
            assert row is not None
            recorded = self._record(old, row)
            try:
                await self._publish(row, raise_errors=True)
            finally:
                await recorded
        return row.event.to_dict()

    async def heartbeat(self, caller: Identity) -> dict[str, Any]:
        """Record the caller's sign of life (epoch s, ``clock``). Returns ``{"agent_id", "team_id",
        "status", "version", "heartbeat_ttl_s"}`` (status/version None before a first status).
        Raises :class:`StoreUnavailable`, 403 ``no_team``."""
        require_team(caller)
        row = await self.store.touch(caller.agent_id, self.clock())
        return {
            "agent_id": caller.agent_id,
            "team_id": caller.team_id,
            "status": row.event.status if row else None,
            "version": row.version if row else None,
            "heartbeat_ttl_s": self.limits.heartbeat_ttl_s,
        }

    async def roster(self, caller: Identity, team: str | None, cursor: str | None = None) -> dict[str, Any]:
        """``{"agents": [<event dict + "last_seen" epoch s|None>], "as_of": ISO 8601,
        "heartbeat_ttl_s", "team", "next"}`` (module docstring). Raises 400 (invalid_request,
        team_required), 403 (team_forbidden, no_team) :class:`RelayError`, :class:`StoreUnavailable`."""
        if team is not None and not valid_segment(team):
            raise RelayError(400, "invalid_request", "team must be 1-50 alphanumerics or '-'")
        if cursor is not None and not valid_segment(cursor):
            raise RelayError(400, "invalid_request", "cursor must be the 'next' of a previous answer")
        if team is None and not caller.is_manager:
            if caller.watches_many:
                raise RelayError(400, "team_required", "ask for one team at a time: ?team=<team id>")
            team = require_team(caller)
        if team is not None and not caller.may_watch(team):
            log.info("roster of %s refused to %s (watches %s)", team, caller.agent_id, caller.watched_teams)
            raise RelayError(403, "team_forbidden", f"you may not see team {team!r}")
        as_of = format_time_epoch(self.clock())
        page = self.limits.roster_page
        rows = await self.store.list(team, after=cursor, limit=page + 1)
        more = len(rows) > page
        rows = rows[:page]
        agents = [{**json.loads(r.event_json), "last_seen": r.last_seen} for r in rows]
        return {"agents": agents, "as_of": as_of, "heartbeat_ttl_s": self.limits.heartbeat_ttl_s,
                "team": team, "next": rows[-1].agent_id if more else None}

    # --- background work ------------------------------------------------------------------------
    async def sweep(self, budget_s: float | None = None) -> SweepResult:
        """Expire silent agents (-> ``offline``, source ``system``) and republish the outbox.

        Safe to run concurrently with requests and with other sweepers (other processes or
        Lambda invocations): the expiry is a conditional write re-checked atomically, so an
        agent goes offline once, with one version. Up to ``sweep_concurrency`` expiries and
        publishes run at once; none starts after ``budget_s`` (default ``sweep_budget_s``):
        those agents are in ``deferred`` and the next run takes them. Once the events endpoint is
        found unavailable, the rest of the round only stores (the next round publishes). A
        version AppSync *rejected* (4xx, handler error) is marked in the store with the time of its
        next try, a pause that doubles with each refusal (``rejected_retry_s`` up to
        ``rejected_retry_max_s``; the refusals are counted in the store, so a restarted or
        another relay process continues the pause), so no process retries it before then and nothing stays
        unpublished for ever. A version stored less than ``republish_after_s`` ago is left to its
        own request.
        """
        result = SweepResult()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.limits.sweep_budget_s if budget_s is None else budget_s)
        gate = asyncio.Semaphore(max(1, self.limits.sweep_concurrency))
        now = self.clock()
        cutoff = now - self.limits.heartbeat_ttl_s
        down = asyncio.Event()  # the events endpoint is unavailable: store only

        def expire(current: StoredPresence | None) -> StoredPresence | None:
            if current is None or current.event.status == OFFLINE_ID:
                return None
            if current.last_seen is None or current.last_seen >= cutoff:
                return None  # a heartbeat arrived meanwhile
            expired_at = format_time_epoch(now)
            event = current.event.with_(
                status=OFFLINE_ID, version=current.version + 1, changed_at=expired_at,
                source="system", changed_by=None, message=None, status_since=expired_at,
            )
            return StoredPresence.new(event, last_seen=current.last_seen)

        async def publish(row: StoredPresence, done: list[str]) -> None:
            if down.is_set():
                result.failed.append(row.agent_id)
                return
            outcome = await self._publish(row, raise_errors=False)
            if outcome == "ok":
                done.append(row.agent_id)
            else:
                result.failed.append(row.agent_id)
                if outcome == "events_unavailable":
                    down.set()

        async def expire_one(candidate: StoredPresence) -> None:
            async with gate:
                if loop.time() >= deadline:
                    result.deferred.append(candidate.agent_id)
                    return
                async with self._agent_turn(candidate.agent_id):
                    old, row = await self.store.update(candidate.agent_id, expire)
                    if row is None:
                        return
                    await self._record(old, row)
                    result.expired.append(row.agent_id)
                    log.info("agent %s silent for more than %ss: set offline (version %d)",
                             row.agent_id, self.limits.heartbeat_ttl_s, row.version)
                    await publish(row, [])

        async def republish_one(row: StoredPresence) -> None:
            async with gate:
                if loop.time() < deadline and not down.is_set():
                    await publish(row, result.republished)

        await asyncio.gather(*(expire_one(c) for c in await self.store.stale(cutoff)))
        waiting = []
        republish_after = self.limits.republish_after_s or 0.0
        for row in await self.store.unpublished(now):
            key = (row.agent_id, row.version)
            if key in self._in_flight:
                continue
            if now - row.event.changed_at_dt.timestamp() < republish_after:
                continue  # its own request may still be publishing it
            waiting.append(republish_one(row))
        await asyncio.gather(*waiting)
        if self.history is not None:
            await self.history.retry_pending()
        for names in (result.expired, result.republished, result.failed, result.deferred):
            names.sort()
        return result

    def _record(self, old: StoredPresence | None, row: StoredPresence) -> asyncio.Future[Any]:
        """Append the change to the history alongside the publish (never fails the change)."""
        if self.history is None:
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            fut.set_result(None)
            return fut
        return asyncio.ensure_future(self.history.record(row.event, old.event if old else None))

    @contextlib.asynccontextmanager
    async def _agent_turn(self, agent_id: str) -> AsyncIterator[None]:
        """One write-and-publish at a time per agent, in arrival order (asyncio.Lock is FIFO),
        so this process publishes an agent's versions in version order: concurrent requests
        otherwise stored 121, 122 ... but published 121, 127, 122, and windows, which keep only
        newer versions, skipped the statuses in between. Across processes (several relays,
        Lambda) only the version check orders them."""
        entry = self._turns.setdefault(agent_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._turns[agent_id]

    async def _publish(self, row: StoredPresence, raise_errors: bool) -> str:
        """Publish the stored bytes of ``row``; mark it published. Returns ``"ok"`` or the
        :class:`HttpPublishError` code; with ``raise_errors`` a failure raises 502/503 instead."""
        key = (row.agent_id, row.version)
        self._in_flight.add(key)
        try:
            await self.publisher.publish(row.event.channel, [row.event_json])
        except HttpPublishError as exc:
            log.error("publishing %s version %d failed: %s", row.agent_id, row.version, exc.message)
            if exc.code != "events_unavailable":
                try:
                    await self.store.mark_rejected(row.agent_id, row.version, self._retry_at)
                except StoreUnavailable as store_exc:  # the next sweep may try it sooner: harmless
                    log.warning("could not record the refusal of %s version %d: %s", row.agent_id, row.version, store_exc)
            if not raise_errors:
                return exc.code
            if exc.code == "events_unavailable":
                raise RelayError(503, exc.code, f"status stored as version {row.version} but not published yet "
                                 f"({exc.message}); the relay retries it", {"Retry-After": "5"},
                                 stored_version=row.version) from None
            raise RelayError(502, exc.code, f"status stored as version {row.version} but the events API refused "
                             f"it ({exc.message}); the relay retries it", stored_version=row.version) from None
        finally:
            self._in_flight.discard(key)
        try:
            await self.store.mark_published(row.agent_id, row.version)
        except StoreUnavailable as exc:  # it did go out; the outbox may resend the same bytes later
            log.warning("published %s version %d but could not mark it: %s", row.agent_id, row.version, exc)
        return "ok"

    def _retry_at(self, refusals: int) -> float:
        """When a version refused ``refusals`` times (counted in the store, so across processes
        and restarts) is tried again: ``rejected_retry_s`` doubling per refusal, at most
        ``rejected_retry_max_s``."""
        pause = min(self.limits.rejected_retry_max_s, self.limits.rejected_retry_s * float(2 ** min(refusals - 1, 30)))
        return self.clock() + pause

    async def close(self) -> None:
        await self.publisher.close()
        await self.store.close()
        if self.history_store is not None:
            await self.history_store.close()
        if self.floors is not None:
            await self.floors.close()


# --- helpers ------------------------------------------------------------------------------------
def body_too_large(limit: int) -> RelayError:
    return RelayError(413, "body_too_large", f"request body larger than {limit} bytes")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Parse a request body that must be a JSON object of Unicode text; raises 400
    ``invalid_json`` :class:`RelayError` (not UTF-8, not JSON, not an object, lone surrogates)."""
    try:
        data = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RelayError(400, "invalid_json", f"body is not UTF-8 JSON: {exc}") from None
    except (ValueError, RecursionError):  # a number past int()'s digit limit; nesting too deep
        raise RelayError(400, "invalid_json", "body has a number too long or nesting too deep") from None
    if not isinstance(data, dict):
        raise RelayError(400, "invalid_json", "body must be a JSON object")
    try:
        # A "\ud800" escape parses to a lone surrogate, which is no Unicode text: it cannot be
        # stored, signed or echoed back as UTF-8 (RFC 8259 section 8.2).
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise RelayError(400, "invalid_json", "body contains an unpaired UTF-16 surrogate escape") from None
    return data


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def format_time_epoch(epoch_s: float) -> str:
    """Epoch seconds -> ISO 8601 UTC with milliseconds and ``Z``."""
    return format_time(datetime.fromtimestamp(epoch_s, UTC))


def require_team(caller: Identity) -> str:
    """The caller's own team; 403 ``no_team`` without one (a token without a valid
    ``custom:team_id``: a bad one is no team, never a wider view)."""
    if caller.team_id is None:
        raise RelayError(403, "no_team", "your account has no valid team (custom:team_id); ask an administrator")
    return caller.team_id


def caller_from_claims(claims: Claims) -> Identity:
    """Map verified id-token claims to a :class:`Identity`; raises 403 :class:`RelayError`."""
    if not any(g in claims.groups for g in AGENT_GROUPS):
        raise RelayError(403, "not_an_agent", f"user is in none of the groups {AGENT_GROUPS}")
    if not valid_segment(claims.username):
        raise RelayError(403, "forbidden", "username is not usable as a channel segment (alphanumerics and '-')")
    raw = claims.raw or {}
    who = identity_from_token(claims.username, claims.sub, list(claims.groups), raw)
    name = raw.get("name") or raw.get("preferred_username") or claims.username
    if not isinstance(name, str) or not _is_text(name):
        name = claims.username  # a lone surrogate could be neither stored nor published
    name = clean_text(name) or claims.username
    return replace(who, display_name=name[:DISPLAY_NAME_MAX_CHARS])
