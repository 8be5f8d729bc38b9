"""The desktop app's client of the relay's HTTP API (urllib3, off the event loop).

API (docs/relay-api.md): every request carries
``Authorization: Bearer <Cognito id token>``.

- ``POST /v1/status {status, message?, agent_id?}`` -> 200 the stored event.
- ``POST /v1/heartbeat`` -> 200.
- ``GET /v1/roster[?team=]`` -> 200 ``{"agents": [<event>...], "as_of": ...}``.
- Errors: JSON ``{"error": {"code", "message"}}``; raised as
  :class:`~presence_desktop.client.ports.RelayCallError` (status 0 for no answer / timeout).

A 401 triggers one token refresh and one retry (the id token may have expired in flight).
TLS: the system trust store plus, for the devstack, the profile's extra CA file; verification is
never disabled. HTTP is urllib3 (presence_desktop/net/tls.py: one stack for the app process), each
request on a worker thread (``run_in_executor``), answer parsed there too, so the GUI loop never
blocks on the network and a large roster's JSON is parsed in GIL slices the GUI thread shares.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import urllib3
from urllib3.exceptions import HTTPError

from presence_desktop.client.ports import RelayCallError, RosterSnapshot
from presence_desktop.domain.presence import PresenceError, PresenceEvent
from presence_desktop.events_api.auth import TokenProvider
from presence_desktop.net.tls import client_ssl_context

log = logging.getLogger(__name__)


class HttpRelayClient:
    """``RelayApi`` over HTTP. ``token`` returns a valid id token (refreshing as needed);
    ``refresh`` forces a refresh after a 401. ``timeout_s``: per request (connect + answer).
    ``executor``: where the blocking requests run (default: the loop's default executor)."""

    def __init__(
        self,
        base_url: str,
        token: TokenProvider,
        *,
        refresh: Callable[[], Awaitable[Any]] | None = None,
        ca_file: str | None = None,
        timeout_s: float = 10.0,
        executor: Any = None,
    ) -> None:
        self.executor = executor
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.refresh = refresh
        self.ca_file = ca_file
        self.timeout_s = timeout_s
        self._pool: urllib3.PoolManager | None = None
        self._pool_lock = threading.Lock()

    def _http(self) -> urllib3.PoolManager:
        with self._pool_lock:
            if self._pool is None:
                kwargs: dict[str, Any] = {}
                if self.base_url.startswith("https://"):
                    kwargs["ssl_context"] = client_ssl_context(self.ca_file)
                # No urllib3 retries: the service retries with its own backoff (and this
                # client once after a 401); keep-alive connections are reused across calls.
                self._pool = urllib3.PoolManager(num_pools=2, maxsize=4, retries=False,
                                                 timeout=urllib3.Timeout(total=self.timeout_s), **kwargs)
            return self._pool

    def _request_sync(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
                      parse: Callable[[Any], Any] | None = None) -> tuple[int, Any, float | None]:
        """(HTTP status, JSON answer or None (a 2xx answer passed through ``parse`` when given),
        the ``Retry-After`` seconds or None). Raises urllib3's HTTPError or OSError, or what
        ``parse`` raises."""
        resp = self._http().request(method, url, body=body, headers=headers, preload_content=True)
        try:
            data = json.loads(resp.data) if resp.data else None
        except ValueError:
            data = None
        if parse is not None and 200 <= resp.status < 300:
            data = parse(data)
        return resp.status, data, retry_after_s(resp.headers.get("Retry-After"))

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None, params: dict[str, str] | None = None,
                    parse: Callable[[Any], Any] | None = None) -> Any:
        """The 2xx answer (JSON, through ``parse`` on the worker thread when given). Raises RelayCallError."""
        url = self.base_url + path + (f"?{urlencode(params)}" if params else "")
        payload = json.dumps(body).encode("utf-8") if body is not None else None
        loop = asyncio.get_running_loop()
        for attempt in (0, 1):
            try:
                token = await self.token()
            except Exception as exc:
                raise RelayCallError(401 if "auth" in type(exc).__name__.lower() else 0, "no_token", f"not signed in: {exc}") from exc
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if payload is not None:
                headers["Content-Type"] = "application/json"
            try:
                status, data, retry_after = await loop.run_in_executor(
                    self.executor, self._request_sync, method, url, payload, headers, parse)
            except (HTTPError, OSError) as exc:
                raise RelayCallError(0, "unreachable", f"the relay is unreachable ({type(exc).__name__})") from exc
            if status == 401 and attempt == 0 and self.refresh is not None:
                try:
                    await self.refresh()
                except Exception as exc:  # noqa: BLE001
                    log.info("token refresh after 401 failed: %s", exc)
                continue
            if 200 <= status < 300:
                return data
            err = data.get("error") if isinstance(data, dict) else None
            if not isinstance(err, dict):  # not the relay's JSON: a proxy, a portal, a gateway
                raise RelayCallError(status, "http_error", f"HTTP {status} (not an answer from the relay)")
            raise RelayCallError(status, str(err.get("code", "http_error")), str(err.get("message", f"HTTP {status}")),
                                 stored_version=_stored_version(status, err), retry_after_s=retry_after)
        raise RelayCallError(401, "invalid_token", "the relay refused the session; sign in again")

    async def set_status(self, status: str, message: str | None = None, agent_id: str | None = None,
                         source: str | None = None) -> PresenceEvent:
        body: dict[str, Any] = {"status": status, "message": message}
        if agent_id is not None:
            body["agent_id"] = agent_id
        if source is not None:
            body["source"] = source
        data = await self._call("POST", "/v1/status", body)
        # A 2xx that is not the relay's event (a captive portal's page, a proxy's answer) stores
        # nothing we know of: a plain 502 without stored_version, which the service sends again.
        if not isinstance(data, dict):
            raise RelayCallError(502, "bad_response", "the answer to a status change was not the relay's JSON")
        try:
            return PresenceEvent.from_dict(data.get("event", data))
        except PresenceError as exc:
            raise RelayCallError(502, "bad_response", f"the relay answered with a bad event: {exc}") from exc

    async def heartbeat(self) -> None:
        await self._call("POST", "/v1/heartbeat", {})

    async def roster(self, team: str | None = None) -> RosterSnapshot:
        """Every page of ``GET /v1/roster`` (the relay's ``next`` cursor), merged; ``as_of`` is
        the first page's (the oldest)."""
        # Parsed on the worker thread: thousands of events would otherwise hold the GUI thread
        # for one long stretch; there it shares the GIL in slices with the GUI thread.
        params: dict[str, str] = {"team": team} if team else {}
        first: RosterSnapshot = await self._call("GET", "/v1/roster", params=params or None, parse=_snapshot_from)
        events, last_seen, cursor = list(first.events), dict(first.last_seen), first.next
        while cursor is not None:
            page: RosterSnapshot = await self._call("GET", "/v1/roster", params={**params, "cursor": cursor},
                                                    parse=_snapshot_from)
            if page.next == cursor:
                raise RelayCallError(502, "bad_response", "the relay's roster cursor does not move")
            events += page.events
            last_seen.update(page.last_seen)
            cursor = page.next
        return RosterSnapshot(events, first.as_of, last_seen)

    async def history(self, *, day: str, agent: str | None = None, team: str | None = None, tz: str | None = None,
                      cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
        """``GET /v1/history``: one page of one agent's or team's changes on ``day`` (YYYY-MM-DD in
        ``tz``): ``{"entries", "gaps", "cursor", "start", "end", ...}``. Raises RelayError."""
        params = {k: str(v) for k, v in (("agent", agent), ("team", team), ("day", day), ("tz", tz),
                                         ("cursor", cursor), ("limit", limit)) if v is not None}
        data = await self._call("GET", "/v1/history", params=params)
        if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
            raise RelayCallError(502, "bad_response", "the relay's history answer has no entry list")
        return data

    async def history_day(self, *, day: str, agent: str | None = None, team: str | None = None,
                          tz: str | None = None, max_entries: int = 20_000) -> dict[str, Any]:
        """Every page of :meth:`history` joined: ``{"entries", "gaps", "start", "end", "day", "tz"}``.
        Raises RelayError (413 ``too_large`` past ``max_entries``)."""
        first = await self.history(day=day, agent=agent, team=team, tz=tz, limit=500)
        entries, gaps, cursor = list(first["entries"]), list(first.get("gaps") or []), first.get("cursor")
        while cursor:
            page = await self.history(day=day, agent=agent, team=team, tz=tz, cursor=cursor, limit=500)
            entries += page["entries"]
            gaps += page.get("gaps") or []
            cursor = page.get("cursor")
            if len(entries) > max_entries:
                raise RelayCallError(413, "too_large", f"more than {max_entries} changes that day")
        return {**first, "entries": entries, "gaps": gaps, "cursor": None}

    async def floors(self, team: str) -> dict[str, Any]:
        """``GET /v1/floors``: ``{"team_id", "floors": [...], "updated_by", "updated_at"}``."""
        doc: dict[str, Any] = await self._call("GET", "/v1/floors", params={"team": team})
        return doc

    async def set_floors(self, team: str, floors: list[dict[str, Any]]) -> dict[str, Any]:
        """``PUT /v1/floors`` (supervisors of ``team``). Returns the stored document."""
        doc: dict[str, Any] = await self._call("PUT", "/v1/floors", {"team_id": team, "floors": floors})
        return doc

    async def close(self) -> None:
        """Close the pooled connections (a request still in flight finishes on its own)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.clear()


STORED_CODES = ("publish_rejected", "events_unavailable")


def _stored_version(status: int, err: dict[str, Any]) -> int | None:
    """The version the relay says it stored though publishing failed (presence_desktop/relay/core.py):
    only a 502/503 with one of STORED_CODES and an integer ``stored_version``."""
    version = err.get("stored_version")
    if status in (502, 503) and err.get("code") in STORED_CODES and isinstance(version, int) \
            and not isinstance(version, bool) and version > 0:
        return version
    return None


def _snapshot_from(data: Any) -> RosterSnapshot:
    """``GET /v1/roster``'s answer -> RosterSnapshot (bad entries logged and skipped).
    Raises RelayCallError (502) when there is no agent list."""
    if not isinstance(data, dict) or not isinstance(data.get("agents"), list):
        raise RelayCallError(502, "bad_response", "the relay's roster answer has no agent list")
    events = []
    last_seen: dict[str, float] = {}
    for raw in data["agents"]:
        try:
            ev = PresenceEvent.from_dict(raw)
        except PresenceError as exc:
            log.warning("skipping a bad roster entry: %s", exc)
            continue
        events.append(ev)
        seen = raw.get("last_seen") if isinstance(raw, dict) else None
        if isinstance(seen, (int, float)) and not isinstance(seen, bool):
            last_seen[ev.agent_id] = float(seen)
    cursor = data.get("next")
    return RosterSnapshot(events, data.get("as_of"), last_seen, cursor if isinstance(cursor, str) and cursor else None)


RETRY_AFTER_MAX_S = 300.0


def retry_after_s(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (RFC 9110 10.2.3: delay-seconds; an HTTP-date, which
    the relay never sends, is ignored), at most ``RETRY_AFTER_MAX_S``; None when absent or bad."""
    if value is None or not value.strip().isdigit():
        return None
    return min(float(value.strip()), RETRY_AFTER_MAX_S)
