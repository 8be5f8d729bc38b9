"""The roster window's team picker: which of the teams the token allows the window watches.

A button with a menu of checkable entries, "All my teams" and one per team the token allows
(``Identity.watched_teams``; docs/teams.md). Picking emits ``teamsChanged(object)``: None for
"all my teams" or the list of teams chosen; the app subscribes and unsubscribes accordingly
(``PresenceService.watch``) and remembers the choice. A manager watches every team: no menu.
Team ids are shown as plain text (never markup).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QToolButton, QWidget


class TeamPicker(QWidget):
    teamsChanged = Signal(object)  # None (all my teams) or list[str]

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("teamPicker")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.caption = QLabel("Watching:")
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        lay.addWidget(self.caption)
        self.button = QToolButton()
        self.button.setObjectName("teamPickerButton")
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.button.setStyleSheet("QToolButton { padding-right: 16px; }")  # room for the menu arrow
        self.menu = QMenu(self.button)
        self.button.setMenu(self.menu)
        lay.addWidget(self.button)
        self.allowed: tuple[str, ...] | None = None
        self.watched: tuple[str, ...] | None = None
        self._all: QAction | None = None
        self._teams: dict[str, QAction] = {}
        self.hide()  # until the app says what the token allows (set_teams)

    def set_teams(self, allowed: tuple[str, ...] | None, watched: tuple[str, ...] | None) -> None:
        """Show what the token allows (None: every team) and what is watched."""
        self.allowed, self.watched = allowed, watched
        self.menu.clear()
        self._teams = {}
        self._all = None
        if allowed is None:
            self.button.setText("Every team")
            self.button.setEnabled(False)
            self.button.setToolTip("Managers watch every team.")
            return
        self.button.setEnabled(bool(allowed))
        self.button.setToolTip("Choose the teams this window watches.")
        if not allowed:
            self.button.setText("No team")
            return
        everything = watched is None or set(watched) == set(allowed)
        self._all = self.menu.addAction("All my teams")
        self._all.setCheckable(True)
        self._all.setChecked(everything)
        self._all.triggered.connect(lambda _c: self.teamsChanged.emit(None))
        self.menu.addSeparator()
        for team in allowed:
            action = self.menu.addAction(team)
            action.setCheckable(True)
            action.setChecked(watched is None or team in watched)
            action.triggered.connect(lambda _c, t=team: self._toggled(t))
            self._teams[team] = action
        shown = allowed if watched is None else watched
        self.button.setText(f"All my teams ({len(allowed)})" if everything else ", ".join(shown))

    def _toggled(self, team: str) -> None:
        chosen = [t for t, a in self._teams.items() if a.isChecked()]
        if not chosen:  # at least one team: unticking the last one is undone
            self._teams[team].setChecked(True)
            return
        self.teamsChanged.emit(None if self.allowed is not None and set(chosen) == set(self.allowed) else chosen)
