"""The supervisor's day in the roster window: one agent's day ("Today…" on a row), alerts, the
teams' staffing floors (a line under the table, red with ▼ below a floor), the wallboard and the
CSV export of a team's day (docs/history.md). Only for users who watch teams (supervisors,
managers); the relay decides what each may read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QLabel, QMenu

from presence_desktop.client.alerts import AlertEngine, AlertRule
from presence_desktop.client.timelines import DayTimelines, local_tz_name
from presence_desktop.domain.floors import Floor, FloorError, parse_floors
from presence_desktop.domain.history import intervals_csv, status_intervals
from presence_desktop.domain.text import display_text, menu_text
from presence_desktop.ui.agent_day import AgentDayDialog
from presence_desktop.ui.alerts_dialog import AlertsDialog, FloorsDialog
from presence_desktop.ui.theme import colors
from presence_desktop.ui.wallboard import Wallboard, floor_text

log = logging.getLogger(__name__)

FLOORS_REFRESH_MS = 60_000  # other supervisors may change a team's floors: read them again this often
ALERT_CHECK_MS = 1_000
TODAY_REPAINT_MS = 60_000  # the "Today" bars grow by a pixel every few minutes: once a minute is plenty


class SupervisorDay(QObject):
    """``service``: the client's PresenceService; ``window``: the RosterWindow; ``notify(title,
    text)``: a desktop notification; ``spawn(coro, name=)``: run a coroutine on the app's loop;
    ``rules``/``save_rules``: the alert rules kept in the settings."""

    def __init__(self, service: Any, window: Any, *, notify: Callable[[str, str], None],
                 spawn: Callable[..., Any], rules: list[dict[str, Any]],
                 save_rules: Callable[[list[dict[str, Any]]], None],
                 team_name: Callable[[str], str] = str) -> None:
        super().__init__(window)
        self.service, self.window, self.notify, self._spawn = service, window, notify, spawn
        self.catalogue = service.catalogue
        self.roster = service.roster
        self.clock = service.server_clock
        self.team_name = team_name
        self.save_rules = save_rules
        self.timelines = DayTimelines(tz=local_tz_name(), clock=self.clock)
        self.floors: dict[str, tuple[Floor, ...]] = {}
        loaded = []
        for raw in rules:
            try:
                loaded.append(AlertRule.from_dict(raw))
            except (KeyError, TypeError, ValueError):
                log.warning("ignoring a malformed alert rule in the settings: %r", raw)
        self.alerts = AlertEngine(self.catalogue, team_of=self._team_of, name_of=self._name_of,
                                  team_name=team_name, rules=loaded)
        self.dialog: AgentDayDialog | None = None
        self.wallboard: Wallboard | None = None
        self.floors_label = QLabel(window)
        self.floors_label.setObjectName("floorsLine")
        self.floors_label.setTextFormat(Qt.TextFormat.PlainText)
        window.statusBar().addPermanentWidget(self.floors_label, 1)
        window.row_menu_hooks = [self._row_menu]
        self._build_menu()
        self.alert_timer = QTimer(self)
        self.alert_timer.setInterval(ALERT_CHECK_MS)
        self.alert_timer.timeout.connect(self.check_alerts)
        self.alert_timer.start()
        self.floor_timer = QTimer(self)
        self.floor_timer.setInterval(FLOORS_REFRESH_MS)
        self.floor_timer.timeout.connect(self.refresh_floors)
        self.floor_timer.start()
        window.show_today(self._today_of, self.catalogue, self._name_of)
        self.today_timer = QTimer(self)
        self.today_timer.setInterval(TODAY_REPAINT_MS)
        self.today_timer.timeout.connect(window.repaint_today)
        self.today_timer.start()

    def spawn(self, coro: Any, name: str) -> None:
        """Run ``coro`` on the app's loop; nothing once the app is shutting down."""
        try:
            self._spawn(coro, name=name)
        except RuntimeError as exc:  # the runtime takes no new tasks while it shuts down
            coro.close()
            log.debug("not started (%s): %s", name, exc)

    def stop(self) -> None:
        """Sign-out or quit: no more timers, checks or reads."""
        for timer in (self.alert_timer, self.floor_timer, self.today_timer):
            timer.stop()
        if self.wallboard is not None:
            self.wallboard.timer.stop()
            self.wallboard.close()

    # --- names -----------------------------------------------------------------------------
    def _team_of(self, agent_id: str) -> str | None:
        entry = self.roster.get(agent_id)
        return entry.event.team_id if entry is not None else None

    def _name_of(self, agent_id: str) -> str:
        entry = self.roster.get(agent_id)
        return (display_text(entry.event.display_name) if entry is not None else "") or agent_id

    def teams(self) -> list[str]:
        watched = getattr(self.service, "watched", None)
        return list(watched) if watched else self.roster.team_ids()

    def _today_of(self, agent_id: str) -> tuple[list[Any], float, float, bool, float] | None:
        entry = self.roster.get(agent_id)
        now = self.clock()
        segments = self.timelines.segments(agent_id, now, entry.event if entry is not None else None)
        return segments, self.timelines.start, self.timelines.end, bool(self.timelines.gaps(agent_id)), now

    def load_today(self) -> None:
        """Today's history of every watched team, for the "Today" column (the live changes
        extend it from then on)."""
        relay = self.service.relay
        if not hasattr(relay, "history_day"):
            return

        async def load() -> None:
            day = self.timelines.window.day.isoformat()
            for team in self.teams():
                try:
                    got = await relay.history_day(day=day, team=team, tz=self.timelines.tz)
                except Exception as exc:  # noqa: BLE001 - the bars show what live changes tell meanwhile
                    log.info("today's history of %s could not be read now: %s", team, exc)
                    continue
                self.timelines.load(got["entries"], team=team)
            self.window.repaint_today()

        self.spawn(load(), name="history-today")

    # --- menus -----------------------------------------------------------------------------
    def _build_menu(self) -> None:
        menu = self.window.menuBar().addMenu("&Supervisor")
        column = QAction("Today's timeline column", self.window)
        column.setCheckable(True)
        column.setChecked(True)
        column.toggled.connect(lambda on: self.window.show_today(self._today_of, self.catalogue, self._name_of, on))
        menu.addAction(column)
        menu.addSeparator()
        for text, slot, shortcut in (("Alerts…", self.open_alerts, None), ("Staffing floors…", self.open_floors, None),
                                     ("Wallboard", self.open_wallboard, "F11"),
                                     ("Export today's history (CSV)…", self.export_csv, None)):
            act = QAction(text, self.window)
            if shortcut:
                act.setShortcut(shortcut)
            act.triggered.connect(lambda _c=False, s=slot: s())
            menu.addAction(act)

    def _row_menu(self, menu: QMenu, agent_id: str) -> None:
        name = menu_text(self._name_of(agent_id))
        if not menu.isEmpty():
            menu.addSeparator()
        menu.addAction(f"Today of {name}…").triggered.connect(lambda _c=False: self.open_agent_day(agent_id))
        menu.addAction(f"Tell me when {name} becomes available").triggered.connect(
            lambda _c=False: self.add_rule(AlertRule("agent_available", agent_id=agent_id, once=True)))
        menu.addAction(f"Tell me when {name} passes a time budget").triggered.connect(
            lambda _c=False: self.add_rule(AlertRule("over_budget", agent_id=agent_id)))

    # --- alerts ----------------------------------------------------------------------------
    def add_rule(self, rule: AlertRule) -> None:
        self.alerts.add(rule)
        self.save_rules([r.to_dict() for r in self.alerts.rules])
        self.window.show_note(f"Alert added: {rule.describe(self._name_of, self.team_name)}.")

    def set_rules(self, rules: list[AlertRule]) -> None:
        self.alerts.rules = list(rules)
        self.save_rules([r.to_dict() for r in rules])

    def live(self) -> tuple[bool, str]:
        state = self.service.connection
        if not state.up:
            return False, "disconnected"
        if state.joining:
            return False, "loading the roster"
        if state.quiet_since is not None:
            return False, "keep-alives missed"
        return True, ""

    def check_alerts(self) -> None:
        live, _ = self.live()
        before = len(self.alerts.rules)
        for alert in self.alerts.check(self.roster, self.floors, self.clock(), live=live):
            self.notify(alert.title, alert.text)
        if len(self.alerts.rules) != before:  # "once" rules that fired are gone
            self.save_rules([r.to_dict() for r in self.alerts.rules])
        self.show_floors()

    def open_alerts(self) -> AlertsDialog:
        dlg = AlertsDialog(self.alerts.rules, self.teams(), name_of=self._name_of, team_name=self.team_name,
                           parent=self.window)
        dlg.rulesChanged.connect(self.set_rules)
        dlg.show()
        return dlg

    # --- floors ----------------------------------------------------------------------------
    def refresh_floors(self) -> None:
        relay = self.service.relay
        if not hasattr(relay, "floors"):
            return

        async def read() -> None:
            for team in self.teams():
                try:
                    doc = await relay.floors(team)
                    self.floors[team] = parse_floors(doc.get("floors") or [], self.catalogue.ids())
                except (FloorError, AttributeError) as exc:
                    log.warning("the floors of %s could not be read: %s", team, exc)
                except Exception as exc:  # noqa: BLE001 - the relay may be down: the next refresh tries again
                    log.info("the floors of %s could not be read now: %s", team, exc)
            self.show_floors()
            if self.wallboard is not None:
                self.wallboard.set_floors(self.floors)

        self.spawn(read(), name="floors")

    def show_floors(self) -> None:
        """One line per team with floors: met or ▼ BELOW, in words (not colour alone)."""
        parts, below = [], False
        agents_by_team = self.roster.agents_by_team() if self.floors else {}  # a walk over every row
        now = self.clock()
        for team, floors in sorted(self.floors.items()):
            counts = self.roster.counts(agents_by_team.get(team, []), now).by_status
            for floor in floors:
                text, is_below = floor_text(floor, counts, self.catalogue)
                parts.append(f"{self.team_name(team)}: {text}")
                below |= is_below
        self.floors_label.setText("   ".join(parts))
        c = colors(self.window.palette())
        self.floors_label.setStyleSheet(f"color: {c.error}; font-weight: bold;" if below else "")

    def open_floors(self, team: str | None = None) -> FloorsDialog | None:
        teams = [t for t in self.teams() if self.service.identity.may_change(t)]
        if team is None:
            if not teams:
                self.window.show_problem("Staffing floors are set by a supervisor of the team.")
                return None
            team = teams[0]
        dlg = FloorsDialog(self.catalogue, team, self.floors.get(team, ()), team_name=self.team_name, parent=self.window)

        def submit(team_id: str, floors: list[dict[str, Any]]) -> None:
            async def save() -> None:
                try:
                    doc = await self.service.relay.set_floors(team_id, floors)
                except Exception as exc:  # noqa: BLE001 - the relay's refusal, said in the dialog
                    dlg.show_error(f"Not saved: {exc}")
                    return
                self.floors[team_id] = parse_floors(doc.get("floors") or [], self.catalogue.ids())
                self.show_floors()
                dlg.accept()

            self.spawn(save(), name="set-floors")

        dlg.floorsSubmitted.connect(submit)
        dlg.show()
        return dlg

    # --- one agent's day -------------------------------------------------------------------
    def on_roster_changed(self, change: Any) -> None:
        """Live changes extend today's timelines (versions already known are skipped)."""
        for agent in [*getattr(change, "added", ()), *getattr(change, "updated", ())]:
            entry = self.roster.get(agent)
            if entry is not None:
                self.timelines.on_event(entry.event)
        if self.dialog is not None and self.dialog.isVisible() and self.dialog.agent_id:
            agent = self.dialog.agent_id
            entry = self.roster.get(agent)
            self.dialog.show_day(self.timelines, agent, entry.event if entry else None, self.clock())

    def open_agent_day(self, agent_id: str) -> AgentDayDialog:
        if self.dialog is None:
            self.dialog = AgentDayDialog(self.catalogue, self.window, name_of=self._name_of)
            self.dialog.exportRequested.connect(lambda agent: self.export_csv(agent=agent))
        dlg = self.dialog
        dlg.show_loading(agent_id, self._name_of(agent_id))
        dlg.show()
        relay = self.service.relay

        async def load() -> None:
            try:
                day = await relay.history_day(day=self.timelines.window.day.isoformat(), agent=agent_id,
                                              tz=self.timelines.tz)
            except Exception as exc:  # noqa: BLE001 - said in the dialog; the live part still shows
                dlg.show_error(str(exc))
                day = {"entries": []}
            self.timelines.load(day["entries"])
            entry = self.roster.get(agent_id)
            if dlg.agent_id == agent_id:
                dlg.show_day(self.timelines, agent_id, entry.event if entry else None, self.clock())

        self.spawn(load(), name=f"history-{agent_id}")
        return dlg

    # --- wallboard and export --------------------------------------------------------------
    def open_wallboard(self, full_screen: bool = True) -> Wallboard:
        if self.wallboard is None:
            self.wallboard = Wallboard(self.roster, self.catalogue, self.teams(), team_name=self.team_name,
                                       floors=self.floors, server_now=self.clock, live=self.live)
            self.wallboard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        else:
            self.wallboard.set_teams(self.teams())
        if full_screen:
            self.wallboard.showFullScreen()
        else:
            self.wallboard.show()
        return self.wallboard

    def export_csv(self, *, agent: str | None = None, path: str | None = None) -> None:
        """Today's intervals of every watched team (or one agent) as CSV, asking where to save."""
        if path is None:
            name = f"presence-{self.timelines.window.day.isoformat()}{'-' + agent if agent else ''}.csv"
            path, _ = QFileDialog.getSaveFileName(self.window, "Export today's history", name, "CSV (*.csv)")
            if not path:
                return
        target = path
        relay = self.service.relay

        async def export() -> None:
            entries: list[dict[str, Any]] = []
            day, tz = self.timelines.window.day.isoformat(), self.timelines.tz
            try:
                if agent is not None:
                    entries = (await relay.history_day(day=day, agent=agent, tz=tz))["entries"]
                else:
                    for team in self.teams():
                        entries += (await relay.history_day(day=day, team=team, tz=tz))["entries"]
            except Exception as exc:  # noqa: BLE001 - said in the window; nothing half-written
                self.window.show_problem(f"The history could not be exported: {exc}")
                return
            rows = status_intervals(entries, self.timelines.window, self.clock())
            text = intervals_csv(rows)
            try:
                with open(target, "w", encoding="utf-8", newline="") as fh:
                    fh.write(text)
            except OSError as exc:
                self.window.show_problem(f"Could not write {target}: {exc}")
                return
            self.window.show_note(f"Exported {len(rows)} status intervals to {target}.")

        self.spawn(export(), name="export-csv")


def supervisor_day_for(identity: Any) -> bool:
    """Whether this user gets the supervisor's day (watches teams)."""
    return bool(getattr(identity, "watches_many", False))

