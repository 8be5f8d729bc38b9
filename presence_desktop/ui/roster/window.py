"""The roster window: own status, connection banner, headline counts, filters and the table.

It wires its own widgets and exposes signals (``ownStatusRequested``, ``agentStatusRequested``,
``signOutRequested``, ``quitRequested``); the app connects those to the core. It reads the
domain roster for display only and never calls the backend.
"""

from __future__ import annotations

import time
from typing import Callable

from PySide6.QtCore import QByteArray, QItemSelectionModel, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QPaintEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QMainWindow, QMenu, QStyle, QTableView, QVBoxLayout, QWidget

from presence_desktop.client.service import ConnectionState
from presence_desktop.domain.identity import Identity
from presence_desktop.domain.roster import Change, OwnStatus, Roster, RosterFilter
from presence_desktop.domain.statuses import StatusCatalogue
from presence_desktop.domain.text import display_text, menu_text
from presence_desktop.ui.painting import status_icon
from presence_desktop.ui.roster.columns import COL_INDICATOR, COL_NAME, COLUMNS
from presence_desktop.ui.roster.delegates import StatusDelegate
from presence_desktop.ui.roster.hold import OrderHold
from presence_desktop.ui.roster.model import AGENT_ROLE, RosterTableModel
from presence_desktop.ui.roster.proxy import RosterProxy
from presence_desktop.ui.roster.ticking import TickingFastPath, repaint_ticking_columns
from presence_desktop.ui.widgets import ConfirmBar, ConnectionBanner, CountsBar, FilterBar, MessageBar, OwnStatusBar

TICK_MS = 1000


