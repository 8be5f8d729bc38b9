"""The roster answer at 50,000 agents stays far below Lambda's 6 MB response cap (docs/teams.md):
every page of every team at once (a manager), and one team, measured in bytes as the relay sends
them, with every agent's display name and message at their longest (the worst case)."""

from __future__ import annotations

import json

import pytest

from presence_desktop.domain.identity import Identity
from presence_desktop.domain.presence import (
    DISPLAY_NAME_MAX_CHARS,
    MESSAGE_MAX_CHARS,
    PresenceEvent,
)
from presence_desktop.relay.core import RelayCore, RelayLimits, RelayResponse
from presence_desktop.relay.store import SqliteStore, StoredPresence

AGENTS = 50_000
TEAM_SIZE = 12
LAMBDA_RESPONSE_CAP = 6 * 1024 * 1024  # buffered function URL / invoke response
BUDGET = LAMBDA_RESPONSE_CAP // 6  # "far below": a sixth of it


def _seed(store: SqliteStore) -> None:
    rows = []
    for i in range(1, AGENTS + 1):
        event = PresenceEvent(
            agent_id=f"agent-{i}", team_id=f"team-{(i - 1) // TEAM_SIZE + 1}",
            display_name=("Ä" * DISPLAY_NAME_MAX_CHARS), status="on_call", version=123456,
            changed_at="2026-11-29T19:00:00.123Z", source="supervisor", changed_by="supervisor-0001",
            message="m" * MESSAGE_MAX_CHARS,
        )
        row = StoredPresence.new(event, last_seen=1_800_000_000.123)
        rows.append((event.agent_id, event.team_id, event.status, event.version, row.event_json, 1, row.last_seen))
    conn = store._conn()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO presence (agent_id, team_id, status, version, event_json, published, last_seen)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")


@pytest.fixture
async def core(tmp_path):
    store = SqliteStore(tmp_path / "big.sqlite3")
    _seed(store)
    yield RelayCore(verifier=None, store=store, publisher=None, catalogue=_catalogue(), limits=RelayLimits())
    await store.close()


def _catalogue():
    from presence_desktop.resources import default_catalogue

    return default_catalogue()


def _bytes(body: dict) -> int:
    return len(RelayResponse(200, body).json_bytes())


async def test_every_page_of_the_whole_floor_stays_far_below_the_cap(core) -> None:
    manager = Identity("mgr-1", "s", ("managers",), None)
    sizes, seen, cursor = [], 0, None
    while True:
        body = await core.roster(manager, None, cursor)
        sizes.append(_bytes(body))
        seen += len(body["agents"])
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == AGENTS and len(sizes) == AGENTS // core.limits.roster_page
    assert max(sizes) < BUDGET, f"largest page {max(sizes):,} bytes"
    # The whole floor in one answer (what the relay sent before pages) would not fit at all.
    assert sum(sizes) > LAMBDA_RESPONSE_CAP
    print(f"\n50,000 agents: {len(sizes)} pages, largest {max(sizes):,} bytes, all pages {sum(sizes):,} bytes")


async def test_a_teams_roster_is_small(core) -> None:
    sup = Identity("sup-1", "s", ("supervisors",), "team-1", supervised_teams=("team-4000",))
    body = await core.roster(sup, "team-4000", None)
    assert len(body["agents"]) == TEAM_SIZE and body["next"] is None
    size = _bytes(body)
    assert size < 16 * 1024, size
    assert json.loads(RelayResponse(200, body).json_bytes())["team"] == "team-4000"
    print(f"\none team of {TEAM_SIZE}: {size:,} bytes")
