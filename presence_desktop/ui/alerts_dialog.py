"""The supervisor's alerts in one place: every "tell me when" listed in plain words, removable, and
new team-wide ones added here (agent rules are added from a roster row's menu). Also the team's
staffing floors editor, since floors and the "below floor" alert go together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from presence_desktop.client.alerts import AlertRule
from presence_desktop.domain.floors import Floor
from presence_desktop.domain.statuses import StatusCatalogue


class AlertsDialog(QDialog):
    """``rulesChanged(list[AlertRule])`` after every add or remove."""

    rulesChanged = Signal(list)

    def __init__(self, rules: Sequence[AlertRule], teams: Sequence[str], *, name_of: Callable[[str], str] = str,
                 team_name: Callable[[str], str] = str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alertsDialog")
        self.setWindowTitle("Alerts")
        self.name_of, self.team_name = name_of, team_name
        self.rules = list(rules)
        layout = QVBoxLayout(self)
        intro = QLabel("You get a desktop notification once each time one of these happens.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.list = QListWidget(self)
        self.list.setObjectName("alertsList")
        layout.addWidget(self.list, 1)
        self.empty = QLabel("No alerts yet. Add one below, or from an agent's row menu.")
        layout.addWidget(self.empty)
        add = QHBoxLayout()
        self.kind = QComboBox(self)
        self.kind.addItem("Anyone in the team becomes available", "team_available")
        self.kind.addItem("The team drops below a staffing floor", "below_floor")
        self.kind.addItem("Anyone in the team passes a time budget", "over_budget")
        self.team = QComboBox(self)
        for t in teams:
            self.team.addItem(team_name(t), t)
        self.add_button = QPushButton("Add", self)
        self.add_button.setEnabled(bool(teams))
        self.add_button.clicked.connect(self._add)
        for w in (self.kind, self.team, self.add_button):
            add.addWidget(w)
        layout.addLayout(add)
        self.remove_button = QPushButton("Remove selected", self)
        self.remove_button.clicked.connect(self._remove)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.remove_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        self._fill()

    def _fill(self) -> None:
        self.list.clear()
        for rule in self.rules:
            item = QListWidgetItem(rule.describe(self.name_of, self.team_name) + (" (once)" if rule.once else ""))
            item.setData(Qt.ItemDataRole.UserRole, rule.id)
            self.list.addItem(item)
        self.empty.setVisible(not self.rules)
        self.remove_button.setEnabled(bool(self.rules))

    def set_rules(self, rules: Sequence[AlertRule]) -> None:
        self.rules = list(rules)
        self._fill()

    def _add(self) -> None:
        team = self.team.currentData()
        if not team:
            return
        rule = AlertRule(self.kind.currentData(), team_id=team)
        if any(r.kind == rule.kind and r.team_id == rule.team_id and r.agent_id is None for r in self.rules):
            return
        self.rules.append(rule)
        self._fill()
        self.rulesChanged.emit(list(self.rules))

    def _remove(self) -> None:
        chosen = {i.data(Qt.ItemDataRole.UserRole) for i in self.list.selectedItems()}
        if not chosen and self.list.currentItem() is not None:
            chosen = {self.list.currentItem().data(Qt.ItemDataRole.UserRole)}
        if chosen:
            self.rules = [r for r in self.rules if r.id not in chosen]
            self._fill()
            self.rulesChanged.emit(list(self.rules))


class FloorsDialog(QDialog):
    """Edit one team's floors: each a set of statuses, a minimum and an optional label.
    ``floorsSubmitted(team_id, list of floor dicts)`` on Save; the window sends them to the relay
    and shows its answer (:meth:`show_error` on a refusal)."""

    floorsSubmitted = Signal(str, list)

    def __init__(self, catalogue: StatusCatalogue, team_id: str, floors: Sequence[Floor], *,
                 team_name: Callable[[str], str] = str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("floorsDialog")
        self.setWindowTitle(f"Staffing floors: {team_name(team_id)}")
        self.catalogue, self.team_id = catalogue, team_id
        layout = QVBoxLayout(self)
        intro = QLabel("The counts bar and the wallboard turn red, with ▼, when fewer agents than a floor's "
                       "minimum are in its statuses. Every supervisor of the team sees the same floors.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.rows_box = QVBoxLayout()
        layout.addLayout(self.rows_box)
        self.rows: list[tuple[QWidget, list[tuple[str, QPushButton]], QSpinBox, QLineEdit]] = []
        for floor in floors:
            self._add_row(floor)
        more = QPushButton("Add a floor", self)
        more.clicked.connect(lambda: self._add_row(None))
        layout.addWidget(more)
        self.error = QLabel(self)
        self.error.setObjectName("floorsError")
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._submit)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _add_row(self, floor: Floor | None) -> None:
        row = QWidget(self)
        form = QFormLayout(row)
        toggles: list[tuple[str, QPushButton]] = []
        line = QHBoxLayout()
        for status in self.catalogue:
            b = QPushButton(status.label, row)
            b.setCheckable(True)
            b.setChecked(floor is not None and status.id in floor.statuses)
            line.addWidget(b)
            toggles.append((status.id, b))
        form.addRow("Statuses", line)
        minimum = QSpinBox(row)
        minimum.setRange(0, 10_000)
        minimum.setValue(floor.minimum if floor else 1)
        form.addRow("At least", minimum)
        label = QLineEdit(row)
        label.setMaxLength(40)
        label.setPlaceholderText("e.g. Routable")
        label.setText(floor.label or "" if floor else "")
        form.addRow("Label", label)
        remove = QPushButton("Remove this floor", row)
        form.addRow(remove)
        entry = (row, toggles, minimum, label)
        remove.clicked.connect(lambda: self._remove_row(entry))
        self.rows.append(entry)
        self.rows_box.addWidget(row)

    def _remove_row(self, entry) -> None:
        self.rows.remove(entry)
        entry[0].deleteLater()

    def floors(self) -> list[dict]:
        out = []
        for _, toggles, minimum, label in self.rows:
            statuses = [sid for sid, b in toggles if b.isChecked()]
            out.append({"statuses": statuses, "minimum": minimum.value(), "label": label.text().strip() or None})
        return out

    def _submit(self) -> None:
        floors = self.floors()
        if any(not f["statuses"] for f in floors):
            self.show_error("Pick at least one status for every floor.")
            return
        self.floorsSubmitted.emit(self.team_id, floors)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
