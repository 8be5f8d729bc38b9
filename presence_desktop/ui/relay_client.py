"""The desktop app's client of the relay's HTTP API (aiohttp).

API (design.md "Relay API", presence_desktop/relay/core.py): every request carries
``Authorization: Bearer <Cognito id token>``.

- ``POST /v1/status {status, message?, agent_id?}`` -> 200 the stored event.
- ``POST /v1/heartbeat`` -> 200.
- ``GET /v1/roster[?team=]`` -> 200 ``{"agents": [<event>...], "as_of": ...}``.
- Errors: JSON ``{"error": {"code", "message"}}``; raised as
  :class:`~presence_desktop.ui.ports.RelayError` (status 0 for no answer / timeout).

A 401 triggers one token refresh and one retry (the id token may have expired in flight).
TLS: the system trust store plus, for the devstack, the profile's extra CA file; verification is
never disabled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from typing import Any, Awaitable, Callable

import aiohttp

from presence_desktop.domain.presence import PresenceError, PresenceEvent
from presence_desktop.ui.ports import RelayError, RosterSnapshot

log = logging.getLogger(__name__)

TokenProvider = Callable[[], Awaitable[str]]


def ssl_context_for(ca_file: str | None) -> ssl.SSLContext:
    """Default verification; ``ca_file`` (PEM) is trusted *in addition* to the system store."""
    ctx = ssl.create_default_context()
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    return ctx


class HttpRelayClient:
    """``RelayApi`` over HTTP. ``token`` returns a valid id token (refreshing as needed);
    ``refresh`` forces a refresh after a 401. Timeouts in seconds."""

    def __init__(
        self,
        base_url: str,
        token: TokenProvider,
        *,
        refresh: Callable[[], Awaitable[Any]] | None = None,
        ca_file: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.refresh = refresh
        self.ssl = ssl_context_for(ca_file) if self.base_url.startswith("https://") else None
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def _call(self, method: str, path: str, body: dict | None = None, params: dict | None = None) -> Any:
        for attempt in (0, 1):
            try:
                token = await self.token()
            except Exception as exc:  # noqa: BLE001 - the auth layer's errors become "no answer"
                raise RelayError(401 if "auth" in type(exc).__name__.lower() else 0, "no_token", f"not signed in: {exc}") from exc
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            try:
                async with self._http().request(
                    method, self.base_url + path, json=body, params=params, headers=headers, ssl=self.ssl
                ) as resp:
                    text = await resp.text()
                    status = resp.status
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                raise RelayError(0, "unreachable", f"the relay is unreachable ({type(exc).__name__})") from exc
            if status == 401 and attempt == 0 and self.refresh is not None:
                try:
                    await self.refresh()
                except Exception as exc:  # noqa: BLE001
                    log.info("token refresh after 401 failed: %s", exc)
                continue
            try:
                data = json.loads(text) if text else None
            except ValueError:
                data = None
            if 200 <= status < 300:
                return data
            err = (data or {}).get("error", {}) if isinstance(data, dict) else {}
            raise RelayError(status, str(err.get("code", "http_error")), str(err.get("message", f"HTTP {status}")))
        raise RelayError(401, "invalid_token", "the relay refused the session; sign in again")

    async def set_status(self, status: str, message: str | None = None, agent_id: str | None = None) -> PresenceEvent:
        body: dict[str, Any] = {"status": status, "message": message}
        if agent_id is not None:
            body["agent_id"] = agent_id
        data = await self._call("POST", "/v1/status", body)
        try:
            return PresenceEvent.from_dict(data.get("event", data) if isinstance(data, dict) else data)
        except PresenceError as exc:
            raise RelayError(502, "bad_response", f"the relay answered with a bad event: {exc}") from exc

    async def heartbeat(self) -> None:
        await self._call("POST", "/v1/heartbeat", {})

    async def roster(self, team: str | None = None) -> RosterSnapshot:
        data = await self._call("GET", "/v1/roster", params={"team": team} if team else None)
        if not isinstance(data, dict) or not isinstance(data.get("agents"), list):
            raise RelayError(502, "bad_response", "the relay's roster answer has no agent list")
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
        return RosterSnapshot(events, data.get("as_of"), last_seen)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
