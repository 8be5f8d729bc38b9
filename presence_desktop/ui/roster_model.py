"""The roster table: a model over the domain roster, a filter/sort proxy and the indicator delegate.

Coalescing: :meth:`RosterTableModel.note_change` only records what changed and arms a
single-shot timer that flushes it in the next loop turn, or one frame (16 ms) after the previous
flush if that was more recent: a quiet roster shows a change at once, a burst is still one batch
per frame. A flush emits one ``dataChanged`` per changed row (a range repaints the whole view, see
:meth:`RosterTableModel.flush`) and at most one ``beginInsertRows``; rows are inserted at most
every ``INSERT_MS`` (any insert relayouts and repaints the whole view on
screen), so a log-in storm of thousands of new agents shows new rows 4 times a second while
existing rows keep updating every frame. Ticking columns (time in status, last heard) are
refreshed by :meth:`tick`, driven by one timer for the view.
"""

from __future__ import annotations

import functools
import gc
import re
import struct
import time

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRectF,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from presence_desktop.domain.roster import Change, Roster, RosterFilter
from presence_desktop.domain.statuses import UNKNOWN_ID
from presence_desktop.ui.painting import paint_status
from presence_desktop.ui.runtime import freeze_gc

COL_INDICATOR, COL_NAME, COL_TEAM, COL_STATUS, COL_TIME, COL_MESSAGE, COL_HEARD = range(7)
HEADERS = ("", "Name", "Team", "Status", "Time in status", "Message", "Last heard")

STATUS_ROLE = Qt.ItemDataRole.UserRole + 1  # the displayed Status object
AGENT_ROLE = Qt.ItemDataRole.UserRole + 2  # the agent id
SORT_ROLE = Qt.ItemDataRole.UserRole + 3  # a sortable value per column
DIMMED_ROLE = Qt.ItemDataRole.UserRole + 4  # stale or Unknown: draw faded
SORT_KEY_ROLE = Qt.ItemDataRole.UserRole + 5  # str the proxy compares natively (see sort_key)

FRAME_MS = 16
INSERT_MS = 250  # new rows, during a stream of them, at most 4 times a second (see module doc)
ROW_SIGNALS_MAX = 1000  # more changed rows than this in one flush: range signals (one full repaint)
REFREEZE_ROWS = 2000  # rows inserted since the last GC freeze that earn another (see flush)
TICKING_COLUMNS = (COL_TIME, COL_HEARD)

