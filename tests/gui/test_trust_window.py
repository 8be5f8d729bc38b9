"""The roster window's share of issue 15 outside the table itself: first focus, hostile names
and messages in every place they appear, the confirm step next to its row without scrolling,
tooltips in local time and words."""

from __future__ import annotations

import time
from datetime import datetime

from PySide6 import QtGui
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QApplication

from presence_desktop.domain.identity import Identity
from presence_desktop.domain.presence import PresenceEvent, format_time
from presence_desktop.domain.roster import OwnStatus, Roster
from presence_desktop.domain.times import ServerClock
from presence_desktop.resources import default_catalogue
from presence_desktop.ui.roster.model import AGENT_ROLE
from presence_desktop.ui.roster.window import RosterWindow
from presence_desktop.ui.tray import TrayController
from tests.gui.fakes import demo_events

SUP = Identity(username="sup-1", sub="s", groups=("supervisors",), team_id="team-1",
               supervised_teams=("team-1", "team-2", "team-3", "team-4"))
NAME = "<b>SPOOF</b> agent-7\u202e\u200b\x07"
MESSAGE = "back in 5\u202enim 09 ni kcab\u200b"
CLEAN_NAME = "<b>SPOOF</b> agent-7\ufffd"
CLEAN_MESSAGE = "back in 5nim 09 ni kcab"


def iso(epoch: float) -> str:
    return format_time(datetime.fromtimestamp(epoch).astimezone())


def make(qtbot, events=None, clock=None):
    cat = default_catalogue()
    clock = clock or ServerClock()
    roster = Roster(cat, clock=clock)
    roster.begin_join()
    roster.complete_join(events if events is not None else demo_events(40))
    win = RosterWindow(roster, cat, SUP, profile_name="local", clock=clock)
    qtbot.addWidget(win)
    win.model.sync()
    return win, roster


def proxy_row(win, agent_id):
    return next(r for r in range(win.model.rowCount()) if win.model.index(r, 0).data(AGENT_ROLE) == agent_id)


def shown_text(tooltip: str) -> str:
    """What a tooltip displays (Qt renders it as rich text when it looks like markup)."""
    doc = QTextDocument()
    if QtGui.Qt.mightBeRichText(tooltip):
        doc.setHtml(tooltip)
    else:
        doc.setPlainText(tooltip)
    return doc.toPlainText()


def test_first_focus_is_the_table_never_my_status(qtbot):
    win, _ = make(qtbot)
    win.show()
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    assert QApplication.focusWidget() is win.table
    sent = []
    win.ownStatusRequested.connect(lambda *a: sent.append(a))
    qtbot.keyClicks(QApplication.focusWidget(), "b")  # the first key typed
    assert sent == []


def test_a_hostile_name_and_message_are_text_everywhere(qtbot, artifacts_dir):
    now = time.time()
    events = demo_events(12)
    events[6] = events[6].with_(display_name=NAME, message=MESSAGE, status="break",
                                changed_at=iso(now - 60), status_since=iso(now - 60))
    agent = events[6].agent_id
    win, roster = make(qtbot, events)
    win.show()
    qtbot.waitExposed(win)
    r = proxy_row(win, agent)
    # 1. the roster tooltip: shown verbatim, no bold, no reversal, no zero-width
    tip = shown_text(win.model.index(r, 1).data(Qt.ItemDataRole.ToolTipRole))
    assert tip.splitlines()[0] == f"{CLEAN_NAME} ({agent}, {events[6].team_id})"
    assert f"“{CLEAN_MESSAGE}”" in tip and "\u202e" not in tip and "\u200b" not in tip
    # 2. the cells: the name (not bold markup), the message (not reversed: "back in 5back in 90 min")
    cells = [win.model.index(r, c).data() for c in range(win.model.columnCount())]
    assert CLEAN_NAME in cells and CLEAN_MESSAGE in cells
    assert not any("\u202e" in (c or "") or "\u200b" in (c or "") for c in cells)
    # 3. the row menu and the confirm bar
    menu = win.build_row_menu(agent)
    sub = menu.actions()[0]
    assert sub.text() == f"Set status of {CLEAN_NAME}"
    sub.menu().actions()[0].trigger()
    assert win.confirm.label.textFormat() == Qt.TextFormat.PlainText
    assert win.confirm.label.text() == f"Set “{CLEAN_NAME}” ({agent}) to Available?"
    win.grab().save(str(artifacts_dir / "hostile-confirm-bar.png"))
    win.confirm._no()
    # 4. the own-status line (a message set elsewhere, with the hostile text)
    own = OwnStatus("sup-1")
    own.observe(events[0].with_(agent_id="sup-1", message=MESSAGE, version=99))
    win.on_own_status(own)
    assert win.own_bar.message.text() == CLEAN_MESSAGE
    # 5. the tray and 6. a notification
    tray = TrayController(default_catalogue(), NAME)
    tray.set_own("break", False, None, MESSAGE)
    assert "<b>" not in tray.icon.toolTip() and "\u202e" not in tray.icon.toolTip()
    assert "\u2039b\u203aSPOOF" in tray.icon.toolTip() and CLEAN_MESSAGE in tray.icon.toolTip()
    assert tray.header.text().startswith("<b>SPOOF</b> agent-7\ufffd:")
    tray.notify("Your status was changed", f"{NAME} set your status to Break.")
    assert tray.last_notification[1] == "\u2039b\u203aSPOOF\u2039/b\u203a agent-7\ufffd set your status to Break."
    # 7. the message bar
    win.show_problem(f"Could not change {NAME}'s status")
    assert win.messages.label.textFormat() == Qt.TextFormat.PlainText
    assert win.messages.label.text() == f"Could not change {CLEAN_NAME}'s status"


