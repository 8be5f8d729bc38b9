"""The supervisor's day in the window: the timeline bar, one agent's day, the wallboard (offscreen,
with screenshots in tests/artifacts/)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from presence_desktop.client.timelines import DayTimelines
from presence_desktop.domain.floors import Floor
from presence_desktop.domain.presence import PresenceEvent, format_time
from presence_desktop.domain.roster import Roster
from presence_desktop.resources import default_catalogue
from presence_desktop.ui.agent_day import AgentDayDialog
from presence_desktop.ui.timeline import TimelineBar, segment_tooltip
from presence_desktop.ui.wallboard import Wallboard

ART = Path(__file__).resolve().parents[1] / "artifacts"
# 2026-12-04 12:00 local: the day's window is built from the local zone of this machine.
NOON = datetime(2026, 12, 4, 12, 0).astimezone().timestamp()


def iso(epoch: float) -> str:
    return format_time(datetime.fromtimestamp(epoch, UTC))


def ev(agent, status, version, at, *, team="team-1", name=None, source="manual", by=None, message=None):
    return PresenceEvent(agent_id=agent, team_id=team, display_name=name or agent, status=status, version=version,
                         changed_at=iso(at), source=source, changed_by=by or agent, message=message)


def day_of_agent(timelines: DayTimelines):
    h = 3600
    prev = None
    events = [ev("agent-1", "available", 5, NOON - 4 * h, name="Ada Lovelace"),
              ev("agent-1", "on_call", 6, NOON - 3.5 * h), ev("agent-1", "break", 7, NOON - 3 * h, message="<b>coffee</b>"),
              ev("agent-1", "available", 8, NOON - 2.5 * h, source="supervisor", by="sup-1"),
              ev("agent-1", "lunch", 9, NOON - 1 * h)]
    first_prev = ev("agent-1", "offline", 4, NOON - 20 * h, source="system", by=None)
    for e in events:
        timelines.on_event(e, prev or first_prev)
        prev = e
    return events


def test_agent_day_shows_the_timeline_totals_breaks_and_who(qtbot):
    cat = default_catalogue()
    timelines = DayTimelines(day="2026-12-04", clock=lambda: NOON)
    events = day_of_agent(timelines)
    dlg = AgentDayDialog(cat, name_of=lambda a: {"sup-1": "Grace Hopper"}.get(a, a))
    qtbot.addWidget(dlg)
    dlg.show_loading("agent-1", "Ada Lovelace")
    dlg.show_day(timelines, "agent-1", events[-1], NOON)
    segs = dlg.bar.segments
    assert [s.status for s in segs] == ["offline", "available", "on_call", "break", "available", "lunch"]
    assert segs[0].start == timelines.start and segs[-1].ongoing
    over = dlg.findChild(type(dlg.title), "overBudget")
    assert over is not None and "over by" in over.text() and over.text().startswith("⚠")  # 30 min break, budget 15
    table = dlg.table
    assert table.rowCount() == 5
    assert table.item(3, 4).text() == "Grace Hopper" and table.item(3, 3).text() == "set by a supervisor"
    assert table.item(2, 2).text() == "<b>coffee</b>"  # shown as text
    tip = segment_tooltip(segs[4], cat, dlg.name_of)
    assert tip.startswith("Available ") and tip.endswith("set by Grace Hopper")
    dlg.resize(760, 560)
    dlg.show()
    qtbot.waitExposed(dlg)
    qtbot.wait(50)
    ART.mkdir(exist_ok=True)
    dlg.grab().save(str(ART / "agent-day.png"))


def test_timeline_bar_finds_the_segment_under_the_pointer(qtbot):
    cat = default_catalogue()
    timelines = DayTimelines(day="2026-12-04", clock=lambda: NOON)
    day_of_agent(timelines)
    bar = TimelineBar(cat)
    qtbot.addWidget(bar)
    bar.resize(960, 30)
    bar.set_segments(timelines.segments("agent-1", NOON), timelines.start, timelines.end, now=NOON)
    x_at = lambda t: (t - timelines.start) / (timelines.end - timelines.start) * 960  # noqa: E731
    assert bar.segment_at(x_at(NOON - 3 * 3600 + 60)).status == "break"
    assert bar.segment_at(x_at(NOON + 3600)) is None  # the future is empty
    assert "Break" in bar.accessibleDescription()


def make_roster(now: float) -> Roster:
    cat = default_catalogue()
    roster = Roster(cat, clock=lambda: now)
    roster.begin_join()
    statuses = ["available", "on_call", "break", "lunch", "after_call_work", "available", "away", "offline"]
    events = []
    for i in range(24):
        team = f"team-{i % 3 + 1}"
        status = statuses[i % len(statuses)]
        events.append(ev(f"agent-{i}", status, 1, now - 60 * (i + 1) * 3, team=team, name=f"Agent Number {i}"))
    roster.complete_join(events, heard_at=now)
    return roster


def test_wallboard_tiles_counts_floors_and_longest_out(qtbot):
    now = NOON
    roster = make_roster(now)
    floors = {"team-1": (Floor(("available", "on_call"), 5, "Routable"),), "team-2": (Floor(("available",), 1),)}
    board = Wallboard(roster, default_catalogue(), ["team-1", "team-2", "team-3"],
                      team_name=lambda t: t.replace("team-", "Team "), floors=floors, server_now=lambda: now)
    qtbot.addWidget(board)
    board.resize(1920, 1080)
    board.show()
    qtbot.waitExposed(board)
    board.refresh()
    qtbot.wait(50)  # let the layouts follow the new texts before the screenshot
    t1 = board.tiles[0]
    assert t1.title.text() == "Team 1" and "of 8" in t1.headline.text()
    assert "▼ BELOW" in t1.floors.text() and "Routable" in t1.floors.text()
    assert "✓ met" in board.tiles[1].floors.text()
    assert t1.longest.text().startswith("Longest out:")
    assert board.banner.text() == "● Live"
    assert t1.title.font().pixelSize() >= 30  # readable from across the room at 1080p
    ART.mkdir(exist_ok=True)
    board.grab().save(str(ART / "wallboard-1080p.png"))
    roster.connection_lost(now)
    board.refresh()
    qtbot.wait(50)
    assert board.banner.text().startswith("NOT LIVE") and board.tiles[0].graphicsEffect() is not None
    board.grab().save(str(ART / "wallboard-not-live.png"))


def test_wallboard_without_teams_says_so(qtbot):
    board = Wallboard(make_roster(NOON), default_catalogue(), [], server_now=lambda: NOON)
    qtbot.addWidget(board)
    assert not board.empty.isHidden() and "watches no team" in board.empty.text()


def test_alerts_are_listed_in_words_added_and_removed(qtbot):
    from presence_desktop.client.alerts import AlertRule
    from presence_desktop.ui.alerts_dialog import AlertsDialog

    rules = [AlertRule("agent_available", agent_id="agent-3", once=True)]
    dlg = AlertsDialog(rules, ["team-1", "team-2"], name_of=lambda a: "<b>Ada</b>", team_name=str.upper)
    qtbot.addWidget(dlg)
    changes = []
    dlg.rulesChanged.connect(changes.append)
    assert dlg.list.item(0).text() == "When <b>Ada</b> becomes available (once)"
    dlg.kind.setCurrentIndex(1)
    dlg.team.setCurrentIndex(1)
    dlg.add_button.click()
    dlg.add_button.click()  # the same rule twice is one rule
    assert [r.kind for r in changes[-1]] == ["agent_available", "below_floor"] and len(changes) == 1
    assert dlg.list.item(1).text() == "When TEAM-2 drops below a staffing floor"
    dlg.list.setCurrentRow(0)
    dlg.remove_button.click()
    assert [r.kind for r in changes[-1]] == ["below_floor"]
    dlg.show()
    qtbot.waitExposed(dlg)
    dlg.grab().save(str(ART / "alerts-dialog.png"))


def test_floors_dialog_edits_and_refuses_a_floor_without_statuses(qtbot):
    from presence_desktop.ui.alerts_dialog import FloorsDialog

    dlg = FloorsDialog(default_catalogue(), "team-1", [Floor(("available", "on_call"), 4, "Routable")])
    qtbot.addWidget(dlg)
    sent = []
    dlg.floorsSubmitted.connect(lambda team, floors: sent.append((team, floors)))
    assert dlg.floors() == [{"statuses": ["available", "on_call"], "minimum": 4, "label": "Routable"}]
    dlg._add_row(None)
    dlg._submit()
    assert not sent and "at least one status" in dlg.error.text()
    dlg.rows[1][1][2][1].setChecked(True)  # after_call_work
    dlg._submit()
    assert sent == [("team-1", [{"statuses": ["available", "on_call"], "minimum": 4, "label": "Routable"},
                                {"statuses": ["after_call_work"], "minimum": 1, "label": None}])]


def test_escape_leaves_the_wallboard(qtbot):
    board = Wallboard(make_roster(NOON), default_catalogue(), ["team-1"], server_now=lambda: NOON)
    qtbot.addWidget(board)
    board.show()
    qtbot.waitExposed(board)
    from PySide6.QtCore import Qt as _Qt
    from PySide6.QtGui import QKeyEvent

    board.keyPressEvent(QKeyEvent(QKeyEvent.Type.KeyPress, _Qt.Key.Key_Escape, _Qt.KeyboardModifier.NoModifier))
    assert not board.isVisible()
