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
    await until(lambda: gui.window.model.rowCount() == 10)  # team-2 only (after the next frame)
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


@pytest.mark.parametrize("how", ["cancel", "close"])
async def test_cancel_after_sign_out_quits_instead_of_leaving_a_process_without_window(qtbot, tmp_path, monkeypatch, how):
    """The first sign-in closed the window "by the app"; that flag stayed set, so Cancel (or
    closing the window) after Sign out emitted nothing: no window, no tray, process alive."""
    FakeAuth.remembered = None
    gui, _ = make_gui(tmp_path)
    quits = []
    monkeypatch.setattr(gui.runtime, "request_quit", lambda: quits.append(1))
    await gui.start("aws")
    w = gui.signin
    qtbot.addWidget(w)
    monkeypatch.setattr(FakeAuth, "sign_in", lambda self, u, p: _signed_in(u))
    w.username.setText("agent-2")
    w.password.setText("right")
    w.submit.click()
    await until(lambda: gui.window is not None)
    assert not w.isVisible() and quits == []
    await gui.sign_out()
    assert gui.signin.isVisible() and gui.window is None
    (w.cancel_button.click if how == "cancel" else w.close)()
    assert quits == [1]
    await gui.runtime.shutdown()


async def _signed_in(user):
    return SignedIn(user, Claims(user))


async def test_new_password_page_shows_the_policy_and_cancel_goes_back_to_sign_in(qtbot, tmp_path, monkeypatch):
    """Cancel on the challenge page used to close the window, and so quit the app."""
    from presence_desktop.client.profile import describe_password_policy

    FakeAuth.remembered = None
    policy = describe_password_policy({"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True,
                                       "RequireNumbers": True, "RequireSymbols": False})
    assert policy == "At least 12 characters, with an upper-case letter, a lower-case letter and a number."
    gui, _ = make_gui(tmp_path)
    gui.profiles["aws"] = PROFILE.model_copy(update={"cognito": PROFILE.cognito.model_copy(update={"password_policy": policy})})
    quits = []
    monkeypatch.setattr(gui.runtime, "request_quit", lambda: quits.append(1))
    await gui.start("aws")
    w = gui.signin
    qtbot.addWidget(w)
    w.username.setText("agent-2")
    w.password.setText("right")
    w.submit.click()
    await until(lambda: w.pages.currentIndex() == 1)
    assert w.password_policy.text() == policy and not w.password_policy.isHidden()
    w.cancel_button.click()
    assert quits == [] and w.isVisible()
    assert w.pages.currentIndex() == 0 and w.submit.text() == "Sign in" and w.submit.isEnabled()
    assert w.username.text() == "agent-2" and w.password.text() == ""
    w.password.setText("right")  # and a new sign-in starts afresh
    w.submit.click()
    await until(lambda: w.pages.currentIndex() == 1)
    w.cancel_button.click()
    w.cancel_button.click()  # on the sign-in page Cancel still quits
    assert quits == [1]
    await gui.runtime.shutdown()


async def test_a_problem_that_is_over_is_taken_back_and_only_that_one(qtbot, tmp_path):
    FakeAuth.remembered = SignedIn("agent-2", Claims("agent-2"))
    gui, _ = make_gui(tmp_path)
    await gui.start("aws")
    qtbot.addWidget(gui.window)
    gui.window.show_problem("The local stack is not answering")
    gui.clear_problem("The local stack is not answering")
    assert gui.window.messages.isHidden()
    gui.window.show_problem("Something else")
    gui.clear_problem("The local stack is not answering")
    assert not gui.window.messages.isHidden()
    await gui.runtime.shutdown()


async def test_a_hung_keyring_shows_the_window_at_once_and_says_so(qtbot, tmp_path, monkeypatch):
    """With a hung keyring no window appeared for 5.3 s, then a plain sign-in window: a
    remembered user looked signed out, with no word about the keyring."""
    from presence_desktop.auth.session import AuthSession
    from presence_desktop.auth.token_store import TokenStore
    from tests.auth.memkeyring import MemoryKeyring

    def auth_factory(profile, remember):
        return AuthSession(profile.cognito, TokenStore("pool/client", backend=MemoryKeyring(delay_s=3.0), timeout_s=0.6))

    gui, _ = make_gui(tmp_path)
    gui.auth_factory = auth_factory
    gui.settings.last_username = "agent-2"
    starting = asyncio.ensure_future(gui.start("aws"))
    await until(lambda: gui.signin is not None and gui.signin.isVisible(), timeout=0.5)
    qtbot.addWidget(gui.signin)
    assert "Waiting for the keyring" in gui.signin.busy_label.text() and not gui.signin.busy_label.isHidden()
    assert not gui.signin.submit.isEnabled()
    await starting
    w = gui.signin
    assert w.isVisible() and w.submit.isEnabled() and w.busy_label.isHidden()
    assert w.username.text() == "agent-2"
    assert "The keyring did not answer" in w.note.text() and not w.note.isHidden()
    await gui.runtime.shutdown()


async def test_a_quick_restore_shows_no_sign_in_window(qtbot, tmp_path):
    FakeAuth.remembered = SignedIn("agent-2", Claims("agent-2"), remembered=True)
    gui, _ = make_gui(tmp_path)
    await gui.start("aws")
    qtbot.addWidget(gui.window)
    assert gui.signin is None and gui.window.isVisible()
    await gui.runtime.shutdown()
