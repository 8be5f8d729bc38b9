"""SQLite store: atomic per-agent versions, WAL, outbox flag, heartbeats and stale rows."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from presence_desktop.domain.presence import PresenceEvent
from presence_desktop.relay.store import SqliteStore, StoredPresence, VersionConflict


def next_row(agent: str, status: str, last_seen: float | None = 100.0):
    def fn(current: StoredPresence | None) -> StoredPresence:
        version = (current.version if current else 0) + 1
        event = PresenceEvent(agent_id=agent, team_id="team-1", display_name=agent, status=status,
                              version=version, changed_at="2026-11-29T19:00:00.000Z", changed_by=agent)
        return StoredPresence.new(event, last_seen)

    return fn


@pytest.fixture
async def store(tmp_path):
    s = SqliteStore(tmp_path / "presence.sqlite3")
    yield s
    await s.close()


async def test_wal_and_one_file(store, tmp_path):
    assert store.journal_mode.lower() == "wal"
    assert (tmp_path / "presence.sqlite3").is_file()


async def test_versions_start_at_one_and_increase(store):
    old, new = await store.update("agent-1", next_row("agent-1", "available"))
    assert old is None and new.version == 1 and not new.published
    old, new = await store.update("agent-1", next_row("agent-1", "break"))
    assert old.version == 1 and new.version == 2
    row = await store.get("agent-1")
    assert row.event.status == "break" and row.event_json == new.event_json


async def test_update_rejects_a_version_that_is_not_next(store):
    await store.update("agent-1", next_row("agent-1", "available"))

    def stale(current):
        return StoredPresence.new(current.event.with_(version=current.version), 1.0)

    with pytest.raises(VersionConflict):
        await store.update("agent-1", stale)
    assert (await store.get("agent-1")).version == 1


async def test_exception_in_update_fn_writes_nothing(store):
    def boom(current):
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        await store.update("agent-1", boom)
    assert await store.get("agent-1") is None


async def test_50_concurrent_updates_get_distinct_versions(store, tmp_path):
    # Half through this store, half through a second store on the same file (another process's view).
    other = SqliteStore(tmp_path / "presence.sqlite3")
    try:
        results = await asyncio.gather(
            *[(store if i % 2 else other).update("agent-1", next_row("agent-1", "available")) for i in range(50)]
        )
    finally:
        await other.close()
    versions = sorted(new.version for _, new in results)
    assert versions == list(range(1, 51))
    assert (await store.get("agent-1")).version == 50


async def test_published_flag_is_per_version(store):
    _, v1 = await store.update("agent-1", next_row("agent-1", "available"))
    _, v2 = await store.update("agent-1", next_row("agent-1", "break"))
    await store.mark_published("agent-1", v1.version)  # older version: the row is left alone
    assert [r.version for r in await store.unpublished(time.time())] == [2]
    await store.mark_published("agent-1", v2.version)
    assert await store.unpublished(time.time()) == []


async def test_touch_and_stale(store):
    await store.update("agent-1", next_row("agent-1", "available", last_seen=100.0))
    await store.update("agent-2", next_row("agent-2", "offline", last_seen=100.0))
    await store.update("agent-3", next_row("agent-3", "break", last_seen=200.0))
    assert [r.agent_id for r in await store.stale(150.0)] == ["agent-1"]  # offline is never stale
    row = await store.touch("agent-1", 300.0)
    assert row.last_seen == 300.0 and row.version == 1  # a heartbeat is not a new version
    assert await store.stale(150.0) == []
    assert await store.touch("nobody", 1.0) is None


async def test_list_by_team(store):
    await store.update("agent-1", next_row("agent-1", "available"))

    def team2(current):
        e = PresenceEvent(agent_id="agent-2", team_id="team-2", display_name="B", status="away", version=1,
                          changed_at="2026-11-29T19:00:00.000Z")
        return StoredPresence.new(e, 1.0)

    await store.update("agent-2", team2)
    assert [r.agent_id for r in await store.list()] == ["agent-1", "agent-2"]
    assert [r.agent_id for r in await store.list("team-2")] == ["agent-2"]


async def test_stored_json_is_byte_identical_on_read(store):
    def fancy(current):
        e = PresenceEvent(agent_id="agent-1", team_id="team-1", display_name="Zoë \"Z\" <b>&</b>",
                          status="away", version=1, changed_at="2026-11-29T19:00:00.000Z", message="café ☕ <&>")
        return StoredPresence.new(e, 1.0)

    _, new = await store.update("agent-1", fancy)
    again = await store.get("agent-1")
    assert again.event_json == new.event_json
    assert "☕" in again.event_json and "<&>" in again.event_json


async def test_closed_store_refuses(tmp_path):
    s = SqliteStore(tmp_path / "x.sqlite3")
    await s.close()
    with pytest.raises((RuntimeError, sqlite3.ProgrammingError)):
        await s.get("agent-1")


async def test_a_file_from_before_the_rejected_column_is_migrated_on_open(tmp_path):
    import sqlite3

    from presence_desktop.relay.store import SqliteStore

    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE presence (agent_id TEXT PRIMARY KEY, team_id TEXT NOT NULL, status TEXT NOT NULL,
            version INTEGER NOT NULL, event_json TEXT NOT NULL, published INTEGER NOT NULL DEFAULT 0, last_seen REAL);
        INSERT INTO presence VALUES ('agent-1', 'team-1', 'away', 1,
            '{"kind":"presence","schema":1,"agent_id":"agent-1","team_id":"team-1","display_name":"A","status":"away","message":null,"source":"manual","changed_by":"agent-1","version":1,"changed_at":"2026-11-29T19:00:00.000Z"}',
            0, 5.0);
    """)
    old.close()
    store = SqliteStore(path)
    assert [r.agent_id for r in await store.unpublished(100.0)] == ["agent-1"]
    assert await store.mark_rejected("agent-1", 1, lambda n: 200.0) == 1
    assert await store.unpublished(100.0) == []  # refused: out of the outbox until its next try
    assert [r.agent_id for r in await store.unpublished(200.0)] == ["agent-1"]
    await store.close()
    again = SqliteStore(path)  # opening twice does not add the columns twice
    assert await again.unpublished(100.0) == []
    await again.close()


async def test_refusals_of_a_version_add_up_across_store_instances(tmp_path):
    """The count lived in each relay process: a restarted relay started a refused version's
    pause again from the first step."""
    path = tmp_path / "presence.sqlite3"
    first = SqliteStore(path)
    await first.update("agent-1", next_row("agent-1", "available"))
    assert await first.mark_rejected("agent-1", 1, lambda n: 1000.0 * n) == 1
    assert await first.mark_rejected("agent-1", 1, lambda n: 1000.0 * n) == 2
    await first.close()
    again = SqliteStore(path)  # a restarted relay
    asked = []
    assert await again.mark_rejected("agent-1", 1, lambda n: asked.append(n) or 1000.0 * n) == 3 and asked == [3]
    assert await again.unpublished(2999.0) == [] and [r.version for r in await again.unpublished(3000.0)] == [1]
    await again.update("agent-1", next_row("agent-1", "break"))
    assert await again.mark_rejected("agent-1", 1, lambda n: 0.0) is None  # stale: version 2 is stored
    assert await again.mark_rejected("agent-1", 2, lambda n: 0.0) == 1  # a new version starts again
    await again.close()
