"""One agent's day: the timeline large, time per status, breaks against their budgets, and every
change with who made it. Opened from a roster row ("Today…"). Every name and message is plain text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from presence_desktop.client.timelines import DayTimelines, Segment
from presence_desktop.domain.presence import PresenceEvent, parse_time
from presence_desktop.domain.statuses import StatusCatalogue
from presence_desktop.ui.timeline import SOURCE_WORDS, TimelineBar, clock_text, span_text


def _plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    label = QLabel(text, parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class AgentDayDialog(QDialog):
    """Not modal: a supervisor keeps it open beside the roster. ``exportRequested(agent_id)``
    asks the window to export this agent's day as CSV."""

    exportRequested = Signal(str)

    def __init__(self, catalogue: StatusCatalogue, parent: QWidget | None = None,
                 name_of: Callable[[str], str] = str) -> None:
        super().__init__(parent)
        self.setObjectName("agentDayDialog")
        self.setModal(False)
        self.catalogue = catalogue
        self.name_of = name_of
        self.agent_id: str | None = None
        self.resize(720, 560)
        layout = QVBoxLayout(self)
        self.title = _plain_label()
        self.title.setObjectName("agentDayTitle")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        layout.addWidget(self.title)
        self.state = _plain_label("Loading today's history…")
        self.state.setObjectName("agentDayState")
        self.state.setWordWrap(True)
        layout.addWidget(self.state)
        self.bar = TimelineBar(catalogue, self, height=40, name_of=name_of, axis=True)
        layout.addWidget(self.bar)
        row = QHBoxLayout()
        self.totals_box = QGroupBox("Time per status today")
        self.totals = QGridLayout(self.totals_box)
        row.addWidget(self.totals_box)
        self.breaks_box = QGroupBox("Time-budgeted statuses")
        self.breaks = QVBoxLayout(self.breaks_box)
        row.addWidget(self.breaks_box, 1)
        layout.addLayout(row)
        self.table = QTableWidget(0, 5, self)
        self.table.setObjectName("agentDayChanges")
        self.table.setHorizontalHeaderLabels(["Time", "Status", "Message", "How", "Who"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = buttons.addButton("Export CSV…", QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.clicked.connect(lambda: self.agent_id and self.exportRequested.emit(self.agent_id))
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)

    def show_loading(self, agent_id: str, display_name: str) -> None:
        self.agent_id = agent_id
        self.title.setText(f"{display_name}: today")
        self.setWindowTitle(f"{display_name}: today")
        self.state.setText("Loading today's history…")
        self.state.show()

    def show_error(self, text: str) -> None:
        self.state.setText(f"The history could not be loaded: {text}")
        self.state.show()

    def show_day(self, timelines: DayTimelines, agent_id: str, current: PresenceEvent | None, now: float) -> None:
        """Fill everything from ``timelines`` (history + live changes) at ``now`` (server time)."""
        self.agent_id = agent_id
        segments = timelines.segments(agent_id, now, current)
        gaps = timelines.gaps(agent_id)
        self.bar.set_segments(segments, timelines.start, timelines.end, gaps=bool(gaps), now=now)
        if gaps:
            self.state.setText("Part of today's history is missing (the relay could not record every change); "
                               "the bar may be incomplete.")
            self.state.show()
        elif not segments:
            self.state.setText("No status today.")
            self.state.show()
        else:
            self.state.hide()
        self._fill_totals(timelines.time_per_status(agent_id, now, current))
        self._fill_breaks(segments)
        self._fill_changes(timelines.entries(agent_id))

    def _clear(self, layout) -> None:
        while layout.count():
            item = layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def _fill_totals(self, totals: dict[str, float]) -> None:
        self._clear(self.totals)
        order = sorted(totals, key=lambda s: self.catalogue.display(s).order)
        for i, sid in enumerate(order):
            self.totals.addWidget(_plain_label(self.catalogue.display(sid).label), i, 0)
            value = _plain_label(span_text(totals[sid]))
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.totals.addWidget(value, i, 1)

    def _fill_breaks(self, segments: list[Segment]) -> None:
        self._clear(self.breaks)
        shown = 0
        for seg in segments:
            status = self.catalogue.display(seg.status)
            if status.budget_s is None:
                continue
            spent = seg.end - seg.start
            text = f"{status.label} {clock_text(seg.start)}-{'now' if seg.ongoing else clock_text(seg.end)}: " \
                   f"{span_text(spent)} of {span_text(status.budget_s)}"
            label = _plain_label(("⚠ " + text + f" (over by {span_text(spent - status.budget_s)})")
                                 if spent > status.budget_s else text)
            label.setObjectName("overBudget" if spent > status.budget_s else "withinBudget")
            self.breaks.addWidget(label)
            shown += 1
        if not shown:
            self.breaks.addWidget(_plain_label("None today."))
        self.breaks.addStretch(1)

    def _fill_changes(self, entries: list[dict]) -> None:
        self.table.setRowCount(len(entries))
        for row, e in enumerate(entries):
            try:
                when = datetime.fromtimestamp(parse_time(e["changed_at"]).timestamp()).strftime("%H:%M:%S")
            except Exception:  # noqa: BLE001 - a bad entry still gets a row
                when = "?"
            source = e.get("source") or ""
            who = self.name_of(e["changed_by"]) if e.get("changed_by") else ""
            cells = [when, self.catalogue.display(e.get("status")).label, e.get("message") or "",
                     SOURCE_WORDS.get(source, source), who]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(str(text))  # plain text, never markup
                item.setToolTip(str(text)) if col == 2 else None
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        if entries:
            self.table.scrollToBottom()
