"""The agent's day through the whole app (GuiApp, fake backends, offscreen): the start offer and
the signed-in status, idle -> Away and the question on return, a budget's countdown and its
question, do not disturb while On call, preferences applied at once, wake/network -> resume.
Screenshots in tests/artifacts/."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from presence_desktop.client.agent_day import Answer, PromptKind
from presence_desktop.client.platform_idle import IdleSample
from presence_desktop.client.settings import AppSettings, LastStatus, SettingsStore
from presence_desktop.domain.presence import PresenceEvent, format_time
from presence_desktop.resources import default_catalogue
from presence_desktop.ui.gui_app import GuiApp
from presence_desktop.ui.runtime import QtRuntime
from tests.gui.fakes import FakeFeed, FakeRelay, demo_events
from tests.gui.test_signin_flow import PROFILE, Claims, FakeAuth, SignedIn

ME = "agent-99"


class FakeIdle:
    name = "fake"

    def __init__(self):
        self.value = IdleSample(0.0)
        self.closed = False

    def sample(self):
        if isinstance(self.value, Exception):
            raise self.value
        return self.value

    def close(self):
        self.closed = True


async def until(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def own_event(status, ago_s=0.0, version=1, message=None):
    at = datetime.fromtimestamp(time.time() - ago_s, UTC)
    return PresenceEvent(ME, "team-2", ME, status, version, format_time(at), changed_by=ME, message=message)


async def start_app(tmp_path, own=None, settings=None):
    """Signed in as ME (team-2) with ``own`` as the relay's stored status (None = never set)."""
    runtime = QtRuntime(QApplication.instance(), asyncio.get_running_loop(), shutdown_on_quit=False)
    backends = {}

    def backend_factory(profile, auth, identity):
        events = [e for e in demo_events(12) if e.team_id == "team-2"] + ([own] if own else [])
        relay = FakeRelay(events, me=identity.username, team="team-2")
        feed = FakeFeed()
        relay.feed = feed
        backends["relay"], backends["feed"] = relay, feed
        return relay, feed

    store = SettingsStore(tmp_path)
    settings = settings or AppSettings()
    store.save_settings(settings)
    gui = GuiApp(runtime, default_catalogue(), {"aws": PROFILE}, auth_factory=FakeAuth,
                 backend_factory=backend_factory, store=store, settings=settings)
    gui.day_options = {"detect_idle": False, "watch_system": False}
    FakeAuth.remembered = SignedIn(ME, Claims(ME))
    await gui.start("aws")
    await until(lambda: gui.service.connection.up and not gui.service.connection.joining)
    return gui, backends["relay"], backends["feed"]


async def screenshot(gui, path):
    """After the roster's next frame and the layout's catch-up, as a person would see it."""
    await until(lambda: gui.window.model.rowCount() > 0)
    await asyncio.sleep(0.05)
    gui.window.grab().save(str(path))


def status_calls(relay):
    return [(c[1], c[2], s) for c, s in zip([c for c in relay.calls if c[0] == "set_status"], relay.sources, strict=True)]


async def test_start_signs_in_as_away_and_offers_the_last_status(qtbot, tmp_path, artifacts_dir):
    settings = AppSettings()
    settings.last_status[f"aws/{ME}"] = LastStatus(status="break", message="back at 2")
    gui, relay, _feed = await start_app(tmp_path, own=None, settings=settings)
    qtbot.addWidget(gui.window)
    await until(lambda: gui.service.own.current is not None)
    assert status_calls(relay) == [("away", None, "system")]  # signed in, never Available
    bar = gui.day.prompts.bars[PromptKind.RESTORE]
    assert bar.isVisible() and bar.title.text() == "Welcome back"
    assert "Break" in bar.label.text() and "back at 2" in bar.label.text()
    assert gui.day.notifier.shown[-1][0] == "Welcome back"
    assert QApplication.focusWidget() is None or not bar.isAncestorOf(QApplication.focusWidget())
    await screenshot(gui, artifacts_dir / "agent-day-restore-offer.png")
    bar.buttons[Answer.ACCEPT].click()
    await until(lambda: gui.service.own.status_id == "break" and not gui.service.own.is_pending)
    assert status_calls(relay)[-1] == ("break", "back at 2", None)  # the user's click: manual
    assert PromptKind.RESTORE not in gui.day.prompts.bars
    await gui.runtime.shutdown()


