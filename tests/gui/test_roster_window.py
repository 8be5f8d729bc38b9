import time
from datetime import UTC, datetime

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from presence_desktop.domain.identity import Identity
from presence_desktop.domain.presence import format_time, utc_now_iso
from presence_desktop.domain.roster import Roster
from presence_desktop.domain.times import format_duration
from presence_desktop.resources import default_catalogue
from presence_desktop.ui.roster.columns import COL_NAME, COL_STATUS, COL_TIME
from presence_desktop.ui.roster.model import AGENT_ROLE
from presence_desktop.ui.roster.sortkeys import natural_key
from presence_desktop.ui.roster.window import RosterWindow
from tests.gui.fakes import demo_events

SUP = Identity(username="sup-1", sub="s-1", groups=("supervisors",), team_id="team-1",
               supervised_teams=("team-1", "team-2", "team-3", "team-4"))
AGENT = Identity(username="agent-2", sub="s-2", groups=("support_agents",), team_id="team-2")


def make_window(qtbot, identity=SUP, n=40):
    cat = default_catalogue()
    roster = Roster(cat, teams=None if identity.is_supervisor else [identity.team_id])
    roster.begin_join()
    roster.complete_join(demo_events(n))
    win = RosterWindow(roster, cat, identity, profile_name="local")
    qtbot.addWidget(win)
    win.model.sync()
    win.filters.set_teams(roster.team_ids())
    win._refresh_counts()
    return win, roster


def status_cell(win, agent_id):
    for r in range(win.model.rowCount()):
        if win.model.index(r, 0).data(AGENT_ROLE) == agent_id:
            return win.model.index(r, COL_STATUS).data()
    raise AssertionError(f"{agent_id} not visible")


def test_roster_shows_every_agent_with_counts(qtbot, artifacts_dir):
    win, roster = make_window(qtbot)
    win.show()
    qtbot.waitExposed(win)
    assert win.model.rowCount() == 40
    counts = roster.counts()
    avail = counts.get("available")
    assert win.counts.labels["available"][1].accessibleName() == f"Available {avail} / 40"  # shown as "Available {avail}" when full chips do not fit
    win.grab().save(str(artifacts_dir / "roster-fake-40.png"))


def test_filters_search_and_sort(qtbot):
    win, roster = make_window(qtbot)
    win.filters.team.setCurrentIndex(win.filters.team.findData("team-3"))
    assert win.model.rowCount() == 10
    assert all(roster.get(a).event.team_id == "team-3" for a in win.model.visible_agent_ids())
    assert win.counts.labels["available"][1].text().endswith("/ 10")
    win.filters.set_statuses({"available"})
    assert all(roster.display_status(a).id == "available" for a in win.model.visible_agent_ids())
    win.filters.team.setCurrentIndex(0)
    win.filters.set_statuses(None)
    name = roster.get("agent-5").event.display_name
    win.filters.search.setText(name.split()[1].upper())
    assert "agent-5" in win.model.visible_agent_ids()
    assert all(name.split()[1].lower() in roster.get(a).event.display_name.lower() for a in win.model.visible_agent_ids())
    win.filters.search.clear()
    win.table.sortByColumn(COL_TIME, Qt.SortOrder.DescendingOrder)
    times = [roster.time_in_status(a) for a in win.model.visible_agent_ids()]
    assert times == sorted(times, reverse=True)
    win.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
    names = [roster.get(a).event.display_name for a in win.model.visible_agent_ids()]
    assert names == sorted(names, key=natural_key)


def test_name_sort_is_natural(qtbot):
    cat = default_catalogue()
    roster = Roster(cat)
    roster.begin_join()
    roster.complete_join([e.with_(display_name=e.agent_id) for e in demo_events(12)])
    win = RosterWindow(roster, cat, SUP)
    qtbot.addWidget(win)
    win.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
    assert win.model.visible_agent_ids() == [f"agent-{i}" for i in range(1, 13)]


