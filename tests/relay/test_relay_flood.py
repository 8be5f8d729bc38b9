"""What keeps a flood from exhausting or billing the relay (issue 17, item 4): junk bearer tokens
refused before any verification work, a per-user limit that holds across relay processes (the
store's counter), and a refusal AppSync gave remembered by every process (the store's flag)."""

from __future__ import annotations

import time

import pytest

from presence_desktop.relay.core import plausible_bearer
from presence_desktop.relay.store import SqliteStore


class CountingVerifier:
    """Wraps a verifier and counts the tokens it was asked to verify."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = 0

    async def verify_async(self, token, token_use="id"):
        self.calls += 1
        return await self.inner.verify_async(token, token_use=token_use)


@pytest.mark.parametrize("junk", [
    "x", "null", "a.b.c", "not a token at all with spaces",
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0",  # two parts
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln+bmF0dXJlLWJ5dGVz",  # '+' is not base64url
])
async def test_implausible_bearer_tokens_are_refused_before_verification(relay_factory, token_minter, junk):
    verifier = CountingVerifier(token_minter.verifier())
    relay = await relay_factory(verifier=verifier)
    status, body, headers = await relay.call("POST", "/v1/heartbeat", token=junk)
    assert status == 401 and body["error"]["code"] == "invalid_token" and "malformed" in body["error"]["message"]
    assert verifier.calls == 0
    # A real token still goes to the verifier.
    assert (await relay.call("POST", "/v1/heartbeat", token=token_minter.mint("agent-1")))[0] == 200
    assert verifier.calls == 1


def test_a_minted_token_is_plausible(token_minter):
    assert plausible_bearer(token_minter.mint("agent-1"))
    assert not plausible_bearer(token_minter.mint("agent-1") + "." + "A" * 20)
    assert not plausible_bearer("eyJhbGciOiJSUzI1NiJ9." + "A" * 9000 + ".c2lnbmF0dXJlLWJ5dGVz")  # over 8192


async def test_the_per_user_limit_holds_across_relay_processes(relay_factory, token_minter, tmp_path):
    shared = tmp_path / "shared.sqlite3"
    # Two relays (two Lambda containers) on one store; each process's own bucket is generous.
    one = await relay_factory(store=SqliteStore(shared), rate_burst=100, user_rate_per_min=6)
    two = await relay_factory(store=SqliteStore(shared), rate_burst=100, user_rate_per_min=6)
    token = token_minter.mint("agent-1")
    answers = []
    for i in range(8):
        relay = (one, two)[i % 2]
        answers.append((await relay.call("GET", "/v1/roster", token=token))[0])
    assert answers == [200] * 6 + [429] * 2
    status, body, headers = await two.call("POST", "/v1/status", token=token, json_body={"status": "away"})
    assert status == 429 and body["error"]["code"] == "rate_limited" and 1 <= int(headers["Retry-After"]) <= 60
    # Heartbeats are not counted (each costs one write, as its count would).
    assert (await one.call("POST", "/v1/heartbeat", token=token))[0] == 200
    # Another user has a budget of their own.
    assert (await two.call("GET", "/v1/roster", token=token_minter.mint("agent-2")))[0] == 200


async def test_sqlite_rate_window_resets(tmp_path):
    store = SqliteStore(tmp_path / "rate.sqlite3")
    assert [await store.take_rate("k", 120.0 + i, 60.0, 2) for i in range(2)] == [0.0, 0.0]
    assert await store.take_rate("k", 130.0, 60.0, 2) == pytest.approx(50.0)
    assert await store.take_rate("k", 180.0, 60.0, 2) == 0.0  # next window
    await store.close()


async def test_a_refusal_is_remembered_by_every_relay_process(relay_factory, token_minter, capture_events, tmp_path):
    shared = tmp_path / "shared.sqlite3"
    first = await relay_factory(store=SqliteStore(shared), republish_after_s=0.0)
    capture_events.fail_with[:] = [400]
    status, body, _ = await first.call("POST", "/v1/status", token=token_minter.mint("agent-1"), json_body={"status": "away"})
    assert status == 502 and body["error"]["code"] == "publish_rejected"
    # A new container (no memory of the refusal) runs the sweeper: it must not resend it.
    fresh = await relay_factory(store=SqliteStore(shared), republish_after_s=0.0)
    result = await fresh.core.sweep()
    assert result.republished == [] and result.failed == [] and capture_events.requests == 1
    assert await fresh.store.unpublished(time.time()) == []


async def test_republish_waits_for_a_requests_worst_case(relay_factory):
    relay = await relay_factory()
    retry = relay.core.publisher.retry
    assert relay.core.limits.republish_after_s >= retry.attempts * retry.timeout_s
    assert relay.core.limits.republish_after_s == pytest.approx(retry.worst_case_s() + 5.0)
