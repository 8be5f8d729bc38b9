"""Idle time from the desktop session's D-Bus services (jeepney, blocking calls with a timeout).

- GNOME (Wayland and X11): ``org.gnome.Mutter.IdleMonitor`` at
  ``/org/gnome/Mutter/IdleMonitor/Core``, ``GetIdletime() -> t`` (milliseconds); lock:
  ``org.gnome.ScreenSaver.GetActive() -> b``.
- freedesktop (KDE, Xfce, ...): ``org.freedesktop.ScreenSaver`` at ``/org/freedesktop/ScreenSaver``,
  ``GetSessionIdleTime() -> u`` and ``GetActive() -> b``. The spec gives seconds; some
  desktops are said to answer milliseconds: unconfirmed, see :data:`FREEDESKTOP_IDLE_UNIT_S`.
"""

from __future__ import annotations

import threading
from typing import Any

from presence_desktop.client.platform_idle import IdleSample, IdleUnavailable

try:  # here, not in the calls: those run on worker threads (see the package docstring)
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection
    from jeepney.wrappers import DBusErrorResponse
except ImportError as exc:  # jeepney comes with keyring on Linux
    _JEEPNEY_MISSING: str | None = str(exc)
else:
    _JEEPNEY_MISSING = None

CALL_TIMEOUT_S = 0.5
FREEDESKTOP_IDLE_UNIT_S = 1.0  # seconds per unit of GetSessionIdleTime (the spec's; unconfirmed per desktop)


class _SessionBus:
    def __init__(self) -> None:
        if _JEEPNEY_MISSING is not None:
            raise IdleUnavailable(f"jeepney is not installed ({_JEEPNEY_MISSING})")
        try:
            self._conn = open_dbus_connection(bus="SESSION")
        except Exception as exc:  # noqa: BLE001 - no session bus (headless, containers)
            raise IdleUnavailable(f"no session bus: {exc}") from None
        self._lock = threading.Lock()

    def call(self, bus_name: str, path: str, interface: str, method: str) -> Any:
        msg = new_method_call(DBusAddress(path, bus_name=bus_name, interface=interface), method)
        with self._lock:
            if self._conn is None:
                raise IdleUnavailable("closed")
            try:
                reply = self._conn.send_and_get_reply(msg, timeout=CALL_TIMEOUT_S)
            except TimeoutError:
                raise IdleUnavailable(f"{bus_name} did not answer") from None
        if reply.header.message_type.name == "error":
            raise IdleUnavailable(f"{bus_name}.{method}: {DBusErrorResponse(reply)}")
        return reply.body[0]

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class GnomeIdle:
    name = "gnome"

    def __init__(self) -> None:
        self._bus = _SessionBus()

    def sample(self) -> IdleSample:
        ms = self._bus.call("org.gnome.Mutter.IdleMonitor", "/org/gnome/Mutter/IdleMonitor/Core",
                            "org.gnome.Mutter.IdleMonitor", "GetIdletime")
        try:
            locked = bool(self._bus.call("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver",
                                         "org.gnome.ScreenSaver", "GetActive"))
        except IdleUnavailable:
            locked = None
        return IdleSample(float(ms) / 1000.0, locked)

    def close(self) -> None:
        self._bus.close()


class FreedesktopIdle:
    name = "freedesktop"

    def __init__(self) -> None:
        self._bus = _SessionBus()

    def sample(self) -> IdleSample:
        args = ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver")
        idle = self._bus.call(*args, "GetSessionIdleTime")
        try:
            locked = bool(self._bus.call(*args, "GetActive"))
        except IdleUnavailable:
            locked = None
        return IdleSample(float(idle) * FREEDESKTOP_IDLE_UNIT_S, locked)

    def close(self) -> None:
        self._bus.close()