def test_agent_sees_only_own_team_and_no_supervisor_menu(qtbot):
    win, roster = make_window(qtbot, identity=AGENT)
    assert win.model.rowCount() == 10
    assert {roster.get(a).event.team_id for a in win.model.visible_agent_ids()} == {"team-2"}
    assert win.build_row_menu("agent-2") is None


def test_supervisor_context_menu_asks_before_setting(qtbot):
    win, roster = make_window(qtbot)
    menu = win.build_row_menu("agent-3")
    sub = menu.actions()[0].menu()
    brk = next(a for a in sub.actions() if a.text() == "Break")
    with qtbot.assertNotEmitted(win.agentStatusRequested, wait=50):
        brk.trigger()
    assert win.confirm.isVisibleTo(win) and "Break" in win.confirm.label.text()
    with qtbot.waitSignal(win.agentStatusRequested) as sig:
        win.confirm.yes.click()
    assert sig.args == ["agent-3", "break"]
    assert not win.confirm.isVisibleTo(win)


def test_updates_are_coalesced_and_keep_selection_and_scroll(qtbot):
    win, roster = make_window(qtbot, n=40)
    win.resize(900, 300)
    win.show()
    qtbot.waitExposed(win)
    win.select_agent("agent-33")
    win.table.verticalScrollBar().setValue(win.table.verticalScrollBar().maximum())
    scroll = win.table.verticalScrollBar().value()
    base = win.model.flushes
    emitted = []
    win.model.dataChanged.connect(lambda *a: emitted.append(a))
    cat_ids = default_catalogue().ids()
    for i in range(2000):  # a burst: one batch per frame, not 2000 repaints
        aid = f"agent-{i % 40 + 1}"
        ev = roster.get(aid).event.with_(version=roster.version_of(aid) + 1, status=cat_ids[i % len(cat_ids)],
                                         changed_at=utc_now_iso())
        win.on_roster_changed(roster.apply(ev))
    qtbot.waitUntil(lambda: win.model.flushes > base, timeout=2000)
    qtbot.wait(50)
    # one batch per frame: at most a signal per changed row (40 rows), not one per event
    assert win.model.flushes - base <= 2 and len(emitted) <= 2 * 40
    assert win.selected_agents() == ["agent-33"]
    assert win.table.verticalScrollBar().value() == scroll
    assert status_cell(win, "agent-33").startswith(default_catalogue().get(roster.get("agent-33").event.status).label)


def test_disconnected_shows_unknown_and_banner(qtbot, artifacts_dir):
    from presence_desktop.client.service import ConnectionState

    win, roster = make_window(qtbot)
    win.show()
    qtbot.waitExposed(win)
    before = roster.get("agent-1").event.status
    win.on_roster_changed(roster.connection_lost())
    win.on_connection(ConnectionState(up=False, since=roster.down_since, next_retry_at=time.time() + 7,
                                      reason="connection closed (1006)"))
    qtbot.waitUntil(lambda: status_cell(win, "agent-1").startswith("Unknown"), timeout=1000)
    assert win.banner.isVisible() and "Connection lost" in win.banner.label.text()
    assert "Next retry in" in win.banner.label.text()
    assert win.counts.labels["unknown"][1].accessibleName() == "Unknown 40 / 40"
    label = default_catalogue().get(before).label
    assert status_cell(win, "agent-1") == f"Unknown (last: {label})"
    win.grab().save(str(artifacts_dir / "roster-fake-disconnected.png"))


def test_rows_hold_their_place_while_pointed_at(qtbot):
    win, roster = make_window(qtbot, n=12)
    win.table.sortByColumn(COL_STATUS, Qt.SortOrder.AscendingOrder)
    first = win.model.visible_agent_ids()[0]
    win.hold.hold_for("pointer", True)  # what entering the table with the pointer does
    ev = roster.get(first).event
    win.model.note_change(roster.apply(ev.with_(version=ev.version + 1, status="offline", changed_at=utc_now_iso())))
    win.model.flush()
    assert win.model.visible_agent_ids()[0] == first  # did not jump...
    assert status_cell(win, first) == "Offline"  # ...but shows the new value
    win.hold.hold_for("pointer", False)  # pointer leaves: the order catches up
    assert win.model.visible_agent_ids()[-1] == first or roster.display_status(win.model.visible_agent_ids()[-1]).id == "offline"
    assert win.model.visible_agent_ids()[0] != first


