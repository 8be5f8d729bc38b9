"""The SigV4 HTTP publisher: exact signed bytes, retry policy, error classification."""

from __future__ import annotations

import json

import pytest
from botocore.credentials import Credentials

from presence_desktop.relay.publisher import (
    EventsPublisher,
    PublishError,
    RetryPolicy,
    encode_publish_body,
    sign_publish,
)
from tests.fixtures.relay import TEST_AK, TEST_REGION, TEST_SK, check_sigv4, test_publisher

TRICKY = json.dumps({"message": "«Zoë» says \"hi\" <b>&amp;</b> \\ / \u2028 ☕ 𝄞"}, ensure_ascii=False)


def test_body_is_compact_utf8_without_escaping():
    body = encode_publish_body("/agent-presence/team-1/agent-1", [TRICKY])
    assert body == ('{"channel":"/agent-presence/team-1/agent-1","events":[' + json.dumps(TRICKY, ensure_ascii=False) + "]}").encode("utf-8")
    assert "☕".encode() in body and "𝄞".encode() in body and b"<b>&amp;</b>" in body
    with pytest.raises(ValueError):
        encode_publish_body("/a/b", [])
    with pytest.raises(ValueError):
        encode_publish_body("/a/b", ["{}"] * 6)
    with pytest.raises(TypeError):
        encode_publish_body("/a/b", [{"not": "a string"}])


def test_signature_covers_exactly_the_bytes():
    url = "https://abc.appsync-api.us-east-1.amazonaws.com/event"
    body = encode_publish_body("/agent-presence/team-1/agent-1", [TRICKY])
    headers = sign_publish(url, body, Credentials(TEST_AK, TEST_SK), TEST_REGION)
    assert headers["accept"] == "application/json, text/javascript"
    assert headers["content-encoding"] == "amz-1.0"
    assert headers["content-type"] == "application/json; charset=UTF-8"
    assert headers["host"] == "abc.appsync-api.us-east-1.amazonaws.com"
    assert "/appsync/aws4_request" in headers["authorization"]
    assert check_sigv4(headers, body) is None
    # One changed byte (even inside the unicode) breaks it: the check can fail.
    assert check_sigv4(headers, body.replace("☕".encode(), "☔".encode())) == "signature mismatch"
    # And an ASCII-escaped re-serialisation of the same JSON is *different bytes*.
    escaped = json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert escaped != body and check_sigv4(headers, escaped) == "signature mismatch"


def test_temporary_credentials_send_the_security_token():
    body = encode_publish_body("/a/b", ["{}"])
    headers = sign_publish("https://h.example/event", body, Credentials(TEST_AK, TEST_SK, "session-token-1"), TEST_REGION)
    assert headers["x-amz-security-token"] == "session-token-1"
    assert "x-amz-security-token" in headers["authorization"]


def test_url_must_be_the_event_endpoint():
    with pytest.raises(ValueError):
        EventsPublisher("https://h.example/graphql", TEST_REGION, Credentials(TEST_AK, TEST_SK))


async def test_publish_sends_signed_bytes_the_server_verifies(capture_events):
    pub = test_publisher(capture_events.http_url)
    try:
        result = await pub.publish("/agent-presence/team-1/agent-1", [TRICKY])
    finally:
        await pub.close()
    assert result["failed"] == [] and len(result["successful"]) == 1
    channel, event, raw = capture_events.accepted[0]
    assert event == TRICKY and raw == encode_publish_body(channel, [TRICKY]) and capture_events.rejected == []


async def test_wrong_secret_is_rejected_without_retry(capture_events):
    pub = test_publisher(capture_events.http_url, secret_access_key="wrong-secret")
    try:
        with pytest.raises(PublishError) as err:
            await pub.publish("/agent-presence/team-1/agent-1", ["{}"])
    finally:
        await pub.close()
    assert err.value.code == "publish_rejected" and err.value.status == 403 and capture_events.requests == 1
    assert capture_events.rejected == ["signature mismatch"]


async def test_retries_5xx_and_429_then_gives_up(capture_events):
    pub = test_publisher(capture_events.http_url, attempts=3)
    try:
        capture_events.fail_with[:] = [429, 502]
        await pub.publish("/agent-presence/team-1/agent-1", ["{}"])
        assert capture_events.requests == 3
        capture_events.fail_with[:] = [500, 500, 500]
        with pytest.raises(PublishError) as err:
            await pub.publish("/agent-presence/team-1/agent-1", ["{}"])
        assert err.value.code == "events_unavailable" and err.value.status == 500 and err.value.retryable
        assert capture_events.requests == 6
    finally:
        await pub.close()


async def test_network_error_is_events_unavailable(capture_events):
    await capture_events.stop()
    pub = test_publisher(capture_events.http_url, attempts=2)
    try:
        with pytest.raises(PublishError) as err:
            await pub.publish("/agent-presence/team-1/agent-1", ["{}"])
    finally:
        await pub.close()
    assert err.value.code == "events_unavailable" and err.value.status is None


async def test_failed_entry_is_rejected():
    from aiohttp import web

    async def handle(request):
        await request.read()
        return web.json_response({"successful": [], "failed": [{"identifier": "x", "index": 0, "errorCode": 400, "errorMessage": "version: bad"}]})

    app = web.Application()
    app.router.add_post("/event", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    pub = test_publisher(f"http://127.0.0.1:{port}/event")
    try:
        with pytest.raises(PublishError) as err:
            await pub.publish("/agent-presence/team-1/agent-1", ["{}"])
        assert err.value.code == "publish_rejected" and "version: bad" in err.value.message
    finally:
        await pub.close()
        await runner.cleanup()


def test_backoff_is_bounded_full_jitter():
    policy = RetryPolicy(attempts=5, base_s=0.2, cap_s=1.0)
    delays = [policy.delay(n) for n in range(10) for _ in range(50)]
    assert all(0 <= d <= 1.0 for d in delays) and max(delays) > 0.5
