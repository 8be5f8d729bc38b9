"""Under load: 200 WebSocket subscribers and 2,000 events; every subscriber receives every event
exactly once, in publish order per channel (issue 2, "Must show")."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.devstack.test_events_protocol import send
from tests.fixtures.events import events_auth_for, recv_frame, ws_connect

SUBSCRIBERS = 200
EVENTS = 2000
CHANNELS = 8
BATCH = 5


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_200_subscribers_2000_events_exactly_once_in_order(events_server_factory):
    server = await events_server_factory(tls=False)
    auth = events_auth_for(server, None)
    authz = auth.api_key_auth()

    subscribers = []
    expected_acks = []
    for i in range(SUBSCRIBERS):
        ws = await ws_connect(auth, compression=None, ping_interval=None)
        # Even subscribers use one wildcard subscription, odd ones one exact subscription per
        # channel: either way every subscriber must get every event exactly once.
        if i % 2 == 0:
            subs = [(f"w{i}", "/default/load/*")]
        else:
            subs = [(f"e{i}-{c}", f"/default/load/c{c}") for c in range(CHANNELS)]
        for sid, channel in subs:
            await send(ws, {"type": "subscribe", "id": sid, "channel": channel, "authorization": authz})
        subscribers.append(ws)
        expected_acks.append(len(subs))
    for ws, acks in zip(subscribers, expected_acks, strict=True):
        for _ in range(acks):
            assert (await recv_frame(ws))["type"] == "subscribe_success"

    received: list[dict[int, list[int]]] = [dict() for _ in range(SUBSCRIBERS)]

    async def consume(index: int, ws) -> None:
        per_channel = received[index]
        count = 0
        while count < EVENTS:
            raw = await ws.recv()
            frame = json.loads(raw)
            if frame["type"] != "data":
                continue
            event = json.loads(frame["event"])
            assert frame["id"] == (f"w{index}" if index % 2 == 0 else f"e{index}-{event['c']}")
            per_channel.setdefault(event["c"], []).append(event["n"])
            count += 1

    consumers = [asyncio.create_task(consume(i, ws)) for i, ws in enumerate(subscribers)]
    started = time.monotonic()
    publisher = await ws_connect(auth, compression=None, ping_interval=None)
    sequence = [0] * CHANNELS
    published: dict[int, list[int]] = {c: [] for c in range(CHANNELS)}
    pending = 0
    for batch_no in range(EVENTS // BATCH):
        channel = batch_no % CHANNELS
        events = []
        for _ in range(BATCH):
            events.append(json.dumps({"c": channel, "n": sequence[channel]}))
            published[channel].append(sequence[channel])
            sequence[channel] += 1
        await send(publisher, {"type": "publish", "id": f"p{batch_no}", "channel": f"/default/load/c{channel}",
                               "events": events, "authorization": authz})
        pending += 1
        if pending >= 20:  # keep a window of publishes in flight, as a real publisher would
            for _ in range(pending):
                ack = await recv_frame(publisher, timeout=60)
                assert ack["type"] == "publish_success" and len(ack["successful"]) == BATCH
            pending = 0
    for _ in range(pending):
        assert (await recv_frame(publisher, timeout=60))["type"] == "publish_success"

    await asyncio.wait_for(asyncio.gather(*consumers), timeout=180)
    elapsed = time.monotonic() - started
    for index, per_channel in enumerate(received):
        assert per_channel == published, f"subscriber {index} got a different sequence"
    assert server.connection_count == SUBSCRIBERS + 1  # nobody was dropped as too slow
    print(f"\n{SUBSCRIBERS * EVENTS} deliveries in {elapsed:.1f} s")
    await publisher.close()
    await asyncio.gather(*(ws.close() for ws in subscribers))
