"""Today's timeline of every watched agent: the relay's history for the day, kept current by the
live events (no Qt). Segments come from ``domain/history.py`` so the app and the CSV export
agree on every interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from presence_desktop.domain.history import DayWindow, day_window, entry_dict, find_gaps, status_intervals
from presence_desktop.domain.presence import PresenceEvent, parse_time


@dataclass(frozen=True)
class Segment:
    """One status interval: epoch seconds ``start`` <= t < ``end``; ``ongoing`` for the current one."""

    status: str
    start: float
    end: float
    source: str | None
    changed_by: str | None
    ongoing: bool = False


def local_today(now: float) -> str:
    return datetime.fromtimestamp(now).astimezone().date().isoformat()


def local_tz_name() -> str | None:
    """The local IANA zone name where the platform tells it (else None: the relay's UTC days)."""
    tz = datetime.now().astimezone().tzinfo
    key = getattr(tz, "key", None)
    if key:
        return str(key)
    try:
        import tzlocal  # type: ignore[import-not-found]

        return str(tzlocal.get_localzone_name())
    except Exception:  # noqa: BLE001 - optional: without it the day is a UTC day
        return None


class DayTimelines:
    """Entries per agent for one local day. ``load`` takes the relay's entries (any order,
    duplicates ignored by version); ``on_event`` appends a live change."""

    def __init__(self, day: str | None = None, tz: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.tz = tz
        self.window: DayWindow = day_window(day or local_today(clock()), tz, clock(), retention_days=36500)
        self._entries: dict[str, dict[int, dict[str, Any]]] = {}
        self.loaded_teams: set[str] = set()

    def load(self, entries: Iterable[dict[str, Any]], team: str | None = None) -> set[str]:
        """Merge history entries; returns the agent ids that changed."""
        changed = set()
        for e in entries:
            try:
                agent, version = str(e["agent_id"]), int(e["version"])
            except (KeyError, TypeError, ValueError):
                continue
            per = self._entries.setdefault(agent, {})
            if version not in per:
                per[version] = e
                changed.add(agent)
        if team is not None:
            self.loaded_teams.add(team)
        return changed

    def on_event(self, event: PresenceEvent, previous: PresenceEvent | None = None) -> bool:
        """A live change (newer version); False when it is not of this day or already known."""
        if not (self.window.start_iso <= event.changed_at < self.window.end_iso):
            return False
        per = self._entries.setdefault(event.agent_id, {})
        if event.version in per:
            return False
        per[event.version] = entry_dict(event, previous)
        return True

    def entries(self, agent_id: str) -> list[dict[str, Any]]:
        per = self._entries.get(agent_id, {})
        return [per[v] for v in sorted(per)]

    def gaps(self, agent_id: str) -> list[dict[str, Any]]:
        return find_gaps(self.entries(agent_id))

    def segments(self, agent_id: str, now: float | None = None, current: PresenceEvent | None = None) -> list[Segment]:
        """The day's intervals, oldest first. ``current`` (the roster's event) fills a day with
        no change: its status since the later of midnight and its ``changed_at``."""
        now = self.clock() if now is None else now
        items = self.entries(agent_id)
        if not items and current is not None and current.changed_at < self.window.end_iso:
            items = [{**entry_dict(current, None), "changed_at": max(current.changed_at, self.window.start_iso)}]
        rows = status_intervals(items, self.window, now)
        out = []
        for i, r in enumerate(rows):
            start, end = parse_time(r["start"]).timestamp(), parse_time(r["end"]).timestamp()
            out.append(Segment(r["status"], start, end, r.get("source"), r.get("changed_by"),
                               ongoing=i == len(rows) - 1 and end >= min(now, self.window.end.timestamp()) - 1))
        return out

    def time_per_status(self, agent_id: str, now: float | None = None, current: PresenceEvent | None = None) -> dict[str, float]:
        """Seconds per status id within the day so far."""
        totals: dict[str, float] = {}
        for s in self.segments(agent_id, now, current):
            totals[s.status] = totals.get(s.status, 0.0) + (s.end - s.start)
        return totals

    @property
    def start(self) -> float:
        return self.window.start.timestamp()

    @property
    def end(self) -> float:
        return self.window.end.timestamp()