_ROLES = frozenset({
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.ForegroundRole,
    Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.FontRole, Qt.ItemDataRole.AccessibleTextRole,
    STATUS_ROLE, AGENT_ROLE, SORT_ROLE, DIMMED_ROLE, SORT_KEY_ROLE,
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


# --- sort keys Qt compares natively ---------------------------------------------------------------
# The proxy compares SORT_KEY_ROLE strings in C++ (QString::compare, UTF-16 code units, case
# sensitive) instead of calling a Python ``lessThan`` per comparison (a large share of a burst's
# CPU went to row inserts). Each key encodes, for its column, exactly the order the Python comparator
# gave: the column's value (natural order for names and teams), ties broken by the natural name key.
# Encodings are order-preserving and self-delimiting, and never contain a surrogate code unit, so
# UTF-16 order equals the order of the encoded code points.

_TERM = "\x00"  # ends a text part: below every encoded character (they start at U+0001)
_SEP = "\x00"  # between a team's key and the name's: below a number's length character


def _enc_text(text: str) -> str:
    """Code points -> a string whose code-unit order is ``text``'s code-point order, plus _TERM."""
    out = []
    for ch in text:
        cp = ord(ch)
        if cp < 0xD7FF:
            out.append(chr(cp + 1))
        else:  # above the surrogates in code-point order: two units from U+E000 up
            off = cp - 0xD7FF
            out.append(chr(0xE000 + (off >> 12)) + chr(0xE000 + (off & 0xFFF)))
    out.append(_TERM)
    return "".join(out)


def _enc_int(n: int) -> str:
    """Integers in numeric order: a sign mark, a length character, then the digits."""
    digits = str(abs(n))
    if n >= 0:
        return "\x03" + chr(len(digits) + 1) + digits
    # longer magnitudes first, and digits reversed, so -10 < -9 < -1
    return "\x02" + chr(0xD7FF - len(digits)) + digits.translate(_NINES)


_NINES = str.maketrans("0123456789", "9876543210")


def _enc_float(x: float) -> str:
    """IEEE-754 bits made order-preserving (sign flipped, negatives inverted): 8 fixed chars."""
    (bits,) = struct.unpack(">Q", struct.pack(">d", x + 0.0))  # + 0.0: -0.0 == 0.0 sorts as one
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)
    return "".join(chr(b + 1) for b in bits.to_bytes(8, "big"))


@functools.lru_cache(maxsize=1 << 16)
def natural_sort_key(text: str) -> str:
    """:func:`natural_key` as a string with the same order (``a < b`` exactly when
    ``natural_key(a) < natural_key(b)``; equal when those are equal): text parts compare by code
    point, digit runs by value. Cached: a name is encoded once, not per comparison."""
    parts = _DIGITS.split(text.casefold())
    # odd parts are digit runs (int() reads any Unicode decimal digit); even parts are text, also
    # when they look numeric to str.isdigit (superscripts): natural_key raised on those
    return "".join(_enc_text(p) if i % 2 == 0 else _enc_int(int(p)) for i, p in enumerate(parts))


def format_duration(seconds: float) -> str:
    """Time in status: ``42`` -> ``0:42``; ``725`` -> ``12 min``; ``3725`` -> ``1 h 02 min``.

    Seconds only in the first minute, whole minutes after: the column then changes once a
    minute instead of every second, and repainting every on-screen cell each second was most of
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

    # While :attr:`held`, a flush announces changed rows here (list of source rows) instead of
    # ``dataChanged``: the sorting proxy re-sorts and re-filters every row a ``dataChanged``
    # names, whatever its roles (Qt 6.11), and a held roster must not move (see
    # RosterWindow.hold_order, which repaints these rows and re-places them on release).
    heldRowsChanged = Signal(list)

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
        self.held = False  # see heldRowsChanged
        # source row -> the source row whose sort key it reports, or a fixed key: only while
        # RosterWindow.hold_order releases a held order (see there)
        self.key_stand_ins: dict[int, int | str] = {}
        self._stale: set[str] = set()
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
        they stay pending), then the changed rows' ``dataChanged``."""
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
                # entries are as long-lived, and in the young heap they earned a full (gen-2)
                # collection in the middle of a burst. Freeze them too.
                self._unfrozen_rows = 0
                freeze_gc()
        if not self._rows:
            return
        last = len(HEADERS) - 1
        rows = self._rows
        if self.held:
            if change.everything:
                held = list(range(rows))
            else:
                row_of, roster = self.roster.row_of, self.roster
                held = sorted(r for r in (row_of(a) for a in change.updated if a in roster) if r < rows)
            if held:
                self.heldRowsChanged.emit(held)
            self.flushes += 1
            return
        if change.everything:
            self.dataChanged.emit(self.index(0, 0), self.index(rows - 1, last))
        else:
            row_of, roster = self.roster.row_of, self.roster
            changed = sorted(r for r in (row_of(a) for a in change.updated if a in roster) if r < rows)
            emit, index = self.dataChanged.emit, self.index
            if len(changed) <= ROW_SIGNALS_MAX:
                # One signal per changed row. The sorting proxy maps a range signal to the span from
                # its first to its last row in view order, and the view repaints its whole viewport
                # for a changed range of more than ~200 cells even when none is on screen; a
                # one-row signal repaints that row, if it is on screen.
                for row in changed:
                    emit(index(row, 0), index(row, last))
            else:  # so many that one full repaint is cheaper than the signals
                for first, end in _spans(changed):
                    emit(index(first, 0), index(end, last))
        self.flushes += 1

    def announce_rows(self, rows, stand_ins: dict[int, int | str] | None = None) -> None:
        """One ``dataChanged`` per source row of ``rows`` (an iterable of ints), so the sorting
        proxy re-filters it and re-places it by binary search (O(log n) key fetches). While the
        signals go out, each row not yet announced that has an entry in ``stand_ins`` reports the
        sort key of that source row (or that fixed key string) instead of its own: a key that
        matches where it stands, so the proxy's binary searches see an ordered list (see
        RosterWindow.hold_order)."""
        last = len(HEADERS) - 1
        emit, index = self.dataChanged.emit, self.index
        self.key_stand_ins = stand_ins = dict(stand_ins or {})
        try:
            for row in rows:
                stand_ins.pop(row, None)
                emit(index(row, 0), index(row, last))
        finally:
            self.key_stand_ins = {}

    def sync(self) -> None:
        """Catch up with the roster at once (no coalescing)."""
        self._pending.everything = True
        self.flush()

    def tick(self) -> None:
        """Time-based state: rows whose staleness flipped since the last tick are re-announced
        (through the coalesced flush). The ticking text itself (time in status, last heard,
        budget colour) is repainted by the view's owner (:meth:`RosterWindow.tick`) without a
        model signal: a whole-table ``dataChanged`` every second made the sorting proxy re-sort
        every row, and the order by those columns does not change with
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

    def ticking_faces(self, row: int, now: float) -> dict[int, tuple]:
        """What the row's ticking cells draw, per column of ``TICKING_COLUMNS``: ``(agent id,
        text, budget level or None, dimmed, bold)``, i.e. everything the default painting takes
        from :meth:`data` for them (display text, background for time in status, dimmed
        foreground, the own row's bold font). The window repaints a cell only when its face
        changes, and hands ``face[1:]`` to :class:`TickingDelegate` (the 1 s tick used to
        repaint both columns on screen, ~1.4 % of a core idle)."""
        roster = self.roster
        agent_id = roster.agent_at(row)
        dimmed = roster.display_status(agent_id, now).id == UNKNOWN_ID
        bold = agent_id == self.me
        return {
            COL_TIME: (agent_id, format_duration(roster.time_in_status(agent_id, now)), roster.budget_level(agent_id, now), dimmed, bold),
            COL_HEARD: (agent_id, format_ago(roster.since_heard(agent_id, now)), None, dimmed, bold),
        }

    def sort_key(self, row: int, col: int, now: float | None = None) -> str:
        """The proxy's sort value of a cell (``SORT_KEY_ROLE``): a string whose order (QString
        code units) is the column's order with ties broken by the natural name order, i.e. what
        ``SORT_ROLE`` plus the name tie-break gave: status order, natural name, natural team then
        name, time in status (s), message (casefolded) then name, seconds since heard. A row with
        an entry in :attr:`key_stand_ins` answers for its stand-in (see :meth:`announce_rows`)."""
        stand_in = self.key_stand_ins.get(row) if self.key_stand_ins else None
        if stand_in is not None:
            if isinstance(stand_in, str):
                return stand_in
            row = stand_in
        roster = self.roster
        agent_id = roster.agent_at(row)
        ev = roster.get(agent_id).event
        name = natural_sort_key(ev.display_name or agent_id)
        if col == COL_NAME:
            return name
        if col == COL_TEAM:
            return natural_sort_key(ev.team_id) + _SEP + name
        now = self.clock() if now is None else now
        if col in (COL_INDICATOR, COL_STATUS):
            return _enc_int(roster.display_status(agent_id, now).order) + name
        if col == COL_TIME:
            return _enc_float(roster.time_in_status(agent_id, now)) + name
        if col == COL_MESSAGE:
            return _enc_text((ev.message or "").casefold()) + name
        return _enc_float(roster.since_heard(agent_id, now)) + name

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role not in _ROLES or not index.isValid() or index.row() >= self._rows:
            return None  # the delegate asks ~12 roles per cell; most have no answer here
        if role == SORT_KEY_ROLE:  # (burst) first: the proxy asks it on every comparison
            return self.sort_key(index.row(), index.column())
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
    """Filters rows with a domain :class:`RosterFilter`; sorts by :data:`SORT_KEY_ROLE`, compared
    by Qt itself (no Python ``lessThan``: see :meth:`RosterTableModel.sort_key`)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._filter = RosterFilter()
        self._all = True  # the default filter: every row passes without asking the roster
        self.setSortRole(SORT_KEY_ROLE)
        # The keys are built for plain code-unit order: no case folding, no locale collation.
        self.setSortCaseSensitivity(Qt.CaseSensitivity.CaseSensitive)
        self.setSortLocaleAware(False)
        self.setDynamicSortFilter(True)

    @property
    def roster_filter(self) -> RosterFilter:
        return self._filter

    def set_roster_filter(self, flt: RosterFilter) -> None:
        if flt != self._filter:
            if hasattr(self, "beginFilterChange"):  # Qt >= 6.9; invalidateFilter() is deprecated there
                self.beginFilterChange()
                self._set(flt)
                self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
            else:
                self._set(flt)
                self.invalidateRowsFilter()

    def _set(self, flt: RosterFilter) -> None:
        self._filter = flt
        self._all = flt == RosterFilter()

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        if self._all:
            return True
        model = self.sourceModel()
        if model is None:
            return False
        return self._filter.matches(model.roster, model.agent_at(source_row))

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


