"""Checks before Qt loads: a display to draw on, and the system libraries Qt's X11 plugin needs.
Qt aborts the process when either is missing, with a misleading hint; these say it in plain words."""

from __future__ import annotations

import os
import sys

# Libraries Qt's xcb platform plugin loads (PySide6 6.x: ldd of libQt6XcbQpa), as
# (ctypes name, Debian/Ubuntu package). Desktops often lack a few (xcb-cursor since Qt 6.5).
XCB_LIBS = (
    ("xcb-cursor", "libxcb-cursor0"), ("xcb-icccm", "libxcb-icccm4"), ("xcb-image", "libxcb-image0"),
    ("xcb-keysyms", "libxcb-keysyms1"), ("xcb-randr", "libxcb-randr0"), ("xcb-render-util", "libxcb-render-util0"),
    ("xcb-shape", "libxcb-shape0"), ("xcb-sync", "libxcb-sync1"), ("xcb-xfixes", "libxcb-xfixes0"),
    ("xcb-xkb", "libxcb-xkb1"), ("xkbcommon-x11", "libxkbcommon-x11-0"),
)


def missing_display_libraries() -> list[str]:
    """On Linux under X11, the packages whose libraries Qt's xcb plugin needs and cannot find.
    Qt aborts the process when the plugin cannot load, so say it in plain words first."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM", "xcb") != "xcb":
        return []
    if not os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return []
    import ctypes.util

    return [pkg for lib, pkg in XCB_LIBS if ctypes.util.find_library(lib) is None]


def no_display_problem() -> str | None:
    """On Linux (and other X11/Wayland systems), the plain-words reason the GUI cannot start when
    there is no display and no Qt platform chosen; None when a display (or a platform) is set.
    Checked before Qt loads: Qt would abort the process (exit 134) with a misleading xcb hint."""
    if sys.platform.startswith(("win", "darwin")) or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return "no display: set DISPLAY (or WAYLAND_DISPLAY), or QT_QPA_PLATFORM=offscreen for tests"
