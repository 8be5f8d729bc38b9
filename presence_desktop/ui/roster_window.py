"""The roster window: own status, connection banner, headline counts, filters and the table.

It wires its own widgets and exposes signals (``ownStatusRequested``, ``agentStatusRequested``,
``signOutRequested``, ``quitRequested``); the app connects those to the core. It reads the
domain roster for display only and never calls the backend.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QByteArray, QEvent, QItemSelectionModel, QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QPainter, QPalette, QRegion
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QStyle,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from presence_desktop.client.service import ConnectionState
from presence_desktop.domain.identity import Identity
from presence_desktop.domain.roster import Change, OwnStatus, Roster, RosterFilter
from presence_desktop.domain.statuses import StatusCatalogue
from presence_desktop.ui.painting import status_icon
from presence_desktop.ui.roster_model import (
    AGENT_ROLE,
    COL_INDICATOR,
    COL_MESSAGE,
    COL_NAME,
    TICKING_COLUMNS,
    RosterProxy,
    RosterTableModel,
    StatusDelegate,
    TickingDelegate,
)
from presence_desktop.ui.widgets import ConfirmBar, ConnectionBanner, CountsBar, FilterBar, MessageBar, OwnStatusBar

TICK_MS = 1000
RELEASE_ONE_BY_ONE = 256  # held rows re-placed one by one on release; more (and > n/4): one full sort


class RosterTable(QTableView):
    """The roster's table view. The 1 s tick's repaint of ticking cells (RosterWindow.tick)
    arrives as a paint event of just those cells; when the tick has handed them over
    (:attr:`ticking_cells`) they are drawn here from the ticking delegate's cached cells, each
    with the option the view would give it (selection, focus, alternate row, enabled/active),
    instead of through the view's per-cell path: a Python ``flags()`` (through the proxy) and
    a Python delegate call per cell, most of what was left of the idle CPU.
    Anything else in the event, a pointer over the table (hover), an editor or a
    right-to-left layout takes the default painting."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.ticking_delegate: TickingDelegate | None = None
        # (region, [(proxy row, column, cell rect, look, x, y, width, height)]) for the next paint only
        self.ticking_cells: tuple[QRegion, list] | None = None
        self.fast_paints = 0  # paint events drawn from ticking_cells (tests count them)

    def paintEvent(self, event) -> None:
        cells, self.ticking_cells = self.ticking_cells, None
        if cells is not None and event.region().subtracted(cells[0]).isEmpty() and self._paint_ticking(cells[1]):
            self.fast_paints += 1
            return
        super().paintEvent(event)

    def _paint_ticking(self, cells: list) -> bool:
        delegate, viewport = self.ticking_delegate, self.viewport()
        if (delegate is None or self.state() != QAbstractItemView.State.NoState or viewport.underMouse()
                or self.isRightToLeft() or self.selectionModel() is None):
            return False
        base = QStyleOptionViewItem()
        self.initViewItemOption(base)
        state, features = base.state, base.features
        enabled = bool(state & QStyle.StateFlag.State_Enabled)
        selected, focused = QStyle.StateFlag.State_Selected, QStyle.StateFlag.State_HasFocus
        # What QTableView gives a cell on top of the view's option (QTableViewPrivate::drawCell):
        # (state, its value, whether cached per position) per (selected, current with focus).
        states = {}
        for sel in (False, True):
            for foc in (False, True):
                st = state | selected if sel else state
                st = st | focused if foc else st
                states[sel, foc] = (st, st.value, delegate.positional(st.value))
        alternate = self.alternatingRowColors()
        feats = (features, features | QStyleOptionViewItem.ViewItemFeature.Alternate)
        feat_values = (feats[0].value, feats[1].value)
        palette_key = base.palette.cacheKey()
        proxy, selection = self.model(), self.selectionModel()
        current = self.currentIndex()
        # only the current cell shows focus, and only while the view has it
        current = (current.row(), current.column()) if current.isValid() and (self.hasFocus() or viewport.hasFocus()) else None
        header = self.verticalHeader()
        moved = header.sectionsMoved()
        cached = delegate.cached
        painter = QPainter(viewport)
        if painter.device().devicePixelRatio() != delegate.device_pixel_ratio:  # e.g. render() elsewhere
            painter.end()
            return False
        draw = painter.drawPixmap
        for prow, col, rect, look, x, y, w, h in cells:
            index = proxy.index(prow, col)
            st, st_value, exact = states[selection.isSelected(index), current == (prow, col)]
            alt = alternate and (header.visualIndex(prow) if moved else prow) & 1 == 1
            key = (look, w, h, st_value, feat_values[alt], palette_key, (x, y) if exact else None)
            pm = cached(key)
            if pm is None:
                opt = QStyleOptionViewItem(base)
                opt.rect = rect
                opt.state = st
                opt.features = feats[alt]
                if enabled:
                    opt.palette.setCurrentColorGroup(QPalette.ColorGroup.Normal)
                pm = delegate.render_cell(key, opt, index)
            draw(rect, pm)
        painter.end()
        return True