_LEVEL_BG = {"over": OVER_BG, "warn": WARN_BG}
_HAS_DISPLAY = QStyleOptionViewItem.ViewItemFeature.HasDisplay
_POSITIONAL = (QStyle.StateFlag.State_HasFocus | QStyle.StateFlag.State_MouseOver).value


class TickingDelegate(QStyledItemDelegate):
    """Paints the ticking columns (time in status, last heard) exactly as the default delegate
    does, faster for the cells the 1 s tick repaints: for those the window hands over
    :attr:`looks` (``{(proxy row, column): RosterTableModel.ticking_faces(...)[column][1:]}``),
    and the cell is a blit of a cached pixmap of the same drawing, keyed by the look and the
    view's state for the cell. Any other cell, or when ``looks`` has no entry, takes the default path.

    Why: the default path asks the model for every role through the sorting proxy, in Python,
    and lays the text out again for each cell; in a status's first minute most cells on screen
    change each second, which was most of the app's idle CPU (bench/README.md)."""

    MAX_CACHED = 256  # pixmaps of one cell each (~10 KB at 100 %); ~2 ticks' worth of cells

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.looks: dict[tuple[int, int], tuple] = {}
        self._cache: dict[tuple, QPixmap] = {}
        self._env: tuple = ()
        self.blits = 0  # cells drawn from a look (tests count them)

    def set_environment(self, env: tuple) -> None:
        """What every cached pixmap depends on besides its key (view font, style, layout
        direction, device pixel ratio); a change empties the cache."""
        if env != self._env:
            self._env = env
            self._cache.clear()

    def paint(self, painter, option: QStyleOptionViewItem, index) -> None:
        looks = self.looks
        look = looks.get((index.row(), index.column())) if looks else None
        if look is None or painter.device().devicePixelRatio() != self.device_pixel_ratio:
            super().paint(painter, option, index)
            return
        rect = option.rect
        state = option.state.value
        key = (look, rect.width(), rect.height(), state, option.features.value, option.palette.cacheKey(),
               (rect.x(), rect.y()) if self.positional(state) else None)
        pm = self._cache.get(key)
        if pm is None:
            pm = self.render_cell(key, option, index)
        painter.drawPixmap(rect, pm)  # same size (in logical pixels): a plain copy
        self.blits += 1

    @property
    def device_pixel_ratio(self) -> float:
        """The scale the cached pixmaps are drawn at (the environment's last item)."""
        return self._env[-1] if self._env else 1.0

    def positional(self, state: int) -> bool:
        """Whether a cell in ``state`` (a QStyle.StateFlag value) is cached per position: the
        focus frame and hover decorations are antialiased curves whose edge pixels differ by a
        shade with the cell's position, so those cells are not reused elsewhere."""
        return bool(state & _POSITIONAL)

    def cached(self, key: tuple) -> QPixmap | None:
        """The pixmap cached for ``key``: ``(look, width, height, option state value, option
        features value, palette cache key, (x, y) or None (see :meth:`positional`))`` of the
        option the view paints the cell with."""
        return self._cache.get(key)

    def render_cell(self, key: tuple, option: QStyleOptionViewItem, index) -> QPixmap:
        """Draw the cell for ``key`` (see :meth:`cached`) with ``option`` and cache it."""
        pm = self._render(option, index, key[0])
        if len(self._cache) >= self.MAX_CACHED:
            self._cache.clear()
        self._cache[key] = pm
        return pm

    def _render(self, option: QStyleOptionViewItem, index, look: tuple) -> QPixmap:
        """The cell as the view and the default delegate draw it: viewport background, the
        row panel (alternate colour, selection), then the item with what initStyleOption would
        have taken from the model's roles (see RosterTableModel.data)."""
        text, level, dimmed, bold = look
        opt = QStyleOptionViewItem(option)
        rect = option.rect
        w, h = rect.width(), rect.height()
        opt.index = index
        if bold:
            font = QFont()
            font.setBold(True)
            font.setItalic(False)
            opt.font = font.resolve(opt.font)
            opt.fontMetrics = QFontMetrics(opt.font)
        if dimmed:
            opt.palette.setBrush(QPalette.ColorRole.Text, QBrush(DIM_FG))
        if level in _LEVEL_BG:
            opt.backgroundBrush = QBrush(_LEVEL_BG[level])
        opt.features |= _HAS_DISPLAY
        opt.text = text
        widget = option.widget
        style = widget.style()
        dpr = self.device_pixel_ratio
        pm = QPixmap(round(w * dpr), round(h * dpr))
        pm.setDevicePixelRatio(dpr)
        p = QPainter(pm)
        p.translate(-rect.x(), -rect.y())  # drawn where the view draws it (see positional())
        viewport = widget.viewport()  # what its background fill paints under the cell
        p.fillRect(rect, viewport.palette().brush(viewport.backgroundRole()))
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewRow, opt, p, widget)
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, p, widget)
        p.end()
        return pm


__all__ = [
    "RosterTableModel",
    "RosterProxy",
    "StatusDelegate",
    "TickingDelegate",
    "QPersistentModelIndex",
    "format_duration",
    "format_ago",
]