async def test_idle_away_then_back_to_available_question(qtbot, tmp_path, artifacts_dir):
    gui, relay, _feed = await start_app(tmp_path, own=own_event("available", 60))
    qtbot.addWidget(gui.window)
    idle = FakeIdle()
    gui.day.set_idle_source(idle)
    assert gui.day.idle_timer.isActive()
    idle.value = IdleSample(601.0)
    gui.day.poll_idle()
    await until(lambda: gui.service.own.status_id == "away" and not gui.service.own.is_pending)
    assert status_calls(relay)[-1] == ("away", None, "idle")
    assert gui.service.roster.get(ME).event.source == "idle"
    idle.value = IdleSample(0.5)
    gui.day.poll_idle()
    await until(lambda: PromptKind.BACK_FROM_IDLE in gui.day.prompts.bars)
    bar = gui.day.prompts.bars[PromptKind.BACK_FROM_IDLE]
    assert bar.title.text() == "Back to Available?"
    assert [b.text() for b in bar.buttons.values()] == ["Available", "Stay Away"]
    await screenshot(gui, artifacts_dir / "agent-day-back-from-idle.png")
    assert gui.service.own.status_id == "away", "never Available by itself"
    bar.buttons[Answer.ACCEPT].click()
    await until(lambda: gui.service.own.status_id == "available" and not gui.service.own.is_pending)
    assert status_calls(relay)[-1] == ("available", None, None)
    # A back-end that starts failing: logged, nothing changes, nothing stuck.
    idle.value = OSError("bus gone")
    gui.day.poll_idle()
    await until(lambda: gui.day.day._idle_failing)
    assert gui.service.own.status_id == "available"
    await gui.runtime.shutdown()
    assert idle.closed


async def test_break_counts_down_and_asks_when_over(qtbot, tmp_path, artifacts_dir):
    event = own_event("break", 14 * 60 + 30)
    gui, relay, _feed = await start_app(tmp_path, own=event)
    qtbot.addWidget(gui.window)
    started = event.changed_at_dt.timestamp()
    now = [started + 14 * 60 + 30]
    gui.day.day.clock = lambda: now[0]  # a fake clock: the budget runs from the relay's changed_at
    gui.day.day.tick()
    label = gui.day.countdown_label
    assert label.isVisible() and label.text() == "Break: 0:30 left"
    assert gui.day.tray.icon.toolTip().endswith("\nBreak: 0:30 left")
    await screenshot(gui, artifacts_dir / "agent-day-break-countdown.png")
    # 15 minutes are up (the relay's changed_at is the start): asked, nothing changed.
    now[0] = started + 16 * 60
    gui.day.day.tick()
    bar = gui.day.prompts.bars[PromptKind.BUDGET_OVER]
    assert [b.text() for b in bar.buttons.values()] == ["Available", "5 more minutes", "Keep Break"]
    assert label.text() == "Break: over by 1:00"
    assert gui.service.own.status_id == "break" and status_calls(relay) == []
    await screenshot(gui, artifacts_dir / "agent-day-break-over.png")
    bar.buttons[Answer.SNOOZE].click()
    assert PromptKind.BUDGET_OVER not in gui.day.prompts.bars
    gui.day.day.tick()
    assert label.text() == "Break: 4:00 left" and status_calls(relay) == []
    await gui.runtime.shutdown()


