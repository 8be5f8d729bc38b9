"""The roster table: a model over the domain roster, a filter/sort proxy and the indicator delegate.

Coalescing: :meth:`RosterTableModel.note_change` only records what changed; a single-shot
16 ms timer (one frame at 60 Hz) flushes it as at most one ``beginInsertRows`` and one
``dataChanged`` batch, so a burst of 10,000 events is a handful of repaints. Ticking columns
(time in status, last heard) are refreshed by :meth:`tick`, driven by one timer for the view.
"""

from __future__ import annotations

import functools
import re
import time

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QRectF, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from presence_desktop.domain.roster import Change, Roster, RosterFilter
from presence_desktop.domain.statuses import UNKNOWN_ID
from presence_desktop.ui.painting import paint_status

COL_INDICATOR, COL_NAME, COL_TEAM, COL_STATUS, COL_TIME, COL_MESSAGE, COL_HEARD = range(7)
HEADERS = ("", "Name", "Team", "Status", "Time in status", "Message", "Last heard")

STATUS_ROLE = Qt.ItemDataRole.UserRole + 1  # the displayed Status object
AGENT_ROLE = Qt.ItemDataRole.UserRole + 2  # the agent id
SORT_ROLE = Qt.ItemDataRole.UserRole + 3  # a sortable value per column
DIMMED_ROLE = Qt.ItemDataRole.UserRole + 4  # stale or Unknown: draw faded

FRAME_MS = 16
TICKING_COLUMNS = (COL_TIME, COL_HEARD)

_ROLES = frozenset({
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.ForegroundRole,
    Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.FontRole, Qt.ItemDataRole.AccessibleTextRole,
    STATUS_ROLE, AGENT_ROLE, SORT_ROLE, DIMMED_ROLE,
})

WARN_BG = QColor("#fff3cd")
OVER_BG = QColor("#f8d7da")
DIM_FG = QColor("#8a8a8a")


_DIGITS = re.compile(r"(\d+)")


@functools.lru_cache(maxsize=1 << 15)
def natural_key(text: str) -> tuple:
    """Sort key where digits compare as numbers: agent-2 < agent-10. Cached: the sorting proxy
    asks for it on every comparison."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(text.casefold()))


def format_duration(seconds: float) -> str:
    """Time in status: ``42`` -> ``0:42``; ``725`` -> ``12 min``; ``3725`` -> ``1 h 02 min``.

    Seconds only in the first minute, whole minutes after: the column then changes once a
    minute instead of every second, and repainting ~50 on-screen cells each second was most of
    the app's idle CPU (bench/README.md). Budgets are minutes; the tooltip has the exact time."""
    s = int(max(0, seconds))
    if s < 60:
        return f"0:{s:02d}"
    if s < 3600:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def format_ago(seconds: float) -> str:
    s = int(max(0, seconds))
    if s < 5:
        return "just now"
    if s < 60:
        return f"{s} s ago"
    if s < 3600:
        return f"{s // 60} min ago"
    return f"{s // 3600} h {s % 3600 // 60} min ago"


def _spans(rows: list[int], gap: int = 8) -> list[tuple[int, int]]:
    """Sorted rows -> (first, last) spans, merging rows at most ``gap`` apart."""
    spans: list[tuple[int, int]] = []
    for row in rows:
        if spans and row - spans[-1][1] <= gap:
            spans[-1] = (spans[-1][0], row)
        else:
            spans.append((row, row))
    return spans


