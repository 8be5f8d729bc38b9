import random
from datetime import UTC, datetime

import pytest

from presence_desktop.domain.presence import PresenceEvent, format_time
from presence_desktop.domain.roster import Counts, OwnStatus, Roster, RosterFilter
from presence_desktop.domain.statuses import UNKNOWN
from presence_desktop.resources import default_catalogue

T0 = 1_800_000_000.0  # epoch seconds used as "now" in these tests


class Clock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


def ev(agent="a-1", version=1, status="available", team="team-1", at=T0 - 60, **over):
    base = dict(agent_id=agent, team_id=team, display_name=over.pop("name", f"Agent {agent}"), status=status,
                version=version, changed_at=format_time(datetime.fromtimestamp(at, UTC)))
    base.update(over)
    return PresenceEvent(**base)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def roster(clock):
    r = Roster(default_catalogue(), clock=clock)
    r.begin_join()
    r.complete_join([])
    return r


def test_only_newer_versions_apply(roster):
    assert roster.apply(ev(version=2, status="break")).added == ["a-1"]
    assert not roster.apply(ev(version=1, status="available"))  # older: ignored
    assert not roster.apply(ev(version=2, status="lunch"))  # duplicate version: ignored
    assert roster.get("a-1").event.status == "break"
    change = roster.apply(ev(version=5, status="on_call"))
    assert change.updated == {"a-1"} and not change.added
    assert roster.display_status("a-1").id == "on_call"
    assert roster.ignored == 2


def test_any_delivery_order_converges_to_highest_version(clock):
    events = [ev(agent=f"a-{i % 7}", version=v, status=random.choice(default_catalogue().ids()))
              for i in range(7) for v in range(1, 12)]
    expected = {}
    for e in events:
        if e.version >= expected.get(e.agent_id, e).version:
            expected[e.agent_id] = e
    for seed in range(5):
        rnd = random.Random(seed)
        shuffled = events + rnd.sample(events, 20)  # duplicates too
        rnd.shuffle(shuffled)
        r = Roster(default_catalogue(), clock=clock)
        r.apply_many(shuffled)
        assert {a: r.get(a).event for a in r.agent_ids()} == expected


def test_join_buffers_live_events_and_replays_them_after_the_snapshot(clock):
    r = Roster(default_catalogue(), clock=clock)
    r.begin_join()
    assert r.joining
    # Live events arrive while the snapshot is being fetched: one newer than the snapshot,
    # one older (already contained in the snapshot), one for an agent the snapshot lacks.
    assert not r.on_live(ev("a-1", 7, "on_call"))
    assert not r.on_live(ev("a-2", 3, "break"))
    assert not r.on_live(ev("a-3", 1, "lunch"))
    assert len(r) == 0  # nothing applied before the snapshot
    change = r.complete_join([ev("a-1", 6, "available"), ev("a-2", 4, "training")], as_of="x")
    assert not r.joining
    assert r.get("a-1").event.status == "on_call"  # buffered v7 beats snapshot v6
    assert r.get("a-2").event.status == "training"  # snapshot v4 beats buffered v3
    assert r.get("a-3").event.status == "lunch"
    assert change.added == ["a-1", "a-2", "a-3"]
    # After the join, live events apply directly.
    assert r.on_live(ev("a-3", 2, "available")).updated == {"a-3"}


def test_connection_down_shows_unknown_but_keeps_last_known(roster, clock):
    roster.apply(ev("a-1", 3, "break"))
    assert roster.connected
    change = roster.connection_lost()
    assert change.everything
    assert roster.display_status("a-1") is UNKNOWN
    assert roster.last_known_status("a-1").id == "break"
    assert roster.down_since == T0
    clock.now += 30
    roster.connection_lost()  # a second report does not move "since"
    assert roster.down_since == T0
    assert roster.counts().get("unknown") == 1
    # Reconnect: the join makes rows show their last known status again, then the snapshot.
    assert roster.begin_join().everything
    assert roster.display_status("a-1").id == "break"
    roster.complete_join([ev("a-1", 4, "available")])
    assert roster.display_status("a-1").id == "available"
    assert roster.down_since is None


def test_connection_lost_mid_join_keeps_buffered_events(clock):
    r = Roster(default_catalogue(), clock=clock)
    r.begin_join()
    r.on_live(ev("a-1", 2, "away"))
    r.connection_lost()
    assert not r.joining and r.get("a-1").event.status == "away"
    assert r.display_status("a-1") is UNKNOWN


def test_stale_rows_display_unknown_but_offline_never_stale(clock):
    r = Roster(default_catalogue(), clock=clock, stale_after_s=90)
    r.begin_join()
    r.complete_join([ev("a-1", 1, "available"), ev("a-2", 1, "offline")],
                    last_seen={"a-1": T0 - 10, "a-2": T0 - 1000})
    assert not r.is_stale("a-1") and not r.is_stale("a-2")
    clock.now += 85
    assert r.is_stale("a-1") and r.display_status("a-1") is UNKNOWN
    assert r.display_status("a-2").id == "offline"
    assert r.since_heard("a-1") == pytest.approx(95)
    r.mark_heard("a-1")
    assert not r.is_stale("a-1") and r.display_status("a-1").id == "available"
    with pytest.raises(ValueError):
        Roster(default_catalogue(), stale_after_s=0)


