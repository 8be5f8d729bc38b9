"""The sign-in window driven through GuiApp with a fake auth session (challenges, errors,
remembered session) and fake backends."""

import asyncio
import time
from dataclasses import dataclass

import pytest
from PySide6.QtWidgets import QApplication

from presence_desktop.auth.errors import InvalidCodeError, NetworkError, WrongCredentialsError
from presence_desktop.client.profile import CognitoSettings, EventsSettings, Profile, RelaySettings
from presence_desktop.client.settings import AppSettings, SettingsStore
from presence_desktop.resources import default_catalogue
from presence_desktop.ui.gui_app import GuiApp
from presence_desktop.ui.runtime import QtRuntime
from tests.gui.fakes import FakeFeed, FakeRelay, demo_events

PROFILE = Profile(
    name="aws", kind="aws",
    cognito=CognitoSettings(region="eu-west-1", user_pool_id="eu-west-1_X", client_id="c"),
    events=EventsSettings(http_url="https://e.example/event", realtime_url="wss://e.example/event/realtime", region="eu-west-1"),
    relay=RelaySettings(url="https://r.example"),
)


@dataclass
class Claims:
    username: str
    sub: str = "sub"
    groups: tuple = ("support_agents",)
    team_id: str = "team-2"


@dataclass
class SignedIn:
    username: str
    claims: Claims
    remembered: bool = False
    note: str | None = None


@dataclass
class NewPasswordRequired:
    username: str


@dataclass
class TotpRequired:
    username: str


class FakeAuth:
    """Scripted like AuthSession: agent-2 needs a new password then TOTP 123456."""

    remembered = None

    def __init__(self, profile, remember):
        self.remember = remember
        self.calls = []

    async def sign_in(self, user, pw):
        self.calls.append(("sign_in", user))
        await asyncio.sleep(0.01)
        if pw == "offline":
            raise NetworkError()
        if pw != "right":
            raise WrongCredentialsError()
        return NewPasswordRequired(user)

    async def respond_new_password(self, pw):
        return TotpRequired("agent-2")

    async def respond_totp(self, code):
        if code != "123456":
            raise InvalidCodeError()
        return SignedIn("agent-2", Claims("agent-2"))

    async def restore(self):
        return FakeAuth.remembered

    async def sign_out(self):
        FakeAuth.remembered = None


