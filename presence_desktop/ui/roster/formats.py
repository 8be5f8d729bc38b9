"""How the roster's ticking columns write a duration: the one format of the whole app,
``h:mm:ss`` (defined in :mod:`presence_desktop.domain.times`, with the reason)."""

from __future__ import annotations

from presence_desktop.domain.times import format_ago, format_duration

__all__ = ["format_ago", "format_duration"]