def test_source_badge_and_sign_in_again_button(qtbot):
    from presence_desktop.client.service import ConnectionState

    win, roster = make_window(qtbot, n=4)
    ev = roster.get("agent-2").event
    win.on_roster_changed(roster.apply(ev.with_(version=ev.version + 1, status="lunch", source="supervisor",
                                               changed_by="sup-1", changed_at=utc_now_iso())))
    win.model.flush()
    assert status_cell(win, "agent-2") == "Lunch · set by sup-1"
    win.on_connection(ConnectionState(up=False, since=time.time(), reason="connection refused"))
    assert not win.banner.sign_in_button.isVisibleTo(win)
    win.on_connection(ConnectionState(up=False, since=time.time(), reason="sign in again: token refused", needs_sign_in=True))
    assert win.banner.sign_in_button.isVisibleTo(win)
    with qtbot.waitSignal(win.signOutRequested):
        win.banner.sign_in_button.click()


def test_tick_repaints_only_the_ticking_cells_whose_text_changed(qtbot):
    """Idle cost: the 1 s tick asks for a repaint of on-screen time cells whose drawn text
    changed, not of the whole two columns every second."""
    now = [time.time()]
    cat = default_catalogue()
    roster = Roster(cat, clock=lambda: now[0])
    roster.begin_join()
    roster.complete_join(demo_events(40))
    win = RosterWindow(roster, cat, SUP, profile_name="local", clock=lambda: now[0])
    qtbot.addWidget(win)
    win.ticker.stop()
    win.model.sync()
    win.show()
    qtbot.waitExposed(win)
    rows_on_screen = win.table.rowAt(win.table.viewport().height() - 1)
    rows_on_screen = (win.model.rowCount() if rows_on_screen < 0 else rows_on_screen + 1) - win.table.rowAt(0)
    assert rows_on_screen > 5
    updates = []
    vp = win.table.viewport()
    vp.update = lambda region: updates.extend(region)  # one call: a region of cell rects
    row_h = win.table.rowHeight(0)
    win.tick()
    cells = lambda: sum(r.height() for r in updates) // row_h  # noqa: E731 - adjacent cells merge into one rect
    assert cells() == rows_on_screen  # first tick: every ticking cell once
    updates.clear()
    win.tick()
    assert updates == []  # same second: nothing to repaint
    # one second later: only the cells whose drawn text moved (time in status, h:mm:ss, moves
    # every second)
    first = win.table.rowAt(0)
    agents = [win.model.index(first + i, 0).data(AGENT_ROLE) for i in range(rows_on_screen)]
    def faces(t):
        return {a: format_duration(roster.time_in_status(a, t)) for a in agents}

    before = faces(now[0])
    now[0] += 1.0
    after = faces(now[0])
    moved = sum(before[a] != after[a] for a in agents)
    win.tick()
    assert cells() == moved


def test_the_tick_looks_at_no_cell_while_the_window_is_hidden(qtbot):
    """In the tray (the window hidden) the tick neither computes the ticking cells nor asks
    for repaints; shown again, the next tick starts from what the window then paints."""
    now = [time.time()]
    win, roster = _ticking_window(qtbot, now)
    win.hide()
    faces = []
    original = win.model.ticking_faces
    win.model.ticking_faces = lambda row, t: faces.append(row) or original(row, t)
    win.tick()
    assert faces == [] and win.ticking.shown == {}
    win.show()
    qtbot.waitExposed(win)
    win.tick()
    assert faces and len(win.ticking.shown) == len(set(faces))



def test_time_in_status_is_h_mm_ss_everywhere():
    """One format (issue 15): "0:02" read as hours and minutes, "2 min" hid 2:59 of a 3:00 budget."""
    assert [format_duration(s) for s in (0, 5, 59, 60, 725, 3599, 3600, 3725, -3)] == [
        "0:00:00", "0:00:05", "0:00:59", "0:01:00", "0:12:05", "0:59:59", "1:00:00", "1:02:05", "0:00:00"]


