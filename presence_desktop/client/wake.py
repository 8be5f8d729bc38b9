"""Noticing that the machine slept or its network changed, so the app reconnects at once
instead of waiting for a dead WebSocket's keep-alive timeout.

- :class:`ClockJumpDetector` (every platform): fed the wall clock and the monotonic clock once
  a second. A suspend stops the monotonic clock on Linux and macOS while the wall clock runs
  on, so the two disagree after a wake; where the monotonic clock runs through suspend, the
  gap between two checks is far longer than the tick. Either one is reported.
- :func:`watch_logind_sleep` (Linux): systemd-logind's ``PrepareForSleep(b)`` signal on the
  system bus (``false`` = resumed), through jeepney's asyncio router.
  https://www.freedesktop.org/software/systemd/man/latest/org.freedesktop.login1.html
- Network changes come from Qt's ``QNetworkInformation`` in the UI (ui/agent_day.py).

Every source ends in :meth:`PresenceService.resume` (one entry point; the tests use it too).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

JUMP_S = 5.0  # wall and monotonic disagree by more than this: the machine slept (or the clock was set)
GAP_S = 30.0  # or this long between two checks meant to be ~1 s apart: the loop did not run


class ClockJumpDetector:
    """``check(wall, mono)`` returns a reason when the machine probably slept since the last
    check, else None. The first check only records."""

    def __init__(self, jump_s: float = JUMP_S, gap_s: float = GAP_S) -> None:
        self.jump_s, self.gap_s = jump_s, gap_s
        self._last: tuple[float, float] | None = None

    def check(self, wall: float, mono: float) -> str | None:
        last, self._last = self._last, (wall, mono)
        if last is None:
            return None
        d_wall, d_mono = wall - last[0], mono - last[1]
        if abs(d_wall - d_mono) > self.jump_s:
            return f"the clock jumped {d_wall - d_mono:+.0f} s (sleep or clock change)"
        if d_mono > self.gap_s:
            return f"nothing ran for {d_mono:.0f} s (sleep)"
        return None


async def watch_logind_sleep(on_resume: Callable[[str], None]) -> None:
    """Call ``on_resume`` after every wake that logind reports; runs until cancelled. Returns
    at once (with a log line) where there is no system bus or no jeepney."""
    try:
        from jeepney import MatchRule, message_bus
        from jeepney.io.asyncio import open_dbus_router
    except ImportError as exc:
        log.info("no suspend/resume signals: %s", exc)
        return
    rule = MatchRule(type="signal", interface="org.freedesktop.login1.Manager", member="PrepareForSleep",
                     path="/org/freedesktop/login1")
    try:
        async with open_dbus_router(bus="SYSTEM") as router:
            await router.send_and_get_reply(message_bus.AddMatch(rule))
            with router.filter(rule, bufsize=8) as queue:
                while True:
                    msg = await queue.get()
                    if msg.body and msg.body[0] is False:
                        on_resume("resumed from sleep (logind)")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - no system bus (containers, macOS, Windows)
        log.info("no suspend/resume signals from logind: %s", exc)
