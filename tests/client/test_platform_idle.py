"""Idle back-ends: the D-Bus ones against services on a private session bus (jeepney), the
others' parsing and failure paths, and detect()'s "not available here"."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading

import pytest

from presence_desktop.client import platform_idle
from presence_desktop.client.platform_idle import IdleSample, IdleUnavailable, detect
from presence_desktop.client.platform_idle.macos import parse_ioreg


@pytest.fixture
def session_bus(tmp_path, monkeypatch):
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed")
    proc = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address",
                             f"--address=unix:path={tmp_path}/bus"], stdout=subprocess.PIPE, text=True)
    address = proc.stdout.readline().strip()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    yield address
    proc.terminate()
    proc.wait(5)


class FakeDesktop:
    """Serves the desktop's idle methods on the session bus from a thread."""

    def __init__(self, names: dict[str, dict[str, tuple[str, object]]]):
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection

        self.conn = open_dbus_connection(bus="SESSION")
        for name in names:
            self.conn.send_and_get_reply(message_bus.RequestName(name))
        self.methods = {m: v for spec in names.values() for m, v in spec.items()}
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        from jeepney import new_error, new_method_return

        while not self.stop:
            try:
                msg = self.conn.receive(timeout=0.1)
            except TimeoutError:
                continue
            except Exception:  # noqa: BLE001 - closed at teardown
                return
            member = msg.header.fields.get(3)  # HeaderFields.member
            if member in self.methods:
                sig, value = self.methods[member]
                if isinstance(value, Exception):
                    self.conn.send(new_error(msg, "org.example.Failed", "s", (str(value),)))
                else:
                    self.conn.send(new_method_return(msg, sig, (value,)))

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.conn.close()


def test_gnome_back_end_reads_mutter_idle_time_and_lock(session_bus):
    from presence_desktop.client.platform_idle.dbus import GnomeIdle

    desk = FakeDesktop({"org.gnome.Mutter.IdleMonitor": {"GetIdletime": ("t", 754_000)},
                        "org.gnome.ScreenSaver": {"GetActive": ("b", True)}})
    try:
        source = GnomeIdle()
        assert source.sample() == IdleSample(754.0, True)
        source.close()
    finally:
        desk.close()


def test_freedesktop_back_end_and_a_missing_lock_answer(session_bus):
    from presence_desktop.client.platform_idle.dbus import FreedesktopIdle

    desk = FakeDesktop({"org.freedesktop.ScreenSaver": {"GetSessionIdleTime": ("u", 42),
                                                        "GetActive": ("b", RuntimeError("no"))}})
    try:
        source = FreedesktopIdle()
        assert source.sample() == IdleSample(42.0, None)
        source.close()
    finally:
        desk.close()


def test_detect_skips_a_desktop_without_the_service_and_says_why(session_bus, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    desk = FakeDesktop({"org.freedesktop.ScreenSaver": {"GetSessionIdleTime": ("u", 5), "GetActive": ("b", False)}})
    try:
        source, reasons = detect()
        assert source is not None and source.name == "freedesktop"
        assert len(reasons) == 1 and reasons[0].startswith("gnome:")  # no Mutter on this bus
        source.close()
    finally:
        desk.close()


def test_detect_headless_says_not_available(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(var, raising=False)
    assert detect() == (None, ["no idle back-end for this session (no display, no session bus)"])


def test_detect_survives_a_back_end_that_raises(monkeypatch):
    class Broken:
        name = "broken"

        def sample(self):
            raise OSError("driver exploded")

        def close(self):
            pass

    def boom():
        raise IdleUnavailable("no display")

    monkeypatch.setattr(platform_idle, "_candidates", lambda: [("broken", Broken), ("boom", boom)])
    assert detect() == (None, ["broken: driver exploded", "boom: no display"])


def test_x11_without_a_reachable_display_is_unavailable(monkeypatch):
    from presence_desktop.client.platform_idle.x11 import X11Idle

    monkeypatch.setenv("DISPLAY", ":99")  # no X server there
    with pytest.raises(IdleUnavailable):
        X11Idle()


def test_macos_ioreg_output_is_parsed():
    out = b'+-o IOHIDSystem  <class IOHIDSystem>\n    {\n      "HIDIdleTime" = 12500000000\n    }\n'
    assert parse_ioreg(out) == 12.5
    with pytest.raises(IdleUnavailable):
        parse_ioreg(b"nothing here")


def test_windows_idle_is_taken_modulo_the_32_bit_tick_counter():
    from presence_desktop.client.platform_idle.windows import WindowsIdle

    if sys.platform != "win32":
        with pytest.raises(IdleUnavailable):
            WindowsIdle()

    class User32:
        def __init__(self, last):
            self.last = last

        def GetLastInputInfo(self, ref):
            ref._obj.dwTime = self.last
            return 1

    class Kernel32:
        def __init__(self, now):
            self.now = now

        def GetTickCount(self):
            return self.now

    source = WindowsIdle.__new__(WindowsIdle)
    source._user32, source._kernel32 = User32(1_000), Kernel32(61_000)
    assert source.sample() == IdleSample(60.0, None)
    source._user32, source._kernel32 = User32(0xFFFF_FC18), Kernel32(2_000)  # the counter wrapped (49.7 days)
    assert source.sample() == IdleSample(3.0, None)
    source._user32.GetLastInputInfo = lambda ref: 0
    with pytest.raises(IdleUnavailable):
        source.sample()


@pytest.fixture
def xvfb(monkeypatch):
    """A private X server (Xvfb), for the X11 back-end against the real extension."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt install xvfb)")
    import os

    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-nolisten", "tcp", "-screen", "0", "320x200x24"],
                            pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        display = ":" + pipe.readline().strip()
    monkeypatch.setenv("DISPLAY", display)
    yield display
    proc.terminate()
    proc.wait(5)


def test_x11_back_end_reads_the_screen_saver_extension(xvfb):
    import ctypes
    import ctypes.util

    from presence_desktop.client.platform_idle.x11 import X11Idle

    source = X11Idle()
    first = source.sample()
    assert first.idle_s >= 0 and first.locked is False
    assert source.sample().idle_s >= first.idle_s  # no input on this server: idle only grows
    # The screen saver switched on (what a locker using the extension does) reads as locked.
    xlib = ctypes.CDLL(ctypes.util.find_library("X11"))
    xlib.XForceScreenSaver.argtypes = [ctypes.c_void_p, ctypes.c_int]
    xlib.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    xlib.XForceScreenSaver(source._display, 1)  # ScreenSaverActive
    xlib.XSync(source._display, 0)
    assert source.sample().locked is True
    source.close()
    with pytest.raises(IdleUnavailable):
        source.sample()


def test_detect_on_a_plain_x11_session_picks_x11_and_not_under_wayland(xvfb, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    for var in ("WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(var, raising=False)
    source, reasons = detect()
    assert source is not None and source.name == "x11" and reasons == []
    source.close()
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")  # XWayland sees only X clients' input
    assert detect()[0] is None
