"""Roster state: every agent's last known status, merged by per-agent version. No Qt, no I/O.

Rules (docs/architecture.md, "Channels and the event payload"):

- An event is applied only if its ``version`` is newer than the one held for that agent, so
  duplicates and out-of-order deliveries are harmless and the snapshot merge needs nothing else.
- Join order on every (re)connect: subscribe, buffer live events, fetch the snapshot, apply it,
  then replay the buffer through the same version check (:meth:`Roster.begin_join`,
  :meth:`Roster.on_live`, :meth:`Roster.complete_join`).
- While this app's own connection is down every row *displays* Unknown (``statuses.UNKNOWN``);
  the last known status is kept and shown again once the connection is back.
- An agent whose heartbeat is overdue (``stale_after_s`` since it was last heard of) also displays
  Unknown, marked stale. Offline agents are never stale: offline already says "not here".

Times are seconds since the epoch (``float``) from an injectable ``clock`` so tests never sleep.
Mutating methods return a :class:`Change` (rows added, rows updated, or everything) that a view
model turns into one batched repaint.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from presence_desktop.domain.presence import PresenceEvent, parse_time
from presence_desktop.domain.statuses import OFFLINE_ID, UNKNOWN, Status, StatusCatalogue

Clock = Callable[[], float]

@functools.lru_cache(maxsize=1 << 14)
def _epoch(changed_at: str) -> float:
    """``changed_at`` (validated ISO 8601) as epoch seconds; cached: the table asks every second
    for every visible row."""
    return parse_time(changed_at).timestamp()


BUDGET_WARN_FRACTION = 0.8
"""A status with a time budget turns amber at 80 % of it and red at 100 %."""


@dataclass(slots=True)
class Change:
    """What a mutation changed: ``added`` agent ids (new rows, in row order), ``updated`` ids
    (existing rows whose data changed) and ``everything`` (every row's display changed, e.g. the
    connection went down)."""

    added: list[str] = field(default_factory=list)
    updated: set[str] = field(default_factory=set)
    everything: bool = False
    # ``added`` as a set: merging stays O(size of the merged change), not O(rows added so far)
    # (a 50,000-agent snapshot merges one event at a time).
    _added_set: set[str] = field(default_factory=set, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._added_set = set(self.added)

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.everything)

    def merge(self, other: Change) -> Change:
        seen = self._added_set
        for agent_id in other.added:
            if agent_id not in seen:
                seen.add(agent_id)
                self.added.append(agent_id)
                self.updated.discard(agent_id)
        if other.updated:
            self.updated |= other.updated - seen if seen else other.updated
        self.everything = self.everything or other.everything
        return self


@dataclass(slots=True)
class RosterEntry:
    """One agent: the newest event held and when this app last heard of the agent (epoch s)."""

    event: PresenceEvent
    heard_at: float

    @property
    def agent_id(self) -> str:
        return self.event.agent_id


@dataclass(frozen=True, slots=True)
class RosterFilter:
    """Which rows to show: ``teams``/``statuses`` None = all; ``text`` matches the display name
    or agent id, case-insensitively. ``statuses`` compares with the *displayed* status id (so
    ``{"unknown"}`` finds stale rows)."""

    teams: frozenset[str] | None = None
    statuses: frozenset[str] | None = None
    text: str = ""

    def matches(self, roster: Roster, agent_id: str, now: float | None = None) -> bool:
        entry = roster.get(agent_id)
        if entry is None:
            return False
        if roster.teams is not None and entry.event.team_id not in roster.teams:
            return False  # a team no longer watched: its rows stay (rows are never removed), hidden
        if self.teams is not None and entry.event.team_id not in self.teams:
            return False
        if self.statuses is not None and roster.display_status(agent_id, now).id not in self.statuses:
            return False
        needle = self.text.strip().casefold()
        return not needle or needle in entry.event.display_name.casefold() or needle in agent_id.casefold()


@dataclass(frozen=True, slots=True)
class Counts:
    """Headline counts: ``by_status`` (displayed status id -> agents) over ``total`` agents."""

    by_status: dict[str, int]
    total: int

    def get(self, status_id: str) -> int:
        return self.by_status.get(status_id, 0)

    def headline(self, status: Status) -> str:
        """``"Available 3 / 12"``."""
        return f"{status.label} {self.get(status.id)} / {self.total}"


class Roster:
    """Agents' presence, merged by version, with the join protocol and connection state.

    ``teams``: when given, events of other teams are ignored (an agent sees only their team);
    :meth:`watch` changes it (a supervisor's team picker): rows of a team no longer watched stay
    but are out of view (:meth:`in_view`, every :class:`RosterFilter`, the counts).
    ``stale_after_s``: None disables client-side staleness (the relay already sets offline on
    heartbeat expiry); otherwise an agent not heard of for that long displays Unknown.
    """

    def __init__(
        self,
        catalogue: StatusCatalogue,
        *,
        clock: Clock = time.time,
        stale_after_s: float | None = None,
        teams: Iterable[str] | None = None,
    ) -> None:
        if stale_after_s is not None and stale_after_s <= 0:
            raise ValueError("stale_after_s must be positive (or None to disable)")
        self.catalogue = catalogue
        self.clock = clock
        self.stale_after_s = stale_after_s
        self.teams = frozenset(teams) if teams is not None else None
        self._entries: dict[str, RosterEntry] = {}
        self._order: list[str] = []
        self._row: dict[str, int] = {}  # agent id -> row (rows are only ever appended)
        self._by_status: dict[str, int] = {}  # stored status id -> rows, kept by apply()
        self._joining = False
        self._buffer: list[tuple[PresenceEvent, float]] = []
        self.connected = False
        self.down_since: float | None = None
        self.ignored = 0  # events refused by the version check (duplicates, stale, other teams)

    # --- reading ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._entries

    def agent_ids(self) -> list[str]:
        """Agent ids in row order (first seen first); rows are never removed."""
        return list(self._order)

    def agents_by_team(self, agent_ids: Iterable[str] | None = None) -> dict[str, list[str]]:
        """Team id -> its agent ids among ``agent_ids`` (default: every row), in the given order."""
        by_team: dict[str, list[str]] = {}
        for agent_id in self._order if agent_ids is None else agent_ids:
            entry = self._entries.get(agent_id)
            if entry is not None:
                by_team.setdefault(entry.event.team_id, []).append(agent_id)
        return by_team

    def agent_at(self, row: int) -> str:
        return self._order[row]

    def row_of(self, agent_id: str) -> int:
        """The agent's row; raises ``ValueError`` for an unknown agent (as ``list.index``)."""
        try:
            return self._row[agent_id]
        except KeyError:
            raise ValueError(f"{agent_id!r} is not in the roster") from None

    def get(self, agent_id: str) -> RosterEntry | None:
        return self._entries.get(agent_id)

    def version_of(self, agent_id: str) -> int:
        entry = self._entries.get(agent_id)
        return entry.event.version if entry else 0

    @property
    def joining(self) -> bool:
        return self._joining

    def team_ids(self) -> list[str]:
        """The teams of the rows in view, sorted."""
        teams = {e.event.team_id for e in self._entries.values()}
        return sorted(teams if self.teams is None else teams & self.teams)

    def in_view(self, agent_id: str) -> bool:
        entry = self._entries.get(agent_id)
        return entry is not None and (self.teams is None or entry.event.team_id in self.teams)

    def watch(self, teams: Iterable[str] | None) -> Change:
        """Watch ``teams`` from now on (None: every team). Events of other teams are ignored;
        rows of teams left are kept out of view. Returns a change of everything."""
        new = frozenset(teams) if teams is not None else None
        if new == self.teams:
            return Change()
        self.teams = new
        return Change(everything=True)

    def is_stale(self, agent_id: str, now: float | None = None) -> bool:
        """Heartbeat overdue: not heard of for ``stale_after_s`` and not offline."""
        entry = self._entries.get(agent_id)
        if entry is None or self.stale_after_s is None or entry.event.status == OFFLINE_ID:
            return False
        now = self.clock() if now is None else now
        return now - entry.heard_at > self.stale_after_s

    def display_status(self, agent_id: str, now: float | None = None) -> Status:
        """The status to draw: Unknown while the connection is down or the row is stale,
        Unknown for ids the catalogue does not define, else the catalogue's status."""
        entry = self._entries.get(agent_id)
        if entry is None or not self.connected or self.is_stale(agent_id, now):
            return UNKNOWN
        return self.catalogue.display(entry.event.status)

    def last_known_status(self, agent_id: str) -> Status:
        """The status last received (what a tooltip shows under Unknown)."""
        entry = self._entries.get(agent_id)
        return self.catalogue.display(entry.event.status if entry else None)

    def time_in_status(self, agent_id: str, now: float | None = None) -> float:
        """Seconds since the agent's current *status* began (server time ``status_since``, or
        ``changed_at`` from a relay that does not send it): a message edit keeps it. Never
        negative. ``clock`` should be the server's (:class:`~presence_desktop.domain.times.ServerClock`)."""
        entry = self._entries.get(agent_id)
        if entry is None:
            return 0.0
        now = self.clock() if now is None else now
        return max(0.0, now - _epoch(entry.event.status_since_at))

    def status_since(self, agent_id: str) -> float | None:
        """Epoch s (server time) when the agent's current status began, or None."""
        entry = self._entries.get(agent_id)
        return None if entry is None else _epoch(entry.event.status_since_at)

    def budget_overrun(self, agent_id: str, now: float | None = None) -> float | None:
        """Seconds past the displayed status's time budget, or None when within it (or it has
        none). Pairs with :func:`~presence_desktop.domain.times.format_over` for the text."""
        status = self.display_status(agent_id, now)
        if status.budget_s is None:
            return None
        over = self.time_in_status(agent_id, now) - status.budget_s
        return over if over >= 0 else None

    def since_heard(self, agent_id: str, now: float | None = None) -> float:
        entry = self._entries.get(agent_id)
        if entry is None:
            return 0.0
        now = self.clock() if now is None else now
        return max(0.0, now - entry.heard_at)

    def budget_level(self, agent_id: str, now: float | None = None) -> Literal["ok", "warn", "over"]:
        """Against the status's time budget: ``warn`` from 80 %, ``over`` from 100 %."""
        status = self.display_status(agent_id, now)
        if status.budget_s is None:
            return "ok"
        spent = self.time_in_status(agent_id, now)
        if spent >= status.budget_s:
            return "over"
        if spent >= BUDGET_WARN_FRACTION * status.budget_s:
            return "warn"
        return "ok"

    def counts(self, agent_ids: Iterable[str] | None = None, now: float | None = None) -> Counts:
        """Displayed-status counts over ``agent_ids`` (default: all rows in view)."""
        if agent_ids is None and self.teams is not None:
            agent_ids = [a for a in self._order if self._entries[a].event.team_id in self.teams]
        ids = self._order if agent_ids is None else list(agent_ids)
        if not self.connected or self.stale_after_s is None:
            # No time-dependent state: count the stored status ids, then map each id once
            # (the window recounts after every batch, and walking every row each time held the
            # GUI thread in a burst; the whole roster's tally is kept by apply()).
            if not self.connected:
                return Counts({UNKNOWN.id: len(ids)} if ids else {}, len(ids))
            raw: dict[str | None, int]
            if agent_ids is None:
                raw = {sid: n for sid, n in self._by_status.items()}  # a copy with keys widened to str | None
            else:
                raw = {}
                entries = self._entries
                for agent_id in ids:
                    entry = entries.get(agent_id)
                    sid = entry.event.status if entry is not None else None
                    raw[sid] = raw.get(sid, 0) + 1
            shown: dict[str, int] = {}
            for sid, n in raw.items():
                key = UNKNOWN.id if sid is None else self.catalogue.display(sid).id
                shown[key] = shown.get(key, 0) + n
            return Counts(shown, len(ids))
        now = self.clock() if now is None else now
        by_status: dict[str, int] = {}
        for agent_id in ids:
            sid = self.display_status(agent_id, now).id
            by_status[sid] = by_status.get(sid, 0) + 1
        return Counts(by_status, len(ids))

    def visible(self, flt: RosterFilter, now: float | None = None) -> list[str]:
        now = self.clock() if now is None else now
        return [a for a in self._order if flt.matches(self, a, now)]

    # --- merging ----------------------------------------------------------------------------
    def apply(self, event: PresenceEvent, heard_at: float | None = None) -> Change:
        """Apply one event if its version is newer than the one held; else change nothing.

        ``heard_at`` (epoch s) defaults to now; it feeds "last heard" and staleness.
        """
        heard = self.clock() if heard_at is None else heard_at
        change = Change()
        if self.teams is not None and event.team_id not in self.teams:
            self.ignored += 1
            return change
        entry = self._entries.get(event.agent_id)
        by_status = self._by_status
        if entry is None:
            self._entries[event.agent_id] = RosterEntry(event, heard)
            self._row[event.agent_id] = len(self._order)
            self._order.append(event.agent_id)
            by_status[event.status] = by_status.get(event.status, 0) + 1
            change.added.append(event.agent_id)
        elif event.version > entry.event.version:
            old = entry.event.status
            if old != event.status:
                if by_status[old] == 1:
                    del by_status[old]
                else:
                    by_status[old] -= 1
                by_status[event.status] = by_status.get(event.status, 0) + 1
            entry.event = event
            entry.heard_at = max(entry.heard_at, heard)
            change.updated.add(event.agent_id)
        else:
            # An old or duplicate event still proves the agent was alive when it was sent.
            self.ignored += 1
        return change

    def mark_heard(self, agent_id: str, at: float | None = None) -> Change:
        """Record a sign of life without a status change (e.g. a heartbeat time from the relay)."""
        entry = self._entries.get(agent_id)
        if entry is None:
            return Change()
        at = self.clock() if at is None else at
        if at <= entry.heard_at:
            return Change()
        entry.heard_at = at
        return Change(updated={agent_id})

    # --- the join protocol and the connection ---------------------------------------------------
    def begin_join(self) -> Change:
        """Subscribed (or resubscribed): from now on live events are buffered until the snapshot
        is applied. The connection counts as up again, so rows show last known statuses.
        A join already under way keeps its buffer (another team's subscription joined it)."""
        if not self._joining:
            self._buffer.clear()
        self._joining = True
        return self._set_connected(True)

    def on_live(self, event: PresenceEvent, heard_at: float | None = None) -> Change:
        """A live event: buffered during a join, applied otherwise."""
        heard = self.clock() if heard_at is None else heard_at
        if self._joining:
            self._buffer.append((event, heard))
            return Change()
        return self.apply(event, heard)

    def complete_join(
        self,
        snapshot: Iterable[PresenceEvent],
        last_seen: dict[str, float] | None = None,
        heard_at: float | None = None,
    ) -> Change:
        """Apply the snapshot, then replay the buffered live events through the same check.

        ``last_seen`` maps agent id -> epoch s of the agent's last heartbeat, when the relay
        reports it; otherwise a snapshot row counts as heard now (the relay vouches for it).
        """
        heard = self.clock() if heard_at is None else heard_at
        change = Change()
        for event in snapshot:
            seen = (last_seen or {}).get(event.agent_id, heard)
            change.merge(self.apply(event, seen))
            if last_seen and event.agent_id in last_seen:
                change.merge(self.mark_heard(event.agent_id, last_seen[event.agent_id]))
        buffered, self._buffer = self._buffer, []
        self._joining = False
        for event, at in buffered:
            change.merge(self.apply(event, at))
        return change

    def connection_lost(self, at: float | None = None) -> Change:
        """This app's own connection is down: every row displays Unknown; nothing is forgotten.

        Events buffered by an unfinished join are applied (the version check keeps them safe).
        """
        buffered, self._buffer = self._buffer, []
        self._joining = False
        change = Change()
        for event, heard in buffered:
            change.merge(self.apply(event, heard))
        if self.connected or self.down_since is None:
            self.down_since = self.clock() if at is None else at
        change.merge(self._set_connected(False))
        return change

    def _set_connected(self, connected: bool) -> Change:
        if connected == self.connected:
            return Change()
        self.connected = connected
        if connected:
            self.down_since = None
        return Change(everything=True)


# --- the own status: a change is pending until the relay confirms it -----------------------------


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A status change asked for by this user and not yet confirmed by the relay."""

    status: str
    message: str | None
    requested_at: float
    attempts: int = 0
    last_error: str | None = None
    source: str = "manual"  # "idle" / "system" when the app asked by itself (client/agent_day.py)


class OwnStatus:
    """This user's own status as the window shows it.

    - :meth:`request` records a wish; it stays *pending* (shown as such) until the relay's reply
      (:meth:`confirmed`) or a live event carrying it arrives. A newer request replaces an older
      pending one (the latest wish wins locally).
    - While offline the pending change is retried (the caller decides when; :meth:`failed`
      counts attempts and keeps the error for display).
    - The server's order wins: a live event for this agent, newer than what is held and set by a
      supervisor *after* the request, drops the pending change. A ``system`` change (offline on
      heartbeat expiry, typically while this app was cut off) does not: the user's wish is
      replayed on reconnect.
    """

    def __init__(self, agent_id: str, clock: Clock = time.time) -> None:
        self.agent_id = agent_id
        self.clock = clock
        self.current: PresenceEvent | None = None
        self.pending: PendingChange | None = None
        # A change someone else made to this user's status, seen live after the first known
        # status, not yet told to the user (see take_outside_change).
        self.outside_change: PresenceEvent | None = None

    @property
    def status_id(self) -> str | None:
        """What the picker shows: the pending wish, else the confirmed status."""
        if self.pending is not None:
            return self.pending.status
        return self.current.status if self.current else None

    @property
    def message(self) -> str | None:
        if self.pending is not None:
            return self.pending.message
        return self.current.message if self.current else None

    @property
    def is_pending(self) -> bool:
        return self.pending is not None

    def message_for(self, status: str, typed: str | None) -> str | None:
        """The message to send with a request for ``status``. A message belongs to the status it
        was set with: ``typed`` (text the user entered for this request; "" clears) wins;
        nothing typed (None) keeps the current message only when the status stays the same, so
        "Available" chosen after "Lunch - back at 2" goes out without the lunch note. Window
        and tray both ask here."""
        if typed is not None:
            return typed.strip() or None
        return self.message if status == self.status_id else None

    def take_outside_change(self) -> PresenceEvent | None:
        """The latest change a supervisor made to this user's status since the last call (None
        when there is none): the app tells the agent who changed it. The first status known in a
        session is never one: it is where the user starts, not news."""
        event, self.outside_change = self.outside_change, None
        return event

    def request(self, status: str, message: str | None = None, source: str = "manual") -> PendingChange:
        self.pending = PendingChange(status, message, self.clock(), source=source)
        return self.pending

    def failed(self, error: str) -> PendingChange | None:
        if self.pending is None:
            return None
        p = self.pending
        self.pending = PendingChange(p.status, p.message, p.requested_at, p.attempts + 1, error, p.source)
        return self.pending

    def confirmed(self, event: PresenceEvent, request: PendingChange | None = None) -> None:
        """The relay stored ``event`` in answer to ``request``. The pending change is cleared
        only if it is still that request (a newer wish stays pending)."""
        self.observe(event)
        if (request is not None and self.pending is not None and self.pending.requested_at == request.requested_at
                and self.pending.status == request.status and self.pending.message == request.message):
            self.pending = None

    def observe(self, event: PresenceEvent) -> bool:
        """A presence event (live, snapshot or relay reply). Returns True when it is about this
        agent and newer than what is held."""
        if event.agent_id != self.agent_id:
            return False
        if self.current is not None and event.version <= self.current.version:
            return False
        if (self.current is not None and event.source == "supervisor" and event.changed_by != self.agent_id
                and (event.status != self.current.status or event.message != self.current.message)):
            self.outside_change = event
        self.current = event
        if self.pending is not None:
            if event.status == self.pending.status and event.message == self.pending.message:
                self.pending = None
            elif event.source == "supervisor" and event.changed_at_dt.timestamp() >= self.pending.requested_at:
                self.pending = None  # someone decided after our wish: the server's order wins
        return True
