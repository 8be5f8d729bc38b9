"""No status without a deliberate act; the confirm step and the tray (issue 15, items 1, 3, 5,
6 and 8, the parts outside the roster table)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication, QWheelEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QWidget

from presence_desktop.resources import default_catalogue
from presence_desktop.ui.tray import TrayController
from presence_desktop.ui.widgets import ConfirmBar, OwnStatusBar, clamp_to_screen

HOSTILE_NAME = "<b>SPOOF</b> agent-7\u202e\u200b\x07"
HOSTILE_MESSAGE = "back in 5\u202enim 09 ni kcab\u200b\n<i>x</i>"


def make_bar(qtbot):
    bar = OwnStatusBar(default_catalogue())
    qtbot.addWidget(bar)
    sent = []
    bar.statusRequested.connect(lambda sid, msg: sent.append((sid, msg)))
    bar.show()
    qtbot.waitExposed(bar)
    return bar, sent


def wheel(widget, steps: int) -> None:
    center = QPointF(widget.rect().center())
    event = QWheelEvent(center, QPointF(widget.mapToGlobal(center.toPoint())), QPoint(0, 0), QPoint(0, -120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_over_my_status_publishes_nothing(qtbot):
    bar, sent = make_bar(qtbot)
    bar.set_state("available", None, pending=False)
    for steps in (1, 1, 1, -1):
        wheel(bar.combo, steps)  # was: Available -> On call -> After-call work, each published
    assert sent == []
    assert bar.combo.currentData() == "available"


def test_arrow_page_and_letter_keys_on_the_closed_box_publish_nothing(qtbot):
    bar, sent = make_bar(qtbot)
    bar.set_state("available", None, pending=False)
    bar.combo.setFocus()
    for key in (Qt.Key.Key_PageDown, Qt.Key.Key_End, Qt.Key.Key_Home, Qt.Key.Key_Right, Qt.Key.Key_B):
        qtbot.keyClick(bar.combo, key)
    qtbot.keyClicks(bar.combo, "break")  # a name meant for the search box, typed into the box
    assert sent == [] and bar.combo.currentData() == "available"
    # Down opens the list instead of stepping; Escape closes it: still nothing.
    qtbot.keyClick(bar.combo, Qt.Key.Key_Down)
    view = bar.combo.view()
    qtbot.waitUntil(view.isVisible)
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert sent == []


def test_an_explicit_pick_in_the_open_list_publishes_once(qtbot):
    bar, sent = make_bar(qtbot)
    bar.set_state("available", None, pending=False)
    bar.combo.setFocus()
    qtbot.keyClick(bar.combo, Qt.Key.Key_Space)
    view = bar.combo.view()
    qtbot.waitUntil(view.isVisible)
    view.setCurrentIndex(bar.combo.model().index(bar.combo.findData("break"), 0))
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert sent == [("break", None)]


def test_not_confirmed_while_disconnected_or_expired(qtbot):
    bar, _ = make_bar(qtbot)
    bar.set_state("available", None, pending=False)
    assert bar.state_label.text() == "✓ confirmed"
    bar.set_state("available", None, pending=False, unconfirmed="disconnected")
    assert bar.state_label.text() == "not confirmed (disconnected)"
    bar.set_state("available", None, pending=False, unconfirmed="session expired")
    assert "confirmed" in bar.state_label.text() and "✓" not in bar.state_label.text()


def test_the_own_status_line_shows_a_hostile_message_as_text(qtbot):
    bar, _ = make_bar(qtbot)
    bar.set_state("break", HOSTILE_MESSAGE, pending=True, error=HOSTILE_MESSAGE)
    assert bar.message.text() == "back in 5nim 09 ni kcab\ufffd<i>x</i>"
    assert bar.state_label.textFormat() == Qt.TextFormat.PlainText
    assert "\u202e" not in bar.state_label.text() and "<i>x</i>" in bar.state_label.text()


def test_the_confirm_step_takes_enter_and_escape_shows_focus_and_sits_by_its_row(qtbot, artifacts_dir):
    host = QWidget()
    qtbot.addWidget(host)
    host.resize(700, 400)
    back = QLineEdit(host)  # where focus was before the question (the table, in the window)
    bar = ConfirmBar()
    bar.overlay_on(host)
    host.show()
    qtbot.waitExposed(host)
    host.activateWindow()
    qtbot.waitUntil(host.isActiveWindow)
    back.setFocus()
    got = []
    bar.confirmed.connect(got.append)
    bar.ask(f"Set “{HOSTILE_NAME}” to Available?", ("agent-7", "available"), near=(100, 124))
    assert bar.isVisible() and bar.yes.hasFocus()
    assert bar.label.textFormat() == Qt.TextFormat.PlainText  # "<b>SPOOF</b>" stays literal
    assert bar.label.text() == "Set “<b>SPOOF</b> agent-7\ufffd” to Available?"  # RLO, ZWSP gone
    assert bar.y() == 126  # right under the row
    bar.grab().save(str(artifacts_dir / "confirm-bar-focus.png"))
    qtbot.keyClick(bar.yes, Qt.Key.Key_Escape)
    assert not bar.isVisible() and got == [] and back.hasFocus()
    bar.ask("Set agent-7 to Break?", ("agent-7", "break"), near=(380, 400))  # no room below: above
    assert bar.y() + bar.height() <= 380
    qtbot.keyClick(bar.yes, Qt.Key.Key_Return)
    assert got == [("agent-7", "break")] and back.hasFocus()
    bar.ask("Set agent-7 to Lunch?", ("agent-7", "lunch"))
    bar.no.setFocus()
    qtbot.keyClick(bar.no, Qt.Key.Key_Enter)  # Enter on Cancel cancels
    assert got == [("agent-7", "break")]


def test_tray_not_confirmed_message_box_and_notification_as_text(qtbot, artifacts_dir):
    tray = TrayController(default_catalogue(), "agent-41")
    requested, messages = [], []
    tray.statusRequested.connect(requested.append)
    tray.messageRequested.connect(messages.append)
    assert not tray.message_action.isEnabled()  # no status yet: a message has nothing to go with
    tray.set_own("available", False, None, HOSTILE_MESSAGE)
    assert "Available" in tray.icon.toolTip() and "not confirmed" not in tray.icon.toolTip()
    assert "<i>" not in tray.icon.toolTip() and "\u202e" not in tray.icon.toolTip()
    tray.set_own("available", False, "disconnected")  # the outage read "Available"
    assert "Available (not confirmed: disconnected)" in tray.icon.toolTip()
    assert "not confirmed" in tray.header.text()
    tray.menu.adjustSize()
    tray.menu.grab().save(str(artifacts_dir / "tray-menu-not-confirmed.png"))
    box = tray.ask_message()
    qtbot.addWidget(box)
    box.grab().save(str(artifacts_dir / "tray-message-box.png"))
    edit = box.findChild(QLineEdit)
    edit.setText("  in the 3 pm huddle ")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert messages == ["in the 3 pm huddle"] and requested == []
    tray.actions["break"].trigger()  # a menu item is a deliberate pick
    assert requested == ["break"]
    tray.notify("Your status was changed", f"{HOSTILE_NAME} set your status to Break.")
    title, text = tray.last_notification
    assert text == "\u2039b\u203aSPOOF\u2039/b\u203a agent-7\ufffd set your status to Break."


def test_the_window_is_clamped_to_the_available_screen(qtbot):
    w = QWidget()
    qtbot.addWidget(w)
    area = QGuiApplication.primaryScreen().availableGeometry()
    w.resize(area.width() * 2 + 480, area.height() * 2 + 440)  # 2080x1440 on a 1600x1000 screen
    w.move(area.x() + 300, area.y() + 200)
    clamp_to_screen(w)
    w.show()
    qtbot.waitExposed(w)
    clamp_to_screen(w)
    frame = w.frameGeometry()
    assert area.contains(frame), (frame, area)


def test_the_connection_banner_shows_a_server_reason_as_text(qtbot):
    from presence_desktop.ui.widgets import ConnectionBanner

    banner = ConnectionBanner()
    qtbot.addWidget(banner)
    banner.set_down(1_800_000_000.0, None, "<img src=x> odd\u202e reply")
    assert banner.label.textFormat() == Qt.TextFormat.RichText
    assert "(&lt;img src=x&gt; odd reply)" in banner.label.text() and "<img" not in banner.label.text()
    assert "\u202e" not in banner.label.text() and "\u202e" not in banner.label.toolTip()
    assert "<img" not in banner.label.toolTip()
