"""A sweeper that keeps up (issue 17, item 5): a mass disconnect of 2,000 agents is expired and
published within one run's budget (SQLite store, the SigV4-checking local events endpoint), with
bounded parallelism. The figure is in the commit message, not here (no timed assertions beyond
the run's own budget, which the sweeper enforces itself)."""

from __future__ import annotations

import logging
import time

import pytest

from presence_desktop.domain.presence import PresenceEvent
from presence_desktop.relay.store import SqliteStore, StoredPresence

AGENTS = 2000
pytestmark = pytest.mark.timeout(300)


async def _seed(store: SqliteStore, last_seen: float) -> None:
    def seed() -> None:
        conn = store._conn()
        conn.execute("BEGIN IMMEDIATE")
        for i in range(AGENTS):
            event = PresenceEvent(agent_id=f"agent-{i}", team_id=f"team-{i % 40}", display_name=f"Agent {i}",
                                  status="available", version=1, changed_at="2026-11-29T19:00:00.000Z",
                                  source="manual", changed_by=f"agent-{i}")
            row = StoredPresence.new(event, last_seen)
            conn.execute("INSERT INTO presence (agent_id, team_id, status, version, event_json, published, last_seen)"
                         " VALUES (?, ?, ?, ?, ?, 1, ?)", (event.agent_id, event.team_id, event.status, 1,
                                                            row.event_json, last_seen))
        conn.execute("COMMIT")

    await store._run(seed)


async def test_two_thousand_silent_agents_expire_in_one_run(relay_factory, capture_events, tmp_path, caplog):
    caplog.set_level(logging.WARNING)  # one INFO line per expiry is not what this measures
    store = SqliteStore(tmp_path / "mass.sqlite3")
    relay = await relay_factory(store=store, heartbeat_ttl_s=90.0)
    await _seed(store, relay.core.clock() - 600)
    result = await relay.core.sweep()
    assert result.deferred == [] and result.failed == []
    assert len(result.expired) == AGENTS
    assert len(capture_events.events()) == AGENTS  # each published once, offline, by the system
    assert {e["status"] for e in capture_events.events()} == {"offline"}
    assert await store.unpublished(time.time()) == [] and await store.stale(relay.core.clock()) == []


async def test_a_small_budget_defers_the_rest_to_the_next_run(relay_factory, capture_events, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    store = SqliteStore(tmp_path / "mass.sqlite3")
    relay = await relay_factory(store=store, heartbeat_ttl_s=90.0, sweep_concurrency=4)
    await _seed(store, relay.core.clock() - 600)
    first = await relay.core.sweep(budget_s=0.0)
    assert first.expired == [] and len(first.deferred) == AGENTS
    second = await relay.core.sweep()
    assert len(second.expired) == AGENTS and second.deferred == []


class SlowPublisher:
    """The real publisher behind a fixed delay per publish: AppSync over the internet, not loopback."""

    def __init__(self, inner, delay_s: float) -> None:
        self.inner, self.delay_s, self.retry = inner, delay_s, inner.retry

    async def publish(self, channel, events):
        import asyncio

        await asyncio.sleep(self.delay_s)
        return await self.inner.publish(channel, events)

    async def close(self) -> None:
        await self.inner.close()


async def test_parallel_publishing_keeps_a_mass_expiry_within_budget_at_internet_latency(
        relay_factory, capture_events, tmp_path, caplog):
    from tests.fixtures.relay import test_publisher

    caplog.set_level(logging.WARNING)
    store = SqliteStore(tmp_path / "mass.sqlite3")
    # 20 ms a publish: one at a time, 2,000 would take 40 s, past a 15 s Lambda timeout.
    publisher = SlowPublisher(test_publisher(capture_events.http_url), 0.02)
    relay = await relay_factory(store=store, publisher=publisher, heartbeat_ttl_s=90.0, sweep_concurrency=16)
    await _seed(store, relay.core.clock() - 600)
    result = await relay.core.sweep(budget_s=10.0)
    assert result.deferred == [] and len(result.expired) == AGENTS
    assert len(capture_events.events()) == AGENTS
