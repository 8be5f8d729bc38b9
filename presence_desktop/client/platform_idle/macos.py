"""Idle time on macOS: ``HIDIdleTime`` (nanoseconds since the last HID input) of the
``IOHIDSystem`` registry entry, read with the system's ``ioreg`` tool (IOKit through ctypes
would need CoreFoundation plumbing for one number)."""

from __future__ import annotations

import re
import shutil
import subprocess

from presence_desktop.client.platform_idle import IdleSample, IdleUnavailable

_HID_IDLE = re.compile(rb'"HIDIdleTime"\s*=\s*(\d+)')


def parse_ioreg(output: bytes) -> float:
    """Seconds from ``ioreg -c IOHIDSystem`` output. Raises :class:`IdleUnavailable`."""
    match = _HID_IDLE.search(output)
    if match is None:
        raise IdleUnavailable("ioreg printed no HIDIdleTime")
    return int(match.group(1)) / 1e9


class MacIdle:
    name = "macos"

    def __init__(self) -> None:
        self._ioreg = shutil.which("ioreg") or "/usr/sbin/ioreg"

    def sample(self) -> IdleSample:
        try:
            out = subprocess.run([self._ioreg, "-c", "IOHIDSystem", "-d", "4", "-r", "-k", "HIDIdleTime"],
                                 capture_output=True, timeout=2, check=True).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            raise IdleUnavailable(f"ioreg: {exc}") from None
        return IdleSample(parse_ioreg(out), None)

    def close(self) -> None:
        pass
