"""The tray icon (showing the own status) and its menu (pick a status, open the roster, quit).

Emits ``statusRequested(status_id)``, ``showRequested()`` and ``quitRequested()``. Where the
platform has no system tray (offscreen, some Linux desktops) the menu still exists, so tests can
drive and draw it.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from presence_desktop.domain.statuses import UNKNOWN, StatusCatalogue
from presence_desktop.ui.painting import status_icon


class TrayController(QObject):
    statusRequested = Signal(str)
    showRequested = Signal()
    quitRequested = Signal()

    def __init__(self, catalogue: StatusCatalogue, username: str, parent=None) -> None:
        super().__init__(parent)
        self.catalogue = catalogue
        self.menu = QMenu()
        self.menu.setObjectName("trayMenu")
        self.header = self.menu.addAction(f"{username}: Unknown")
        self.header.setEnabled(False)
        self.menu.addSeparator()
        self.group = QActionGroup(self)
        self.group.setExclusive(True)
        self.actions: dict[str, QAction] = {}
        for st in catalogue:
            act = QAction(status_icon(st), st.label, self.menu)
            act.setCheckable(True)
            act.setData(st.id)
            act.triggered.connect(lambda _c=False, sid=st.id: self.statusRequested.emit(sid))
            self.group.addAction(act)
            self.menu.addAction(act)
            self.actions[st.id] = act
        self.menu.addSeparator()
        self.menu.addAction("Show roster").triggered.connect(self.showRequested)
        self.menu.addAction("Quit").triggered.connect(self.quitRequested)
        self.username = username
        self.icon = QSystemTrayIcon(status_icon(UNKNOWN), self)
        self.icon.setContextMenu(self.menu)
        self.icon.setToolTip(f"Presence: {username} — Unknown")
        self.icon.activated.connect(self._activated)

    def _activated(self, reason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.showRequested.emit()

    def show(self) -> bool:
        """Show the icon if the platform has a tray; returns whether it does."""
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.icon.show()
            return True
        return False

    def set_own(self, status_id: str | None, pending: bool) -> None:
        st = self.catalogue.display(status_id)
        self.icon.setIcon(status_icon(st, pending))
        suffix = " (pending)" if pending else ""
        self.icon.setToolTip(f"Presence: {self.username} — {st.label}{suffix}")
        self.header.setText(f"{self.username}: {st.label}{suffix}")
        for sid, act in self.actions.items():
            act.setChecked(sid == status_id)

    def hide(self) -> None:
        self.icon.hide()
