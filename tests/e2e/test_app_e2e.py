"""The desktop app against the real devstack (local Cognito with real SRP, events server over TLS,
relay, 40 simulated agents), offscreen. One module-scoped stack; tests run in order."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication

from presence_desktop.app.gui import real_auth_factory, real_backend_factory
from presence_desktop.client.settings import AppSettings, SettingsStore
from presence_desktop.devstack.launcher import profile_from_ready_file
from presence_desktop.resources import default_catalogue
from presence_desktop.ui.gui_app import GuiApp
from presence_desktop.ui.roster.columns import COL_STATUS
from presence_desktop.ui.roster.model import AGENT_ROLE
from presence_desktop.ui.runtime import DaemonExecutor, QtRuntime
from tests.e2e.conftest import SIMULATED

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


async def until(pred, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if pred():
                return
        except (AttributeError, KeyError, TypeError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def password(stack, username):
    return stack.cognito.user(username).password


def row_status(window, agent_id):
    for r in range(window.model.rowCount()):
        if window.model.index(r, 0).data(AGENT_ROLE) == agent_id:
            return window.model.index(r, COL_STATUS).data()
    return None


class Apps:
    """Two app instances in this process (the supervisor's and an agent's), as two users would run."""

    def __init__(self, stack, tmp):
        self.stack = stack
        self.tmp = tmp
        self.profile = profile_from_ready_file(stack.options.state_dir / "app-ready.json", name="local")
        self.apps: dict[str, GuiApp] = {}

    def new(self, key):
        qapp = QApplication.instance()
        loop = asyncio.get_running_loop()
        loop.set_default_executor(DaemonExecutor())
        runtime = QtRuntime(qapp, loop, shutdown_on_quit=False)  # pytest runs the loop once per test
        store = SettingsStore(self.tmp / key)
        gui = GuiApp(runtime, default_catalogue(), {"local": self.profile}, auth_factory=real_auth_factory,
                     backend_factory=real_backend_factory, store=store, settings=AppSettings(remember_me=False))
        self.apps[key] = gui
        return gui


@pytest.fixture(scope="module")
def apps(devstack, tmp_path_factory):
    return Apps(devstack, tmp_path_factory.mktemp("apps"))


async def test_sign_in_window_real_srp(devstack, apps, qtbot, artifacts_dir):
    gui = apps.new("sup")
    await gui.start("local")  # nothing remembered: the sign-in window
    w = gui.signin
    assert w is not None and w.isVisible()
    w.username.setText("sup-1")
    w.password.setText("not-the-password")
    w.grab().save(str(artifacts_dir / "signin.png"))
    w.submit.click()
    await until(lambda: w.error.isVisible(), what="the wrong-password error")
    assert w.error.text() == "Wrong username or password."
    w.grab().save(str(artifacts_dir / "signin-error.png"))
    # A real account outside the agent/supervisor groups is turned away with the reason.
    w.username.setText("outsider")
    w.password.setText(password(devstack, "outsider"))
    w.submit.click()
    await until(lambda: w.error.isVisible() and "none of the support agents, supervisors or managers" in w.error.text(),
                what="the outsider refused")
    assert gui.window is None
    w.username.setText("sup-1")
    w.password.setText(password(devstack, "sup-1"))
    w.submit.click()
    await until(lambda: gui.window is not None and gui.window.isVisible(), what="the roster window")
    assert not w.isVisible()
    assert gui.identity.username == "sup-1" and gui.identity.is_supervisor


async def test_roster_fills_from_snapshot(devstack, apps, artifacts_dir):
    gui = apps.apps["sup"]
    win = gui.window
    await until(lambda: gui.service.connection.up and not gui.service.roster.joining, what="the join")
    # sup-1 supervises team-1 and team-2 (docs/teams.md): their 20 simulated agents, nobody else.
    watched = {f"agent-{i}" for i in range(1, SIMULATED + 1) if (i - 1) % 4 + 1 in (1, 2)}
    await until(lambda: win.model.rowCount() >= len(watched), what="20 rows")
    ids = set(win.model.visible_agent_ids())
    assert watched <= ids
    assert {gui.service.roster.get(a).event.team_id for a in gui.service.roster.agent_ids()} <= {"team-1", "team-2"}
    # The full headline (the chip itself may be compact: the window opens within the screen,
    # and the offscreen screen is 800 px wide).
    assert win.counts.labels["available"][1].accessibleName().endswith(f"/ {win.model.rowCount()}")
    assert not win.banner.isVisible()
    win.messages.hide()  # the "session will not be remembered" note (no keyring here) is not the subject
    win.resize(1100, 1180)
    await asyncio.sleep(1.2)  # a tick: time columns drawn
    path = artifacts_dir / "roster-40.png"
    win.grab().save(str(path))
    # The README's picture: refreshed on request only, so test runs do not rewrite a tracked file.
    if os.environ.get("PRESENCE_UPDATE_DOCS") == "1" or not (DOCS / "roster.png").exists():
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS / "roster.png")
    win.resize(1040, 720)


async def test_simulated_agent_status_appears_in_its_row(devstack, apps):
    gui = apps.apps["sup"]
    roster = gui.service.roster
    agent = next(a for a in devstack.agents.agents if a.username == "agent-6")  # team-2, which sup-1 watches
    before = agent.changes
    await until(lambda: agent.changes > before, timeout=30, what="agent-6 to change status")
    ev = agent.last_event
    await until(lambda: roster.version_of("agent-6") >= ev.version, what="the event in the roster")
    entry = roster.get("agent-6")
    if entry.event.version == ev.version:
        assert entry.event == ev
        label = default_catalogue().get(ev.status).label
        await until(lambda: row_status(gui.window, "agent-6") == label, timeout=3, what="the row repaint")


async def test_own_status_through_relay_and_back_and_second_instance_sees_it(devstack, apps, artifacts_dir):
    sup = apps.apps["sup"]
    agent = apps.new("agent")
    await agent.start("local", "agent-41", password(devstack, "agent-41"))
    await until(lambda: agent.window is not None and agent.service.connection.up and not agent.service.roster.joining,
                what="the agent's window")
    # An agent sees its own team only.
    assert {agent.service.roster.get(a).event.team_id for a in agent.service.roster.agent_ids()} == {"team-1"}
    bar = agent.window.own_bar
    bar.combo.setCurrentIndex(bar.combo.findData("break"))
    bar.message.setText("back in 10")
    bar.apply_button.click()
    assert agent.service.own.is_pending and bar.state_label.text().startswith("pending")
    await until(lambda: not agent.service.own.is_pending, what="the relay's confirmation")
    assert agent.service.own.current.status == "break" and agent.service.own.current.message == "back in 10"
    assert bar.state_label.text() == "✓ confirmed"
    agent.window.grab().save(str(artifacts_dir / "roster-agent.png"))  # an agent's view: own team only
    # ...and the supervisor's window (the other instance) shows it in agent-41's row.
    await until(lambda: row_status(sup.window, "agent-41") == "Break", what="agent-41 in the supervisor's roster")
    # The tray shows the own status; its menu, drawn.
    assert agent.tray.actions["break"].isChecked()
    menu = agent.tray.menu
    menu.popup(QPoint(0, 0))
    await asyncio.sleep(0.2)
    menu.grab().save(str(artifacts_dir / "tray-menu.png"))
    menu.hide()
    # The tray picks a status too.
    agent.tray.actions["available"].trigger()
    await until(lambda: row_status(sup.window, "agent-41") == "Available", what="the tray's change")


async def test_supervisor_sets_agent_status_with_confirmation(devstack, apps):
    sup, agent = apps.apps["sup"], apps.apps["agent"]
    menu = sup.window.build_row_menu("agent-41")
    lunch = next(a for a in menu.actions()[0].menu().actions() if a.text() == "Lunch")
    lunch.trigger()
    await asyncio.sleep(0.3)
    assert row_status(sup.window, "agent-41") == "Available"  # nothing happens before confirming
    sup.window.confirm.yes.click()
    await until(lambda: agent.service.own.status_id == "lunch", what="the agent to see the supervisor's change")
    ev = agent.service.own.current
    assert ev.source == "supervisor" and ev.changed_by == "sup-1"
    await until(lambda: row_status(sup.window, "agent-41") == "Lunch · set by sup-1")


async def test_lost_connection_shows_unknown_and_banner_then_recovers(devstack, apps, artifacts_dir):
    sup = apps.apps["sup"]
    win = sup.window
    await devstack.events.stop()
    try:
        await until(lambda: win.banner.isVisible(), what="the banner")
        await until(lambda: (row_status(win, "agent-1") or "").startswith("Unknown"), what="Unknown rows")
        assert all((row_status(win, a) or "").startswith("Unknown") for a in win.model.visible_agent_ids())
        assert "Connection lost" in win.banner.label.text()
        await until(lambda: "Next retry in" in win.banner.label.text() or "Reconnecting" in win.banner.label.text())
        # A wish made while offline stays pending and goes out once the connection is back.
        sup.service.request_status("training")
        await asyncio.sleep(1.1)
        win.grab().save(str(artifacts_dir / "roster-disconnected.png"))
    finally:
        await devstack.events.start()
    await until(lambda: not win.banner.isVisible(), timeout=60, what="reconnection")
    await until(lambda: not sup.service.roster.joining)
    await until(lambda: not (row_status(win, "agent-1") or "Unknown").startswith("Unknown"), what="statuses back")
    await until(lambda: not sup.service.own.is_pending and sup.service.own.status_id == "training")
    # Live events flow again after the rejoin.
    agent = next(a for a in devstack.agents.agents if a.username == "agent-9")
    before = agent.changes
    await until(lambda: agent.changes > before, timeout=30)
    await until(lambda: sup.service.roster.version_of("agent-9") >= agent.last_event.version)


async def test_quitting_is_clean_and_fast(devstack, apps, tmp_path):
    """The real entry point, as a second process reusing this devstack: SIGTERM -> offline
    published, WebSocket closed, exit 0 within 3 s. agent-42 is given a status first: quitting
    publishes offline only for a user who was present (a user who never had a status gets no
    "Offline" row out of nothing), so an earlier session of agent-42 left it Available."""
    sup = apps.apps["sup"]
    earlier = apps.new("agent-42-earlier")
    await earlier.start("local", "agent-42", password(devstack, "agent-42"))
    await until(lambda: earlier.service is not None and earlier.service.connection.up, what="agent-42's first session")
    earlier.service.request_status("available")
    await until(lambda: row_status(sup.window, "agent-42") == "Available", what="agent-42 available")
    # That session ends without a word (a crash): no offline published.
    svc, earlier.service = earlier.service, None
    await svc.feed.close()
    await svc.tasks.cancel_all(0.5)
    await svc.relay.close()
    earlier.window.hide()
    earlier.tray.hide()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PRESENCE_DESKTOP_CONFIG_DIR=str(tmp_path / "cfg"))
    log_path = tmp_path / "app.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "presence_desktop.app", "--profile", "local", "--user", "agent-42",
             "--devstack-dir", str(devstack.options.state_dir), "--log-level", "INFO"],
            cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )
    out = lambda: log_path.read_text(errors="replace")  # noqa: E731
    try:
        # Up: signed in with SRP, connected and subscribed (its log says so).
        await until(lambda: proc.poll() is None and "subscribing" in out(), timeout=60,
                    what="the second instance to start")
        await asyncio.sleep(2.0)
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        while proc.poll() is None and time.monotonic() - t < 10:
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - t
        assert proc.returncode == 0, out()
        assert elapsed < 3.0, f"quit took {elapsed:.2f} s\n{out()}"
        assert "Traceback" not in out(), out()
        assert "events connection closed" in out(), out()
    finally:
        if proc.poll() is None:
            proc.kill()
    await until(lambda: row_status(sup.window, "agent-42") == "Offline", what="agent-42 offline in the roster")
    assert sup.service.roster.get("agent-42").event.source == "manual"


async def test_shutdown_of_the_in_process_apps(apps):
    for gui in apps.apps.values():
        t = time.monotonic()
        await gui.runtime.shutdown()
        assert time.monotonic() - t < 3.0
        assert gui.service is None and gui.runtime.tasks.running == 0
