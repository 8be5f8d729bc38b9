"""Status history and staffing floors (relay/history.py, relay/history_api.py): what is recorded,
who may read it, bad requests, pagination, CSV, a history store that is down, DynamoDB (moto)."""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from datetime import UTC, datetime, timezone

import pytest

from presence_desktop.domain.history import day_window, find_gaps, status_intervals
from presence_desktop.domain.presence import PresenceEvent
from presence_desktop.relay.history import DynamoHistory, HistoryStore, HistoryUnavailable

SUP = ("supervisors",)


def today(tz: timezone = UTC) -> str:
    return datetime.now(tz).date().isoformat()


async def set_status(relay, token, status, **extra):
    code, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": status, **extra})
    assert code == 200, body
    return body


async def test_every_accepted_change_is_recorded_with_what_it_replaced(relay_factory, token_minter):
    relay = await relay_factory()
    agent = token_minter.mint("agent-1", team_id="team-1")
    sup = token_minter.mint("sup-1", groups=SUP, team_id="team-1", extra={"custom:supervises": "team-1,team-2"})
    await set_status(relay, agent, "available")
    await set_status(relay, agent, "break", message="back in 10")
    await set_status(relay, sup, "available", agent_id="agent-1")
    code, body, _ = await relay.call("GET", f"/v1/history?agent=agent-1&day={today()}", token=agent)
    assert code == 200, body
    entries = body["entries"]
    assert [(e["status"], e["version"], e["source"], e["changed_by"]) for e in entries] == [
        ("available", 1, "manual", "agent-1"), ("break", 2, "manual", "agent-1"), ("available", 3, "supervisor", "sup-1")]
    assert entries[0]["previous"] is None
    assert entries[1]["previous"]["status"] == "available" and entries[1]["previous"]["version"] == 1
    assert entries[1]["message"] == "back in 10"
    assert body["gaps"] == [] and body["cursor"] is None and body["tz"] == "UTC"


async def test_sweeper_expiry_is_recorded(relay_factory, token_minter):
    now = [time.time()]
    relay = await relay_factory(clock=lambda: now[0], heartbeat_ttl_s=30)
    agent = token_minter.mint("agent-1", team_id="team-1")
    await set_status(relay, agent, "available")
    now[0] += 60
    result = await relay.core.sweep()
    assert result.expired == ["agent-1"]
    code, body, _ = await relay.call("GET", f"/v1/history?agent=agent-1&day={today()}", token=agent)
    assert [(e["status"], e["source"]) for e in body["entries"]][-1] == ("offline", "system")


async def test_who_may_read_whose_history(relay_factory, token_minter):
    relay = await relay_factory()
    a1 = token_minter.mint("agent-1", team_id="team-1")
    a2 = token_minter.mint("agent-2", team_id="team-1")
    b1 = token_minter.mint("agent-9", team_id="team-2")
    sup = token_minter.mint("sup-1", groups=SUP, team_id="team-1", extra={"custom:supervises": "team-1,team-2"})
    other_sup = token_minter.mint("sup-3", groups=SUP, team_id="team-3", extra={"custom:supervises": "team-3"})
    for tok in (a1, a2, b1):
        await set_status(relay, tok, "available")
    day = today()
    cases = [
        (a1, "agent=agent-1", 200), (a1, "agent=agent-2", 200), (a1, "team=team-1", 200),
        (a1, "agent=agent-9", 403), (a1, "team=team-2", 403), (b1, "agent=agent-1", 403),
        (sup, "team=team-2", 200), (sup, "agent=agent-9", 200), (a1, "agent=nobody", 404),
        (other_sup, "team=team-1", 403), (other_sup, "agent=agent-1", 403),  # teams are the boundary
    ]
    for token, query, expected in cases:
        code, body, _ = await relay.call("GET", f"/v1/history?{query}&day={day}", token=token)
        assert code == expected, (query, body)
    code, body, _ = await relay.call("GET", f"/v1/history?team=team-1&day={day}", token=sup)
    assert sorted(e["agent_id"] for e in body["entries"]) == ["agent-1", "agent-2"]
    code, _, _ = await relay.call("GET", f"/v1/history?team=team-1&day={day}")
    assert code == 401


