"""The app's colours in one place: named colours for a light and a dark theme.

After MusicBrainz Picard's ``picard/ui/colors.py``: widgets ask for a colour by its name
(``colors().banner_bg``), never write a hex literal; which set applies follows the palette Qt
gives the application (a dark window colour means the dark set), so a dark desktop theme gets
readable bars and cells. Status colours come from the status catalogue (a deployment may
replace it) and are drawn as they are on a light background (a darker outline keeps pale ones
visible); on a dark one :func:`status_color` lifts a colour just enough to keep a 3:1 contrast
(WCAG 2.1 "Non-text Contrast", https://www.w3.org/TR/WCAG21/#non-text-contrast).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from PySide6.QtGui import QColor, QGuiApplication, QPalette


@dataclass(frozen=True, slots=True)
class ThemeColors:
    """Named colours (``#rrggbb``). ``*_bg``/``*_border``/``*_text`` belong together: a bar
    always sets its text colour with its background, so a theme never pairs white text with a
    pale background."""

    dark: bool
    base: str  # the table's background, what status shapes must stand out from
    text: str
    muted: str  # secondary text: counters, zero counts, "Unknown" rows
    ok: str  # "✓ confirmed"
    warn: str  # pending, "not confirmed", near a limit
    error: str  # a limit reached, a sign-in error
    banner_bg: str  # connection lost
    banner_border: str
    banner_text: str
    banner_detail: str
    info_bg: str  # a note (message bar, info)
    info_border: str
    info_text: str
    error_bg: str  # a problem (message bar, error)
    error_border: str
    error_text: str
    confirm_bg: str  # the supervisor's confirm step
    confirm_border: str
    confirm_text: str
    focus: str  # a focus ring drawn by the app itself
    budget_warn_bg: str  # time in status at 80 % of its budget
    budget_warn_text: str
    budget_over_bg: str  # time in status past its budget (the whole row is tinted)
    budget_over_text: str
    row_changed_bg: str  # a row that changed a moment ago
    dim_text: str  # stale or Unknown rows
    pending_dot_fill: str  # the small dot on an icon whose change is not confirmed
    pending_dot_outline: str


LIGHT = ThemeColors(
    dark=False,
    base="#ffffff",
    text="#1f1f1f",
    muted="#6b6b6b",
    ok="#2e7d32",
    warn="#8a6d00",
    error="#b3261e",
    banner_bg="#fff3cd",
    banner_border="#e0b000",
    banner_text="#5c4400",
    banner_detail="#7a6a3a",
    info_bg="#e8f0fe",
    info_border="#90b4f0",
    info_text="#1a3b6e",
    error_bg="#fdecea",
    error_border="#e57373",
    error_text="#6b1410",
    confirm_bg="#e3f2fd",
    confirm_border="#64b5f6",
    confirm_text="#0d2f55",
    focus="#1565c0",
    budget_warn_bg="#fff3cd",
    budget_warn_text="#5c4400",
    budget_over_bg="#f8d7da",
    budget_over_text="#6b1410",
    row_changed_bg="#dbeafe",
    dim_text="#8a8a8a",
    pending_dot_fill="#ffffff",
    pending_dot_outline="#212121",
)

DARK = ThemeColors(
    dark=True,
    base="#1e1f22",
    text="#e6e6e6",
    muted="#a0a0a0",
    ok="#81c784",
    warn="#ffd54f",
    error="#ff8a80",
    banner_bg="#3d3212",
    banner_border="#a07c00",
    banner_text="#ffe8a3",
    banner_detail="#d9c27a",
    info_bg="#1c2b44",
    info_border="#4a6fa5",
    info_text="#d6e4ff",
    error_bg="#3f1d1d",
    error_border="#b34a4a",
    error_text="#ffd6d3",
    confirm_bg="#15324d",
    confirm_border="#4f8fcf",
    confirm_text="#dcecff",
    focus="#90caf9",
    budget_warn_bg="#4a3b00",
    budget_warn_text="#ffe8a3",
    budget_over_bg="#5c1f24",
    budget_over_text="#ffd6d3",
    row_changed_bg="#1f3b5c",
    dim_text="#8f8f8f",
    pending_dot_fill="#1e1f22",
    pending_dot_outline="#e6e6e6",
)


@dataclass(frozen=True, slots=True)
class WallColors:
    """The wallboard's own palette: always dark (a wall screen in a lit room), whatever the desktop."""

    background: str
    text: str
    live: str  # "● Live"
    alert: str  # NOT LIVE, a team below its floor


WALL = WallColors(background="#101418", text="#f2f4f5", live="#7bd88f", alert="#ff8a80")


def is_dark(palette: QPalette | None = None) -> bool:
    """True when ``palette`` (default: the application's) has a dark window colour."""
    if palette is None:
        palette = QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def colors(palette: QPalette | None = None) -> ThemeColors:
    """The named colours for ``palette`` (default: the application's)."""
    return DARK if is_dark(palette) else LIGHT


def _luminance(color: QColor) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def contrast_ratio(a: str | QColor, b: str | QColor) -> float:
    """WCAG 2.1 contrast ratio of two colours (1.0 .. 21.0)."""
    la, lb = _luminance(QColor(a)), _luminance(QColor(b))
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


MIN_SHAPE_CONTRAST = 3.0  # WCAG 2.1 non-text contrast


@lru_cache(maxsize=256)
def status_color(color: str, dark: bool) -> str:
    """A status's catalogue colour as drawn: unchanged on a light theme (the catalogue is made
    for it); on a dark one made lighter in small steps until it has :data:`MIN_SHAPE_CONTRAST`
    against :attr:`DARK.base <ThemeColors.base>`. The hue is kept, so it still names the status."""
    if not dark:
        return QColor(color).name()
    base = DARK.base
    c = QColor(color)
    for _ in range(40):
        if contrast_ratio(c, base) >= MIN_SHAPE_CONTRAST:
            break
        h, s, lightness, a = c.getHsl()
        lightness = min(255, lightness + 8)
        c = QColor.fromHsl(max(h, 0), s, lightness, a)
    return c.name()


def dark_palette() -> QPalette:
    """A complete dark QPalette (Fusion's roles), for desktops that do not give one and for the
    screenshots and tests of the dark theme."""
    p = QPalette()
    roles = QPalette.ColorRole
    for role, color in (
        (roles.Window, "#2b2d30"), (roles.WindowText, DARK.text), (roles.Base, DARK.base),
        (roles.AlternateBase, "#25272a"), (roles.ToolTipBase, "#3c3f41"), (roles.ToolTipText, DARK.text),
        (roles.PlaceholderText, DARK.muted), (roles.Text, DARK.text), (roles.Button, "#3c3f41"),
        (roles.ButtonText, DARK.text), (roles.BrightText, "#ffffff"), (roles.Highlight, "#2f65ca"),
        (roles.HighlightedText, "#ffffff"), (roles.Link, DARK.focus), (roles.Mid, "#45484c"),
        (roles.Dark, "#1a1b1e"), (roles.Light, "#4a4d51"), (roles.Midlight, "#3f4246"), (roles.Shadow, "#000000"),
    ):
        p.setColor(role, QColor(color))
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#777777"))
    return p
