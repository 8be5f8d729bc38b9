"""Delegates that paint roster cells the default delegate cannot: the person (initials with a
presence badge, the name, the changed-row marker) and the status pill (colour, shape, words).

Both draw the item's panel (selection, hover, focus) through the style with no text, then their
content with the palette's text colours, so they follow the theme; status colours are the
catalogue's, lifted on a dark background by ``theme.status_color``. Shapes carry the status
without colour (painting.py). User text arrives already neutralised (columns.py) and is drawn
as plain text (QPainter.drawText never reads markup).
"""

from __future__ import annotations

import zlib
from collections import OrderedDict

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QToolTip

from presence_desktop.domain.statuses import Status
from presence_desktop.ui import theme
from presence_desktop.ui.painting import paint_status
from presence_desktop.ui.roster.model import (
    AGENT_ROLE,
    CHANGED_ROLE,
    CHANGED_TICKS,
    DIMMED_ROLE,
    STATUS_ROLE,
    TEAM_ROLE,
)

AVATAR = 22.0  # initials circle, logical px
BADGE = 10.0  # the presence badge on it
PAD = 6.0


def initials(name: str) -> str:
    """Up to two letters for an avatar: "Ada Lovelace" -> "AL", "agent-7" -> "A7", "" -> "?"."""
    # letters and digits only: a name is user text ("<b>x</b>" must not give "<")
    parts = ["".join(ch for ch in p if ch.isalnum()) for p in name.replace("-", " ").replace("_", " ").split()]
    parts = [p for p in parts if p]
    if not parts:
        return "?"
    if len(parts) == 1:
        return parts[0][:2].upper()
    return (parts[0][0] + parts[-1][0]).upper()


def avatar_color(agent_id: str, dark: bool) -> QColor:
    """A steady, muted colour per person (hashed from the id; the same in every window)."""
    hue = zlib.crc32(agent_id.encode()) % 360
    return QColor.fromHsl(hue, 70, 95 if dark else 110)


class _RowDelegate(QStyledItemDelegate):
    """The panel (selection, hover, focus) and the changed-row tint; subclasses draw content."""

    def __init__(self, parent=None, reduced_motion: bool = False) -> None:
        super().__init__(parent)
        self.reduced_motion = reduced_motion

    def _panel(self, painter: QPainter, option: QStyleOptionViewItem, index) -> QStyleOptionViewItem:
        # What initStyleOption would take from the model for a panel without text or icon: the
        # font, the text colour (the subclasses draw with them) and the background; 3 roles
        # where initStyleOption asks ~10 (a whole-table repaint asks every visible cell).
        opt = QStyleOptionViewItem(option)
        opt.index = index
        font = index.data(Qt.ItemDataRole.FontRole)
        if font is not None:
            opt.font = font.resolve(opt.font)
            opt.fontMetrics = QFontMetrics(opt.font)
        foreground = index.data(Qt.ItemDataRole.ForegroundRole)
        if foreground is not None:
            opt.palette.setBrush(QPalette.ColorRole.Text, foreground)
        background = index.data(Qt.ItemDataRole.BackgroundRole)
        if background is not None:
            opt.backgroundBrush = background
        age = index.data(CHANGED_ROLE)
        if age is not None and not opt.state & QStyle.StateFlag.State_Selected:
            tint = QColor(theme.colors(opt.palette).row_changed_bg)
            if not self.reduced_motion:  # a flash that fades out in steps, one per tick
                tint.setAlphaF(1.0 - age / CHANGED_TICKS)
            opt.backgroundBrush = tint
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        return opt

    def paint(self, painter, option: QStyleOptionViewItem, index) -> None:
        painter.save()
        try:  # an exception must not leave the view's painter with a saved state
            self._content(painter, option, index)
        finally:
            painter.restore()

    def _content(self, painter, option: QStyleOptionViewItem, index) -> None:
        self._panel(painter, option, index)

    @staticmethod
    def _text_color(opt: QStyleOptionViewItem, index) -> QColor:
        if opt.state & QStyle.StateFlag.State_Selected:
            group = QPalette.ColorGroup.Active if opt.state & QStyle.StateFlag.State_Active else QPalette.ColorGroup.Inactive
            return opt.palette.color(group, QPalette.ColorRole.HighlightedText)
        if index.data(DIMMED_ROLE):
            return QColor(theme.colors(opt.palette).dim_text)
        return opt.palette.color(QPalette.ColorRole.Text)


_AVATARS: OrderedDict[tuple, QPixmap] = OrderedDict()
AVATAR_CACHE = 512  # avatars kept (~50 on screen, a few statuses each)


