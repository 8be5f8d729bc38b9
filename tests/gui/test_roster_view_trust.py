"""The roster side of issue 15: live or not at a glance, changes you can see, keyboard and sizes,
a look of this decade. Each test starts from the failing input the issue reports."""

from __future__ import annotations

import time

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication

from presence_desktop.client.service import ConnectionState
from presence_desktop.domain.presence import utc_now_iso
from presence_desktop.resources import default_catalogue
from presence_desktop.ui.roster.columns import COL_MESSAGE, COL_NAME, COL_STATUS, COL_TEAM, COLUMNS
from presence_desktop.ui.roster.delegates import initials
from presence_desktop.ui.roster.model import AGENT_ROLE, CHANGED_ROLE, CHANGED_TICKS, DIMMED_ROLE
from tests.gui.test_roster_window import SUP, make_window


def apply_many(roster, events):
    """Apply ``events`` one by one; the merged change (what a feed batch hands the window)."""
    from presence_desktop.domain.roster import Change

    change = Change()
    for event in events:
        change.merge(roster.apply(event))
    return change

def _row_of(win, agent_id):
    return win.model.visible_agent_ids().index(agent_id)


def _change(win, roster, agent_id, **fields):
    ev = roster.get(agent_id).event
    win.on_roster_changed(roster.apply(ev.with_(version=ev.version + 1, changed_at=utc_now_iso(), **fields)))
    win.model.flush()


# --- 3. live or not, at a glance ----------------------------------------------------------------

def test_a_joining_window_shows_the_roster_as_not_current(qtbot):
    """'Connected · loading roster…' showed for minutes while rows looked live."""
    win, roster = make_window(qtbot)
    win.on_connection(ConnectionState(up=True))
    assert win.live_line.text().startswith("● Live")
    assert win.model.index(0, COL_NAME).data(DIMMED_ROLE) is False
    win.on_connection(ConnectionState(up=True, joining=True))
    assert "Not current" in win.live_line.text() and "loading the roster" in win.live_line.text()
    assert all(win.model.index(r, COL_NAME).data(DIMMED_ROLE) for r in range(win.model.rowCount()))
    assert "Not current (loading the roster" in win.model.index(0, COL_NAME).data(Qt.ItemDataRole.ToolTipRole)
    win.on_connection(ConnectionState(up=False, since=time.time() - 30, reason="keep-alive timeout"))
    assert "disconnected since" in win.live_line.text()
    win.on_connection(ConnectionState(up=True))
    assert win.live_line.text().startswith("● Live")
    assert not any(win.model.index(r, COL_NAME).data(DIMMED_ROLE) for r in range(win.model.rowCount())
                   if roster.display_status(win.model.index(r, 0).data(AGENT_ROLE)).id != "unknown")


def test_missed_keep_alives_show_the_roster_as_not_current(qtbot):
    """A frozen server was noticed after ~40 s and rows looked live meanwhile."""
    win, _roster = make_window(qtbot)
    win.on_connection(ConnectionState(up=True))
    win.on_connection(ConnectionState(up=True, quiet_since=time.time() - 95))
    assert "Not current: nothing from the server since" in win.live_line.text()
    assert win.model.index(0, COL_NAME).data(DIMMED_ROLE)
    win.on_connection(ConnectionState(up=True))
    assert win.live_line.text().startswith("● Live")


def test_the_live_line_takes_its_place_always_so_rows_do_not_move(qtbot):
    win, _roster = make_window(qtbot)
    win.show()
    qtbot.waitExposed(win)
    at = win.table.mapTo(win, QPoint(0, 0))
    win.on_connection(ConnectionState(up=True, joining=True))
    QApplication.processEvents()
    assert win.table.mapTo(win, QPoint(0, 0)) == at


def test_there_is_no_last_heard_column():
    """'Last heard' was the time this window last saw a status change, not a sign of life."""
    assert "heard" not in {c.key for c in COLUMNS}
    assert all("heard" not in c.title.lower() for c in COLUMNS)


