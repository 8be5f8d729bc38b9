"""Conformance: channel rules, wildcard matching, and every limit at its boundary
(docs/appsync-events-protocol.md section 5)."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from presence_desktop.devstack.events_server import Limits
from tests.devstack.test_events_protocol import http_publish, send, subscribe
from tests.fixtures.events import events_auth_for, recv_frame, ws_connect

SEG50 = "a" * 50


@pytest.mark.parametrize(
    "channel",
    ["/default/a", "default/a", "/default", "/default/a/b/c/d", "/default/*", "default/a/*",
     f"/default/{SEG50}", "/default/A-9-z", "/default/a/b/c/*"],
)
async def test_subscribe_channel_accepted(events_auth, channel):
    async with await ws_connect(events_auth) as ws:
        assert (await subscribe(ws, events_auth, "s", channel))["type"] == "subscribe_success"


@pytest.mark.parametrize(
    "channel",
    ["/default/a/b/c/d/e", "/default/a/b/c/d/*", "/default/*/a", "/*", "*", "/default/a_b", "/default/a b",
     "/default/-a", "/default/a-", f"/default/{SEG50}a", "/default//a", "/default/a/", "", None, 42,
     "/default/**", "/default/a*"],
)
async def test_subscribe_channel_refused(events_auth, channel):
    async with await ws_connect(events_auth) as ws:
        frame = await subscribe(ws, events_auth, "s", channel)
        assert frame["type"] == "subscribe_error"
        assert frame["errors"][0]["errorType"] == "BadRequestException"
        assert "Invalid Channel Format" in frame["errors"][0]["message"]


@pytest.mark.parametrize("channel", ["/default/*", "default/a/*", "/default/a/b/c/d/e", "/default/a_b", "", None])
async def test_publish_channel_refused(events_auth, channel):
    status, body = await http_publish(events_auth, channel, ["1"])
    assert status == 400 and body["errors"][0]["errorType"] == "BadRequestException"
    async with await ws_connect(events_auth) as ws:
        await send(ws, {"type": "publish", "id": "p", "channel": channel, "events": ["1"],
                        "authorization": events_auth.api_key_auth()})
        frame = await recv_frame(ws)
        assert frame["type"] == "publish_error" and frame["errors"][0]["errorType"] == "BadRequestException"


async def test_publish_five_segments_without_leading_slash_accepted(events_auth):
    status, _ = await http_publish(events_auth, "default/a/b/c/d", ["1"])
    assert status == 200


async def test_unknown_namespace(events_auth):
    async with await ws_connect(events_auth) as ws:
        frame = await subscribe(ws, events_auth, "s", "/nosuch/a")
        assert frame["type"] == "subscribe_error" and frame["errors"][0]["errorType"] == "BadRequestException"
        assert "nosuch" in frame["errors"][0]["message"]
    status, body = await http_publish(events_auth, "/nosuch/a", ["1"])
    assert status == 400


async def _delivered(ws, auth, publish_to: list[str], sentinel: str = "/default/zz-sentinel") -> list[str]:
    """Publish one event to each channel, then to the sentinel; return the events received before
    the sentinel's (the subscriber must also subscribe to the sentinel as id 'sentinel')."""
    for channel in publish_to:
        await http_publish(auth, channel, [json.dumps(channel)])
    await http_publish(auth, sentinel, ['"sentinel"'])
    got = []
    while True:
        frame = await recv_frame(ws)
        if frame["id"] == "sentinel":
            return got
        got.append(json.loads(frame["event"]))


async def test_wildcard_matches_any_depth_by_default(events_auth):
    async with await ws_connect(events_auth) as ws:
        await subscribe(ws, events_auth, "w", "/default/a/*")
        await subscribe(ws, events_auth, "sentinel", "/default/zz-sentinel")
        got = await _delivered(ws, events_auth, ["/default/a", "/default/a/b", "/default/a/b/c", "/default/ab/c",
                                                 "/default/b/a"])
        assert got == ["/default/a/b", "/default/a/b/c"]


async def test_wildcard_single_level_setting(events_server_factory, events_local_ca):
    server = await events_server_factory(limits=Limits(wildcard_any_depth=False))
    auth = events_auth_for(server, events_local_ca)
    async with await ws_connect(auth) as ws:
        await subscribe(ws, auth, "w", "/default/a/*")
        await subscribe(ws, auth, "sentinel", "/default/zz-sentinel")
        got = await _delivered(ws, auth, ["/default/a/b", "/default/a/b/c"])
        assert got == ["/default/a/b"]


async def test_namespace_wildcard_and_exact_both_match(events_auth):
    async with await ws_connect(events_auth) as ws:
        await subscribe(ws, events_auth, "all", "/default/*")
        await subscribe(ws, events_auth, "one", "default/x")
        await http_publish(events_auth, "/default/x", ['"hi"'])
        frames = [await recv_frame(ws), await recv_frame(ws)]
        assert sorted(f["id"] for f in frames) == ["all", "one"]


async def test_channels_are_case_sensitive(events_auth):
    async with await ws_connect(events_auth) as ws:
        await subscribe(ws, events_auth, "w", "/default/Room")
        await subscribe(ws, events_auth, "sentinel", "/default/zz-sentinel")
        assert await _delivered(ws, events_auth, ["/default/room", "/default/Room"]) == ["/default/Room"]


