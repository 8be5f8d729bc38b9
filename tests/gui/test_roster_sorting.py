"""The model sorts its rows by key strings (sortkeys.py) compared natively; the order must be
exactly the one the former Python ``lessThan`` gave (per-column values, ties broken by the
natural name key), on every column, both directions, for awkward names."""

import functools
import random
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt

from presence_desktop.domain.presence import PresenceEvent, format_time
from presence_desktop.domain.roster import Roster
from presence_desktop.domain.text import display_text
from presence_desktop.resources import default_catalogue
from presence_desktop.ui.roster.columns import (
    COL_MESSAGE,
    COL_NAME,
    COL_STATUS,
    COL_TEAM,
    COL_TIME,
    COL_TODAY,
    HEADERS,
)
from presence_desktop.ui.roster.model import AGENT_ROLE, RosterTableModel
from presence_desktop.ui.roster.sortkeys import natural_key, natural_sort_key

AWKWARD = [
    "agent-2", "agent-10", "Agent-1", "agent-01", "agent 1", "agent1", "agent-1a", "agent-1A", "", "0", "00",
    "007", "7", "10", "9", "a", "A", "b", "B", "ä", "Ä", "z", "Z", "é", "e", "ß", "ss", "SS", "Straße",
    "strasse", "ǅemal", "İstanbul", "istanbul", "Ⅻ", "①", "x²", "٣ agent", "3 agent", "agent ٣", "agent ３",
    "agent 3", "agent-3.5", "agent-3,5", "agent-3-5", "-1", "--", " ", "  ", "a b", "ab", "a\tb", "a\x00b",
    "a\x01b", "\x00", "Ａgent", "😀", "😀1", "😀2", "😀10", "\U0010ffff", "\ue000", "\uffff", "\ud7ff",
    "\ud7fe", "日本", "日本2", "日本10", "Zoë", "zoe", "ZOË", "x" * 100, "x" * 99 + "y",
    "1" * 40, "1" * 39 + "2", "9" * 41, "agent-" + "0" * 30 + "5", "agent-5",
]


def sort_value(model, agent_id, col):
    """The per-column value the former Python comparator compared (the model's former SORT_ROLE)."""
    roster, now = model.roster, model.clock()
    ev = roster.get(agent_id).event
    if col == COL_STATUS:
        return roster.display_status(agent_id, now).order
    if col == COL_NAME:
        return natural_key(display_text(ev.display_name) or agent_id)
    if col == COL_TEAM:
        return natural_key(ev.team_id)
    if col == COL_TIME:
        return roster.time_in_status(agent_id, now)
    if col == COL_TODAY:
        return 0  # a picture of the day: no order of its own, the names break the tie
    assert col == COL_MESSAGE
    return (ev.message or "").casefold()


def old_less_than(model, left, right, col) -> bool:
    """The comparator the former RosterProxy used (copied here as the reference), on agents."""
    a = sort_value(model, left, col)
    b = sort_value(model, right, col)
    if a == b:
        return sort_value(model, left, COL_NAME) < sort_value(model, right, COL_NAME)
    try:
        return a < b
    except TypeError:
        return str(a) < str(b)


def make_roster(names, now, seed=3):
    rnd = random.Random(seed)
    cat = default_catalogue()
    roster = Roster(cat, clock=lambda: now)
    roster.begin_join()
    teams = ["team-1", "team-2", "team-10", "Team-3", "team-02", "t", "T-1", "x-9"]
    messages = [None, "", "back in 10", "Back in 10", "back in 9", "b", "ä", "😀", "ß", "SS"]
    events = []
    for i, name in enumerate(names):
        events.append(PresenceEvent(
            agent_id=f"a-{i}", team_id=rnd.choice(teams), display_name=name,
            status=rnd.choice(cat.ids()), version=1,
            # whole seconds, some shared: ties in time in status are broken by name
            changed_at=format_time(datetime.fromtimestamp(now, UTC) - timedelta(seconds=rnd.choice([5, 60, 61, 3600]))),
            message=rnd.choice(messages), source="manual"))
    roster.complete_join(events, heard_at=now)
    for i in range(0, len(names), 3):  # "last heard" varies too, with ties
        roster.mark_heard(f"a-{i}", now - 1)
    return roster


