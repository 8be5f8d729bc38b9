"""The desktop app's windows (PySide6 + qasync); see README.md in this folder.

How the pieces fit (one direction of knowledge, left to right)::

    client/ (no Qt)                               ui/ (Qt)
    ───────────────────────────────────           ─────────────────────────────────────────
    RelayApi  ← relay_client.py                   QtBridge (bridge.py): the service's
    LiveFeed  ← backends.py (EventsClient)          callbacks -> signals on the GUI thread
    PresenceService (service.py)                  RosterWindow, SignInWindow, TrayController:
      · Roster / OwnStatus (domain)                 widgets emit signals, windows wire them
      · join: subscribe, buffer, snapshot, replay GuiApp (gui_app.py): the only place that
      · pending own status, retries, heartbeats     knows both sides
"""
