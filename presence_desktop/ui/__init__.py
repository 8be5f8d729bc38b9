"""The desktop app (PySide6 + qasync). Imports the domain; the domain never imports this.

How the pieces fit (one direction of knowledge, left to right)::

    backends (ports.py)          core, no Qt (service.py)        Qt
    ─────────────────────        ─────────────────────────       ──────────────────────────────
    RelayApi  ← relay_client.py   PresenceService                 QtBridge (bridge.py): listener
    LiveFeed  ← adapters.py       · Roster / OwnStatus (domain)    → signals on the GUI thread
      (EventsClient)              · join: subscribe, buffer,      RosterWindow, SignInWindow,
                                    snapshot, replay              TrayController: widgets emit
                                  · pending own status, retries   signals, windows wire them
                                  · heartbeats, bounded shutdown  GuiApp (gui_app.py): the only
                                                                  place that knows both sides

- ``runtime.py``: the qasync bootstrap (QApplication first, asyncio on qasync's loop, tasks kept
  and their errors shown, shutdown from ``aboutToQuit`` within a budget, daemon executor).
- ``roster_model.py``: QAbstractTableModel over the domain roster (updates coalesced per 16 ms
  frame), the filter/sort proxy and the status-indicator delegate (``painting.py``: one vector
  shape per status, crisp at any scale).
- ``settings`` live in :mod:`presence_desktop.settings`; the entry point is
  :mod:`presence_desktop.app`.
"""