# --- limits ----------------------------------------------------------------------------------
def json_string_of_bytes(n: int) -> str:
    """A JSON string value whose encoding is exactly ``n`` UTF-8 bytes."""
    return '"' + "x" * (n - 2) + '"'


async def test_event_size_limit_http(events_auth):
    limit = 240 * 1024
    assert events_auth.server.config.limits.max_event_bytes == limit
    async with await ws_connect(events_auth) as ws:
        await subscribe(ws, events_auth, "s", "/default/big")
        at_limit = json_string_of_bytes(limit)
        status, body = await http_publish(events_auth, "/default/big", [at_limit])
        assert status == 200, body
        assert (await recv_frame(ws))["event"] == at_limit
        status, body = await http_publish(events_auth, "/default/big", [json_string_of_bytes(limit + 1)])
        assert status == 400 and str(limit) in body["errors"][0]["message"]


async def test_event_size_counts_utf8_bytes(events_auth):
    limit = 240 * 1024
    text = '"' + "é" * ((limit - 2) // 2) + '"'  # 2 bytes per char: exactly at the limit
    assert len(text.encode()) == limit
    status, _ = await http_publish(events_auth, "/default/big", [text])
    assert status == 200
    status, _ = await http_publish(events_auth, "/default/big", [text[:-1] + 'é"'])
    assert status == 400


async def test_five_max_size_events_over_websocket(events_auth):
    limit = 240 * 1024
    events = [json_string_of_bytes(limit)] * 5
    async with await ws_connect(events_auth) as ws:
        await send(ws, {"type": "publish", "id": "p", "channel": "/default/big", "events": events,
                        "authorization": events_auth.api_key_auth()})
        frame = await recv_frame(ws)
        assert frame["type"] == "publish_success" and len(frame["successful"]) == 5
        over = events[:4] + [json_string_of_bytes(limit + 1)]
        await send(ws, {"type": "publish", "id": "q", "channel": "/default/big", "events": over,
                        "authorization": events_auth.api_key_auth()})
        frame = await recv_frame(ws)
        assert frame["type"] == "publish_error" and frame["errors"][0]["errorType"] == "BadRequestException"


@pytest.mark.parametrize("count, ok", [(0, False), (1, True), (5, True), (6, False)])
async def test_events_per_publish(events_auth, count, ok):
    events = [str(i) for i in range(count)]
    status, body = await http_publish(events_auth, "/default/n", events)
    assert (status == 200) is ok, body
    async with await ws_connect(events_auth) as ws:
        await send(ws, {"type": "publish", "id": "p", "channel": "/default/n", "events": events,
                        "authorization": events_auth.api_key_auth()})
        frame = await recv_frame(ws)
        assert frame["type"] == ("publish_success" if ok else "publish_error")


async def test_subscriptions_per_connection(events_auth):
    limit = events_auth.server.config.limits.max_subscriptions_per_connection
    assert limit == 200
    async with await ws_connect(events_auth) as ws:
        authz = events_auth.api_key_auth()
        for i in range(limit):
            await send(ws, {"type": "subscribe", "id": f"s{i}", "channel": f"/default/c{i}", "authorization": authz})
        for _ in range(limit):
            assert (await recv_frame(ws))["type"] == "subscribe_success"
        frame = await subscribe(ws, events_auth, "one-too-many", "/default/x")
        assert frame["type"] == "subscribe_error"
        assert frame["errors"][0]["errorType"] == "MaxSubscriptionsReachedError"
        await send(ws, {"type": "unsubscribe", "id": "s0"})
        assert (await recv_frame(ws))["type"] == "unsubscribe_success"
        assert (await subscribe(ws, events_auth, "now-fits", "/default/x"))["type"] == "subscribe_success"


async def test_slow_subscriber_is_disconnected_and_others_unaffected(events_server_factory):
    server = await events_server_factory(tls=False, limits=Limits(send_queue_max_bytes=2 * 1024 * 1024))
    auth = events_auth_for(server, None)
    slow = await ws_connect(auth, max_queue=1)  # reads (almost) nothing
    fast = await ws_connect(auth)
    await subscribe(slow, auth, "slow", "/default/flood")
    await subscribe(fast, auth, "fast", "/default/flood")
    chunk = json_string_of_bytes(200 * 1024)
    for _ in range(30):  # 150 events x 200 KB = 30 MB, well past socket buffers + the 2 MB bound
        status, _ = await http_publish(auth, "/default/flood", [chunk] * 5)
        assert status == 200
        for _ in range(5):  # the fast subscriber keeps up, so its queue never nears the bound
            assert (await recv_frame(fast))["event"] == chunk
    async with asyncio.timeout(30):
        while server.connection_count != 1:
            await asyncio.sleep(0.05)
    with pytest.raises(websockets.ConnectionClosed):
        async with asyncio.timeout(30):
            while True:
                await slow.recv()
    assert slow.close_code in (1013, 1006)
    assert (await subscribe(fast, auth, "still", "/default/x"))["type"] == "subscribe_success"
    await fast.close()


async def test_request_body_bound(events_server_factory, events_local_ca):
    server = await events_server_factory(limits=Limits(max_request_bytes=64 * 1024))
    auth = events_auth_for(server, events_local_ca)
    status, body = await http_publish(auth, "/default/a", [json_string_of_bytes(70 * 1024)])
    assert status == 413 and body["errors"][0]["errorType"] == "BadRequestException"
