"""The person column draws each avatar (initials, circle, status badge) from a pixmap painted
once per look: within two colour levels (of 255) of painting it directly, reused, and bounded."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter

from presence_desktop.resources import default_catalogue
from presence_desktop.ui.painting import paint_status
from presence_desktop.ui.roster import delegates
from presence_desktop.ui.roster.delegates import BADGE, _avatar


def _direct(painter, circle, text, fill, status, dimmed, dark, base, font):
    """The drawing the cache replaced (delegates.py before it), as the reference."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    if dimmed:
        fill = QColor(fill)
        fill.setAlphaF(0.45)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(fill)
    painter.drawEllipse(circle)
    painter.setFont(font)
    painter.setPen(QColor(255, 255, 255) if not dimmed else base)
    painter.drawText(circle.adjusted(-1, -1, -1, -1), Qt.AlignmentFlag.AlignCenter, text)
    b = min(BADGE, circle.width() * 0.45)
    badge = QRectF(circle.right() - b + 4.5, circle.bottom() - b + 3.5, b, b)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(base)
    painter.drawEllipse(badge.adjusted(-1.5, -1.5, 1.5, 1.5))
    paint_status(painter, badge, status, dimmed=dimmed, dark=dark)


def _image(draw) -> QImage:
    img = QImage(60, 60, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(QColor("#dbe8fb"))  # a tinted row: the badge's ring must not show through
    p = QPainter(img)
    draw(p)
    p.end()
    return img


def test_cached_avatars_look_like_direct_drawing_and_are_reused(qapp):
    font = QFont()
    font.setPointSizeF(7.0)
    font.setBold(True)
    base = QColor("#ffffff")
    for status in list(default_catalogue())[:4]:
        for dimmed in (False, True):
            for circle in (QRectF(6, 10, 22, 22), QRectF(6.5, 10.5, 22, 22), QRectF(12, 3.25, 20, 20)):
                args = (circle, "AL", QColor("#7a4f9a"), status, dimmed, False, base, font)
                cached = _image(lambda p, a=args: p.drawPixmap(*_avatar(*a, 1.0)))
                direct = _image(lambda p, a=args: _direct(p, *a))
                worst = max(max(abs(x - y) for x, y in zip(QColor(cached.pixel(i, j)).getRgb(), QColor(direct.pixel(i, j)).getRgb(), strict=True))
                            for i in range(60) for j in range(60))
                assert worst <= 2, (status.id, dimmed, circle)  # an edge composited once more rounds once more
    args = (QRectF(6, 10, 22, 22), "ZZ", QColor("#7a4f9a"), None, False, False, base, font, 2.0)
    first = _avatar(*args)[1]
    assert _avatar(*args)[1] is first  # painted once
    assert first.devicePixelRatio() == 2.0 and first.width() >= 2 * 22


def test_the_avatar_cache_is_bounded(qapp, monkeypatch):
    monkeypatch.setattr(delegates, "AVATAR_CACHE", 8)
    delegates._AVATARS.clear()
    for i in range(50):
        _avatar(QRectF(6, 10, 22, 22), f"A{i}", QColor("#336699"), None, False, False, QColor("#ffffff"), QFont(), 1.0)
    assert len(delegates._AVATARS) == 8
