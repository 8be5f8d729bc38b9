"""The GUI start imports the Qt-free core before PySide6 (app/gui.py ``load_core_before_qt``):
modules imported after PySide6 have their whole source read and kept in memory by its import
hook (~11 MB and ~50 ms at start-up, bench/README.md "Import weight")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent("""
    import json, linecache, sys
    from presence_desktop.app.gui import load_core_before_qt

    load_core_before_qt()
    qt_before = sorted(m for m in sys.modules if m.startswith(("PySide6", "shiboken6", "qasync")))
    core = set(sys.modules)
    import presence_desktop.app.gui, presence_desktop.ui.gui_app  # what run_gui imports next
    from presence_desktop.app.gui import prepare_backends  # noqa: F401
    late = sorted(set(sys.modules) - core)
    print(json.dumps({"qt_before": qt_before, "late": late,
                      "read_by_hook": sorted(linecache.cache)}))
""")

HEAVY = ("pydantic", "pydantic_core", "websockets", "urllib3", "jwt", "cryptography", "keyring", "jeepney",
         "secretstorage", "platformdirs", "botocore")


def test_the_core_is_imported_before_pyside6_and_nothing_of_it_after() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["qt_before"] == []
    late_core = [m for m in report["late"]
                 if (m.startswith("presence_desktop.") and not m.startswith(("presence_desktop.ui", "presence_desktop.app")))
                 or m.split(".")[0] in HEAVY]
    # A module listed here is imported by the ui after PySide6: add it to load_core_before_qt.
    assert late_core == []
    # The hook still reads what a ui module names in an import statement (the app's own core
    # modules), but no library's source: those were all imported before it existed.
    libraries = [f.split("site-packages/")[1] for f in report["read_by_hook"] if "site-packages/" in f]
    assert [f for f in libraries if not f.startswith(("PySide6/", "shiboken6/", "qasync/"))] == []
