"""The roster's filter bar: team, a multi-status filter, "Hide offline", name search.

Emits ``changed()``; :meth:`FilterBar.roster_filter` is the domain :class:`RosterFilter` it
stands for. Team names are shown as the deployment names them (columns.team_name); user text
in the team list is plain text (a combo box never reads markup).
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QMenu, QSizePolicy, QToolButton, QWidget

from presence_desktop.domain.roster import RosterFilter
from presence_desktop.domain.statuses import OFFLINE_ID, UNKNOWN, StatusCatalogue
from presence_desktop.ui.painting import status_icon
from presence_desktop.ui.roster.columns import team_name

ALL = "__all__"


class FilterBar(QWidget):
    changed = Signal()

    def __init__(self, catalogue: StatusCatalogue, parent=None) -> None:
        super().__init__(parent)
        self.catalogue = catalogue
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by name… (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.search.setMinimumWidth(140)
        lay.addWidget(self.search, 1)
        team_label = QLabel("&Team:")
        lay.addWidget(team_label)
        self.team = QComboBox()
        self.team.addItem("All teams", ALL)
        self.team.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        team_label.setBuddy(self.team)
        lay.addWidget(self.team)
        # Several statuses at once ("Break" + "Lunch"): a menu of checkable statuses.
        self.status = QToolButton()
        self.status.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.status.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.status.setIconSize(QSize(14, 14))
        self._menu = QMenu(self.status)
        self.status_actions = {}
        for st in [*catalogue, UNKNOWN]:
            act = self._menu.addAction(status_icon(st), st.label)
            act.setCheckable(True)
            act.toggled.connect(self._statuses_changed)
            self.status_actions[st.id] = act
        self._menu.addSeparator()
        clear = self._menu.addAction("All statuses")
        clear.triggered.connect(lambda: self.set_statuses(None))
        self.status.setMenu(self._menu)
        lay.addWidget(self.status)
        self.hide_offline = QCheckBox("Hide &offline")
        self.hide_offline.toggled.connect(lambda _on: self.changed.emit())
        lay.addWidget(self.hide_offline)
        self.group = QCheckBox("&Group by team")
        self.group.setToolTip("Keep each team's rows together; fold a team away from the team list")
        self.group.toggled.connect(lambda _on: self.changed.emit())
        lay.addWidget(self.group)
        self.team.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.search.textChanged.connect(lambda _t: self.changed.emit())
        self._quiet = False
        self._label_statuses()

    def set_teams(self, teams: list[str]) -> None:
        have = {self.team.itemData(i) for i in range(self.team.count())}
        for team in teams:
            if team not in have:
                self.team.addItem(team_name(team), team)

    def selected_team(self) -> str | None:
        data = self.team.currentData()
        return None if data in (None, ALL) else data

    def selected_statuses(self) -> frozenset[str] | None:
        """The checked statuses, None when none is checked (= all)."""
        ids = frozenset(sid for sid, act in self.status_actions.items() if act.isChecked())
        return ids or None

    def set_statuses(self, ids) -> None:
        """Check exactly ``ids`` (None or empty: all statuses); one ``changed()``."""
        ids = set(ids or ())
        self._quiet = True
        try:
            for sid, act in self.status_actions.items():
                act.setChecked(sid in ids)
        finally:
            self._quiet = False
        self._statuses_changed()

    def _statuses_changed(self, *_args) -> None:
        if self._quiet:
            return
        self._label_statuses()
        self.changed.emit()

    def _label_statuses(self) -> None:
        chosen = self.selected_statuses()
        if chosen is None:
            self.status.setText("All statuses ▾")
        else:
            labels = [act.text() for sid, act in self.status_actions.items() if sid in chosen]
            self.status.setText((labels[0] if len(labels) == 1 else f"{len(labels)} statuses") + " ▾")
        self.status.setToolTip("Show only these statuses" if chosen is None else ", ".join(
            act.text() for sid, act in self.status_actions.items() if sid in chosen))

    def roster_filter(self, folded=frozenset(), teams=()) -> RosterFilter:
        """The filter the bar stands for; ``folded`` teams (of ``teams``, every team known) are
        left out while grouping by team."""
        team = self.selected_team()
        statuses = self.selected_statuses()
        if self.hide_offline.isChecked():
            every = frozenset(self.status_actions) if statuses is None else statuses
            statuses = every - {OFFLINE_ID}
        chosen = frozenset({team}) if team else None
        if folded and self.group.isChecked():
            chosen = (chosen if chosen is not None else frozenset(teams)) - frozenset(folded)
        return RosterFilter(teams=chosen, statuses=statuses, text=self.search.text())