class RosterTableModel(QAbstractTableModel):
    """Rows = the roster's agents in arrival order (never removed); see module doc."""

    def __init__(self, roster: Roster, parent=None, clock=time.time) -> None:
        super().__init__(parent)
        self.roster = roster
        self.clock = clock
        self._rows = 0
        self._pending = Change()
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FRAME_MS)
        self._flush_timer.timeout.connect(self.flush)
        self.flushes = 0  # batches emitted (tests count them)
        self.me: str | None = None  # the signed-in user's agent id: that row is drawn bold
        self._stale: set[str] = set()
        self.sync()

    # --- updates --------------------------------------------------------------------------------
    def note_change(self, change: Change) -> None:
        """Record a roster change; it is shown at the next frame (see module doc)."""
        if not change:
            return
        self._pending.merge(change)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self) -> None:
        self._flush_timer.stop()
        change, self._pending = self._pending, Change()
        n = len(self.roster)
        if n > self._rows:
            self.beginInsertRows(QModelIndex(), self._rows, n - 1)
            self._rows = n
            self.endInsertRows()
        if not self._rows:
            return
        if change.everything:
            spans = [(0, self._rows - 1)]
        else:
            spans = _spans(sorted(self.roster.row_of(a) for a in change.updated if a in self.roster))
        # One signal per span of nearby rows, not one from the first to the last changed row: the
        # sorting proxy re-filters and re-sorts every row of a range (in Python), so a 2-row update
        # at rows 3 and 4,900 cost ~200 ms for 5,000 rows; the view still repaints once.
        for first, last in spans:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(HEADERS) - 1))
        self.flushes += 1

    def sync(self) -> None:
        """Catch up with the roster at once (no coalescing)."""
        self._pending.everything = True
        self.flush()

    def tick(self) -> None:
        """Time-based state: rows whose staleness flipped since the last tick are re-announced
        (through the coalesced flush). The ticking text itself (time in status, last heard,
        budget colour) is repainted by the view's owner (:meth:`RosterWindow.tick`) without a
        model signal: a whole-table ``dataChanged`` every second made the sorting proxy re-sort
        every row (~200 ms at 5,000 rows), and the order by those columns does not change with
        time alone."""
        roster = self.roster
        if roster.stale_after_s is None or not self._rows:
            return
        now = self.clock()
        stale = {a for a in roster.agent_ids() if roster.is_stale(a, now)}
        flipped = stale ^ self._stale
        self._stale = stale
        if flipped:
            self.note_change(Change(updated=flipped))

    # --- Qt model API ----------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[section]
            if role == Qt.ItemDataRole.ToolTipRole and section == COL_INDICATOR:
                return "Status (colour and shape)"
        return None

    def agent_at(self, row: int) -> str:
        return self.roster.agent_at(row)

    def ticking_face(self, row: int, col: int, now: float) -> tuple:
        """What a ticking cell (``TICKING_COLUMNS``) draws that changes with time alone: its text
        and, for time in status, the budget colour. The window repaints a cell only when this
        changes (the 1 s tick used to repaint both columns on screen, ~1.4 % of a core idle)."""
        roster = self.roster
        agent_id = roster.agent_at(row)
        if col == COL_TIME:
            return agent_id, format_duration(roster.time_in_status(agent_id, now)), roster.budget_level(agent_id, now)
        return agent_id, format_ago(roster.since_heard(agent_id, now))

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role not in _ROLES or not index.isValid() or index.row() >= self._rows:
            return None  # the delegate asks ~12 roles per cell; most have no answer here
        roster = self.roster
        agent_id = roster.agent_at(index.row())
        entry = roster.get(agent_id)
        ev = entry.event
        col = index.column()
        if role == AGENT_ROLE:
            return agent_id
        # Roles that only some columns answer: out before the status lookup (every repaint asks
        # each visible cell for them).
        if role == Qt.ItemDataRole.BackgroundRole and col != COL_TIME:
            return None
        if role == Qt.ItemDataRole.AccessibleTextRole and col != COL_INDICATOR:
            return None
        if role == Qt.ItemDataRole.FontRole:
            mine = agent_id == self.me
            if mine or (col == COL_NAME and ev.source == "supervisor"):
                font = QFont()
                font.setBold(mine)  # the signed-in user's own row
                font.setItalic(col == COL_NAME and ev.source == "supervisor")
                return font
            return None
        now = self.clock()
        status = roster.display_status(agent_id, now)
        if role == STATUS_ROLE:
            return status
        if role == DIMMED_ROLE:
            return status.id == UNKNOWN_ID
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_NAME:
                return ev.display_name or agent_id
            if col == COL_TEAM:
                return ev.team_id
            if col == COL_STATUS:
                if status.id == UNKNOWN_ID:
                    return f"Unknown (last: {roster.last_known_status(agent_id).label})"
                # Where the status came from, when it was not the agent's own choice.
                if ev.source == "supervisor":
                    return f"{status.label} · set by {ev.changed_by or 'a supervisor'}"
                if ev.source == "system" and status.id == "offline":
                    return f"{status.label} · no heartbeat"
                if ev.source == "idle":
                    return f"{status.label} · idle"
                return status.label
            if col == COL_TIME:
                return format_duration(roster.time_in_status(agent_id, now))
            if col == COL_MESSAGE:
                return ev.message or ""
            if col == COL_HEARD:
                return format_ago(roster.since_heard(agent_id, now))
            return None
        if role == SORT_ROLE:
            if col in (COL_INDICATOR, COL_STATUS):
                return status.order
            if col == COL_NAME:
                return natural_key(ev.display_name or agent_id)
            if col == COL_TEAM:
                return natural_key(ev.team_id)
            if col == COL_TIME:
                return roster.time_in_status(agent_id, now)
            if col == COL_MESSAGE:
                return (ev.message or "").casefold()
            if col == COL_HEARD:
                return roster.since_heard(agent_id, now)
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            last = roster.last_known_status(agent_id)
            why = ""
            if status.id == UNKNOWN_ID:
                why = " - connection lost" if not roster.connected else " - heartbeat overdue"
            by = f", by {ev.changed_by}" if ev.source == "supervisor" and ev.changed_by else ""
            # The message column elides: its full text is here, on every cell of the row.
            said = f"\n“{ev.message}”" if ev.message else ""
            return f"{ev.display_name} ({agent_id}, {ev.team_id})\n{last.label} since {ev.changed_at} [{ev.source}{by}]{why}{said}"
        if role == Qt.ItemDataRole.ForegroundRole and status.id == UNKNOWN_ID:
            return QBrush(DIM_FG)
        if role == Qt.ItemDataRole.BackgroundRole and col == COL_TIME:
            level = roster.budget_level(agent_id, now)
            if level == "over":
                return QBrush(OVER_BG)
            if level == "warn":
                return QBrush(WARN_BG)
        if role == Qt.ItemDataRole.FontRole and col == COL_NAME and ev.source == "supervisor":
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.AccessibleTextRole and col == COL_INDICATOR:
            return status.label
        return None


