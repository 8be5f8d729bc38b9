"""``presence-desktop --self-test``: load what a frozen build must carry and draw the roster once
offscreen, with sample data (no network). Prints a JSON report; exit 0 when the roster was drawn."""

from __future__ import annotations

import json
import os
from typing import Any

from presence_desktop.app.version import version


def self_test() -> int:
    """Load what a frozen build must carry and draw the roster once offscreen."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    report: dict[str, Any] = {"version": version()}
    from PySide6 import __version__ as pyside_version
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["presence-desktop", "--self-test"])
    report["qt"] = pyside_version
    report["platform"] = app.platformName()
    import keyring
    import websockets

    backend = type(keyring.get_keyring())
    # Module-qualified: SecretService, kwallet and fail (no backend found) all name theirs "Keyring".
    report["keyring"] = f"{backend.__module__}.{backend.__qualname__}"
    report["websockets"] = websockets.__version__
    import botocore  # every Cognito call (pycognito's SRP for the interactive sign-in)
    import pycognito  # noqa: F401
    import qasync  # noqa: F401
    import urllib3  # the relay client

    report["urllib3"], report["botocore"] = urllib3.__version__, botocore.__version__
    from presence_desktop.client.sample import sample_events  # no network in a self-test
    from presence_desktop.domain.identity import SUPERVISORS, Identity
    from presence_desktop.domain.roster import Roster
    from presence_desktop.resources import default_catalogue
    from presence_desktop.ui.roster.window import RosterWindow

    cat = default_catalogue()
    roster = Roster(cat)
    roster.begin_join()
    roster.complete_join(sample_events(12))
    win = RosterWindow(roster, cat, Identity("self-test", "self-test", (SUPERVISORS,), "team-1"))
    win.model.sync()
    pixmap = win.grab()
    report["roster_rows"] = win.model.rowCount()
    report["drawn"] = f"{pixmap.width()}x{pixmap.height()}"
    ok = not pixmap.isNull() and win.model.rowCount() == 12
    win.close()
    print(json.dumps(report))
    return 0 if ok else 1
