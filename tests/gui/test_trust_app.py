"""The app as an agent lives it all day (issue 15): told when a supervisor changes their status,
never "confirmed" during an outage, a message from the tray, times on the relay's clock, and a
first close to the tray that says so."""

from __future__ import annotations

import time

from presence_desktop.domain.presence import PresenceEvent
from tests.gui.test_signin_flow import Claims, FakeAuth, SignedIn, make_gui, until

HOSTILE = "<b>SPOOF</b> sup\u202e-1\u200b"


async def open_as(tmp_path, qtbot, username="agent-2", offset_s=0.0):
    FakeAuth.remembered = SignedIn(username, Claims(username), remembered=True)
    gui, backends = make_gui(tmp_path)
    original = gui.backend_factory

    def factory(profile, auth, identity):
        relay, feed = original(profile, auth, identity)
        relay.server_offset_s = offset_s
        return relay, feed

    gui.backend_factory = factory
    await gui.start("aws")
    qtbot.addWidget(gui.window)
    await until(lambda: gui.service.connection.up and not gui.service.connection.joining)
    return gui, backends


async def test_the_agent_is_told_who_changed_their_status(qtbot, tmp_path):
    gui, backends = await open_as(tmp_path, qtbot)
    relay, feed = backends["relay"], backends["feed"]
    await relay.set_status("available")  # the agent's own status, as the app would set it
    await until(lambda: gui.service.own.status_id == "available")
    assert gui.tray.last_notification is None
    # A supervisor with a hostile display name and a row in the team sets After-call work.
    sup = PresenceEvent(agent_id="sup-1", team_id="team-2", display_name=HOSTILE, status="available",
                        version=1, changed_at=relay.now_iso(), source="manual", changed_by="sup-1")
    feed.publish(sup)
    mine = relay.rows["agent-2"]
    feed.publish(mine.with_(status="after_call_work", version=mine.version + 1, changed_at=relay.now_iso(),
                            source="supervisor", changed_by="sup-1", status_since=relay.now_iso()))
    await until(lambda: gui.tray.last_notification is not None)
    title, text = gui.tray.last_notification
    assert title == "Your status was changed"
    assert text.startswith("\u2039b\u203aSPOOF\u2039/b\u203a sup-1 set your status to After-call work at ")
    assert gui.window.messages.isVisible() and "SPOOF" in gui.window.messages.label.text()
    assert "\u202e" not in gui.window.messages.label.text()
    await gui.runtime.shutdown()


async def test_not_confirmed_while_disconnected_in_the_window_and_the_tray(qtbot, tmp_path):
    gui, backends = await open_as(tmp_path, qtbot)
    gui._request_status("available", None)
    await until(lambda: gui.window.own_bar.state_label.text() == "✓ confirmed")
    assert "Available" in gui.tray.icon.toolTip() and "not confirmed" not in gui.tray.icon.toolTip()
    backends["feed"].go_down()
    await until(lambda: not gui.service.connection.up)
    assert gui.window.own_bar.state_label.text() == "not confirmed (disconnected)"
    assert "not confirmed: disconnected" in gui.tray.icon.toolTip()  # was "Available" during the outage
    gui.service.feed_down("sign in again: the session has expired", None, needs_sign_in=True)
    assert gui.window.own_bar.state_label.text() == "not confirmed (session expired)"
    backends["feed"].come_back()
    await until(lambda: gui.service.connection.up and not gui.service.connection.joining)
    assert gui.window.own_bar.state_label.text() == "✓ confirmed"
    # Connected, but not even a keep-alive for 90 s (a frozen server): not confirmed either.
    gui.service.feed_quiet(time.time() - 90)
    assert gui.window.own_bar.state_label.text() == "not confirmed (server silent)"
    assert "not confirmed: server silent" in gui.tray.icon.toolTip()
    gui.service.feed_quiet(None)
    assert gui.window.own_bar.state_label.text() == "✓ confirmed"
    await gui.runtime.shutdown()


async def test_a_message_from_the_tray_goes_out_with_the_current_status(qtbot, tmp_path):
    gui, backends = await open_as(tmp_path, qtbot)
    gui._request_status("break", None)
    await until(lambda: gui.service.own.status_id == "break" and not gui.service.own.is_pending)
    gui.tray.messageRequested.emit("back at 14:30")
    await until(lambda: ("set_status", "break", "back at 14:30", None) in backends["relay"].calls)
    await until(lambda: gui.service.own.message == "back at 14:30" and not gui.service.own.is_pending)
    await gui.runtime.shutdown()


async def test_times_follow_the_relay_clock_when_this_computer_is_70_minutes_ahead(qtbot, tmp_path):
    gui, backends = await open_as(tmp_path, qtbot, offset_s=-70 * 60)
    assert round(gui.service.server_clock.offset_s / 60) == -70
    relay = backends["relay"]
    agent = next(a for a in relay.rows if a != "agent-2" and relay.rows[a].team_id == "team-2")
    await relay.set_status("after_call_work", None, agent_id=agent)  # set seconds ago, server time
    await until(lambda: gui.service.roster.get(agent).event.status == "after_call_work")
    assert gui.service.roster.time_in_status(agent) < 30  # was "1 h 10 min"
    assert gui.service.roster.budget_level(agent) == "ok"  # was a red over-budget cell
    assert gui.window.clock is gui.service.server_clock
    await gui.runtime.shutdown()


async def test_the_first_close_to_the_tray_says_so_and_offers_quit(qtbot, tmp_path, monkeypatch, artifacts_dir):
    gui, _ = await open_as(tmp_path, qtbot)
    monkeypatch.setattr(gui.tray.icon, "isVisible", lambda: True)  # a desktop with a tray
    quits = []
    monkeypatch.setattr(gui.runtime, "request_quit", lambda: quits.append(1))
    gui.window.close()
    box = gui.tray_hint
    assert box is not None and box.isVisible() and not box.isModal()
    qtbot.addWidget(box)
    box.grab().save(str(artifacts_dir / "close-to-tray-hint.png"))
    assert "keeps running in the tray" in box.text()
    assert [b.text() for b in box.buttons()] == ["Keep running", "Quit Presence"] or \
        {b.text() for b in box.buttons()} == {"Keep running", "Quit Presence"}
    assert gui.store.load_settings().tray_hint_shown
    gui.tray_hint = None
    gui._window_closed()  # the second close: quietly to the tray
    assert gui.tray_hint is None and quits == []
    quit_button = next(b for b in box.buttons() if b.text() == "Quit Presence")
    quit_button.click()
    assert quits == [1]
    monkeypatch.undo()
    await gui.runtime.shutdown()


async def test_the_outage_banner_counts_down_on_this_computers_clock_when_the_relay_is_70_min_behind(qtbot, tmp_path):
    import time as _time

    gui, backends = await open_as(tmp_path, qtbot, offset_s=-70 * 60)
    backends["feed"].go_down(retry_in=5.0)
    await until(lambda: not gui.service.connection.up)
    assert abs(gui.service.connection.since - _time.time()) < 5  # not 70 min ago
    gui.window.tick()
    text = gui.window.banner.label.text()
    assert "Next retry in 5 s" in text or "Next retry in 6 s" in text or "Next retry in 4 s" in text, text
    await gui.runtime.shutdown()
