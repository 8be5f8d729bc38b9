"""Idle time on Windows: ``GetLastInputInfo`` (tick of the last input of this session) against
``GetTickCount`` (both 32-bit ms counters, so the difference is taken modulo 2**32).
https://learn.microsoft.com/windows/win32/api/winuser/nf-winuser-getlastinputinfo
"""

from __future__ import annotations

import ctypes

from presence_desktop.client.platform_idle import IdleSample, IdleUnavailable


class _LastInputInfo(ctypes.Structure):
    _fields_ = [("cbSize", ctypes.c_uint), ("dwTime", ctypes.c_uint32)]


class WindowsIdle:
    name = "windows"

    def __init__(self) -> None:
        try:
            self._user32 = ctypes.WinDLL("user32")  # type: ignore[attr-defined]
            self._kernel32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
        except (AttributeError, OSError) as exc:
            raise IdleUnavailable(f"user32/kernel32 not available: {exc}") from None
        self._kernel32.GetTickCount.restype = ctypes.c_uint32

    def sample(self) -> IdleSample:
        info = _LastInputInfo(ctypes.sizeof(_LastInputInfo), 0)
        if not self._user32.GetLastInputInfo(ctypes.byref(info)):
            raise IdleUnavailable("GetLastInputInfo failed")
        ms = (self._kernel32.GetTickCount() - info.dwTime) & 0xFFFFFFFF
        return IdleSample(ms / 1000.0, None)

    def close(self) -> None:
        pass
