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
SUP = Identity(username="sup-1", sub="s-0", groups=("supervisors",), team_id="team-1",
               supervised_teams=("team-1", "team-2", "team-3", "team-4"))


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


async def test_a_refused_session_reaches_the_connection_state_as_a_typed_fact():
    """A 401 on the roster snapshot (the relay refused the session after a refresh) is carried as
    ``needs_sign_in``, not as words for the UI to search; a network failure is not."""
    from presence_desktop.client.ports import RelayCallError

    svc, relay, feed, rec = make()

    async def refused(team=None):
        raise RelayCallError(401, "invalid_token", "the relay refused the session")

    relay.roster = refused
    svc.start()
    await until(lambda: rec.states and not rec.states[-1].up and rec.states[-1].needs_sign_in)
    assert svc.connection.next_retry_at is None
    svc.feed_down("connection closed (1006)", time.time() + 3)
    assert not svc.connection.needs_sign_in


async def test_a_supervisor_subscribes_and_joins_per_team_and_changes_teams_without_reconnecting():
    sup = Identity("sup-1", "s-0", ("supervisors",), "team-1", supervised_teams=("team-2", "team-3"))
    svc, relay, feed, rec = make(sup)
    svc.start()
    await until(lambda: rec.states and rec.states[-1].up and not rec.states[-1].joining)
    assert feed.channels == ["/agent-presence/team-2/*", "/agent-presence/team-3/*"]  # never the wildcard
    assert sorted(c for c in relay.calls if c[0] == "roster") == [("roster", "team-2"), ("roster", "team-3")]
    assert {svc.roster.get(a).event.team_id for a in svc.roster.agent_ids()} == {"team-2", "team-3"}
    relay.calls.clear()
    assert svc.watch(["team-3", "team-4"]) == ("team-3",)  # team-4 is not the token's: left out
    assert feed.channels == ["/agent-presence/team-3/*"]
    assert not any(c[0] == "roster" for c in relay.calls)  # nothing new to join
    assert svc.roster.team_ids() == ["team-3"] and svc.roster.counts().total == 10  # team-2 out of view
    feed.publish(demo_events(40)[1].with_(version=99))  # an agent of team-2 (dropped): ignored
    assert svc.roster.counts().total == 10
    svc.watch(None)  # "all my teams"
    await until(lambda: ("roster", "team-2") in relay.calls and not svc.roster.joining)
    assert feed.channels == ["/agent-presence/team-2/*", "/agent-presence/team-3/*"]
    assert svc.roster.counts().total == 20
    await svc.shutdown()


async def test_a_supervisor_without_teams_is_told_so():
    svc, relay, feed, rec = make(Identity("sup-9", "s-9", ("supervisors",), "team-1"))
    svc.start()
    await asyncio.sleep(0.05)
    assert feed.channels == [] and not any(c[0] == "roster" and c[1] is None for c in relay.calls)
    assert "supervise no team" in svc.watch_problem
    await svc.shutdown()


async def test_a_refused_subscription_is_said_not_shown_as_an_empty_roster():
    sup = Identity("sup-1", "s-0", ("supervisors",), "team-1", supervised_teams=("team-2", "team-3"))
    svc, relay, feed, rec = make(sup)
    feed.refuse = {"/agent-presence/team-3/*"}
    svc.start()
    await until(lambda: rec.states and rec.states[-1].up and not rec.states[-1].joining)
    assert "Not allowed to watch team team-3" in rec.problems[-1]  # said at once, team-2 goes on
    assert svc.watch_problem is None and svc.roster.team_ids() == ["team-2"]
    svc.watch(["team-3"])
    assert svc.watch_problem and "team-3" in svc.watch_problem
    assert not rec.states[-1].up and "team-3" in rec.states[-1].reason  # the banner says it, not a healthy empty table
    await svc.shutdown()


async def test_remembered_teams_no_longer_allowed_fall_back_to_every_allowed_team():
    sup = Identity("sup-1", "s-0", ("supervisors",), "team-1", supervised_teams=("team-2",))
    relay = FakeRelay(demo_events(40), me="sup-1", team="team-1")
    svc = PresenceService(sup, default_catalogue(), relay, FakeFeed(), heartbeat_s=0, watched=["team-4"])
    assert svc.watched == ("team-2",)
    svc = PresenceService(sup, default_catalogue(), relay, FakeFeed(), heartbeat_s=0, watched=["team-2", "team-4"])
    assert svc.watched == ("team-2",)


async def test_a_token_refresh_with_fewer_teams_narrows_the_subscriptions():
    sup = Identity("sup-1", "s-0", ("supervisors",), "team-1", supervised_teams=("team-2", "team-3"))
    svc, relay, feed, rec = make(sup)
    svc.start()
    await until(lambda: rec.states and rec.states[-1].up and not rec.states[-1].joining)
    current = {"identity": Identity("sup-1", "s-0", ("supervisors",), "team-1", supervised_teams=("team-3",))}
    svc.identity_source = lambda: current["identity"]
    await until(lambda: feed.channels == ["/agent-presence/team-3/*"])
    assert svc.roster.team_ids() == ["team-3"]
    assert "Your teams have changed" in rec.problems[-1]


