"""Preferences: idle threshold and what happens on return, restore at start, notifications.

One non-modal dialog, opened from the window's menu and the tray. OK emits
``applied(AppSettings)`` with a changed copy of the settings; the app saves it and applies it at
once (no restart). Where no idle back-end works the idle choices are disabled and the dialog
says "Idle detection is not available here" with the reasons in its tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
)

from presence_desktop.client.settings import AppSettings
from presence_desktop.ui.theme import colors

RETURN_CHOICES = (("ask", "Ask “Back to Available?”"), ("auto", "Return to Available by itself"))


class PreferencesDialog(QDialog):
    applied = Signal(object)  # AppSettings

    def __init__(self, settings: AppSettings, idle_reasons: list[str] | None = None, parent=None) -> None:
        """``idle_reasons``: None = idle detection works here; a list = why it does not."""
        super().__init__(parent)
        self.setObjectName("preferencesDialog")
        self.setWindowTitle("Presence preferences")
        self.setModal(False)
        self.settings = settings
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.idle_minutes = QSpinBox()
        self.idle_minutes.setRange(0, 240)
        self.idle_minutes.setSuffix(" min")
        self.idle_minutes.setSpecialValueText("Off")
        self.idle_minutes.setAccessibleName("Away after idle")
        self.idle_minutes.setValue(settings.idle_after_min)
        form.addRow("Away after no input for:", self.idle_minutes)
        self.on_return = QComboBox()
        self.on_return.setAccessibleName("On return")
        for value, label in RETURN_CHOICES:
            self.on_return.addItem(label, value)
        self.on_return.setCurrentIndex(max(0, self.on_return.findData(settings.on_return)))
        form.addRow("When I come back:", self.on_return)
        self.idle_note = QLabel()
        self.idle_note.setObjectName("idleUnavailable")
        self.idle_note.setTextFormat(Qt.TextFormat.PlainText)
        self.idle_note.setWordWrap(True)
        self.idle_note.setStyleSheet(f"color: {colors().warn};")
        form.addRow(self.idle_note)
        self.restore = QCheckBox("Offer my last status when Presence starts")
        self.restore.setChecked(settings.restore_at_start)
        form.addRow(self.restore)
        self.notifications = QCheckBox("Show notifications (never while On call)")
        self.notifications.setChecked(settings.notifications)
        form.addRow(self.notifications)
        lay.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._ok)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.idle_minutes.valueChanged.connect(lambda v: self.on_return.setEnabled(v > 0 and self.idle_minutes.isEnabled()))
        self.set_idle_available(idle_reasons)

    def set_idle_available(self, reasons: list[str] | None) -> None:
        available = reasons is None
        self.idle_minutes.setEnabled(available)
        self.on_return.setEnabled(available and self.idle_minutes.value() > 0)
        if available:
            self.idle_note.hide()
        else:
            self.idle_note.setText("Idle detection is not available here: your status will not change "
                                   "to Away by itself.")
            self.idle_note.setToolTip("\n".join(reasons) if reasons else "")
            self.idle_note.show()

    def values(self) -> AppSettings:
        """A copy of the settings with the dialog's choices."""
        return self.settings.model_copy(update={
            "idle_after_min": self.idle_minutes.value(),
            "on_return": self.on_return.currentData(),
            "restore_at_start": self.restore.isChecked(),
            "notifications": self.notifications.isChecked(),
        })

    def _ok(self) -> None:
        self.applied.emit(self.values())
        self.accept()
