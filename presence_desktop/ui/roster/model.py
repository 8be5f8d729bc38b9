"""The roster table model: rows = the domain roster's agents in arrival order (never removed).

Coalescing: :meth:`RosterTableModel.note_change` only records what changed and arms a
single-shot timer that flushes it in the next loop turn, or one frame (16 ms) after the previous
flush if that was more recent: a quiet roster shows a change at once, a burst is still one batch
per frame. A flush emits one ``dataChanged`` per changed row (a range repaints the whole view)
and at most one ``beginInsertRows``; rows are inserted at most every ``INSERT_MS`` (any insert
relayouts and repaints the whole view), so a log-in storm of thousands of new agents shows new
rows 4 times a second while existing rows keep updating every frame.

What each column shows and how it sorts comes from the column registry (columns.py). Two
features plug in through two hooks, and work without them: :attr:`row_sink` (hold.py) and
:attr:`key_stand_ins` (hold.py); the ticking fast path (ticking.py) reads :meth:`ticking_faces`.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont

from presence_desktop.domain.roster import Change, Roster
from presence_desktop.domain.statuses import UNKNOWN_ID
from presence_desktop.domain.text import display_text
from presence_desktop.ui import theme
from presence_desktop.ui.roster.columns import COL_NAME, COLUMNS, TICKING_COLUMNS, person_name, team_name
from presence_desktop.ui.roster.sortkeys import SEP, natural_sort_key
from presence_desktop.ui.roster.tooltips import tooltip_html, tooltip_lines
from presence_desktop.ui.runtime import freeze_gc

STATUS_ROLE = Qt.ItemDataRole.UserRole + 1  # the displayed Status object
AGENT_ROLE = Qt.ItemDataRole.UserRole + 2  # the agent id
DIMMED_ROLE = Qt.ItemDataRole.UserRole + 4  # stale, Unknown or the roster not current: draw faded
TEAM_ROLE = Qt.ItemDataRole.UserRole + 7  # the team id
CHANGED_ROLE = Qt.ItemDataRole.UserRole + 6  # ticks since the row's last change, while < CHANGED_TICKS; else None
SORT_KEY_ROLE = Qt.ItemDataRole.UserRole + 5  # str the proxy compares natively (see sort_key)

FRAME_MS = 16
INSERT_MS = 250  # new rows, during a stream of them, at most 4 times a second (see module doc)
ROW_SIGNALS_MAX = 1000  # more changed rows than this in one flush: range signals (one full repaint)
REFREEZE_ROWS = 2000  # rows inserted since the last GC freeze that earn another (see flush)
CHANGED_TICKS = 4  # a changed row carries its marker for this many ticks of the window (seconds)

_ROLES = frozenset({
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.ForegroundRole,
    Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.FontRole, Qt.ItemDataRole.AccessibleTextRole,
    Qt.ItemDataRole.TextAlignmentRole, STATUS_ROLE, AGENT_ROLE, DIMMED_ROLE, SORT_KEY_ROLE, CHANGED_ROLE, TEAM_ROLE,
})
_LAST = len(COLUMNS) - 1
_DEFAULT_ALIGN = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
# None where the view's default alignment holds: the ticking fast path draws with that default
_ALIGN = tuple(None if c.alignment == _DEFAULT_ALIGN else c.alignment for c in COLUMNS)


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
        self._flush_timer.timeout.connect(self._frame)
        self._last_flush = -1e9  # time.monotonic() s of the last flush, of the last row insert
        self._last_insert = -1e9
        self._unfrozen_rows = 0  # rows inserted since the last GC freeze
        self.flushes = 0  # batches emitted (tests count them)
        self.me: str | None = None  # the signed-in user's agent id: that row is drawn bold
        # When set, a flush hands the changed source rows (sorted list) here instead of emitting
        # ``dataChanged`` (which makes the sorting proxy re-sort and re-filter them): hold.py.
        self.row_sink: Callable[[list[int]], None] | None = None
        # source row -> the source row whose sort key it reports, or a fixed key: hold.py, only
        # while it re-places held rows
        self.key_stand_ins: dict[int, int | str] = {}
        self._stale: set[str] = set()
        # Why the roster may not be current (joining, disconnected, behind), or None when live:
        # every row is drawn dimmed (see set_not_current).
        self.not_current: str | None = None
        # agent id -> ticks since its last change was shown, while < CHANGED_TICKS (see flush);
        # counted in ticks, not read from a clock, so a row looks the same between two ticks
        self.changed_at: dict[str, int] = {}
        self._unmarked: set[str] = set()  # pending updates that are not the agent's news (staleness)
        self._palette_dark: bool | None = None
        # Keep each team's rows together: the sort key starts with the team (teams.py)
        self.group_by_team = False
        self._brushes: dict[str, QBrush] = {}
        self.sync()

    # --- updates --------------------------------------------------------------------------------
    def note_change(self, change: Change) -> None:
        """Record a roster change; it is shown in the next loop turn, or a frame after the
        previous flush (see module doc)."""
        if not change:
            return
        self._pending.merge(change)
        if not self._flush_timer.isActive():
            since = time.monotonic() - self._last_flush
            self._flush_timer.start(max(0, int(FRAME_MS - since * 1000)) if since * 1000 < FRAME_MS else 0)

    def _frame(self) -> None:
        """The timer's flush: new rows wait until ``INSERT_MS`` after the previous insert."""
        wait_ms = (self._last_insert + INSERT_MS / 1000 - time.monotonic()) * 1000
        self.flush(insert=len(self.roster) > self._rows and wait_ms <= 0)
        if len(self.roster) > self._rows and not self._flush_timer.isActive():
            self._flush_timer.start(max(1, int(wait_ms)))

    def flush(self, insert: bool = True) -> None:
        """Emit what changed since the last flush now: new rows (unless ``insert`` is False:
        they stay pending), then the changed rows' ``dataChanged`` (or :attr:`row_sink`)."""
        self._flush_timer.stop()
        now = time.monotonic()
        self._last_flush = now
        change, self._pending = self._pending, Change()
        n = len(self.roster)
        if n > self._rows and insert:
            self._unfrozen_rows += n - self._rows
            self.beginInsertRows(QModelIndex(), self._rows, n - 1)
            self._rows = n
            self.endInsertRows()
            self._last_insert = now
            if self._unfrozen_rows >= REFREEZE_ROWS and gc.isenabled() and gc.get_freeze_count():
                # Thousands of agents joined after the app froze its start-up objects: their
                # entries are as long-lived, and in the young heap they earn full (gen-2)
                # collections in the middle of a burst. Freeze them too.
                self._unfrozen_rows = 0
                freeze_gc()
        if not self._rows:
            return
        rows = self._rows
        sink = self.row_sink
        if change.everything:
            if sink is not None:
                sink(list(range(rows)))
            else:
                self.dataChanged.emit(self.index(0, 0), self.index(rows - 1, _LAST))
            self.flushes += 1
            return
        row_of, roster = self.roster.row_of, self.roster
        changed = sorted(r for r in (row_of(a) for a in change.updated if a in roster) if r < rows)
        quiet, self._unmarked = self._unmarked, set()
        if change.updated and len(change.updated) <= ROW_SIGNALS_MAX:
            # The marker for rows that just changed (a burst changing thousands of rows at once
            # marks none: a marker on every row says nothing).
            marks = self.changed_at
            for agent_id in change.updated:
                if agent_id not in quiet:
                    marks[agent_id] = 0
        if sink is not None:
            if changed:
                sink(changed)
        else:
            emit, index = self.dataChanged.emit, self.index
            if len(changed) <= ROW_SIGNALS_MAX:
                # One signal per changed row. The sorting proxy maps a range signal to the span from
                # its first to its last row in view order, and the view repaints its whole viewport
                # for a changed range of more than ~200 cells even when none is on screen; a
                # one-row signal repaints that row, if it is on screen.
                for row in changed:
                    emit(index(row, 0), index(row, _LAST))
            else:  # so many that one full repaint is cheaper than the signals
                for first, end in _spans(changed):
                    emit(index(first, 0), index(end, _LAST))
        self.flushes += 1

    def set_not_current(self, reason: str | None) -> None:
        """``reason`` (plain words) while the roster may not be current, None when it is live;
        a change repaints every row (dimmed, or not)."""
        if reason != self.not_current:
            was = self.not_current is not None
            self.not_current = reason
            if was != (reason is not None) and self._rows:
                self.dataChanged.emit(self.index(0, 0), self.index(self._rows - 1, _LAST))

    def age_changes(self) -> list[str]:
        """One tick older for every change marker; drops those CHANGED_TICKS old and returns
        their agents."""
        marks = self.changed_at
        ended = []
        for agent_id, age in marks.items():
            if age + 1 >= CHANGED_TICKS:
                ended.append(agent_id)
            else:
                marks[agent_id] = age + 1
        for agent_id in ended:
            del marks[agent_id]
        return ended

    def brush(self, name: str) -> QBrush:
        """A theme colour (``theme.ThemeColors`` field) as a brush, for the current palette."""
        dark = theme.is_dark()
        if dark != self._palette_dark:
            self._palette_dark = dark
            self._brushes = {}
        b = self._brushes.get(name)
        if b is None:
            b = self._brushes[name] = QBrush(QColor(getattr(theme.colors(), name)))
        return b

    def sync(self) -> None:
        """Catch up with the roster at once (no coalescing)."""
        self._pending.everything = True
        self.flush()

    def tick(self) -> None:
        """Time-based state: rows whose staleness flipped since the last tick are re-announced
        (through the coalesced flush). The ticking text itself is repainted by the window's tick
        without a model signal: a whole-table ``dataChanged`` every second made the sorting proxy
        re-sort every row, and the order by those columns does not change with time alone."""
        roster = self.roster
        if roster.stale_after_s is None or not self._rows:
            return
        now = self.clock()
        stale = {a for a in roster.agent_ids() if roster.is_stale(a, now)}
        flipped = stale ^ self._stale
        self._stale = stale
        if flipped:
            self._unmarked |= flipped  # time passing is not news: no change marker
            self.note_change(Change(updated=flipped))

    # --- Qt model API ----------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section].title
            if role == Qt.ItemDataRole.ToolTipRole:
                return COLUMNS[section].header_tip or None
        return None

    def agent_at(self, row: int) -> str:
        return self.roster.agent_at(row)

    def ticking_faces(self, row: int, now: float) -> dict[int, tuple]:
        """What the row's ticking cells draw, per column of ``TICKING_COLUMNS``: ``(agent id,
        text, budget level or None, dimmed, bold)``, i.e. everything the default painting takes
        from :meth:`data` for them. A cell is repainted by the tick only when its face changes."""
        roster = self.roster
        agent_id = roster.agent_at(row)
        ev = roster.get(agent_id).event
        status = roster.display_status(agent_id, now)
        dimmed = status.id == UNKNOWN_ID or self.not_current is not None
        bold = agent_id == self.me
        faces = {}
        for col in TICKING_COLUMNS:
            c = COLUMNS[col]
            level = c.level(roster, agent_id, now) if c.level is not None else None
            faces[col] = (agent_id, c.display(roster, agent_id, ev, status, now), level, dimmed, bold)
        return faces

    def sort_key(self, row: int, col: int, now: float | None = None) -> str:
        """The proxy's sort value of a cell (``SORT_KEY_ROLE``): a string whose order (QString
        code units) is the column's order (``Column.sort_key``) with ties broken by the natural
        name order. A row with an entry in :attr:`key_stand_ins` answers for its stand-in."""
        stand_in = self.key_stand_ins.get(row) if self.key_stand_ins else None
        if stand_in is not None:
            if isinstance(stand_in, str):
                return stand_in
            row = stand_in
        roster = self.roster
        agent_id = roster.agent_at(row)
        ev = roster.get(agent_id).event
        name = natural_sort_key(person_name(ev, agent_id))
        if col == COL_NAME and not self.group_by_team:
            return name
        now = self.clock() if now is None else now
        key = COLUMNS[col].sort_key(roster, agent_id, ev, now) + name
        if self.group_by_team:
            return natural_sort_key(team_name(ev.team_id)) + SEP + key
        return key

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role not in _ROLES or not index.isValid() or index.row() >= self._rows:
            return None  # the delegate asks ~12 roles per cell; most have no answer here
        if role == SORT_KEY_ROLE:  # (burst) first: the proxy asks it on every comparison
            return self.sort_key(index.row(), index.column())
        roster = self.roster
        agent_id = roster.agent_at(index.row())
        if role == AGENT_ROLE:
            return agent_id
        col = index.column()
        column = COLUMNS[col]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _ALIGN[col]
        # Roles that only some columns answer: out before the status lookup (every repaint asks
        # each visible cell for them).
        if role == Qt.ItemDataRole.BackgroundRole and column.level is None:
            # Past its time budget the whole row says so (the time cell also with ⚠ and its colours).
            return self.brush("budget_over_bg") if roster.budget_overrun(agent_id, self.clock()) is not None else None
        if role == Qt.ItemDataRole.AccessibleTextRole and col != COL_NAME:
            return None
        if role == CHANGED_ROLE:
            return self.changed_at.get(agent_id)
        if role == TEAM_ROLE:
            return roster.get(agent_id).event.team_id
        ev = roster.get(agent_id).event
        if role == Qt.ItemDataRole.FontRole:
            mine = agent_id == self.me
            italic = col == COL_NAME and ev.source == "supervisor"
            if mine or italic:
                font = QFont()
                font.setBold(mine)  # the signed-in user's own row
                font.setItalic(italic)  # a status a supervisor set
                return font
            return None
        now = self.clock()
        status = roster.display_status(agent_id, now)
        if role == STATUS_ROLE:
            return status
        if role == DIMMED_ROLE:
            return status.id == UNKNOWN_ID or self.not_current is not None
        if role == Qt.ItemDataRole.DisplayRole:
            # Names, teams and messages are user text: neutralised here, for every column.
            return display_text(column.display(roster, agent_id, ev, status, now))
        if role == Qt.ItemDataRole.ToolTipRole:
            # The message column elides: its full text is in the tooltip, on every cell of the row.
            lines = tooltip_lines(roster, agent_id, now)
            if self.not_current is not None and status.id != UNKNOWN_ID and lines:
                lines.insert(1, f"Not current ({self.not_current})")
            return tooltip_html(lines)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column.level is not None:
                level = column.level(roster, agent_id, now)
                if level in ("warn", "over"):  # text and background as a pair (readable in dark themes)
                    return self.brush(f"budget_{level}_text")
            if status.id == UNKNOWN_ID or self.not_current is not None:
                return self.brush("dim_text")
            return self.brush("budget_over_text") if roster.budget_overrun(agent_id, now) is not None else None
        if role == Qt.ItemDataRole.BackgroundRole:
            level = column.level(roster, agent_id, now)
            return self.brush(f"budget_{level}_bg") if level in ("warn", "over") else None
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{person_name(ev, agent_id)}, {status.label}"
        return None
