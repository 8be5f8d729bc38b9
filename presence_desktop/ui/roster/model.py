"""The roster table model: the rows shown, filtered and in sort order, kept by the model itself.

Rows: the agents that pass the :class:`RosterFilter`, in the order of the sort column (ties by
the natural name order, then by agent id), as a Python list beside the list of their sort keys
(``sortkeys.py``), so a row is found, and a place for it, by bisection. The view uses this model
directly: there is no ``QSortFilterProxyModel`` (issue 20 asked for "the proxy only filters";
measured with Qt 6.11, a QSortFilterProxyModel, even unsorted, turns one source
``beginMoveRows`` into a ``layoutChanged`` and calls the Python ``filterAcceptsRow`` again for
every source row, and each of its inserts asks Python for the keys of a binary search:
bench/README.md, "Fourth round").

Placing: a changed row whose key or filter verdict changed moves with one ``beginMoveRows``,
leaves with ``beginRemoveRows``, a new or newly matching row goes in at its place with
``beginInsertRows``; more than ``MOVES_MAX`` of those at once are one ``layoutChanged`` (with the
persistent indexes carried over: selection and current row follow their agents). Every row's
key is computed anew and the rows sorted once only when the sort column or order, the grouping by
team or the filter changes (the user); a change of everything (the connection, the teams watched)
looks at every row and places those whose place changed.

Coalescing: :meth:`RosterTableModel.note_change` only records what changed and arms a
single-shot timer that flushes it in the next loop turn, or one frame (16 ms) after the previous
flush if that was more recent: a quiet roster shows a change at once, a burst is still one batch
per frame. A flush emits one ``dataChanged`` per changed row (a range repaints the whole view),
where the row stands. Rows are *placed* (moved, inserted, removed) at most every ``PLACE_MS``:
any of those repaints the whole view on a QTableView, even off screen (measured: one move
~13-24 ms of repaint at 10,000 rows), so a log-in storm or a stream of status changes under the
status sort re-places rows 4 times a second while values keep updating every frame.

Holding (hold.py, :meth:`RosterTableModel.set_held`): while held no row shown moves or leaves;
values update in place and the rows that changed are remembered (without computing their keys);
on release only those are re-placed. New agents still go in at their place (a join under a
resting pointer showed an empty table until the pointer left).

What each column shows and how it sorts comes from the column registry (columns.py). The ticking
fast path (ticking.py) reads :meth:`ticking_faces`.
"""

from __future__ import annotations

import gc
import time
from bisect import bisect_left
from collections.abc import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont

from presence_desktop.domain.roster import Change, Roster, RosterFilter
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

FRAME_MS = 16
PLACE_MS = 250  # rows are moved, inserted or removed at most 4 times a second (see module doc)
INSERT_MS = PLACE_MS  # the former name (new rows were the only ones paced)
MOVES_MAX = 256  # more rows to place than this at once: one layoutChanged instead of one signal each
ROW_SIGNALS_MAX = 1000  # more changed rows than this in one flush: range signals (one full repaint)
REFREEZE_ROWS = 2000  # rows inserted since the last GC freeze that earn another (see flush)
CHANGED_TICKS = 4  # a changed row carries its marker for this many ticks of the window (seconds)
TIE = "\x00"  # between a row's sort key and its agent id (keys are self-delimiting: sortkeys.py)