async def until(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def make_gui(tmp_path):
    runtime = QtRuntime(QApplication.instance(), asyncio.get_running_loop(), shutdown_on_quit=False)
    backends = {}

    def backend_factory(profile, auth, identity):
        relay = FakeRelay(demo_events(40), me=identity.username, team=identity.team_id)
        feed = FakeFeed()
        relay.feed = feed
        backends["relay"], backends["feed"] = relay, feed
        return relay, feed

    gui = GuiApp(runtime, default_catalogue(), {"aws": PROFILE}, auth_factory=FakeAuth, backend_factory=backend_factory,
                 store=SettingsStore(tmp_path), settings=AppSettings())
    return gui, backends


async def test_errors_in_plain_words_then_new_password_and_mfa(qtbot, tmp_path):
    FakeAuth.remembered = None
    gui, backends = make_gui(tmp_path)
    await gui.start("aws")
    w = gui.signin
    qtbot.addWidget(w)
    w.submit.click()
    assert w.error.text() == "Enter your username and password."
    w.username.setText("agent-2")
    w.password.setText("wrong")
    w.submit.click()
    await until(lambda: w.error.isVisible())
    assert w.error.text() == "Wrong username or password."
    w.password.setText("offline")
    w.submit.click()
    await until(lambda: "Cannot reach the sign-in service" in w.error.text() and w.submit.isEnabled())
    w.password.setText("right")
    w.submit.click()
    await until(lambda: w.pages.currentIndex() == 1)
    w.new_password.setText("N3w-password!")
    w.new_password2.setText("different")
    w.submit.click()
    assert w.error.text() == "The two new passwords differ."
    w.new_password2.setText("N3w-password!")
    w.submit.click()
    await until(lambda: w.pages.currentIndex() == 2)
    w.mfa_code.setText("000000")
    w.submit.click()
    await until(lambda: w.error.isVisible() and w.submit.isEnabled())
    assert "code is not correct" in w.error.text()
    w.mfa_code.setText("123456")
    w.submit.click()
    await until(lambda: gui.window is not None)
    assert not w.isVisible() and gui.identity.username == "agent-2"
    await until(lambda: gui.service.connection.up and not gui.service.roster.joining)
    await until(lambda: gui.window.proxy.rowCount() == 10)  # team-2 only (after the next frame)
    saved = SettingsStore(tmp_path).load_settings()
    assert saved.last_username == "agent-2" and saved.last_profile == "aws"
    gui.window.table.horizontalHeader().resizeSection(1, 333)
    await gui.runtime.shutdown()
    assert ("set_status", "offline", None, None) in backends["relay"].calls
    assert backends["feed"].closed_with == 1000
    # Window geometry and column widths went to the UI state file, apart from the settings.
    state = SettingsStore(tmp_path).load_ui_state().roster_window
    assert state.get("geometry") and state.get("header")
    assert "geometry" not in (tmp_path / "settings.json").read_text()
    gui2, _ = make_gui(tmp_path)
    FakeAuth.remembered = SignedIn("agent-2", Claims("agent-2"))
    await gui2.start("aws")
    qtbot.addWidget(gui2.window)
    assert gui2.window.table.horizontalHeader().sectionSize(1) == 333
    await gui2.runtime.shutdown()


async def test_remembered_session_opens_the_roster_without_asking(qtbot, tmp_path):
    FakeAuth.remembered = SignedIn("agent-2", Claims("agent-2"), remembered=True)
    gui, backends = make_gui(tmp_path)
    await gui.start("aws")
    assert gui.signin is None and gui.window is not None
    qtbot.addWidget(gui.window)
    # Sign out: back to the sign-in window, session forgotten.
    await gui.sign_out()
    assert gui.window is None and gui.signin.isVisible() and FakeAuth.remembered is None
    qtbot.addWidget(gui.signin)
    await gui.runtime.shutdown()


@pytest.mark.parametrize("prepare_fails", [False, True])
async def test_backends_are_prepared_while_the_remembered_session_is_restored(qtbot, tmp_path, monkeypatch, prepare_fails):
    import threading

    prepared = threading.Event()
    FakeAuth.remembered = SignedIn("agent-2", Claims("agent-2"), remembered=True)

    async def slow_restore(self):
        # The keyring and Cognito take a while: the preparation runs meanwhile, not after.
        await asyncio.to_thread(prepared.wait, 10)
        return FakeAuth.remembered if prepared.is_set() else None

    def prepare(profile):
        assert profile is PROFILE
        prepared.set()
        if prepare_fails:
            raise OSError("no CA file")  # only a head start: the roster opens anyway

    monkeypatch.setattr(FakeAuth, "restore", slow_restore)
    gui, backends = make_gui(tmp_path)
    gui.prepare = prepare
    await gui.start("aws")
    assert gui.signin is None and gui.window is not None
    qtbot.addWidget(gui.window)
    await gui.runtime.shutdown()


async def test_async_slot_errors_are_shown_not_lost(qtbot, tmp_path):
    FakeAuth.remembered = SignedIn("agent-2", Claims("agent-2"))
    gui, backends = make_gui(tmp_path)
    await gui.start("aws")
    qtbot.addWidget(gui.window)

    async def broken():
        raise RuntimeError("kaputt")

    gui.runtime.spawn(broken(), name="broken")
    await until(lambda: gui.window.messages.isVisible())
    assert "kaputt" in gui.window.messages.label.text()
    await gui.runtime.shutdown()