class RosterWindow(QMainWindow):
    ownStatusRequested = Signal(str, object)  # status id, message typed for it (str) or None
    agentStatusRequested = Signal(str, str)  # agent id, status id (confirmed by the user)
    signOutRequested = Signal()
    quitRequested = Signal()
    closed = Signal()

    def __init__(self, roster: Roster, catalogue: StatusCatalogue, identity: Identity, profile_name: str = "", clock=time.time) -> None:
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
        self.ticking_delegate = TickingDelegate(self.table)
        self.table.ticking_delegate = self.ticking_delegate
        for col in TICKING_COLUMNS:
            self.table.setItemDelegateForColumn(col, self.ticking_delegate)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_INDICATOR, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(COL_INDICATOR, 30)
        for col, width in ((1, 170), (2, 80), (3, 210), (4, 100), (5, 200), (6, 100)):
            header.resizeSection(col, width)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_MESSAGE, QHeaderView.ResizeMode.Stretch)
        self._fit_headers()
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        lay.addWidget(self.table, 1)
        self.setCentralWidget(central)
        # Floats over the table's bottom edge: in the layout it pushed the rows ~40 px down
        # right under the pointer that had just used the row menu.
        self.confirm = ConfirmBar()
        self.confirm.overlay_on(self.table)
        # A roster must not jump while you point at it (people picked the wrong row when rows
        # moved): while the pointer is over the table, rows keep their place; on leaving, the
        # order (and a status filter) catches up. Values still update in place.
        self.table.viewport().installEventFilter(self)
        self.table.viewport().setMouseTracking(True)
        self._holding = False
        self._held_rows: set[int] = set()  # source rows that may stand out of order (see hold_order)
        self.model.heldRowsChanged.connect(self._held_rows_changed)
        self.proxy.rowsInserted.connect(self._rows_inserted_while_held)
        self._source_rows: dict[int, int] = {}
        # The tick's view of the proxy (which source row each on-screen row shows, the looks it
        # hands to the ticking delegate) holds until the proxy's rows move; changed data is
        # caught by the model's flush count (a slot on dataChanged would run per changed row).
        for signal in (self.proxy.layoutChanged, self.proxy.rowsInserted, self.proxy.rowsRemoved,
                       self.proxy.rowsMoved, self.proxy.modelReset):
            signal.connect(self._proxy_rows_changed)

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

    def on_own_status(self, own: OwnStatus) -> None:
        err = own.pending.last_error if own.pending else None
        self.own_bar.set_state(own.status_id, own.message, own.is_pending, err)
        self.setWindowIcon(status_icon(self.catalogue.display(own.status_id), own.is_pending))

    def show_problem(self, text: str) -> None:
        self.messages.show_text(text)

    def show_note(self, text: str) -> None:
        """Information, not an error (e.g. the session will not be remembered)."""
        self.messages.show_text(text, info=True)

    # --- internals ----------------------------------------------------------------------------
    def tick(self) -> None:
        self.model.tick()
        now = self.clock()
        if self.isVisible() and not self.isMinimized():
            self._repaint_ticking_cells(now)
        else:  # in the tray or minimized (most of the app's life): nothing to repaint
            self._ticking_shown = {}  # shown again, the window paints all, the next tick compares anew
            self._drop_looks()
        self.banner.refresh(now)
        if self.roster.stale_after_s is not None:
            # Displayed statuses (hence counts) change with time alone only through staleness;
            # otherwise every roster change and connection change recounts already.
            self._refresh_counts()

    _ticking_shown: dict[tuple[int, int], tuple] = {}
    _source_rows: dict[int, int]  # proxy row -> source row, for the rows the tick looked at
    _looks_armed = False
    _looks_flushes = -1  # the model's flush count when the looks were made

    def _drop_looks(self) -> None:
        self._looks_armed = False
        self.table.ticking_cells = None
        if self.ticking_delegate.looks:
            self.ticking_delegate.looks = {}

    def _proxy_rows_changed(self, *_args) -> None:
        self._source_rows = {}
        self._drop_looks()

    def _repaint_ticking_cells(self, now: float) -> None:
        """Repaint the on-screen cells of the ticking columns whose drawn text (or budget colour)
        changed since the last tick, not the whole columns: "last heard" moves once a minute
        for most rows, and repainting whole columns every second was most of the idle CPU. The
        changed cells' looks go to the ticking delegate for the next paint of the viewport
        (see TickingDelegate; that paint comes right after this tick)."""
        table, proxy = self.table, self.proxy
        viewport = table.viewport()
        self._drop_looks()
        dpr = viewport.devicePixelRatio()
        # A cached cell pixmap is blitted at whole device pixels: only at integer scales.
        fast = dpr == int(dpr)
        if fast:
            self.ticking_delegate.set_environment(
                (table.font().key(), table.style().name(), table.layoutDirection(), dpr))
        looks: dict[tuple[int, int], tuple] = {}
        cells, region = [], QRegion()
        grid = 1 if table.showGrid() else 0  # a cell's rect leaves out its grid lines (they never change)
        header = table.horizontalHeader()
        cols = []
        for col in TICKING_COLUMNS:
            x = header.sectionViewportPosition(col)
            width = header.sectionSize(col)
            if width > 0 and not header.isSectionHidden(col) and x < viewport.width() and x + width > 0:
                cols.append((col, x, width))
        first = table.rowAt(0)
        if not cols or first < 0:
            self._ticking_shown = {}
            return
        last = table.rowAt(viewport.height() - 1)
        if last < 0:
            last = proxy.rowCount() - 1
        before, shown = self._ticking_shown, {}
        faces_of = self.model.ticking_faces
        sources = self._source_rows
        for prow in range(first, last + 1):
            src = sources.get(prow)
            if src is None:
                src = sources[prow] = proxy.mapToSource(proxy.index(prow, 0)).row()
            if src < 0:
                continue
            faces = faces_of(src, now)
            y = h = None
            for col, x, width in cols:
                key = (prow, col)
                face = shown[key] = faces[col]
                if before.get(key) != face:
                    if y is None:
                        y, h = table.rowViewportPosition(prow), table.rowHeight(prow) - grid
                    rect = QRect(x, y, width - grid, h)
                    region += rect
                    if fast:
                        looks[key] = face[1:]
                        cells.append((prow, col, rect, face[1:], x, y, width - grid, h))
        self._ticking_shown = shown
        if not region.isEmpty():
            viewport.update(region)
        if looks:
            self.ticking_delegate.looks = looks
            table.ticking_cells = (region, cells)
            self._looks_armed = True
            self._looks_flushes = self.model.flushes

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
        name = entry.event.display_name if entry else agent_id
        menu = QMenu(self)
        sub = menu.addMenu(f"Set status of {name}")
        for st in self.catalogue:
            act = sub.addAction(status_icon(st), st.label)
            act.triggered.connect(lambda _c=False, s=st: self.confirm.ask(f"Set <b>{name}</b> to <b>{s.label}</b>?", (agent_id, s.id)))
        return menu

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

    def eventFilter(self, obj, event) -> bool:
        if obj is self.table.viewport():
            kind = event.type()
            if kind == QEvent.Type.Paint:
                # The first paint after a tick draws the looks it handed over; later paints
                # (hover, selection, scrolling) take the default path again.
                if self._looks_armed and self._looks_flushes == self.model.flushes:
                    self._looks_armed = False
                else:
                    self._drop_looks()
            elif kind == QEvent.Type.Enter:
                self.hold_order(True)
            elif kind == QEvent.Type.Leave:
                self.hold_order(False)
        return super().eventFilter(obj, event)

    def hold_order(self, hold: bool) -> None:
        """Freeze (True) or release (False) which rows show where (sort and status filter);
        values keep updating in place and everything catches up on release.

        Dynamic sorting stays on. While held, the model's flushes skip the proxy (any
        ``dataChanged`` makes it re-sort and re-filter the row, whatever the roles) and this
        window repaints the changed rows itself; rows changed or inserted meanwhile (an insert's
        binary search may land off among stale rows) are remembered. On release only those k rows
        are announced, one by one, each re-placed by the proxy's binary search: O(k log n) key
        fetches, where turning dynamic sorting back on re-sorted all n rows (~0.5-0.65 s at 5,000
        agents, every time the pointer left the table). So that each search sees an ordered list,
        a remembered row still waiting reports the key of the nearest row above it that is in
        place (or the lowest key at the top; see RosterTableModel.announce_rows)."""
        if hold == self._holding:
            return
        self._holding = hold
        model, proxy = self.model, self.proxy
        model.held = hold
        if hold:
            return
        rows, self._held_rows = self._held_rows, set()
        if not rows:
            return
        n = model.rowCount()
        if len(rows) > max(RELEASE_ONE_BY_ONE, n // 4):
            model.sync()  # most rows moved: one range signal (one full re-filter and sort) is cheaper
            return
        stand_ins: dict[int, int | str] = {}
        if proxy.sortColumn() >= 0:
            top = "" if proxy.sortOrder() == Qt.SortOrder.AscendingOrder else "\uffff"  # below / above every key
            shown = sorted((p, r) for r in rows if (p := proxy.mapFromSource(model.index(r, 0)).row()) >= 0)
            prev_p, prev = -2, top
            for p, r in shown:
                if p - 1 != prev_p:  # the row above is in place (every remembered shown row is in `shown`)
                    prev = proxy.mapToSource(proxy.index(p - 1, 0)).row() if p > 0 else top
                stand_ins[r] = prev
                prev_p = p
        model.announce_rows(sorted(rows), stand_ins)

    def _held_rows_changed(self, rows: list[int]) -> None:
        """A held flush: remember the rows, repaint those on screen (``rows``: source rows)."""
        self._held_rows.update(rows)
        viewport = self.table.viewport()
        if len(rows) > 64:
            viewport.update()
            return
        table, proxy, model = self.table, self.proxy, self.model
        height, width = viewport.height(), viewport.width()
        for r in rows:
            p = proxy.mapFromSource(model.index(r, 0)).row()
            if p >= 0:
                y = table.rowViewportPosition(p)
                h = table.rowHeight(p)
                if y + h > 0 and y < height:
                    viewport.update(0, y, width, h)

    def _rows_inserted_while_held(self, _parent, first: int, last: int) -> None:
        if self._holding:
            to_source, index = self.proxy.mapToSource, self.proxy.index
            self._held_rows.update(to_source(index(p, 0)).row() for p in range(first, last + 1))

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