# --- 4. changes you can see ---------------------------------------------------------------------

def test_a_changed_row_carries_a_marker_for_a_few_ticks(qtbot):
    """No flash or marker on a changed row; the only hint was a time back at 0:00."""
    win, roster = make_window(qtbot)
    win.ticker.stop()
    agent = roster.agent_ids()[3]
    assert win.model.index(_row_of(win, agent), COL_NAME).data(CHANGED_ROLE) is None
    _change(win, roster, agent, status="lunch")
    assert win.model.index(_row_of(win, agent), COL_NAME).data(CHANGED_ROLE) == 0
    for k in range(1, CHANGED_TICKS):
        win.tick()
        assert win.model.index(_row_of(win, agent), COL_NAME).data(CHANGED_ROLE) == k
    win.tick()
    assert win.model.index(_row_of(win, agent), COL_NAME).data(CHANGED_ROLE) is None


def test_with_reduced_motion_the_marker_stays_still(qtbot):
    """A fading flash repaints the row every tick; with reduced motion only its end repaints."""
    from presence_desktop.domain.roster import Roster
    from presence_desktop.ui.roster.window import RosterWindow
    from tests.gui.fakes import demo_events

    cat = default_catalogue()
    roster = Roster(cat)
    roster.begin_join()
    roster.complete_join(demo_events(12))
    repaints = {}
    for reduced in (False, True):
        win = RosterWindow(roster, cat, SUP, reduced_motion=reduced, fast_ticking=False)
        qtbot.addWidget(win)
        win.ticker.stop()
        win.show()
        qtbot.waitExposed(win)
        agent = win.model.visible_agent_ids()[0]
        _change(win, roster, agent, message=f"reduced {reduced}")
        calls = []
        vp = win.table.viewport()
        real = vp.update
        vp.update = lambda *a, calls=calls, real=real: (calls.append(a), real(*a))
        for _ in range(CHANGED_TICKS):
            win.tick()
        name_x = win.table.columnViewportPosition(COL_NAME)
        repaints[reduced] = sum(1 for a in calls if len(a) == 4 and a[0] == name_x)
        assert win.person_delegate.reduced_motion is reduced
    assert repaints[False] == CHANGED_TICKS  # a step of the fade each tick, then the end
    assert repaints[True] == 1  # only the end


def test_a_burst_marks_no_rows(qtbot, monkeypatch):
    """A marker on thousands of rows at once says nothing: a flush of more rows marks none."""
    from presence_desktop.ui.roster import model as roster_model

    win, roster = make_window(qtbot)
    monkeypatch.setattr(roster_model, "ROW_SIGNALS_MAX", 10)
    events = [roster.get(a).event for a in roster.agent_ids()]
    win.on_roster_changed(apply_many(roster, [e.with_(version=e.version + 1, message="burst") for e in events[:11]]))
    win.model.flush()
    assert win.model.changed_at == {}
    win.on_roster_changed(apply_many(roster, [e.with_(version=e.version + 2, message="few") for e in events[:3]]))
    win.model.flush()
    assert set(win.model.changed_at) == {e.agent_id for e in events[:3]}


