"""The palette lives in ui/theme.py; the dark theme is readable (issue 15, item 7)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from presence_desktop.domain.statuses import UNKNOWN
from presence_desktop.resources import default_catalogue
from presence_desktop.ui import theme

UI = Path(theme.__file__).parent
HEX = re.compile(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b")

PAIRS = (  # (text, background) pairs that the widgets draw together
    ("banner_text", "banner_bg"), ("banner_detail", "banner_bg"), ("info_text", "info_bg"),
    ("error_text", "error_bg"), ("confirm_text", "confirm_bg"), ("budget_warn_text", "budget_warn_bg"),
    ("budget_over_text", "budget_over_bg"), ("text", "base"), ("muted", "base"), ("ok", "base"),
    ("warn", "base"), ("error", "base"), ("text", "row_changed_bg"),
)


def test_no_colour_literals_outside_the_theme():
    """Every colour the widgets use has a name in theme.py (the roster view's too)."""
    skip = {"theme.py"}
    offenders = []
    for path in sorted(UI.rglob("*.py")):
        if path.relative_to(UI).as_posix() in skip:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if HEX.search(line.split("#", 1)[0] if line.lstrip().startswith("#") else line):
                offenders.append(f"{path.relative_to(UI)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("colours", [theme.LIGHT, theme.DARK], ids=["light", "dark"])
def test_text_on_every_bar_and_cell_is_readable(colours):
    """WCAG 2.1 AA for text: 4.5:1. The issue: white text on pale bars in a dark theme."""
    for fg, bg in PAIRS:
        ratio = theme.contrast_ratio(getattr(colours, fg), getattr(colours, bg))
        assert ratio >= 4.5, f"{'dark' if colours.dark else 'light'}: {fg} on {bg} is {ratio:.2f}:1"


def test_status_shapes_keep_3_to_1_on_the_dark_background():
    """The purple (Away) and blue (Training) shapes were lost on a dark table."""
    for st in [*default_catalogue(), UNKNOWN]:
        drawn = theme.status_color(st.color, True)
        assert theme.contrast_ratio(drawn, theme.DARK.base) >= theme.MIN_SHAPE_CONTRAST, st.id
    away = default_catalogue().get("away")
    assert theme.contrast_ratio(away.color, theme.DARK.base) < 3  # the failing input
    assert theme.status_color(away.color, False) == away.color  # light: the catalogue's own


def test_the_theme_follows_the_application_palette(qapp):
    assert theme.colors(theme.dark_palette()) is theme.DARK
    assert theme.is_dark(theme.dark_palette())
    assert set(f.name for f in dataclasses.fields(theme.LIGHT)) == set(f.name for f in dataclasses.fields(theme.DARK))