class RosterTable(QTableView):
    """The roster's table view. ``paint_hook`` (set by ticking.py) may draw a paint event
    itself: it returns True when it did."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.paint_hook: Callable[[QPaintEvent], bool] | None = None

    def paintEvent(self, event) -> None:
        hook = self.paint_hook
        if hook is not None and hook(event):
            return
        super().paintEvent(event)


class RosterWindow(QMainWindow):
    ownStatusRequested = Signal(str, object)  # status id, message typed for it (str) or None
    agentStatusRequested = Signal(str, str)  # agent id, status id (confirmed by the user)
    signOutRequested = Signal()
    quitRequested = Signal()
    closed = Signal()

    def __init__(self, roster: Roster, catalogue: StatusCatalogue, identity: Identity, profile_name: str = "",
                 clock=time.time, *, hold_order: bool = True, fast_ticking: bool = True) -> None:
        """``hold_order``: rows hold still while pointed at (hold.py); ``fast_ticking``: the 1 s
        tick repaints only changed ticking cells from cached pixmaps (ticking.py)."""
        super().__init__()
        self.roster = roster
        self.catalogue = catalogue
        self.identity = identity
        self.clock = clock
        self._known_teams: set[str] = set()
        self.quit_on_close = True
        role = "supervisor" if identity.is_supervisor else f"agent, {identity.team_id or 'no team'}"
        self.setWindowTitle(f"Presence — {identity.username} ({role})" + (f" · {profile_name}" if profile_name else ""))
        self.setObjectName("rosterWindow")

        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(10, 10, 10, 6)
        lay.setSpacing(8)
        self.own_bar = OwnStatusBar(catalogue)
        lay.addWidget(self.own_bar)
        self.banner = ConnectionBanner()
        lay.addWidget(self.banner)
        self.messages = MessageBar()
        lay.addWidget(self.messages)
        self.counts = CountsBar(catalogue)
        lay.addWidget(self.counts)
        self.filters = FilterBar(catalogue)
        lay.addWidget(self.filters)

        self.model = RosterTableModel(roster, self, clock=clock)
        self.model.me = identity.agent_id
        self.proxy = RosterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = RosterTable()
        self.table.setObjectName("rosterTable")
        self.table.setModel(self.proxy)
        self.table.setItemDelegateForColumn(COL_INDICATOR, StatusDelegate(self.table))
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        modes = {"fixed": QHeaderView.ResizeMode.Fixed, "stretch": QHeaderView.ResizeMode.Stretch,
                 "interactive": QHeaderView.ResizeMode.Interactive}
        for col, column in enumerate(COLUMNS):
            header.resizeSection(col, column.width)
            header.setSectionResizeMode(col, modes[column.resize])
        self._fit_headers()
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        lay.addWidget(self.table, 1)
        self.setCentralWidget(central)
        # Floats over the table's bottom edge: in the layout it pushed the rows ~40 px down
        # right under the pointer that had just used the row menu.
        self.confirm = ConfirmBar()
        self.confirm.overlay_on(self.table)
        self.hold = OrderHold(self.table, self.model, self.proxy) if hold_order else None
        self.ticking = TickingFastPath(self.table, self.model, self.proxy) if fast_ticking else None

        self.status_label = QLabel()
        self.statusBar().addWidget(self.status_label, 1)
        self._build_menu()

        self.own_bar.statusRequested.connect(self.ownStatusRequested)
        self.banner.signInAgain.connect(self.signOutRequested)  # sign-out leads to the sign-in window
        self.filters.changed.connect(self._apply_filter)
        self.confirm.confirmed.connect(lambda p: self.agentStatusRequested.emit(p[0], p[1]))

        # One timer for the whole view: ticking columns, banner countdown, counts.
        self.ticker = QTimer(self)
        self.ticker.setInterval(TICK_MS)
        self.ticker.timeout.connect(self.tick)
        self.ticker.start()
        self.model.modelReset.connect(self._refresh_counts)
        self.resize(1040, 720)
        if not identity.is_supervisor and identity.team_id:
            self.filters.team.setEnabled(False)
        self._refresh_counts()
        # Keys typed at start go to the table (row navigation), never to "My status": a first
        # "b" there published a status to the team.
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def _fit_headers(self) -> None:
        """Widen sections whose title would run under the sort arrow ("Time in statu▾")."""
        header = self.table.horizontalHeader()
        style = header.style()
        room = style.pixelMetric(QStyle.PixelMetric.PM_HeaderMarkSize) + 3 * style.pixelMetric(QStyle.PixelMetric.PM_HeaderMargin)
        metrics = header.fontMetrics()
        for col in range(self.model.columnCount()):
            title = self.model.headerData(col, Qt.Orientation.Horizontal) or ""
            need = metrics.horizontalAdvance(title) + room + 4 if title else 0
            if header.sectionSize(col) < need:
                header.resizeSection(col, need)

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu("&Presence")
        sign_out = QAction("Sign out", self)
        sign_out.triggered.connect(self.signOutRequested)
        menu.addAction(sign_out)
        quit_ = QAction("Quit", self)
        quit_.setShortcut("Ctrl+Q")
        quit_.triggered.connect(self.quitRequested)
        menu.addAction(quit_)

    # --- inputs from the app ------------------------------------------------------------------
    def on_roster_changed(self, change: Change) -> None:
        self.model.note_change(change)
        if change.added:
            # Only when a team appears: team_ids() walks every row, and a log-in storm adds
            # thousands of rows one event at a time.
            teams = {e.event.team_id for e in map(self.roster.get, change.added) if e is not None}
            if not teams <= self._known_teams:
                self._known_teams |= teams
                self.filters.set_teams(self.roster.team_ids())
        if not self._counts_timer_pending:
            self._counts_timer_pending = True
            QTimer.singleShot(50, self._refresh_counts)

    _counts_timer_pending = False

    def on_connection(self, state: ConnectionState) -> None:
        if state.up:
            self.banner.set_up()
        else:
            self.banner.set_down(state.since, state.next_retry_at, state.reason)
        self._connection = state
        self._refresh_counts()

    def on_own_status(self, own: OwnStatus, unconfirmed: str | None = None) -> None:
        """``unconfirmed``: why the own status cannot be vouched for now ("disconnected",
        "session expired", "reconnecting"); None while live."""
        err = own.pending.last_error if own.pending else None
        self.own_bar.set_state(own.status_id, own.message, own.is_pending, err, unconfirmed)
        doubt = own.is_pending or bool(unconfirmed and own.status_id)
        self.setWindowIcon(status_icon(self.catalogue.display(own.status_id), doubt))

    def show_problem(self, text: str) -> None:
        self.messages.show_text(text)

    def show_note(self, text: str) -> None:
        """Information, not an error (e.g. the session will not be remembered)."""
        self.messages.show_text(text, info=True)

    # --- internals ----------------------------------------------------------------------------
    def tick(self) -> None:
        self.model.tick()
        now = self.clock()
        ticking = self.ticking
        if self.isVisible() and not self.isMinimized():
            if ticking is not None:
                ticking.repaint(now)
            else:
                repaint_ticking_columns(self.table)
        elif ticking is not None:  # in the tray or minimized (most of the app's life): nothing to repaint
            ticking.hidden()
        self.banner.refresh(now)
        if self.roster.stale_after_s is not None:
            # Displayed statuses (hence counts) change with time alone only through staleness;
            # otherwise every roster change and connection change recounts already.
            self._refresh_counts()

    _connection: ConnectionState | None = None

    def _refresh_counts(self) -> None:
        """Headline counts over the *scope* (team filter and name search), never over the status
        filter: the status filter picks rows within the scope, so under team-2 + Available the
        chip reads "Available 3 / 10" (3 of team-2's 10), not "3 / 3"."""
        self._counts_timer_pending = False
        f = self.proxy.roster_filter
        scoped = f.teams is not None or bool(f.text.strip())
        scope = RosterFilter(teams=f.teams, text=f.text)
        self.counts.set_counts(self.roster.counts(self.roster.visible(scope) if scoped else None))
        if self._connection is not None:
            self._refresh_status_line(self._connection)

    def _filtered(self) -> bool:
        f = self.proxy.roster_filter
        return f.teams is not None or f.statuses is not None or bool(f.text.strip())

    def _refresh_status_line(self, state: ConnectionState) -> None:
        if state.up:
            text = "Connected" + (" · loading roster…" if state.joining else "")
        else:
            text = "Disconnected"  # not "Offline": that is a status agents set
        total = len(self.roster)
        shown = f", {self.proxy.rowCount()} shown" if self._filtered() else ""
        self.status_label.setText(f"{text} · {total} agents{shown}")

    def _apply_filter(self) -> None:
        team = self.filters.selected_team()
        status = self.filters.selected_status()
        self.proxy.set_roster_filter(
            RosterFilter(
                teams=frozenset({team}) if team else None,
                statuses=frozenset({status}) if status else None,
                text=self.filters.search.text(),
            )
        )
        self._refresh_counts()

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        menu = self.build_row_menu(index.data(AGENT_ROLE))
        if menu is not None:
            menu.popup(self.table.viewport().mapToGlobal(pos))

    def build_row_menu(self, agent_id: str) -> QMenu | None:
        """The row's context menu: supervisors may set the agent's status (confirmed in-window)."""
        if not self.identity.is_supervisor or agent_id is None:
            return None
        entry = self.roster.get(agent_id)
        name = display_text(entry.event.display_name if entry else agent_id) or agent_id
        menu = QMenu(self)
        sub = menu.addMenu(f"Set status of {menu_text(name)}")
        for st in self.catalogue:
            act = sub.addAction(status_icon(st), st.label)
            act.triggered.connect(lambda _c=False, s=st: self.ask_set_status(agent_id, s.id))
        return menu

    def ask_set_status(self, agent_id: str, status_id: str) -> None:
        """The confirm step for a supervisor's change, as plain text (the name is user text),
        next to the agent's row, without scrolling the view."""
        entry = self.roster.get(agent_id)
        name = display_text(entry.event.display_name if entry else agent_id) or agent_id
        label = self.catalogue.display(status_id).label
        self.confirm.ask(f"Set “{name}” ({agent_id}) to {label}?", (agent_id, status_id), near=self._row_span(agent_id))

    def _row_span(self, agent_id: str) -> tuple[int, int] | None:
        """(top, bottom) of the agent's row in the table's coordinates, if it is on screen."""
        for r in range(self.proxy.rowCount()):
            index = self.proxy.index(r, 0)
            if index.data(AGENT_ROLE) == agent_id:
                rect = self.table.visualRect(index)
                viewport = self.table.viewport()
                if rect.bottom() < 0 or rect.top() > viewport.height():
                    return None
                top = viewport.mapTo(self.table, rect.topLeft()).y()
                return top, top + rect.height()
        return None

    def select_agent(self, agent_id: str) -> None:
        for r in range(self.proxy.rowCount()):
            idx = self.proxy.index(r, 0)
            if idx.data(AGENT_ROLE) == agent_id:
                self.table.selectionModel().select(
                    idx, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
                )
                self.table.scrollTo(idx)
                return

    def selected_agents(self) -> list[str]:
        return [i.data(AGENT_ROLE) for i in self.table.selectionModel().selectedRows()]

    # --- UI state -------------------------------------------------------------------------------
    def save_ui_state(self) -> dict:
        return {
            "geometry": bytes(self.saveGeometry().toBase64()).decode(),
            "header": bytes(self.table.horizontalHeader().saveState().toBase64()).decode(),
        }

    def restore_ui_state(self, state: dict) -> None:
        if state.get("geometry"):
            self.restoreGeometry(QByteArray.fromBase64(state["geometry"].encode()))
        if state.get("header"):
            self.table.horizontalHeader().restoreState(QByteArray.fromBase64(state["header"].encode()))
            self._fit_headers()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed.emit()
        super().closeEvent(event)
