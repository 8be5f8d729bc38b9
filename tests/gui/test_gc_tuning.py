"""The app's collector settings (bench/README.md: GC pauses during bursts)."""

from presence_desktop.ui import gui_app
from presence_desktop.ui.gui_app import GuiApp
from presence_desktop.ui.service import ConnectionState


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
