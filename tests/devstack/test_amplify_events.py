"""A real AWS client against the local events server: Amplify JS v6 ``events`` (node) connects
over wss, subscribes, receives an event published over HTTP, publishes over HTTP and over the
WebSocket, and unsubscribes, on namespace ``default`` with an API key (docs/appsync-events-protocol.md section 8)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.devstack.test_events_protocol import http_publish

JS_DIR = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS_DIR / "amplify_events.mjs"

pytestmark = pytest.mark.node


async def test_amplify_events_round_trip(events_auth, events_local_ca):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Amplify JS client cannot run")
    assert (JS_DIR / "node_modules" / "aws-amplify").is_dir(), "run `npm ci` in tests/js (make test does)"
    server = events_auth.server
    channel = "/default/amplify"
    env = {
        **os.environ,
        "EVENTS_HTTP": server.http_url,
        "EVENTS_REGION": server.config.region,
        "EVENTS_API_KEY": events_auth.api_key,
        "EVENTS_CHANNEL": channel,
        "NODE_EXTRA_CA_CERTS": str(events_local_ca.ca_file),
    }
    proc = await asyncio.create_subprocess_exec(
        node, str(SCRIPT), cwd=JS_DIR, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    lines = []
    try:
        async with asyncio.timeout(120):
            while True:
                raw = await proc.stdout.readline()
                if not raw:
                    break
                msg = json.loads(raw)
                lines.append(msg)
                if msg["stage"] == "subscribing":
                    while server.stats["subscribed"] < 1:  # amplify sends subscribe, we ack it
                        await asyncio.sleep(0.05)
                    status, body = await http_publish(events_auth, channel, [json.dumps({"from": "pytest-http"})])
                    assert status == 200, body
                elif msg["stage"] in ("done", "error"):
                    break
            code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    stderr = (await proc.stderr.read()).decode(errors="replace")
    final = lines[-1] if lines else {}
    assert final.get("stage") == "done", f"amplify output: {lines}\nstderr: {stderr[-3000:]}"
    assert code == 0
    froms = [e.get("from") for e in final["received"]]
    assert froms == ["pytest-http", "amplify-post", "amplify-ws"]
    assert final["received"][1]["text"] == "über <ok>"
    assert not final["postFailed"]
    assert server.stats["unsubscribed"] == 1  # amplify's unsubscribe frame reached us and was acked
    assert server.stats["connections"] >= 1