def _avatar(circle: QRectF, text: str, fill: QColor, status: Status | None, dimmed: bool, dark: bool,
            base: QColor, font: QFont, dpr: float) -> tuple[QPointF, QPixmap]:
    """(where, pixmap) of an avatar: initials on ``fill`` with the status badge. Painted once per
    look and position within the pixel grid, then drawn as a pixmap: the antialiased circles,
    text and shape were about half of a whole-table repaint (bench/README.md, fourth round)."""
    ox, oy = int(circle.left()), int(circle.top())
    fx, fy = circle.left() - ox, circle.top() - oy
    key = (text, fill.rgba(), status.id if status is not None else None, dimmed, dark, base.rgba(),
           font.key(), circle.width(), fx, fy, dpr)
    pix = _AVATARS.get(key)
    if pix is not None:
        _AVATARS.move_to_end(key)
        return QPointF(ox, oy), pix
    side = circle.width()
    size = int(side + 10)  # the badge and its ring reach ~6 px past the circle
    pix = QPixmap(int(size * dpr), int(size * dpr))
    pix.setDevicePixelRatio(dpr)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    try:
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        at = QRectF(fx, fy, side, side)
        if dimmed:
            fill = QColor(fill)
            fill.setAlphaF(0.45)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(fill)
        p.drawEllipse(at)
        p.setFont(font)
        p.setPen(QColor(255, 255, 255) if not dimmed else base)
        p.drawText(at.adjusted(-1, -1, -1, -1), Qt.AlignmentFlag.AlignCenter, text)
        if status is not None:
            b = min(BADGE, side * 0.45)
            badge = QRectF(at.right() - b + 4.5, at.bottom() - b + 3.5, b, b)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(base)  # a ring of background separates badge and circle
            p.drawEllipse(badge.adjusted(-1.5, -1.5, 1.5, 1.5))
            paint_status(p, badge, status, dimmed=dimmed, dark=dark)
    finally:
        p.end()
    _AVATARS[key] = pix
    if len(_AVATARS) > AVATAR_CACHE:
        _AVATARS.popitem(last=False)
    return QPointF(ox, oy), pix


class PersonDelegate(_RowDelegate):
    """The name column: initials on a coloured circle with the status shape as a badge at its
    lower right, then the name; a changed row also gets an accent bar at its left edge (the
    marker that remains with reduced motion)."""

    def _content(self, painter, option: QStyleOptionViewItem, index) -> None:
        opt = self._panel(painter, option, index)
        status: Status | None = index.data(STATUS_ROLE)
        agent_id = index.data(AGENT_ROLE) or ""
        name = index.data(Qt.ItemDataRole.DisplayRole) or ""
        dimmed = bool(index.data(DIMMED_ROLE))
        c = theme.colors(opt.palette)
        r = QRectF(option.rect)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if index.data(CHANGED_ROLE) is not None:
            painter.fillRect(QRectF(r.left(), r.top() + 2, 3, r.height() - 4), QColor(c.focus))
        side = min(AVATAR, r.height() - 2)
        circle = QRectF(r.left() + PAD, r.center().y() - side / 2 - 1, side, side)
        font = QFont(opt.font)
        font.setPointSizeF(max(6.0, opt.font.pointSizeF() * 0.72))
        font.setBold(True)
        font.setItalic(False)
        painter.drawPixmap(*_avatar(circle, initials(name), avatar_color(agent_id, c.dark), status, dimmed, c.dark,
                                    QColor(c.base), font, painter.device().devicePixelRatioF()))
        painter.setFont(opt.font)
        painter.setPen(self._text_color(opt, index))
        text_rect = QRectF(circle.right() + PAD + 2, r.top(), r.right() - circle.right() - 2 * PAD, r.height())
        elided = QFontMetrics(opt.font).elidedText(name, Qt.TextElideMode.ElideRight, int(text_rect.width()))
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, elided)

    def sizeHint(self, option, index):
        hint = super().sizeHint(option, index)
        return QSize(hint.width() + int(AVATAR + 2 * PAD), max(hint.height(), int(AVATAR) + 4))


