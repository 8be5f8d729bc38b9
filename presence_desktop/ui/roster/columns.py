"""The roster's columns: one :class:`Column` record each, in one registry (:data:`COLUMNS`).

A column says everything the model, the proxy, the window and the ticking fast path need to
know about it: its key and title, its default width and how it resizes, its alignment, what a
cell shows (``display``), the sort key the proxy compares (``sort_key``), and whether its text
changes with time alone (``ticking``). Adding a column is adding a record here.

``display(roster, agent_id, event, status, now) -> str`` and
``sort_key(roster, agent_id, event, now) -> str`` are plain functions (no Qt): ``status`` is the
displayed status, ``now`` epoch seconds. A sort key is the column's own part; the model appends
the natural name key to break ties (see sortkeys.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import Qt

from presence_desktop.domain.presence import PresenceEvent
from presence_desktop.domain.roster import Roster
from presence_desktop.domain.statuses import UNKNOWN_ID, Status
from presence_desktop.ui.roster.formats import format_ago, format_duration
from presence_desktop.ui.roster.sortkeys import SEP, enc_float, enc_int, enc_text, natural_sort_key

Display = Callable[[Roster, str, PresenceEvent, Status, float], str | None]
SortKey = Callable[[Roster, str, PresenceEvent, float], str]

_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    width: int  # default width, logical px
    display: Display
    sort_key: SortKey
    alignment: Qt.AlignmentFlag = _LEFT
    ticking: bool = False  # the text changes with time alone (repainted by the 1 s tick)
    resize: str = "interactive"  # "interactive", "fixed" or "stretch" (QHeaderView resize modes)
    header_tip: str = ""  # the header's tooltip
    # budget level of the cell ("warn", "over" or None): drawn as the cell's background
    level: Callable[[Roster, str, float], str | None] | None = None


def _none(*_args) -> None:
    return None


def _status_text(roster: Roster, agent_id: str, ev: PresenceEvent, status: Status, now: float) -> str:
    if status.id == UNKNOWN_ID:
        return f"Unknown (last: {roster.last_known_status(agent_id).label})"
    # Where the status came from, when it was not the agent's own choice.
    if ev.source == "supervisor":
        return f"{status.label} · set by {ev.changed_by or 'a supervisor'}"
    if ev.source == "system" and status.id == "offline":
        return f"{status.label} · no heartbeat"
    if ev.source == "idle":
        return f"{status.label} · idle"
    return status.label


def _status_key(roster: Roster, agent_id: str, ev: PresenceEvent, now: float) -> str:
    return enc_int(roster.display_status(agent_id, now).order)


_LEVELS = {"warn": "warn", "over": "over"}


COLUMNS: tuple[Column, ...] = (
    Column("indicator", "", 30, _none, _status_key, resize="fixed",
           alignment=Qt.AlignmentFlag.AlignCenter, header_tip="Status (colour and shape)"),
    Column("name", "Name", 170, lambda r, a, ev, st, now: ev.display_name or a, lambda r, a, ev, now: ""),
    Column("team", "Team", 80, lambda r, a, ev, st, now: ev.team_id,
           lambda r, a, ev, now: natural_sort_key(ev.team_id) + SEP),
    Column("status", "Status", 210, _status_text, _status_key),
    Column("time", "Time in status", 100, lambda r, a, ev, st, now: format_duration(r.time_in_status(a, now)),
           lambda r, a, ev, now: enc_float(r.time_in_status(a, now)), ticking=True,
           level=lambda r, a, now: _LEVELS.get(r.budget_level(a, now))),
    Column("message", "Message", 200, lambda r, a, ev, st, now: ev.message or "",
           lambda r, a, ev, now: enc_text((ev.message or "").casefold()), resize="stretch"),
    Column("heard", "Last heard", 100, lambda r, a, ev, st, now: format_ago(r.since_heard(a, now)),
           lambda r, a, ev, now: enc_float(r.since_heard(a, now)), ticking=True),
)

_INDEX = {c.key: i for i, c in enumerate(COLUMNS)}


def index_of(key: str) -> int:
    """The column number of ``key`` (KeyError for an unknown key)."""
    return _INDEX[key]


COL_INDICATOR, COL_NAME, COL_TEAM, COL_STATUS, COL_TIME, COL_MESSAGE, COL_HEARD = (
    index_of(k) for k in ("indicator", "name", "team", "status", "time", "message", "heard"))
HEADERS = tuple(c.title for c in COLUMNS)
TICKING_COLUMNS = tuple(i for i, c in enumerate(COLUMNS) if c.ticking)
