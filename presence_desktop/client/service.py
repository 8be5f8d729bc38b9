"""The app's core: roster, own status, heartbeats and the join protocol. No Qt here.

:class:`PresenceService` owns a :class:`~presence_desktop.domain.roster.Roster` and an
:class:`~presence_desktop.domain.roster.OwnStatus`, talks to the backend only through
:class:`~presence_desktop.client.ports.LiveFeed` and :class:`~presence_desktop.client.ports.RelayApi`, and
announces what changed to one :class:`ServiceListener` (the Qt bridge re-emits those as signals).

- Join (docs/architecture.md): the feed reports "subscribed" -> ``roster.begin_join()`` (live events are
  buffered) -> ``GET /v1/roster`` (retried with backoff) -> ``complete_join`` replays the buffer.
  Lost events (client buffer overflow) -> the same again.
- Own status: :meth:`request_status` marks the wish pending; one publisher task sends it to the
  relay, retrying retryable failures with backoff (and at once when the connection comes back);
  the relay's reply confirms it. A 4xx answer drops the wish and reports why.
- Heartbeats: ``POST /v1/heartbeat`` every ``heartbeat_s`` while running.
- :meth:`shutdown` is bounded: best-effort ``offline``, close the WebSocket (1000), cancel tasks.
- Roster changes are announced once per event-loop turn: the feed drains every queued event in
  one turn, and each event becoming its own listener call (a Qt signal to the window and the
  model) made bursts stall the GUI. Changes are merged (:meth:`Change.merge`) and flushed by a
  ``call_soon``; any other announcement flushes them first, so listeners see the same order.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from presence_desktop.client.ports import LiveFeed, RelayApi, RelayError
from presence_desktop.client.tasks import TaskKeeper
from presence_desktop.domain.identity import Identity
from presence_desktop.domain.presence import PresenceEvent
from presence_desktop.domain.roster import Change, OwnStatus, Roster
from presence_desktop.domain.statuses import OFFLINE_ID, StatusCatalogue

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """This app's own connection: ``up``; when down, ``since`` / ``next_retry_at`` (epoch s)."""

    up: bool
    since: float | None = None
    next_retry_at: float | None = None
    reason: str | None = None
    joining: bool = False


class ServiceListener(Protocol):
    def roster_changed(self, change: Change) -> None: ...

    def connection_changed(self, state: ConnectionState) -> None: ...

    def own_status_changed(self) -> None: ...

    def problem(self, text: str) -> None: ...


class _NullListener:
    def roster_changed(self, change: Change) -> None:
        pass

    def connection_changed(self, state: ConnectionState) -> None:
        pass

    def own_status_changed(self) -> None:
        pass

    def problem(self, text: str) -> None:
        pass


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
    Jitter"): uniform in [0, min(cap, base * 2**attempt)], never below 50 ms."""
    return max(0.05, random.uniform(0, min(cap, base * (2**attempt))))


