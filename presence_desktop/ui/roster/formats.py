"""How the roster's ticking columns write a duration (pure Python)."""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """Time in status: ``42`` -> ``0:42``; ``725`` -> ``12 min``; ``3725`` -> ``1 h 02 min``.

    Seconds only in the first minute, whole minutes after: the column then changes once a
    minute instead of every second (idle CPU, bench/README.md). Budgets are minutes; the
    tooltip has the exact time."""
    s = int(max(0, seconds))
    if s < 60:
        return f"0:{s:02d}"
    if s < 3600:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def format_ago(seconds: float) -> str:
    """Last heard: ``3`` -> ``just now``; ``42`` -> ``42 s ago``; ``725`` -> ``12 min ago``."""
    s = int(max(0, seconds))
    if s < 5:
        return "just now"
    if s < 60:
        return f"{s} s ago"
    if s < 3600:
        return f"{s // 60} min ago"
    return f"{s // 3600} h {s % 3600 // 60} min ago"