def model_for(names, now=1_800_000_000.0):
    roster = make_roster(names, now)
    model = RosterTableModel(roster, clock=lambda: now)
    return roster, model


@pytest.mark.parametrize("col", range(len(HEADERS)))
def test_each_key_pair_orders_like_the_old_comparator(qtbot, col):
    names = [n for n in AWKWARD if n not in ("x²", "①")]  # natural_key itself raises on those
    roster, model = model_for(names)
    agents = roster.agent_ids()
    keys = [model.sort_key(a, col) for a in agents]
    for key in keys:  # UTF-16 code-unit order is code-point order only without surrogates
        assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in key)
    for i in range(len(agents)):
        for j in range(len(agents)):
            assert (keys[i] < keys[j]) == old_less_than(model, agents[i], agents[j], col), (col, names[i], names[j])


@pytest.mark.parametrize("col", range(len(HEADERS)))
@pytest.mark.parametrize("order", [Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder])
def test_model_order_is_the_old_order(qtbot, col, order):
    names = [n for n in AWKWARD if n not in ("x²", "①")]
    random.Random(5).shuffle(names)
    roster, model = model_for(names)
    model.sort(col, order)
    got = model.visible_agent_ids()
    assert got == [model.index(r, 0).data(AGENT_ROLE) for r in range(model.rowCount())]

    def cmp(a, b):
        return -1 if old_less_than(model, a, b, col) else (1 if old_less_than(model, b, a, col) else 0)

    expected = sorted(roster.agent_ids(), key=functools.cmp_to_key(cmp), reverse=order == Qt.SortOrder.DescendingOrder)
    # Rows the old comparator held equal (same natural name key and value) may come in either
    # order; compare the sequence of their equivalence classes.
    def cls(agent):
        return model.sort_key(agent, col)
    assert [cls(a) for a in got] == [cls(a) for a in expected]


def test_natural_sort_key_matches_natural_key_on_random_names():
    rnd = random.Random(11)
    alphabet = "aAbBzZ09 -_.äÄßé٣３日😀\x00\ue000\uffff"
    names = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 8))) for _ in range(600)]
    for a in names:
        for b in names[:80]:
            assert (natural_sort_key(a) < natural_sort_key(b)) == (natural_key(a) < natural_key(b)), (a, b)
            assert (natural_sort_key(a) == natural_sort_key(b)) == (natural_key(a) == natural_key(b)), (a, b)


def test_names_natural_key_cannot_compare_still_sort():
    # natural_key raises on text that str.isdigit() accepts but int() does not ("x²" is fine,
    # "²" alone is not); the sort key treats it as text.
    with pytest.raises(ValueError):
        natural_key("1²")
    assert natural_sort_key("1²") > natural_sort_key("1")
    assert natural_sort_key("1") < natural_sort_key("2") < natural_sort_key("10")


def test_team_column_is_team_then_name(qtbot):
    roster, model = model_for(["b", "a", "c"])
    model.sort(COL_TEAM, Qt.SortOrder.AscendingOrder)
    got = [(roster.get(a).event.team_id, roster.get(a).event.display_name) for a in model.visible_agent_ids()]
    assert got == sorted(got, key=lambda t: (natural_key(t[0]), natural_key(t[1])))


def test_a_sort_fetches_each_key_once_and_compares_natively(qtbot, monkeypatch):
    # The point of the keys: they are compared natively (a Python lessThan per comparison was
    # ~14 % of the app's CPU in a burst): a sort asks for each row's key once, not per comparison.
    roster, model = model_for(AWKWARD[:60])
    fetched = []
    real = RosterTableModel.sort_key
    monkeypatch.setattr(RosterTableModel, "sort_key",
                        lambda self, agent, col, now=None: fetched.append(agent) or real(self, agent, col, now))
    model.sort(COL_MESSAGE, Qt.SortOrder.DescendingOrder)
    assert sorted(fetched) == sorted(roster.agent_ids())
    assert "lessThan" not in RosterTableModel.__dict__