class PresenceService:
    def __init__(
        self,
        identity: Identity,
        catalogue: StatusCatalogue,
        relay: RelayApi,
        feed: LiveFeed,
        *,
        heartbeat_s: float = 30.0,
        stale_after_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.identity = identity
        self.catalogue = catalogue
        self.relay = relay
        self.feed = feed
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        teams = None if identity.is_supervisor or identity.team_id is None else [identity.team_id]
        self.roster = Roster(catalogue, clock=clock, stale_after_s=stale_after_s, teams=teams)
        self.own = OwnStatus(identity.agent_id, clock=clock)
        self.listener: ServiceListener = _NullListener()
        self.tasks = TaskKeeper(on_error=self._task_failed)
        self.connection = ConnectionState(up=False, since=None, reason="connecting")
        self._publish_wake = asyncio.Event()
        self._started = False
        self._pending_change: Change | None = None  # merged, announced at the end of the loop turn
        self._joined_once = False  # a roster snapshot arrived: whether this user has a row is known

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the feed, the publisher and the heartbeats (needs a running loop)."""
        if self._started:
            return
        self._started = True
        self.tasks.spawn(self._run_feed(), name="feed")
        self.tasks.spawn(self._publisher(), name="publisher")
        if self.heartbeat_s > 0:
            self.tasks.spawn(self._heartbeats(), name="heartbeat")

    async def shutdown(self, offline_timeout: float = 0.8, close_timeout: float = 0.5, tasks_timeout: float = 0.3) -> None:
        """Leave cleanly and quickly: publish ``offline`` (best effort, bounded) if this user was
        present, close the WebSocket with 1000, cancel and await every task. Never raises."""
        if self.identity is not None and self._was_present():
            try:
                await asyncio.wait_for(self.relay.set_status(OFFLINE_ID), offline_timeout)
            except (TimeoutError, RelayError, OSError) as exc:
                log.info("could not publish offline on the way out: %s", exc)
            except Exception:  # shutdown must go on
                log.exception("publishing offline failed")
        try:
            await asyncio.wait_for(self.feed.close(), close_timeout)
        except Exception as exc:  # noqa: BLE001
            log.info("closing the realtime connection: %s", exc)
        await self.tasks.cancel_all(tasks_timeout)
        try:
            await asyncio.wait_for(self.relay.close(), 0.2)
        except Exception as exc:  # noqa: BLE001
            log.info("closing the relay client: %s", exc)

    def _was_present(self) -> bool:
        """This user has a status to end: a roster row or a wish of this session. A user who
        never set one (a supervisor only watching) must not get an "Offline" row out of nothing."""
        if self.own.pending is not None or not self._joined_once:
            return True  # unknown before the first roster: a ghost "Available" is the worse error
        entry = self.roster.get(self.identity.agent_id)
        return entry is not None and entry.event.status != OFFLINE_ID

    def _task_failed(self, name: str, exc: BaseException) -> None:
        self._problem(f"Internal error in {name}: {exc}")

    # --- feed sink (called by the LiveFeed) -----------------------------------------------------
    async def _run_feed(self) -> None:
        await self.feed.run(self)

    def feed_subscribed(self) -> None:
        self._emit_roster(self.roster.begin_join())
        self._set_connection(ConnectionState(up=True, joining=True))
        self._publish_wake.set()  # a wish made while offline goes out now
        self.tasks.spawn(self._fetch_snapshot(), name="snapshot")

    def feed_event(self, event: PresenceEvent) -> None:
        self._emit_roster(self.roster.on_live(event))
        if self.own.observe(event):
            self._own_changed()

    def feed_lost_events(self) -> None:
        log.warning("live events were lost: fetching the snapshot again")
        self.feed_subscribed()

    def feed_down(self, reason: str, next_retry_at: float | None) -> None:
        self.tasks.cancel("snapshot")
        self._emit_roster(self.roster.connection_lost())
        since = self.roster.down_since
        self._set_connection(ConnectionState(up=False, since=since, next_retry_at=next_retry_at, reason=reason))

    async def _fetch_snapshot(self) -> None:
        team = None if self.identity.is_supervisor else self.identity.team_id
        attempt = 0
        while True:
            try:
                snap = await self.relay.roster(team)
                break
            except RelayError as exc:
                if exc.status == 401:
                    # The session is gone (refresh refused): retrying cannot help.
                    self.feed_down(f"sign in again: {exc}", None)
                    return
                if not exc.retryable:
                    self._problem(f"Cannot load the roster: {exc}")
                delay = backoff_delay(attempt, base=1.0, cap=30.0)
                log.info("roster snapshot failed (%s); retrying in %.1f s", exc, delay)
                attempt += 1
                await asyncio.sleep(delay)
        self._emit_roster(self.roster.complete_join(snap.events, snap.as_of, snap.last_seen))
        self._joined_once = True
        changed = False
        for event in snap.events:
            changed |= self.own.observe(event)
        own_entry = self.roster.get(self.identity.agent_id)
        if own_entry is not None:
            changed |= self.own.observe(own_entry.event)
        if changed:
            self._own_changed()
        self._set_connection(ConnectionState(up=True, joining=False))

    # --- own status -------------------------------------------------------------------------------
    def request_status(self, status: str, message: str | None = None) -> None:
        """Ask for a new own status; shown pending until the relay confirms it."""
        self.catalogue.get(status)  # raises UnknownStatusError for a bad id
        message = (message or "").strip() or None
        self.own.request(status, message)
        self._own_changed()
        self._publish_wake.set()

    async def _publisher(self) -> None:
        attempt = 0
        while True:
            await self._publish_wake.wait()
            self._publish_wake.clear()
            while self.own.pending is not None:
                req = self.own.pending
                try:
                    event = await self.relay.set_status(req.status, req.message)
                except RelayError as exc:
                    if exc.status in (502, 503):
                        # Stored with its version; the relay's outbox publishes it. The live
                        # event confirms it (OwnStatus.observe); sending again would only add
                        # another version.
                        self.own.failed("saved by the relay, waiting to be published")
                        self._own_changed()
                        break
                    if not exc.retryable:
                        self.own.pending = None
                        self._own_changed()
                        self._problem(f"Status not changed: {exc}")
                        break
                    self.own.failed(f"{exc}; will retry" if exc.status else "offline; will retry")
                    self._own_changed()
                    delay = backoff_delay(attempt, base=1.0, cap=30.0)
                    attempt += 1
                    # Wait for the backoff, or less if the connection comes back.
                    try:
                        await asyncio.wait_for(self._publish_wake.wait(), delay)
                    except TimeoutError:
                        pass
                    self._publish_wake.clear()
                    continue
                attempt = 0
                self.own.confirmed(event, req)
                self._emit_roster(self.roster.apply(event))
                self._own_changed()

    async def set_agent_status(self, agent_id: str, status: str) -> PresenceEvent:
        """A supervisor sets another agent's status (``POST /v1/status`` with ``agent_id``).
        Raises :class:`RelayError` (403 for a non-supervisor) or ``PermissionError`` locally."""
        if not self.identity.is_supervisor:
            raise PermissionError("only supervisors may set another agent's status")
        self.catalogue.get(status)
        event = await self.relay.set_status(status, None, agent_id=agent_id)
        self._emit_roster(self.roster.apply(event))
        return event

    async def _heartbeats(self) -> None:
        while True:
            try:
                await self.relay.heartbeat()
            except RelayError as exc:
                log.info("heartbeat failed: %s", exc)
            await asyncio.sleep(self.heartbeat_s)

    # --- helpers ------------------------------------------------------------------------------------
    def _emit_roster(self, change: Change) -> None:
        """Queue ``change`` for the once-per-loop-turn announcement (see module doc). Without a
        running loop (plain calls in tests) it is announced at once."""
        if not change:
            return
        if self._pending_change is not None:
            self._pending_change.merge(change)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.listener.roster_changed(change)
            return
        # A fresh Change: the caller's may be the roster's own object or reused by it.
        self._pending_change = Change().merge(change)
        loop.call_soon(self.flush_roster)

    def flush_roster(self) -> None:
        """Announce the merged roster changes now (no-op when there are none)."""
        change, self._pending_change = self._pending_change, None
        if change:
            self.listener.roster_changed(change)

    def _own_changed(self) -> None:
        self.flush_roster()  # the roster change that carried it is announced first
        self.listener.own_status_changed()

    def _problem(self, text: str) -> None:
        self.flush_roster()
        self.listener.problem(text)

    def _set_connection(self, state: ConnectionState) -> None:
        self.connection = state
        self.flush_roster()
        self.listener.connection_changed(state)