@pytest.mark.parametrize("query, code, error", [
    ("agent=agent-1&day=2026-13-01", 400, "invalid_day"),
    ("agent=agent-1&day=yesterday", 400, "invalid_day"),
    ("agent=agent-1", 400, "invalid_day"),
    ("agent=agent-1&day=2999-01-01", 400, "day_in_future"),
    ("agent=agent-1&day=2001-01-01", 400, "day_too_old"),
    ("agent=agent-1&day=TODAY&tz=Mars/Olympus", 400, "invalid_tz"),
    ("agent=agent-1&team=team-1&day=TODAY", 400, "invalid_request"),
    ("day=TODAY", 400, "invalid_request"),
    ("agent=agent-1&day=TODAY&limit=0", 400, "invalid_request"),
    ("agent=agent-1&day=TODAY&limit=501", 400, "invalid_request"),
    ("agent=agent-1&day=TODAY&cursor=%%%", 400, "invalid_cursor"),
    ("agent=agent-1&day=TODAY&from=2026-01-01", 400, "unknown_field"),
    ("agent=../x&day=TODAY", 400, "invalid_request"),
    ("agent=agent-1&day=TODAY&day=TODAY", 400, "invalid_request"),
])
async def test_bad_history_requests_get_a_clear_4xx(relay_factory, token_minter, query, code, error):
    relay = await relay_factory()
    tok = token_minter.mint("agent-1", team_id="team-1")
    await set_status(relay, tok, "available")
    status, body, _ = await relay.call("GET", "/v1/history?" + query.replace("TODAY", today()), token=tok)
    assert status == code and body["error"]["code"] == error, body


async def test_a_day_with_nothing_in_it_is_an_empty_page(relay_factory, token_minter):
    relay = await relay_factory()
    tok = token_minter.mint("agent-1", team_id="team-1")
    await set_status(relay, tok, "available")
    yesterday = datetime.fromtimestamp(time.time() - 86400, UTC).date().isoformat()
    code, body, _ = await relay.call("GET", f"/v1/history?agent=agent-1&day={yesterday}", token=tok)
    assert code == 200 and body["entries"] == [] and body["cursor"] is None


async def test_pages_follow_the_cursor_in_order(relay_factory, token_minter):
    relay = await relay_factory(rate_burst=100)
    tok = token_minter.mint("agent-1", team_id="team-1")
    statuses = ["available", "on_call", "after_call_work", "available", "break", "available", "lunch"]
    for s in statuses:
        await set_status(relay, tok, s)
    seen, cursor, pages = [], None, 0
    while True:
        q = f"/v1/history?agent=agent-1&day={today()}&limit=3" + (f"&cursor={cursor}" if cursor else "")
        code, body, _ = await relay.call("GET", q, token=tok)
        assert code == 200, body
        seen += body["entries"]
        pages += 1
        cursor = body["cursor"]
        if not cursor:
            break
    assert pages == 3 and [e["status"] for e in seen] == statuses
    assert [e["version"] for e in seen] == list(range(1, 8))


async def test_a_history_store_that_is_down_never_blocks_a_status_change(relay_factory, token_minter, capture_events):
    class Down(HistoryStore):
        def __init__(self):
            self.up = False
            self.rows: list[PresenceEvent] = []

        async def append(self, event, previous):
            if not self.up:
                raise HistoryUnavailable("simulated outage")
            self.rows.append(event)

        async def query(self, window, **kw):  # pragma: no cover - not asked here
            raise HistoryUnavailable("simulated outage")

    down = Down()
    relay = await relay_factory(history=down)
    tok = token_minter.mint("agent-1", team_id="team-1")
    body = await set_status(relay, tok, "available")
    assert body["version"] == 1
    assert capture_events.accepted and (await relay.store.get("agent-1")).published
    assert len(relay.core.history.pending) == 1
    code, err, _ = await relay.call("GET", f"/v1/history?agent=agent-1&day={today()}", token=tok)
    assert code == 503 and err["error"]["code"] == "history_unavailable"
    down.up = True
    await relay.core.sweep()  # the sweeper retries what could not be written
    assert [e.version for e in down.rows] == [1] and not relay.core.history.pending


