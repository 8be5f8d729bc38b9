"""The roster model keeps its rows filtered and in sort order itself (issue 20 item 1): a changed
row moves with one beginMoveRows, a new row goes in at its place, a row leaving the filter is
removed; the signals are consistent (Qt's own model tester), the order always equals one full
sort, and the selection and current row follow their agents."""

from __future__ import annotations

import random
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester

from presence_desktop.client.sample import STATUS_IDS
from presence_desktop.client.service import ConnectionState
from presence_desktop.domain.presence import utc_now_iso
from presence_desktop.domain.roster import RosterFilter
from presence_desktop.resources import default_catalogue
from presence_desktop.ui.roster import model as roster_model
from presence_desktop.ui.roster.columns import COL_MESSAGE, COL_NAME, COL_STATUS, COL_TIME, COL_TODAY
from tests.gui.fakes import demo_events
from tests.gui.test_roster_window import _fully_sorted_ids, _held_window


def _change(win, roster, agent_id, **fields):
    ev = roster.get(agent_id).event
    win.on_roster_changed(roster.apply(ev.with_(version=ev.version + 1, changed_at=utc_now_iso(), **fields)))


def _signals(model):
    seen = []
    model.rowsMoved.connect(lambda *_: seen.append("move"))
    model.rowsInserted.connect(lambda *_: seen.append("insert"))
    model.rowsRemoved.connect(lambda *_: seen.append("remove"))
    model.layoutChanged.connect(lambda *_: seen.append("layout"))
    model.modelReset.connect(lambda *_: seen.append("reset"))
    return seen


def _tester_failures(qtlog):
    return [r.message for r in qtlog.records if "FAIL" in r.message or "modeltest" in r.message.lower()]


@pytest.mark.parametrize("order", [Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder])
def test_a_changed_row_moves_with_one_move_and_keeps_its_selection(qtbot, order):
    win, roster = _held_window(qtbot, 60, clock=time.time)
    win.hold.hold_for("pointer", False)
    win.table.sortByColumn(COL_STATUS, order)
    model = win.model
    agent = model.agent_at(3)
    win.select_agent(agent)
    seen = _signals(model)
    new = "offline" if roster.display_status(agent).id != "offline" else "available"
    _change(win, roster, agent, status=new)
    model.flush()
    assert seen == ["move"]
    assert model.visible_agent_ids() == _fully_sorted_ids(win)
    assert win.selected_agents() == [agent]
    assert model.agent_at(win.table.currentIndex().row()) == agent


def test_the_selection_follows_its_agent_when_the_order_reverses(qtbot):
    """Found by the random test below: the sort order was switched before the rows' agents
    were read for the persistent indexes, so a click that reversed the order moved the
    selection to the agent mirrored across the table."""
    win, _roster = _held_window(qtbot, 40, clock=time.time)
    agent = win.model.agent_at(5)
    win.select_agent(agent)
    win.table.sortByColumn(COL_NAME, Qt.SortOrder.DescendingOrder)
    assert win.selected_agents() == [agent]
    assert win.model.agent_at(win.table.currentIndex().row()) == agent
    win.filters.group.setChecked(True)  # a new order by team, and back
    win.filters.group.setChecked(False)
    assert win.selected_agents() == [agent]


def test_new_rows_go_in_at_their_place_and_filter_changes_insert_and_remove(qtbot):
    win, roster = _held_window(qtbot, 40, clock=time.time)
    win.hold.hold_for("pointer", False)
    model = win.model
    model.set_roster_filter(RosterFilter(statuses=frozenset({"available"})))
    seen = _signals(model)
    shown = model.visible_agent_ids()
    hidden = next(a for a in roster.agent_ids() if a not in shown)
    _change(win, roster, shown[0], status="lunch")
    _change(win, roster, hidden, status="available")
    newcomer = demo_events(41)[40].with_(status="available", display_name="Aaron Aardvark")
    win.on_roster_changed(roster.apply(newcomer))
    model.flush()
    assert sorted(seen) == ["insert", "insert", "remove"]
    assert model.agent_at(0) == newcomer.agent_id  # first by name: at its place, not at the end
    assert model.visible_agent_ids() == _fully_sorted_ids(win)


def test_many_rows_to_place_are_one_layout_change(qtbot, monkeypatch):
    monkeypatch.setattr(roster_model, "MOVES_MAX", 5)
    win, roster = _held_window(qtbot, 60, clock=time.time)
    win.hold.hold_for("pointer", False)
    win.table.sortByColumn(COL_STATUS, Qt.SortOrder.AscendingOrder)
    model = win.model
    agent = model.agent_at(10)
    win.select_agent(agent)
    seen = _signals(model)
    rng = random.Random(1)
    for a in rng.sample(roster.agent_ids(), 20):
        _change(win, roster, a, status=rng.choice(STATUS_IDS))
    model.flush()
    assert seen == ["layout"]
    assert model.visible_agent_ids() == _fully_sorted_ids(win)
    assert win.selected_agents() == [agent]


