"""Fault-injection hooks (for the realtime client's tests) and TLS against the local CA."""

from __future__ import annotations

import asyncio
import json
import ssl

import aiohttp
import pytest
import websockets

from presence_desktop.devstack.events_server import Limits
from presence_desktop.events_api.protocol import SUBPROTOCOL
from tests.devstack.test_events_protocol import http_publish, send, subscribe
from tests.fixtures.events import events_auth_for, recv_frame, ws_connect


async def test_stop_and_start_on_the_same_port(events_auth):
    server = events_auth.server
    port = server.port
    ws = await ws_connect(events_auth)
    await server.stop()
    with pytest.raises(websockets.ConnectionClosed):
        await recv_frame(ws)
    assert ws.close_code == 1001
    with pytest.raises(OSError):
        await ws_connect(events_auth)
    await server.start()
    assert server.port == port
    async with await ws_connect(events_auth) as again:
        assert (await subscribe(again, events_auth, "s", "/default/a"))["type"] == "subscribe_success"


async def test_drop_all_connections_abruptly_and_keep_serving(events_auth):
    ws = await ws_connect(events_auth)
    await subscribe(ws, events_auth, "s", "/default/a")
    assert await events_auth.server.drop_all_connections() == 1
    with pytest.raises(websockets.ConnectionClosed):
        await recv_frame(ws)
    assert ws.close_code == 1006
    assert events_auth.server.subscription_count == 0
    async with await ws_connect(events_auth) as again:
        assert (await subscribe(again, events_auth, "s", "/default/a"))["type"] == "subscribe_success"


async def test_drop_all_connections_with_close_frame(events_auth):
    ws = await ws_connect(events_auth)
    await events_auth.server.drop_all_connections(abrupt=False, code=1012)
    with pytest.raises(websockets.ConnectionClosed):
        await recv_frame(ws)
    assert ws.close_code == 1012


async def test_inject_raw(events_auth):
    async with await ws_connect(events_auth) as one, await ws_connect(events_auth) as two:
        await subscribe(one, events_auth, "s", "/default/a")  # both connections registered
        await subscribe(two, events_auth, "s", "/default/a")
        assert events_auth.server.inject_raw("{garbage") == 2
        assert await one.recv() == "{garbage"
        assert await two.recv() == "{garbage"


async def test_pause_sending_is_half_open(events_server_factory, events_local_ca):
    server = await events_server_factory(limits=Limits(ka_interval_s=0.1))
    auth = events_auth_for(server, events_local_ca)
    async with await ws_connect(auth, ping_interval=None) as ws:
        await send(ws, {"type": "connection_init"})
        assert (await recv_frame(ws))["type"] == "connection_ack"
        await subscribe(ws, auth, "s", "/default/a")
        assert await recv_frame(ws, skip_ka=False) == {"type": "ka"}
        server.pause_sending()
        await asyncio.sleep(0.15)  # let a ka queued before the pause flush
        while True:  # drain whatever was in flight
            try:
                await asyncio.wait_for(ws.recv(), 0.3)
            except TimeoutError:
                break
        await http_publish(auth, "/default/a", ['"lost"'])
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 1.0)  # no ka, no data for 10 ka periods
        pong = await ws.ping()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pong, 0.5)  # not even pongs
        assert server.connection_count == 1  # socket still open
        server.resume_sending()
        await http_publish(auth, "/default/a", ['"back"'])
        assert (await recv_frame(ws))["event"] == '"back"'


async def test_tls_handshake_verified_against_local_ca(events_auth, events_local_ca):
    assert events_auth.server.realtime_url.startswith("wss://")
    assert events_auth.server.http_url.startswith("https://")
    strict = ssl.create_default_context()
    strict.load_verify_locations(cafile=str(events_local_ca.ca_file))
    async with websockets.connect(events_auth.server.realtime_url, ssl=strict,
                                  subprotocols=events_auth.subprotocols(events_auth.api_key_auth())) as ws:
        assert ws.subprotocol == SUBPROTOCOL
        cert = ws.transport.get_extra_info("peercert")
        assert any(v == "127.0.0.1" for _, v in cert["subjectAltName"])
    # Without the local CA the certificate is not trusted.
    with pytest.raises(ssl.SSLCertVerificationError):
        await websockets.connect(events_auth.server.realtime_url, ssl=ssl.create_default_context(),
                                 subprotocols=[SUBPROTOCOL])
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.post(events_auth.server.http_url, data="{}")
        async with session.post(events_auth.server.http_url, ssl=strict,
                                data=json.dumps({"channel": "/default/a", "events": ["1"]}),
                                headers={"x-api-key": events_auth.api_key}) as resp:
            assert resp.status == 200


async def test_plain_server_when_tls_off(events_server_factory):
    server = await events_server_factory(tls=False)
    assert server.realtime_url.startswith("ws://") and server.http_url.startswith("http://")
    auth = events_auth_for(server, None)
    async with await ws_connect(auth) as ws:
        assert (await subscribe(ws, auth, "s", "/default/a"))["type"] == "subscribe_success"


async def test_ready_info(events_auth, events_local_ca):
    info = events_auth.server.ready_info()
    assert info["events"] == {
        "http": events_auth.server.http_url,
        "realtime": events_auth.server.realtime_url,
        "api_key": events_auth.api_key,
        "ca_file": str(events_local_ca.ca_file),
    }
    assert info["iam"] == {"access_key_id": events_auth.access_key_id,
                           "secret_access_key": events_auth.secret_access_key}