async def test_a_slow_history_store_does_not_hold_the_change_past_its_timeout(relay_factory, token_minter):
    class Slow(HistoryStore):
        async def append(self, event, previous):
            await asyncio.sleep(30)

        async def query(self, window, **kw):  # pragma: no cover
            raise AssertionError

    relay = await relay_factory(history=Slow())
    relay.core.history.timeout_s = 0.05
    tok = token_minter.mint("agent-1", team_id="team-1")
    await set_status(relay, tok, "available")
    assert len(relay.core.history.pending) == 1


def entry(agent, version, status, at, prev=None):
    return {"agent_id": agent, "version": version, "status": status, "changed_at": at, "source": "manual",
            "changed_by": agent, "team_id": "t", "display_name": agent, "previous": prev}


def test_gaps_are_found_between_versions_and_against_previous():
    entries = [entry("a", 3, "break", "2026-12-04T09:00:00.000Z", {"version": 1, "status": "x", "changed_at": "z"}),
               entry("a", 4, "available", "2026-12-04T09:10:00.000Z"), entry("b", 1, "available", "2026-12-04T09:00:00.000Z"),
               entry("a", 7, "lunch", "2026-12-04T12:00:00.000Z")]
    assert find_gaps(entries) == [{"agent_id": "a", "after_version": 1, "before_version": 3},
                                  {"agent_id": "a", "after_version": 4, "before_version": 7}]


def test_a_local_day_is_two_utc_partitions_and_intervals_start_at_local_midnight():
    w = day_window("2026-12-03", "Europe/Berlin", now=datetime(2026, 12, 4, 12, tzinfo=UTC).timestamp())
    assert w.start_iso == "2026-12-02T23:00:00.000Z" and w.end_iso == "2026-12-03T23:00:00.000Z"
    assert w.utc_days() == ["2026-12-02", "2026-12-03"]
    prev = {"status": "offline", "changed_at": "2026-12-01T18:00:00.000Z", "version": 4, "source": "system",
            "changed_by": None}
    rows = status_intervals([entry("a", 5, "available", "2026-12-03T07:00:00.000Z", prev),
                             entry("a", 6, "break", "2026-12-03T10:00:00.000Z")], w, now=w.end.timestamp() + 5)
    assert [(r["status"], r["start"], r["end"], r["seconds"]) for r in rows] == [
        ("offline", "2026-12-02T23:00:00.000Z", "2026-12-03T07:00:00.000Z", 8 * 3600.0),
        ("available", "2026-12-03T07:00:00.000Z", "2026-12-03T10:00:00.000Z", 3 * 3600.0),
        ("break", "2026-12-03T10:00:00.000Z", "2026-12-03T23:00:00.000Z", 13 * 3600.0)]
    assert rows[0]["source"] == "system"


async def test_csv_export_has_one_row_per_interval_and_no_formulas(relay_factory, token_minter):
    relay = await relay_factory()
    tok = token_minter.mint("agent-1", team_id="team-1", extra={"name": "=HYPERLINK(\"http://x\")"})
    sup = token_minter.mint("sup-1", groups=SUP, team_id="team-1", extra={"custom:supervises": "team-1,team-2"})
    await set_status(relay, tok, "available")
    await set_status(relay, tok, "break")
    code, text, headers = await relay.call("GET", f"/v1/history.csv?team=team-1&day={today()}", token=sup)
    assert code == 200 and headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["status"] for r in rows] == ["available", "break"]
    assert rows[0]["end"] == rows[1]["start"] and float(rows[0]["seconds"]) >= 0
    assert all(r["display_name"].startswith("'=") for r in rows)
    assert text.endswith("\r\n")
    code, body, _ = await relay.call("GET", f"/v1/history.csv?team=team-2&day={today()}", token=tok)
    assert code == 403