class PillDelegate(_RowDelegate):
    """The status column: a rounded pill tinted with the status colour holding its shape and
    label, then (muted) where it came from ("set by …", "idle", "no heartbeat")."""

    def _content(self, painter, option: QStyleOptionViewItem, index) -> None:
        opt = self._panel(painter, option, index)
        status: Status | None = index.data(STATUS_ROLE)
        if status is None:
            return
        text = index.data(Qt.ItemDataRole.DisplayRole) or status.label
        label, _sep, detail = text.partition(" · ")
        if label.startswith(status.label + " (") and label.endswith(")"):  # "Unknown (last: Break)"
            label, detail = status.label, label[len(status.label) + 2:-1]
        dimmed = bool(index.data(DIMMED_ROLE))
        c = theme.colors(opt.palette)
        color = QColor(theme.status_color(status.color, c.dark))
        metrics = QFontMetrics(opt.font)
        r = QRectF(option.rect)
        h = min(r.height() - 6, metrics.height() + 6)
        icon = h - 8
        width = min(r.width() - 2 * PAD, 8 + icon + 5 + metrics.horizontalAdvance(label) + 10)
        pill = QRectF(r.left() + PAD, r.center().y() - h / 2, max(0.0, width), h)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        bg = QColor(color)
        bg.setAlphaF(0.10 if dimmed else 0.18)
        edge = QColor(color)
        edge.setAlphaF(0.35 if dimmed else 0.7)
        painter.setPen(QPen(edge, 1.0))
        painter.setBrush(bg)
        painter.drawRoundedRect(pill, h / 2, h / 2)
        paint_status(painter, QRectF(pill.left() + 7, pill.center().y() - icon / 2, icon, icon), status,
                     dimmed=dimmed, dark=c.dark)
        painter.setPen(self._text_color(opt, index))
        text_left = pill.left() + 7 + icon + 5
        label_rect = QRectF(text_left, pill.top(), pill.right() - text_left - 6, pill.height())
        painter.drawText(label_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         metrics.elidedText(label, Qt.TextElideMode.ElideRight, int(label_rect.width())))
        if detail:
            selected = bool(opt.state & QStyle.StateFlag.State_Selected)
            painter.setPen(self._text_color(opt, index) if selected else QColor(c.muted))
            rest = QRectF(pill.right() + 6, r.top(), r.right() - pill.right() - 8, r.height())
            if rest.width() > 12:
                painter.drawText(rest, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                                 metrics.elidedText(detail, Qt.TextElideMode.ElideRight, int(rest.width())))


class TeamDelegate(_RowDelegate):
    """The team column while grouping by team (it then stands first): the team's name and
    counts on the first row of each team, nothing on the others, so the rows read as groups.
    Without grouping: the team's name on every row, as the default delegate would."""

    def __init__(self, parent=None, reduced_motion: bool = False) -> None:
        super().__init__(parent, reduced_motion)
        self.grouped = False
        self.captions: dict[str, str] = {}  # team id -> "Team 1 · 7 / 10" (set by the window)

    def paint(self, painter, option: QStyleOptionViewItem, index) -> None:
        opt = self._panel(painter, option, index)
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        r = QRectF(option.rect).adjusted(PAD, 0, -PAD, 0)
        font = QFont(opt.font)
        if self.grouped:
            team = index.data(TEAM_ROLE)
            above = index.siblingAtRow(index.row() - 1) if index.row() > 0 else None
            if above is not None and above.data(TEAM_ROLE) == team:
                return  # not the first row of its team
            text = self.captions.get(team, text)
            font.setBold(True)
        painter.save()
        try:
            if self.grouped:  # a rule over the group's first row
                painter.setPen(QColor(theme.colors(opt.palette).focus))
                painter.drawLine(option.rect.topLeft(), option.rect.topRight())
            painter.setFont(font)
            painter.setPen(self._text_color(opt, index))
            painter.drawText(r, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideRight, int(r.width())))
        finally:
            painter.restore()


class TimelineDelegate(_RowDelegate):
    """The "Today" column: the agent's day as a thin bar (ui/timeline.py). ``provider(agent_id)``
    returns ``(segments, day start, day end, history has gaps, now)`` or None; without a provider
    the cell is empty (the window hides the column then)."""

    def __init__(self, parent=None, reduced_motion: bool = False) -> None:
        super().__init__(parent, reduced_motion)
        self.provider = None
        self.catalogue = None
        self.name_of = str

    def _day(self, index):
        if self.provider is None:
            return None
        agent_id = index.data(AGENT_ROLE)
        return self.provider(agent_id) if agent_id is not None else None

    def paint(self, painter, option: QStyleOptionViewItem, index) -> None:
        self._panel(painter, option, index)
        day = self._day(index)
        if day is None or self.catalogue is None:
            return
        from presence_desktop.ui.timeline import paint_timeline

        segments, start, end, gaps, now = day
        r = QRectF(option.rect).adjusted(PAD, option.rect.height() * 0.3, -PAD, -option.rect.height() * 0.3)
        painter.save()
        try:
            paint_timeline(painter, r, segments, self.catalogue, start, end, gaps=gaps, now=now)
        finally:
            painter.restore()

    def helpEvent(self, event, view, option, index) -> bool:
        day = self._day(index)
        if day is None or self.catalogue is None:
            return super().helpEvent(event, view, option, index)
        from presence_desktop.ui.timeline import plain_tooltip, segment_tooltip

        segments, start, end, _gaps, _now = day
        width = max(1.0, option.rect.width() - 2 * PAD)
        t = start + (event.pos().x() - option.rect.left() - PAD) / width * (end - start)
        seg = next((s for s in segments if s.start <= t < s.end), None)
        if seg is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(event.globalPos(), plain_tooltip(segment_tooltip(seg, self.catalogue, self.name_of)), view)
        return True