async def test_missed_keep_alives_make_the_connection_state_say_so():
    """A frozen server: connected, but nothing heard; the window must not look live."""
    svc, relay, feed, rec = make()
    svc.start()
    await until(lambda: rec.states and rec.states[-1].up and not rec.states[-1].joining)
    svc.feed_quiet(1234.0)
    assert rec.states[-1].up and rec.states[-1].quiet_since == 1234.0
    svc.feed_quiet(None)
    assert rec.states[-1].up and rec.states[-1].quiet_since is None


async def test_a_5xx_that_is_not_the_relays_stored_answer_is_sent_again():
    """A proxy's 502 stored nothing: the wish is retried until the relay confirms it (it used to
    stay "saved by the relay, waiting to be published" for ever)."""
    from presence_desktop.client.ports import RelayCallError

    svc, relay, feed, rec = make()
    svc.start()
    await until(lambda: svc.connection.up and not svc.roster.joining)
    real = relay.set_status
    answers = [RelayCallError(502, "http_error", "HTTP 502 (not an answer from the relay)"),
               RelayCallError(502, "bad_response", "the answer to a status change was not the relay's JSON")]

    async def flaky(status, message=None, agent_id=None):
        if answers:
            relay.calls.append(("set_status", status, message, agent_id))
            raise answers.pop(0)
        return await real(status, message, agent_id)

    relay.set_status = flaky
    svc.request_status("away")
    await until(lambda: not svc.own.is_pending, timeout=10)
    assert svc.own.current.status == "away"
    assert [c[1] for c in relay.calls if c[0] == "set_status"] == ["away"] * 3
    await svc.shutdown()


async def test_the_relays_stored_answer_is_not_sent_again():
    from presence_desktop.client.ports import RelayCallError

    svc, relay, feed, rec = make()
    svc.start()
    await until(lambda: svc.connection.up and not svc.roster.joining)
    sent = []

    async def stored(status, message=None, agent_id=None):
        sent.append(status)
        raise RelayCallError(502, "publish_rejected", "stored as version 1", stored_version=1)

    relay.set_status = stored
    svc.request_status("away")
    await until(lambda: svc.own.pending is not None and svc.own.pending.attempts == 1)
    await asyncio.sleep(0.3)
    assert sent == ["away"] and "saved by the relay" in svc.own.pending.last_error
    await svc.shutdown()


async def test_the_latest_wish_wins_without_publishing_what_it_replaced():
    """On call, then Away while the first request was still on its way: both were published
    (others saw On call for the length of the slow request)."""
    svc, relay, feed, rec = make()
    svc.start()
    await until(lambda: svc.connection.up and not svc.roster.joining)
    stored = []
    real = relay.set_status

    async def slow_then_store(status, message=None, agent_id=None):
        await asyncio.sleep(1.0 if status == "on_call" else 0.01)  # e.g. a token refresh first
        stored.append(status)
        return await real(status, message, agent_id)

    relay.set_status = slow_then_store
    svc.request_status("on_call")
    await asyncio.sleep(0.1)
    svc.request_status("away")
    await until(lambda: not svc.own.is_pending)
    await asyncio.sleep(1.2)  # long enough for the first request to have finished, had it not been cancelled
    assert stored == ["away"]
    assert svc.own.current.status == "away" and svc.roster.get("agent-1").event.status == "away"
    await svc.shutdown()


async def test_another_teams_subscription_does_not_restart_a_snapshot_on_its_way():
    """After a reconnect each team's subscription confirms on its own: the first one's snapshot
    request stays valid when the second confirms (it is fetched next, not the first again); a
    resubscription of the team being fetched restarts it (the request may predate it)."""
    sup = Identity("sup-1", "s-0", ("supervisors",), "team-1", supervised_teams=("team-2", "team-3"))
    svc, relay, feed, rec = make(sup)
    gates: dict = {}
    real_roster = relay.roster

    async def gated_roster(team=None):
        snap = await real_roster(team)
        gate = gates[team] = asyncio.Event()
        try:
            await gate.wait()
        finally:
            if gates.get(team) is gate:
                del gates[team]
        return snap

    relay.roster = gated_roster
    fetched = lambda: [c[1] for c in relay.calls if c[0] == "roster"]  # noqa: E731
    svc.feed_subscribed("/agent-presence/team-2/*")
    await until(lambda: "team-2" in gates)
    svc.feed_subscribed("/agent-presence/team-3/*")
    await asyncio.sleep(0.02)
    assert "team-2" in gates, "team-2's snapshot request was cancelled by team-3's subscription"
    gates["team-2"].set()
    await until(lambda: "team-3" in gates)
    gates["team-3"].set()
    await until(lambda: not svc.roster.joining)
    assert fetched() == ["team-2", "team-3"]  # team-2 not fetched twice
    assert svc.roster.team_ids() == ["team-2", "team-3"] and rec.states[-1].up and not rec.states[-1].joining

    relay.calls.clear()
    svc.feed_subscribed("/agent-presence/team-2/*")
    await until(lambda: "team-2" in gates)
    first = gates["team-2"]
    svc.feed_subscribed("/agent-presence/team-2/*")  # the same team again: its request may predate it
    await until(lambda: "team-2" in gates and gates["team-2"] is not first)
    gates["team-2"].set()
    await until(lambda: not svc.roster.joining)
    assert fetched() == ["team-2", "team-2"]
    await svc.shutdown()