async def test_do_not_disturb_while_on_call(qtbot, tmp_path):
    gui, _relay, _feed = await start_app(tmp_path, own=own_event("on_call", 10))
    qtbot.addWidget(gui.window)
    day = gui.day
    gui._own_status_changed()
    assert day.notifier.quiet
    n = len(day.notifier.shown)
    day.notifier.notify("Something", "later")
    assert len(day.notifier.shown) == n and day.notifier.held == ("Something", "later")
    gui.window.own_bar.statusRequested.emit("after_call_work", None)  # the call ends
    await until(lambda: not day.notifier.quiet)
    assert day.notifier.shown[-1] == ("Something", "later")
    await gui.runtime.shutdown()


async def test_preferences_from_menu_and_tray_apply_at_once_and_are_saved(qtbot, tmp_path, artifacts_dir):
    gui, _relay, _feed = await start_app(tmp_path, own=own_event("available", 5))
    qtbot.addWidget(gui.window)
    day = gui.day
    menu_action = next(a for a in gui.window.menuBar().actions()[0].menu().actions() if a.text() == "Preferences…")
    tray_action = next(a for a in gui.tray.menu.actions() if a.text() == "Preferences…")
    day.set_idle_source(None, ["no idle back-end for this session (no display, no session bus)"])
    menu_action.trigger()
    dialog = day.preferences
    assert dialog.isVisible() and not dialog.isModal()
    assert dialog.idle_note.isVisible() and "not available here" in dialog.idle_note.text()
    assert not dialog.idle_minutes.isEnabled()
    dialog.grab().save(str(artifacts_dir / "agent-day-preferences-no-idle.png"))
    dialog.reject()
    day.set_idle_source(FakeIdle())
    tray_action.trigger()
    dialog = day.preferences
    assert not dialog.idle_note.isVisible() and dialog.idle_minutes.isEnabled()
    assert dialog.idle_minutes.value() == 10 and dialog.on_return.currentData() == "ask"
    dialog.idle_minutes.setValue(3)
    dialog.on_return.setCurrentIndex(dialog.on_return.findData("auto"))
    dialog.notifications.setChecked(False)
    dialog.restore.setChecked(False)
    dialog.grab().save(str(artifacts_dir / "agent-day-preferences.png"))
    dialog._ok()
    assert day.day.idle_after_s == 180 and day.day.on_return == "auto" and not day.notifier.enabled
    saved = SettingsStore(tmp_path).load_settings()
    assert (saved.idle_after_min, saved.on_return, saved.notifications, saved.restore_at_start) == (3, "auto", False, False)
    # Off: the idle poll stops at once.
    tray_action.trigger()
    day.preferences.idle_minutes.setValue(0)
    assert day.preferences.idle_minutes.text() == "Off"
    day.preferences._ok()
    assert not day.idle_timer.isActive() and day.day.idle_after_s is None
    await gui.runtime.shutdown()


async def test_network_change_and_wake_reconnect_at_once(qtbot, tmp_path):
    gui, relay, feed = await start_app(tmp_path, own=own_event("available", 5))
    qtbot.addWidget(gui.window)
    snapshots = relay.calls.count(("roster", "team-2"))
    gui.day.network_changed("network reachability: Online", None)
    assert feed.reconnects == ["network reachability: Online"]
    await until(lambda: relay.calls.count(("roster", "team-2")) == snapshots + 1)  # rejoined
    class Reach:
        def __init__(self, name):
            self.name = name

    online, offline = Reach("Online"), Reach("Disconnected")
    gui.day.network_changed("network reachability: Disconnected", offline)
    assert len(feed.reconnects) == 1  # nothing to reconnect to yet
    gui.day.network_changed("network reachability: Online", online)
    assert feed.reconnects[-1] == "network reachability: Online" and len(feed.reconnects) == 2
    gui.day.network_changed("network reachability: Online", online)  # repeated: not a change
    assert len(feed.reconnects) == 2
    gui.day.day.on_wake("the clock jumped +3600 s")  # what the clock-jump detector calls
    assert feed.reconnects[-1] == "the clock jumped +3600 s"
    await gui.runtime.shutdown()


