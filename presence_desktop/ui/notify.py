"""Desktop notifications, one small class: through the tray (``TrayController.notify``, which
neutralises markup, else the icon's ``showMessage``: the platform's own notification service on
Windows, macOS and most Linux desktops), never a dialog.

Respects the desktop and the call: off when the user turned notifications off; held while the
own status is a quiet one (On call: do not disturb) and the latest held one shown when the call
ends. Without a visible tray nothing is shown (the in-window prompt still is). ``shown`` keeps
what was shown (tests, and the log says it too).
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtWidgets import QSystemTrayIcon

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, tray: Any | None, enabled: bool = True) -> None:
        """``tray``: a TrayController (``icon``, and ``notify`` where it has one) or None."""
        self.tray = tray
        self.enabled = enabled
        self.quiet = False
        self.held: tuple[str, str] | None = None
        self.shown: list[tuple[str, str]] = []

    def notify(self, title: str, text: str) -> None:
        """Show ``title``/``text`` (plain text) now, later (quiet) or never (off)."""
        if not self.enabled:
            return
        if self.quiet:
            log.info("notification held (do not disturb): %s", title)
            self.held = (title, text)
            return
        self._show(title, text)

    def withdraw(self, title: str) -> None:
        """A held notification that no longer applies is dropped."""
        if self.held is not None and self.held[0] == title:
            self.held = None

    def set_quiet(self, quiet: bool) -> None:
        was, self.quiet = self.quiet, quiet
        if was and not quiet and self.held is not None:
            held, self.held = self.held, None
            if self.enabled:
                self._show(*held)

    def _show(self, title: str, text: str) -> None:
        self.shown.append((title, text))
        tray = self.tray
        if tray is not None and hasattr(tray, "notify"):
            tray.notify(title, text)
            return
        icon = tray.icon if tray is not None else None
        if icon is None or not icon.isVisible() or not QSystemTrayIcon.supportsMessages():
            log.info("notification (no tray to show it): %s", title)
            return
        icon.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 15_000)
