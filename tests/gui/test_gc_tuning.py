"""The app's collector settings (bench/README.md: GC pauses during bursts)."""

from presence_desktop.client.service import ConnectionState
from presence_desktop.ui import gui_app
from presence_desktop.ui.gui_app import GuiApp


def test_gc_frozen_once_after_the_first_completed_join(monkeypatch, qtbot):
    calls = []
    monkeypatch.setattr(gui_app, "freeze_gc", lambda: calls.append(1))
    monkeypatch.setattr(GuiApp, "_gc_frozen", False)
    app = GuiApp.__new__(GuiApp)
    app._joined(ConnectionState(up=False, reason="connecting"))
    app._joined(ConnectionState(up=True, joining=True))
    assert calls == []  # not before the roster is in
    app._joined(ConnectionState(up=True))
    app._joined(ConnectionState(up=True))
    assert calls == []  # a moment later: the joined roster's first paint does not wait for it
    qtbot.waitUntil(lambda: calls == [1], timeout=5000)
    qtbot.wait(gui_app.FREEZE_GC_DELAY_MS + 200)
    assert calls == [1]


def test_the_freeze_collects_only_the_young_generations(monkeypatch):
    # A full collection first took 51 ms at 5,000 agents and found 32 unreachable objects (bench
    # burst): freezing those costs nothing, the pause was the cost.
    import gc

    from presence_desktop.ui import runtime

    calls = []
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append(("collect", *a)) or 0)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append(("freeze",)))
    runtime.freeze_gc()
    assert calls == [("collect", 1), ("freeze",)]


def test_thousands_of_joined_agents_are_frozen_too(monkeypatch, qtbot):
    import gc

    from presence_desktop.client.sample import sample_events
    from presence_desktop.domain.presence import utc_now_iso
    from presence_desktop.domain.roster import Roster
    from presence_desktop.resources import default_catalogue
    from presence_desktop.ui import roster_model

    freezes = []
    monkeypatch.setattr(roster_model, "freeze_gc", lambda: freezes.append(1))
    monkeypatch.setattr(roster_model, "REFREEZE_ROWS", 50)
    monkeypatch.setattr(gc, "get_freeze_count", lambda: 1000)  # the app froze its start-up objects
    roster = Roster(default_catalogue())
    roster.begin_join()
    roster.complete_join(sample_events(10))
    model = roster_model.RosterTableModel(roster)
    freezes.clear()
    template = roster.get(roster.agent_at(0)).event

    def join(first, count):
        for i in range(first, first + count):
            model.note_change(roster.apply(template.with_(agent_id=f"new-{i}", version=1, changed_at=utc_now_iso())))
        model.flush()

    join(0, 30)
    assert freezes == []
    join(30, 30)  # 60 rows since the last freeze
    assert freezes == [1]
    join(60, 30)
    assert freezes == [1]
