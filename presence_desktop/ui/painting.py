"""Status indicators: a colour *and* a distinct shape per status, drawn as vector paths.

Paths are built in logical coordinates and painted antialiased, so Qt rasterises them at the
device pixel ratio of the target (100 / 150 / 200 % scale) and they stay crisp. The same painter
serves the table delegate, the status picker and the tray icon.
"""

from __future__ import annotations

import math
from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QIconEngine, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

from presence_desktop.domain.statuses import Status
from presence_desktop.ui.theme import DARK, LIGHT, is_dark, status_color

ICON_SIZES = (16, 20, 24, 32, 48, 64)


def _poly(points) -> QPainterPath:
    path = QPainterPath()
    path.addPolygon(QPolygonF([QPointF(x, y) for x, y in points]))
    path.closeSubpath()
    return path


def shape_path(shape: str) -> tuple[QPainterPath, bool]:
    """The unit path (box -1..1) of ``shape`` and whether it is filled (else stroked)."""
    p = QPainterPath()
    if shape == "circle":
        p.addEllipse(QPointF(0, 0), 0.85, 0.85)
        return p, True
    if shape == "diamond":
        return _poly([(0, -1), (0.95, 0), (0, 1), (-0.95, 0)]), True
    if shape == "triangle":
        return _poly([(0, -0.95), (0.95, 0.8), (-0.95, 0.8)]), True
    if shape == "pause":
        p.addRoundedRect(QRectF(-0.8, -0.85, 0.55, 1.7), 0.12, 0.12)
        p.addRoundedRect(QRectF(0.25, -0.85, 0.55, 1.7), 0.12, 0.12)
        return p, True
    if shape == "square":
        p.addRoundedRect(QRectF(-0.78, -0.78, 1.56, 1.56), 0.15, 0.15)
        return p, True
    if shape == "star":
        pts = []
        for i in range(10):
            r = 1.0 if i % 2 == 0 else 0.42
            a = -math.pi / 2 + i * math.pi / 5
            pts.append((r * math.cos(a), r * math.sin(a) + 0.08))
        return _poly(pts), True
    if shape == "moon":
        outer = QPainterPath()
        outer.addEllipse(QPointF(0, 0), 0.85, 0.85)
        bite = QPainterPath()
        bite.addEllipse(QPointF(0.45, -0.3), 0.7, 0.7)
        return outer.subtracted(bite), True
    if shape == "hexagon":
        return _poly([(0.9 * math.cos(math.pi / 3 * i), 0.9 * math.sin(math.pi / 3 * i)) for i in range(6)]), True
    if shape == "cross":
        p.moveTo(-0.7, -0.7)
        p.lineTo(0.7, 0.7)
        p.moveTo(0.7, -0.7)
        p.lineTo(-0.7, 0.7)
        return p, False
    # ring, dashed_ring (and anything unknown): an outline circle
    p.addEllipse(QPointF(0, 0), 0.72, 0.72)
    return p, False


def paint_status(painter: QPainter, rect: QRectF, status: Status, *, dimmed: bool = False, dark: bool | None = None) -> None:
    """Paint ``status``'s shape in its colour, centred in ``rect`` (logical coordinates).
    ``dark``: the theme behind it (default: the application's); the colour keeps a 3:1 contrast
    with it (:func:`~presence_desktop.ui.theme.status_color`)."""
    side = min(rect.width(), rect.height())
    if side <= 0:
        return
    path, filled = shape_path(status.shape)
    dark = is_dark() if dark is None else dark
    color = QColor(status_color(status.color, dark))
    if dimmed:
        color.setAlphaF(0.45)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.translate(rect.center())
    scale = side / 2.0
    painter.scale(scale, scale)
    if filled:
        # A thin darker outline keeps light colours readable on light rows.
        outline = color.lighter(150) if dark else color.darker(140)
        painter.setPen(QPen(outline, 1.0 / scale, Qt.PenStyle.SolidLine))
        painter.setBrush(QBrush(color))
    else:
        width = 0.28 if status.shape != "cross" else 0.32
        pen = QPen(color, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        if status.shape == "dashed_ring":
            pen.setStyle(Qt.PenStyle.CustomDashLine)
            pen.setDashPattern([1.2, 0.9])
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(path)
    painter.restore()


def status_pixmap(status: Status, size: int, dpr: float = 1.0, dark: bool | None = None) -> QPixmap:
    """A transparent ``size`` x ``size`` (logical px) pixmap of the indicator at ``dpr``."""
    pm = QPixmap(max(1, round(size * dpr)), max(1, round(size * dpr)))
    pm.setDevicePixelRatio(dpr)
    pm.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pm)
    margin = max(1.0, size * 0.08)
    paint_status(painter, QRectF(margin, margin, size - 2 * margin, size - 2 * margin), status, dark=dark)
    painter.end()
    return pm


