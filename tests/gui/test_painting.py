"""Status indicators: one distinct shape per status, drawn as vectors at 100 / 150 / 200 %."""

import itertools

import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter

from presence_desktop.domain.statuses import SHAPES, UNKNOWN, Status
from presence_desktop.resources import default_catalogue
from presence_desktop.ui.painting import paint_status, status_icon, status_pixmap

SIZE = 24
SCALES = (1.0, 1.5, 2.0)


def mask(img: QImage, grid: int = SIZE) -> list[bool]:
    """Coverage on a logical grid (alpha > 50 %), whatever the device pixel ratio."""
    img = img.convertToFormat(QImage.Format.Format_ARGB32)
    w, h = img.width(), img.height()
    out = []
    for gy in range(grid):
        for gx in range(grid):
            x, y = int((gx + 0.5) * w / grid), int((gy + 0.5) * h / grid)
            out.append(img.pixelColor(x, y).alpha() > 127)
    return out


def render(status: Status, dpr: float) -> QImage:
    return status_pixmap(status, SIZE, dpr).toImage()


@pytest.mark.parametrize("dpr", SCALES)
def test_every_status_draws_at_full_device_resolution(qapp, dpr):
    for st in [*default_catalogue(), UNKNOWN]:
        img = render(st, dpr)
        assert img.width() == round(SIZE * dpr) and img.height() == round(SIZE * dpr)
        assert img.devicePixelRatio() == dpr
        covered = sum(mask(img))
        assert covered > 20, f"{st.id} is (almost) empty at {dpr}x"
        # Its own colour is really there (not a grey blur of it).
        colour = QColor(st.color)
        img32 = img.convertToFormat(QImage.Format.Format_ARGB32)
        hits = sum(
            1
            for y in range(img32.height())
            for x in range(img32.width())
            if (c := img32.pixelColor(x, y)).alpha() == 255
            and abs(c.red() - colour.red()) + abs(c.green() - colour.green()) + abs(c.blue() - colour.blue()) < 40
        )
        assert hits > 0, f"{st.id} has no pixel of its colour at {dpr}x"


def test_shapes_are_vector_drawn_so_edges_stay_sharp_when_scaled(qapp):
    """At 2x the edge band (partly transparent pixels) is about as thin in device pixels as at
    1x: a bitmap scaled up would double it."""
    st = default_catalogue().get("available")
    for dpr in SCALES:
        img = render(st, dpr).convertToFormat(QImage.Format.Format_ARGB32)
        partial = sum(1 for y in range(img.height()) for x in range(img.width()) if 0 < img.pixelColor(x, y).alpha() < 255)
        opaque = sum(1 for y in range(img.height()) for x in range(img.width()) if img.pixelColor(x, y).alpha() == 255)
        # Edge pixels grow with the perimeter (~dpr), opaque ones with the area (~dpr^2).
        assert partial / opaque < 0.45 / dpr, f"blurry edge at {dpr}x: {partial} partial vs {opaque} opaque"


def test_each_status_has_a_distinct_shape_at_every_scale(qapp):
    cat = list(default_catalogue()) + [UNKNOWN]
    assert len({s.shape for s in cat}) == len(cat), "two statuses share a shape"
    for dpr in SCALES:
        masks = {s.id: mask(render(s, dpr)) for s in cat}
        for a, b in itertools.combinations(masks, 2):
            diff = sum(x != y for x, y in zip(masks[a], masks[b], strict=True))
            assert diff >= 12, f"{a} and {b} look alike without colour at {dpr}x ({diff} cells differ)"


def test_all_shapes_paint_and_pending_icon_differs(qapp, artifacts_dir):
    cat = list(default_catalogue()) + [UNKNOWN]
    # A contact sheet to look at: every status at 1x, 1.5x and 2x, then the pending variant.
    cell = 40
    sheet = QImage(cell * 4 * 2, cell * len(cat) * 2, QImage.Format.Format_ARGB32)
    sheet.setDevicePixelRatio(2.0)
    sheet.fill(Qt.GlobalColor.white)
    painter = QPainter(sheet)
    for row, st in enumerate(cat):
        for col, dpr in enumerate(SCALES):
            pm = status_pixmap(st, SIZE, dpr)
            painter.drawPixmap(col * cell + 8, row * cell + 8, pm)
        painter.drawPixmap(3 * cell + 8, row * cell + 8, status_icon(st, pending=True).pixmap(SIZE, SIZE))
    painter.end()
    sheet.save(str(artifacts_dir / "status-indicators.png"))
    for shape in SHAPES:
        img = QImage(32, 32, QImage.Format.Format_ARGB32)
        img.fill(Qt.GlobalColor.transparent)
        p = QPainter(img)
        paint_status(p, QRectF(2, 2, 28, 28), Status("x", "X", "#123456", shape, False))
        p.end()
        assert sum(mask(img, 16)) > 0, shape
    st = default_catalogue().get("break")
    plain = status_icon(st).pixmap(SIZE, SIZE).toImage()
    pending = status_icon(st, pending=True).pixmap(SIZE, SIZE).toImage()
    assert plain != pending


def test_status_icons_are_painted_on_first_use_exactly_as_before(qapp):
    # Menus and pickers make an icon for every status; only those shown are painted, and what
    # is painted is the same icon as the eager one, at any size, scale and mode.
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QMenu

    from presence_desktop.ui import painting

    painting._icon_cached.cache_clear()
    statuses = [*default_catalogue(), UNKNOWN]
    icons = [status_icon(st) for st in statuses]
    cached = lambda: [painting._icon_cached(st, False, painting.is_dark()) for st in statuses]  # noqa: E731
    menu = QMenu()
    for st, icon in zip(statuses, icons, strict=True):
        menu.addAction(icon, st.label)
    assert not any(icon.isNull() for icon in icons)
    copy = QIcon(icons[1])  # a copy shares the (still unpainted) engine
    painted = [i for i in cached() if i.availableSizes()]  # asking for sizes paints
    assert len(painted) == len(statuses)
    for st, icon in ((statuses[0], icons[0]), (statuses[1], copy)):
        eager = painting._paint_icon(st, False, painting.is_dark())
        for dpr in SCALES:
            for size in (14, 16, 18, 24, 40):
                for mode in (QIcon.Mode.Normal, QIcon.Mode.Disabled, QIcon.Mode.Selected):
                    got = icon.pixmap(QSize(size, size), dpr, mode).toImage()
                    assert got == eager.pixmap(QSize(size, size), dpr, mode).toImage(), (st.id, size, dpr, mode)
        assert icon.availableSizes() == eager.availableSizes()
        assert icon.actualSize(QSize(20, 20)) == eager.actualSize(QSize(20, 20))


def test_an_icon_nobody_shows_is_never_painted(qapp, monkeypatch):
    from presence_desktop.ui import painting

    painting._icon_cached.cache_clear()
    calls = []
    real = painting._paint_icon
    monkeypatch.setattr(painting, "_paint_icon", lambda *a: calls.append(a) or real(*a))
    statuses = list(default_catalogue())
    icons = [status_icon(st, pending=True) for st in statuses]
    assert calls == []
    icons[2].pixmap(16, 16)
    assert [c[0] for c in calls] == [statuses[2]]
    icons[2].pixmap(32, 32)
    assert len(calls) == 1  # painted once