def test_a_filter_change_keeps_hidden_columns_and_widths(qtbot):
    """Found while building the sorted model: a layout change without the rows-only hint let
    the horizontal header restore its sections through row 0's persistent indexes, and when
    that row's agent left the filter, the hidden Today column and the widths were lost."""
    win, roster = _held_window(qtbot, 40, clock=time.time)
    header = win.table.horizontalHeader()
    assert win.table.isColumnHidden(COL_TODAY)
    header.resizeSection(COL_STATUS, 201)
    first = win.model.agent_at(0)
    status = roster.display_status(first).id
    win.model.set_roster_filter(RosterFilter(statuses=frozenset(set(STATUS_IDS) - {status})))
    assert first not in win.model.visible_agent_ids()
    assert win.table.isColumnHidden(COL_TODAY)
    assert header.sectionSize(COL_STATUS) == 201


def test_a_join_under_a_resting_pointer_shows_the_rows(qtbot):
    """Found trying the window as a user: the window opens under the pointer (held), and new
    rows waited for the release: the roster joined with an empty table until the pointer left."""
    from presence_desktop.domain.roster import Roster
    from presence_desktop.ui.roster.window import RosterWindow
    from tests.gui.test_roster_window import SUP

    roster = Roster(default_catalogue())
    win = RosterWindow(roster, roster.catalogue, SUP)
    qtbot.addWidget(win)
    win.hold.hold_for("pointer", True)
    win.on_roster_changed(roster.begin_join())
    win.on_roster_changed(roster.complete_join(demo_events(30)))
    win.model.flush()
    assert win.model.visible_agent_ids() == _fully_sorted_ids(win) and win.model.rowCount() == 30
    shown = win.model.visible_agent_ids()
    _change(win, roster, shown[0], display_name="Zz last")  # a row shown stays while held...
    newcomer = demo_events(31)[30].with_(display_name="Aaron Aardvark")
    win.on_roster_changed(roster.apply(newcomer))
    win.model.flush()
    assert win.model.agent_at(0) == newcomer.agent_id  # ...a new one goes in at its place
    assert win.model.visible_agent_ids()[1:] == shown
    win.hold.hold_for("pointer", False)
    assert win.model.visible_agent_ids() == _fully_sorted_ids(win)


def test_rows_are_placed_at_most_every_place_interval_values_every_frame(qtbot):
    win, roster = _held_window(qtbot, 40, clock=time.time)
    win.hold.hold_for("pointer", False)
    win.table.sortByColumn(COL_STATUS, Qt.SortOrder.AscendingOrder)
    model = win.model
    emitted = []
    model.dataChanged.connect(lambda tl, br, roles=(): emitted.append(model.agent_at(tl.row())))
    seen = _signals(model)
    agent = model.agent_at(0)
    model._last_place = time.monotonic()  # rows were just placed
    _change(win, roster, agent, status="offline")
    model._frame()
    assert seen == [] and emitted == [agent]  # the new value where the row stands...
    assert model.agent_at(0) == agent and model._flush_timer.isActive()
    model._last_place -= roster_model.PLACE_MS / 1000
    model._frame()  # ...and its place a little later
    assert seen == ["move"] and model.visible_agent_ids() == _fully_sorted_ids(win)


def test_sort_keys_do_not_change_with_time_alone(qtbot):
    """Rows are placed by their keys when they change: a key that drifts with the clock (the
    time in status) would put later rows out of order."""
    now = [1_700_000_000.0]
    win, roster = _held_window(qtbot, 20, clock=lambda: now[0])
    for col in range(6):
        before = {a: win.model.sort_key(a, col) for a in roster.agent_ids()}
        now[0] += 3600
        assert {a: win.model.sort_key(a, col) for a in roster.agent_ids()} == before, col


