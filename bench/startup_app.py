"""Start-up probes, each run as a fresh process by bench/startup.py.

``--app ARGS...``: the real entry point ``presence_desktop.app.main(ARGS)``; the only addition is
a watcher on the roster table: once the table's viewport has painted with at least one row, a
zero timer (i.e. after that paint event) prints ``{"painted_us": <monotonic us>}`` and asks the
app to quit (its normal shutdown follows). The watcher is installed by subclassing RosterWindow
where ``GuiApp`` looks it up; it watches only the table's viewport.

``--bare``: a bare QApplication + QMainWindow (same size), printing the same line after its
first paint.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def bare() -> int:
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    from bench.common import emit, now_us

    app = QApplication(["bench-bare"])
    win = QMainWindow()
    win.resize(1040, 720)

    class Watch(QObject):
        done = False

        def eventFilter(self, obj, ev):  # Qt API
            if ev.type() == QEvent.Type.Paint and not self.done:
                self.done = True
                QTimer.singleShot(0, lambda: (emit({"painted_us": now_us()}), app.quit()))
            return False

    watch = Watch()
    win.installEventFilter(watch)
    win.show()
    return app.exec()


def real_app(argv: list[str]) -> int:
    """The real entry (``presence_desktop.app.main``), its own import order untouched: the watcher
    is put on ``RosterWindow`` when the app itself imports ``presence_desktop.ui.gui_app`` (a
    meta-path hook), since importing it here first would load PySide6 before the app's Qt-free
    core, which the app avoids on purpose (app/gui.py ``load_core_before_qt``)."""
    import importlib.abc
    import importlib.machinery

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):  # importlib API
            if name != "presence_desktop.ui.gui_app":
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            real_exec = spec.loader.exec_module

            def exec_module(module) -> None:
                real_exec(module)
                sys.meta_path.remove(self)
                _watch(module)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, Finder())
    from presence_desktop.app import main

    return main(argv)


def _watch(gui_app) -> None:
    from PySide6.QtCore import QEvent, QObject, QTimer

    from bench.common import emit, now_us

    base = gui_app.RosterWindow

    class Watch(QObject):
        done = False

        def __init__(self, window) -> None:
            super().__init__(window)
            self.window = window

        def eventFilter(self, obj, ev):  # Qt API
            if not self.done and ev.type() == QEvent.Type.Paint and (rows := self.window.table.model().rowCount()) > 0:
                self.done = True

                def painted() -> None:
                    emit({"painted_us": now_us(), "rows": rows})
                    from PySide6.QtWidgets import QApplication

                    QApplication.instance().quit()

                QTimer.singleShot(0, painted)
            return False

    class WatchedRosterWindow(base):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._bench_watch = Watch(self)
            self.table.viewport().installEventFilter(self._bench_watch)

    gui_app.RosterWindow = WatchedRosterWindow


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bare"]:
        sys.exit(bare())
    sys.exit(real_app(sys.argv[2:] if sys.argv[1:2] == ["--app"] else sys.argv[1:]))
