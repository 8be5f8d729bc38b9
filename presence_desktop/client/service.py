"""The app's core: roster, own status, heartbeats and the join protocol. No Qt here.

:class:`PresenceService` owns a :class:`~presence_desktop.domain.roster.Roster` and an
:class:`~presence_desktop.domain.roster.OwnStatus`, talks to the backend only through
:class:`~presence_desktop.client.ports.LiveFeed` and :class:`~presence_desktop.client.ports.RelayApi`, and
announces what changed to one :class:`ServiceListener` (the Qt bridge re-emits those as signals).

- Join (docs/architecture.md): the feed reports "subscribed" for a team's channel ->
  ``roster.begin_join()`` (live events are buffered) -> ``GET /v1/roster?team=`` of every team
  waiting for a snapshot (retried with backoff) -> ``complete_join`` replays the buffer. Lost events
  (client buffer overflow) -> the same again for every team.
- Teams (docs/teams.md): the user watches :attr:`watched` (a subset of what the token allows,
  :meth:`Identity.may_watch`; None = every team, a manager). :meth:`watch` changes it without
  reconnecting: new teams' channels are subscribed and joined, dropped ones unsubscribed and their
  rows kept out of view. A refused subscription is said in the window and logged, never shown as
  an empty healthy roster.
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
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from presence_desktop.client.ports import LiveFeed, RelayApi, RelayCallError, RosterSnapshot
from presence_desktop.client.tasks import TaskKeeper
from presence_desktop.domain.identity import Identity
from presence_desktop.domain.presence import PresenceError, PresenceEvent, parse_time
from presence_desktop.domain.roster import Change, OwnStatus, PendingChange, Roster
from presence_desktop.domain.statuses import OFFLINE_ID, StatusCatalogue
from presence_desktop.domain.times import ServerClock
from presence_desktop.net.backoff import full_jitter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """This app's own connection: ``up``; when down, ``since`` / ``next_retry_at`` (epoch s on
    this computer's clock: they are this computer's events, shown on its clock face), ``reason``
    in words, and ``needs_sign_in`` when the session itself was refused (the live feed's
    credentials or a relay 401): only signing in again can bring it back. ``quiet_since``: up,
    but the server's keep-alive is overdue (the roster is shown as not current)."""

    up: bool
    since: float | None = None
    next_retry_at: float | None = None
    reason: str | None = None
    joining: bool = False
    needs_sign_in: bool = False
    stopped: bool = False  # the live feed gave up retrying until the user acts (``reason`` says why)
    # up, but nothing (not even a keep-alive) heard since this epoch time (this computer's clock):
    # events may be missing; the roster is shown as not current
    quiet_since: float | None = None


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


def _retry_delay(attempt: int, exc: RelayCallError | None = None) -> float:
    """The wait before own-status and roster-snapshot retry ``attempt`` (from 0): full jitter
    up to 1 s doubling to 30 s, never below 50 ms, and never sooner than the answer's
    ``Retry-After`` (the relay's rate limits refuse an earlier retry again)."""
    delay = full_jitter(attempt, base=1.0, cap=30.0, floor=0.05)
    if exc is not None and exc.retry_after_s is not None:
        delay = max(delay, exc.retry_after_s)
    return delay


