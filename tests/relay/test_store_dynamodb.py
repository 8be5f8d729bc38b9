"""DynamoDB store against the moto server endpoint (never mock_aws): conditional versions under
concurrency, outbox flag, heartbeats, stale scan, TTL attribute."""

from __future__ import annotations

import asyncio
import uuid

import boto3
import pytest

from presence_desktop.domain.presence import PresenceEvent
from presence_desktop.relay.dynamo_store import DynamoStore
from presence_desktop.relay.store import StoredPresence, VersionConflict


def next_row(agent: str, status: str, team: str = "team-1", last_seen: float | None = 100.0):
    def fn(current: StoredPresence | None) -> StoredPresence:
        version = (current.version if current else 0) + 1
        event = PresenceEvent(agent_id=agent, team_id=team, display_name=f"{agent} «x» <&>", status=status,
                              version=version, changed_at="2026-11-29T19:00:00.000Z", changed_by=agent)
        return StoredPresence.new(event, last_seen)

    return fn


def dynamo_client(endpoint: str):
    return boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint,
                        aws_access_key_id="local", aws_secret_access_key="local")


@pytest.fixture
async def dstore(moto_endpoint):
    store = DynamoStore(f"presence-{uuid.uuid4().hex[:8]}", client=dynamo_client(moto_endpoint))
    await asyncio.to_thread(store.create_table)
    yield store
    await store.close()


async def test_table_has_ttl_on_expires_at(dstore):
    ttl = dstore.client.describe_time_to_live(TableName=dstore.table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at" and ttl["TimeToLiveStatus"] == "ENABLED"
    _, row = await dstore.update("agent-1", next_row("agent-1", "available", last_seen=1000.0))
    item = dstore.client.get_item(TableName=dstore.table, Key={"pk": {"S": "agent#agent-1"}, "sk": {"S": "presence"}})["Item"]
    assert int(item["expires_at"]["N"]) == 1000 + 90 * 24 * 3600
    assert item["event_json"]["S"] == row.event_json


async def test_versions_and_conditional_writes(dstore):
    old, v1 = await dstore.update("agent-1", next_row("agent-1", "available"))
    assert old is None and v1.version == 1
    old, v2 = await dstore.update("agent-1", next_row("agent-1", "break"))
    assert old.version == 1 and v2.version == 2
    got = await dstore.get("agent-1")
    assert got.event == v2.event and got.event_json == v2.event_json and not got.published

    def same_version(current):
        return StoredPresence.new(current.event.with_(status="away"), 1.0)

    with pytest.raises(VersionConflict):
        await dstore.update("agent-1", same_version)
    assert (await dstore.get("agent-1")).event.status == "break"


async def test_50_concurrent_updates_get_distinct_versions(dstore, moto_endpoint):
    # Two stores (two "Lambda containers") on one table race for the same agent.
    other = DynamoStore(dstore.table, client=dynamo_client(moto_endpoint))
    results = await asyncio.gather(
        *[(dstore if i % 2 else other).update("agent-1", next_row("agent-1", "available")) for i in range(50)]
    )
    assert sorted(new.version for _, new in results) == list(range(1, 51))
    assert (await dstore.get("agent-1")).version == 50


async def test_outbox_touch_stale_list(dstore):
    await dstore.update("agent-1", next_row("agent-1", "available", last_seen=100.0))
    await dstore.update("agent-2", next_row("agent-2", "offline", team="team-2", last_seen=100.0))
    await dstore.update("agent-3", next_row("agent-3", "break", last_seen=200.0))
    assert [r.agent_id for r in await dstore.unpublished()] == ["agent-1", "agent-2", "agent-3"]
    await dstore.mark_published("agent-1", 1)
    await dstore.mark_published("agent-3", 7)  # not the stored version: ignored
    assert [r.agent_id for r in await dstore.unpublished()] == ["agent-2", "agent-3"]
    assert [r.agent_id for r in await dstore.stale(150.0)] == ["agent-1"]
    row = await dstore.touch("agent-1", 300.0)
    assert row.last_seen == 300.0 and row.version == 1 and row.published
    assert (await dstore.touch("agent-1", 250.0)).last_seen == 300.0  # never goes back
    assert await dstore.stale(150.0) == []
    assert await dstore.touch("nobody", 1.0) is None
    assert [r.agent_id for r in await dstore.list()] == ["agent-1", "agent-2", "agent-3"]
    assert [r.agent_id for r in await dstore.list("team-2")] == ["agent-2"]


async def test_relay_core_over_dynamodb(dstore, relay_factory, token_minter, capture_events):
    relay = await relay_factory(store=dstore, heartbeat_ttl_s=0.5)
    token = token_minter.mint("agent-4", team_id="team-4")
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "on_call"})
    assert status == 200 and body["version"] == 1
    assert (await dstore.get("agent-4")).published
    await asyncio.sleep(0.7)
    result = await relay.core.sweep()
    assert result.expired == ["agent-4"]
    assert (await relay.core.sweep()).expired == []  # once
    assert [e["status"] for e in capture_events.events("agent-4")] == ["on_call", "offline"]
