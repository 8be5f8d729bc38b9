"""Hold the order: while the pointer rests on the roster (people picked the wrong row when rows
moved under it), or while someone works in it with the keyboard (from a key pressed in the table
until focus leaves it or Esc), which rows show where (sort and status filter) stays still; values
keep updating in place (new agents still go in at their place), and on release the order catches up. The window
says so while it holds (``changed``). Switched off (``RosterWindow(hold_order=False)``), rows
move as they change.

How: the model keeps its rows in order itself (model.py); :meth:`RosterTableModel.set_held`
stops it placing rows. While held, a flush repaints the changed rows where they stand and
remembers them; on release only those are re-placed (one move, insert or removal each, or one
layout change for more than ``MOVES_MAX``). A change the user makes (sort column, filter,
grouping) applies at once, held or not.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, Signal


class OrderHold(QObject):
    """Holds ``table``'s order while the pointer is over its viewport ("pointer"), after a key
    pressed in it until focus leaves it or Esc ("keyboard"), and for any other reason given to
    :meth:`hold_for`. ``changed(bool)`` says when the hold starts and ends."""

    changed = Signal(bool)

    def __init__(self, table, model) -> None:
        super().__init__(table)
        self.table, self.model = table, model
        self._reasons: set[str] = set()
        self._viewport = table.viewport()
        self._viewport.installEventFilter(self)
        self._viewport.setMouseTracking(True)
        self._table = table
        table.installEventFilter(self)

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
            self.model.set_held(self.held)
            self.changed.emit(self.held)