class _PaintedOnFirstUse(QIconEngine):
    """A status icon painted when Qt first asks for it: menus and pickers make an icon for every
    status when they are built, most of which are never shown (bench/README.md, figure 5). The
    first request paints the whole icon exactly as :func:`_paint_icon` always did (the same
    pixmaps, and Qt's own choice of size and disabled look), and every call is handed to it."""

    def __init__(self, status: Status, pending: bool, dark: bool, painted: QIcon | None = None) -> None:
        super().__init__()
        self._args = (status, pending, dark)
        self._painted = painted

    def _icon(self) -> QIcon:
        if self._painted is None:
            self._painted = _paint_icon(*self._args)
        return self._painted

    def pixmap(self, size, mode, state):  # type: ignore[no-untyped-def]  # Qt API
        return self._icon().pixmap(size, mode, state)

    def scaledPixmap(self, size, mode, state, scale):  # type: ignore[no-untyped-def]  # Qt API
        return self._icon().pixmap(size, scale, mode, state)

    def paint(self, painter, rect, mode, state):  # type: ignore[no-untyped-def]  # Qt API
        self._icon().paint(painter, rect, Qt.AlignmentFlag.AlignCenter, mode, state)

    def actualSize(self, size, mode, state):  # type: ignore[no-untyped-def]  # Qt API
        return self._icon().actualSize(size, mode, state)

    def availableSizes(self, mode=QIcon.Mode.Normal, state=QIcon.State.Off):  # type: ignore[no-untyped-def]  # Qt API
        return self._icon().availableSizes(mode, state)

    def isNull(self) -> bool:
        return False

    def key(self) -> str:
        return "presence-status"

    def clone(self) -> QIconEngine:
        return _PaintedOnFirstUse(*self._args, painted=self._painted)

    @property
    def painted(self) -> bool:
        return self._painted is not None


@lru_cache(maxsize=64)
def _icon_cached(status: Status, pending: bool, dark: bool) -> QIcon:
    return QIcon(_PaintedOnFirstUse(status, pending, dark))


def _paint_icon(status: Status, pending: bool, dark: bool) -> QIcon:
    icon = QIcon()
    c = DARK if dark else LIGHT
    for size in ICON_SIZES:
        for dpr in (1.0, 2.0):
            pm = status_pixmap(status, size, dpr, dark)
            if pending:
                painter = QPainter(pm)
                painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
                painter.setPen(QPen(QColor(c.pending_dot_outline), max(1.0, size / 16)))
                painter.setBrush(QColor(c.pending_dot_fill))
                r = size * 0.22
                painter.drawEllipse(QPointF(size - r - 0.5, size - r - 0.5), r, r)
                painter.end()
            icon.addPixmap(pm)
    return icon


def status_icon(status: Status, pending: bool = False) -> QIcon:
    """A QIcon of the indicator at the usual sizes (16-64 px, 1x and 2x); ``pending`` adds a
    small white dot (a change not yet confirmed). Painted when first shown, not when made."""
    return _icon_cached(status, pending, is_dark())


ICON_SIZE = QSize(16, 16)
