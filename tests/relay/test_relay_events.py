"""The relay end to end with the real local services: tokens from the local Cognito (real SRP
sign-in), publishes SigV4-checked by the local AppSync Events server (TLS, agent-presence
namespace with its handlers), and a raw ``websockets`` subscriber receiving the events."""

from __future__ import annotations

import json
import uuid

import pytest

from presence_desktop.relay.cognito_jwt import CognitoTokenVerifier
from tests.fixtures.events import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, events_auth_for, recv_frame, ws_connect
from tests.fixtures.relay import test_publisher

CHANNEL_ALL = "/agent-presence/*"


@pytest.fixture
def cognito_verifier(local_cognito) -> CognitoTokenVerifier:
    return CognitoTokenVerifier(local_cognito.issuer, {local_cognito.client_id}, jwks_url=local_cognito.jwks_url)


@pytest.fixture
async def live(events_server_factory, events_local_ca, cognito_verifier, relay_factory):
    """(events server, its test auth, relay harness) wired together."""
    server = await events_server_factory(cognito_verifier=cognito_verifier)
    auth = events_auth_for(server, events_local_ca)
    publisher = test_publisher(server.http_url, events_local_ca.client_context(), attempts=2,
                               access_key_id=TEST_ACCESS_KEY_ID, secret_access_key=TEST_SECRET_ACCESS_KEY)
    relay = await relay_factory(publisher=publisher, verifier=cognito_verifier, rate_burst=100)
    return server, auth, relay


class Subscriber:
    """A raw AppSync Events WebSocket subscription with a Cognito id token."""

    def __init__(self, auth, token: str, channel: str = CHANNEL_ALL) -> None:
        self.auth, self.token, self.channel = auth, token, channel
        self.ws = None

    async def __aenter__(self) -> Subscriber:
        self.ws = await ws_connect(self.auth, connect_auth=self.auth.cognito_auth(self.token))
        await self.ws.send(json.dumps({"type": "connection_init"}))
        assert (await recv_frame(self.ws))["type"] == "connection_ack"
        sid = str(uuid.uuid4())
        await self.ws.send(json.dumps({"type": "subscribe", "id": sid, "channel": self.channel,
                                       "authorization": self.auth.cognito_auth(self.token)}))
        frame = await recv_frame(self.ws)
        assert frame == {"type": "subscribe_success", "id": sid}, frame
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def next_event(self, timeout: float = 15.0) -> dict:
        frame = await recv_frame(self.ws, timeout=timeout)
        assert frame["type"] == "data", frame
        return json.loads(frame["event"])

    async def events_for(self, seconds: float) -> list[dict]:
        out = []
        try:
            while True:
                out.append(await self.next_event(timeout=seconds))
        except TimeoutError:
            return out


async def test_status_is_stored_published_and_received(live, cognito_tokens):
    server, auth, relay = live
    agent = cognito_tokens("agent-1")["id_token"]
    watcher = cognito_tokens("agent-2")["id_token"]
    message = 'café ☕ "quoted" <b>&amp;</b> ünïcödé'
    async with Subscriber(auth, watcher) as sub:
        status, body, _ = await relay.call("POST", "/v1/status", token=agent, json_body={"status": "break", "message": message})
        assert status == 200, body
        received = await sub.next_event()
    assert received == body
    assert received["agent_id"] == "agent-1" and received["team_id"] == "team-1" and received["message"] == message
    stored = await relay.store.get("agent-1")
    assert stored.published and json.loads(stored.event_json) == received


async def test_supervisor_change_reaches_subscribers(live, cognito_tokens):
    server, auth, relay = live
    await relay.call("POST", "/v1/status", token=cognito_tokens("agent-3")["id_token"], json_body={"status": "available"})
    async with Subscriber(auth, cognito_tokens("agent-3")["id_token"], "/agent-presence/team-3/*") as sub:
        status, body, _ = await relay.call("POST", "/v1/status", token=cognito_tokens("sup-1")["id_token"],
                                           json_body={"status": "training", "agent_id": "agent-3"})
        assert status == 200, body
        received = await sub.next_event()
    assert received["source"] == "supervisor" and received["changed_by"] == "sup-1" and received["version"] == 2


async def test_real_access_token_is_refused(live, cognito_tokens):
    _, _, relay = live
    status, body, _ = await relay.call("POST", "/v1/status", token=cognito_tokens("agent-1")["access_token"],
                                       json_body={"status": "available"})
    assert status == 401 and "wrong_token_use" in body["error"]["message"]


async def test_events_server_down_then_back(live, cognito_tokens):
    server, auth, relay = live
    token = cognito_tokens("agent-5")["id_token"]
    await server.stop()
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "lunch"})
    assert status == 503 and body["error"]["code"] == "events_unavailable"
    assert not (await relay.store.get("agent-5")).published
    await server.start()  # same port
    async with Subscriber(auth, cognito_tokens("agent-2")["id_token"]) as sub:
        # The client's retry succeeds...
        status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "lunch"})
        assert status == 200 and body["version"] == 2
        assert (await sub.next_event())["version"] == 2
        # ...and the outbox no longer holds version 1: it was superseded, so nothing is resent.
        relay.core.limits.republish_after_s = 0.0
        assert (await relay.core.sweep()).republished == []
        assert await sub.events_for(0.5) == []


async def test_outbox_republishes_after_outage(live, cognito_tokens):
    server, auth, relay = live
    token = cognito_tokens("agent-6")["id_token"]
    await server.stop()
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "away", "message": "<back> & \"soon\""})
    assert status == 503
    stored = await relay.store.get("agent-6")
    await server.start()
    relay.core.limits.republish_after_s = 0.0
    async with Subscriber(auth, cognito_tokens("agent-2")["id_token"]) as sub:
        assert (await relay.core.sweep()).republished == ["agent-6"]
        received = await sub.next_event()
    assert received == json.loads(stored.event_json)  # version 1, same content as stored
    assert (await relay.store.get("agent-6")).published


async def test_heartbeat_expiry_one_offline_event(live, cognito_tokens):
    server, auth, relay = live
    relay.core.limits.heartbeat_ttl_s = 1.0
    relay.service.sweep_interval_s = 0.2
    # The sweeper task sleeps sweep_interval_s between rounds; restart it to pick up the new interval.
    await relay.service.stop_sweeper()
    relay.service.start_sweeper()
    token = cognito_tokens("agent-7")["id_token"]
    async with Subscriber(auth, cognito_tokens("agent-2")["id_token"], "/agent-presence/team-3/*") as sub:
        status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "available"})
        assert status == 200 and body["team_id"] == "team-3"
        assert (await sub.next_event())["status"] == "available"
        events = await sub.events_for(3.0)
    assert [(e["agent_id"], e["status"], e["source"], e["version"]) for e in events] == [("agent-7", "offline", "system", 2)]
