"""DevStack._start_relay: the relay wired to the local Cognito and the local events server,
HTTPS with the local CA, SQLite in the state folder, ``ready_info()["relay"]["url"]``."""

from __future__ import annotations

import asyncio
import json
import ssl

import aiohttp
import websockets

from presence_desktop.devstack.stack import DevStack, StackOptions
from presence_desktop.events_api.protocol import subprotocols_for
from tests.fixtures.cognito import srp_sign_in
from tests.fixtures.events import recv_frame


async def test_devstack_relay_end_to_end(tmp_path):
    stack = DevStack(StackOptions(state_dir=tmp_path / "state", simulate_teams=2, extra={"demo_agents": 4}))
    await stack.start()
    try:
        info = stack.ready_info()
        url = info["relay"]["url"]
        assert url.startswith("https://127.0.0.1:") and info["relay"]["ca_file"] == str(stack.ca.ca_file)
        assert (tmp_path / "state" / "relay.sqlite3").is_file()
        ctx = ssl.create_default_context(cafile=info["relay"]["ca_file"])  # clients trust only the local CA

        agent = await asyncio.to_thread(srp_sign_in, stack.cognito, "agent-1")
        watcher = await asyncio.to_thread(srp_sign_in, stack.cognito, "mgr-1")
        auth = {"host": stack.events.http_host, "authorization": watcher["id_token"]}
        async with websockets.connect(info["events"]["realtime"], ssl=ctx,
                                      subprotocols=subprotocols_for(auth)) as ws:
            await ws.send(json.dumps({"type": "subscribe", "id": "s1", "channel": "/agent-presence/*", "authorization": auth}))
            assert (await recv_frame(ws))["type"] == "subscribe_success"
            async with aiohttp.ClientSession() as session:
                async with session.post(f"{url}/v1/status", json={"status": "available"}, ssl=ctx,
                                        headers={"Authorization": f"Bearer {agent['id_token']}"}) as resp:
                    body = await resp.json()
                    assert resp.status == 200, body
                received = json.loads((await recv_frame(ws))["event"])
                assert received == body and received["agent_id"] == "agent-1"
                async with session.get(f"{url}/v1/roster", ssl=ctx,
                                       headers={"Authorization": f"Bearer {agent['id_token']}"}) as resp:
                    roster = await resp.json()
                assert [a["agent_id"] for a in roster["agents"]] == ["agent-1"]
    finally:
        await stack.stop()
    assert stack.relay is None