def test_a_held_order_says_so_and_keyboard_work_holds_it_too(qtbot):
    """Nothing said that rows were held while the pointer rested on the table (a list filtered to
    Available filled with On call rows), and the hold did not apply to keyboard focus."""
    win, roster = make_window(qtbot)
    win.filters.set_statuses({"available"})
    shown = win.model.visible_agent_ids()
    assert win.hold_note.text() == ""
    win.hold.hold_for("pointer", True)
    assert win.hold_note.text() == "‖ Order paused while you point; move away to refresh"
    _change(win, roster, shown[0], status="on_call")
    assert win.model.visible_agent_ids() == shown  # held, and the note says why
    win.hold.hold_for("pointer", False)
    assert win.hold_note.text() == "" and shown[0] not in win.model.visible_agent_ids()
    # the keyboard: a key pressed in the table holds until the focus leaves it (or Esc)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=2000)
    win.table.setFocus()
    qtbot.waitUntil(win.table.hasFocus, timeout=1000)
    assert not win.hold.held  # focus alone (the window opens with it there) holds nothing
    qtbot.keyClick(win.table, Qt.Key.Key_Down)
    assert win.hold.held and "use the keys" in win.hold_note.text()
    shown = win.model.visible_agent_ids()
    _change(win, roster, shown[0], status="break")
    assert win.model.visible_agent_ids() == shown
    qtbot.keyClick(win.table, Qt.Key.Key_Escape)
    assert not win.hold.held and shown[0] not in win.model.visible_agent_ids()
    qtbot.keyClick(win.table, Qt.Key.Key_Down)
    assert win.hold.held
    win.filters.search.setFocus()
    qtbot.waitUntil(lambda: not win.hold.held, timeout=1000)


def test_counts_keep_their_places_and_zeros_and_leave_the_supervisor_out(qtbot):
    """Zero-count statuses vanished, 'Available N / M' hid while a row was Unknown, and a
    supervisor who set their own status was counted as an agent (/40 -> /41)."""
    win, roster = make_window(qtbot)
    events = [roster.get(a).event for a in roster.agent_ids()]
    apply_many(roster, [e.with_(version=e.version + 1, status="available") for e in events])
    me = events[0].with_(agent_id=SUP.agent_id, display_name="Sam Supervisor", version=1, status="break")
    win.on_roster_changed(roster.apply(me))
    win._refresh_counts()
    chips = [sid for sid, (_i, t) in win.counts.labels.items() if t.isVisibleTo(win.counts)]
    assert chips == [st.id for st in default_catalogue()]  # catalogue order, zeros included
    assert win.counts.labels["available"][1].accessibleName() == "Available 40 / 40"  # not / 41
    assert win.counts.labels["break"][1].accessibleName() == "Break 0 / 40"  # the supervisor's break
    assert win.counts.labels["on_call"][1].accessibleName() == "On call 0 / 40"


# --- 6. keyboard and sizes ------------------------------------------------------------------------

def test_the_menu_key_opens_the_selected_rows_menu(qtbot):
    """The keyboard Menu key opened the menu of the row below the selected one."""
    win, roster = make_window(qtbot)
    win.show()
    qtbot.waitExposed(win)
    opened = []
    win.table.contextMenuForRow.connect(lambda index, pos: opened.append(index.data(AGENT_ROLE)))
    target = win.model.visible_agent_ids()[4]
    win.select_agent(target)
    rect = win.table.visualRect(win.model.index(4, 0))
    # what Qt sends for the Menu key and Shift+F10: a keyboard event at the item, in the
    # table's (not the viewport's) coordinates
    pos = win.table.viewport().mapTo(win.table, rect.center())
    QApplication.sendEvent(win.table, QContextMenuEvent(QContextMenuEvent.Reason.Keyboard, pos,
                                                        win.table.mapToGlobal(pos)))
    assert opened == [target]
    menu = win.build_row_menu(opened[0])
    assert target in menu.actions()[0].text() or roster.get(target).event.display_name in menu.actions()[0].text()


