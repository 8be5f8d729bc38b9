"""The narrow interfaces the desktop app talks through (no Qt here).

The app's core (:mod:`presence_desktop.client.service`) sees the backend only through these:

- :class:`RelayApi`: the relay's HTTP API (docs/relay-api.md): own status, a supervisor's
  change of another agent's status, heartbeats, the roster snapshot.
- :class:`LiveFeed`: the realtime subscription to ``/agent-presence/*`` that reports
  (re)subscriptions, events and connection loss to a :class:`FeedSink`.

Real adapters live in :mod:`presence_desktop.client.backends`; tests use small fakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from presence_desktop.domain.presence import PresenceEvent

__all__ = ["RosterSnapshot", "RelayCallError", "RelayApi", "FeedSink", "LiveFeed"]

@dataclass(frozen=True, slots=True)
class RosterSnapshot:
    """``GET /v1/roster``: the events, the relay's ``as_of`` and, when reported, each agent's
    last heartbeat (``last_seen``, epoch seconds)."""

    events: list[PresenceEvent]
    as_of: str | None = None
    last_seen: dict[str, float] = field(default_factory=dict)
    next: str | None = None  # the relay's cursor of the next page (None: this was the last)


class RelayCallError(Exception):
    """A relay call failed. ``status`` is the HTTP status (0 = no answer: network, timeout);
    ``code`` the relay's error code. ``retryable`` says whether trying again later may help.
    ``stored_version``: the relay's own JSON answer said the status was stored as this version
    and will be published (502/503 with ``stored_version``); None for every other failure,
    whatever its HTTP status (a proxy's 502 stores nothing). ``retry_after_s``: the answer's
    ``Retry-After`` (seconds; a 429 from the relay's rate limits carries it): no sooner."""

    def __init__(self, status: int, code: str, message: str, stored_version: int | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.stored_version = stored_version
        self.retry_after_s = retry_after_s

    @property
    def stored(self) -> bool:
        return self.stored_version is not None

    @property
    def retryable(self) -> bool:
        return self.status == 0 or self.status == 429 or self.status >= 500 or self.status == 401

    def __str__(self) -> str:
        return self.message


class RelayApi(Protocol):
    async def set_status(self, status: str, message: str | None = None, agent_id: str | None = None,
                         source: str | None = None) -> PresenceEvent:
        """POST /v1/status (``source``: None = the relay's default, ``manual``). Returns the
        stored event. Raises :class:`RelayCallError`."""

    async def heartbeat(self) -> None:
        """POST /v1/heartbeat. Raises :class:`RelayCallError`."""

    async def roster(self, team: str | None = None) -> RosterSnapshot:
        """GET /v1/roster of ``team`` (None: the caller's own team, or every team for a
        manager), every page. Raises :class:`RelayCallError`."""

    async def close(self) -> None: ...


class FeedSink(Protocol):
    """What a :class:`LiveFeed` reports to. Called on the event loop's thread."""

    def feed_subscribed(self, channel: str | None = None) -> None:
        """The subscription to ``channel`` (None: every one) is (again) active: start the join
        (buffer, snapshot, replay) for its team."""

    def feed_event(self, event: PresenceEvent) -> None: ...

    def feed_lost_events(self) -> None:
        """Events may have been dropped (buffer overflow): fetch the snapshot again."""

    def feed_down(self, reason: str, next_retry_at: float | None, *, needs_sign_in: bool = False,
                  stopped: bool = False) -> None:
        """The connection is down; ``next_retry_at`` is the epoch time of the next attempt.
        ``needs_sign_in``: the session was refused; no retry will help until the user signs in.
        ``stopped``: the client gave up retrying (e.g. oversized frames); ``reason`` says why."""

    def feed_refused(self, channel: str, reason: str, *, needs_sign_in: bool = False, retrying: bool = True) -> None:
        """The server refused (or ended) the subscription to ``channel``; the feed tries it again
        later (``retrying``; False: the namespace denied it, and asking again cannot help). Other
        channels go on. ``needs_sign_in``: refused for the session itself (a credential the server
        no longer accepts): the whole connection waits for a sign-in."""

    def feed_quiet(self, since: float | None) -> None:
        """Connected, but nothing (not even a keep-alive) has come since ``since`` (epoch s,
        this computer's clock); None when frames come again."""


class LiveFeed(Protocol):
    async def run(self, sink: FeedSink) -> None:
        """Connect, subscribe and report to ``sink`` until cancelled, reconnecting on loss."""

    def set_channels(self, channels: list[str]) -> None:
        """Subscribe to exactly ``channels`` over the same connection (new ones subscribed,
        dropped ones unsubscribed; no reconnect)."""

    async def close(self) -> None:
        """Close the WebSocket with code 1000 (normal closure)."""

    def reconnect_now(self, reason: str) -> None:
        """Drop the connection and reconnect at once (wake from sleep, network change)."""