def test_time_in_status_and_budget_levels(roster, clock):
    roster.apply(ev("a-1", 1, "break", at=T0 - 100))  # break budget 900 s
    assert roster.time_in_status("a-1") == pytest.approx(100, abs=0.01)
    assert roster.budget_level("a-1") == "ok"
    clock.now = T0 - 100 + 720
    assert roster.budget_level("a-1") == "warn"
    clock.now = T0 - 100 + 900
    assert roster.budget_level("a-1") == "over"
    roster.apply(ev("a-2", 1, "available", at=T0 + 10_000))  # server clock ahead: never negative
    assert roster.time_in_status("a-2") == 0.0
    assert roster.budget_level("a-2") == "ok"


def test_headline_counts_and_filters(roster):
    roster.apply_many([
        ev("a-1", 1, "available", team="team-1", name="Ada Lovelace"),
        ev("a-2", 1, "available", team="team-2", name="Grace Hopper"),
        ev("a-3", 1, "on_call", team="team-1", name="Alan Turing"),
        ev("a-4", 1, "lunch", team="team-2", name="Edsger Dijkstra"),
    ])
    counts = roster.counts()
    assert isinstance(counts, Counts)
    assert counts.headline(default_catalogue().get("available")) == "Available 2 / 4"
    assert roster.visible(RosterFilter(teams=frozenset({"team-1"}))) == ["a-1", "a-3"]
    assert roster.visible(RosterFilter(statuses=frozenset({"available"}))) == ["a-1", "a-2"]
    assert roster.visible(RosterFilter(text="  hOpP ")) == ["a-2"]
    assert roster.visible(RosterFilter(text="a-4")) == ["a-4"]
    assert roster.visible(RosterFilter(teams=frozenset({"team-2"}), statuses=frozenset({"available"}))) == ["a-2"]
    assert roster.counts(roster.visible(RosterFilter(teams=frozenset({"team-2"})))).total == 2
    roster.connection_lost()
    assert roster.visible(RosterFilter(statuses=frozenset({"unknown"}))) == ["a-1", "a-2", "a-3", "a-4"]


def test_team_scope_ignores_other_teams(clock):
    r = Roster(default_catalogue(), clock=clock, teams=["team-2"])
    r.apply(ev("a-1", 1, team="team-1"))
    r.apply(ev("a-2", 1, team="team-2"))
    assert r.agent_ids() == ["a-2"] and r.team_ids() == ["team-2"]


def test_unknown_status_id_from_the_wire_displays_unknown(roster):
    roster.apply(ev("a-1", 1, "gone_fishing"))
    assert roster.display_status("a-1") is UNKNOWN


def test_own_status_pending_until_confirmed(clock):
    own = OwnStatus("me", clock=clock)
    own.observe(ev("me", 3, "available"))
    req = own.request("break", "back at 3")
    assert own.is_pending and own.status_id == "break" and own.message == "back at 3"
    own.failed("relay unreachable")
    own.failed("relay unreachable")
    assert own.pending.attempts == 2 and own.pending.last_error == "relay unreachable"
    own.confirmed(ev("me", 4, "break", message="back at 3", at=T0), req)
    assert not own.is_pending and own.current.version == 4


def test_own_status_newer_wish_stays_pending_after_older_confirmation(clock):
    own = OwnStatus("me", clock=clock)
    first = own.request("break")
    clock.now += 1
    own.request("lunch")
    own.confirmed(ev("me", 1, "break", at=T0), first)
    assert own.is_pending and own.status_id == "lunch"


def test_own_status_server_order_wins(clock):
    own = OwnStatus("me", clock=clock)
    own.observe(ev("me", 3, "available"))
    own.request("break")
    # A system expiry (offline) while we were cut off keeps our wish for replay.
    own.observe(ev("me", 4, "offline", source="system", at=T0 + 5))
    assert own.is_pending
    # An older event (changed before the request) does not drop it either.
    assert not own.observe(ev("me", 2, "training", source="supervisor", at=T0 - 5))
    own.observe(ev("me", 5, "training", source="supervisor", at=T0 - 5))
    assert own.is_pending
    # A supervisor's change made after our request wins.
    own.observe(ev("me", 6, "on_call", source="supervisor", at=T0 + 10))
    assert not own.is_pending and own.status_id == "on_call"
    assert not own.observe(ev("other", 9, "away"))


def test_a_message_belongs_to_the_status_it_was_set_with(clock):
    """A new status without a message typed for it goes out without the old one; the same
    status again keeps its message; typed text wins ("" clears)."""
    own = OwnStatus("me", clock=clock)
    own.observe(ev("me", 3, "lunch", message="lunch till 2"))
    assert own.message_for("available", None) is None
    assert own.message_for("lunch", None) == "lunch till 2"
    assert own.message_for("available", " back ") == "back"
    assert own.message_for("lunch", "") is None


def test_whole_roster_counts_are_kept_by_apply_and_match_a_recount(clock):
    """counts() of the whole roster is a tally kept by apply() (a burst recounted 10,000 rows per
    batch); it must equal counting the rows, whatever arrives in whatever order."""
    rnd = random.Random(4)
    roster = Roster(default_catalogue(), clock=clock)
    roster.begin_join()
    ids = [*default_catalogue().ids(), "no-such-status"]
    roster.complete_join([ev(f"a-{i}", rnd.randint(1, 3), rnd.choice(ids)) for i in range(50)])
    for _ in range(2000):
        roster.on_live(ev(f"a-{rnd.randint(0, 80)}", rnd.randint(1, 40), rnd.choice(ids)))
        if rnd.random() < 0.01:
            roster.connection_lost()
            assert roster.counts() == roster.counts(roster.agent_ids())
            roster.begin_join()
            roster.complete_join([])
        assert roster.counts() == roster.counts(roster.agent_ids())
    assert roster.counts().total == len(roster) > 50
