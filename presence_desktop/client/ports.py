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

__all__ = ["RosterSnapshot", "RelayError", "RelayApi", "FeedSink", "LiveFeed"]

@dataclass(frozen=True, slots=True)
class RosterSnapshot:
    """``GET /v1/roster``: the events, the relay's ``as_of`` and, when reported, each agent's
    last heartbeat (``last_seen``, epoch seconds)."""

    events: list[PresenceEvent]
    as_of: str | None = None
    last_seen: dict[str, float] = field(default_factory=dict)


class RelayError(Exception):
    """A relay call failed. ``status`` is the HTTP status (0 = no answer: network, timeout);
    ``code`` the relay's error code. ``retryable`` says whether trying again later may help."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.status == 0 or self.status == 429 or self.status >= 500 or self.status == 401

    def __str__(self) -> str:
        return self.message


class RelayApi(Protocol):
    async def set_status(self, status: str, message: str | None = None, agent_id: str | None = None) -> PresenceEvent:
        """POST /v1/status. Returns the stored event. Raises :class:`RelayError`."""

    async def heartbeat(self) -> None:
        """POST /v1/heartbeat. Raises :class:`RelayError`."""

    async def roster(self, team: str | None = None) -> RosterSnapshot:
        """GET /v1/roster. Raises :class:`RelayError`."""

    async def close(self) -> None: ...


class FeedSink(Protocol):
    """What a :class:`LiveFeed` reports to. Called on the event loop's thread."""

    def feed_subscribed(self) -> None:
        """The subscription is (again) active: start the join (buffer, snapshot, replay)."""

    def feed_event(self, event: PresenceEvent) -> None: ...

    def feed_lost_events(self) -> None:
        """Events may have been dropped (buffer overflow): fetch the snapshot again."""

    def feed_down(self, reason: str, next_retry_at: float | None) -> None:
        """The connection is down; ``next_retry_at`` is the epoch time of the next attempt."""


class LiveFeed(Protocol):
    async def run(self, sink: FeedSink) -> None:
        """Connect, subscribe and report to ``sink`` until cancelled, reconnecting on loss."""

    async def close(self) -> None:
        """Close the WebSocket with code 1000 (normal closure)."""
