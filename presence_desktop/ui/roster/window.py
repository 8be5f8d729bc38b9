"""The roster window: own status, connection banner, filters, headline counts, the live line and
the table.

It wires its own widgets and exposes signals (``ownStatusRequested``, ``agentStatusRequested``,
``signOutRequested``, ``quitRequested``); the app connects those to the core. It reads the
domain roster for display only and never calls the backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QContextMenuEvent,
    QKeySequence,
    QPaintEvent,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from presence_desktop.client.service import ConnectionState
from presence_desktop.domain.identity import Identity
from presence_desktop.domain.presence import parse_time
from presence_desktop.domain.roster import (
    Change,
    Counts,
    OwnStatus,
    Roster,
    RosterFilter,
)
from presence_desktop.domain.statuses import StatusCatalogue
from presence_desktop.domain.text import display_text, menu_text
from presence_desktop.domain.times import clock_time, status_sentence
from presence_desktop.ui.painting import status_icon
from presence_desktop.ui.roster.columns import (
    COL_NAME,
    COL_STATUS,
    COL_TEAM,
    COL_TODAY,
    COLUMNS,
    person_name,
    set_team_names,
)
from presence_desktop.ui.roster.counts import CountsBar
from presence_desktop.ui.roster.delegates import (
    PersonDelegate,
    PillDelegate,
    TeamDelegate,
    TimelineDelegate,
)
from presence_desktop.ui.roster.filters import FilterBar
from presence_desktop.ui.roster.hold import OrderHold
from presence_desktop.ui.roster.model import AGENT_ROLE, RosterTableModel
from presence_desktop.ui.roster.teams import TeamStrip
from presence_desktop.ui.roster.ticking import TickingFastPath, repaint_ticking_columns
from presence_desktop.ui.roster.tooltips import tooltip_html
from presence_desktop.ui.team_picker import TeamPicker
from presence_desktop.ui.theme import colors
from presence_desktop.ui.widgets import (
    ConfirmBar,
    ConnectionBanner,
    MessageBar,
    OwnStatusBar,
)

TICK_MS = 1000


class RosterTable(QTableView):
    """The roster's table view. ``paint_hook`` (set by ticking.py) may draw a paint event
    itself: it returns True when it did. The keyboard's context-menu keys (Menu, Shift+F10)
    open the menu of the *current* row, at that row (``contextMenuForRow``)."""

    contextMenuForRow = Signal(object, QPoint)  # index of the row, viewport position
    resized = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.paint_hook: Callable[[QPaintEvent], bool] | None = None

    def paintEvent(self, event) -> None:
        hook = self.paint_hook
        if hook is not None and hook(event):
            return
        super().paintEvent(event)

    def viewportEvent(self, event) -> bool:
        handled = super().viewportEvent(event)
        if event.type() == QEvent.Type.Resize:  # also when a scroll bar comes or goes
            self.resized.emit()
        return handled

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        # Qt gives a keyboard-made event a position in the *widget's* coordinates, which the
        # custom-context-menu path read as viewport coordinates: one header height lower, i.e.
        # the row below the selected one. Here: the current row, by the pointer: the row under it.
        if event.reason() == QContextMenuEvent.Reason.Keyboard:
            index = self.currentIndex()
            if not index.isValid():
                rows = self.selectionModel().selectedRows() if self.selectionModel() else []
                index = rows[0] if rows else QModelIndex()
            if index.isValid():
                rect = self.visualRect(index.siblingAtColumn(0))
                self.contextMenuForRow.emit(index, QPoint(rect.left() + 24, rect.bottom()))
            event.accept()
            return
        index = self.indexAt(event.pos())
        if index.isValid():
            self.contextMenuForRow.emit(index, event.pos())
        event.accept()


class RosterWindow(QMainWindow):
    ownStatusRequested = Signal(str, object)  # status id, message typed for it (str) or None
    agentStatusRequested = Signal(str, str)  # agent id, status id (confirmed by the user)
    signOutRequested = Signal()
    quitRequested = Signal()
    closed = Signal()

    def __init__(self, roster: Roster, catalogue: StatusCatalogue, identity: Identity, profile_name: str = "",
                 clock=time.time, *, hold_order: bool = True, fast_ticking: bool = True,
                 reduced_motion: bool = False, team_names: dict[str, str] | None = None) -> None:
        """``hold_order``: rows hold still while pointed at or worked with by keyboard (hold.py);
        ``fast_ticking``: the 1 s tick repaints only changed ticking cells from cached pixmaps
        (ticking.py); ``reduced_motion``: a changed row keeps a still marker instead of a fading
        flash; ``team_names``: team id -> the name shown (the deployment's data)."""
        super().__init__()
        self.roster = roster
        self.catalogue = catalogue
        self.identity = identity
        self.clock = clock
        self.reduced_motion = reduced_motion
        set_team_names(team_names or {})
        self._known_teams: set[str] = set()
        self.quit_on_close = True
        role = ("manager" if identity.is_manager else "supervisor" if identity.is_supervisor
                else f"agent, {identity.team_id or 'no team'}")
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
        self.filters = FilterBar(catalogue)
        lay.addWidget(self.filters)
        self.team_picker = TeamPicker()  # the teams watched (docs/teams.md); set by the app
        self.filters.layout().insertWidget(0, self.team_picker)
        self.counts = CountsBar(catalogue)
        lay.addWidget(self.counts)
        self.teams = TeamStrip()
        self.teams.hide()
        lay.addWidget(self.teams)
        # Always there (so it moves nothing when it changes): live or not, and why; and, at its
        # right, whether the order is held.
        notes = QHBoxLayout()
        notes.setContentsMargins(2, 0, 2, 0)
        self.live_line = QLabel()
        self.live_line.setObjectName("liveLine")
        self.live_line.setTextFormat(Qt.TextFormat.PlainText)
        notes.addWidget(self.live_line, 1)
        self.hold_note = QLabel()
        self.hold_note.setObjectName("holdNote")
        self.hold_note.setTextFormat(Qt.TextFormat.PlainText)
        notes.addWidget(self.hold_note)
        lay.addLayout(notes)

        # The model keeps the rows filtered and sorted itself; the table shows it directly
        # (no sorting proxy: model.py).
        self.model = RosterTableModel(roster, self, clock=clock)
        self.model.me = identity.agent_id
        self.table = RosterTable()
        self.table.setObjectName("rosterTable")
        self.table.setModel(self.model)
        self.person_delegate = PersonDelegate(self.table, reduced_motion=reduced_motion)
        self.pill_delegate = PillDelegate(self.table, reduced_motion=reduced_motion)
        self.table.setItemDelegateForColumn(COL_NAME, self.person_delegate)
        self.table.setItemDelegateForColumn(COL_STATUS, self.pill_delegate)
        self.team_delegate = TeamDelegate(self.table, reduced_motion=reduced_motion)
        self.table.setItemDelegateForColumn(COL_TEAM, self.team_delegate)
        self.today_delegate = TimelineDelegate(self.table, reduced_motion=reduced_motion)
        self.table.setItemDelegateForColumn(COL_TODAY, self.today_delegate)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        # A list of people, not a spreadsheet: no inner grid, no alternating rows, roomier rows.
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(False)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table (arrows move within it)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(30)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        # "stretch" is done by fit_columns (Qt's Stretch mode ignores a minimum width)
        modes = {"fixed": QHeaderView.ResizeMode.Fixed, "stretch": QHeaderView.ResizeMode.Interactive,
                 "interactive": QHeaderView.ResizeMode.Interactive}
        for col, column in enumerate(COLUMNS):
            header.resizeSection(col, column.width)
            header.setSectionResizeMode(col, modes[column.resize])
        self.table.setColumnHidden(COL_TODAY, True)  # until show_today() gives it a day to draw
        self._fit_headers()
        header.sectionResized.connect(self._section_resized)
        self.table.contextMenuForRow.connect(self._context_menu)
        self.table.resized.connect(self.fit_columns)
        lay.addWidget(self.table, 1)
        self.empty_reason = QLabel()  # in the table's place when there is nothing to watch
        self.empty_reason.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_reason.setWordWrap(True)
        self.empty_reason.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_reason.hide()
        lay.addWidget(self.empty_reason, 1)
        self.setCentralWidget(central)
        # Floats over the table's bottom edge: in the layout it pushed the rows ~40 px down
        # right under the pointer that had just used the row menu.
        self.confirm = ConfirmBar()
        self.confirm.overlay_on(self.table)
        self.hold = OrderHold(self.table, self.model) if hold_order else None
        if self.hold is not None:
            self.hold.changed.connect(self._hold_changed)
        self.ticking = TickingFastPath(self.table, self.model) if fast_ticking else None

        self.status_label = QLabel()
        self.statusBar().addWidget(self.status_label, 1)
        self._build_menu()
        find = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
        find.activated.connect(self.focus_search)

        self.own_bar.statusRequested.connect(self.ownStatusRequested)
        self.banner.signInAgain.connect(self.signOutRequested)  # sign-out leads to the sign-in window
        self.filters.changed.connect(self._apply_filter)
        self.teams.changed.connect(self._apply_filter)
        self.confirm.confirmed.connect(lambda p: self.agentStatusRequested.emit(p[0], p[1]))

        # One timer for the whole view: ticking columns, banner countdown, counts, change markers.
        self.ticker = QTimer(self)
        self.ticker.setInterval(TICK_MS)
        self.ticker.timeout.connect(self.tick)
        self.ticker.start()
        self.model.modelReset.connect(self._refresh_counts)
        self.resize(1040, 720)
        if not identity.watches_many and identity.team_id:
            self.filters.team.setEnabled(False)
        self._set_live_line()
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

    def fit_columns(self) -> None:
        """Share the table's width: each column between its min and max width (columns.py), in
        proportion to its default, and Message (the one that stretches) the rest, never below its
        minimum. At 800 px Message keeps a useful width; at 1600 px the other columns take their
        share before Message does. Widths the user set (or restored) are left alone; Message
        still takes what is left."""
        header = self.table.horizontalHeader()
        avail = self.table.viewport().width()
        if avail <= 0:
            return
        self._fitting = True
        try:
            fixed = [i for i, c in enumerate(COLUMNS) if c.resize != "stretch" and not self.table.isColumnHidden(i)]
            if not self._user_widths:
                base = sum(COLUMNS[i].width for i in fixed)
                stretch_min = sum(c.min_width for c in COLUMNS if c.resize == "stretch")
                # Message aims at 40 % of the width (at least its minimum, at most 600 px); the
                # others share the rest in proportion, within their min and max.
                target = max(stretch_min, min(int(avail * 0.4), 600))
                scale = max(0.0, (avail - target) / base) if base else 1.0
                for i in fixed:
                    c = COLUMNS[i]
                    w = int(c.width * min(scale, 1.6))
                    header.resizeSection(i, max(c.min_width, min(w, c.max_width or w)))
                self._fit_headers()
            used = sum(header.sectionSize(i) for i in fixed)
            for i, c in enumerate(COLUMNS):
                if c.resize == "stretch":
                    header.resizeSection(i, max(c.min_width, avail - used))
        finally:
            self._fitting = False

    _fitting = False
    _user_widths = False

    def _section_resized(self, col: int, _old: int, _new: int) -> None:
        if not self._fitting and COLUMNS[col].resize != "stretch":
            self._user_widths = True

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu("&Presence")
        sign_out = QAction("Sign out", self)
        sign_out.triggered.connect(self.signOutRequested)
        menu.addAction(sign_out)
        quit_ = QAction("Quit", self)
        quit_.setShortcut("Ctrl+Q")
        quit_.triggered.connect(self.quitRequested)
        menu.addAction(quit_)

    def show_today(self, provider, catalogue, name_of=str, shown: bool = True) -> None:
        """Give the "Today" column its day (``TimelineDelegate.provider``) and show or hide it."""
        self.today_delegate.provider, self.today_delegate.catalogue = provider, catalogue
        self.today_delegate.name_of = name_of
        self.table.setColumnHidden(COL_TODAY, not shown)
        if shown:
            self.table.horizontalHeader().resizeSection(COL_TODAY, COLUMNS[COL_TODAY].width)
        self.fit_columns()

    def repaint_today(self) -> None:
        """The bars grow with the day: repaint the column (once a minute is enough)."""
        if not self.table.isColumnHidden(COL_TODAY):
            viewport = self.table.viewport()
            viewport.update(self.table.columnViewportPosition(COL_TODAY), 0,
                            self.table.columnWidth(COL_TODAY), viewport.height())

    def focus_search(self) -> None:
        """Ctrl+F: to the name search, its text selected."""
        self.filters.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filters.search.selectAll()

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
                self.teams.set_teams(self.roster.team_ids())
        if not self._counts_timer_pending:
            self._counts_timer_pending = True
            QTimer.singleShot(50, self._refresh_counts)

    _counts_timer_pending = False

    def on_connection(self, state: ConnectionState) -> None:
        if state.up:
            self.banner.set_up()
        else:
            self.banner.set_down(state.since, state.next_retry_at, state.reason, needs_sign_in=state.needs_sign_in,
                                 stopped=state.stopped)
        self._connection = state
        self._set_live_line()
        self._refresh_counts()

    def on_own_status(self, own: OwnStatus, unconfirmed: str | None = None) -> None:
        """``unconfirmed``: why the own status cannot be vouched for now ("disconnected",
        "session expired", "reconnecting"); None while live."""
        err = own.pending.last_error if own.pending else None
        self.own_bar.set_state(own.status_id, own.message, own.is_pending, err, unconfirmed)
        doubt = own.is_pending or bool(unconfirmed and own.status_id)
        self.setWindowIcon(status_icon(self.catalogue.display(own.status_id), doubt))
        tip = ""
        if own.current is not None:  # when and by whom, in local time and words
            ev = own.current
            setter = self.roster.get(ev.changed_by) if ev.changed_by else None
            who = display_text(setter.event.display_name) if setter is not None else None
            line = status_sentence(self.catalogue.display(ev.status).label, parse_time(ev.status_since_at).timestamp(),
                                   self.clock(), ev.source, ev.changed_by, who)
            tip = tooltip_html([line.replace("set by the agent", "set by you")])
        self.own_bar.state_label.setToolTip(tip)

    def show_empty_reason(self, text: str | None) -> None:
        """A sentence in place of the table (no team to watch, every team refused); None: the table."""
        self.empty_reason.setText(text or "")
        self.empty_reason.setVisible(bool(text))
        self.table.setVisible(not text)

    def show_problem(self, text: str) -> None:
        self.messages.show_text(text)

    def show_note(self, text: str) -> None:
        """Information, not an error (e.g. the session will not be remembered)."""
        self.messages.show_text(text, info=True)

    # --- live or not ------------------------------------------------------------------------------
    def not_current_reason(self) -> str | None:
        """Why the roster on screen may not be the truth now (plain words), None when live."""
        state = self._connection
        if state is None:
            return "connecting…"
        if not state.up:
            since = f" since {clock_time(state.since, time.time())}" if state.since else ""
            return f"disconnected{since}; rows show the last known state"
        if state.joining:
            return "loading the roster…; rows may be out of date"
        if state.quiet_since is not None:
            return f"nothing from the server since {clock_time(state.quiet_since, time.time())} (keep-alives missed); rows may be out of date"
        return None

    def _set_live_line(self) -> None:
        reason = self.not_current_reason()
        if self.model.set_not_current(reason):
            self.table.viewport().update()
        c = colors(self.palette())
        if reason is None:
            self.live_line.setText("● Live: changes show as they happen")
            self.live_line.setStyleSheet(f"color: {c.ok};")
        else:
            self.live_line.setText(f"◌ Not current: {reason}")
            self.live_line.setStyleSheet(f"color: {c.warn}; font-weight: 600;")
        self.live_line.setAccessibleName(self.live_line.text())

    def _hold_changed(self, held: bool) -> None:
        if not held:
            self.hold_note.setText("")
            return
        if self.hold is not None and self.hold.reasons == {"keyboard"}:
            text = "‖ Order paused while you use the keys here; Esc or leave the list to refresh"
        else:
            text = "‖ Order paused while you point; move away to refresh"
        self.hold_note.setText(text)
        self.hold_note.setStyleSheet(f"color: {colors(self.palette()).muted};")

    # --- internals ----------------------------------------------------------------------------
    def tick(self) -> None:
        self.model.tick()
        now = self.clock()
        ticking = self.ticking
        shown = self.isVisible() and not self.isMinimized()
        if shown:
            if ticking is not None:
                ticking.repaint(now)
            else:
                repaint_ticking_columns(self.table)
        elif ticking is not None:  # in the tray or minimized (most of the app's life): nothing to repaint
            ticking.hidden()
        self._repaint_changed_rows(shown)
        if shown:
            self._repaint_rows_crossing_a_budget(now)
            self._refresh_teams()
        self.banner.refresh()  # this computer's clock: the retry time is the client's own
        if self.roster.stale_after_s is not None:
            # Displayed statuses (hence counts) change with time alone only through staleness;
            # otherwise every roster change and connection change recounts already.
            self._refresh_counts()

    _over_rows: frozenset[str] | None = None  # None: not looked yet (first paint drew them right)

    def _rows_on_screen(self) -> list[tuple[int, str]]:
        """(row, agent id) of the rows the viewport shows, top to bottom."""
        table, model = self.table, self.model
        first = table.rowAt(0)
        if first < 0:
            return []
        last = table.rowAt(table.viewport().height() - 1)
        last = model.rowCount() - 1 if last < 0 else last
        return [(row, model.agent_at(row)) for row in range(first, last + 1)]

    def _repaint_rows_crossing_a_budget(self, now: float) -> None:
        """A row past its status's time budget is tinted whole; the tick repaints only the
        ticking cells, so the rows on screen that just crossed (either way) are repainted here."""
        table = self.table
        viewport = table.viewport()
        over = set()
        rows = {}
        for prow, agent_id in self._rows_on_screen():
            rows[agent_id] = prow
            if self.roster.budget_overrun(agent_id, now) is not None:
                over.add(agent_id)
        before, self._over_rows = self._over_rows, frozenset(over)
        if before is None:
            return
        for agent_id in over.symmetric_difference(before):
            prow = rows.get(agent_id)
            if prow is not None:
                viewport.update(0, table.rowViewportPosition(prow), viewport.width(), table.rowHeight(prow))

    def _repaint_changed_rows(self, shown: bool) -> None:
        """Change markers: fade (each tick) or, with reduced motion, just end; only rows on screen
        are repainted, and only while some marker is up."""
        marks = self.model.changed_at
        if not marks:
            return
        ended = set(self.model.age_changes())
        if not shown:
            return
        table = self.table
        viewport = table.viewport()
        # every column whose delegate draws the changed-row tint (delegates._RowDelegate._panel):
        # with only name and status repainted, the team and Today cells kept a stale tint
        cols = [(table.columnViewportPosition(c), table.columnWidth(c)) for c in (COL_NAME, COL_STATUS, COL_TEAM, COL_TODAY)
                if not table.isColumnHidden(c)]
        for prow, agent_id in self._rows_on_screen():
            if agent_id in ended or (agent_id in marks and not self.reduced_motion):
                y, h = table.rowViewportPosition(prow), table.rowHeight(prow)
                for x, w in cols:
                    viewport.update(x, y, w, h)

    _connection: ConnectionState | None = None

    def _refresh_counts(self) -> None:
        """Headline counts over the *scope* (team filter and name search), never over the status
        filter: the status filter picks rows within the scope, so under team-2 + Available the
        chip reads "Available 3 / 10" (3 of team-2's 10), not "3 / 3". A supervisor's own row is
        not an agent: it is left out of the counts."""
        self._counts_timer_pending = False
        f = self.model.roster_filter
        scoped = f.teams is not None or bool(f.text.strip())
        scope = RosterFilter(teams=f.teams, text=f.text)
        me = self.identity.agent_id if self.identity.is_supervisor else None
        if scoped:
            ids = self.roster.visible(scope)
            counts = self.roster.counts([a for a in ids if a != me] if me in self.roster else ids)
        else:
            counts = self.roster.counts()
            if me is not None and me in self.roster:  # the kept tally, less one: no walk over the rows
                sid = self.roster.display_status(me).id
                by = dict(counts.by_status)
                by[sid] = by.get(sid, 0) - 1
                if not by[sid]:
                    del by[sid]
                counts = Counts(by, counts.total - 1)
        self.counts.set_counts(counts)
        if self._connection is not None:
            self._refresh_status_line(self._connection)

    def _filtered(self) -> bool:
        f = self.model.roster_filter
        return f.teams not in (None, self.roster.teams) or f.statuses is not None or bool(f.text.strip())

    def _refresh_status_line(self, state: ConnectionState) -> None:
        if state.up:
            text = "Connected" + (" · loading roster…" if state.joining else "")
        else:
            text = "Disconnected"  # not "Offline": that is a status agents set
        total = self.roster.counts().total  # rows in view (a team no longer watched is out)
        shown = f", {self.model.rowCount()} shown" if self._filtered() else ""
        self.status_label.setText(f"{text} · {total} agents{shown}")

    def _apply_filter(self) -> None:
        grouped = self.filters.group.isChecked()
        if grouped != self.model.group_by_team:
            self.model.group_by_team = grouped  # a new order: every row's key changed
            self.team_delegate.grouped = grouped
            self.teams.setVisible(grouped)
            # grouped, the team stands first: its caption on each team's first row heads the group
            header = self.table.horizontalHeader()
            header.moveSection(header.visualIndex(COL_TEAM), 0 if grouped else COL_TEAM)
            if grouped:
                self.teams.set_teams(self.roster.team_ids())
        folded = self.teams.folded
        flt = self.filters.roster_filter(folded, self.roster.team_ids() if folded else ())
        if self.roster.teams is not None:  # the picker's teams (Roster.watch): a team left goes from view
            flt = replace(flt, teams=self.roster.teams if flt.teams is None else flt.teams & self.roster.teams)
        self.model.set_roster_filter(flt)
        self._refresh_counts()
        self._refresh_teams()

    def _refresh_teams(self) -> None:
        """The team chips' counts (a walk over the rows: on the tick and on filter changes only)."""
        if not self.model.group_by_team:
            return
        scope = RosterFilter(statuses=None, text=self.model.roster_filter.text)
        by_team = self.roster.agents_by_team(self.roster.visible(scope))
        captions = self.teams.refresh(self.roster, by_team)
        if captions != self.team_delegate.captions:
            self.team_delegate.captions = captions
            self.table.viewport().update()

    def _context_menu(self, index, pos: QPoint) -> None:
        menu = self.build_row_menu(index.data(AGENT_ROLE))
        if menu is not None:
            menu.popup(self.table.viewport().mapToGlobal(pos))

    row_menu_hooks: list[Callable[[QMenu, str], None]]  # more items for a row's menu (the supervisor's day)

    def build_row_menu(self, agent_id: str) -> QMenu | None:
        """The row's context menu: supervisors may set the agent's status (confirmed in-window),
        then what :attr:`row_menu_hooks` add; None when it would be empty."""
        if agent_id is None:
            return None
        entry = self.roster.get(agent_id)
        menu = QMenu(self)
        # only agents of a supervised team (the relay says 403 otherwise)
        if self.identity.is_supervisor and (entry is None or self.identity.may_change(entry.event.team_id)):
            name = person_name(entry.event, agent_id) if entry else agent_id
            sub = menu.addMenu(f"Set status of {menu_text(name)}")
            for st in self.catalogue:
                act = sub.addAction(status_icon(st), st.label)
                act.triggered.connect(lambda _c=False, s=st: self.ask_set_status(agent_id, s.id))
        for hook in getattr(self, "row_menu_hooks", ()):
            hook(menu, agent_id)
        if menu.isEmpty():
            menu.deleteLater()
            return None
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
        row = self.model.row_of_agent(agent_id)
        if row < 0:
            return None
        rect = self.table.visualRect(self.model.index(row, 0))
        viewport = self.table.viewport()
        if rect.bottom() < 0 or rect.top() > viewport.height():
            return None
        top = viewport.mapTo(self.table, rect.topLeft()).y()
        return top, top + rect.height()

    def select_agent(self, agent_id: str) -> None:
        row = self.model.row_of_agent(agent_id)
        if row >= 0:
            idx = self.model.index(row, 0)
            self.table.selectionModel().select(
                idx, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            )
            # current too (the Menu key acts on it), without the view's modifier-dependent selection
            self.table.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.table.scrollTo(idx)

    def selected_agents(self) -> list[str]:
        return [i.data(AGENT_ROLE) for i in self.table.selectionModel().selectedRows()]

    # --- UI state -------------------------------------------------------------------------------
    def save_ui_state(self) -> dict:
        return {
            "geometry": bytes(self.saveGeometry().toBase64()).decode(),
            "header": bytes(self.table.horizontalHeader().saveState().toBase64()).decode(),
            "columns": ",".join(c.key for c in COLUMNS),
        }

    def restore_ui_state(self, state: dict) -> None:
        if state.get("geometry"):
            self.restoreGeometry(QByteArray.fromBase64(state["geometry"].encode()))
        # A header saved with other columns (an older version) would put widths on the wrong ones.
        if state.get("header") and state.get("columns") == ",".join(c.key for c in COLUMNS):
            self.table.horizontalHeader().restoreState(QByteArray.fromBase64(state["header"].encode()))
            self._user_widths = True
            self._fit_headers()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed.emit()
        super().closeEvent(event)