async def test_floors_are_shared_by_the_teams_supervisors_and_validated(relay_factory, token_minter):
    relay = await relay_factory()
    sup = token_minter.mint("sup-1", groups=SUP, team_id="team-1", extra={"custom:supervises": "team-1,team-2"})
    sup2 = token_minter.mint("sup-2", groups=SUP, team_id="team-2", extra={"custom:supervises": "team-1"})
    agent = token_minter.mint("agent-1", team_id="team-1")
    code, body, _ = await relay.call("GET", "/v1/floors?team=team-1", token=sup)
    assert code == 200 and body["floors"] == []
    floors = [{"statuses": ["available", "on_call"], "minimum": 4, "label": "Routable"}]
    code, body, _ = await relay.call("PUT", "/v1/floors", token=sup, json_body={"team_id": "team-1", "floors": floors})
    assert code == 200 and body["updated_by"] == "sup-1"
    code, body, _ = await relay.call("GET", "/v1/floors?team=team-1", token=sup2)
    assert code == 200 and body["floors"][0]["minimum"] == 4 and body["floors"][0]["label"] == "Routable"
    code, body, _ = await relay.call("GET", "/v1/floors?team=team-1", token=agent)
    assert code == 200  # agents see their own team's floors
    code, body, _ = await relay.call("PUT", "/v1/floors", token=agent, json_body={"team_id": "team-1", "floors": []})
    assert code == 403
    for bad in ([{"statuses": ["nope"], "minimum": 1}], [{"statuses": ["available"], "minimum": -1}],
                [{"statuses": [], "minimum": 1}], "x", [{"statuses": ["available"], "minimum": 1}] * 2):
        code, body, _ = await relay.call("PUT", "/v1/floors", token=sup, json_body={"team_id": "team-1", "floors": bad})
        assert code == 400 and body["error"]["code"] == "invalid_floors", bad
    code, body, _ = await relay.call("DELETE", "/v1/floors", token=sup)
    assert code == 405 and "PUT" in body["error"]["message"]


@pytest.fixture
async def dynamo_history(moto_endpoint):
    import botocore.session

    client = botocore.session.get_session().create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=moto_endpoint,
        aws_access_key_id="local", aws_secret_access_key="local")
    history = DynamoHistory(f"history-{uuid.uuid4().hex[:8]}", client=client)
    await asyncio.to_thread(history.create_table)
    return history


async def test_dynamodb_history_reads_agent_and_team_days_across_utc_partitions(dynamo_history):
    h = dynamo_history

    def ev(agent, version, status, at, team="team-1"):
        return PresenceEvent(agent_id=agent, team_id=team, display_name=agent, status=status, version=version,
                             changed_at=at, changed_by=agent)

    # Local day 2026-12-03 in Berlin = 2026-12-02T23:00Z .. 2026-12-03T23:00Z.
    rows = [ev("a", 1, "available", "2026-12-02T22:59:59.999Z"), ev("a", 2, "break", "2026-12-02T23:30:00.000Z"),
            ev("a", 3, "available", "2026-12-03T08:00:00.000Z"), ev("b", 1, "on_call", "2026-12-03T22:59:59.999Z"),
            ev("c", 1, "available", "2026-12-03T09:00:00.000Z", team="team-2"),
            ev("a", 4, "lunch", "2026-12-03T23:00:00.000Z")]
    previous = None
    for r in rows:
        await h.append(r, previous if previous and previous.agent_id == r.agent_id else None)
        previous = r
    await h.append(rows[1], rows[0])  # a retried append is a no-op
    w = day_window("2026-12-03", "Europe/Berlin", now=datetime(2026, 12, 5, tzinfo=UTC).timestamp(),
                   retention_days=3650)
    page = await h.query(w, agent_id="a")
    assert [e["version"] for e in page.entries] == [2, 3] and page.entries[0]["previous"]["version"] == 1
    got, cursor = [], None
    while True:
        page = await h.query(w, team_id="team-1", cursor=cursor, limit=1)
        got += [(e["agent_id"], e["version"]) for e in page.entries]
        cursor = page.cursor
        if cursor is None:
            break
    assert got == [("a", 2), ("a", 3), ("b", 1)]
