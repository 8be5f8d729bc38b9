"""A small non-modal "starting…" window for the seconds before sign-in (the local devstack takes
a while: every simulated agent signs in with SRP)."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from presence_desktop.ui.theme import colors


class StartupSplash(QWidget):
    def __init__(self, text: str, expected_s: float = 20.0) -> None:
        super().__init__(None, Qt.WindowType.Window)
        self.setWindowTitle("Presence")
        self.setObjectName("startupSplash")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 20)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        lay.addWidget(self.label)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy: no honest percentage to show
        lay.addWidget(self.bar)
        self.elapsed = QLabel()
        self.elapsed.setStyleSheet(f"color: {colors(self.palette()).muted};")
        lay.addWidget(self.elapsed)
        self.setMinimumWidth(380)
        self._started = time.monotonic()
        self._expected = expected_s
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self._timer.start(500)
        self._tick()

    def _tick(self) -> None:
        spent = time.monotonic() - self._started
        self.elapsed.setText(f"{spent:.0f} s (usually about {self._expected:.0f} s)")

    def set_text(self, text: str) -> None:
        self.label.setText(text)