def _ticking_window(qtbot, now):
    """40 agents (several changed within the last minute, a few not heard of for 3 min, so
    Unknown/dimmed), budgets warn and over, the signed-in user's row bold, one row selected
    with the focus on its time cell: every look a ticking cell can have."""
    cat = default_catalogue()
    roster = Roster(cat, clock=lambda: now[0], stale_after_s=120)
    roster.begin_join()
    events = demo_events(40, now=now[0])
    warn_at = format_time(datetime.fromtimestamp(now[0] - 0.85 * cat.get("break").budget_s, UTC))
    events = [e.with_(changed_at=utc_now_iso()) if i % 3 == 0 else
              e.with_(status="break", changed_at=warn_at) if i % 5 == 1 else e for i, e in enumerate(events)]
    roster.complete_join(events)
    for i, e in enumerate(events):
        roster.get(e.agent_id).heard_at = now[0] - (200 if i % 7 == 0 else i % 30)
    win = RosterWindow(roster, cat, SUP, profile_name="local", clock=lambda: now[0])
    qtbot.addWidget(win)
    win.ticker.stop()
    win.model.me = "agent-4"
    win.model.sync()
    win.resize(1040, 900)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=2000)
    win.select_agent("agent-5")
    selected = win.table.selectionModel().selectedRows()[0]
    # the current cell (focus frame) on the next row, not selected
    win.table.selectionModel().setCurrentIndex(
        win.model.index(selected.row() + 1, COL_TIME), QItemSelectionModel.SelectionFlag.NoUpdate)
    win.table.setFocus()
    win.setAttribute(Qt.WidgetAttribute.WA_KeyboardFocusChange, True)  # as after Tab: the focus frame shows
    return win, roster


def test_tick_painted_cells_look_exactly_like_the_default_painting(qtbot):
    """The ticking delegate's cached cells (handed over by the tick) are pixel for pixel what
    the default delegate draws: selection, focus, alternate rows, budget colours, dimmed
    Unknown rows and the bold own row included."""
    now = [time.time()]
    win, roster = _ticking_window(qtbot, now)
    levels = {roster.budget_level(a, now[0]) for a in roster.agent_ids()}
    assert {"warn", "over"} <= levels and any(roster.display_status(a).id == "unknown" for a in roster.agent_ids())
    vp = win.table.viewport()
    default = vp.grab().toImage()  # no tick yet: the default path
    delegate = win.ticking.delegate
    assert delegate.blits == 0
    win.tick()  # first tick: every on-screen ticking cell is handed over
    assert len(delegate.looks) > 20
    fast = vp.grab().toImage()
    focused = (win.table.currentIndex().row(), COL_TIME)  # the focus frame takes the default path
    assert delegate.blits == len(delegate.looks) - (focused in delegate.looks)
    assert fast == default
    # the looks serve that one paint only
    vp.grab()
    assert delegate.looks == {}


def test_a_change_after_the_tick_is_painted_from_the_model_not_the_tick(qtbot):
    """A row that changes between the tick and the paint is drawn from its new data: the looks
    the tick handed over are not used once the model has flushed a change (or the proxy's rows
    moved)."""
    now = [time.time()]
    win, roster = _ticking_window(qtbot, now)
    win.tick()
    delegate = win.ticking.delegate
    assert delegate.looks
    first = win.table.rowAt(0)
    aid = win.model.index(first, 0).data(AGENT_ROLE)
    ev = roster.get(aid).event
    win.on_roster_changed(roster.apply(ev.with_(version=ev.version + 1, status="break", changed_at=utc_now_iso())))
    win.model.flush()
    vp = win.table.viewport()
    painted = vp.grab().toImage()
    assert delegate.blits == 0 and delegate.looks == {}
    assert painted == vp.grab().toImage()  # what the default painting shows now
    row = win.model.visible_agent_ids().index(aid)
    assert win.model.index(row, COL_TIME).data() == "0:00:00"


