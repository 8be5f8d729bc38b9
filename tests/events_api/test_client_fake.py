"""EventsClient against the in-test fake server: wire contents and exact fault injection."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time

import pytest
import trustme

from presence_desktop.client.profile import EventsSettings
from presence_desktop.events_api.auth import ApiKeyAuth, AuthRefreshError, CognitoAuth
from presence_desktop.events_api.channels import ChannelError
from presence_desktop.events_api.client import (
    Backoff,
    ClientFailedError,
    EventsClient,
    LostEvents,
    NotConnectedError,
    PublishError,
    SubscriptionError,
)
from presence_desktop.net.tls import client_ssl_context
from tests.fixtures.common import wait_until

from .fake_server import FakeEventsServer

pytestmark = pytest.mark.timeout(60)
FAST = Backoff(base=0.05, cap=0.2)


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, str(path)


@pytest.fixture
async def server(ca):
    authority, _ = ca
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(ctx)
    srv = FakeEventsServer(ssl_context=ctx)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def make_client(server, ca):
    """Build clients against the fake server (API key auth by default); all closed at teardown."""
    clients = []

    def make(auth=None, **kw):
        kw.setdefault("backoff", FAST)
        client = EventsClient(server.realtime_url, server.http_url,
                              auth or ApiKeyAuth("da2-test", f"127.0.0.1:{server.port}"),
                              client_ssl_context(ca[1]), **kw)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


# ----------------------------------------------------------------- construction and TLS

def test_backoff_full_jitter_first_retry_fast_and_capped():
    b = Backoff()
    assert b.ceiling(1) == 0.25 and b.ceiling(2) == 0.5 and b.ceiling(30) == 30.0
    assert all(0 <= b.delay(1) < 0.25 for _ in range(200))
    assert max(b.delay(50) for _ in range(200)) <= 30.0
    assert Backoff(rng=lambda lo, hi: hi).delay(3) == 1.0
    with pytest.raises(ValueError):
        b.ceiling(0)


async def test_refuses_plaintext_and_unverified_tls():
    auth = ApiKeyAuth("k", "h")
    with pytest.raises(ValueError, match="allow_plaintext"):
        EventsClient("ws://127.0.0.1:1/event/realtime", None, auth)
    EventsClient("ws://127.0.0.1:1/event/realtime", None, auth, allow_plaintext=True)
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    with pytest.raises(ValueError, match="verification"):
        EventsClient("wss://127.0.0.1:1/event/realtime", None, auth, unverified)
    with pytest.raises(ValueError):
        EventsClient("https://127.0.0.1:1/event/realtime", None, auth)


async def test_from_settings_trusts_the_profile_ca(server, ca):
    settings = EventsSettings(http_url=server.http_url, realtime_url=server.realtime_url,
                              region="us-east-1", ca_file=ca[1])
    client = EventsClient.from_settings(settings, ApiKeyAuth("da2-test", f"127.0.0.1:{server.port}"))
    try:
        await client.start()
        await client.wait_connected(10)
    finally:
        await client.close()


async def test_untrusted_certificate_is_never_accepted(server):
    client = EventsClient(server.realtime_url, server.http_url, ApiKeyAuth("da2-test", "h"),
                          backoff=FAST)  # system store only: the test CA is unknown
    states = []
    client.add_state_listener(states.append)
    try:
        await client.start()
        await wait_until(lambda: any(s.status == "reconnecting" for s in states))
        assert not server.connect_headers  # the handshake never got to the server's handler
        assert "SSL" in (states[-1].reason or "") or "certificate" in (states[-1].reason or "").lower()
    finally:
        await client.close()


# ----------------------------------------------------------------- wire

async def test_handshake_and_subscribe_on_the_wire(server, make_client):
    tokens = iter(f"jwt-{i}" for i in range(100))
    server.tokens.update(f"jwt-{i}" for i in range(100))

    async def provider():
        return next(tokens)

    client = make_client(CognitoAuth(provider, f"127.0.0.1:{server.port}"))
    sub = await client.subscribe("agent-presence/*", timeout=10)
    assert server.offered_subprotocols[0][0] == "aws-appsync-event-ws"
    assert server.offered_subprotocols[0][1].startswith("header-")
    assert "=" not in server.offered_subprotocols[0][1]
    assert server.connect_headers[0] == {"Authorization": "jwt-0", "host": f"127.0.0.1:{server.port}"}
    assert server.received[0] == {"type": "connection_init"}
    assert server.received[1] == {"type": "subscribe", "id": sub.id, "channel": "/agent-presence/*",
                                  "authorization": {"Authorization": "jwt-1", "host": f"127.0.0.1:{server.port}"}}
    assert client.state.connection_timeout_ms == 300000


async def test_events_flow_and_publish_round_trip(server, make_client):
    client = make_client()
    sub = await client.subscribe("/default/*", timeout=10)
    await server.publish("/default/a", {"n": 1})
    assert await sub.get(5) == {"n": 1}
    result = await client.publish("/default/b", [{"n": 2}, "x"])
    assert [s["index"] for s in result.successful] == [0, 1] and result.failed == []
    assert await sub.get(5) == {"n": 2} and await sub.get(5) == "x"
    assert server.received[-1]["events"] == ['{"n":2}', '"x"']
    with pytest.raises(ChannelError):
        await client.publish("/default/*", [1])


async def test_publish_error_is_matched_by_id(server, make_client, monkeypatch):
    client = make_client()
    await client.start()
    await client.wait_connected(10)
    # Bypass client-side validation to make the server answer publish_error.
    monkeypatch.setattr("presence_desktop.events_api.protocol.validate_publish_channel",
                        lambda ch: type("C", (), {"path": "/default/*"})())
    with pytest.raises(PublishError) as info:
        await client.publish("/default/x", [1])
    assert info.value.error_type == "BadRequestException"


async def test_publish_needs_a_connection(server, make_client):
    client = make_client()
    with pytest.raises(NotConnectedError):
        await client.publish("/default/x", [1])


async def test_unsubscribe_sends_frame_and_ends_iteration(server, make_client):
    client = make_client()
    sub = await client.subscribe("/default/a", timeout=10)
    await sub.unsubscribe()
    assert server.received[-1] == {"type": "unsubscribe", "id": sub.id}
    assert [item async for item in sub] == []
    await wait_until(lambda: server.subscription_count() == 0)


async def test_close_ends_iteration(server, make_client):
    client = make_client()
    sub = await client.subscribe("/default/a", timeout=10)
    await client.close()
    assert [item async for item in sub] == []
    assert client.state.status == "closed"


# ----------------------------------------------------------------- one denied subscription

async def test_denied_subscription_fails_alone(server, make_client):
    server.deny_channels.add("/default/secret")
    client = make_client()
    ok = await client.subscribe("/default/open", timeout=10)
    with pytest.raises(SubscriptionError) as info:
        await client.subscribe("/default/secret", timeout=10)
    assert info.value.error_type == "Unauthorized"
    assert client.connected and len(server.connect_headers) == 1
    await server.publish("/default/open", {"still": "here"})
    assert await ok.get(5) == {"still": "here"}


async def test_denied_subscription_without_wait_raises_when_iterated(server, make_client):
    server.deny_channels.add("/default/secret")
    client = make_client()
    sub = await client.subscribe("/default/secret", wait=False)
    with pytest.raises(SubscriptionError):
        await sub.get(10)
    assert sub.state == "failed"


# ----------------------------------------------------------------- bounded memory

async def test_overflow_drops_and_tells_the_consumer(server, make_client):
    client = make_client()
    sub = await client.subscribe("/default/a", timeout=10, max_queue=3)
    for i in range(10):
        await server.publish("/default/a", {"i": i})
    await server.publish("/default/a", {"sync": True})
    await wait_until(lambda: sub.received_total == 11)
    items = [await sub.get(5) for _ in range(4)]
    assert items == [{"i": 0}, {"i": 1}, {"i": 2}, LostEvents("overflow", 8)]
    assert sub.lost_total == 8 and sub.pending_items() == 0
    await server.publish("/default/a", {"after": 1})
    assert await sub.get(5) == {"after": 1}


async def test_a_slow_consumer_holds_the_reader_back_and_loses_nothing(server, make_client):
    """Backpressure: a full queue stops the reader (so TCP slows the server) instead of dropping.
    Without it a consumer that yields between events (the app's feed does, so the GUI can paint)
    fell behind the reader and lost events to the overflow."""
    client = make_client()
    sub = await client.subscribe("/default/a", timeout=10, max_queue=5)
    async def send():
        for i in range(300):
            await server.publish("/default/a", {"i": i})

    sender = asyncio.create_task(send())
    got = []
    while len(got) < 300:
        item = await sub.get(10)
        got.append(item)
        await asyncio.sleep(0.001 if len(got) % 10 else 0.02)  # slower than the wire
    await sender
    assert got == [{"i": i} for i in range(300)]
    assert sub.lost_total == 0 and sub.pending_items() == 0


async def test_a_consumer_that_takes_nothing_is_dropped_after_the_backpressure_timeout(server, make_client):
    client = make_client(backpressure_timeout=0.2)
    sub = await client.subscribe("/default/a", timeout=10, max_queue=3)
    for i in range(10):
        await server.publish("/default/a", {"i": i})
    await wait_until(lambda: sub.received_total == 10)  # the reader went on after 0.2 s
    assert [await sub.get(5) for _ in range(4)] == [{"i": 0}, {"i": 1}, {"i": 2}, LostEvents("overflow", 7)]
    await server.publish("/default/a", {"after": 1})  # taking items ended the stall
    assert await sub.get(5) == {"after": 1}


async def test_the_reader_yields_to_the_loop_within_a_long_run_of_frames(make_client, server):
    """websockets hands over every parsed frame without suspending; the reader must still let
    other callbacks (the GUI's timers) run every READ_SLICE frames."""
    from presence_desktop.events_api import client as client_mod

    client = make_client()
    sub = client_mod.Subscription(client, "/default/a", client.connect_auth, 100_000)
    sub.state = "active"
    client._subs[sub.id] = sub

    class Burst:  # a websocket with 1,000 frames ready: iterating never suspends
        close_code = None

        def __init__(self):
            self.frames = [json.dumps({"type": "data", "id": sub.id, "event": json.dumps({"i": i})}) for i in range(1000)]

        def __aiter__(self):
            return self

        async def __anext__(self):
            if not self.frames:
                raise StopAsyncIteration
            return self.frames.pop(0)

    conn = client_mod._Connection(Burst(), 300_000)
    sub._conn = conn
    seen = []

    async def other():
        while sub.received_total < 1000:
            seen.append(sub.received_total)
            await asyncio.sleep(0)

    observer = asyncio.create_task(other())
    await asyncio.sleep(0)
    await client._serve(conn)
    await observer
    during = sorted({n for n in seen if 0 < n < 1000})
    assert client_mod.READ_SLICE <= 200 and len(during) >= 1000 // client_mod.READ_SLICE - 1
    assert sub.received_total == 1000


# ----------------------------------------------------------------- malformed frames

async def test_malformed_frames_are_logged_and_survived(server, make_client, caplog):
    client = make_client()
    sub = await client.subscribe("/default/a", timeout=10)
    for raw in ["{not json", '{"type":"surprise"}', '{"type":"data","id":"nobody","event":"{}"}',
                json.dumps({"type": "data", "id": sub.id, "event": "not json"}), b"\x00binary",
                '{"type":"subscribe_success","id":"nobody"}', '{"type":"publish_success","id":"x"}']:
        await server.inject_raw(raw)
    await server.publish("/default/a", {"ok": True})
    assert await sub.get(5) == LostEvents("malformed", 1)
    assert await sub.get(5) == {"ok": True}
    assert len(server.connect_headers) == 1 and client.connected
    assert client.stats["malformed_frames"] == 4 and client.stats["unknown_id"] == 3
    assert "invalid JSON" in caplog.text and "unknown frame type" in caplog.text


async def test_oversized_frame_recycles_the_connection(server, make_client):
    client = make_client(max_frame_bytes=64 * 1024)
    sub = await client.subscribe("/default/a", timeout=10)
    await server.inject_raw(json.dumps({"type": "data", "id": sub.id, "event": json.dumps("x" * 100_000)}))
    assert await sub.get(10) == LostEvents("reconnected")
    assert len(server.connect_headers) == 2
    await server.publish("/default/a", {"after": 1})
    assert await sub.get(5) == {"after": 1}


# ----------------------------------------------------------------- keep-alive and timeouts

async def test_half_open_connection_is_detected_by_the_watchdog(server, make_client):
    server.connection_timeout_ms = 600
    client = make_client(ack_timeout=1.0)  # a reconnect while still paused gets no ack: retry soon
    lost = []
    client.add_state_listener(lambda s: lost.append(time.monotonic()) if s.status == "reconnecting" else None)
    await client.subscribe("/default/a", timeout=10)
    t0 = time.monotonic()
    server.paused = True  # nothing more reaches the client; the socket stays open
    await wait_until(lambda: lost)
    assert lost[0] - t0 <= 0.6 + 1.0
    assert "keep-alive" in client.state.reason
    server.paused = False
    await client.wait_connected(20)


async def test_missed_keep_alives_are_reported_before_the_timeout_and_cleared_by_a_frame(server, make_client):
    """A frozen server was noticed only at connectionTimeoutMs; rows looked live meanwhile."""
    server.connection_timeout_ms = 3000
    # ka every 0.2 s expected: late (roster stale) after 0.3 s, replaced only after 2 s
    client = make_client(ka_interval_s=0.2, ka_late_after=1.5, ka_dead_after=10)
    client.watchdog_wall_check_s = 0.05
    states = []
    client.add_state_listener(states.append)
    await client.subscribe("/default/a", timeout=10)
    server.paused = True  # nothing reaches the client; the socket stays open
    await wait_until(lambda: client.state.quiet_since is not None)
    assert client.state.status == "connected" and client.state.quiet_since <= time.time() - 0.25
    server.paused = False
    await server.publish("/default/a", {"again": 1})
    await wait_until(lambda: client.state.quiet_since is None)
    assert client.state.status == "connected"
    assert [s.status for s in states].count("reconnecting") == 0


async def test_keep_alive_keeps_the_connection(server, make_client):
    server.connection_timeout_ms = 500
    server.ka_interval = 0.1
    client = make_client()
    await client.subscribe("/default/a", timeout=10)
    await asyncio.sleep(1.5)
    assert len(server.connect_headers) == 1 and client.connected


async def test_missing_ack_times_out_and_retries(server, make_client):
    server.ack = False
    client = make_client(ack_timeout=0.3)
    states = []
    client.add_state_listener(states.append)
    await client.start()
    await wait_until(lambda: len([s for s in states if s.status == "reconnecting"]) >= 2)
    recon = [s for s in states if s.status == "reconnecting"]
    assert recon[0].attempt == 1 and recon[1].attempt == 2 and "timed out" in recon[0].reason
    assert recon[0].next_attempt_at is not None and recon[0].retry_in < 0.05 + 1e-9


async def test_unanswered_subscribe_recycles_then_fails_that_subscription(server, make_client):
    server.answer_subscribe = False
    client = make_client(request_timeout=0.3, max_subscribe_timeouts=2)
    with pytest.raises(SubscriptionError, match="no answer"):
        await client.subscribe("/default/a", timeout=20)
    assert len(server.connect_headers) == 2


# ----------------------------------------------------------------- reconnect and auth

async def test_reconnect_resubscribes_with_a_fresh_token_and_marks_the_gap(server, make_client):
    current = {"token": "t1"}
    server.tokens.add("t1")

    async def provider():
        return current["token"]

    client = make_client(CognitoAuth(provider, f"127.0.0.1:{server.port}"))
    sub = await client.subscribe("/default/*", timeout=10)
    # The token expires while connected (the server would now refuse it); then the network drops.
    server.tokens.discard("t1")
    server.tokens.add("t2")
    current["token"] = "t2"
    await server.drop_all_connections()
    assert await sub.get(10) == LostEvents("reconnected")
    assert server.connect_headers[-1]["Authorization"] == "t2"
    resub = [f for f in server.received if f["type"] == "subscribe"]
    assert [f["id"] for f in resub] == [sub.id, sub.id]
    assert resub[-1]["authorization"]["Authorization"] == "t2"
    await server.publish("/default/x", {"after": 1})
    assert await sub.get(5) == {"after": 1}


async def test_auth_refusal_refreshes_once_then_connects(server, make_client):
    current = {"token": "stale"}
    server.tokens.add("fresh")
    refreshes = []

    async def provider():
        return current["token"]

    async def force_refresh():
        refreshes.append(1)
        current["token"] = "fresh"

    client = make_client(CognitoAuth(provider, f"127.0.0.1:{server.port}", force_refresh=force_refresh))
    await client.start()
    await client.wait_connected(10)
    assert refreshes == [1]
    assert [h["Authorization"] for h in server.connect_headers] == ["stale", "fresh"]


async def test_auth_refusal_twice_stops_with_sign_in_again(server, make_client):
    refreshes = []

    async def provider():
        return "revoked"

    async def force_refresh():
        refreshes.append(1)

    client = make_client(CognitoAuth(provider, f"127.0.0.1:{server.port}", force_refresh=force_refresh))
    states = []
    client.add_state_listener(states.append)
    with pytest.raises(ClientFailedError, match="sign in again"):
        await client.subscribe("/default/a", timeout=10)
    assert client.state.status == "failed" and "sign in again" in client.state.reason
    assert client.state.needs_sign_in
    await asyncio.sleep(0.5)
    assert len(server.connect_headers) == 2 and refreshes == [1]  # no loop
    # After signing in again, resume() reconnects.
    server.tokens.add("revoked")
    await client.resume()
    await client.wait_connected(10)


async def test_failed_refresh_stops_at_once(server, make_client):
    async def provider():
        return "revoked"

    async def force_refresh():
        raise AuthRefreshError("refresh token expired")

    client = make_client(CognitoAuth(provider, f"127.0.0.1:{server.port}", force_refresh=force_refresh))
    await client.start()
    await wait_until(lambda: client.state.status == "failed")
    assert "refresh token expired" in client.state.reason and len(server.connect_headers) == 1


async def test_server_restart_reconnects_and_loses_nothing_after_resubscribe(server, make_client):
    client = make_client()
    seen = []
    client.add_state_listener(lambda s: seen.append(s.status))
    sub = await client.subscribe("/default/*", timeout=10)
    await server.publish("/default/a", {"n": 0})
    assert await sub.get(5) == {"n": 0}
    await server.stop()
    await wait_until(lambda: client.state.status == "reconnecting")
    await server.start()  # same port
    assert await sub.get(15) == LostEvents("reconnected")
    for i in range(1, 21):
        await server.publish("/default/a", {"n": i})
    assert [await sub.get(5) for _ in range(20)] == [{"n": i} for i in range(1, 21)]
    assert seen[:2] == ["connecting", "connected"] and "reconnecting" in seen


async def test_state_stream(server, make_client):
    client = make_client()
    got = []

    async def watch():
        async for state in client.states():
            got.append(state)

    watcher = asyncio.create_task(watch())
    await client.start()
    await client.wait_connected(10)
    await server.drop_all_connections()
    await wait_until(lambda: [s.status for s in got].count("connected") == 2)
    await client.close()
    await asyncio.wait_for(watcher, 5)
    statuses = [s.status for s in got]
    assert statuses[:3] == ["idle", "connecting", "connected"]
    assert statuses[-1] == "closed"
    recon = next(s for s in got if s.status == "reconnecting")
    assert recon.attempt == 1 and recon.next_attempt_at >= recon.at


async def test_no_secret_reaches_the_logs_even_at_debug(server, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    server.tokens.add("eyJsecret.token.value")

    async def provider():
        return "eyJsecret.token.value"

    client = make_client(CognitoAuth(provider, f"127.0.0.1:{server.port}"))
    sub = await client.subscribe("/default/a", timeout=10)
    await client.publish("/default/a", [1])
    await server.drop_all_connections()
    assert await sub.get(10) == 1
    assert await sub.get(10) == LostEvents("reconnected")
    subprotocol = server.offered_subprotocols[0][1]
    # Everything but the fake server's own handshake log (it prints the request headers it got).
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("websockets.server"))
    assert "subscribing" in text and "connected to" in text, "expected client logging to inspect"
    assert "eyJsecret" not in text and subprotocol[len("header-"):][:40] not in text


async def test_provider_that_needs_a_sign_in_fails_while_a_network_error_retries(server, make_client):
    from presence_desktop.auth import errors as E
    calls = []

    async def offline_then_signed_out():
        calls.append(1)
        if len(calls) < 3:
            raise E.NetworkError()
        raise E.SessionExpiredError()

    # The caller names its "the user must sign in" errors (events_api does not import auth/).
    client = make_client(CognitoAuth(offline_then_signed_out, f"127.0.0.1:{server.port}",
                                     sign_in_errors=(E.NotSignedInError, E.SessionExpiredError)))
    states = []
    client.add_state_listener(states.append)
    await client.start()
    await wait_until(lambda: client.state.status == "failed")
    assert [s.attempt for s in states if s.status == "reconnecting"] == [1, 2]
    assert not any(s.needs_sign_in for s in states if s.status == "reconnecting")  # the network: retried
    assert "sign in again" in client.state.reason and len(calls) == 3 and not server.connect_headers
    assert client.state.needs_sign_in


async def test_wake_from_sleep_recycles_the_connection(server, make_client):
    client = make_client()
    client.watchdog_wall_check_s = 0.05
    offset = [0.0]
    client._wall_clock = lambda: time.time() + offset[0]
    sub = await client.subscribe("/default/a", timeout=10)
    await asyncio.sleep(0.3)
    assert len(server.connect_headers) == 1
    offset[0] = 3600.0  # the wall clock jumps an hour: the machine slept; the loop's clock did not move
    assert await sub.get(10) == LostEvents("reconnected")
    assert len(server.connect_headers) == 2


async def test_subscribe_given_up_then_confirmed_is_unsubscribed(server, make_client):
    client = make_client()
    await client.start()
    await client.wait_connected(10)
    server.answer_subscribe = False
    with pytest.raises(TimeoutError):
        await client.subscribe("/default/late", timeout=0.2)
    sid = next(f["id"] for f in server.received if f["type"] == "subscribe")
    server.answer_subscribe = True
    # The server confirms late: the client unsubscribes instead of keeping a subscription nobody reads.
    server.subs[server.connections[0]][sid] = "/default/late"
    await server.inject_raw(json.dumps({"type": "subscribe_success", "id": sid}))
    await wait_until(lambda: server.received[-1] == {"type": "unsubscribe", "id": sid})
    assert client.stats["unknown_id"] == 0 and client.connected


async def test_a_bug_while_handling_one_frame_does_not_kill_the_connection(server, make_client, monkeypatch, caplog):
    client = make_client()
    sub = await client.subscribe("/default/a", timeout=10)
    real_push = type(sub)._push
    calls = []

    def flaky_push(self, event):
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("bug")
        real_push(self, event)

    monkeypatch.setattr(type(sub), "_push", flaky_push)
    await server.publish("/default/a", {"n": 1})
    await server.publish("/default/a", {"n": 2})
    assert await sub.get(5) == {"n": 2}
    assert client.connected and len(server.connect_headers) == 1 and "frame ignored" in caplog.text


async def test_subscribe_with_a_refused_token_retries_once_with_fresh_credentials(server, make_client):
    server.tokens.update({"connect", "fresh"})
    current = {"sub": "stale"}
    refreshes = []

    async def sub_token():
        return current["sub"]

    async def force_refresh():
        refreshes.append(1)
        current["sub"] = "fresh"

    async def connect_token():
        return "connect"

    client = make_client(CognitoAuth(connect_token, f"127.0.0.1:{server.port}"))
    sub = await client.subscribe("/default/a", CognitoAuth(sub_token, "h", force_refresh=force_refresh), timeout=10)
    assert refreshes == [1] and sub.state == "active"
    assert [f["authorization"]["Authorization"] for f in server.received if f["type"] == "subscribe"] == [
        "stale", "fresh"]
    # Still refused after the refresh: that subscription fails, the connection stays.
    current["sub"] = "revoked"

    async def no_help():
        refreshes.append(2)

    with pytest.raises(SubscriptionError, match="UnauthorizedException"):
        await client.subscribe("/default/b", CognitoAuth(sub_token, "h", force_refresh=no_help), timeout=10)
    assert refreshes == [1, 2] and client.connected and len(server.connect_headers) == 1


async def test_policy_deny_is_not_retried(server, make_client):
    server.deny_channels.add("/default/secret")
    refreshes = []

    async def force_refresh():
        refreshes.append(1)

    async def token():
        return "t"

    server.tokens.add("t")
    client = make_client(CognitoAuth(token, "h", force_refresh=force_refresh))
    with pytest.raises(SubscriptionError):
        await client.subscribe("/default/secret", timeout=10)
    assert refreshes == []


async def test_a_server_that_always_sends_an_oversized_frame_is_not_retried_for_ever(server, make_client):
    """Every reconnect got the same >1 MiB frame: the client closed with 1009 and reconnected
    forever (11 times in 60 s), with no word to the user."""
    from presence_desktop.events_api.client import MAX_TOO_BIG_IN_A_ROW

    original = server._on_frame

    async def oversized_after_subscribe(ws, frame):
        await original(ws, frame)
        if frame.get("type") == "subscribe":
            await server._send(ws, {"type": "data", "id": frame["id"], "event": json.dumps("x" * 100_000)})

    server._on_frame = oversized_after_subscribe
    client = make_client(max_frame_bytes=64 * 1024)
    states = []
    client.add_state_listener(lambda s: states.append(s))
    await client.subscribe("/default/a", timeout=10)
    await wait_until(lambda: client.state.status == "failed", timeout=20)
    assert "larger than 64 KiB" in client.state.reason and "stopped reconnecting" in client.state.reason
    assert len(server.connect_headers) == MAX_TOO_BIG_IN_A_ROW
    await asyncio.sleep(1.0)
    assert len(server.connect_headers) == MAX_TOO_BIG_IN_A_ROW  # no more attempts
    server._on_frame = original  # fixed on the server: resume() connects again
    await client.resume()
    await wait_until(lambda: client.state.status == "connected", timeout=10)


async def test_during_an_outage_every_attempt_happens_when_the_announced_state_said(server, make_client):
    """The banner shows ConnectionState.next_attempt_at: no connect attempt may come before it
    (one window logged 42 attempts 0.1-2.7 s apart while its banner said "Next retry in 2 s")."""
    client = make_client(backoff=Backoff(base=0.2, cap=1.0, fast_cap=1.0))
    await client.subscribe("/default/a", timeout=10)
    states = []
    client.add_state_listener(lambda s: states.append((time.time(), s)))
    await server.stop()  # refused from now on
    await asyncio.sleep(4.0)
    announced = None
    attempts = 0
    for at, state in states:
        if state.status == "reconnecting":
            assert announced is None, "two waits announced without an attempt between"
            announced = state.next_attempt_at
        elif state.status == "connecting":
            assert announced is not None and at >= announced - 0.02, (at, announced)
            announced = None
            attempts += 1
    assert attempts >= 3


async def test_data_frames_take_the_fast_path_or_are_refused_as_before(server, make_client):
    """The reader's data-frame path (protocol.data_frame_parts) accepts what decode_server_frame
    accepts, and what it does not take goes through the full check: the list shape still arrives,
    a data frame without an id or with a non-string event is still malformed."""
    client = make_client()
    sub = await client.subscribe("/default/a", timeout=10)
    for raw in [json.dumps({"type": "data", "id": sub.id, "event": ['{"v":1}']}),
                json.dumps({"type": "data", "event": '{"v":2}'}),
                json.dumps({"type": "data", "id": sub.id, "event": 5}),
                json.dumps({"type": "data", "id": 7, "event": '{"v":3}'}),
                json.dumps({"type": "data", "id": sub.id, "event": '{"v":4}'})]:
        await server.inject_raw(raw)
    assert await sub.get(5) == {"v": 1}
    assert await sub.get(5) == {"v": 4}
    assert client.stats["malformed_frames"] == 3 and client.stats["unknown_id"] == 0
