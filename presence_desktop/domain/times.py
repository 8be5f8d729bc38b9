"""Times as the window tells them: the server's clock, one duration format, local clock times.

- :class:`ServerClock`: the relay's clock as seen from here (this computer's clock plus a
  measured offset). Every duration and "ago" is computed against it: ``changed_at`` and
  ``last_seen`` are the relay's times, and with this computer's clock 70 minutes ahead a status
  set seconds ago read "1 h 10 min" on a red over-budget cell.
- :func:`format_duration`: one format everywhere, ``h:mm:ss`` (``0:00:42``, ``0:12:05``,
  ``1:10:00``): three parts cannot be misread (``0:02`` was read as two minutes, or two hours, when
  it was two seconds), the width does not change at the minute or the hour, and it is the
  ``hh:mm:ss`` of Amazon Connect's agent timers and real-time metrics
  (https://docs.aws.amazon.com/connect/latest/adminguide/real-time-metrics-definitions.html).
- :func:`clock_time` and :func:`status_sentence`: when something happened, in this computer's
  time zone and in words ("Break since 14:05 (0:12:30), set by the agent"), never raw ISO UTC.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Callable

Clock = Callable[[], float]


class ServerClock:
    """Callable: the server's time now (epoch s) = ``local()`` + :attr:`offset_s`.

    :meth:`observe` takes a server timestamp and the local times just before the request went out
    and just after its answer came back; the server's time is taken to be at the midpoint (the
    error is at most half the round trip). ``offset_s`` is 0 until something is observed."""

    def __init__(self, local: Clock = time.time, offset_s: float = 0.0) -> None:
        self.local = local
        self.offset_s = float(offset_s)
        self.measured = False

    def __call__(self) -> float:
        return self.local() + self.offset_s

    def observe(self, server_epoch_s: float, sent_local_s: float, received_local_s: float) -> float:
        """Set the offset from one exchange; returns it (s, positive: the server is ahead)."""
        midpoint = (sent_local_s + received_local_s) / 2.0
        self.offset_s = server_epoch_s - midpoint
        self.measured = True
        return self.offset_s

    def assume(self, offset_s: float) -> None:
        """An offset known from elsewhere (e.g. the sign-in token's ``iat``, whole seconds); a
        measured offset is not replaced."""
        if not self.measured:
            self.offset_s = float(offset_s)


def format_duration(seconds: float) -> str:
    """``h:mm:ss`` (see module doc): ``2`` -> ``0:00:02``, ``179`` -> ``0:02:59``, ``4200`` ->
    ``1:10:00``; never negative (a time from the future is 0)."""
    s = int(max(0.0, seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def format_ago(seconds: float) -> str:
    """How long ago: ``just now`` under 5 s, else the duration: ``0:03:12 ago``."""
    if seconds < 5:
        return "just now"
    return f"{format_duration(seconds)} ago"


def format_over(spent_s: float, budget_s: float) -> str:
    """How far past a time budget: ``+0:02:10 over 0:15:00``."""
    return f"+{format_duration(spent_s - budget_s)} over {format_duration(budget_s)}"


def clock_time(epoch_s: float, now_s: float) -> str:
    """``epoch_s`` on this computer's clock face, local time zone: ``14:05`` on the same day as
    ``now_s``, ``Thu 14:05`` within the past week, ``2026-11-20 14:05`` before that."""
    moment, today = datetime.fromtimestamp(epoch_s), datetime.fromtimestamp(now_s)
    if moment.date() == today.date():
        return moment.strftime("%H:%M")
    if 0 < (today.date() - moment.date()).days < 7:
        return moment.strftime("%a %H:%M")
    return moment.strftime("%Y-%m-%d %H:%M")


def set_by(source: str, changed_by: str | None, who: str | None = None) -> str:
    """Who set a status, in words: ``set by the agent``, ``set by Sam Lee (supervisor)``,
    ``set automatically (idle)``, ``set by the system (no heartbeat)``. ``who``: a display name
    for ``changed_by`` when known (user text: pass it through ``display_text`` first)."""
    if source == "supervisor":
        return f"set by {who or changed_by or 'a supervisor'} (supervisor)"
    if source == "idle":
        return "set automatically (idle)"
    if source == "system":
        return "set by the system (no heartbeat)"
    return "set by the agent"


def status_sentence(label: str, since_s: float, now_s: float, source: str, changed_by: str | None,
                    who: str | None = None) -> str:
    """``Break since 14:05 (0:12:30), set by the agent``: the status, when it began (local
    time, :func:`clock_time`), for how long, and who set it. Times are the server's (see
    :class:`ServerClock`); ``now_s`` too."""
    return f"{label} since {clock_time(since_s, now_s)} ({format_duration(now_s - since_s)}), {set_by(source, changed_by, who)}"