def test_the_tooltip_says_when_in_local_time_and_who_never_iso(qtbot):
    # Local noon today: "since" stays on the same day (clock_time writes "Fri 23:49" for yesterday).
    now = datetime.now().replace(hour=12, minute=0, second=0, microsecond=0).timestamp()
    since = now - 750
    events = [
        PresenceEvent(agent_id="agent-1", team_id="team-1", display_name="Ada", status="break", version=3,
                      changed_at=iso(now - 60), status_since=iso(since), message="back in 5"),  # message edited later
        PresenceEvent(agent_id="sup-1", team_id="team-1", display_name="Sam Lee", status="available", version=1,
                      changed_at=iso(now - 900)),
        PresenceEvent(agent_id="agent-2", team_id="team-1", display_name="Bo", status="training", version=2,
                      changed_at=iso(now - 30), source="supervisor", changed_by="sup-1"),
        PresenceEvent(agent_id="agent-3", team_id="team-1", display_name="Cy", status="after_call_work", version=2,
                      changed_at=iso(now - 310)),
    ]
    win, _ = make(qtbot, events, clock=ServerClock(lambda: now))
    tips = {a: shown_text(win.model.index(proxy_row(win, a), 1).data(Qt.ItemDataRole.ToolTipRole)) for a in ("agent-1", "agent-2", "agent-3")}
    local = datetime.fromtimestamp(since).strftime("%H:%M")
    assert f"Break since {local} (0:12:3" in tips["agent-1"] and "set by the agent" in tips["agent-1"]
    assert "set by Sam Lee (supervisor)" in tips["agent-2"]
    assert "Over its time budget: +0:02:1" in tips["agent-3"] and "over 0:03:00" in tips["agent-3"]
    for tip in tips.values():  # the failing input: "since 2026-12-04T22:19:38.619Z [manual]"
        assert "Z" not in tip.replace("Zone", "") and "T" not in tip.split("since ")[1][:6] and "[manual]" not in tip


def test_the_confirm_step_sits_by_its_row_and_does_not_scroll_the_view(qtbot):
    win, roster = make(qtbot, demo_events(200))
    win.resize(1040, 600)
    win.table.sortByColumn(3, Qt.SortOrder.AscendingOrder)  # by status: a change re-sorts the row
    win.show()
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    bar = win.table.verticalScrollBar()
    bar.setValue(bar.maximum() // 2)
    QApplication.processEvents()
    r = win.table.rowAt(win.table.viewport().height() // 3)
    index = win.model.index(r, 1)
    agent = index.data(AGENT_ROLE)
    win.table.setCurrentIndex(index)
    win.table.setFocus()
    before = bar.value()
    target = "offline" if roster.get(agent).event.status != "offline" else "available"
    win.ask_set_status(agent, target)
    top, bottom = win._row_span(agent)
    assert win.confirm.y() in (bottom + 2, top - win.confirm.height() - 2)
    assert win.confirm.yes.hasFocus()
    got = []
    win.agentStatusRequested.connect(lambda a, s: got.append((a, s)))
    qtbot.keyClick(win.confirm.yes, Qt.Key.Key_Return)
    assert got == [(agent, target)]
    ev = roster.get(agent).event
    change = roster.apply(ev.with_(status=target, version=ev.version + 1, source="supervisor", changed_by="sup-1"))
    win.on_roster_changed(change)
    win.model.flush()
    for _ in range(5):
        QApplication.processEvents()
    assert bar.value() == before  # it jumped ~20 rows to follow the re-sorted row
    assert win.table.hasFocus()
