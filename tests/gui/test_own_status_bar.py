"""The own status picker and message box: what is sent, and what the box shows."""

from presence_desktop.domain.presence import PresenceEvent, utc_now_iso
from presence_desktop.domain.roster import OwnStatus
from presence_desktop.resources import default_catalogue
from presence_desktop.ui.widgets import OwnStatusBar


def make_bar(qtbot):
    bar = OwnStatusBar(default_catalogue())
    qtbot.addWidget(bar)
    sent = []
    bar.statusRequested.connect(lambda sid, msg: sent.append((sid, msg)))
    return bar, sent


def choose(bar, status_id):
    """What a click in the status list does: select, then ``activated``."""
    i = bar.combo.findData(status_id)
    bar.combo.setCurrentIndex(i)
    bar.combo.activated.emit(i)


def own_with(status, message):
    own = OwnStatus("agent-1")
    own.observe(PresenceEvent(agent_id="agent-1", team_id="team-1", display_name="A", status=status,
                              version=1, changed_at=utc_now_iso(), message=message))
    return own


def test_new_status_from_the_picker_does_not_resend_the_old_message(qtbot):
    bar, sent = make_bar(qtbot)
    own = own_with("lunch", "lunch till 2")
    bar.set_state(own.status_id, own.message, pending=False)
    assert bar.message.text() == "lunch till 2"
    choose(bar, "available")
    assert len(sent) == 1
    sid, typed = sent[0]
    assert sid == "available"
    # Window and tray share one rule (OwnStatus.message_for): nothing typed for it -> no message.
    assert own.message_for(sid, typed) is None
    assert bar.message.text() == ""  # the old status's message is no longer shown as if it applied


def test_an_incoming_own_status_never_wipes_what_the_user_is_typing(qtbot):
    bar, sent = make_bar(qtbot)
    bar.set_state("available", None, pending=False)
    bar.message.setFocus()
    qtbot.keyClicks(bar.message, "in a meeting until 3")
    bar.combo.setFocus()  # e.g. the status list is open: the box has no focus
    assert not bar.message.hasFocus()
    bar.set_state("available", "set elsewhere", pending=False)  # own event from another device
    assert bar.message.text() == "in a meeting until 3"
    # Once sent, the box follows the own status again.
    bar.apply_button.click()
    assert sent[-1] == ("available", "in a meeting until 3")
    bar.set_state("available", "in a meeting until 3", pending=False)
    bar.set_state("away", None, pending=False)
    assert bar.message.text() == ""


def test_a_message_alone_is_sent_with_the_current_status_or_explained(qtbot, artifacts_dir):
    bar, sent = make_bar(qtbot)
    bar.resize(760, bar.sizeHint().height())
    # No status yet: nothing to attach the message to, and the bar says so.
    qtbot.keyClicks(bar.message, "on the phone")
    qtbot.keyClick(bar.message, "\r")
    assert sent == []
    assert "choose a status" in bar.state_label.text().lower()
    assert bar.message.text() == "on the phone"  # kept for when a status is chosen
    bar.show()
    qtbot.waitExposed(bar)
    bar.grab().save(str(artifacts_dir / "own-status-message-without-status.png"))
    # With a status: Enter (or Set) sends the current status with the new message.
    bar.set_state("available", None, pending=False)
    bar.message.clear()
    qtbot.keyClicks(bar.message, "on the phone")
    qtbot.keyClick(bar.message, "\r")
    assert sent == [("available", "on the phone")]


def test_the_message_limit_is_visible_while_typing(qtbot, artifacts_dir):
    from presence_desktop.domain.presence import MESSAGE_MAX_CHARS

    bar, _sent = make_bar(qtbot)
    bar.resize(760, bar.sizeHint().height())
    assert bar.counter.text() == f"0 / {MESSAGE_MAX_CHARS}"
    qtbot.keyClicks(bar.message, "x" * 20)
    assert bar.counter.text() == f"20 / {MESSAGE_MAX_CHARS}"
    qtbot.keyClicks(bar.message, "y" * (MESSAGE_MAX_CHARS + 10))
    assert len(bar.message.text()) == MESSAGE_MAX_CHARS
    assert bar.counter.text() == f"{MESSAGE_MAX_CHARS} / {MESSAGE_MAX_CHARS}"
    assert "limit" in bar.counter.toolTip().lower()
    assert "#" in bar.counter.styleSheet()  # coloured at the limit, not silent
    bar.show()
    qtbot.waitExposed(bar)
    bar.grab().save(str(artifacts_dir / "own-status-message-limit.png"))