def test_the_tick_maps_rows_again_after_the_order_changed(qtbot):
    """The tick remembers which source row each on-screen row shows until the proxy's rows
    move: after a re-sort it repaints the cells whose agent changed, with that agent's look."""
    now = [time.time()]
    win, roster = _ticking_window(qtbot, now)
    win.tick()
    win.table.sortByColumn(COL_NAME, Qt.SortOrder.DescendingOrder)
    win.tick()
    first = win.table.rowAt(0)
    assert win.ticking.shown[(first, COL_TIME)][0] == win.model.index(first, 0).data(AGENT_ROLE)
    vp = win.table.viewport()
    fast = vp.grab().toImage()
    assert win.ticking.delegate.blits > 0
    assert fast == vp.grab().toImage()


def _render_region(widget, region):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QPixmap

    dpr = widget.devicePixelRatio()
    pm = QPixmap(widget.size() * dpr)
    pm.setDevicePixelRatio(dpr)
    pm.fill(Qt.GlobalColor.black)
    widget.render(pm, QPoint(), region)
    return pm.toImage()


@pytest.mark.parametrize("window_state", ["active", "inactive", "table_unfocused"])
def test_the_tick_paint_of_ticking_cells_looks_exactly_like_the_views_own(qtbot, window_state):
    """The paint event the tick causes (just the changed ticking cells) is drawn by the table
    from cached cells with the option the view would give each cell: pixel for pixel the
    view's own painting of that region, with the active window, an inactive one (selection
    colours) and the focus elsewhere (no focus frame). The focused cell (a gradient frame that
    differs by a shade when drawn into a pixmap) leaves the whole paint to the view, whose
    delegate still blits the other cells."""
    from PySide6.QtWidgets import QWidget

    now = [time.time()]
    win, roster = _ticking_window(qtbot, now)
    if window_state == "inactive":
        other = QWidget()
        qtbot.addWidget(other)
        other.show()
        other.activateWindow()
        qtbot.waitUntil(lambda: not win.isActiveWindow(), timeout=2000)
    elif window_state == "table_unfocused":
        win.filters.search.setFocus()
        qtbot.waitUntil(lambda: not win.table.hasFocus(), timeout=2000)
    table, vp = win.table, win.table.viewport()
    assert table.hasFocus() == (window_state == "active")
    win.tick()
    region, cells = win.ticking.cells
    assert len(cells) > 20
    fast = _render_region(vp, region)
    focused = window_state == "active"  # the current cell, with focus, is among the changed cells
    assert win.ticking.fast_paints == (0 if focused else 1)
    assert win.ticking.delegate.blits == (len(cells) - 1 if focused else 0)
    win.ticking.drop_looks()
    assert fast == _render_region(vp, region)  # the view's own painting of the same cells
    assert win.ticking.fast_paints == (0 if focused else 1)
    if focused:
        return
    # and the repaint a tick asks for is such a paint (unless something else, here the
    # window's activation, has the whole viewport repainted at the same time)
    for _ in range(3):
        qtbot.wait(20)
        now[0] += 1.0
        win.tick()
        qtbot.wait(20)
        if win.ticking.fast_paints == 2:
            break
    assert win.ticking.fast_paints == 2


def test_a_pointer_over_the_table_leaves_the_tick_paint_to_the_view(qtbot):
    """Hover changes how a cell is drawn (styles that highlight the row under the pointer):
    with the pointer over the table the tick's cells take the view's own path."""
    now = [time.time()]
    win, roster = _ticking_window(qtbot, now)
    win.table.viewport().underMouse = lambda: True
    win.tick()
    region, cells = win.ticking.cells
    _render_region(win.table.viewport(), region)
    focused = (win.table.currentIndex().row(), COL_TIME)  # the focus frame takes the default path
    assert win.ticking.fast_paints == 0
    assert win.ticking.delegate.blits == len(cells) - any((r, c) == focused for r, c, *_ in cells)


# --- held order: released by re-placing only the rows that changed (hold_order) -----------------

