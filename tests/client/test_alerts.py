"""client/alerts.py: each kind fires once per occurrence, never on the baseline, never while stale."""

from __future__ import annotations

from datetime import UTC, datetime

from presence_desktop.client.alerts import AlertEngine, AlertRule
from presence_desktop.domain.floors import Floor
from presence_desktop.domain.presence import PresenceEvent, format_time
from presence_desktop.domain.roster import Roster
from presence_desktop.resources import default_catalogue

T0 = 1_800_000_000.0


def ev(agent, status, version, at, team="team-1"):
    return PresenceEvent(agent_id=agent, team_id=team, display_name=agent.title(), status=status, version=version,
                         changed_at=format_time(datetime.fromtimestamp(at, UTC)), changed_by=agent)


def setup(*rules, events=()):
    cat = default_catalogue()
    roster = Roster(cat, clock=lambda: T0)
    roster.begin_join()
    roster.complete_join(list(events), heard_at=T0)
    engine = AlertEngine(cat, team_of=lambda a: roster.get(a).event.team_id if roster.get(a) else None,
                         name_of=lambda a: roster.get(a).event.display_name, team_name=lambda t: t.upper(),
                         rules=rules)
    return roster, engine


def test_agent_available_fires_on_the_transition_only_and_once_rules_go():
    roster, engine = setup(AlertRule("agent_available", agent_id="agent-1", once=True),
                           events=[ev("agent-1", "on_call", 1, T0 - 60)])
    assert engine.check(roster, {}, T0) == []  # baseline: on call
    roster.apply(ev("agent-1", "available", 2, T0 + 1), T0 + 1)
    fired = engine.check(roster, {}, T0 + 1)
    assert [a.title for a in fired] == ["Agent-1 is available"]
    assert engine.rules == []  # once
    roster.apply(ev("agent-1", "on_call", 3, T0 + 2), T0 + 2)
    roster.apply(ev("agent-1", "available", 4, T0 + 3), T0 + 3)
    assert engine.check(roster, {}, T0 + 3) == []


def test_already_available_at_start_does_not_fire():
    roster, engine = setup(AlertRule("team_available", team_id="team-1"), events=[ev("agent-1", "available", 1, T0)])
    assert engine.check(roster, {}, T0) == []
    assert engine.check(roster, {}, T0 + 1) == []


def test_team_available_fires_per_agent_and_per_occurrence():
    roster, engine = setup(AlertRule("team_available", team_id="team-1"),
                           events=[ev("agent-1", "break", 1, T0), ev("agent-2", "lunch", 1, T0),
                                   ev("agent-9", "break", 1, T0, team="team-2")])
    engine.check(roster, {}, T0)
    for agent in ("agent-1", "agent-2", "agent-9"):
        roster.apply(ev(agent, "available", 2, T0 + 1, team="team-2" if agent == "agent-9" else "team-1"), T0 + 1)
    fired = engine.check(roster, {}, T0 + 1)
    assert sorted(a.agent_id for a in fired) == ["agent-1", "agent-2"]
    assert engine.check(roster, {}, T0 + 2) == []


def test_nothing_fires_while_disconnected_or_joining():
    roster, engine = setup(AlertRule("agent_available", agent_id="agent-1"), events=[ev("agent-1", "break", 1, T0)])
    engine.check(roster, {}, T0)
    roster.connection_lost(T0 + 1)
    assert engine.check(roster, {}, T0 + 1, live=False) == []
    roster.begin_join()
    assert engine.check(roster, {}, T0 + 2) == []  # joining: rows may be old
    roster.complete_join([ev("agent-1", "available", 2, T0 + 2)], heard_at=T0 + 3)
    assert [a.agent_id for a in engine.check(roster, {}, T0 + 3)] == ["agent-1"]


def test_below_floor_fires_when_it_drops_again_not_while_it_stays_below():
    floors = {"team-1": (Floor(("available", "on_call"), 2, "Routable"),)}
    roster, engine = setup(AlertRule("below_floor", team_id="team-1"),
                           events=[ev("agent-1", "available", 1, T0), ev("agent-2", "on_call", 1, T0)])
    assert engine.check(roster, floors, T0) == []
    roster.apply(ev("agent-2", "break", 2, T0 + 1), T0 + 1)
    fired = engine.check(roster, floors, T0 + 1)
    assert [a.text for a in fired] == ["Routable: 1 of at least 2."]
    roster.apply(ev("agent-1", "lunch", 2, T0 + 2), T0 + 2)
    assert engine.check(roster, floors, T0 + 2) == []  # still below: no second alarm
    roster.apply(ev("agent-1", "available", 3, T0 + 3), T0 + 3)
    roster.apply(ev("agent-2", "available", 3, T0 + 3), T0 + 3)
    assert engine.check(roster, floors, T0 + 3) == []
    roster.apply(ev("agent-2", "away", 4, T0 + 4), T0 + 4)
    assert len(engine.check(roster, floors, T0 + 4)) == 1


def test_over_budget_fires_once_per_stint():
    roster, engine = setup(AlertRule("over_budget", team_id="team-1"), events=[ev("agent-1", "available", 1, T0)])
    engine.check(roster, {}, T0)
    roster.apply(ev("agent-1", "break", 2, T0 + 10), T0 + 10)
    assert engine.check(roster, {}, T0 + 10 + 899) == []
    fired = engine.check(roster, {}, T0 + 10 + 901)
    assert [a.title for a in fired] == ["Agent-1: Break over budget"]
    assert engine.check(roster, {}, T0 + 10 + 2000) == []
    roster.apply(ev("agent-1", "available", 3, T0 + 3000), T0 + 3000)
    roster.apply(ev("agent-1", "break", 4, T0 + 3001), T0 + 3001)
    engine.check(roster, {}, T0 + 3001)
    assert len(engine.check(roster, {}, T0 + 3001 + 901)) == 1


def test_rules_round_trip_and_refuse_nonsense():
    rule = AlertRule("below_floor", team_id="team-2")
    assert AlertRule.from_dict(rule.to_dict()) == rule
    for bad in ({"kind": "nope"}, {"kind": "agent_available"}, {"kind": "team_available"}):
        try:
            AlertRule.from_dict(bad)
        except (ValueError, KeyError, TypeError):
            continue
        raise AssertionError(f"accepted {bad}")
    assert "anyone in TEAM-1" in AlertRule("team_available", team_id="team-1").describe(team_name=str.upper)


def test_without_rules_the_roster_is_not_read_and_a_rule_added_later_starts_from_a_fresh_baseline():
    roster, engine = setup(AlertRule("agent_available", agent_id="agent-1"), events=[ev("agent-1", "break", 1, T0)])
    engine.check(roster, {}, T0)  # baseline: on break
    engine.rules = []
    reads = []
    display_status = roster.display_status
    roster.display_status = lambda *a, **k: reads.append(a) or display_status(*a, **k)
    roster.apply(ev("agent-1", "available", 2, T0 + 1), T0 + 1)
    assert engine.check(roster, {}, T0 + 1) == []
    assert reads == []  # the check walks no agent while nothing could fire (idle CPU: bench/README.md)
    engine.add(AlertRule("agent_available", agent_id="agent-1"))
    # available since before the rule: what is already true does not fire
    assert engine.check(roster, {}, T0 + 2) == []
    roster.apply(ev("agent-1", "break", 3, T0 + 3), T0 + 3)
    engine.check(roster, {}, T0 + 3)
    roster.apply(ev("agent-1", "available", 4, T0 + 4), T0 + 4)
    assert [a.agent_id for a in engine.check(roster, {}, T0 + 4)] == ["agent-1"]