@pytest.mark.parametrize("seed", range(6))
def test_random_changes_keep_the_order_of_a_full_sort_and_consistent_signals(qtbot, qtlog, seed):
    """Random updates, joins, name changes, filters, sorts and holds: Qt's model tester sees
    consistent signals, and after every placement the rows stand as one full sort puts them."""
    rng = random.Random(seed)
    win, roster = _held_window(qtbot, 120, clock=time.time)
    win.hold.hold_for("pointer", False)
    model = win.model
    QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Warning, win)
    extra = demo_events(200)[120:]
    selected = None
    for step in range(150):
        kind = rng.random()
        if kind < 0.6:
            agent = rng.choice(roster.agent_ids())
            fields = {"status": rng.choice(STATUS_IDS)}
            if rng.random() < 0.2:
                fields["display_name"] = rng.choice(["Zed", "aaron", "Mia 2", "Mia 10", "Éva"])
            if rng.random() < 0.2:
                fields["message"] = rng.choice([None, "a", "b"])
            _change(win, roster, agent, **fields)
        elif kind < 0.7 and extra:
            win.on_roster_changed(roster.apply(extra.pop()))
        elif kind < 0.75:
            status = rng.choice([None, "available", "lunch", "offline"])
            model.set_roster_filter(RosterFilter(statuses=frozenset({status}) if status else None,
                                                 text=rng.choice(["", "", "a"])))
        elif kind < 0.8:
            col = rng.choice([COL_NAME, COL_STATUS, COL_TIME, COL_MESSAGE])
            win.table.sortByColumn(col, rng.choice([Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder]))
        elif kind < 0.85:
            win.hold.hold_for("pointer", not win.hold.held)
        elif kind < 0.9 and model.rowCount():
            selected = model.agent_at(rng.randrange(model.rowCount()))
            win.select_agent(selected)
        if selected is not None and selected not in model.visible_agent_ids():
            selected = None  # it left the rows (a filter): its selection went with it
        if rng.random() < 0.3:
            model.flush()
            if not win.hold.held:
                assert model.visible_agent_ids() == _fully_sorted_ids(win), step
            if selected is not None and selected in model.visible_agent_ids():
                assert win.selected_agents() == [selected], step
                current = win.table.currentIndex()
                assert current.isValid() and model.agent_at(current.row()) == selected, step
    win.hold.hold_for("pointer", False)
    model.flush()
    assert model.visible_agent_ids() == _fully_sorted_ids(win)
    assert _tester_failures(qtlog) == []


def test_the_lean_row_panel_draws_what_init_style_option_drew(qtbot):
    """The delegates' panel asks the model for 3 roles instead of initStyleOption's ~10 (a
    whole-table repaint is the burst's longest stall): pixel for pixel the same table, with a
    selected row, the bold own row, a supervisor's italic, budget colours, dimmed and changed
    rows."""
    from datetime import UTC, datetime

    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

    from presence_desktop.domain.presence import format_time
    from presence_desktop.ui import theme
    from presence_desktop.ui.roster import delegates
    from presence_desktop.ui.roster.model import CHANGED_ROLE, CHANGED_TICKS

    def old_panel(self, painter, option, index):
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        opt.icon = opt.icon.__class__()
        age = index.data(CHANGED_ROLE)
        if age is not None and not opt.state & QStyle.StateFlag.State_Selected:
            tint = QColor(theme.colors(opt.palette).row_changed_bg)
            if not self.reduced_motion:
                tint.setAlphaF(1.0 - age / CHANGED_TICKS)
            opt.backgroundBrush = tint
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        return opt

    now = time.time() + 2
    win, roster = _held_window(qtbot, 30, clock=lambda: now)  # a still clock: the times do not tick
    win.ticker.stop()
    win.model.me = win.model.agent_at(2)
    long_ago = format_time(datetime.fromtimestamp(time.time() - 3 * 3600, UTC))
    _change(win, roster, win.model.agent_at(4), status="break", status_since=long_ago)
    _change(win, roster, win.model.agent_at(6), status="lunch", source="supervisor", changed_by="sup-1")
    win.model.flush()
    win.show_today(lambda _agent: None, roster.catalogue, str)
    win.resize(1040, 700)
    win.show()
    qtbot.waitExposed(win)
    win.select_agent(win.model.agent_at(3))
    win.on_connection(ConnectionState(up=True))
    viewport = win.table.viewport()
    lean = viewport.grab().toImage()
    original = delegates._RowDelegate._panel
    try:
        delegates._RowDelegate._panel = old_panel
        assert viewport.grab().toImage() == lean
    finally:
        delegates._RowDelegate._panel = original


def test_the_end_of_a_change_marker_repaints_every_tinted_cell(qtbot):
    """Found trying the window as a user: the tick repainted only the name and status cells of
    a row whose marker faded, so the team and Today cells (same tinted panel) kept the tint."""
    from presence_desktop.ui.roster.columns import COL_TEAM
    from presence_desktop.ui.roster.model import CHANGED_TICKS

    win, roster = _held_window(qtbot, 12, clock=time.time)
    win.ticker.stop()
    win.show_today(lambda _agent: None, roster.catalogue, str)
    win.show()
    qtbot.waitExposed(win)
    _change(win, roster, win.model.agent_at(0), message="changed")
    win.model.flush()
    calls = []
    viewport = win.table.viewport()
    viewport.update = lambda *a: calls.append(a)
    for _ in range(CHANGED_TICKS):
        win.tick()
    xs = {a[0] for a in calls if len(a) == 4}
    for col in (COL_NAME, COL_STATUS, COL_TEAM, COL_TODAY):
        assert win.table.columnViewportPosition(col) in xs, col
