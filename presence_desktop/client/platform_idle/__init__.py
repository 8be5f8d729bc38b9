"""How long the person at this desk has been away from keyboard and pointer: one small back-end
per platform behind :class:`IdleSource`.

No well-kept cross-platform library does this (looked at: PyPI ``idle-time`` 0.1.0 and
``idletime`` 0.5 (unmaintained since 2019/2020, the latter shells out to ``xprintidle``),
``dbus-idle`` (one D-Bus path), ``pynput`` (watches every input event: heavier than asking the
system and needs extra permissions on macOS); Gajim's ``gajim/common/idle.py`` for the approach:
one back-end per desktop, tried in order). So each back-end asks the platform directly:

- ``x11``: the MIT-SCREEN-SAVER extension (``XScreenSaverQueryInfo``, libXss via ctypes);
  its ``state`` says whether the screen saver (or a locker using it) is on.
- ``gnome``: ``org.gnome.Mutter.IdleMonitor.GetIdletime`` (ms) on the session bus, the
  Wayland-and-X11 way on GNOME; lock from ``org.gnome.ScreenSaver.GetActive``.
- ``freedesktop``: ``org.freedesktop.ScreenSaver.GetSessionIdleTime`` and ``GetActive`` (KDE,
  Xfce and others); the spec says seconds, which is unconfirmed for every desktop.
- ``windows``: ``GetLastInputInfo`` and ``GetTickCount`` (user32/kernel32 via ctypes).
- ``macos``: the ``HIDIdleTime`` property of ``IOHIDSystem`` (ns), read with ``ioreg``.

D-Bus goes through jeepney (pure Python; already installed on Linux as the keyring's Secret
Service dependency). Every call blocks briefly: callers run :func:`detect` and
:meth:`IdleSource.sample` off the GUI thread, after :func:`candidates` has done the imports on
it (imports on worker threads while Qt's loop runs crashed the app before).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


class IdleUnavailable(RuntimeError):
    """This back-end cannot tell idle time here (no display, no such service, no library)."""


@dataclass(frozen=True, slots=True)
class IdleSample:
    """``idle_s``: seconds since the last keyboard or pointer input; ``locked``: the screen is
    locked or the screen saver is on (None = this back-end cannot tell)."""

    idle_s: float
    locked: bool | None = None


class IdleSource(Protocol):
    name: str

    def sample(self) -> IdleSample:
        """Read the platform now. Raises :class:`IdleUnavailable` or ``OSError``."""

    def close(self) -> None: ...


Candidates = list[tuple[str, Callable[[], IdleSource]]]


def candidates() -> Candidates:
    """The back-ends worth trying in this session, in order, their modules imported. Never
    raises (a broken import is reported by :func:`detect`)."""
    try:
        return _candidates()
    except Exception as exc:  # noqa: BLE001 - a broken import must not stop the app
        log.info("idle back-ends failed to load: %s", exc)
        return []


def _candidates() -> Candidates:
    if sys.platform == "win32":
        from presence_desktop.client.platform_idle.windows import WindowsIdle

        return [("windows", WindowsIdle)]
    if sys.platform == "darwin":
        from presence_desktop.client.platform_idle.macos import MacIdle

        return [("macos", MacIdle)]
    from presence_desktop.client.platform_idle import dbus, x11

    out: list[tuple[str, Callable[[], IdleSource]]] = []
    if os.environ.get("DBUS_SESSION_BUS_ADDRESS") or os.environ.get("XDG_RUNTIME_DIR"):
        out += [("gnome", dbus.GnomeIdle), ("freedesktop", dbus.FreedesktopIdle)]
    # XScreenSaver under XWayland sees only X clients' input: trusted only on a real X11 session.
    if os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        out.append(("x11", x11.X11Idle))
    return out


def detect(found: Candidates | None = None) -> tuple[IdleSource | None, list[str]]:
    """The first of ``found`` (default: :func:`candidates`) that gives one good sample here,
    and why each one before it did not. Never raises; ``(None, reasons)`` means "idle detection
    is not available here"."""
    reasons: list[str] = []
    found = candidates() if found is None else found
    if not found:
        return None, ["no idle back-end for this session (no display, no session bus)"]
    for name, factory in found:
        source = None
        try:
            source = factory()
            source.sample()
        except Exception as exc:  # noqa: BLE001 - every failure is a reason, not a crash
            reasons.append(f"{name}: {exc}")
            if source is not None:
                source.close()
            continue
        log.info("idle detection: %s", name)
        return source, reasons
    log.info("idle detection is not available here: %s", "; ".join(reasons))
    return None, reasons
