"""Behaviour of the roster's fast paths added for large rosters (bench/README.md): the merge of
changes, the row index and the counts must give exactly what the plain definitions give."""

from datetime import UTC, datetime

from presence_desktop.domain.presence import PresenceEvent, format_time
from presence_desktop.domain.roster import Change, Roster
from presence_desktop.resources import default_catalogue

T0 = 1_800_000_000.0


def ev(i, version=1, status="available"):
    return PresenceEvent(agent_id=f"a-{i}", team_id=f"team-{i % 3}", display_name=f"A {i}", status=status,
                         version=version, changed_at=format_time(datetime.fromtimestamp(T0 - 60, UTC)))


def test_merge_keeps_first_seen_order_and_drops_added_from_updated():
    change = Change(added=["a", "b"], updated={"x"})
    change.merge(Change(added=["b", "c"], updated={"a", "d"}))
    change.merge(Change(updated={"e"}, everything=True))
    assert change.added == ["a", "b", "c"]
    assert change.updated == {"x", "d", "e"}
    assert change.everything
    late = Change(updated={"z"})
    late.merge(Change(added=["z"]))  # updated, then (re)announced as a new row: a new row wins
    assert late.added == ["z"] and late.updated == set()


def test_a_large_snapshot_merges_every_agent_once():
    roster = Roster(default_catalogue(), clock=lambda: T0)
    roster.begin_join()
    change = roster.complete_join([ev(i) for i in range(20_000)] + [ev(5, version=2)])
    assert len(change.added) == 20_000 and change.added[:2] == ["a-0", "a-1"]
    assert change.updated == set()  # a-5 was added in this very change
    assert roster.row_of("a-19999") == 19_999
    try:
        roster.row_of("nobody")
    except ValueError:
        pass
    else:
        raise AssertionError("row_of of an unknown agent must raise ValueError")


def test_counts_match_the_displayed_status_of_every_row():
    cat = default_catalogue()
    roster = Roster(cat, clock=lambda: T0)
    roster.begin_join()
    roster.complete_join([ev(i, status=s) for i, s in enumerate(["available", "break", "no-such-status", "break"])])
    expected = {}
    for agent in roster.agent_ids():
        sid = roster.display_status(agent).id
        expected[sid] = expected.get(sid, 0) + 1
    assert roster.counts().by_status == expected
    assert roster.counts(["a-1", "a-3"]).by_status == {"break": 2}
    roster.connection_lost()
    assert roster.counts().by_status == {"unknown": 4}
