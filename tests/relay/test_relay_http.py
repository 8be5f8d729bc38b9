"""The relay over HTTP (aiohttp adapter) with test-minted tokens and a SigV4-checking capture
endpoint: authentication (401), authorization (403), validation (400/413), rate limits (429),
versions under concurrency, publish failures and the outbox, heartbeat expiry."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.fixtures.common import wait_until
from tests.fixtures.relay import TEST_ISSUER


async def test_valid_token_stores_and_publishes(relay_factory, token_minter, capture_events):
    relay = await relay_factory()
    token = token_minter.mint("agent-1", team_id="team-1", extra={"name": "Ada Lovelace"})
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "available", "message": "hi"})
    assert status == 200, body
    assert body["kind"] == "presence" and body["schema"] == 1
    assert body["agent_id"] == "agent-1" and body["team_id"] == "team-1" and body["display_name"] == "Ada Lovelace"
    assert body["status"] == "available" and body["message"] == "hi" and body["version"] == 1
    assert body["source"] == "manual" and body["changed_by"] == "agent-1"
    stored = await relay.store.get("agent-1")
    assert stored.published and json.loads(stored.event_json) == body
    channel, event_json, _ = capture_events.accepted[-1]
    assert channel == "/agent-presence/team-1/agent-1"
    assert event_json == stored.event_json  # the stored bytes are what was published


@pytest.mark.parametrize(
    "kind",
    ["forged", "wrong_issuer", "wrong_client", "expired", "access_token", "garbage", "missing", "basic"],
)
async def test_bad_tokens_get_401(relay_factory, token_minter, capture_events, kind):
    relay = await relay_factory()
    tokens = {
        "forged": token_minter.mint("agent-1", forged=True),
        "wrong_issuer": token_minter.mint("agent-1", issuer=TEST_ISSUER + "x"),
        "wrong_client": token_minter.mint("agent-1", client_id="someotherclient"),
        "expired": token_minter.mint("agent-1", exp_in=-3600),
        "access_token": token_minter.mint("agent-1", token_use="access"),
        "garbage": "not.a.jwt",
    }
    headers = {}
    if kind == "basic":
        headers["Authorization"] = "Basic YWdlbnQtMTpwdw=="
    status, body, hdrs = await relay.call("POST", "/v1/status", token=tokens.get(kind), json_body={"status": "available"}, headers=headers)
    assert status == 401, body
    assert body["error"]["code"] in {"invalid_token", "missing_token"}
    assert "Bearer" in hdrs.get("WWW-Authenticate", "")
    expected = {"forged": "invalid_signature", "wrong_issuer": "wrong_issuer", "wrong_client": "wrong_client",
                "expired": "expired", "access_token": "wrong_token_use"}.get(kind)
    if expected:
        assert body["error"]["message"].startswith(expected)
    assert await relay.store.get("agent-1") is None and capture_events.accepted == []


async def test_agent_cannot_set_another_agent(relay_factory, token_minter, capture_events):
    relay = await relay_factory()
    await relay.call("POST", "/v1/status", token=token_minter.mint("agent-2"), json_body={"status": "available"})
    status, body, _ = await relay.call("POST", "/v1/status", token=token_minter.mint("agent-1"),
                                       json_body={"status": "break", "agent_id": "agent-2"})
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert (await relay.store.get("agent-2")).event.status == "available"


async def test_supervisor_sets_another_agent(relay_factory, token_minter, capture_events):
    relay = await relay_factory()
    await relay.call("POST", "/v1/status", token=token_minter.mint("agent-7", team_id="team-3"), json_body={"status": "available"})
    sup = token_minter.mint("sup-1", groups=("supervisors",), team_id="team-1", supervises="team-2,team-3")
    status, body, _ = await relay.call("POST", "/v1/status", token=sup,
                                       json_body={"status": "training", "agent_id": "agent-7", "message": "room 4"})
    assert status == 200, body
    assert body["agent_id"] == "agent-7" and body["team_id"] == "team-3" and body["status"] == "training"
    assert body["source"] == "supervisor" and body["changed_by"] == "sup-1" and body["version"] == 2
    assert capture_events.accepted[-1][0] == "/agent-presence/team-3/agent-7"
    # An agent that never used the relay has no team to publish to.
    status, body, _ = await relay.call("POST", "/v1/status", token=sup, json_body={"status": "away", "agent_id": "agent-99"})
    assert status == 404 and body["error"]["code"] == "unknown_agent"


@pytest.mark.parametrize(
    "payload, code",
    [
        ({"status": "sleeping"}, "unknown_status"),
        ({"status": "unknown"}, "unknown_status"),
        ({}, "invalid_request"),
        ({"status": 3}, "invalid_request"),
        ({"status": "away", "message": "x" * 141}, "message_too_long"),
        ({"status": "away", "message": 5}, "invalid_request"),
        ({"status": "away", "colour": "red"}, "unknown_field"),
        ({"status": "break", "source": "system"}, "invalid_request"),  # system: the signed-in status only
        ({"status": "away", "source": "supervisor"}, "invalid_request"),
        ({"status": "away", "agent_id": "bad/id"}, "invalid_request"),
    ],
)
async def test_invalid_status_requests_get_400(relay_factory, token_minter, capture_events, payload, code):
    relay = await relay_factory()
    status, body, _ = await relay.call("POST", "/v1/status", token=token_minter.mint("agent-1"), json_body=payload)
    assert status == 400 and body["error"]["code"] == code, body
    assert capture_events.accepted == []


async def test_idle_and_signed_in_sources_from_the_agent_itself(relay_factory, token_minter, capture_events):
    """The agent's day: ``idle`` is accepted as is; ``system`` (signed in) only over no status
    or offline, so it can never replace a status someone chose."""
    relay = await relay_factory()
    token = token_minter.mint("agent-1", team_id="team-1")
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "away", "source": "system"})
    assert status == 200 and body["source"] == "system" and body["version"] == 1, body
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "available"})
    assert status == 200
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "away", "source": "system"})
    assert status == 409 and body["error"]["code"] == "status_already_set", body
    assert (await relay.store.get("agent-1")).event.status == "available"
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "away", "source": "idle"})
    assert status == 200 and body["source"] == "idle" and body["changed_by"] == "agent-1"
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "offline"})
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "away", "source": "system"})
    assert status == 200 and body["version"] == 5  # over offline: signed in again


async def test_not_json_gets_400(relay_factory, token_minter):
    relay = await relay_factory()
    status, body, _ = await relay.call("POST", "/v1/status", token=token_minter.mint("agent-1"), data=b"{nope")
    assert status == 400 and body["error"]["code"] == "invalid_json"


async def test_message_of_140_chars_is_accepted(relay_factory, token_minter, capture_events):
    relay = await relay_factory()
    status, body, _ = await relay.call("POST", "/v1/status", token=token_minter.mint("agent-1"),
                                       json_body={"status": "away", "message": "é" * 140})
    assert status == 200 and body["message"] == "é" * 140


async def test_oversized_body_gets_413(relay_factory, token_minter, capture_events):
    relay = await relay_factory(max_body_bytes=1024)
    token = token_minter.mint("agent-1")
    big = json.dumps({"status": "away", "message": "x" * 5000}).encode()
    status, body, _ = await relay.call("POST", "/v1/status", token=token, data=big)
    assert status == 413 and body["error"]["code"] == "body_too_large"

    async def chunks():  # no Content-Length: the limit holds on the stream too
        for _ in range(10):
            yield b"x" * 500

    async with relay.session.post(relay.url + "/v1/status", data=chunks(), headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 413 and (await resp.json())["error"]["code"] == "body_too_large"
    assert await relay.store.get("agent-1") is None


async def test_rate_limit_gets_429_with_retry_after(relay_factory, token_minter, capture_events):
    relay = await relay_factory(rate_per_s=0.5, rate_burst=3)
    token = token_minter.mint("agent-1")
    codes = [(await relay.call("POST", "/v1/heartbeat", token=token))[0] for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    status, body, hdrs = await relay.call("POST", "/v1/heartbeat", token=token)
    assert status == 429 and body["error"]["code"] == "rate_limited" and int(hdrs["Retry-After"]) >= 1
    # Another user has a bucket of its own.
    assert (await relay.call("POST", "/v1/heartbeat", token=token_minter.mint("agent-2")))[0] == 200


async def test_unknown_path_and_method(relay_factory, token_minter):
    relay = await relay_factory()
    status, body, _ = await relay.call("GET", "/v2/nothing", token=token_minter.mint("agent-1"))
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body, hdrs = await relay.call("GET", "/v1/status", token=token_minter.mint("agent-1"))
    assert status == 405 and hdrs["Allow"] == "POST"


async def test_users_outside_the_agent_groups_or_without_team_get_403(relay_factory, token_minter):
    relay = await relay_factory()
    status, body, _ = await relay.call("POST", "/v1/status", token=token_minter.mint("outsider", groups=()), json_body={"status": "available"})
    assert status == 403 and body["error"]["code"] == "not_an_agent"
    status, body, _ = await relay.call("POST", "/v1/status", token=token_minter.mint("agent-1", team_id=None), json_body={"status": "available"})
    assert status == 403 and body["error"]["code"] == "no_team"


async def test_expected_version_conflict_gets_409(relay_factory, token_minter, capture_events):
    relay = await relay_factory()
    token = token_minter.mint("agent-1")
    assert (await relay.call("POST", "/v1/status", token=token, json_body={"status": "available", "expected_version": 0}))[0] == 200
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "break", "expected_version": 0})
    assert status == 409 and body["error"]["code"] == "version_conflict"
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "break", "expected_version": 1})
    assert status == 200 and body["version"] == 2


async def test_50_concurrent_updates_for_one_agent(relay_factory, token_minter, capture_events):
    relay = await relay_factory(rate_burst=100, user_rate_per_min=0)  # concurrency, not rate limits
    token = token_minter.mint("agent-1")
    statuses = ["available", "on_call", "after_call_work", "break", "away"]
    results = await asyncio.gather(*[
        relay.call("POST", "/v1/status", token=token, json_body={"status": statuses[i % 5], "message": f"update {i}"})
        for i in range(50)
    ])
    assert all(r[0] == 200 for r in results), [r for r in results if r[0] != 200][:3]
    versions = sorted(r[1]["version"] for r in results)
    assert versions == list(range(1, 51))  # strictly increasing, none lost, none duplicated
    final = await relay.store.get("agent-1")
    assert final.version == 50 and final.published
    published = capture_events.events("agent-1")
    assert sorted(e["version"] for e in published) == list(range(1, 51))
    # Each published version carries exactly the content returned for that version.
    by_version = {r[1]["version"]: r[1] for r in results}
    assert all(by_version[e["version"]] == e for e in published)


async def test_roster_visibility(relay_factory, token_minter, capture_events):
    relay = await relay_factory(rate_burst=100)
    for i, team in ((1, "team-1"), (2, "team-2"), (5, "team-1")):
        await relay.call("POST", "/v1/status", token=token_minter.mint(f"agent-{i}", team_id=team), json_body={"status": "available"})
    agent = token_minter.mint("agent-1", team_id="team-1")
    status, body, _ = await relay.call("GET", "/v1/roster", token=agent)
    assert status == 200 and [a["agent_id"] for a in body["agents"]] == ["agent-1", "agent-5"]
    assert body["as_of"].endswith("Z") and body["heartbeat_ttl_s"] > 0
    assert (await relay.call("GET", "/v1/roster?team=team-1", token=agent))[0] == 200
    status, body, _ = await relay.call("GET", "/v1/roster?team=team-2", token=agent)
    assert status == 403 and body["error"]["code"] == "team_forbidden"
    sup = token_minter.mint("sup-1", groups=("supervisors",), team_id="team-1", supervises="team-2")
    status, body, _ = await relay.call("GET", "/v1/roster", token=sup)
    assert status == 400 and body["error"]["code"] == "team_required"
    status, body, _ = await relay.call("GET", "/v1/roster?team=team-1", token=sup)
    assert status == 403 and body["error"]["code"] == "team_forbidden"
    manager = token_minter.mint("mgr-1", groups=("managers",), team_id=None)
    status, body, _ = await relay.call("GET", "/v1/roster", token=manager)
    assert [a["agent_id"] for a in body["agents"]] == ["agent-1", "agent-2", "agent-5"] and body["next"] is None
    status, body, _ = await relay.call("GET", "/v1/roster?team=team-2", token=sup)
    assert [a["agent_id"] for a in body["agents"]] == ["agent-2"]
    entry = body["agents"][0]
    assert entry["kind"] == "presence" and entry["version"] == 1
    assert abs(entry.pop("last_seen") - time.time()) < 60  # epoch seconds of the last sign of life
    assert entry == json.loads((await relay.store.get("agent-2")).event_json)


async def test_heartbeat_reports_current_status(relay_factory, token_minter, capture_events):
    relay = await relay_factory()
    token = token_minter.mint("agent-1")
    status, body, _ = await relay.call("POST", "/v1/heartbeat", token=token)
    assert status == 200 and body["status"] is None and body["version"] is None
    await relay.call("POST", "/v1/status", token=token, json_body={"status": "lunch"})
    status, body, _ = await relay.call("POST", "/v1/heartbeat", token=token, json_body={})
    assert body == {"agent_id": "agent-1", "team_id": "team-1", "status": "lunch", "version": 1,
                    "heartbeat_ttl_s": relay.core.limits.heartbeat_ttl_s}


async def test_events_down_error_reported_then_retry_succeeds(relay_factory, token_minter, capture_events):
    relay = await relay_factory()
    token = token_minter.mint("agent-1")
    await capture_events.stop()
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "available"})
    assert status == 503 and body["error"]["code"] == "events_unavailable"
    assert "version 1" in body["error"]["message"] and body["error"]["stored_version"] == 1
    stored = await relay.store.get("agent-1")
    assert stored.version == 1 and not stored.published  # stored, in the outbox
    await capture_events.start()  # back, same port
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "available"})
    assert status == 200 and body["version"] == 2
    assert [e["version"] for e in capture_events.events("agent-1")] == [2]


async def test_5xx_is_retried_and_4xx_is_not(relay_factory, token_minter, capture_events):
    relay = await relay_factory()
    token = token_minter.mint("agent-1")
    capture_events.fail_with[:] = [500, 503]
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "available"})
    assert status == 200 and capture_events.requests == 3
    capture_events.fail_with[:] = [403]
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "break"})
    assert status == 502 and body["error"]["code"] == "publish_rejected" and capture_events.requests == 4


async def test_outbox_republishes_the_same_bytes(relay_factory, token_minter, capture_events):
    relay = await relay_factory(republish_after_s=0.0)
    token = token_minter.mint("agent-1")
    capture_events.fail_with[:] = [500] * 3
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "away", "message": "«back» <soon> & \"ok\""})
    assert status == 503
    stored = await relay.store.get("agent-1")
    result = await relay.core.sweep()
    assert result.republished == ["agent-1"]
    assert capture_events.accepted[-1][1] == stored.event_json  # identical content for version 1
    assert (await relay.store.get("agent-1")).published
    assert (await relay.core.sweep()).republished == []  # published once, not again


async def test_heartbeat_expiry_publishes_exactly_one_offline(relay_factory, token_minter, capture_events):
    relay = await relay_factory(heartbeat_ttl_s=1.0, sweep_interval_s=0.2)
    a1, a2 = token_minter.mint("agent-1"), token_minter.mint("agent-2")
    await relay.call("POST", "/v1/status", token=a1, json_body={"status": "available"})
    await relay.call("POST", "/v1/status", token=a2, json_body={"status": "available"})
    # agent-2 keeps heartbeating, agent-1 goes silent.
    async def keep_alive():
        while True:
            await asyncio.sleep(0.25)
            assert (await relay.call("POST", "/v1/heartbeat", token=a2))[0] == 200

    beating = asyncio.create_task(keep_alive())
    try:
        await wait_until(lambda: [e for e in capture_events.events("agent-1") if e["status"] == "offline"])
        await asyncio.sleep(1.5)  # several more sweeps
    finally:
        beating.cancel()
    offline = [e for e in capture_events.events("agent-1") if e["status"] == "offline"]
    assert len(offline) == 1
    assert offline[0]["source"] == "system" and offline[0]["version"] == 2 and offline[0]["changed_by"] is None
    assert [e["status"] for e in capture_events.events("agent-2")] == ["available"]
    status, body, _ = await relay.call("POST", "/v1/heartbeat", token=a1)
    assert body["status"] == "offline"  # the app learns it was expired and can set its status again


async def test_a_rejected_version_is_retried_by_the_sweeper_after_a_growing_pause(relay_factory, token_minter, capture_events, monkeypatch):
    """It used to be remembered as rejected and never sent again: the agent's status stayed
    unpublished for ever (e.g. until a relay restart after the credentials were fixed)."""
    now = [time.time()]
    relay = await relay_factory(republish_after_s=0.0, rejected_retry_s=10.0, rejected_retry_max_s=25.0)
    relay.core.clock = lambda: now[0]  # the pause is kept in the store as a time on the relay's clock
    capture_events.fail_with[:] = [400, 400]
    status, body, _ = await relay.call("POST", "/v1/status", token=token_minter.mint("agent-1"), json_body={"status": "away"})
    assert status == 502 and body["error"]["code"] == "publish_rejected" and body["error"]["stored_version"] == 1
    result = await relay.core.sweep()  # within the pause: not sent again yet
    assert result.republished == [] and result.failed == [] and capture_events.requests == 1
    now[0] += 10.0
    assert (await relay.core.sweep()).failed == ["agent-1"] and capture_events.requests == 2  # refused again
    now[0] += 10.0
    assert (await relay.core.sweep()).republished == [] and capture_events.requests == 2  # the pause doubled
    now[0] += 10.0
    assert (await relay.core.sweep()).republished == ["agent-1"] and capture_events.requests == 3
    assert (await relay.store.get("agent-1")).published
    assert [e["version"] for e in capture_events.events("agent-1")] == [1]


async def test_a_restarted_relay_continues_a_refused_versions_pause(relay_factory, token_minter, capture_events, tmp_path):
    """The refusals were counted per process: a restarted relay (or another Lambda container)
    started the pause again from ``rejected_retry_s``, and retried a refused version every 10 s."""
    from presence_desktop.relay.store import SqliteStore

    now = [time.time()]
    limits = {"republish_after_s": 0.0, "rejected_retry_s": 10.0, "rejected_retry_max_s": 1000.0}
    first = await relay_factory(**limits)
    first.core.clock = lambda: now[0]
    capture_events.fail_with[:] = [400, 400, 400]
    status, body, _ = await first.call("POST", "/v1/status", token=token_minter.mint("agent-1"), json_body={"status": "away"})
    assert status == 502 and body["error"]["stored_version"] == 1  # refusal 1: 10 s
    now[0] += 10.0
    assert (await first.core.sweep()).failed == ["agent-1"]  # refusal 2: 20 s
    second = await relay_factory(store=SqliteStore(tmp_path / "relay-0.sqlite3"), **limits)  # the relay restarted
    second.core.clock = lambda: now[0]
    now[0] += 20.0
    assert (await second.core.sweep()).failed == ["agent-1"] and capture_events.requests == 3  # refusal 3: 40 s
    now[0] += 20.0
    assert (await second.core.sweep()).republished == [] and capture_events.requests == 3  # not 10 s again
    now[0] += 20.0
    assert (await second.core.sweep()).republished == ["agent-1"] and capture_events.requests == 4


async def test_sweep_stops_publishing_when_events_are_down(relay_factory, token_minter, capture_events):
    # One at a time: with more in flight, each publish already started also runs its tries.
    relay = await relay_factory(heartbeat_ttl_s=0.2, republish_after_s=0.0, rate_burst=100, sweep_concurrency=1)
    for i in range(1, 4):
        assert (await relay.call("POST", "/v1/status", token=token_minter.mint(f"agent-{i}"), json_body={"status": "available"}))[0] == 200
    await asyncio.sleep(0.4)
    capture_events.fail_with[:] = [503] * 100
    result = await relay.core.sweep()
    assert result.expired == ["agent-1", "agent-2", "agent-3"] and sorted(result.failed) == result.expired
    assert capture_events.requests == 3 + 3  # one agent's publish tries (3), then the round only stores
    capture_events.fail_with.clear()
    result = await relay.core.sweep()  # events back: the outbox goes out, each version once
    assert result.expired == [] and result.republished == ["agent-1", "agent-2", "agent-3"]
    assert [e["status"] for e in capture_events.events()] == ["available"] * 3 + ["offline"] * 3