def test_tab_leaves_the_table_and_ctrl_f_goes_to_search(qtbot):
    win, _roster = make_window(qtbot)
    win.show()
    qtbot.waitExposed(win)
    assert not win.table.tabKeyNavigation()
    win.table.setFocus()
    qtbot.waitUntil(win.table.hasFocus, timeout=1000)
    qtbot.keyClick(win.table, Qt.Key.Key_Tab)
    assert not win.table.hasFocus()
    win.table.setFocus()
    qtbot.keyClick(win, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(win.filters.search.hasFocus, timeout=1000)


def test_columns_keep_their_use_at_800_px_and_do_not_waste_1600_px(qtbot, artifacts_dir):
    """At 800 px the Message column shrank to ~60 px; at 1600 px it took 870 px of white between
    columns."""
    win, _roster = make_window(qtbot)
    win.show()
    qtbot.waitExposed(win)
    header = win.table.horizontalHeader()
    win.resize(800, 600)
    qtbot.waitUntil(lambda: win.table.viewport().width() < 800, timeout=1000)
    QApplication.processEvents()
    assert header.sectionSize(COL_MESSAGE) >= 200
    assert not win.table.horizontalScrollBar().isVisible()  # every column on screen
    assert header.length() <= win.table.viewport().width()
    win.resize(1600, 700)
    QApplication.processEvents()
    qtbot.waitUntil(lambda: header.length() >= win.table.viewport().width() - 2, timeout=1000)
    # Message is the last column: what it does not use is the row's end, not a gap between columns
    assert header.visualIndex(COL_MESSAGE) == header.count() - 1
    assert header.sectionSize(COL_NAME) > COLUMNS[COL_NAME].width  # the others took their share
    assert header.sectionSize(COL_TEAM) > COLUMNS[COL_TEAM].width


# --- 7. a look of this decade ---------------------------------------------------------------------

def test_a_list_of_people_not_an_admin_grid(qtbot):
    """Inner grid lines, alternating rows, usernames, a 210 px Status column for one word."""
    win, roster = make_window(qtbot)
    assert not win.table.showGrid() and not win.table.alternatingRowColors()
    agent = roster.agent_ids()[0]
    ev = roster.get(agent).event
    assert win.model.index(_row_of(win, agent), COL_NAME).data() == ev.display_name != agent
    assert win.table.itemDelegateForColumn(COL_STATUS) is win.pill_delegate
    assert win.table.itemDelegateForColumn(COL_NAME) is win.person_delegate
    assert [initials(n) for n in ("Ada Lovelace", "agent-7", "Grace Brewster Hopper", "", "émile", "<!> ok")] == [
        "AL", "A7", "GH", "?", "ÉM", "OK"]


def test_team_display_names_come_from_the_settings(qtbot):
    from presence_desktop.client.settings import AppSettings
    from presence_desktop.domain.roster import Roster
    from presence_desktop.ui.roster.columns import set_team_names
    from presence_desktop.ui.roster.window import RosterWindow
    from tests.gui.fakes import demo_events

    assert AppSettings().team_names == {} and AppSettings().reduced_motion is False
    cat = default_catalogue()
    roster = Roster(cat)
    roster.begin_join()
    roster.complete_join(demo_events(8))
    win = RosterWindow(roster, cat, SUP, team_names={"team-1": "Billing <b>EU</b>"})
    qtbot.addWidget(win)
    try:
        agent = next(a for a in roster.agent_ids() if roster.get(a).event.team_id == "team-1")
        assert win.model.index(_row_of(win, agent), COL_TEAM).data() == "Billing <b>EU</b>"  # as text
        win.filters.set_teams(roster.team_ids())
        assert win.filters.team.itemData(win.filters.team.findText("Billing <b>EU</b>")) == "team-1"
    finally:
        set_team_names({})


def test_hide_offline_and_several_statuses_at_once(qtbot):
    win, roster = make_window(qtbot)
    win.filters.hide_offline.setChecked(True)
    shown = {roster.display_status(a).id for a in win.model.visible_agent_ids()}
    assert "offline" not in shown and len(win.model.visible_agent_ids()) == sum(
        roster.display_status(a).id != "offline" for a in roster.agent_ids())
    win.filters.hide_offline.setChecked(False)
    win.filters.set_statuses({"break", "lunch"})
    assert {roster.display_status(a).id for a in win.model.visible_agent_ids()} <= {"break", "lunch"}
    assert len(win.model.visible_agent_ids()) == sum(
        roster.display_status(a).id in ("break", "lunch") for a in roster.agent_ids())
    assert win.filters.status.text().startswith("2 statuses")
    win.filters.set_statuses(None)
    assert win.model.rowCount() == len(roster)


def test_grouping_by_team_keeps_teams_together_with_counts_and_folds(qtbot, artifacts_dir):
    """Team ids in a flat list; no grouping by team, no per-team counts, nothing to fold."""
    win, roster = make_window(qtbot)
    win.filters.group.setChecked(True)
    assert win.teams.isVisibleTo(win)
    teams = [roster.get(a).event.team_id for a in win.model.visible_agent_ids()]
    assert teams == sorted(teams, key=lambda t: int(t.split("-")[1]))  # contiguous, in team order
    first_team = [a for a in win.model.visible_agent_ids() if roster.get(a).event.team_id == "team-1"]
    names = [roster.get(a).event.display_name for a in first_team]
    assert names == sorted(names, key=str.casefold)  # sorted by the chosen column within a team
    avail = sum(roster.display_status(a).id == "available" for a in first_team)
    assert win.teams.chips["team-1"].text() == f"▾ team-1 · {avail} / {len(first_team)} available"
    header = win.table.horizontalHeader()
    assert header.visualIndex(COL_TEAM) == 0 and win.team_delegate.grouped  # the team heads its rows
    assert win.team_delegate.captions["team-1"] == f"team-1 · {avail}/{len(first_team)}"
    win.teams.chips["team-2"].setChecked(False)  # fold team-2 away
    assert "team-2" not in {roster.get(a).event.team_id for a in win.model.visible_agent_ids()}
    assert win.teams.chips["team-2"].text().startswith("▸ team-2")
    win.show()
    qtbot.waitExposed(win)
    win.grab().save(str(artifacts_dir / "roster-grouped-team2-folded.png"))
    win.teams.chips["team-2"].setChecked(True)
    win.filters.group.setChecked(False)
    assert win.model.rowCount() == len(roster) and not win.teams.isVisibleTo(win)
    assert header.visualIndex(COL_TEAM) == COL_TEAM


def test_a_row_past_its_budget_says_so_on_the_whole_row_and_in_words_when_selected(qtbot):
    """Only the time cell was tinted: a selected row (selection colours) showed no overrun at all."""
    from datetime import UTC, datetime

    from PySide6.QtCore import Qt

    from presence_desktop.domain.presence import format_time
    from presence_desktop.ui.roster.columns import COL_MESSAGE, COL_NAME, COL_TIME
    from presence_desktop.ui.roster.model import AGENT_ROLE

    win, roster = make_window(qtbot)
    agent = win.model.visible_agent_ids()[0]
    ev = roster.get(agent).event
    long_ago = format_time(datetime.fromtimestamp(time.time() - 20 * 60, UTC))
    win.on_roster_changed(roster.apply(ev.with_(version=ev.version + 1, status="break", changed_at=long_ago,
                                                status_since=long_ago)))
    win.model.flush()
    row = next(r for r in range(win.model.rowCount()) if win.model.index(r, 0).data(AGENT_ROLE) == agent)
    time_text = win.model.index(row, COL_TIME).data()
    assert time_text.startswith("⚠ ")  # words, not only colour: also on a selected row
    for col in (COL_NAME, COL_MESSAGE):
        assert win.model.index(row, col).data(Qt.ItemDataRole.BackgroundRole) is not None  # the whole row
    other = next(r for r in range(win.model.rowCount())
                 if roster.budget_overrun(win.model.index(r, 0).data(AGENT_ROLE)) is None)
    assert win.model.index(other, COL_NAME).data(Qt.ItemDataRole.BackgroundRole) is None
    win.table.selectRow(row)
    win.resize(1040, 500)
    qtbot.wait(50)
    from pathlib import Path

    out = Path(__file__).resolve().parents[1] / "artifacts"
    out.mkdir(exist_ok=True)
    win.grab().save(str(out / "roster-over-budget.png"))