def _held_window(qtbot, n, clock):
    cat = default_catalogue()
    roster = Roster(cat)
    roster.begin_join()
    roster.complete_join(demo_events(n))
    win = RosterWindow(roster, cat, SUP, profile_name="local", clock=clock)
    qtbot.addWidget(win)
    win.model.sync()
    return win, roster


def _fully_sorted_ids(win):
    """What one full sort shows for the window's filter and sort: every agent the filter
    matches, in the order of its sort key (checked against the former comparator in
    test_roster_sorting.py), ties by agent id."""
    model, roster = win.model, win.roster
    col, desc = model.sortColumn(), model.sortOrder() == Qt.SortOrder.DescendingOrder
    agents = [a for a in roster.agent_ids() if model.roster_filter.matches(roster, a)]
    return sorted(agents, key=lambda a: (model.sort_key(a, col), a), reverse=desc)


def _random_change(roster, rng, agent_id):
    from presence_desktop.client.sample import STATUS_IDS

    ev = roster.get(agent_id).event
    return roster.apply(ev.with_(version=ev.version + 1, status=rng.choice(STATUS_IDS),
                                 message=rng.choice([None, "back in 10", "VIP queue", "a"]),
                                 changed_at=format_time(datetime.fromtimestamp(1_700_000_000 - rng.uniform(0, 3000), UTC))))