class RosterProxy(QSortFilterProxyModel):
    """Filters rows with a domain :class:`RosterFilter`; sorts by :data:`SORT_ROLE`."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._filter = RosterFilter()
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    @property
    def roster_filter(self) -> RosterFilter:
        return self._filter

    def set_roster_filter(self, flt: RosterFilter) -> None:
        if flt != self._filter:
            if hasattr(self, "beginFilterChange"):  # Qt >= 6.9; invalidateFilter() is deprecated there
                self.beginFilterChange()
                self._filter = flt
                self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
            else:
                self._filter = flt
                self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        model = self.sourceModel()
        if model is None:
            return False
        return self._filter.matches(model.roster, model.agent_at(source_row))

    def lessThan(self, left, right) -> bool:
        a = left.data(SORT_ROLE)
        b = right.data(SORT_ROLE)
        if a == b:  # stable tie-break by name so rows do not shuffle
            return left.siblingAtColumn(COL_NAME).data(SORT_ROLE) < right.siblingAtColumn(COL_NAME).data(SORT_ROLE)
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)

    def visible_agent_ids(self) -> list[str]:
        return [self.index(r, 0).data(AGENT_ROLE) for r in range(self.rowCount())]


class StatusDelegate(QStyledItemDelegate):
    """Paints the indicator column: the status's shape in its colour."""

    def paint(self, painter, option: QStyleOptionViewItem, index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        status = index.data(STATUS_ROLE)
        if status is None:
            return
        r = QRectF(option.rect)
        side = min(r.height(), 18.0) - 4
        target = QRectF(r.center().x() - side / 2, r.center().y() - side / 2, side, side)
        paint_status(painter, target, status)  # Unknown is grey already; fading it hides it

    def sizeHint(self, option, index):
        hint = super().sizeHint(option, index)
        hint.setWidth(max(hint.width(), 26))
        return hint


__all__ = [
    "RosterTableModel",
    "RosterProxy",
    "StatusDelegate",
    "QPersistentModelIndex",
    "format_duration",
    "format_ago",
]
