"""The agent's day in the desktop: Qt timers, the idle back-end on a worker thread, network and
sleep signals, the in-window questions, the countdown, notifications and preferences.

:class:`DayController` owns a :class:`~presence_desktop.client.agent_day.AgentDay` (the rules)
and is its listener. The app (gui_app.py) creates one per signed-in session and forwards "own
status changed" and "connection changed"; everything else is wired here so the window and the
tray need no code of their own for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel

from presence_desktop.client import platform_idle
from presence_desktop.client.agent_day import AgentDay, Answer, Prompt, PromptKind
from presence_desktop.client.settings import AppSettings
from presence_desktop.client.wake import watch_logind_sleep
from presence_desktop.ui.notify import Notifier
from presence_desktop.ui.preferences import PreferencesDialog
from presence_desktop.ui.prompts import PromptArea
from presence_desktop.ui.theme import colors

log = logging.getLogger(__name__)

TICK_MS = 1000
IDLE_POLL_MS = 5000


class DayController(QObject):
    preferencesApplied = Signal(object)  # AppSettings chosen in the dialog (the app saves them)

    def __init__(self, service: Any, window: Any, tray: Any, settings: AppSettings, *,
                 spawn: Callable[..., Any], restore: tuple[str, str | None] | None = None,
                 detect_idle: bool = True, watch_system: bool = True, parent=None) -> None:
        super().__init__(parent)
        self.service, self.window, self.tray, self.settings = service, window, tray, settings
        self.spawn = spawn
        self.day = AgentDay(service, self, idle_after_s=settings.idle_after_min * 60 or None,
                            on_return=settings.on_return, restore=restore if settings.restore_at_start else None,
                            signs_in=not service.identity.watches_many, on_wake=service.resume,
                            clock=getattr(service, "server_clock", time.time))
        self.notifier = Notifier(tray, settings.notifications)
        self.idle_source: platform_idle.IdleSource | None = None
        self.idle_reasons: list[str] | None = ["not checked yet"]
        self.preferences: PreferencesDialog | None = None
        self._sampling = False

        self.prompts = PromptArea()
        self.prompts.answered.connect(self._answered)
        layout = window.centralWidget().layout()
        layout.insertWidget(1, self.prompts)  # under the own status bar
        self.countdown_label = QLabel()
        self.countdown_label.setObjectName("statusCountdown")
        self.countdown_label.setTextFormat(Qt.TextFormat.PlainText)
        self.countdown_label.hide()
        window.own_bar.layout().addWidget(self.countdown_label)
        self._add_menu_items()
        if tray is not None:
            tray.icon.messageClicked.connect(self._show_window)

        self.ticker = QTimer(self)
        self.ticker.setInterval(TICK_MS)
        self.ticker.timeout.connect(self.day.tick)
        self.ticker.start()
        self.idle_timer = QTimer(self)
        self.idle_timer.setInterval(IDLE_POLL_MS)
        self.idle_timer.timeout.connect(self.poll_idle)
        if detect_idle:
            self.spawn(self._detect_idle(), name="idle-detect")
        self._sleep_watch = None
        if watch_system:
            self._watch_network()
            self._sleep_watch = self.spawn(watch_logind_sleep(self.service.resume), name="logind-sleep")

    # --- wiring ---------------------------------------------------------------------------------
    def _add_menu_items(self) -> None:
        self.preferences_action = QAction("Preferences…", self.window)
        self.preferences_action.triggered.connect(self.open_preferences)
        menus = [a.menu() for a in self.window.menuBar().actions() if a.menu() is not None]
        if menus:
            first = menus[0].actions()[0] if menus[0].actions() else None
            menus[0].insertAction(first, self.preferences_action)
            menus[0].insertSeparator(first)
        if self.tray is not None:
            self.tray_preferences = QAction("Preferences…", self.tray.menu)
            self.tray_preferences.triggered.connect(self.open_preferences)
            quit_ = next((a for a in self.tray.menu.actions() if a.text() == "Quit"), None)
            self.tray.menu.insertAction(quit_, self.tray_preferences)

    def _watch_network(self) -> None:
        """Qt's QNetworkInformation (Qt >= 6.1; a back-end per platform: NetworkManager,
        Network List Manager, SystemConfiguration): reachability or medium changes resume."""
        try:
            from PySide6.QtNetwork import QNetworkInformation

            if not QNetworkInformation.loadDefaultBackend():
                log.info("no network-change signals on this system")
                return
            info = QNetworkInformation.instance()
        except Exception as exc:  # noqa: BLE001 - optional: the clock and logind still work
            log.info("no network-change signals: %s", exc)
            return
        self._reachability = info.reachability()
        info.reachabilityChanged.connect(lambda r: self.network_changed(f"network reachability: {r.name}", r))
        info.transportMediumChanged.connect(lambda m: self.network_changed(f"network medium: {m.name}"))

    _reachability: Any = None

    def network_changed(self, reason: str, reachability: Any = None) -> None:
        """The slot of Qt's network signals (tests call it the same way). A report of the
        reachability already known (back-ends repeat it after loading) changes nothing: a
        reconnect would drop a working connection."""
        if reachability is not None:
            if reachability == self._reachability:
                return
            self._reachability = reachability
            if getattr(reachability, "name", "") == "Disconnected":
                log.info("%s: waiting for the network to come back", reason)
                return
        self.service.resume(reason)

    async def _detect_idle(self) -> None:
        found = platform_idle.candidates()  # imports here, on the GUI thread
        source, reasons = await asyncio.to_thread(platform_idle.detect, found)
        self.set_idle_source(source, reasons)

    def set_idle_source(self, source: platform_idle.IdleSource | None, reasons: list[str] | None = None) -> None:
        self.idle_source = source
        self.idle_reasons = None if source is not None else list(reasons or [])
        self.day.idle_available = source is not None
        if self.preferences is not None:
            self.preferences.set_idle_available(self.idle_reasons)
        if source is not None and self.day.idle_after_s:
            self.idle_timer.start()
        else:
            self.idle_timer.stop()

    def poll_idle(self) -> None:
        if self.idle_source is None or self._sampling:
            return
        self._sampling = True
        self.spawn(self._sample(), name="idle-sample")

    async def _sample(self) -> None:
        source = self.idle_source
        try:
            if source is None:
                return
            sample = await asyncio.to_thread(source.sample)
        except Exception as exc:  # noqa: BLE001 - a back-end that raises changes nothing
            self.day.idle_failed(exc)
        else:
            self.day.idle_sample(sample)
        finally:
            self._sampling = False

    # --- from the app ---------------------------------------------------------------------------
    def own_changed(self) -> None:
        self.day.own_changed()
        self.notifier.set_quiet(self.day.quiet)

    def connection_changed(self, state: Any) -> None:
        if state.up and not state.joining:
            self.day.joined()

    def apply(self, settings: AppSettings) -> None:
        """New preferences, at once."""
        self.settings = settings
        self.day.configure(settings.idle_after_min * 60, settings.on_return)
        self.notifier.enabled = settings.notifications
        self.set_idle_source(self.idle_source, self.idle_reasons)

    def open_preferences(self) -> PreferencesDialog:
        if self.preferences is None:
            dialog = PreferencesDialog(self.settings, self.idle_reasons, parent=self.window)
            dialog.applied.connect(self._preferences_applied)
            dialog.finished.connect(lambda _r: setattr(self, "preferences", None))
            self.preferences = dialog
        self.preferences.show()
        self.preferences.raise_()
        return self.preferences

    def _preferences_applied(self, settings: AppSettings) -> None:
        self.apply(settings)
        self.preferencesApplied.emit(settings)

    def stop(self) -> None:
        """End of the session: timers, watchers and the back-end stop; the window and tray are
        let go (a Qt connection to a plain method would otherwise keep them alive)."""
        self.ticker.stop()
        self.idle_timer.stop()
        for timer in (self.ticker, self.idle_timer):
            timer.timeout.disconnect()
        if self._sleep_watch is not None:
            self._sleep_watch.cancel()
        if self.preferences is not None:
            self.preferences.close()
            self.preferences = None
        self.window = self.tray = None
        self.notifier.tray = None
        if self.idle_source is not None:
            self.idle_source.close()
            self.idle_source = None

    # --- DayListener ------------------------------------------------------------------------------
    def show_prompt(self, prompt: Prompt) -> None:
        self.prompts.show_prompt(prompt)
        self.notifier.notify(prompt.title, prompt.text)

    def withdraw_prompt(self, kind: PromptKind) -> None:
        bar = self.prompts.bars.get(kind)
        if bar is not None:
            self.notifier.withdraw(bar.prompt.title)
        self.prompts.withdraw(kind)

    _countdown_shown: tuple[str | None, bool] | None = None

    def countdown(self, text: str | None, over: bool = False) -> None:
        if self._countdown_shown == (text, over) and (text is None or self._tooltip_has(text)):
            return  # every second: nothing to redraw
        self._countdown_shown = (text, over)
        if text is None:
            self.countdown_label.hide()
        else:
            self.countdown_label.setText(text)
            c = colors()
            self.countdown_label.setStyleSheet(f"color: {c.error}; font-weight: 600;" if over else f"color: {c.muted};")
            self.countdown_label.show()
        if self.tray is not None:
            base = self.tray.icon.toolTip().split("\n")[0]
            self.tray.icon.setToolTip(base if text is None else f"{base}\n{text}")

    def _tooltip_has(self, text: str) -> bool:
        """The tray rewrites its tooltip on every own-status change: put the countdown back."""
        return self.tray is None or self.tray.icon.toolTip().endswith("\n" + text)

    def _answered(self, kind: PromptKind, answer: Answer) -> None:
        self.day.answer(kind, answer)

    def _show_window(self) -> None:
        if self.window is None:
            return
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()
