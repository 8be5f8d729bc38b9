"""Conformance: every message type of the AppSync Events WebSocket protocol and HTTP publish,
driven with raw ``websockets`` frames and raw aiohttp requests (docs/appsync-events-protocol.md sections 3, 4)."""

from __future__ import annotations

import json

import aiohttp
import pytest
import websockets

from presence_desktop.devstack.events_server import SUBPROTOCOL, Limits
from tests.fixtures.events import events_auth_for, recv_frame, ws_connect


async def send(ws, frame) -> None:
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))


async def subscribe(ws, auth, sid, channel, *, authorization=None):
    await send(ws, {"type": "subscribe", "id": sid, "channel": channel,
                    "authorization": authorization if authorization is not None else auth.api_key_auth()})
    return await recv_frame(ws)


async def http_publish(auth, channel, events, *, headers=None, raw_body=None):
    body = raw_body if raw_body is not None else json.dumps({"channel": channel, "events": events})
    hdrs = {"content-type": "application/json"}
    hdrs.update(headers if headers is not None else {"x-api-key": auth.api_key})
    async with aiohttp.ClientSession() as session:
        async with session.post(auth.server.http_url, data=body, headers=hdrs, ssl=auth.ssl_context or False) as resp:
            return resp.status, await resp.json(content_type=None)


async def test_handshake_selects_subprotocol_and_acks(events_auth):
    async with await ws_connect(events_auth) as ws:
        assert ws.subprotocol == SUBPROTOCOL
        await send(ws, {"type": "connection_init"})
        ack = await recv_frame(ws)
        assert ack == {"type": "connection_ack", "connectionTimeoutMs": 300000}


async def test_upgrade_without_the_subprotocol_is_refused(events_auth):
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(events_auth.server.realtime_url, ssl=events_auth.ssl_context,
                                 additional_headers={"x-api-key": events_auth.api_key})
    assert info.value.response.status_code == 400


async def test_auth_from_plain_upgrade_headers_swift_style(events_auth):
    headers = events_auth.api_key_auth()
    async with websockets.connect(events_auth.server.realtime_url, subprotocols=[SUBPROTOCOL],
                                  additional_headers={"x-api-key": headers["x-api-key"]},
                                  ssl=events_auth.ssl_context) as ws:
        await send(ws, {"type": "connection_init"})
        assert (await recv_frame(ws))["type"] == "connection_ack"


async def test_ka_is_sent_periodically(events_server_factory, events_local_ca):
    server = await events_server_factory(limits=Limits(ka_interval_s=0.2, connection_timeout_ms=1234))
    auth = events_auth_for(server, events_local_ca)
    async with await ws_connect(auth) as ws:
        await send(ws, {"type": "connection_init"})
        assert await recv_frame(ws) == {"type": "connection_ack", "connectionTimeoutMs": 1234}
        for _ in range(3):
            assert await recv_frame(ws, skip_ka=False) == {"type": "ka"}


async def test_subscribe_then_data_one_frame_per_event_in_order(events_auth):
    async with await ws_connect(events_auth) as ws:
        await send(ws, {"type": "connection_init"})
        await recv_frame(ws)
        assert await subscribe(ws, events_auth, "s1", "/default/room") == {"type": "subscribe_success", "id": "s1"}
        events = [json.dumps({"n": i}) for i in range(3)] + ['"just a string"', "[1,2]"]
        status, body = await http_publish(events_auth, "/default/room", events)
        assert status == 200
        assert body["failed"] == []
        assert [s["index"] for s in body["successful"]] == [0, 1, 2, 3, 4]
        assert len({s["identifier"] for s in body["successful"]}) == 5
        for text in events:
            frame = await recv_frame(ws)
            assert frame == {"type": "data", "id": "s1", "event": text}


async def test_frames_work_without_connection_init(events_auth):
    async with await ws_connect(events_auth) as ws:
        assert (await subscribe(ws, events_auth, "s1", "default/x"))["type"] == "subscribe_success"


async def test_unknown_fields_and_extra_authorization_keys_are_ignored(events_auth):
    async with await ws_connect(events_auth) as ws:
        authz = {**events_auth.api_key_auth(), "x-amz-user-agent": "aws-amplify/6.22.1"}
        await send(ws, {"type": "subscribe", "id": "s1", "channel": "default/x", "authorization": authz,
                        "payload": {"channel": "default/x", "extensions": {"authorization": authz}}})
        assert await recv_frame(ws) == {"type": "subscribe_success", "id": "s1"}


async def test_unsubscribe_stops_delivery(events_auth):
    async with await ws_connect(events_auth) as ws:
        await subscribe(ws, events_auth, "gone", "/default/a")
        await subscribe(ws, events_auth, "kept", "/default/b")
        await send(ws, {"type": "unsubscribe", "id": "gone"})
        assert await recv_frame(ws) == {"type": "unsubscribe_success", "id": "gone"}
        await http_publish(events_auth, "/default/a", ['{"to":"a"}'])
        await http_publish(events_auth, "/default/b", ['{"to":"b"}'])
        # Per-connection order is publish order: had "gone" still been live, its frame came first.
        assert await recv_frame(ws) == {"type": "data", "id": "kept", "event": '{"to":"b"}'}


async def test_unsubscribe_unknown_id(events_auth):
    async with await ws_connect(events_auth) as ws:
        await send(ws, {"type": "unsubscribe", "id": "never"})
        frame = await recv_frame(ws)
        assert frame["type"] == "unsubscribe_error" and frame["id"] == "never"
        assert frame["errors"][0]["errorType"] == "BadRequestException"


