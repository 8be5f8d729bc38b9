"""Hold the order: while the pointer rests on the roster (people picked the wrong row when rows
moved under it), or while someone works in it with the keyboard (from a key pressed in the table
until focus leaves it or Esc), which rows show where (sort and status filter) stays still; values
keep updating in place, and on release the order catches up. The window says so while it holds
(``changed``). Switched off (``RosterWindow(hold_order=False)``), rows move as they change.

How: dynamic sorting stays on. While held, the model's flushes go to :meth:`OrderHold._held_rows`
(``RosterTableModel.row_sink``) instead of ``dataChanged`` (any ``dataChanged`` makes the proxy
re-sort and re-filter the row, whatever the roles): those rows are repainted here and remembered,
with rows inserted meanwhile (an insert's binary search may land among stale rows). On release
only those k rows are announced, one by one, each re-placed by the proxy's binary search:
O(k log n) key fetches, where turning dynamic sorting back on re-sorts all n rows every time the
pointer leaves the table. So that each search sees an ordered list, a remembered row still
waiting reports the key of the nearest row above it that is in place (or the lowest key at the
top; ``RosterTableModel.key_stand_ins``).
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, Signal

from presence_desktop.ui.roster.columns import COLUMNS
from presence_desktop.ui.roster.sortkeys import HIGHEST, LOWEST

RELEASE_ONE_BY_ONE = 256  # held rows re-placed one by one on release; more (and > n/4): one full sort
_LAST = len(COLUMNS) - 1


class OrderHold(QObject):
    """Holds ``table``'s order while the pointer is over its viewport ("pointer"), after a key
    pressed in it until focus leaves it or Esc ("keyboard"), and for any other reason given to
    :meth:`hold_for`. ``changed(bool)`` says when the hold starts and ends."""

    changed = Signal(bool)

    def __init__(self, table, model, proxy) -> None:
        super().__init__(table)
        self.table, self.model, self.proxy = table, model, proxy
        self._reasons: set[str] = set()
        self._rows: set[int] = set()  # source rows that may stand out of order
        self._viewport = table.viewport()
        self._viewport.installEventFilter(self)
        self._viewport.setMouseTracking(True)
        self._table = table
        table.installEventFilter(self)
        proxy.rowsInserted.connect(self._rows_inserted)

    @property
    def held(self) -> bool:
        return bool(self._reasons)

    @property
    def reasons(self) -> frozenset[str]:
        return frozenset(self._reasons)

    def eventFilter(self, obj, event) -> bool:
        if obj is self._viewport:
            kind = event.type()
            if kind in (QEvent.Type.Enter, QEvent.Type.Leave) and shiboken6.isValid(self.table):  # not while torn down
                self.hold_for("pointer", kind == QEvent.Type.Enter)
        elif obj is self._table:
            kind = event.type()
            if kind == QEvent.Type.KeyPress:
                key = event.key()
                if key == Qt.Key.Key_Escape:
                    self.hold_for("keyboard", False)
                elif key not in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) and shiboken6.isValid(self.table):
                    self.hold_for("keyboard", True)
            elif kind == QEvent.Type.FocusOut and shiboken6.isValid(self.table):
                self.hold_for("keyboard", False)
        return False

    def hold_for(self, reason: str, on: bool) -> None:
        """Hold (``on``) or stop holding for ``reason``; the order is held while any reason is."""
        was = self.held
        if on:
            self._reasons.add(reason)
        else:
            self._reasons.discard(reason)
        if self.held != was:
            self._set(self.held)
            self.changed.emit(self.held)

    def _set(self, hold: bool) -> None:
        model, proxy = self.model, self.proxy
        model.row_sink = self._held_rows if hold else None
        if hold:
            return
        rows, self._rows = self._rows, set()
        if not rows:
            return
        n = model.rowCount()
        if len(rows) > max(RELEASE_ONE_BY_ONE, n // 4):
            model.sync()  # most rows moved: one range signal (one full re-filter and sort) is cheaper
            return
        stand_ins: dict[int, int | str] = {}
        if proxy.sortColumn() >= 0:
            top = LOWEST if proxy.sortOrder() == Qt.SortOrder.AscendingOrder else HIGHEST
            shown = sorted((p, r) for r in rows if (p := proxy.mapFromSource(model.index(r, 0)).row()) >= 0)
            prev_p, prev = -2, top
            for p, r in shown:
                if p - 1 != prev_p:  # the row above is in place (every remembered shown row is in `shown`)
                    prev = proxy.mapToSource(proxy.index(p - 1, 0)).row() if p > 0 else top
                stand_ins[r] = prev
                prev_p = p
        self._announce(sorted(rows), stand_ins)

    def _announce(self, rows: list[int], stand_ins: dict[int, int | str]) -> None:
        """One ``dataChanged`` per source row, so the proxy re-filters it and re-places it by
        binary search. While the signals go out, each row not yet announced that has a stand-in
        reports that row's sort key (or that fixed key) instead of its own."""
        model = self.model
        emit, index = model.dataChanged.emit, model.index
        model.key_stand_ins = stand_ins
        try:
            for row in rows:
                stand_ins.pop(row, None)
                emit(index(row, 0), index(row, _LAST))
        finally:
            model.key_stand_ins = {}

    def _held_rows(self, rows: list[int]) -> None:
        """A held flush: remember the rows, repaint those on screen (``rows``: source rows)."""
        self._rows.update(rows)
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

    def _rows_inserted(self, _parent, first: int, last: int) -> None:
        if self.held:
            to_source, index = self.proxy.mapToSource, self.proxy.index
            self._rows.update(to_source(index(p, 0)).row() for p in range(first, last + 1))
