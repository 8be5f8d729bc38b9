"""A day's statuses as a bar: one coloured segment per status interval, with the status's shape
drawn in every segment wide enough (readable without colour), hatched where the history has a gap.

``paint_timeline`` draws into any rect (the roster's "Today" column, the agent's day dialog, the
wallboard); :class:`TimelineBar` is the widget form with a tooltip per segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QHelpEvent, QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication, QSizePolicy, QToolTip, QWidget

from presence_desktop.client.timelines import Segment
from presence_desktop.domain.statuses import StatusCatalogue
from presence_desktop.ui.painting import paint_status

SOURCE_WORDS = {"manual": "set by the agent", "idle": "set when idle", "supervisor": "set by a supervisor",
                "system": "set by the system"}


def clock_text(epoch: float) -> str:
    """Local wall-clock time, hh:mm."""
    return datetime.fromtimestamp(epoch).strftime("%H:%M")


def span_text(seconds: float) -> str:
    """A duration as h:mm:ss (or m:ss under an hour)."""
    s = max(0, int(round(seconds)))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def segment_tooltip(seg: Segment, catalogue: StatusCatalogue, name_of=str) -> str:
    """Plain text: "Break 10:05-10:21 (16:02), set by the agent"; who, when a supervisor."""
    label = catalogue.display(seg.status).label
    until = "now" if seg.ongoing else clock_text(seg.end)
    who = SOURCE_WORDS.get(seg.source or "", "")
    if seg.source == "supervisor" and seg.changed_by:
        who = f"set by {name_of(seg.changed_by)}"
    return f"{label} {clock_text(seg.start)}-{until} ({span_text(seg.end - seg.start)})" + (f", {who}" if who else "")


def paint_timeline(painter: QPainter, rect: QRectF, segments: Sequence[Segment], catalogue: StatusCatalogue,
                   start: float, end: float, *, gaps: bool = False, now: float | None = None) -> None:
    """Draw ``segments`` (epoch s) scaled so ``start``..``end`` fills ``rect``."""
    span = max(1.0, end - start)
    palette = QApplication.palette()
    ink, base = palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Base)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    track = QColor(ink)
    track.setAlpha(40)  # the empty rest of the day: a faint band in the text's colour
    painter.fillRect(rect, track)
    for seg in segments:
        x0 = rect.left() + (max(seg.start, start) - start) / span * rect.width()
        x1 = rect.left() + (min(seg.end, end) - start) / span * rect.width()
        if x1 - x0 < 0.5:
            x1 = x0 + 0.5
        status = catalogue.display(seg.status)
        r = QRectF(x0, rect.top(), x1 - x0, rect.height())
        painter.fillRect(r, QColor(status.color))
        side = rect.height() * 0.7
        if r.width() >= side + 4:
            icon = QRectF(r.left() + 2, rect.center().y() - side / 2, side, side)
            backing = QColor(base)
            backing.setAlpha(200)  # the shape on the table's background colour, readable on any segment
            painter.fillRect(icon.adjusted(-1, -1, 1, 1), backing)
            paint_status(painter, icon, status)
    if gaps:
        painter.setPen(QPen(ink, 1, Qt.PenStyle.DashLine))
        painter.drawRect(rect.adjusted(0, 0, -1, -1))
    if now is not None and start <= now <= end:
        x = rect.left() + (now - start) / span * rect.width()
        painter.setPen(QPen(ink, 1))
        painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
    painter.restore()


class TimelineBar(QWidget):
    """A timeline widget; :meth:`set_segments` then it repaints. Hover shows a segment's tooltip."""

    def __init__(self, catalogue: StatusCatalogue, parent: QWidget | None = None, *, height: int = 28,
                 name_of=str, axis: bool = False) -> None:
        super().__init__(parent)
        self.axis = axis
        self.bar_height = height
        self.catalogue = catalogue
        self.name_of = name_of
        self.segments: list[Segment] = []
        self.start = self.end = 0.0
        self.gaps = False
        self.now: float | None = None
        self.setMinimumHeight(height + (self.fontMetrics().height() + 4 if axis else 0))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)

    def set_segments(self, segments: Sequence[Segment], start: float, end: float, *, gaps: bool = False,
                     now: float | None = None) -> None:
        self.segments, self.start, self.end, self.gaps, self.now = list(segments), start, end, gaps, now
        self.setAccessibleDescription("; ".join(segment_tooltip(s, self.catalogue, self.name_of) for s in self.segments))
        self.update()

    def segment_at(self, x: float) -> Segment | None:
        if self.end <= self.start or self.width() <= 0:
            return None
        t = self.start + x / self.width() * (self.end - self.start)
        return next((s for s in self.segments if s.start <= t < s.end), None)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        bar = QRectF(0, 0, self.width(), self.bar_height if self.axis else self.height())
        paint_timeline(painter, bar, self.segments, self.catalogue, self.start, self.end, gaps=self.gaps, now=self.now)
        if self.axis and self.end > self.start:
            # Hour marks at the local clock's 00/03/06…, where they fall on this day's bar.
            painter.setPen(self.palette().color(self.foregroundRole()))
            fm = self.fontMetrics()
            first = datetime.fromtimestamp(self.start).replace(minute=0, second=0, microsecond=0)
            t = first.timestamp()
            while t <= self.end:
                hour = datetime.fromtimestamp(t).hour
                if hour % 3 == 0:
                    x = (t - self.start) / (self.end - self.start) * self.width()
                    painter.drawLine(QPointF(x, bar.bottom()), QPointF(x, bar.bottom() + 3))
                    text = f"{hour:02d}:00"
                    w = fm.horizontalAdvance(text)
                    painter.drawText(QPointF(min(max(0.0, x - w / 2), self.width() - w), bar.bottom() + 3 + fm.ascent()), text)
                t += 3600
        painter.end()

    def event(self, ev) -> bool:
        if ev.type() == ev.Type.ToolTip and isinstance(ev, QHelpEvent):
            seg = self.segment_at(ev.pos().x())
            if seg is None:
                QToolTip.hideText()
            else:
                # Plain text: a leading "<" in a name must not turn the tooltip into markup.
                QToolTip.showText(ev.globalPos(), plain_tooltip(segment_tooltip(seg, self.catalogue, self.name_of)), self)
            return True
        return super().event(ev)


def plain_tooltip(text: str) -> str:
    """Qt shows a tooltip as rich text when it looks like markup; escaping keeps it text."""
    from html import escape

    return escape(text, quote=False) if Qt.mightBeRichText(text) else text
