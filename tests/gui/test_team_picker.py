"""The roster window's team picker (docs/teams.md), driven through GuiApp with fake backends: a
supervisor watches the teams the token allows, one subscription per team; picking changes the
subscriptions without reconnecting, is remembered across starts; a supervisor without teams reads
a sentence instead of an empty table."""

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtWidgets import QApplication

from presence_desktop.client.settings import SettingsStore
from presence_desktop.resources import default_catalogue
from presence_desktop.ui.gui_app import GuiApp
from presence_desktop.ui.runtime import QtRuntime
from tests.gui.fakes import FakeFeed, FakeRelay, demo_events
from tests.gui.test_signin_flow import PROFILE, FakeAuth, SignedIn, until

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@dataclass
class Claims:
    username: str
    sub: str = "sub"
    groups: tuple = ("supervisors",)
    team_id: str = "team-1"
    raw: dict = field(default_factory=dict)


def sup(username="sup-1", supervises="team-2,team-3"):
    raw = {"custom:supervises": supervises} if supervises is not None else {}
    return SignedIn(username, Claims(username, raw=raw), remembered=True)


def make_gui(tmp_path):
    runtime = QtRuntime(QApplication.instance(), asyncio.get_running_loop(), shutdown_on_quit=False)
    backends = {}

    def backend_factory(profile, auth, identity):
        relay = FakeRelay(demo_events(40), me=identity.username, team=identity.team_id)
        feed = FakeFeed()
        relay.feed = feed
        backends["relay"], backends["feed"] = relay, feed
        return relay, feed

    store = SettingsStore(tmp_path)
    gui = GuiApp(runtime, default_catalogue(), {"aws": PROFILE}, auth_factory=FakeAuth, backend_factory=backend_factory,
                 store=store, settings=store.load_settings())
    return gui, backends


async def test_picker_changes_teams_without_reconnecting_and_is_remembered(qtbot, tmp_path):
    FakeAuth.remembered = sup()
    gui, backends = make_gui(tmp_path)
    await gui.start("aws")
    window, feed, relay = gui.window, backends["feed"], backends["relay"]
    qtbot.addWidget(window)
    await until(lambda: window.model.rowCount() == 20)  # team-2 and team-3 only
    assert feed.channels == ["/agent-presence/team-2/*", "/agent-presence/team-3/*"]
    picker = window.team_picker
    assert picker.button.text() == "All my teams (2)" and picker._all.isChecked()
    assert [a.text() for a in picker.menu.actions() if a.isCheckable()] == ["All my teams", "team-2", "team-3"]
    window.resize(1040, 360)
    await asyncio.sleep(0.3)  # a layout pass and a paint at the new size
    window.grab().save(str(ARTIFACTS / "team_picker_all.png"))

    relay.calls.clear()
    picker._teams["team-2"].trigger()  # untick team-2
    await until(lambda: window.model.rowCount() == 10)
    assert feed.channels == ["/agent-presence/team-3/*"] and len(feed.channel_history) == 2
    assert not any(c[0] == "roster" for c in relay.calls), "nothing new to join"
    assert picker.button.text() == "team-3"
    assert SettingsStore(tmp_path).load_settings().watched_teams == {"aws/sup-1": ["team-3"]}
    picker._teams["team-3"].trigger()  # the last team cannot be unticked
    assert picker._teams["team-3"].isChecked() and feed.channels == ["/agent-presence/team-3/*"]
    await gui.runtime.shutdown()

    # Next start: the remembered choice.
    FakeAuth.remembered = sup()
    gui2, backends2 = make_gui(tmp_path)
    await gui2.start("aws")
    qtbot.addWidget(gui2.window)
    assert backends2["feed"].channels == ["/agent-presence/team-3/*"]
    await until(lambda: gui2.window.model.rowCount() == 10)
    # "All my teams" again: team-2 is subscribed and its snapshot fetched, over the same feed.
    gui2.window.team_picker._all.trigger()
    await until(lambda: gui2.window.model.rowCount() == 20)
    assert ("roster", "team-2") in backends2["relay"].calls
    assert SettingsStore(tmp_path).load_settings().watched_teams == {}
    await gui2.runtime.shutdown()


async def test_a_supervisor_without_teams_reads_a_sentence_not_an_empty_table(qtbot, tmp_path):
    FakeAuth.remembered = sup("sup-9", supervises=None)
    gui, backends = make_gui(tmp_path)
    await gui.start("aws")
    window = gui.window
    qtbot.addWidget(window)
    await asyncio.sleep(0.1)
    assert backends["feed"].channels == []
    assert window.empty_reason.isVisible() and not window.table.isVisible()
    assert "You supervise no team yet" in window.empty_reason.text()
    assert window.team_picker.button.text() == "No team" and not window.team_picker.button.isEnabled()
    assert window.team_picker.isVisible()
    window.resize(1040, 360)
    await asyncio.sleep(0.3)
    window.grab().save(str(ARTIFACTS / "team_picker_no_teams.png"))
    await gui.runtime.shutdown()


async def test_a_manager_watches_every_team_through_the_namespace_wildcard(qtbot, tmp_path):
    FakeAuth.remembered = SignedIn("mgr-1", Claims("mgr-1", groups=("managers",)), remembered=True)
    gui, backends = make_gui(tmp_path)
    await gui.start("aws")
    qtbot.addWidget(gui.window)
    await until(lambda: gui.window.model.rowCount() == 40)
    assert backends["feed"].channels == ["/agent-presence/*"] and ("roster", None) in backends["relay"].calls
    assert gui.window.team_picker.button.text() == "Every team" and not gui.window.team_picker.button.isEnabled()
    await gui.runtime.shutdown()


async def test_an_agent_has_no_picker(qtbot, tmp_path):
    FakeAuth.remembered = SignedIn("agent-2", Claims("agent-2", groups=("support_agents",), team_id="team-2"),
                                   remembered=True)
    gui, backends = make_gui(tmp_path)
    await gui.start("aws")
    qtbot.addWidget(gui.window)
    await until(lambda: gui.window.model.rowCount() == 10)
    assert backends["feed"].channels == ["/agent-presence/team-2/*"]
    assert not gui.window.team_picker.isVisible()
    await gui.runtime.shutdown()
