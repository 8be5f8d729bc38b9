"""The roster's columns: one :class:`Column` record each, in one registry (:data:`COLUMNS`).

A column says everything the model, the window and the ticking fast path need to
know about it: its key and title, its default and minimum width and how it resizes, its
alignment, what a cell shows (``display``), the sort key the model orders rows by (``sort_key``;
it must not change with time alone), and whether its text changes with time alone (``ticking``). Adding a column is adding a record here
(after Picard's ``picard/ui/columns.py``).

``display(roster, agent_id, event, status, now) -> str`` and
``sort_key(roster, agent_id, event, now) -> str`` are plain functions (no Qt): ``status`` is the
displayed status, ``now`` epoch seconds on the relay's clock. A sort key is the column's own
part; the model appends the natural name key to break ties (see sortkeys.py). User text (names,
messages) goes through ``domain.text.display_text``: control, bidi and zero-width characters are
neutralised, and the view shows it as plain text.

There is no "Last heard" column: live events carry no heartbeat time (the relay takes heartbeats
and publishes only status changes, and an "offline · no heartbeat" status when they stop), so a
per-window "last heard" was the time this window last saw a *status change*, different in every
window. Liveness is the status itself (the relay's heartbeat expiry) and, for this window, the
"not current" line (window.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt

from presence_desktop.domain.presence import PresenceEvent
from presence_desktop.domain.roster import Roster
from presence_desktop.domain.statuses import UNKNOWN_ID, Status
from presence_desktop.domain.text import display_text
from presence_desktop.domain.times import format_duration
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
    min_width: int = 0  # never narrower (the window's column fit), logical px
    max_width: int = 0  # the fit gives it no more than this (0 = no limit)


def person_name(ev: PresenceEvent, agent_id: str) -> str:
    """The name people know: the display name, else the agent id."""
    return display_text(ev.display_name) or agent_id


def status_text(roster: Roster, agent_id: str, ev: PresenceEvent, status: Status, now: float) -> str:
    """The status cell's words: the label, and where it came from when not the agent's choice."""
    if status.id == UNKNOWN_ID:
        return f"Unknown (last: {roster.last_known_status(agent_id).label})"
    if ev.source == "supervisor":
        setter = roster.get(ev.changed_by) if ev.changed_by else None  # their name, when in the roster
        who = person_name(setter.event, ev.changed_by) if setter is not None else display_text(ev.changed_by)
        return f"{status.label} · set by {who or 'a supervisor'}"
    if ev.source == "system" and status.id == "offline":
        return f"{status.label} · no heartbeat"
    if ev.source == "idle":
        return f"{status.label} · idle"
    return status.label


def time_text(roster: Roster, agent_id: str, now: float) -> str:
    """Time in status (h:mm:ss); past the status's time budget with ⚠ in front, so the overrun
    reads in words and shape too, also on a selected row whose colours are the selection's."""
    text = format_duration(roster.time_in_status(agent_id, now))
    return f"⚠ {text}" if roster.budget_overrun(agent_id, now) is not None else text


def _status_key(roster: Roster, agent_id: str, ev: PresenceEvent, now: float) -> str:
    return enc_int(roster.display_status(agent_id, now).order)


def _time_key(roster: Roster, agent_id: str, ev: PresenceEvent, now: float) -> str:
    # Longer in status = an earlier start: the start, negated, orders like the time in status
    # and does not change with time (the model places rows by their keys when they change).
    # Only a start in the future (clock skew) differs: shown 0:00:00, sorted by its start.
    since = roster.status_since(agent_id)
    return enc_float(-since if since is not None else 0.0)


_LEVELS = {"warn": "warn", "over": "over"}

# Team display names, from the deployment's settings (AppSettings.team_names); ids otherwise.
_TEAM_NAMES: dict[str, str] = {}


def set_team_names(names: dict[str, str]) -> None:
    """Team id -> the name people use for it (the deployment's data); ids without one show as is."""
    _TEAM_NAMES.clear()
    _TEAM_NAMES.update(names)


def team_name(team_id: str) -> str:
    return display_text(_TEAM_NAMES.get(team_id)) or team_id


COLUMNS: tuple[Column, ...] = (
    Column("name", "Name", 220, lambda r, a, ev, st, now: person_name(ev, a), lambda r, a, ev, now: "",
           min_width=150, max_width=340, header_tip="Name, with the status as a badge on the initials"),
    Column("status", "Status", 170, status_text, _status_key, min_width=120, max_width=260),
    Column("time", "Time in status", 96, lambda r, a, ev, st, now: time_text(r, a, now),
           _time_key, ticking=True,
           level=lambda r, a, now: _LEVELS.get(r.budget_level(a, now)), min_width=90, max_width=120,
           header_tip="Since the last status change (h:mm:ss, the relay's clock); a message edit keeps it"),
    Column("team", "Team", 110, lambda r, a, ev, st, now: team_name(ev.team_id),
           lambda r, a, ev, now: natural_sort_key(team_name(ev.team_id)) + SEP, min_width=70, max_width=220),
    # Painted by the window's timeline delegate from the day's history (supervisors; hidden otherwise).
    Column("today", "Today", 170, lambda r, a, ev, st, now: "", lambda r, a, ev, now: "", min_width=110,
           max_width=260, header_tip="Today's statuses, from midnight: point at a segment for when, how and who"),
    Column("message", "Message", 260, lambda r, a, ev, st, now: display_text(ev.message),
           lambda r, a, ev, now: enc_text((ev.message or "").casefold()), resize="stretch", min_width=140),
)

_INDEX = {c.key: i for i, c in enumerate(COLUMNS)}


def index_of(key: str) -> int:
    """The column number of ``key`` (KeyError for an unknown key)."""
    return _INDEX[key]


COL_NAME, COL_STATUS, COL_TIME, COL_MESSAGE, COL_TEAM, COL_TODAY = (
    index_of(k) for k in ("name", "status", "time", "message", "team", "today"))
HEADERS = tuple(c.title for c in COLUMNS)
TICKING_COLUMNS = tuple(i for i, c in enumerate(COLUMNS) if c.ticking)
