"""Write the status-shape SVGs in ``resources/icons/`` from the app's own painter geometry.

    .venv/bin/python packaging/pyinstaller/make_icons.py [--check]

Each ``status-<shape>.svg`` is :func:`presence_desktop.ui.painting.shape_path` converted to SVG
path data, in the colour of the catalogue status that uses the shape (``dashed_ring``: Unknown),
with the same stroke rules as :func:`~presence_desktop.ui.painting.paint_status` and the same 8 %
margin as :func:`~presence_desktop.ui.painting.status_pixmap`, so the files render like the roster.
``--check`` exits 1 if a file on disk differs from what would be written.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ICONS = ROOT / "presence_desktop" / "resources" / "icons"
# status_pixmap: margin 8 % of the side, shape box -1..1 scaled to 84 % -> visible box +-1/0.84.
HALF = 1.0 / 0.84
SHAPES = ("circle", "diamond", "triangle", "pause", "square", "star", "moon", "ring", "dashed_ring")


def _num(v: float) -> str:
    s = f"{v:.4f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def path_data(path) -> str:
    """SVG ``d`` of a QPainterPath (move/line/cubic elements)."""
    from PySide6.QtGui import QPainterPath

    out, i, n = [], 0, path.elementCount()
    while i < n:
        e = path.elementAt(i)
        if e.type == QPainterPath.ElementType.MoveToElement:
            if out:
                out.append("Z")
            out.append(f"M{_num(e.x)} {_num(e.y)}")
            i += 1
        elif e.type == QPainterPath.ElementType.LineToElement:
            out.append(f"L{_num(e.x)} {_num(e.y)}")
            i += 1
        else:  # CurveToElement followed by two CurveToDataElements
            c2, end = path.elementAt(i + 1), path.elementAt(i + 2)
            out.append(f"C{_num(e.x)} {_num(e.y)} {_num(c2.x)} {_num(c2.y)} {_num(end.x)} {_num(end.y)}")
            i += 3
    return " ".join(out)


def _closes(path) -> bool:
    first, last = path.elementAt(0), path.elementAt(path.elementCount() - 1)
    return abs(first.x - last.x) < 1e-9 and abs(first.y - last.y) < 1e-9


def moon_path_data() -> str:
    """The crescent of painting.shape_path("moon") (circle r 0.85 at 0,0 minus r 0.7 at 0.45,-0.3)
    as true arcs: QPainterPath.subtracted() flattens the curves of a path this small (unit box) to
    a few straight segments, which would show as corners in a scalable icon."""
    (x2, y2), r1, r2 = (0.45, -0.3), 0.85, 0.7
    d = math.hypot(x2, y2)
    a = (r1 * r1 - r2 * r2 + d * d) / (2 * d)
    h = math.sqrt(r1 * r1 - a * a)
    ux, uy = x2 / d, y2 / d
    p1 = (a * ux - h * uy, a * uy + h * ux)  # lower right
    p2 = (a * ux + h * uy, a * uy - h * ux)  # top
    return (f"M{_num(p1[0])} {_num(p1[1])} A{_num(r1)} {_num(r1)} 0 1 1 {_num(p2[0])} {_num(p2[1])} "
            f"A{_num(r2)} {_num(r2)} 0 0 0 {_num(p1[0])} {_num(p1[1])}")


def status_svg(shape: str, color: str) -> str:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor

    from presence_desktop.ui.painting import shape_path

    path, filled = shape_path(shape)
    rule = "evenodd" if path.fillRule() == Qt.FillRule.OddEvenFill else "nonzero"
    d = moon_path_data() if shape == "moon" else path_data(path)
    d += " Z" if filled or _closes(path) else ""
    view = f'{_num(-HALF)} {_num(-HALF)} {_num(2 * HALF)} {_num(2 * HALF)}'
    if filled:
        outline = QColor(color).darker(140).name()
        # paint_status: a 1 device-pixel darker outline, whatever the size.
        style = (f'fill="{color}" fill-rule="{rule}" stroke="{outline}" stroke-width="1" '
                 'vector-effect="non-scaling-stroke"')
    else:
        style = f'fill="none" stroke="{color}" stroke-width="0.28" stroke-linecap="round"'
        if shape == "dashed_ring":
            # The painter's [1.2, 0.9] pen widths (0.336 on, 0.252 off) leave a short dash where the
            # ring closes (7.7 periods); the same 4:3 dash:gap ratio with exactly 8 periods does not.
            period = 2 * math.pi * 0.72 / 8
            style = (f'fill="none" stroke="{color}" stroke-width="0.28" stroke-linecap="butt" '
                     f'stroke-dasharray="{_num(period * 4 / 7)} {_num(period * 3 / 7)}"')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny" '
            f'width="64" height="64" viewBox="{view}">\n'
            f'  <title>status shape: {shape}</title>\n'
            f'  <path {style} d="{d}"/>\n'
            '</svg>\n')


def shape_colors() -> dict[str, str]:
    """Shape -> colour of the first catalogue status using it; ``dashed_ring`` -> Unknown's."""
    from presence_desktop.domain.statuses import UNKNOWN
    from presence_desktop.resources import default_catalogue

    colors: dict[str, str] = {}
    for status in sorted(default_catalogue(), key=lambda s: s.order):
        colors.setdefault(status.shape, status.color)
    colors.setdefault(UNKNOWN.shape, UNKNOWN.color)
    return colors


def expected_files() -> dict[Path, str]:
    colors = shape_colors()
    return {ICONS / f"status-{shape}.svg": status_svg(shape, colors.get(shape, "#616161")) for shape in SHAPES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is missing or stale")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    stale = []
    for path, text in expected_files().items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    for path in stale:
        print(("stale: " if args.check else "wrote: ") + str(path.relative_to(ROOT)))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
