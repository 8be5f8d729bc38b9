"""DynamoDB store against the moto server endpoint (never mock_aws): conditional versions under
concurrency, outbox flag, heartbeats, stale scan, TTL attribute."""

from __future__ import annotations

import asyncio
import time
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
    assert [r.agent_id for r in await dstore.unpublished(time.time())] == ["agent-1", "agent-2", "agent-3"]
    await dstore.mark_published("agent-1", 1)
    await dstore.mark_published("agent-3", 7)  # not the stored version: ignored
    assert [r.agent_id for r in await dstore.unpublished(time.time())] == ["agent-2", "agent-3"]
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


def _record_operations(client) -> list[str]:
    calls: list[str] = []
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    return calls


async def test_team_roster_is_a_query_of_the_team_index_not_a_scan(dstore):
    for i in range(1, 8):
        await dstore.update(f"agent-{i}", next_row(f"agent-{i}", "available", team=f"team-{i % 2 + 1}"))
    table = dstore.client.describe_table(TableName=dstore.table)["Table"]
    indexes = {g["IndexName"]: g for g in table["GlobalSecondaryIndexes"]}
    assert {"by-team", "outbox"} <= set(indexes)
    assert all(g["Projection"]["ProjectionType"] == "KEYS_ONLY" for g in indexes.values()), "a heartbeat must write no index"
    calls = _record_operations(dstore.client)
    rows = await dstore.list("team-1")
    assert [r.agent_id for r in rows] == ["agent-2", "agent-4", "agent-6"]
    assert "Scan" not in calls and calls[0] == "Query" and "BatchGetItem" in calls
    # Pages: after a cursor, at most `limit`, in agent id order.
    assert [r.agent_id for r in await dstore.list("team-2", limit=2)] == ["agent-1", "agent-3"]
    assert [r.agent_id for r in await dstore.list("team-2", after="agent-3", limit=2)] == ["agent-5", "agent-7"]
    assert await dstore.list("team-9") == []
    # Every team (managers): Scan pages continue after the cursor, each row once.
    seen, after = [], None
    while True:
        page = await dstore.list(None, after=after, limit=3)
        seen += [r.agent_id for r in page]
        if len(page) < 3:
            break
        after = page[-1].agent_id
    assert sorted(seen) == [f"agent-{i}" for i in range(1, 8)]


async def test_the_outbox_is_a_sparse_index_and_the_sweeper_scans_once(dstore):
    await dstore.update("agent-1", next_row("agent-1", "available", last_seen=100.0))
    await dstore.update("agent-2", next_row("agent-2", "available", last_seen=100.0))
    await dstore.mark_published("agent-1", 1)
    item = dstore.client.get_item(TableName=dstore.table, Key={"pk": {"S": "agent#agent-1"}, "sk": {"S": "presence"}})["Item"]
    assert "outbox" not in item, "a published item leaves the sparse outbox index"
    calls = _record_operations(dstore.client)
    assert [r.agent_id for r in await dstore.unpublished(time.time())] == ["agent-2"]
    assert "Scan" not in calls
    calls.clear()
    assert [r.agent_id for r in await dstore.stale(150.0)] == ["agent-1", "agent-2"]
    assert calls == ["Scan"]


async def test_rate_counter_is_one_item_per_key_and_holds_across_clients(dstore, moto_endpoint):
    other = DynamoStore(dstore.table, client=dynamo_client(moto_endpoint))
    waits = [await (dstore, other)[i % 2].take_rate("user#s-1", 125.0 + i, 60.0, 3) for i in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0] and waits[3] == pytest.approx(180.0 - 128.0)
    assert await dstore.take_rate("user#s-1", 181.0, 60.0, 3) == 0.0  # a new window
    items = dstore.client.scan(TableName=dstore.table)["Items"]
    assert [i["pk"]["S"] for i in items] == ["rate#user#s-1"]
    assert items[0]["n"]["N"] == "1" and int(items[0]["expires_at"]["N"]) == (3 + 2) * 60  # window 3 ends at 240; kept a window longer
    assert await dstore.list() == []  # never mistaken for an agent
    await other.close()


async def test_rejected_version_leaves_the_outbox(dstore):
    await dstore.update("agent-1", next_row("agent-1", "available"))
    assert await dstore.mark_rejected("agent-1", 1, lambda n: time.time() + 60) == 1
    assert await dstore.unpublished(time.time()) == []
    assert [r.version for r in await dstore.unpublished(time.time() + 61)] == [1]  # tried again after the pause
    await dstore.update("agent-1", next_row("agent-1", "break"))  # a newer version is due again
    assert [r.version for r in await dstore.unpublished(time.time())] == [2]
    assert await dstore.mark_rejected("agent-1", 1, lambda n: time.time() + 60) is None  # stale refusal: leaves version 2 alone
    assert [r.version for r in await dstore.unpublished(time.time())] == [2]


async def test_refusals_of_a_version_add_up_in_the_table(dstore):
    """The count lived in each relay process: a restarted relay (or another Lambda container)
    started a refused version's pause again from the first step."""
    await dstore.update("agent-1", next_row("agent-1", "available"))
    asked = []

    def retry_at_for(n):
        asked.append(n)
        return 1000.0 * n

    assert [await dstore.mark_rejected("agent-1", 1, retry_at_for) for _ in range(3)] == [1, 2, 3]
    assert asked == [1, 2, 3]
    assert await dstore.unpublished(2999.0) == [] and [r.version for r in await dstore.unpublished(3000.0)] == [1]
    await dstore.update("agent-1", next_row("agent-1", "break"))
    assert await dstore.mark_rejected("agent-1", 2, retry_at_for) == 1  # a new version starts again