async def test_own_pick_is_remembered_for_the_next_start(qtbot, tmp_path):
    gui, _relay, _feed = await start_app(tmp_path, own=own_event("available", 5))
    qtbot.addWidget(gui.window)
    def saved():
        return SettingsStore(tmp_path).load_settings().last_status.get(f"aws/{ME}")

    await until(lambda: saved() == LastStatus(status="available"))  # the stored pick, seen at join
    gui.window.own_bar.statusRequested.emit("lunch", "back at 2")
    await until(lambda: saved() == LastStatus(status="lunch", message="back at 2"))
    gui.service.request_status("away", None, source="idle")  # the app's own change is not a pick
    await until(lambda: gui.service.own.status_id == "away" and not gui.service.own.is_pending)
    assert saved() == LastStatus(status="lunch", message="back at 2")
    await gui.runtime.shutdown()


async def test_idle_away_while_offline_is_pending_then_replayed_or_overruled(qtbot, tmp_path):
    """Network down: the idle Away waits (pending, source idle) and goes out when the network
    is back; a supervisor's later decision wins over it and nothing is asked on return."""
    gui, relay, feed = await start_app(tmp_path, own=own_event("available", 60))
    qtbot.addWidget(gui.window)
    idle = FakeIdle()
    gui.day.set_idle_source(idle)
    relay.down = True
    idle.value = IdleSample(700.0)
    gui.day.poll_idle()
    await until(lambda: gui.service.own.pending is not None and gui.service.own.pending.attempts >= 1)
    assert gui.service.own.pending.status == "away" and gui.service.own.pending.source == "idle"
    relay.down = False
    gui.day.network_changed("network medium: Ethernet")  # the network is back: resume sends it at once
    await until(lambda: not gui.service.own.is_pending)
    assert gui.service.own.current.source == "idle" and status_calls(relay)[-1] == ("away", None, "idle")
    assert QApplication.activeModalWidget() is None

    # Back, Available again; then away once more while offline, and a supervisor decides meanwhile.
    idle.value = IdleSample(0.0)
    gui.day.poll_idle()
    await until(lambda: PromptKind.BACK_FROM_IDLE in gui.day.prompts.bars)
    gui.day.prompts.bars[PromptKind.BACK_FROM_IDLE].buttons[Answer.ACCEPT].click()
    await until(lambda: gui.service.own.status_id == "available" and not gui.service.own.is_pending)
    relay.down = True
    idle.value = IdleSample(900.0)
    gui.day.poll_idle()
    await until(lambda: gui.service.own.pending is not None and gui.service.own.pending.attempts >= 1)
    current = gui.service.own.current
    feed.publish(PresenceEvent(ME, "team-2", ME, "training", current.version + 1,
                               format_time(datetime.now(UTC)), source="supervisor", changed_by="sup-1"))
    await until(lambda: gui.service.own.status_id == "training" and not gui.service.own.is_pending)
    relay.down = False
    idle.value = IdleSample(0.0)
    gui.day.poll_idle()
    await asyncio.sleep(0.1)
    assert PromptKind.BACK_FROM_IDLE not in gui.day.prompts.bars and gui.service.own.status_id == "training"
    await gui.runtime.shutdown()


async def test_questions_never_take_the_focus_or_block(qtbot, tmp_path):
    gui, _relay, _feed = await start_app(tmp_path, own=own_event("lunch", 31 * 60))
    qtbot.addWidget(gui.window)
    gui.window.own_bar.message.setFocus()  # the agent is typing somewhere
    gui.day.day.tick()
    bar = gui.day.prompts.bars[PromptKind.BUDGET_OVER]
    assert all(b.focusPolicy() == Qt.FocusPolicy.NoFocus for b in bar.buttons.values())
    assert QApplication.activeModalWidget() is None
    assert not bar.isAncestorOf(QApplication.focusWidget() or gui.window)
    await gui.runtime.shutdown()
