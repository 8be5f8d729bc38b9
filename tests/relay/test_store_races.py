"""A race between heartbeats and conditional writes the DynamoDB store must not lose (moto server
endpoint). The SQLite store cannot interleave them: its update holds the write lock (BEGIN
IMMEDIATE) from read to write, and a heartbeat waits for it."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from presence_desktop.relay.dynamo_store import DynamoStore
from tests.relay.test_store_dynamodb import dynamo_client


class HeartbeatBetweenReadAndWrite:
    """Mixin: the next read of the agent's row is followed at once by a heartbeat (``touch``), as
    when a heartbeat request lands between the sweeper's read and its conditional write."""

    inject_at: float | None = None

    def _get(self, agent_id):  # runs in the store's worker thread
        row = super()._get(agent_id)
        if self.inject_at is not None:
            at, self.inject_at = self.inject_at, None
            self._touch(agent_id, at)
        return row


class RacyDynamoStore(HeartbeatBetweenReadAndWrite, DynamoStore):
    pass


@pytest.fixture
async def racy_store(moto_endpoint):
    store = RacyDynamoStore(f"presence-{uuid.uuid4().hex[:8]}", client=dynamo_client(moto_endpoint))
    await asyncio.to_thread(store.create_table)
    yield store  # closed by the relay harness


async def test_a_heartbeat_racing_the_sweeper_is_not_lost(relay_factory, token_minter, capture_events, racy_store):
    relay = await relay_factory(store=racy_store, heartbeat_ttl_s=0.3)
    token = token_minter.mint("agent-1")
    assert (await relay.call("POST", "/v1/status", token=token, json_body={"status": "available"}))[0] == 200
    await asyncio.sleep(0.6)  # overdue now
    beat = time.time()
    racy_store.inject_at = beat
    result = await relay.core.sweep()
    row = await racy_store.get("agent-1")
    assert row.last_seen == pytest.approx(beat, abs=0.001)  # the heartbeat was not overwritten
    assert result.expired == [] and row.event.status == "available"
    assert [e["status"] for e in capture_events.events("agent-1")] == ["available"]


async def test_a_heartbeat_racing_a_supervisor_change_is_not_lost(relay_factory, token_minter, capture_events, racy_store):
    relay = await relay_factory(store=racy_store)
    assert (await relay.call("POST", "/v1/status", token=token_minter.mint("agent-1"), json_body={"status": "available"}))[0] == 200
    beat = time.time() + 5
    racy_store.inject_at = beat
    sup = token_minter.mint("sup-1", groups=("supervisors",))
    status, body, _ = await relay.call("POST", "/v1/status", token=sup, json_body={"status": "break", "agent_id": "agent-1"})
    assert status == 200 and body["version"] == 2
    assert (await racy_store.get("agent-1")).last_seen == pytest.approx(beat, abs=0.001)
