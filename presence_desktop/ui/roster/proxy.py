"""The roster's filter/sort proxy: filters with a domain :class:`RosterFilter`, sorts by the
model's ``SORT_KEY_ROLE`` strings, compared by Qt itself (no Python ``lessThan``; sortkeys.py)."""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt

from presence_desktop.domain.roster import RosterFilter
from presence_desktop.ui.roster.model import AGENT_ROLE, SORT_KEY_ROLE


class RosterProxy(QSortFilterProxyModel):
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
