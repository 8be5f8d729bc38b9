"""The icons and desktop entry in resources/: generated status SVGs match the roster's painter,
the app icon renders, the .desktop entry is valid. Writes tests/artifacts/icons.png (contact sheet:
each SVG at 16/24/48/96 px on light and dark, next to the painter's own 48 px pixmap)."""

from __future__ import annotations

import configparser
import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("PySide6.QtSvg")
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ROOT = Path(__file__).resolve().parents[2]
ICONS = ROOT / "presence_desktop" / "resources" / "icons"
ARTIFACTS = ROOT / "tests" / "artifacts"


def _make_icons():
    spec = importlib.util.spec_from_file_location("make_icons", ROOT / "packaging" / "pyinstaller" / "make_icons.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _render_svg(path: Path, size: int, background: str | None = None) -> QImage:
    renderer = QSvgRenderer(str(path))
    assert renderer.isValid(), f"{path.name} does not parse"
    img = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(QColor(background) if background else Qt.GlobalColor.transparent)
    painter = QPainter(img)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return img


def _mask(img: QImage) -> set[tuple[int, int]]:
    return {(x, y) for y in range(img.height()) for x in range(img.width()) if img.pixelColor(x, y).alpha() >= 128}


def _iou(a: set, b: set) -> float:
    return len(a & b) / max(1, len(a | b))


def test_status_svgs_are_generated_from_the_painter_and_up_to_date(qapp):
    expected = _make_icons().expected_files()
    assert {p.name for p in expected} == {f"status-{s}.svg" for s in _make_icons().SHAPES}
    for path, text in expected.items():
        assert path.is_file(), f"missing {path.name}: run packaging/pyinstaller/make_icons.py"
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run packaging/pyinstaller/make_icons.py"


def test_every_shape_the_app_can_show_has_an_svg():
    from presence_desktop.domain.statuses import UNKNOWN
    from presence_desktop.resources import default_catalogue

    shapes = {s.shape for s in default_catalogue()} | {UNKNOWN.shape}
    missing = sorted(s for s in shapes if not (ICONS / f"status-{s}.svg").is_file())
    assert not missing


@pytest.mark.parametrize("shape", ["circle", "diamond", "triangle", "pause", "square", "star", "moon", "ring",
                                   "dashed_ring"])
def test_svg_renders_like_the_roster_painter(qapp, shape):
    from presence_desktop.domain.statuses import Status
    from presence_desktop.ui.painting import status_pixmap

    color = _make_icons().shape_colors().get(shape, "#616161")
    painted = status_pixmap(Status("x", "x", color, shape, False, 0), 64).toImage()
    svg = _render_svg(ICONS / f"status-{shape}.svg", 64)
    if shape == "dashed_ring":
        # Evenly spaced dashes (see make_icons), so compare with the painter's solid ring: same
        # track, about 4/7 of it inked.
        painted = status_pixmap(Status("x", "x", color, "ring", False, 0), 64).toImage()
        ring, dashes = _mask(painted), _mask(svg)
        assert len(dashes & ring) / len(dashes) >= 0.9
        assert 0.45 <= len(dashes) / len(ring) <= 0.7
        return
    iou = _iou(_mask(painted), _mask(svg))
    # The moon SVG uses true arcs where the painter's subtracted() path is flattened (see make_icons).
    assert iou >= (0.8 if shape == "moon" else 0.95), f"{shape}: overlap {iou:.3f}"
    # Same colour where both are opaque (centre of mass of the SVG's opaque pixels).
    px = [svg.pixelColor(x, y) for (x, y) in _mask(svg) & _mask(painted)]
    assert px
    target = QColor(color)
    close = sum(1 for c in px if abs(c.red() - target.red()) + abs(c.green() - target.green())
                + abs(c.blue() - target.blue()) < 60)
    assert close / len(px) > 0.5, f"{shape}: colour differs from {color}"


def test_app_icon_renders_and_is_opaque_in_the_middle(qapp):
    for size in (16, 48, 256):
        img = _render_svg(ICONS / "presence-desktop.svg", size)
        assert img.pixelColor(size // 2, size // 2).alpha() == 255
        assert img.pixelColor(0, 0).alpha() < 255  # rounded corners


def test_contact_sheet(qapp):
    """tests/artifacts/icons.png, for a human to look at."""
    from presence_desktop.domain.statuses import Status
    from presence_desktop.ui.painting import status_pixmap

    mod = _make_icons()
    colors = mod.shape_colors()
    files = [("presence-desktop", ICONS / "presence-desktop.svg")] + [
        (s, ICONS / f"status-{s}.svg") for s in mod.SHAPES]
    sizes, cell, label_w = (16, 24, 48, 96), 104, 130
    width = label_w + 2 * len(sizes) * cell + cell
    sheet = QImage(width, cell * len(files), QImage.Format.Format_ARGB32)
    sheet.fill(QColor("#ffffff"))
    painter = QPainter(sheet)
    for row, (name, path) in enumerate(files):
        y = row * cell
        painter.setPen(QColor("#000000"))
        painter.drawText(QRectF(4, y, label_w - 8, cell), Qt.AlignmentFlag.AlignVCenter, name)
        for i, background in enumerate(("#ffffff", "#263238")):
            for j, size in enumerate(sizes):
                x = label_w + (i * len(sizes) + j) * cell
                painter.fillRect(QRectF(x, y, cell, cell), QColor(background))
                img = _render_svg(path, size)
                painter.drawImage(int(x + (cell - size) / 2), int(y + (cell - size) / 2), img)
        if name != "presence-desktop":  # the painter's own pixmap, for comparison
            pm = status_pixmap(Status("x", "x", colors.get(name, "#616161"), name, False, 0), 96)
            painter.drawPixmap(int(label_w + 2 * len(sizes) * cell + 4), y + 4, pm)
    painter.end()
    ARTIFACTS.mkdir(exist_ok=True)
    assert sheet.save(str(ARTIFACTS / "icons.png"))


def test_desktop_entry():
    path = ROOT / "presence_desktop" / "resources" / "presence-desktop.desktop"
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "presence-desktop"
    assert (ICONS / f"{entry['Icon']}.svg").is_file()
    assert entry["Terminal"] == "false"
    validator = shutil.which("desktop-file-validate")
    if validator:  # desktop-file-utils; best effort (apt-get install desktop-file-utils)
        result = subprocess.run([validator, str(path)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr
