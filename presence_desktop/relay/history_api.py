"""The relay's history and floors endpoints (docs/relay-api.md):

``GET /v1/history?agent=<id>|team=<id>&day=YYYY-MM-DD[&tz=<IANA zone>][&cursor=...][&limit=1..500]``
-> 200 ``{"day", "tz", "start", "end", "entries": [...], "gaps": [...], "cursor": str|null}``

``GET /v1/history.csv?agent=<id>|team=<id>&day=...[&tz=...]`` -> 200 ``text/csv``: one row per
status interval (agent_id, display_name, team_id, status, start, end, seconds, source, changed_by);
at most :data:`CSV_MAX_ENTRIES` changes (413 ``too_large`` beyond: ask per agent).

``GET /v1/floors?team=<id>`` -> 200 ``{"team_id", "floors": [...], "updated_by", "updated_at"}``;
``PUT /v1/floors`` body ``{"team_id", "floors": [{"statuses": [...], "minimum": n, "label"?}]}``
(supervisors of that team) -> 200 the stored document.

Who may read: whoever may watch the team (an agent its own team, a supervisor the supervised
teams, a manager every team: the rule of ``GET /v1/roster``, ``Identity.may_watch``); who may set
a team's floors: its supervisors (``Identity.may_change``). Errors are :class:`RelayError` with the codes listed there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from presence_desktop.domain.floors import FloorError, parse_floors
from presence_desktop.domain.history import (
    DayWindow,
    HistoryQueryError,
    day_window,
    find_gaps,
    intervals_csv,
    status_intervals,
)
from presence_desktop.domain.identity import Identity
from presence_desktop.domain.presence import valid_segment
from presence_desktop.relay.errors import RelayError
from presence_desktop.relay.history import DEFAULT_PAGE, MAX_PAGE, HistoryUnavailable

if TYPE_CHECKING:
    from presence_desktop.relay.core import RelayCore

# (status, JSON body) or (status, (content type, bytes))
Answer = tuple[int, dict[str, Any] | tuple[str, bytes]]

CSV_MAX_ENTRIES = 20_000
ROUTES = {"/v1/history": ("GET",), "/v1/history.csv": ("GET",), "/v1/floors": ("GET", "PUT")}


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise RelayError(400, "invalid_request", f"give {name} once")
    return values[0]


def _unavailable(exc: Exception) -> RelayError:
    return RelayError(503, "history_unavailable", f"the history store cannot answer right now ({exc}); try again",
                      {"Retry-After": "5"})


async def handle(core: RelayCore, caller: Identity, method: str, path: str, query_text: str,
                 body: dict[str, Any] | None) -> Answer:
    """Answer one request on :data:`ROUTES`; returns ``(status, body dict | (content type, bytes))``."""
    query = parse_qs(query_text, keep_blank_values=True)
    if path == "/v1/floors":
        return await _floors(core, caller, method, query, body)
    if core.history_store is None:
        raise RelayError(404, "not_found", "this relay keeps no history")
    unknown = set(query) - {"agent", "team", "day", "tz", "cursor", "limit"}
    if unknown:
        raise RelayError(400, "unknown_field", f"unknown parameter(s): {', '.join(sorted(unknown))}")
    agent, team = _one(query, "agent"), _one(query, "team")
    if (agent is None) == (team is None):
        raise RelayError(400, "invalid_request", "give exactly one of agent= or team=")
    subject = agent if agent is not None else team
    if not valid_segment(subject):
        raise RelayError(400, "invalid_request", "agent and team ids are 1-50 alphanumerics or '-'")
    try:
        window = day_window(_one(query, "day"), _one(query, "tz"), core.clock(), core.history_retention_days)
    except HistoryQueryError as exc:
        raise RelayError(400, exc.code, str(exc)) from None
    if agent is not None and agent != caller.agent_id:
        row = await core.store.get(agent)
        if row is None:
            raise RelayError(404, "unknown_agent", f"agent {agent!r} has never used the relay")
        if not caller.may_watch(row.event.team_id):
            raise RelayError(403, "forbidden", "that agent is not in a team you may watch")
    if team is not None and not caller.may_watch(team):
        raise RelayError(403, "forbidden", "you may not watch that team")
    if path == "/v1/history.csv":
        return await _csv(core, window, agent, team)
    limit_text = _one(query, "limit")
    try:
        limit = DEFAULT_PAGE if limit_text is None else int(limit_text)
    except ValueError:
        limit = -1
    if not 1 <= limit <= MAX_PAGE:
        raise RelayError(400, "invalid_request", f"limit must be a whole number from 1 to {MAX_PAGE}")
    try:
        page = await core.history_store.query(window, agent_id=agent, team_id=team, cursor=_one(query, "cursor"),
                                              limit=limit)
    except HistoryQueryError as exc:
        raise RelayError(400, exc.code, str(exc)) from None
    except HistoryUnavailable as exc:
        raise _unavailable(exc) from None
    return 200, {"day": window.day.isoformat(), "tz": window.tz, "start": window.start_iso, "end": window.end_iso,
                 "entries": page.entries, "gaps": find_gaps(page.entries), "cursor": page.cursor}


async def _csv(core: RelayCore, window: DayWindow, agent: str | None, team: str | None) -> Answer:
    assert core.history_store is not None
    entries: list[dict[str, Any]] = []
    cursor = None
    try:
        while True:
            page = await core.history_store.query(window, agent_id=agent, team_id=team, cursor=cursor, limit=MAX_PAGE)
            entries += page.entries
            if len(entries) > CSV_MAX_ENTRIES:
                raise RelayError(413, "too_large", f"more than {CSV_MAX_ENTRIES} changes that day; export per agent")
            cursor = page.cursor
            if cursor is None:
                break
    except HistoryUnavailable as exc:
        raise _unavailable(exc) from None
    text = intervals_csv(status_intervals(entries, window, core.clock()))
    return 200, ("text/csv; charset=utf-8", text.encode("utf-8"))


async def _floors(core: RelayCore, caller: Identity, method: str, query: dict[str, list[str]],
                  body: dict[str, Any] | None) -> Answer:
    if core.floors is None:
        raise RelayError(404, "not_found", "this relay keeps no floors")
    from presence_desktop.relay.core import format_time_epoch

    if method == "GET":
        team = _one(query, "team")
        if team is None or not valid_segment(team):
            raise RelayError(400, "invalid_request", "team=<team id> is required")
        if not caller.may_watch(team):
            raise RelayError(403, "forbidden", "you may not watch that team")
        try:
            doc = await core.floors.get(team)
        except HistoryUnavailable as exc:
            raise _unavailable(exc) from None
        return 200, doc or {"team_id": team, "floors": [], "updated_by": None, "updated_at": None}
    body = body or {}
    unknown = set(body) - {"team_id", "floors"}
    if unknown:
        raise RelayError(400, "unknown_field", f"unknown field(s): {', '.join(sorted(unknown))}")
    team = body.get("team_id")
    if not isinstance(team, str) or not valid_segment(team):
        raise RelayError(400, "invalid_request", "team_id (a team id) is required")
    if not caller.may_change(team):
        raise RelayError(403, "forbidden", "only a supervisor of that team may set its floors")
    try:
        floors = parse_floors(body.get("floors"), core.catalogue.ids())
    except FloorError as exc:
        raise RelayError(400, "invalid_floors", str(exc)) from None
    doc = {"team_id": team, "floors": [f.to_dict() for f in floors], "updated_by": caller.agent_id,
           "updated_at": format_time_epoch(core.clock())}
    try:
        await core.floors.put(team, doc)
    except HistoryUnavailable as exc:
        raise _unavailable(exc) from None
    return 200, doc