_ROLES = frozenset({
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.ForegroundRole,
    Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.FontRole, Qt.ItemDataRole.AccessibleTextRole,
    Qt.ItemDataRole.TextAlignmentRole, STATUS_ROLE, AGENT_ROLE, DIMMED_ROLE, CHANGED_ROLE, TEAM_ROLE,
})
_LAST = len(COLUMNS) - 1
_DEFAULT_ALIGN = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
# None where the view's default alignment holds: the ticking fast path draws with that default
_ALIGN = tuple(None if c.alignment == _DEFAULT_ALIGN else c.alignment for c in COLUMNS)
_ASC = Qt.SortOrder.AscendingOrder
_NO_FILTER = RosterFilter()
_ROWS_ONLY = QAbstractTableModel.LayoutChangeHint.VerticalSortHint
_LAYOUT_SIGNATURE = "QList<QPersistentModelIndex>,QAbstractItemModel::LayoutChangeHint"


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
    """The rows shown, filtered and sorted, kept in place by bisection; see module doc."""

    def __init__(self, roster: Roster, parent=None, clock=time.time) -> None:
        super().__init__(parent)
        self.roster = roster
        self.clock = clock
        # The rows shown, in ascending key order (a descending sort reads them from the end),
        # their keys as placed (sort key + TIE + agent id: unique), and agent id -> placed key.
        self._ids: list[str] = []
        self._keys: list[str] = []
        self._placed: dict[str, str] = {}
        # agent id -> the key it should stand at (None: not shown), for agents whose place
        # differs from where they stand; placed by the next placement
        self._want: dict[str, str | None] = {}
        self._held_dirty: set[str] = set()  # changed while held (keys not computed yet)
        self._held_everything = False
        self.held = False
        self._known = 0  # roster rows (arrival order) looked at so far
        self._sort_col = COL_NAME
        self._asc = True
        self._filter = _NO_FILTER
        self._pending = Change()
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.timeout.connect(self._frame)
        self._last_flush = -1e9  # time.monotonic() s of the last flush, of the last placement
        self._last_place = -1e9
        self._unfrozen_rows = 0  # rows inserted since the last GC freeze
        self.flushes = 0  # batches emitted (tests count them)
        self.placements = 0  # placements that moved, inserted or removed rows (tests count them)
        self.me: str | None = None  # the signed-in user's agent id: that row is drawn bold
        self._stale: set[str] = set()
        # Why the roster may not be current (joining, disconnected, behind), or None when live:
        # every row is drawn dimmed (see set_not_current).
        self.not_current: str | None = None
        # agent id -> ticks since its last change was shown, while < CHANGED_TICKS (see flush);
        # counted in ticks, not read from a clock, so a row looks the same between two ticks
        self.changed_at: dict[str, int] = {}
        self._unmarked: set[str] = set()  # pending updates that are not the agent's news (staleness)
        self._palette_dark: bool | None = None
        self._group_by_team = False  # keep each team's rows together: the key starts with the team
        self._brushes: dict[str, QBrush] = {}
        self.sync()

    # --- rows -----------------------------------------------------------------------------------
    def agent_at(self, row: int) -> str:
        """The agent shown in ``row`` (IndexError past the end)."""
        return self._ids[row] if self._asc else self._ids[-1 - row]

    def row_of_agent(self, agent_id: str) -> int:
        """The row showing ``agent_id``, -1 when it is not shown."""
        key = self._placed.get(agent_id)
        if key is None:
            return -1
        i = bisect_left(self._keys, key)
        return i if self._asc else len(self._keys) - 1 - i

    def visible_agent_ids(self) -> list[str]:
        """The agents shown, top to bottom."""
        return list(self._ids) if self._asc else self._ids[::-1]

    @property
    def roster_filter(self) -> RosterFilter:
        return self._filter

    def set_roster_filter(self, flt: RosterFilter) -> None:
        """Show the rows ``flt`` matches (re-evaluates every row, also while held: the user asked)."""
        if flt != self._filter:
            self._relayout(lambda: setattr(self, "_filter", flt))

    def sortColumn(self) -> int:
        return self._sort_col

    def sortOrder(self) -> Qt.SortOrder:
        return _ASC if self._asc else Qt.SortOrder.DescendingOrder

    def sort(self, column: int, order: Qt.SortOrder = _ASC) -> None:
        """The user sorts (a header click): every row's key anew, one layout change."""
        if not 0 <= column < len(COLUMNS):
            return

        def new_order() -> None:
            self._sort_col = column
            self._asc = order == _ASC

        self._relayout(new_order)

    @property
    def group_by_team(self) -> bool:
        return self._group_by_team

    @group_by_team.setter
    def group_by_team(self, on: bool) -> None:
        """Keep each team's rows together (the key starts with the team): a new order."""
        if on != self._group_by_team:
            self._relayout(lambda: setattr(self, "_group_by_team", on))

    def set_held(self, held: bool) -> None:
        """Hold the rows where they stand (hold.py); on release the rows that changed meanwhile
        are placed at once."""
        if held == self.held:
            return
        self.held = held
        if held:
            # placements still waiting for their interval wait for the release now
            self._held_dirty.update(self._want)
            self._want = {}
            return
        if self._held_everything:
            self._held_everything = False
            self._held_dirty.clear()
            self._relayout()
            return
        dirty, self._held_dirty = self._held_dirty, set()
        self._consider(dirty)
        self._place()

    def _matches(self, agent_id: str, now: float) -> bool:
        if self._filter is _NO_FILTER or (self._filter == _NO_FILTER and self.roster.teams is None):
            return True
        return self._filter.matches(self.roster, agent_id, now)

    def _want_key(self, agent_id: str, now: float) -> str | None:
        """Where the agent should stand: its placing key, None when the filter hides it."""
        if not self._matches(agent_id, now):
            return None
        return self.sort_key(agent_id, self._sort_col, now) + TIE + agent_id

    def _consider(self, agents) -> None:
        """Work out where ``agents`` should stand (placed by the next :meth:`_place`)."""
        now = self.clock()
        placed, want = self._placed, self._want
        for agent_id in agents:
            key = self._want_key(agent_id, now)
            if key != placed.get(agent_id):
                want[agent_id] = key
            else:
                want.pop(agent_id, None)

    def _place(self) -> None:
        """Move, insert and remove the rows in :attr:`_want`: one signal each, or one layout
        change for more than ``MOVES_MAX``."""
        want, self._want = self._want, {}
        if not want:
            return
        self.placements += 1
        self._last_place = time.monotonic()
        inserted = sum(1 for a, k in want.items() if k is not None and a not in self._placed)
        if len(want) > MOVES_MAX:
            self._layout(want)
        else:
            ids, keys, placed = self._ids, self._keys, self._placed
            parent = QModelIndex()
            for agent_id, key in want.items():
                old = placed.get(agent_id)
                n = len(keys)
                if old is None:
                    if key is None:
                        continue
                    j = bisect_left(keys, key)
                    row = j if self._asc else n - j
                    self.beginInsertRows(parent, row, row)
                    ids.insert(j, agent_id)
                    keys.insert(j, key)
                    placed[agent_id] = key
                    self.endInsertRows()
                    continue
                i = bisect_left(keys, old)
                src = i if self._asc else n - 1 - i
                if key is None:
                    self.beginRemoveRows(parent, src, src)
                    del ids[i], keys[i], placed[agent_id]
                    self.endRemoveRows()
                    continue
                j = bisect_left(keys, key)
                if key > old:
                    j -= 1  # its place once it has left its old one
                if j == i:
                    keys[i] = key
                    placed[agent_id] = key
                    continue
                final = j if self._asc else n - 1 - j
                self.beginMoveRows(parent, src, src, parent, final + 1 if final > src else final)
                del ids[i], keys[i]
                ids.insert(j, agent_id)
                keys.insert(j, key)
                placed[agent_id] = key
                self.endMoveRows()
        self._count_inserted(inserted)

    def _count_inserted(self, inserted: int) -> None:
        self._unfrozen_rows += inserted
        if self._unfrozen_rows >= REFREEZE_ROWS and gc.isenabled() and gc.get_freeze_count():
            # Thousands of agents joined after the app froze its start-up objects: their
            # entries are as long-lived, and in the young heap they earn full (gen-2)
            # collections in the middle of a burst. Freeze them too.
            self._unfrozen_rows = 0
            freeze_gc()

    def _layout(self, want: dict[str, str | None] | None, then: Callable[[], None] | None = None) -> None:
        """One layout change: ``want`` applied to the rows (None: every row's place anew,
        after ``then()`` changed the sort, grouping or filter), the rows sorted once, the
        persistent indexes (selection, current row) carried over."""
        # Rows only: without the hint the horizontal header keeps its section sizes and hidden
        # columns through persistent indexes of row 0, lost when that row's agent leaves
        self.layoutAboutToBeChanged[_LAYOUT_SIGNATURE].emit([], _ROWS_ONLY)
        old = self.persistentIndexList()
        held = [(self.agent_at(i.row()) if i.row() < len(self._ids) else None, i.column()) for i in old]
        if then is not None:
            then()  # only now: agent_at above read the rows in the old order
        placed = self._placed
        if want is None:
            roster, now = self.roster, self.clock()
            self._known = len(roster)
            want_key = self._want_key
            placed = {}
            for agent_id in roster.agent_ids():
                key = want_key(agent_id, now)
                if key is not None:
                    placed[agent_id] = key
            self._want = {}
            self._held_dirty.clear()
            self._count_inserted(max(0, len(placed) - len(self._placed)))
        else:
            for agent_id, key in want.items():
                if key is None:
                    placed.pop(agent_id, None)
                else:
                    placed[agent_id] = key
        pairs = sorted(zip(placed.values(), placed.keys(), strict=True))
        self._keys = [k for k, _a in pairs]
        self._ids = [a for _k, a in pairs]
        self._placed = placed
        row_of, index = self.row_of_agent, self.index
        self.changePersistentIndexList(old, [
            index(r, col) if agent_id is not None and (r := row_of(agent_id)) >= 0 else QModelIndex()
            for agent_id, col in held])
        self.layoutChanged[_LAYOUT_SIGNATURE].emit([], _ROWS_ONLY)

    def _relayout(self, then: Callable[[], None] | None = None) -> None:
        """Every row's place anew, after ``then()`` (a new sort, grouping or filter). Pending
        changes stay pending: their flush finds them placed and marks and repaints them."""
        self._layout(None, then)
        self.flushes += 1

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
        """The timer's flush: rows are placed no sooner than ``PLACE_MS`` after the previous
        placement (values update every frame)."""
        wait_ms = (self._last_place + PLACE_MS / 1000 - time.monotonic()) * 1000
        self.flush(insert=wait_ms <= 0)
        if self._want and not self._flush_timer.isActive():
            self._flush_timer.start(max(1, int(wait_ms)))

    def flush(self, insert: bool = True) -> None:
        """Emit what changed since the last flush now: rows placed (moved, inserted, removed;
        unless ``insert`` is False or the rows are held: they stay pending), then the changed
        rows' ``dataChanged`` where they stand."""
        self._flush_timer.stop()
        self._last_flush = time.monotonic()
        change, self._pending = self._pending, Change()
        roster = self.roster
        n = len(roster)
        new = [roster.agent_at(r) for r in range(self._known, n)]
        self._known = n
        if change.everything:
            quiet, self._unmarked = self._unmarked, set()
            if self.held:
                self._held_everything = True
                self._consider(new)
                self._place()
                if self._ids:
                    self.dataChanged.emit(self.index(0, 0), self.index(len(self._ids) - 1, _LAST))
            else:  # every row looked at: those whose place changed move, then every row repaints
                self._held_dirty.clear()
                self._consider(roster.agent_ids())
                self._place()
                if self._ids:
                    self.dataChanged.emit(self.index(0, 0), self.index(len(self._ids) - 1, _LAST))
            self.flushes += 1
            return
        updated = [a for a in change.updated if a in roster]
        if self.held:
            self._held_dirty.update(updated)
            self._consider(new)  # new agents go in, held or not; rows shown stay
            if insert and self._want:
                self._place()
        else:
            self._consider(new)
            self._consider(updated)
            if insert and self._want:
                self._place()
        quiet, self._unmarked = self._unmarked, set()
        if change.updated and len(change.updated) <= ROW_SIGNALS_MAX:
            # The marker for rows that just changed (a burst changing thousands of rows at once
            # marks none: a marker on every row says nothing).
            marks = self.changed_at
            for agent_id in change.updated:
                if agent_id not in quiet:
                    marks[agent_id] = 0
        row_of = self.row_of_agent
        changed = sorted(r for r in map(row_of, updated) if r >= 0)
        emit, index = self.dataChanged.emit, self.index
        if len(changed) <= ROW_SIGNALS_MAX:
            # One signal per changed row: the view repaints its whole viewport for a changed
            # range of more than ~200 cells even when none is on screen; a one-row signal
            # repaints that row, if it is on screen.
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
            if was != (reason is not None) and self._ids:
                self.dataChanged.emit(self.index(0, 0), self.index(len(self._ids) - 1, _LAST))

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
        if roster.stale_after_s is None or not len(roster):
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
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section].title
            if role == Qt.ItemDataRole.ToolTipRole:
                return COLUMNS[section].header_tip or None
        return None

    def ticking_faces(self, row: int, now: float) -> dict[int, tuple]:
        """What the row's ticking cells draw, per column of ``TICKING_COLUMNS``: ``(agent id,
        text, budget level or None, dimmed, bold)``, i.e. everything the default painting takes
        from :meth:`data` for them. A cell is repainted by the tick only when its face changes."""
        roster = self.roster
        agent_id = self.agent_at(row)
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

    def sort_key(self, agent_id: str, col: int, now: float | None = None) -> str:
        """The agent's sort key for column ``col``: a string whose order (code units) is the
        column's order (``Column.sort_key``) with ties broken by the natural name order; with
        grouping by team, the team first. Keys must not change with time alone: the rows are
        placed by them when they change (staleness, which does, is re-announced by :meth:`tick`)."""
        roster = self.roster
        ev = roster.get(agent_id).event
        name = natural_sort_key(person_name(ev, agent_id))
        if col == COL_NAME and not self._group_by_team:
            return name
        now = self.clock() if now is None else now
        key = COLUMNS[col].sort_key(roster, agent_id, ev, now) + name
        if self._group_by_team:
            return natural_sort_key(team_name(ev.team_id)) + SEP + key
        return key

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role not in _ROLES or not index.isValid():
            return None  # the delegate asks ~12 roles per cell; most have no answer here
        row = index.row()
        ids = self._ids
        if row >= len(ids):
            return None
        agent_id = ids[row] if self._asc else ids[-1 - row]
        roster = self.roster
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
