"""Screenshots of the roster window (issue 15): ``python -m tests.gui.shots OUT.png [--dark]
[--width W] [--height H] [--hostile]``. Run in a subprocess so that ``QT_SCALE_FACTOR`` and the
offscreen screen size (``QT_QPA_PLATFORM=offscreen:configfile=...``) apply from the start, as
they do for a real app. The window is built as the app builds it: the sample roster, connected,
the own status confirmed, clamped to the screen."""

from __future__ import annotations

import argparse
import sys
import time


def build(dark: bool, width: int | None, height: int | None, hostile: bool, bars: bool = False):
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    from presence_desktop.ui import theme

    if dark:
        app.setPalette(theme.dark_palette())
    from presence_desktop.client.sample import sample_events
    from presence_desktop.client.service import ConnectionState
    from presence_desktop.domain.identity import Identity
    from presence_desktop.domain.roster import OwnStatus, Roster
    from presence_desktop.domain.times import ServerClock
    from presence_desktop.resources import default_catalogue
    from presence_desktop.ui.widgets import clamp_to_screen

    try:
        from presence_desktop.ui.roster.window import RosterWindow
    except ImportError:  # before the roster view's split
        from presence_desktop.ui.roster_window import RosterWindow

    catalogue = default_catalogue()
    now = time.time()
    events = sample_events(40, 4, seed=7, now=now)
    if hostile:
        e = events[6]
        events[6] = e.with_(display_name="<b>SPOOF</b> agent-7\u202e\u200b", message="back in 5\u202enim 09 ni kcab")
    clock = ServerClock()
    roster = Roster(catalogue, clock=clock)
    roster.begin_join()
    roster.complete_join(events)
    me = Identity(username="sup-1", sub="s", groups=("supervisors",), team_id="team-1",
                  supervised_teams=("team-1", "team-2", "team-3", "team-4"))
    win = RosterWindow(roster, catalogue, me, profile_name="local", clock=clock)
    win.on_connection(ConnectionState(up=True))
    own = OwnStatus("sup-1", clock=clock)
    own.observe(events[0].with_(agent_id="sup-1", display_name="Sam Supervisor", status="available", message=None))
    win.on_own_status(own)
    if bars:  # every bar at once: connection lost (rows Unknown), a problem, the confirm step
        roster.connection_lost(at=now - 12)
        win.on_roster_changed(roster.connection_lost())
        win.on_connection(ConnectionState(up=False, since=now - 12, next_retry_at=now + 4, reason="connection closed (1006)"))
        win.on_own_status(own, "disconnected")
        win.show_problem("Could not change agent-7's status: the relay did not answer (timed out)")
    if width or height:
        win.resize(width or win.width(), height or win.height())
    clamp_to_screen(win)
    win.show()
    clamp_to_screen(win)
    for _ in range(5):
        app.processEvents()
        time.sleep(0.02)
    win.model.flush()
    if bars:
        win.ask_set_status(events[2].agent_id, "break")
    app.processEvents()
    return app, win


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--dark", action="store_true")
    ap.add_argument("--width", type=int)
    ap.add_argument("--height", type=int)
    ap.add_argument("--hostile", action="store_true")
    ap.add_argument("--bars", action="store_true")
    args = ap.parse_args(argv)
    app, win = build(args.dark, args.width, args.height, args.hostile, args.bars)
    win.grab().save(args.out)
    screen = win.screen().availableGeometry()
    print(f"window {win.width()}x{win.height()} frame {win.frameGeometry().width()}x{win.frameGeometry().height()} "
          f"screen {screen.width()}x{screen.height()} dpr {win.devicePixelRatio()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
