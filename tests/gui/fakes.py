"""Fakes of the backend ports (relay, live feed) for GUI tests: in memory, versioned like the relay."""

from __future__ import annotations

import asyncio
import time

from presence_desktop.client.ports import RelayError, RosterSnapshot
from presence_desktop.client.sample import sample_events
from presence_desktop.domain.presence import PresenceEvent, utc_now_iso


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

    def _check(self):
        if self.down:
            raise RelayError(0, "network", "relay unreachable")
        if self.reject:
            raise RelayError(403, "forbidden", "not allowed")

    async def set_status(self, status, message=None, agent_id=None):
        self.calls.append(("set_status", status, message, agent_id))
        if self.delay:
            await asyncio.sleep(self.delay)
        self._check()
        target = agent_id or self.me
        old = self.rows.get(target)
        ev = PresenceEvent(
            agent_id=target, team_id=old.team_id if old else self.team,
            display_name=old.display_name if old else self.display_name, status=status,
            version=(old.version if old else 0) + 1, changed_at=utc_now_iso(), message=message,
            source="supervisor" if agent_id else "manual", changed_by=self.me)
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
        return RosterSnapshot([e for e in self.rows.values() if team is None or e.team_id == team], as_of=utc_now_iso())

    async def close(self):
        self.closed = True


class FakeFeed:
    """A live feed driven by the test: ``publish(event)``, ``go_down()``, ``come_back()``."""

    def __init__(self):
        self.sink = None
        self.up = asyncio.Event()
        self.closed_with = None

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
        self.sink.feed_subscribed()

    async def close(self):
        self.closed_with = 1000
