"""The wallboard: a full-screen view for a wall screen, one tile per watched team.

Each tile: the team's name, big counts per status (routable first), its staffing floors met or
not (in words and with a mark, not colour alone), and the agents longest in a non-routable
status. Sized from the screen (readable from 5 m at 1080p), updated every second from the same
roster as the window, no pointer or keyboard needed. When the roster is not current the whole
board says so in large type and the tiles are dimmed: a wall must never show stale numbers as live.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QFrame, QGraphicsOpacityEffect, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from presence_desktop.domain.floors import Floor
from presence_desktop.domain.roster import Roster
from presence_desktop.domain.statuses import StatusCatalogue
from presence_desktop.ui.painting import status_pixmap
from presence_desktop.ui.theme import WALL
from presence_desktop.ui.timeline import span_text

LONGEST_SHOWN = 3


def _label(parent: QWidget, name: str) -> QLabel:
    label = QLabel(parent)
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def floor_text(floor: Floor, counts: Mapping[str, int], catalogue: StatusCatalogue) -> tuple[str, bool]:
    """("Available + On call 3 / floor 4  ▼ BELOW", below?) in words, not colour alone."""
    label = floor.describe(lambda s: catalogue.display(s).label)
    have = floor.count(counts)
    below = have < floor.minimum
    return f"{label} {have} / floor {floor.minimum}  " + ("▼ BELOW" if below else "✓ met"), below


class TeamTile(QFrame):
    def __init__(self, team_id: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.team_id = team_id
        self.setObjectName("wallTile")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        box = QVBoxLayout(self)
        self.title = _label(self, "wallTeam")
        self.title.setText(title)
        box.addWidget(self.title)
        self.headline = _label(self, "wallHeadline")
        box.addWidget(self.headline)
        self.chips = QGridLayout()
        self.chips.setHorizontalSpacing(16)
        box.addLayout(self.chips)
        self.floors = _label(self, "wallFloors")
        self.floors.setWordWrap(True)
        box.addWidget(self.floors)
        self.longest = _label(self, "wallLongest")
        self.longest.setWordWrap(True)
        box.addWidget(self.longest)
        box.addStretch(1)
        self._chip_labels: dict[str, tuple[QLabel, QLabel]] = {}

    def set_scale(self, px: int) -> None:
        for widget, factor, bold in ((self.title, 1.2, True), (self.headline, 2.2, True), (self.floors, 0.9, False),
                                     (self.longest, 0.8, False)):
            f = QFont(widget.font())
            f.setPixelSize(max(10, int(px * factor)))
            f.setBold(bold)
            widget.setFont(f)
        for _, text in self._chip_labels.values():
            f = QFont(text.font())
            f.setPixelSize(max(10, int(px * 0.9)))
            text.setFont(f)

    def chip(self, status_id: str) -> tuple[QLabel, QLabel]:
        """(shape, text) labels of one status's count: the shape keeps it readable without colour."""
        chip = self._chip_labels.get(status_id)
        if chip is None:
            n = len(self._chip_labels)
            icon, text = QLabel(self), _label(self, "wallChip")
            text.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            self.chips.addWidget(icon, n // 4, (n % 4) * 2)
            self.chips.addWidget(text, n // 4, (n % 4) * 2 + 1)
            chip = self._chip_labels[status_id] = (icon, text)
        return chip


class Wallboard(QWidget):
    """``teams``: the watched team ids, in tile order; ``team_name(team_id)`` their display names;
    ``floors``: team id -> floors (updated with :meth:`set_floors`); ``server_now()`` the server's
    clock (epoch s); ``live()`` -> (is the roster current, the reason when not)."""

    def __init__(self, roster: Roster, catalogue: StatusCatalogue, teams: Sequence[str], *,
                 team_name: Callable[[str], str] = str, floors: Mapping[str, tuple[Floor, ...]] | None = None,
                 server_now: Callable[[], float] = time.time,
                 live: Callable[[], tuple[bool, str]] = lambda: (True, ""), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("wallboard")
        self.setWindowTitle("Presence wallboard")
        self.roster = roster
        self.catalogue = catalogue
        self.team_name = team_name
        self.floors: dict[str, tuple[Floor, ...]] = dict(floors or {})
        self.server_now = server_now
        self.live = live
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, QColor(WALL.background))
        pal.setColor(QPalette.ColorRole.WindowText, QColor(WALL.text))
        self.setPalette(pal)
        self.setAutoFillBackground(True)
        self.setCursor(Qt.CursorShape.BlankCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Esc reaches it (keyPressEvent)
        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        self.banner = _label(self, "wallBanner")
        top.addWidget(self.banner, 1)
        self.clock = _label(self, "wallClock")
        self.clock.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        top.addWidget(self.clock)
        outer.addLayout(top)
        self.grid = QGridLayout()
        outer.addLayout(self.grid, 1)
        self.empty = _label(self, "wallEmpty")
        self.empty.setText("No teams to show: this account watches no team.")
        outer.addWidget(self.empty)
        self.tiles: list[TeamTile] = []
        self.set_teams(teams)
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def set_teams(self, teams: Sequence[str]) -> None:
        for tile in self.tiles:
            tile.deleteLater()
        self.tiles = [TeamTile(t, self.team_name(t), self) for t in teams]
        _, columns = self._grid_shape()
        for i, tile in enumerate(self.tiles):
            self.grid.addWidget(tile, i // columns, i % columns)
        self.empty.setVisible(not self.tiles)
        self._rescale()
        self.refresh()

    def set_floors(self, floors: Mapping[str, tuple[Floor, ...]]) -> None:
        self.floors = dict(floors)
        self.refresh()

    def keyPressEvent(self, event) -> None:
        # Needs no keyboard, but whoever opened it from the window can leave it with Esc.
        if event.key() == Qt.Key.Key_Escape:
            self.close()
            return
        super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _grid_shape(self) -> tuple[int, int]:
        n = len(self.tiles)
        columns = 1 if n <= 1 else 2 if n <= 4 else 3
        return max(1, -(-n // columns)), columns

    def _rescale(self) -> None:
        # A tile holds about 13 lines of the base size (title, headline, two rows of counts,
        # floors, the longest out); the base size follows the screen, so a 1080p wall gets
        # ~30 px text and a 72 px headline.
        rows, columns = self._grid_shape()
        px = max(12, min((self.height() - 80) // (13 * rows), self.width() // (32 * columns)))
        for tile in self.tiles:
            tile.set_scale(px)
        for widget, factor in ((self.banner, 1.2), (self.clock, 1.2), (self.empty, 1.2)):
            f = QFont(widget.font())
            f.setPixelSize(int(px * factor))
            f.setBold(True)
            widget.setFont(f)
        self._px = px

    def refresh(self) -> None:
        now = self.server_now()
        live, reason = self.live()
        live = live and self.roster.connected and not self.roster.joining
        self.clock.setText(datetime.fromtimestamp(now).strftime("%H:%M"))
        if live:
            self.banner.setText("● Live")
            self.banner.setStyleSheet(f"color: {WALL.live};")
        else:
            self.banner.setText("NOT LIVE: " + (reason or "reconnecting") + " - numbers may be out of date")
            self.banner.setStyleSheet(f"color: {WALL.alert};")
        by_team = self.roster.agents_by_team()
        px = getattr(self, "_px", 16)
        for tile in self.tiles:
            self._fill(tile, by_team.get(tile.team_id, []), now, live, px)

    def _fill(self, tile: TeamTile, agents: list[str], now: float, live: bool, px: int) -> None:
        counts = self.roster.counts(agents, now)
        routable = sum(counts.get(s.id) for s in self.catalogue if s.routable)
        tile.headline.setText(f"{routable} available of {counts.total}")
        for status in sorted(self.catalogue, key=lambda s: (not s.routable, s.order)):
            icon, text = tile.chip(status.id)
            text.setText(f"{status.label} {counts.get(status.id)}")
            icon.setPixmap(status_pixmap(status, px, self.devicePixelRatioF()))
        lines, any_below = [], False
        for floor in self.floors.get(tile.team_id, ()):
            text, below = floor_text(floor, counts.by_status, self.catalogue)
            lines.append(text)
            any_below |= below
        tile.floors.setText("\n".join(lines) if lines else "No staffing floor set")
        tile.floors.setStyleSheet(f"color: {WALL.alert}; font-weight: bold;" if any_below else "")
        waiting = []
        for agent in agents:
            status = self.roster.display_status(agent, now)
            if status.routable or status.id in ("offline", "unknown"):
                continue
            waiting.append((self.roster.time_in_status(agent, now), agent, status))
        waiting.sort(reverse=True)
        rows = []
        for spent, agent, status in waiting[:LONGEST_SHOWN]:
            entry = self.roster.get(agent)
            name = entry.event.display_name if entry else agent
            over = status.budget_s is not None and spent >= status.budget_s
            rows.append(f"{'⚠ ' if over else ''}{name}: {status.label} {span_text(spent)}")
        tile.longest.setText("Longest out:\n" + "\n".join(rows) if rows else "Nobody out")
        effect = tile.graphicsEffect()
        if not live:
            if effect is None:
                effect = QGraphicsOpacityEffect(tile)
                tile.setGraphicsEffect(effect)
            effect.setOpacity(0.45)  # type: ignore[attr-defined]
        elif effect is not None:
            tile.setGraphicsEffect(None)  # type: ignore[arg-type]