async def test_duplicate_subscription_id_is_refused_and_original_kept(events_auth):
    async with await ws_connect(events_auth) as ws:
        assert (await subscribe(ws, events_auth, "dup", "/default/a"))["type"] == "subscribe_success"
        frame = await subscribe(ws, events_auth, "dup", "/default/b")
        assert frame["type"] == "subscribe_error" and frame["id"] == "dup"
        assert frame["errors"][0]["errorType"] == "BadRequestException"
        await http_publish(events_auth, "/default/b", ['{"to":"b"}'])
        await http_publish(events_auth, "/default/a", ['{"to":"a"}'])
        assert await recv_frame(ws) == {"type": "data", "id": "dup", "event": '{"to":"a"}'}


async def test_same_subscription_id_on_two_connections(events_auth):
    """Reconnecting clients re-send the same id on a new connection (amplify)."""
    async with await ws_connect(events_auth) as one, await ws_connect(events_auth) as two:
        assert (await subscribe(one, events_auth, "same", "/default/a"))["type"] == "subscribe_success"
        assert (await subscribe(two, events_auth, "same", "/default/a"))["type"] == "subscribe_success"
        await http_publish(events_auth, "/default/a", ["1"])
        assert (await recv_frame(one))["event"] == "1"
        assert (await recv_frame(two))["event"] == "1"


async def test_websocket_publish_success_and_self_delivery(events_auth):
    async with await ws_connect(events_auth) as ws:
        await subscribe(ws, events_auth, "me", "/default/*")
        await send(ws, {"type": "publish", "id": "p1", "channel": "default/chat",
                        "events": ['{"a":1}', '{"b":2}'], "authorization": events_auth.api_key_auth()})
        frames = [await recv_frame(ws) for _ in range(3)]
        ack = next(f for f in frames if f["type"] == "publish_success")
        assert ack["id"] == "p1" and ack["failed"] == []
        assert [s["index"] for s in ack["successful"]] == [0, 1]
        assert [f["event"] for f in frames if f["type"] == "data"] == ['{"a":1}', '{"b":2}']


async def test_websocket_publish_error(events_auth):
    async with await ws_connect(events_auth) as ws:
        await send(ws, {"type": "publish", "id": "p1", "channel": "default/*",
                        "events": ['{"a":1}'], "authorization": events_auth.api_key_auth()})
        frame = await recv_frame(ws)
        assert frame["type"] == "publish_error" and frame["id"] == "p1"
        assert frame["errors"][0]["errorType"] == "BadRequestException"
        assert "Invalid Channel Format" in frame["errors"][0]["message"]


@pytest.mark.parametrize(
    "raw, error_type, frame_id",
    [
        ("{not json", "BadRequestException", None),
        ("[1, 2]", "BadRequestException", None),
        ('"text"', "BadRequestException", None),
        ('{"type":"launch_rockets","id":"x1"}', "UnsupportedOperation", "x1"),
        ('{"id":"no-type"}', "UnsupportedOperation", "no-type"),
        ('{"type":"data","id":"s1","event":"{}"}', "UnsupportedOperation", "s1"),
        ('{"type":"ka"}', "UnsupportedOperation", None),
        ('{"type":"connection_ack"}', "UnsupportedOperation", None),
        ('{"type":"subscribe_success","id":"s9"}', "UnsupportedOperation", "s9"),
        ('{"type":"publish_success","id":"p9","successful":[],"failed":[]}', "UnsupportedOperation", "p9"),
    ],
)
async def test_bad_frames_get_error_and_connection_survives(events_auth, raw, error_type, frame_id):
    async with await ws_connect(events_auth) as ws:
        await send(ws, raw)
        frame = await recv_frame(ws)
        assert frame["type"] == "error"
        assert frame.get("id") == frame_id
        assert frame["errors"][0]["errorType"] == error_type
        assert frame["errors"][0]["message"]
        assert (await subscribe(ws, events_auth, "after", "/default/a"))["type"] == "subscribe_success"


async def test_binary_frame_gets_error(events_auth):
    async with await ws_connect(events_auth) as ws:
        await ws.send(b'{"type":"connection_init"}')
        assert (await recv_frame(ws))["type"] == "error"


async def test_subscribe_without_id_or_authorization(events_auth):
    async with await ws_connect(events_auth) as ws:
        await send(ws, {"type": "subscribe", "channel": "/default/a", "authorization": events_auth.api_key_auth()})
        frame = await recv_frame(ws)
        assert frame["type"] == "subscribe_error" and frame["errors"][0]["errorType"] == "BadRequestException"
        await send(ws, {"type": "subscribe", "id": "s1", "channel": "/default/a"})
        frame = await recv_frame(ws)
        assert frame == {"type": "subscribe_error", "id": "s1", "errors": [
            {"errorType": "UnauthorizedException", "message": frame["errors"][0]["message"]}]}


async def test_http_publish_bad_bodies(events_auth):
    status, body = await http_publish(events_auth, None, None, raw_body="{nope")
    assert status == 400 and body["errors"][0]["errorType"] == "BadRequestException"
    status, body = await http_publish(events_auth, None, None, raw_body="[1]")
    assert status == 400 and body["errors"][0]["errorType"] == "BadRequestException"
    status, body = await http_publish(events_auth, "/default/a", None)
    assert status == 400
    status, body = await http_publish(events_auth, "/default/a", [{"not": "a string"}])
    assert status == 400 and "string" in body["errors"][0]["message"]
    status, body = await http_publish(events_auth, "/default/a", ["{not json"])
    assert status == 400 and "JSON" in body["errors"][0]["message"]


async def test_http_only_post(events_auth):
    async with aiohttp.ClientSession() as session:
        async with session.get(events_auth.server.http_url, ssl=events_auth.ssl_context) as resp:
            assert resp.status == 405
