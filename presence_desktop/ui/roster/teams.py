"""Grouping by team: one chip per team with its counts ("▾ Team 1 · 7 / 10 available"); a click
folds the team's rows away (▸) or back. While grouping is on, the table keeps each team's rows
together (the model's sort key starts with the team; see RosterTableModel.group_by_team).

Counts walk the rows, so they are refreshed on the window's 1 s tick and on a change of the
filters or of the teams, not after every batch of a burst.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QToolButton, QWidget

from presence_desktop.domain.roster import Roster
from presence_desktop.ui.roster.columns import team_name


class TeamStrip(QWidget):
    """``changed()`` when a team is folded or unfolded; :attr:`folded` holds the folded ids."""

    changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._lay = QHBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(6)
        self._lay.addStretch(1)
        self.chips: dict[str, QToolButton] = {}
        self.folded: set[str] = set()

    def set_teams(self, teams: list[str]) -> None:
        for team in teams:
            if team in self.chips:
                continue
            chip = QToolButton()
            chip.setCheckable(True)
            chip.setChecked(True)  # unfolded
            chip.setAutoRaise(True)
            chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            chip.toggled.connect(lambda on, t=team: self._toggled(t, on))
            self._lay.insertWidget(self._lay.count() - 1, chip)
            self.chips[team] = chip
            chip.setText(f"▾ {team_name(team)}")

    def _toggled(self, team: str, unfolded: bool) -> None:
        if unfolded:
            self.folded.discard(team)
        else:
            self.folded.add(team)
        self.changed.emit()

    def refresh(self, roster: Roster, agent_ids_by_team: dict[str, list[str]]) -> dict[str, str]:
        """Each chip's text: fold mark, team name, available / agents (plain text). Returns the
        caption per team for the table's group rows ("Team 1 · 7/10")."""
        captions = {}
        for team, chip in self.chips.items():
            ids = agent_ids_by_team.get(team, [])
            counts = roster.counts(ids)
            mark = "▸" if team in self.folded else "▾"
            avail = counts.get("available")
            captions[team] = f"{team_name(team)} · {avail}/{counts.total}"  # narrow: the table's team column
            text = f"{mark} {team_name(team)} · {avail} / {counts.total} available"
            if chip.text() != text:
                chip.setText(text)
                chip.setToolTip(f"{team_name(team)}: {counts.total} agents; click to "
                                + ("show its rows" if team in self.folded else "fold its rows away"))
        return captions
