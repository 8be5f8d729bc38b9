"""The tray icon (showing the own status) and its menu (pick a status, set a message, open the
roster, quit).

Emits ``statusRequested(status_id)`` (an explicit pick of a menu item: the only way the tray
publishes), ``messageRequested(text)`` (a message typed in the tray's small message box and
confirmed with Enter or OK; "" clears it), ``showRequested()`` and ``quitRequested()``. Where the
platform has no system tray (offscreen, some Linux desktops) the menu still exists, so tests can
drive and draw it. User text in the tooltip and notifications goes through
:func:`~presence_desktop.domain.text.no_markup` (some notification servers read markup).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMenu, QSystemTrayIcon

from presence_desktop.domain.presence import MESSAGE_MAX_CHARS
from presence_desktop.domain.statuses import StatusCatalogue, UNKNOWN
from presence_desktop.domain.text import display_text, menu_text, no_markup
from presence_desktop.ui.painting import status_icon


class TrayController(QObject):
    statusRequested = Signal(str)
    messageRequested = Signal(str)
    showRequested = Signal()
    quitRequested = Signal()

    def __init__(self, catalogue: StatusCatalogue, username: str, parent=None) -> None:
        super().__init__(parent)
        self.catalogue = catalogue
        self.username = username
        self.menu = QMenu()
        self.menu.setObjectName("trayMenu")
        self.header = self.menu.addAction(f"{menu_text(username)}: Unknown")
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
        self.message_action = self.menu.addAction("Set a message…")
        self.message_action.setEnabled(False)  # a message goes out with a status: none yet
        self.message_action.triggered.connect(self.ask_message)
        self.menu.addSeparator()
        self.menu.addAction("Show roster").triggered.connect(self.showRequested)
        self.menu.addAction("Quit").triggered.connect(self.quitRequested)
        self.status_id: str | None = None
        self.message: str | None = None
        self.message_box: QInputDialog | None = None
        self.icon = QSystemTrayIcon(status_icon(UNKNOWN), self)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.set_own(None, False)

    def _activated(self, reason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.showRequested.emit()

    def show(self) -> bool:
        """Show the icon if the platform has a tray; returns whether it does."""
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.icon.show()
            return True
        return False

    def ask_message(self) -> QInputDialog:
        """Open the small message box (not modal: the loop and the roster keep running); OK or
        Enter emits ``messageRequested``, Cancel or Escape nothing."""
        if self.message_box is None:
            box = QInputDialog()
            box.setWindowTitle("Presence: status message")
            box.setInputMode(QInputDialog.InputMode.TextInput)
            box.setTextEchoMode(QLineEdit.EchoMode.Normal)
            box.setOption(QInputDialog.InputDialogOption.UsePlainTextEditForTextInput, False)
            box.textValueSelected.connect(lambda text: self.messageRequested.emit(text.strip()))
            edit = box.findChild(QLineEdit)
            if edit is not None:
                edit.setMaxLength(MESSAGE_MAX_CHARS)
            self.message_box = box
        box = self.message_box
        label = self.catalogue.display(self.status_id).label
        box.setLabelText(f"Message with your status ({label}), at most {MESSAGE_MAX_CHARS} characters; empty clears it:")
        box.setTextValue(display_text(self.message))
        box.show()
        box.raise_()
        box.activateWindow()
        return box

    def set_own(self, status_id: str | None, pending: bool, unconfirmed: str | None = None,
                message: str | None = None) -> None:
        """Show the own status. ``pending``: a change not yet confirmed; ``unconfirmed``: why the
        shown status cannot be vouched for now ("disconnected", "session expired"), said in the
        tooltip and the menu's first line (an outage must not read "Available")."""
        self.status_id, self.message = status_id, message
        st = self.catalogue.display(status_id)
        doubt = pending or bool(unconfirmed and status_id)
        self.icon.setIcon(status_icon(st, doubt))
        if pending:
            suffix = " (pending)"
        elif unconfirmed and status_id:
            suffix = f" (not confirmed: {unconfirmed})"
        else:
            suffix = ""
        said = f" · “{no_markup(message)}”" if message else ""
        self.icon.setToolTip(f"Presence: {no_markup(self.username)} — {st.label}{suffix}{said}")
        self.header.setText(f"{menu_text(self.username)}: {st.label}{suffix}")
        self.message_action.setEnabled(status_id is not None)
        for sid, act in self.actions.items():
            act.setChecked(sid == status_id)

    def notify(self, title: str, text: str) -> None:
        """A desktop notification (never a modal box); user text in it is neutralised here."""
        self.last_notification = (no_markup(title), no_markup(text))
        if self.icon.isVisible() and QSystemTrayIcon.supportsMessages():
            self.icon.showMessage(*self.last_notification, QSystemTrayIcon.MessageIcon.Information, 10_000)

    last_notification: tuple[str, str] | None = None

    def hide(self) -> None:
        self.icon.hide()
        if self.message_box is not None:
            self.message_box.close()