@pytest.mark.parametrize("col", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("order", [Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder])
def test_held_order_released_equals_a_full_sort(qtbot, col, order):
    """Changes, joins and filter changes while held; after each release the rows stand exactly
    as one full sort puts them (names are distinct here: among equal keys a re-placed row goes
    after its equals, as dynamic sorting always did)."""
    import random

    from presence_desktop.domain.roster import RosterFilter

    rng = random.Random(col * 2 + int(order == Qt.SortOrder.DescendingOrder))
    win, roster = _held_window(qtbot, 300, clock=lambda: 1_700_000_000.0)
    extra = demo_events(380)[300:]  # agents who join while the order is held (distinct names up to 400)
    win.table.sortByColumn(col, order)
    for round_ in range(4):
        win.hold.hold_for("pointer", True)
        shown_before = win.model.visible_agent_ids()
        for step in range(rng.choice([1, 5, 40, 120])):
            kind = rng.random()
            if kind < 0.8:
                win.on_roster_changed(_random_change(roster, rng, rng.choice(list(roster.agent_ids()))))
            elif kind < 0.9 and extra:
                win.on_roster_changed(roster.apply(extra.pop()))
                win.model.flush()  # new rows go in now (binary search among held rows)
            elif kind < 0.95:
                status = rng.choice([None, "available", "lunch"])
                team = rng.choice([None, "team-1"])
                win.model.set_roster_filter(RosterFilter(teams=frozenset({team}) if team else None,
                                                         statuses=frozenset({status}) if status else None))
            if step % 7 == 0:
                win.model.flush()
        win.model.flush()
        if win.model.roster_filter == RosterFilter() and not win.model.rowCount() > len(shown_before):
            assert win.model.visible_agent_ids() == shown_before  # held: nothing moved
        win.hold.hold_for("pointer", False)
        assert win.model.visible_agent_ids() == _fully_sorted_ids(win), f"round {round_}"


def test_held_status_filter_catches_up_on_release(qtbot):
    from presence_desktop.domain.roster import RosterFilter

    win, roster = _held_window(qtbot, 60, clock=time.time)
    win.model.set_roster_filter(RosterFilter(statuses=frozenset({"available"})))
    shown = win.model.visible_agent_ids()
    hidden = next(a for a in roster.agent_ids() if a not in shown)
    win.hold.hold_for("pointer", True)
    for agent_id, status in ((shown[0], "lunch"), (hidden, "available")):
        ev = roster.get(agent_id).event
        win.on_roster_changed(roster.apply(ev.with_(version=ev.version + 1, status=status, changed_at=utc_now_iso())))
    win.model.flush()
    assert win.model.visible_agent_ids() == shown  # the row under the pointer stays, shows Lunch
    assert status_cell(win, shown[0]) == "Lunch"
    win.hold.hold_for("pointer", False)
    assert shown[0] not in win.model.visible_agent_ids() and hidden in win.model.visible_agent_ids()
    assert win.model.visible_agent_ids() == _fully_sorted_ids(win)


def test_release_after_a_few_changes_does_not_resort_the_roster(qtbot, monkeypatch):
    from presence_desktop.ui.roster.model import RosterTableModel

    win, roster = _held_window(qtbot, 400, clock=lambda: 1_700_000_000.0)
    win.table.sortByColumn(COL_STATUS, Qt.SortOrder.AscendingOrder)
    fetched = []
    real = RosterTableModel.sort_key
    monkeypatch.setattr(RosterTableModel, "sort_key", lambda self, agent, col, now=None: fetched.append(agent) or real(self, agent, col, now))
    import random

    rng = random.Random(3)
    win.hold.hold_for("pointer", True)
    for agent_id in ("agent-5", "agent-77", "agent-300"):
        win.on_roster_changed(_random_change(roster, rng, agent_id))
    win.model.flush()
    assert fetched == []  # held: no key looked at
    win.hold.hold_for("pointer", False)
    # the 3 changed rows' keys, each once (a full sort would fetch all 400)
    assert sorted(fetched) == sorted(["agent-5", "agent-77", "agent-300"])
    assert win.model.visible_agent_ids() == _fully_sorted_ids(win)
    fetched.clear()
    win.hold.hold_for("pointer", True)
    win.hold.hold_for("pointer", False)  # nothing changed: nothing to do
    assert fetched == []


def test_release_after_most_rows_changed_sorts_once(qtbot):
    import random

    win, roster = _held_window(qtbot, 300, clock=lambda: 1_700_000_000.0)
    win.table.sortByColumn(COL_TIME, Qt.SortOrder.DescendingOrder)
    rng = random.Random(5)
    win.hold.hold_for("pointer", True)
    for agent_id in list(roster.agent_ids())[:280]:
        win.on_roster_changed(_random_change(roster, rng, agent_id))
    win.model.flush()
    layouts = []
    win.model.layoutChanged.connect(lambda *_: layouts.append(1))
    win.hold.hold_for("pointer", False)
    assert len(layouts) == 1  # one sort, not 280 re-placements
    assert win.model.visible_agent_ids() == _fully_sorted_ids(win)


# --- each optimisation can be switched off -----------------------------------------------------

def test_without_hold_order_rows_move_as_they_change(qtbot):
    cat = default_catalogue()
    roster = Roster(cat)
    roster.begin_join()
    roster.complete_join(demo_events(12))
    win = RosterWindow(roster, cat, SUP, hold_order=False)
    qtbot.addWidget(win)
    assert win.hold is None and not win.model.held
    win.table.sortByColumn(COL_STATUS, Qt.SortOrder.AscendingOrder)
    first = win.model.visible_agent_ids()[0]
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QEnterEvent

    win.table.viewport().event(QEnterEvent(QPointF(5, 5), QPointF(5, 5), QPointF(5, 5)))  # the pointer enters
    ev = roster.get(first).event
    win.model.note_change(roster.apply(ev.with_(version=ev.version + 1, status="offline", changed_at=utc_now_iso())))
    win.model.flush()
    assert win.model.visible_agent_ids()[0] != first  # re-sorted at once: nothing held it


def test_without_the_ticking_fast_path_the_tick_repaints_the_ticking_columns(qtbot):
    cat = default_catalogue()
    roster = Roster(cat)
    roster.begin_join()
    roster.complete_join(demo_events(20))
    win = RosterWindow(roster, cat, SUP, fast_ticking=False)
    qtbot.addWidget(win)
    win.ticker.stop()
    win.show()
    qtbot.waitExposed(win)
    assert win.ticking is None and win.table.paint_hook is None
    updates = []
    vp = win.table.viewport()
    vp.update = lambda *args: updates.append(args)
    win.tick()
    header = win.table.horizontalHeader()
    xs = sorted(a[0] for a in updates)
    assert xs == [header.sectionViewportPosition(COL_TIME)]
