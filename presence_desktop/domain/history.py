"""A day of status history, as the relay stores it and the app shows it (docs/relay-api.md).

Pure functions on the API's entry dicts: which UTC instants a local day covers, where versions are
missing, the status intervals of a day and their CSV. The relay (relay/history.py) stores and
serves entries; the app (timelines, export) reads them with these same rules.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any

from presence_desktop.domain.presence import PresenceEvent, format_time, parse_time

RETENTION_DAYS = 35


class HistoryQueryError(ValueError):
    """A history request that cannot be answered as asked; ``code`` names why (API error code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def entry_dict(event: PresenceEvent, previous: PresenceEvent | None) -> dict[str, Any]:
    """The API shape of one history entry: the event's fields plus ``previous`` (status,
    changed_at, version, source, changed_by of the version it replaced) or None for a first status."""
    out = event.to_dict()
    out["previous"] = None if previous is None else {
        "status": previous.status, "changed_at": previous.changed_at, "version": previous.version,
        "source": previous.source, "changed_by": previous.changed_by,
    }
    return out


@dataclass(frozen=True)
class DayWindow:
    """One local day as UTC instants: ``start`` <= t < ``end`` (ISO strings sort as times)."""

    day: date
    tz: str
    start: datetime
    end: datetime

    # Cached: DayTimelines compares every live event's changed_at with both (bench/README.md).
    @cached_property
    def start_iso(self) -> str:
        return format_time(self.start)

    @cached_property
    def end_iso(self) -> str:
        return format_time(self.end)

    def utc_days(self) -> list[str]:
        """The UTC dates (YYYY-MM-DD) the window touches: one or two."""
        last = (self.end - timedelta(microseconds=1)).date()
        days, d = [], self.start.date()
        while d <= last:
            days.append(d.isoformat())
            d += timedelta(days=1)
        return days


def day_window(day: str | None, tz: str | None, now: float, retention_days: int = RETENTION_DAYS) -> DayWindow:
    """Parse ``day`` (YYYY-MM-DD) in zone ``tz`` (IANA name, default UTC).

    Raises :class:`HistoryQueryError`: ``invalid_day`` (missing or malformed), ``invalid_tz``,
    ``day_in_future`` (starts after ``now``), ``day_too_old`` (older than the retention)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not day:
        raise HistoryQueryError("invalid_day", "day=YYYY-MM-DD is required")
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        raise HistoryQueryError("invalid_day", f"day must be YYYY-MM-DD, not {day[:40]!r}") from None
    if len(day) != 10:
        raise HistoryQueryError("invalid_day", f"day must be YYYY-MM-DD, not {day[:40]!r}")
    name = tz or "UTC"
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HistoryQueryError("invalid_tz", f"tz must be an IANA time zone such as Europe/Berlin, not {name[:60]!r}") from None
    start = datetime(parsed.year, parsed.month, parsed.day, tzinfo=zone)
    end = start + timedelta(days=1)
    window = DayWindow(parsed, name, start.astimezone(UTC), end.astimezone(UTC))
    now_dt = datetime.fromtimestamp(now, UTC)
    if window.start > now_dt:
        raise HistoryQueryError("day_in_future", f"{day} has not started yet in {name}")
    if window.end < now_dt - timedelta(days=retention_days + 1):
        raise HistoryQueryError("day_too_old", f"history is kept for {retention_days} days")
    return window


def find_gaps(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Missing versions per agent among ``entries`` (one agent's versions are consecutive):
    ``[{"agent_id", "after_version", "before_version"}]``. An entry whose ``previous`` names an
    older version than the one before it also counts (the first entry of a page is checked
    against its own ``previous``)."""
    last: dict[str, int] = {}
    gaps = []
    for e in entries:
        agent, version = e["agent_id"], e["version"]
        before = last.get(agent)
        if before is None and e.get("previous"):
            before = e["previous"]["version"]
        if before is not None and version != before + 1:
            gaps.append({"agent_id": agent, "after_version": before, "before_version": version})
        last[agent] = version
    return gaps


def status_intervals(entries: list[dict[str, Any]], window: DayWindow, now: float) -> list[dict[str, Any]]:
    """One row per status interval within ``window``, per agent, from history entries (oldest
    first): ``{"agent_id", "display_name", "team_id", "status", "start", "end", "seconds",
    "source", "changed_by"}``. The status current at the window's start comes from the first
    entry's ``previous``; the last interval ends at the window's end or ``now``, whichever is
    first. Times are ISO 8601 UTC."""
    by_agent: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for e in entries:
        by_agent[e["agent_id"]].append(e)
    stop = min(window.end, datetime.fromtimestamp(now, UTC))
    rows = []
    for agent in sorted(by_agent):
        items = sorted(by_agent[agent], key=lambda e: e["version"])
        first = items[0]
        spans: list[tuple[dict[str, Any], datetime]] = []
        prev = first.get("previous")
        if prev:
            spans.append(({**first, **prev}, window.start))
        spans += [(e, parse_time(e["changed_at"])) for e in items]
        for i, (e, begin) in enumerate(spans):
            begin = max(begin, window.start)
            end = spans[i + 1][1] if i + 1 < len(spans) else stop
            end = min(max(end, begin), stop)
            if end <= begin and i + 1 < len(spans):
                continue
            rows.append({
                "agent_id": agent, "display_name": e.get("display_name"), "team_id": e.get("team_id"),
                "status": e["status"], "start": format_time(begin), "end": format_time(end),
                "seconds": round((end - begin).total_seconds(), 3), "source": e.get("source"),
                "changed_by": e.get("changed_by"),
            })
    return rows


CSV_COLUMNS = ("agent_id", "display_name", "team_id", "status", "start", "end", "seconds", "source", "changed_by")


def intervals_csv(rows: list[dict[str, Any]]) -> str:
    """RFC 4180 CSV (CRLF line ends, a header row). Cells that a spreadsheet would run as a
    formula (starting with = + - @, tab or CR) get a leading apostrophe (OWASP "CSV Injection")."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        cells = []
        for c in CSV_COLUMNS:
            value = r.get(c)
            text = "" if value is None else str(value)
            if text[:1] in ("=", "+", "-", "@", "\t", "\r") and c not in ("seconds",):
                text = "'" + text
            cells.append(text)
        writer.writerow(cells)
    return out.getvalue()
