"""The Qt-free core against fake backends (runs on qasync's loop like the app)."""

import asyncio
import time

import pytest

from presence_desktop.client.service import PresenceService
from presence_desktop.domain.identity import Identity
from presence_desktop.domain.presence import utc_now_iso
from presence_desktop.resources import default_catalogue
from tests.gui.fakes import FakeFeed, FakeRelay, demo_events

ME = Identity(username="agent-1", sub="s-1", groups=("support_agents",), team_id="team-1")
SUP = Identity(username="sup-1", sub="s-0", groups=("supervisors",), team_id="team-1")


class Recorder:
    def __init__(self):
        self.changes, self.states, self.own, self.problems = [], [], 0, []

    def roster_changed(self, c):
        self.changes.append(c)

    def connection_changed(self, s):
        self.states.append(s)

    def own_status_changed(self):
        self.own += 1

    def problem(self, t):
        self.problems.append(t)


async def until(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def make(identity=ME, events=None):
    relay = FakeRelay(events if events is not None else demo_events(40), me=identity.username, team=identity.team_id)
    feed = FakeFeed()
    relay.feed = feed
    svc = PresenceService(identity, default_catalogue(), relay, feed, heartbeat_s=0.05)
    rec = Recorder()
    svc.listener = rec
    return svc, relay, feed, rec


async def test_join_fills_from_snapshot_for_own_team_only():
    svc, relay, feed, rec = make()
    svc.start()
    await until(lambda: rec.states and rec.states[-1].up and not rec.states[-1].joining)
    assert len(svc.roster) == 10  # team-1 of 40 agents in 4 teams
    assert ("roster", "team-1") in relay.calls
    await until(lambda: any(c[0] == "heartbeat" for c in relay.calls))
    await svc.shutdown()


async def test_live_event_during_join_is_buffered_then_wins_over_older_snapshot():
    svc, relay, feed, rec = make(SUP)
    relay.delay = 0
    gate = asyncio.Event()
    real_roster = relay.roster

    async def slow_roster(team=None):
        snap = await real_roster(team)
        await gate.wait()
        return snap

    relay.roster = slow_roster
    svc.start()
    await until(lambda: feed.sink is not None and svc.roster.joining)
    old = relay.rows["agent-5"]
    newer = old.with_(version=old.version + 1, status="lunch", changed_at=utc_now_iso())
    feed.publish(newer)
    assert svc.roster.get("agent-5") is None  # buffered, not applied before the snapshot
    gate.set()
    await until(lambda: not svc.roster.joining)
    assert svc.roster.get("agent-5").event.status == "lunch"
    await svc.shutdown()


async def test_own_status_pending_until_relay_confirms_and_retried_while_offline():
    svc, relay, feed, rec = make()
    svc.start()
    await until(lambda: not svc.roster.joining and svc.connection.up)
    relay.down = True
    feed.go_down()
    assert svc.roster.display_status("agent-2").id == "unknown"
    svc.request_status("break", "back at 3")
    assert svc.own.is_pending and svc.own.status_id == "break"
    await until(lambda: svc.own.pending is not None and svc.own.pending.attempts >= 1)
    assert svc.own.is_pending
    relay.down = False
    feed.come_back()  # reconnect wakes the publisher at once
    await until(lambda: not svc.own.is_pending, timeout=10)
    assert svc.own.current.status == "break" and svc.own.current.message == "back at 3"
    assert svc.roster.get("agent-1").event.status == "break"
    assert svc.roster.display_status("agent-1").id == "break"
    await svc.shutdown()


async def test_rejected_status_change_is_dropped_with_plain_words():
    svc, relay, feed, rec = make()
    svc.start()
    await until(lambda: svc.connection.up)
    relay.reject = True
    svc.request_status("lunch")
    await until(lambda: not svc.own.is_pending)
    assert rec.problems and "not allowed" in rec.problems[-1]


async def test_supervisor_sets_agent_status_agent_may_not():
    svc, relay, feed, rec = make(SUP)
    svc.start()
    await until(lambda: svc.connection.up and not svc.roster.joining)
    ev = await svc.set_agent_status("agent-7", "training")
    assert ev.source == "supervisor" and svc.roster.get("agent-7").event.status == "training"
    await svc.shutdown()
    svc2, *_ = make(ME)
    with pytest.raises(PermissionError):
        await svc2.set_agent_status("agent-7", "training")


async def test_shutdown_publishes_offline_closes_feed_and_is_bounded_when_relay_hangs():
    svc, relay, feed, rec = make()
    svc.start()
    await until(lambda: svc.connection.up)
    await svc.shutdown()
    assert relay.calls[-1][0:2] == ("set_status", "offline") or ("set_status", "offline", None, None) in relay.calls
    assert feed.closed_with == 1000 and relay.closed
    assert svc.tasks.running == 0
    # A hanging relay does not hold the exit.
    svc, relay, feed, rec = make()
    svc.start()
    await until(lambda: svc.connection.up)
    relay.delay = 60
    t = time.monotonic()
    await svc.shutdown(offline_timeout=0.3)
    assert time.monotonic() - t < 1.5
    assert feed.closed_with == 1000


async def test_roster_changes_are_announced_once_per_loop_turn_through_the_bridge():
    """A burst drained in one loop turn is one ``rosterChanged`` signal (not one per event),
    carrying every agent; nothing is lost and the version check still decides."""
    from presence_desktop.ui.bridge import QtBridge

    svc, relay, feed, rec = make(SUP)
    svc.start()
    await until(lambda: svc.connection.up and not svc.roster.joining)
    bridge = QtBridge()
    got = []
    bridge.rosterChanged.connect(got.append)
    svc.listener = bridge
    base = {a: relay.rows[a] for a in ("agent-3", "agent-4", "agent-5")}
    for ev in base.values():
        for bump in (1, 2, 3):
            feed.publish(ev.with_(version=ev.version + bump, status="lunch", changed_at=utc_now_iso()))
    feed.publish(base["agent-3"].with_(version=base["agent-3"].version + 1, status="break"))  # older: dropped
    assert got == []  # announced at the end of the turn, not per event
    await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    assert len(got) == 1
    assert got[0].updated == set(base)
    for agent, ev in base.items():
        assert svc.roster.version_of(agent) == ev.version + 3
        assert svc.roster.get(agent).event.status == "lunch"
    await svc.shutdown()


async def test_pending_roster_change_is_announced_before_a_connection_change():
    svc, relay, feed, rec = make(SUP)
    svc.start()
    await until(lambda: svc.connection.up and not svc.roster.joining)
    order = []
    rec.roster_changed = lambda c: order.append(("roster", c))
    rec.connection_changed = lambda s: order.append(("connection", s))
    ev = relay.rows["agent-6"]
    feed.publish(ev.with_(version=ev.version + 1, status="lunch", changed_at=utc_now_iso()))
    feed.go_down()
    await asyncio.sleep(0.05)
    kinds = [k for k, _ in order]
    assert kinds[:2] == ["roster", "connection"]
    assert "agent-6" in order[0][1].updated and order[0][1].everything  # the event and the Unknown repaint, merged
    assert not order[1][1].up
    await svc.shutdown()


async def test_quitting_without_ever_having_a_status_publishes_nothing():
    """A supervisor who never set a status must not appear as "sup-1, Offline" after quitting
    (nor grow the counts by one): offline on the way out only for a user who was present."""
    svc, relay, feed, rec = make(identity=SUP)
    svc.start()
    await until(lambda: svc.connection.up and not svc.connection.joining)
    assert svc.roster.get("sup-1") is None and svc.own.status_id is None
    await svc.shutdown()
    assert not [c for c in relay.calls if c[0] == "set_status"]
    assert "sup-1" not in relay.rows
    assert feed.closed_with == 1000


async def test_quitting_after_setting_a_status_publishes_offline():
    svc, relay, feed, rec = make(identity=SUP)
    svc.start()
    await until(lambda: svc.connection.up and not svc.connection.joining)
    svc.request_status("available")
    await until(lambda: not svc.own.is_pending)
    await svc.shutdown()
    assert relay.rows["sup-1"].status == "offline"
