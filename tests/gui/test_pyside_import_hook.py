"""PySide6's per-import "does this module use PySide6?" check, without caching sources
(ui/pyside_import_hook.py; bench/ figures 4 and 5: ~11 MB of linecache after start-up)."""

import linecache
import sys

from presence_desktop.ui import pyside_import_hook


def test_the_check_keeps_its_answers_and_caches_no_source(tmp_path, monkeypatch):
    assert pyside_import_hook.install() and pyside_import_hook.install()  # idempotent
    feature = sys.modules["shibokensupport.feature"]
    (tmp_path / "uses_qt_probe.py").write_text("from PySide6.QtCore import QObject\nX = QObject\n")
    (tmp_path / "plain_probe.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("uses_qt_probe", "plain_probe"):
        __import__(name)  # the import statement: PySide6 hooks builtins.__import__
    # PySide's own verdicts: 0 = a module that uses PySide6 (features switchable), -1 = ignore it
    assert feature.pyside_feature_dict["uses_qt_probe"] == 0
    assert feature.pyside_feature_dict["plain_probe"] == -1
    assert not [n for n in linecache.cache if str(n).startswith(str(tmp_path))]


def test_cached_sources_of_files_are_dropped_generated_code_stays(tmp_path):
    real = tmp_path / "m.py"
    real.write_text("a = 1\n")
    linecache.getlines(str(real))
    linecache.cache["<generated-probe>"] = (6, None, ["b = 2\n"], "<generated-probe>")
    pyside_import_hook.drop_cached_sources()
    assert str(real) not in linecache.cache and "<generated-probe>" in linecache.cache
    linecache.cache.pop("<generated-probe>")
