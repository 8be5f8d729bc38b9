"""Fakes of the backend ports (relay, live feed) for GUI tests: in memory, versioned like the relay."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from presence_desktop.client.ports import RelayCallError, RosterSnapshot
from presence_desktop.client.sample import sample_events
from presence_desktop.domain.presence import PresenceEvent, format_time


def demo_events(n=40, teams=4, seed=7, catalogue_ids=None, now=None):
    return sample_events(n, teams, seed, catalogue_ids, now)


class FakeRelay:
    """Stores events per agent and assigns versions like the relay. ``down`` makes every call
    fail as a network error; ``reject`` answers 403."""

    def __init__(self, events=(), me="sup-1", team="team-1", display_name=None):
        self.rows = {e.agent_id: e for e in events}
        self.me, self.team = me, team
        self.display_name = display_name or me
        self.down = False
        self.reject = False
        self.calls = []
        self.feed = None  # FakeFeed to publish to
        self.delay = 0.0
        self.closed = False
        self.sources = []  # the ``source`` of each set_status call (None = the relay's default)
        self.server_offset_s = 0.0  # the relay's clock minus this computer's

    def _check(self):
        if self.down:
            raise RelayCallError(0, "network", "relay unreachable")
        if self.reject:
            raise RelayCallError(403, "forbidden", "not allowed")

    async def set_status(self, status, message=None, agent_id=None, source=None):
        self.calls.append(("set_status", status, message, agent_id))
        self.sources.append(source)
        if self.delay:
            await asyncio.sleep(self.delay)
        self._check()
        target = agent_id or self.me
        old = self.rows.get(target)
        now = self.now_iso()
        ev = PresenceEvent(
            agent_id=target, team_id=old.team_id if old else self.team,
            display_name=old.display_name if old else self.display_name, status=status,
            version=(old.version if old else 0) + 1, changed_at=now, message=message,
            source="supervisor" if agent_id else (source or "manual"), changed_by=self.me,
            status_since=old.status_since_at if old is not None and old.status == status else now)
        self.rows[target] = ev
        if self.feed is not None:
            self.feed.publish(ev)
        return ev

    async def heartbeat(self):
        self.calls.append(("heartbeat",))
        self._check()

    async def roster(self, team=None):
        self.calls.append(("roster", team))
        self._check()
        return RosterSnapshot([e for e in self.rows.values() if team is None or e.team_id == team], as_of=self.now_iso())

    def now_iso(self) -> str:
        """The relay's clock (this computer's plus ``server_offset_s``), as the relay writes it."""
        return format_time(datetime.fromtimestamp(time.time() + self.server_offset_s, UTC))

    floors_by_team: dict = {}

    async def floors(self, team):
        self.calls.append(("floors", team))
        self._check()
        return {"team_id": team, "floors": list(self.floors_by_team.get(team, [])), "updated_by": None, "updated_at": None}

    async def set_floors(self, team, floors):
        self.calls.append(("set_floors", team))
        self._check()
        self.floors_by_team = {**self.floors_by_team, team: list(floors)}
        return {"team_id": team, "floors": list(floors), "updated_by": self.me, "updated_at": self.now_iso()}

    async def history_day(self, *, day, agent=None, team=None, tz=None, max_entries=20_000):
        """Every version this fake stored that day, as the relay's history entries (no previous)."""
        from presence_desktop.domain.history import entry_dict

        self.calls.append(("history", agent or team))
        self._check()
        entries = [entry_dict(e, None) for e in self.history if (agent is None or e.agent_id == agent)
                   and (team is None or e.team_id == team)]
        return {"entries": entries, "gaps": [], "cursor": None, "day": day, "tz": tz or "UTC"}

    @property
    def history(self):
        return list(self.rows.values())

    async def close(self):
        self.closed = True


class FakeFeed:
    """A live feed driven by the test: ``publish(event)``, ``go_down()``, ``come_back()``."""

    def __init__(self):
        self.sink = None
        self.up = asyncio.Event()
        self.closed_with = None
        self.reconnects = []  # reasons given to reconnect_now
        self.channels = []
        self.channel_history = []
        self.refuse = set()

    def set_channels(self, channels):
        """As EventsLiveFeed: new channels are subscribed (confirmed at once, or refused),
        dropped ones unsubscribed."""
        new = [c for c in channels if c not in self.channels]
        self.channels = list(channels)
        self.channel_history.append(list(channels))
        if self.sink is not None and self.up.is_set():
            for channel in new:
                if channel in self.refuse:
                    self.sink.feed_refused(channel, "subscription refused: Unauthorized")
                else:
                    self.sink.feed_subscribed(channel)

    async def run(self, sink):
        self.sink = sink
        self.come_back()
        await asyncio.Event().wait()

    def publish(self, event):
        if self.sink is not None and self.up.is_set():
            self.sink.feed_event(event)

    def go_down(self, retry_in=5.0):
        self.up.clear()
        self.sink.feed_down("connection closed (1006)", time.time() + retry_in)

    def come_back(self):
        self.up.set()
        refused = [c for c in self.channels if c in self.refuse]
        for channel in refused:
            self.sink.feed_refused(channel, "subscription refused: Unauthorized")
        if not refused:
            self.sink.feed_subscribed()
        for channel in self.channels:
            if refused and channel not in self.refuse:
                self.sink.feed_subscribed(channel)

    def reconnect_now(self, reason):
        """Like EventsLiveFeed over a real client: the socket drops, a new one resubscribes."""
        self.reconnects.append(reason)
        if self.sink is not None:
            self.go_down(retry_in=0.0)
            self.come_back()

    async def close(self):
        self.closed_with = 1000
