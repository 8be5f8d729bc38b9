"""Idle time on X11 from the MIT-SCREEN-SAVER extension (libXss), through ctypes.

``XScreenSaverQueryInfo`` fills ``XScreenSaverInfo`` (X11/extensions/scrnsaver.h):
``window, state, kind, til_or_since, idle (ms), eventMask``; ``state`` 1 = ScreenSaverOn.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

from presence_desktop.client.platform_idle import IdleSample, IdleUnavailable

SCREEN_SAVER_ON = 1


class _Info(ctypes.Structure):
    _fields_ = [
        ("window", ctypes.c_ulong),
        ("state", ctypes.c_int),
        ("kind", ctypes.c_int),
        ("til_or_since", ctypes.c_ulong),
        ("idle", ctypes.c_ulong),
        ("eventMask", ctypes.c_ulong),
    ]


class X11Idle:
    name = "x11"

    def __init__(self) -> None:
        xlib_name, xss_name = ctypes.util.find_library("X11"), ctypes.util.find_library("Xss")
        if not xlib_name or not xss_name:
            raise IdleUnavailable("libX11 or libXss is not installed")
        self._x = ctypes.CDLL(xlib_name)
        self._xss = ctypes.CDLL(xss_name)
        self._x.XOpenDisplay.restype = ctypes.c_void_p
        self._x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self._x.XDefaultRootWindow.restype = ctypes.c_ulong
        self._x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self._x.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self._x.XFree.argtypes = [ctypes.c_void_p]
        self._xss.XScreenSaverQueryExtension.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
        self._xss.XScreenSaverAllocInfo.restype = ctypes.POINTER(_Info)
        self._xss.XScreenSaverQueryInfo.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_Info)]
        self._lock = threading.Lock()  # one Display connection, used from worker threads
        self._display = self._x.XOpenDisplay(None)
        if not self._display:
            raise IdleUnavailable("cannot open the X display")
        event, error = ctypes.c_int(), ctypes.c_int()
        if not self._xss.XScreenSaverQueryExtension(self._display, ctypes.byref(event), ctypes.byref(error)):
            self.close()
            raise IdleUnavailable("the X server has no MIT-SCREEN-SAVER extension")
        self._info = self._xss.XScreenSaverAllocInfo()
        self._root = self._x.XDefaultRootWindow(self._display)

    def sample(self) -> IdleSample:
        with self._lock:
            if not self._display:
                raise IdleUnavailable("closed")
            if not self._xss.XScreenSaverQueryInfo(self._display, self._root, self._info):
                raise IdleUnavailable("XScreenSaverQueryInfo failed")
            info = self._info.contents
            return IdleSample(info.idle / 1000.0, info.state == SCREEN_SAVER_ON)

    def close(self) -> None:
        with self._lock:
            if getattr(self, "_info", None):
                self._x.XFree(self._info)
                self._info = None
            if getattr(self, "_display", None):
                self._x.XCloseDisplay(self._display)
                self._display = None