class _Replaced(Exception):
    """The own-status request in flight was replaced by a newer wish before it was sent."""


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
        watched: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        self.identity = identity
        self.catalogue = catalogue
        self.relay = relay
        self.feed = feed
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        # The relay's clock: every time the roster and the own status compare with a relay time
        # (changed_at, status_since, last_seen) runs on it; measured at each roster snapshot.
        self.server_clock = ServerClock(clock)
        self.allowed: tuple[str, ...] | None = identity.watched_teams  # None: every team (manager)
        self._choice = tuple(watched) if watched is not None else None  # the user's pick; None: all
        self.watched: tuple[str, ...] | None = self._valid_choice(self._choice)
        # Called before each heartbeat: the identity of the current (refreshed) id token.
        self.identity_source: Callable[[], Identity] | None = None
        self.roster = Roster(catalogue, clock=self.server_clock, stale_after_s=stale_after_s, teams=self.watched)
        self.refused: dict[str, str] = {}  # team (or "*") -> why its subscription was refused
        self._to_join: set[str | None] = set()  # teams waiting for a snapshot (None: every team)
        self._join_got = RosterSnapshot([])  # snapshots fetched for the join under way
        self._fetching: tuple[str | None] | None = None  # (team,) whose snapshot request is on its way
        self.own = OwnStatus(identity.agent_id, clock=self.server_clock)
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
        self._set_feed_channels()
        if self.allowed == () or self.watched == ():
            log.warning("user %s watches no team (groups %s)", self.identity.username, self.identity.groups)
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
            except (TimeoutError, RelayCallError, OSError) as exc:
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

    def resume(self, reason: str) -> None:
        """The machine woke from sleep or its network changed: the WebSocket is probably dead
        although nothing says so yet. Reconnect at once (the feed's rejoin does snapshot and
        replay) and send a waiting status now. The one entry point for every OS signal
        (client/wake.py, the UI's network watcher); a feed without ``reconnect_now`` is skipped."""
        log.info("reconnecting at once: %s", reason)
        reconnect = getattr(self.feed, "reconnect_now", None)
        if reconnect is not None:
            try:
                reconnect(reason)
            except Exception:
                log.exception("reconnect_now failed")
        self._publish_wake.set()

    # --- feed sink (called by the LiveFeed) -----------------------------------------------------
    async def _run_feed(self) -> None:
        await self.feed.run(self)

    # --- teams ------------------------------------------------------------------------------------
    def _valid_choice(self, teams: list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
        """``teams`` narrowed to what the token allows, in the allowed order; None (or a choice
        of which nothing is still allowed) = every allowed team."""
        if teams is None:
            return self.allowed
        allowed = self.allowed
        chosen = tuple(t for t in (allowed if allowed is not None else teams) if t in teams
                       and self.identity.may_watch(t))
        if not chosen:
            if teams:
                log.info("remembered teams %s are no longer allowed; watching every allowed team", list(teams))
            return self.allowed
        return chosen

    @property
    def watch_problem(self) -> str | None:
        """Why the roster shows nobody although it is up, said in words (None: nothing wrong)."""
        if self.allowed == ():
            if self.identity.is_supervisor:
                return ("You supervise no team yet (your account has no teams in custom:supervises). "
                        "Ask an administrator to assign your teams.")
            return "Your account has no team (custom:team_id), so there is no roster to show. Ask an administrator."
        shown = self.watched if self.watched is not None else ("*",)
        refused = [t for t in shown if t in self.refused]
        if refused and len(refused) == len(shown):
            return f"Not allowed to watch {', '.join(refused)}: {self.refused[refused[0]]}"
        return None

    def watch(self, teams: list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
        """Watch ``teams`` (None: every allowed team) from now on, over the same connection:
        subscribe the new teams' channels and join them (buffer, snapshot, replay), unsubscribe
        the dropped ones. Teams the token does not allow are left out. Returns the teams watched."""
        self._choice = tuple(teams) if teams is not None else None
        return self._apply_watch()

    def refresh_identity(self, identity: Identity) -> None:
        """The id token was refreshed: when the teams it allows changed (an administrator edited
        ``custom:supervises``), narrow (or widen "all my teams") the subscriptions now."""
        if identity.watched_teams == self.allowed:
            self.identity = identity
            return
        log.warning("teams allowed by the token changed from %s to %s", self.allowed, identity.watched_teams)
        self.identity = identity
        self.allowed = identity.watched_teams
        self._apply_watch()
        self._problem("Your teams have changed: the roster now shows " + (
            "every team" if self.watched is None else (", ".join(self.watched) or "no team")) + ".")

    def _apply_watch(self) -> tuple[str, ...] | None:
        new = self._valid_choice(self._choice)
        if new == self.watched:
            return new
        self.watched = new
        self._emit_roster(self.roster.watch(new))
        for team in list(self.refused):
            if new is not None and team not in new:
                del self.refused[team]
        self._set_feed_channels()
        problem = self.watch_problem
        if problem is not None:
            log.warning("watching %s: %s", new, problem)
            self._set_connection(ConnectionState(up=False, since=self.clock(), reason=problem))
        return new

    def _set_feed_channels(self) -> None:
        from presence_desktop.client.backends import ALL_TEAMS, team_channel

        if self.watched is None:
            channels = [ALL_TEAMS]
        else:
            channels = [team_channel(t) for t in self.watched]
        set_channels = getattr(self.feed, "set_channels", None)
        if set_channels is not None:
            set_channels(channels)

    def _team_of(self, channel: str | None) -> str | None:
        from presence_desktop.client.backends import channel_team

        return channel_team(channel) if channel else None

    # --- feed sink (called by the LiveFeed) -----------------------------------------------------
    def feed_subscribed(self, channel: str | None = None) -> None:
        if channel is None:
            teams: list[str | None] = list(self.watched) if self.watched is not None else [None]
        else:
            teams = [self._team_of(channel)]
        for team in teams:
            self.refused.pop(team or "*", None)
        self._to_join.update(teams)
        self._emit_roster(self.roster.begin_join())
        self._set_connection(ConnectionState(up=True, joining=True))
        self._publish_wake.set()  # a wish made while offline goes out now
        fetching = self._fetching
        if fetching is not None and fetching[0] not in teams and self.tasks.get("snapshot") is not None:
            # Another team's snapshot is on its way: it stays valid (its subscription came first),
            # and the join under way fetches these teams next. Restarting here cancelled it, and
            # after a reconnect every team's resubscription restarted the join once more.
            return
        # Restarted: a snapshot already in flight (or waiting to retry) may predate this subscription.
        self.tasks.spawn(self._fetch_snapshot(), name="snapshot")

    def feed_refused(self, channel: str, reason: str, *, needs_sign_in: bool = False, retrying: bool = True) -> None:
        if needs_sign_in:
            self.feed_down(reason, None, needs_sign_in=True)
            return
        team = self._team_of(channel)
        key = team or "*"
        log.warning("subscription to %s refused: %s", channel, reason)
        if self.refused.get(key) == reason:
            return
        self.refused[key] = reason
        self._problem(f"Not allowed to watch {'every team' if team is None else 'team ' + team}: {reason}. "
                      + ("Its rows are not live; the app tries again." if retrying else "Its rows are not live."))
        if self.watch_problem is not None:
            self._set_connection(ConnectionState(up=False, since=self.clock(), reason=self.watch_problem))

    def feed_event(self, event: PresenceEvent) -> None:
        self._emit_roster(self.roster.on_live(event))
        if self.own.observe(event):
            self._own_changed()

    def feed_lost_events(self) -> None:
        log.warning("live events were lost: fetching the snapshot again")
        self.feed_subscribed(None)

    def feed_quiet(self, since: float | None) -> None:
        current = self.connection
        if current.up and current.quiet_since != since:
            self._set_connection(ConnectionState(up=True, joining=current.joining, quiet_since=since))

    def feed_down(self, reason: str, next_retry_at: float | None, *, needs_sign_in: bool = False,
                  stopped: bool = False) -> None:
        self.tasks.cancel("snapshot")
        self._join_got = RosterSnapshot([])
        self._emit_roster(self.roster.connection_lost())
        since = self.roster.down_since  # the roster runs on the relay's clock; the state is local
        since = None if since is None else since - self.server_clock.offset_s
        self._set_connection(ConnectionState(up=False, since=since, next_retry_at=next_retry_at, reason=reason,
                                             needs_sign_in=needs_sign_in, stopped=stopped))

    async def _fetch_snapshot(self) -> None:
        """Fetch the snapshot of every team waiting for one (teams subscribed meanwhile too),
        then complete the join once."""
        got = self._join_got  # kept across a restart of this task: fetched teams are not fetched again
        attempt = 0
        while self._to_join:
            wanted = next(iter(self._to_join))
            if wanted is not None and self.watched is not None and wanted not in self.watched:
                self._to_join.discard(wanted)  # dropped from the picker meanwhile
                continue
            team = wanted if wanted is not None or self.watched is None else None
            try:
                sent = self.clock()
                self._fetching = (wanted,)
                try:
                    snap = await self.relay.roster(team)
                finally:
                    self._fetching = None
                received = self.clock()
            except RelayCallError as exc:
                if exc.status == 401:
                    # The session is gone (refresh refused): retrying cannot help.
                    self.feed_down(f"sign in again: {exc}", None, needs_sign_in=True)
                    return
                if exc.status == 403:
                    # This team's roster is refused (teams changed since the token was issued):
                    # say so; the others go on.
                    self._to_join.discard(wanted)
                    self.refused[wanted or "*"] = str(exc)
                    self._problem(f"Cannot load team {wanted or 'list'}: {exc}")
                    log.warning("roster of %s refused: %s (%s)", wanted, exc, exc.code)
                    continue
                if not exc.retryable:
                    self._problem(f"Cannot load the roster: {exc}")
                delay = _retry_delay(attempt, exc)
                log.info("roster snapshot failed (%s); retrying in %.1f s", exc, delay)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            self._to_join.discard(wanted)
            got = RosterSnapshot(got.events + snap.events, got.as_of or snap.as_of, {**got.last_seen, **snap.last_seen})
            self._join_got = got
            self._observe_server_time(snap.as_of, sent, received)
        self._join_got = RosterSnapshot([])
        self._emit_roster(self.roster.complete_join(got.events, got.last_seen))
        self._joined_once = True
        changed = False
        for event in got.events:
            changed |= self.own.observe(event)
        own_entry = self.roster.get(self.identity.agent_id)
        if own_entry is not None:
            changed |= self.own.observe(own_entry.event)
        if changed:
            self._own_changed()
        self._set_connection(ConnectionState(up=True, joining=False))

    def _observe_server_time(self, as_of: str | None, sent: float, received: float) -> None:
        if not as_of:
            return
        try:
            offset = self.server_clock.observe(parse_time(as_of).timestamp(), sent, received)
        except PresenceError:
            log.info("the relay's as_of is not a time: %r", as_of)
            return
        if abs(offset) > 5:
            log.info("this computer's clock is %.0f s %s the relay's; times shown follow the relay",
                     abs(offset), "behind" if offset > 0 else "ahead of")

    # --- own status -------------------------------------------------------------------------------
    def request_status(self, status: str, message: str | None = None, source: str = "manual") -> None:
        """Ask for a new own status; shown pending until the relay confirms it. ``source``:
        ``manual`` (the user's pick), ``idle`` or ``system`` (the agent's day, client/agent_day.py)."""
        self.catalogue.get(status)  # raises UnknownStatusError for a bad id
        message = (message or "").strip() or None
        self.own.request(status, message, source)
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
                    event = await self._send_unless_replaced(req)
                except _Replaced:
                    continue  # a newer wish came first: send that one instead
                except RelayCallError as exc:
                    if exc.stored:
                        # The relay's own answer: stored with its version; its outbox publishes
                        # it. The live event confirms it (OwnStatus.observe); sending again would
                        # only add another version. Any other 5xx stored nothing: retried below.
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
                    delay = _retry_delay(attempt, exc)
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

    async def _send_unless_replaced(self, req: PendingChange) -> PresenceEvent:
        """Send ``req``; if a newer wish replaces it while the request is still on its way (a
        token refresh, a queued worker thread, a slow connect), cancel it: the latest wish wins
        without what it replaced being published. Raises :class:`_Replaced` then. A request the
        relay already got cannot be taken back; its answer then counts as usual."""
        if req.source == "manual":
            call = self.relay.set_status(req.status, req.message)
        else:
            call = self.relay.set_status(req.status, req.message, source=req.source)
        sending = asyncio.ensure_future(call)
        self._publish_wake.clear()
        while True:
            waker = asyncio.ensure_future(self._publish_wake.wait())
            try:
                await asyncio.wait({sending, waker}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                sending.cancel()
                raise
            finally:
                waker.cancel()
            if sending.done():
                return sending.result()
            self._publish_wake.clear()
            if self.own.pending is not req:
                sending.cancel()
                try:
                    return await sending  # it may have finished meanwhile: then its answer counts
                except asyncio.CancelledError:
                    raise _Replaced() from None

    async def set_agent_status(self, agent_id: str, status: str) -> PresenceEvent:
        """A supervisor sets another agent's status (``POST /v1/status`` with ``agent_id``).
        Raises :class:`RelayCallError` (403 for a non-supervisor) or ``PermissionError`` locally."""
        if not self.identity.is_supervisor:
            raise PermissionError("only supervisors may set another agent's status")
        entry = self.roster.get(agent_id)
        if entry is not None and not self.identity.may_change(entry.event.team_id):
            raise PermissionError(f"you do not supervise team {entry.event.team_id}")
        self.catalogue.get(status)
        event = await self.relay.set_status(status, None, agent_id=agent_id)
        self._emit_roster(self.roster.apply(event))
        return event

    async def _heartbeats(self) -> None:
        while True:
            if self.identity_source is not None:
                try:
                    self.refresh_identity(self.identity_source())
                except Exception as exc:  # noqa: BLE001 - signed out meanwhile, unreadable token
                    log.info("could not re-read the token's teams: %s", exc)
            try:
                await self.relay.heartbeat()
            except RelayCallError as exc:
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
