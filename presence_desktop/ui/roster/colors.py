"""The roster view's named colours, in one place (light palette)."""

from __future__ import annotations

from PySide6.QtGui import QColor

WARN_BG = QColor("#fff3cd")  # a budget at 80 %
OVER_BG = QColor("#f8d7da")  # a budget overrun
DIM_FG = QColor("#8a8a8a")  # Unknown / not current

LEVEL_BG = {"warn": WARN_BG, "over": OVER_BG}
