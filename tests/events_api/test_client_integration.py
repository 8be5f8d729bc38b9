"""EventsClient against the real local events server (presence_desktop.devstack.events_server,
fixture ``events_server_factory`` from tests/fixtures/events.py) and its fault-injection hooks.

Cognito tokens are minted here with a test RSA key that the server's CognitoTokenVerifier trusts
(static JWKS, no leeway), so expiry can be made to happen within a test."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import jwt
import pytest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives.asymmetric import rsa

from presence_desktop.devstack.events_server import Limits
from presence_desktop.domain.presence import PresenceEvent
from presence_desktop.events_api.auth import ApiKeyAuth, CognitoAuth, IamAuth
from presence_desktop.events_api.client import Backoff, EventsClient, LostEvents, PublishError, SubscriptionError
from presence_desktop.relay.cognito_jwt import CognitoTokenVerifier
from tests.fixtures.common import wait_until
from tests.fixtures.events import (
    TEST_ACCESS_KEY_ID,
    TEST_API_KEY,
    TEST_REGION,
    TEST_SECRET_ACCESS_KEY,
    events_auth_for,
    recv_frame,
    ws_connect,
)

pytestmark = pytest.mark.timeout(90)
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool"
CLIENT_ID = "test-client"
FAST = Backoff(base=0.1, cap=0.5)


class TokenMint:
    """Cognito-shaped id tokens signed by a test key; ``verifier`` trusts exactly that key."""

    def __init__(self):
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update(kid="test-kid", alg="RS256", use="sig")
        self.verifier = CognitoTokenVerifier(ISSUER, {CLIENT_ID}, jwks={"keys": [jwk]}, leeway_s=0)
        self.minted: list[tuple[str, float]] = []

    def token(self, username: str, groups: list[str], ttl: float = 3600) -> str:
        now = time.time()
        claims = {"sub": str(uuid.uuid5(uuid.NAMESPACE_DNS, username)), "iss": ISSUER, "aud": CLIENT_ID,
                  "token_use": "id", "cognito:username": username, "cognito:groups": groups,
                  "iat": int(now), "auth_time": int(now), "exp": int(now + ttl)}
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "test-kid"})
        self.minted.append((token, now + ttl))
        return token

    def provider(self, username: str, groups: list[str], ttl: float = 3600, refresh_before: float = 1.0):
        """Like AuthSession.id_token: the cached token until it is near expiry, then a new one."""
        state = {"token": None, "exp": 0.0}

        async def id_token() -> str:
            if state["token"] is None or state["exp"] - time.time() < refresh_before:
                state["token"] = self.token(username, groups, ttl)
                state["exp"] = self.minted[-1][1]
            return state["token"]

        return id_token


@pytest.fixture(scope="module")
def mint():
    return TokenMint()


@pytest.fixture
async def make_server(events_server_factory, mint):
    async def make(**limits):
        return await events_server_factory(cognito_verifier=mint.verifier, limits=Limits(**limits))
    return make


@pytest.fixture
async def clients():
    made: list[EventsClient] = []
    yield made
    for client in made:
        await client.close()


def client_for(server, auth, clients, events_local_ca, **kw):
    kw.setdefault("backoff", FAST)
    client = EventsClient(server.realtime_url, server.http_url, auth,
                          events_auth_for(server, events_local_ca).ssl_context, **kw)
    clients.append(client)
    return client


def supervisor_auth(server, mint, **kw):
    return CognitoAuth(mint.provider("sup-1", ["supervisors"], **kw), server.http_host)


def iam_auth(server):
    return IamAuth(Credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY), TEST_REGION, server.http_url)


def presence(agent: str, version: int, team: str = "team-1", status: str = "available") -> dict:
    return PresenceEvent(agent_id=agent, team_id=team, display_name=agent, status=status, version=version,
                         changed_at="2026-11-29T19:00:00.000Z", source="manual", changed_by="sub").to_dict()


# ----------------------------------------------------------------- every auth mode on the real server

async def test_iam_connect_and_publish_reach_a_cognito_subscriber(make_server, mint, clients, events_local_ca):
    server = await make_server()
    sub_client = client_for(server, supervisor_auth(server, mint), clients, events_local_ca)
    sub = await sub_client.subscribe("/agent-presence/*", timeout=20)
    pub_client = client_for(server, iam_auth(server), clients, events_local_ca)  # IAM-signed connect
    await pub_client.start()
    await pub_client.wait_connected(20)
    event = presence("agent-1", 1) | {"message": "café <ok>"}  # non-ASCII in the signed body
    result = await pub_client.publish("/agent-presence/team-1/agent-1", [event])
    assert len(result.successful) == 1 and result.failed == []
    assert await sub.get(10) == event
    # The server rejects what onPublish refuses, and a wildcard publish, as errors (not crashes).
    with pytest.raises(PublishError):
        await sub_client.publish("/agent-presence/team-1/agent-1", [event])  # Cognito may not publish


async def test_api_key_mode_on_the_default_namespace(make_server, clients, events_local_ca):
    server = await make_server()
    client = client_for(server, ApiKeyAuth(TEST_API_KEY, server.http_host), clients, events_local_ca)
    sub = await client.subscribe("default/room", timeout=20)
    await client.publish("/default/room", [{"hello": "world"}])
    assert await sub.get(10) == {"hello": "world"}


# ----------------------------------------------------------------- server killed and restarted

async def test_server_restart_mid_stream_resubscribes_and_loses_nothing_after(
        make_server, mint, clients, events_local_ca):
    server = await make_server()
    client = client_for(server, supervisor_auth(server, mint), clients, events_local_ca)
    sub = await client.subscribe("/agent-presence/*", timeout=20)
    publisher = client_for(server, iam_auth(server), clients, events_local_ca)
    await publisher.start()
    await publisher.wait_connected(20)
    published: list[int] = []  # versions the server accepted (publish_success)
    stop = asyncio.Event()

    async def stream():
        version = 0
        while not stop.is_set():
            version += 1
            try:
                await publisher.publish("/agent-presence/team-1/agent-1", [presence("agent-1", version)], timeout=5)
                published.append(version)
            except Exception:  # noqa: BLE001 - the server is down: that event is not published
                pass
            await asyncio.sleep(0.01)

    streaming = asyncio.create_task(stream())
    received: list[int] = []
    try:
        await wait_until(lambda: len(published) >= 10, timeout=15.0)
        await server.drop_all_connections()  # killed: TCP reset, no close frame
        await server.stop()
        await asyncio.sleep(0.5)
        await server.start()  # same port
        marker_at = None
        while marker_at is None:
            item = await sub.get(30)
            if isinstance(item, LostEvents):
                assert item.reason == "reconnected"
                marker_at = published[-1] if published else 0
            else:
                received.append(item["version"])
        await wait_until(lambda: len(published) and published[-1] >= marker_at + 30, timeout=30)
    finally:
        stop.set()
        await streaming
    after = [v for v in published if v > marker_at]
    while True:
        try:
            item = await sub.get(3)
        except TimeoutError:
            break
        received.append(item["version"])
    got_after = [v for v in received if v > marker_at]
    assert got_after == after  # every event published after the resubscription, in order
    assert client.stats["reconnects"] >= 1


# ----------------------------------------------------------------- half-open connection

async def test_half_open_connection_detected_within_timeout_plus_one_second(
        make_server, mint, clients, events_local_ca):
    server = await make_server(connection_timeout_ms=1500, ka_interval_s=0.3)
    client = client_for(server, supervisor_auth(server, mint), clients, events_local_ca, ack_timeout=2.0)
    lost_at = []
    client.add_state_listener(lambda s: lost_at.append(time.monotonic()) if s.status == "reconnecting" else None)
    sub = await client.subscribe("/agent-presence/*", timeout=20)
    assert client.state.connection_timeout_ms == 1500
    await asyncio.sleep(1.0)  # ka frames keep it alive past a bare timeout
    assert not lost_at
    paused_at = time.monotonic()
    server.pause_sending()
    await wait_until(lambda: lost_at, timeout=10)
    assert lost_at[0] - paused_at <= 1.5 + 1.0
    assert "keep-alive" in (client.state.reason or "")
    server.resume_sending()
    assert await sub.get(30) == LostEvents("reconnected")
    publisher = client_for(server, iam_auth(server), clients, events_local_ca)
    await publisher.start()
    await publisher.wait_connected(20)
    await publisher.publish("/agent-presence/team-2/agent-7", [presence("agent-7", 3, team="team-2")])
    assert (await sub.get(10))["agent_id"] == "agent-7"


# ----------------------------------------------------------------- token expiry then a network drop

async def test_token_expires_while_connected_then_reconnect_uses_a_fresh_token(
        make_server, mint, clients, events_local_ca):
    server = await make_server()
    refreshes = []

    async def force_refresh():
        refreshes.append(1)

    auth = CognitoAuth(mint.provider("sup-1", ["supervisors"], ttl=3, refresh_before=0.5), server.http_host,
                       force_refresh=force_refresh)
    client = client_for(server, auth, clients, events_local_ca)
    sub = await client.subscribe("/agent-presence/*", timeout=20)
    first_token, first_exp = mint.minted[-1]
    await asyncio.sleep(max(0.0, first_exp - time.time()) + 1.2)  # expired while connected
    assert client.connected
    # Control: the server now refuses that token, so a client reusing it could not reconnect.
    probe = await ws_connect(events_auth_for(server, events_local_ca),
                             {"host": server.http_host, "authorization": first_token})
    try:
        assert (await recv_frame(probe))["type"] == "connection_error"
    finally:
        await probe.close()
    assert await server.drop_all_connections() >= 1  # the network drops
    assert await sub.get(30) == LostEvents("reconnected")
    assert client.connected and refreshes == []  # fresh token from the provider, no refusal first
    assert mint.minted[-1][0] != first_token and mint.minted[-1][1] > time.time()
    publisher = client_for(server, iam_auth(server), clients, events_local_ca)
    await publisher.start()
    await publisher.wait_connected(20)
    await publisher.publish("/agent-presence/team-1/agent-2", [presence("agent-2", 9)])
    assert (await sub.get(10))["version"] == 9


async def test_refused_token_refreshes_once_then_stops_with_sign_in_again(
        make_server, mint, clients, events_local_ca):
    server = await make_server()
    expired = mint.token("sup-1", ["supervisors"], ttl=-10)
    refreshes = []

    async def provider():
        return expired

    async def force_refresh():
        refreshes.append(1)

    client = client_for(server, CognitoAuth(provider, server.http_host, force_refresh=force_refresh),
                        clients, events_local_ca)
    await client.start()
    await wait_until(lambda: client.state.status == "failed", timeout=15.0)
    assert "sign in again" in client.state.reason and refreshes == [1]
    await asyncio.sleep(1.0)
    assert client.state.status == "failed" and refreshes == [1]  # no loop


# ----------------------------------------------------------------- one allowed, one denied

async def test_denied_subscription_does_not_touch_the_allowed_one(make_server, mint, clients, events_local_ca):
    server = await make_server()
    client = client_for(server, supervisor_auth(server, mint), clients, events_local_ca)
    allowed = await client.subscribe("/agent-presence/*", timeout=20)
    outsider = CognitoAuth(mint.provider("outsider", []), server.http_host)
    with pytest.raises(SubscriptionError) as info:
        await client.subscribe("/agent-presence/team-1/*", outsider, timeout=20)
    assert info.value.error_type == "Unauthorized"
    assert client.connected and server.connection_count == 1
    publisher = client_for(server, iam_auth(server), clients, events_local_ca)
    await publisher.start()
    await publisher.wait_connected(20)
    for v in (1, 2):
        await publisher.publish("/agent-presence/team-1/agent-3", [presence("agent-3", v)])
    assert [(await allowed.get(10))["version"] for _ in range(2)] == [1, 2]
    assert client.stats["reconnects"] == 0


# ----------------------------------------------------------------- malformed frames

async def test_malformed_frames_from_the_server(make_server, mint, clients, events_local_ca, caplog):
    server = await make_server()
    client = client_for(server, ApiKeyAuth(TEST_API_KEY, server.http_host), clients, events_local_ca,
                        max_frame_bytes=128 * 1024)
    sub = await client.subscribe("/default/room", timeout=20)
    for raw in ["{this is not json", '{"type":"mystery","id":"x"}',
                '{"type":"data","id":"no-such-sub","event":"{}"}',
                json.dumps({"type": "data", "id": sub.id, "event": "{not json"})]:
        assert server.inject_raw(raw) == 1
    await client.publish("/default/room", [{"n": 1}])
    assert await sub.get(10) == LostEvents("malformed", 1)
    assert await sub.get(10) == {"n": 1}
    assert client.stats["reconnects"] == 0 and server.connection_count == 1  # connection kept
    assert client.stats["malformed_frames"] == 3 and client.stats["unknown_id"] == 1
    assert "invalid JSON" in caplog.text and "unknown frame type" in caplog.text
    # An oversized frame: the socket is closed (1009) and cleanly recycled.
    server.inject_raw(json.dumps({"type": "data", "id": sub.id, "event": json.dumps("x" * 200_000)}))
    assert await sub.get(20) == LostEvents("reconnected")
    assert client.stats["reconnects"] == 1
    await client.publish("/default/room", [{"n": 2}])
    assert await sub.get(10) == {"n": 2}


# ----------------------------------------------------------------- bounded memory under a burst

async def test_burst_beyond_the_queue_bound_is_reported_not_buffered(make_server, clients, events_local_ca):
    server = await make_server()
    client = client_for(server, ApiKeyAuth(TEST_API_KEY, server.http_host), clients, events_local_ca,
                        max_queue=50)
    sub = await client.subscribe("/default/burst", timeout=20)
    for start in range(0, 300, 5):
        await client.publish("/default/burst", [{"i": i} for i in range(start, start + 5)])
    await wait_until(lambda: sub.received_total == 300, timeout=15.0)
    assert sub.pending_items() == 51  # 50 events + one marker, never 300
    items = [await sub.get(5) for _ in range(51)]
    assert items[:50] == [{"i": i} for i in range(50)]
    assert items[50] == LostEvents("overflow", 250)


# ----------------------------------------------------------------- with the real sign-in stack

async def test_real_sign_in_session_tokens_allowed_and_denied(events_server_factory, local_cognito, clients,
                                                              events_local_ca):
    """AuthSession (SRP against the local Cognito) feeds CognitoAuth; the events server verifies
    the pool's JWTs from its JWKS and runs the agent-presence onSubscribe rule."""
    from presence_desktop.auth.session import AuthSession

    verifier = CognitoTokenVerifier(local_cognito.issuer, {local_cognito.client_id}, jwks_url=local_cognito.jwks_url)
    server = await events_server_factory(cognito_verifier=verifier)
    sup, outsider = AuthSession(local_cognito.cognito_settings()), AuthSession(local_cognito.cognito_settings())
    await sup.sign_in("sup-1", local_cognito.user("sup-1").password)
    await outsider.sign_in("outsider", local_cognito.user("outsider").password)
    client = client_for(server, CognitoAuth(sup.id_token, server.http_host, force_refresh=sup.force_refresh),
                        clients, events_local_ca)
    allowed = await client.subscribe("/agent-presence/*", timeout=30)
    with pytest.raises(SubscriptionError) as info:
        await client.subscribe("/agent-presence/*", CognitoAuth(outsider.id_token, server.http_host), timeout=30)
    assert info.value.error_type == "Unauthorized"
    publisher = client_for(server, iam_auth(server), clients, events_local_ca)
    await publisher.start()
    await publisher.wait_connected(20)
    await publisher.publish("/agent-presence/team-3/agent-3", [presence("agent-3", 4, team="team-3")])
    assert (await allowed.get(10))["agent_id"] == "agent-3"
