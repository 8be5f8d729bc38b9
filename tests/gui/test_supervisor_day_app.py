"""The supervisor's day wired into the app (issue 19), driven through GuiApp with fake backends:
the row menu's "Today of …" and alerts, the floors line, the wallboard and the CSV export."""

from __future__ import annotations

import csv

from tests.gui.test_signin_flow import FakeAuth, until
from tests.gui.test_team_picker import ARTIFACTS, make_gui, sup


async def open_as_supervisor(qtbot, tmp_path):
    FakeAuth.remembered = sup(supervises="team-1,team-2")
    gui, backends = make_gui(tmp_path)
    await gui.start("aws")
    qtbot.addWidget(gui.window)
    await until(lambda: gui.window.model.rowCount() == 20 and not gui.service.connection.joining)
    return gui, backends


def action(menu, startswith):
    return next(a for a in menu.actions() if a.text().startswith(startswith))


async def test_row_menu_alert_fires_once_when_the_agent_becomes_available(qtbot, tmp_path):
    gui, backends = await open_as_supervisor(qtbot, tmp_path)
    sd, relay = gui.supervisor_day, backends["relay"]
    agent = next(a for a in gui.service.roster.agent_ids()
                 if not gui.service.roster.display_status(a).routable)
    menu = gui.window.build_row_menu(agent)
    action(menu, "Tell me when").trigger()
    assert [r.kind for r in sd.alerts.rules] == ["agent_available"]
    assert "&Supervisor" in [a.text() for a in gui.window.menuBar().actions()]
    assert gui.settings.alerts and gui.settings.alerts[0]["agent_id"] == agent  # kept for the next start
    sd.check_alerts()  # the baseline: not available, nothing said
    await relay.set_status("available", agent_id=agent)  # a live event: the agent frees up
    await until(lambda: gui.service.roster.display_status(agent).routable)
    sd.check_alerts()
    assert gui.tray.last_notification and "is available" in gui.tray.last_notification[0]
    assert sd.alerts.rules == [] and gui.settings.alerts == []  # "once": gone after it fired
    await gui.runtime.shutdown()


async def test_floors_line_says_below_in_words_and_the_wallboard_opens(qtbot, tmp_path):
    gui, backends = await open_as_supervisor(qtbot, tmp_path)
    relay, sd = backends["relay"], gui.supervisor_day
    relay.floors_by_team = {"team-1": [{"statuses": ["available", "on_call"], "minimum": 50, "label": "Routable"}]}
    sd.refresh_floors()
    await until(lambda: "BELOW" in sd.floors_label.text())
    assert "Routable" in sd.floors_label.text() and "floor 50" in sd.floors_label.text()
    board = sd.open_wallboard(full_screen=False)
    qtbot.addWidget(board)
    board.resize(1920, 1080)
    await until(lambda: [t.team_id for t in board.tiles] == ["team-1", "team-2"])
    board.refresh()
    assert "▼ BELOW" in board.tiles[0].floors.text() and board.banner.text() == "● Live"
    qtbot.wait(100)  # the layout follows the new texts before the screenshot
    board.grab().save(str(ARTIFACTS / "wallboard-app.png"))
    await gui.runtime.shutdown()


async def test_today_dialog_and_csv_export(qtbot, tmp_path):
    gui, backends = await open_as_supervisor(qtbot, tmp_path)
    sd = gui.supervisor_day
    agent = gui.service.roster.agent_ids()[0]
    dlg = sd.open_agent_day(agent)
    qtbot.addWidget(dlg)
    await until(lambda: dlg.table.rowCount() >= 1)
    assert dlg.bar.segments
    out = tmp_path / "today.csv"
    sd.export_csv(path=str(out))
    await until(out.exists)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows and {r["team_id"] for r in rows} <= {"team-1", "team-2"}
    assert set(rows[0]) >= {"agent_id", "status", "start", "end", "seconds", "source", "changed_by"}
    await gui.runtime.shutdown()


async def test_an_agent_gets_no_supervisor_menu(qtbot, tmp_path):
    from tests.gui.test_signin_flow import SignedIn
    from tests.gui.test_team_picker import Claims

    FakeAuth.remembered = SignedIn("agent-1", Claims("agent-1", groups=("support_agents",)), remembered=True)
    gui, backends = make_gui(tmp_path)
    await gui.start("aws")
    qtbot.addWidget(gui.window)
    assert gui.supervisor_day is None
    from presence_desktop.ui.roster.columns import COL_TODAY

    assert gui.window.table.isColumnHidden(COL_TODAY)  # no day to draw for an agent
    assert "&Supervisor" not in [a.text() for a in gui.window.menuBar().actions()]
    await gui.runtime.shutdown()


async def test_the_today_column_draws_each_agents_day_and_can_be_hidden(qtbot, tmp_path):
    from presence_desktop.ui.roster.columns import COL_TODAY

    gui, backends = await open_as_supervisor(qtbot, tmp_path)
    win, sd = gui.window, gui.supervisor_day
    assert not win.table.isColumnHidden(COL_TODAY)
    await until(lambda: ("history", "team-1") in backends["relay"].calls)  # today's history at the join
    agent = gui.service.roster.agent_ids()[0]
    segments, start, end, gaps, now = sd._today_of(agent)
    assert segments and start <= segments[-1].start <= now <= end and segments[-1].ongoing and not gaps
    toggle = next(a for a in win.menuBar().actions() if a.text() == "&Supervisor").menu().actions()[0]
    assert toggle.text() == "Today's timeline column"
    win.resize(1400, 520)
    qtbot.wait(100)
    win.grab().save(str(ARTIFACTS / "roster-today-column.png"))
    toggle.setChecked(False)
    assert win.table.isColumnHidden(COL_TODAY)
    toggle.setChecked(True)
    assert not win.table.isColumnHidden(COL_TODAY)
    await gui.runtime.shutdown()


async def test_after_quit_no_timer_starts_work(qtbot, tmp_path):
    """A floors refresh fired by its timer after the app began shutting down raised 'shutting
    down: no new tasks' inside Qt's event loop (seen in CI, from another test's window)."""
    gui, backends = await open_as_supervisor(qtbot, tmp_path)
    sd = gui.supervisor_day
    await gui.runtime.shutdown()
    assert gui.supervisor_day is None and not sd.floor_timer.isActive() and not sd.alert_timer.isActive()
    sd.refresh_floors()  # as a late timer would: nothing starts, nothing raises
    sd.load_today()
