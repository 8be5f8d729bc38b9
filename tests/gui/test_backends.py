"""The real adapters behind the ports: the relay HTTP client (against a small aiohttp server) and
the live feed's mapping of the events client's world onto the service's sink."""

import asyncio
import time
from dataclasses import dataclass

import pytest
from aiohttp import web

from presence_desktop.client.backends import EventsLiveFeed, channel_for_identity
from presence_desktop.client.ports import RelayError
from presence_desktop.client.relay_client import HttpRelayClient
from presence_desktop.domain.identity import Identity
from presence_desktop.domain.presence import utc_now_iso
from presence_desktop.events_api.client import ClientClosedError, LostEvents
from tests.gui.fakes import demo_events


def event_dict(agent="agent-1", version=2, status="break"):
    return demo_events(1)[0].with_(agent_id=agent, version=version, status=status, changed_at=utc_now_iso()).to_dict()


@pytest.fixture
async def relay_server():
    state = {"tokens": [], "fail_first_401": True, "calls": []}

    async def status(request):
        state["tokens"].append(request.headers.get("Authorization"))
        body = await request.json()
        state["calls"].append(body)
        if request.headers.get("Authorization") == "Bearer old" and state["fail_first_401"]:
            return web.json_response({"error": {"code": "invalid_token", "message": "expired"}}, status=401)
        if body.get("status") == "nope":
            return web.json_response({"error": {"code": "unknown_status", "message": "unknown status 'nope'"}}, status=400)
        return web.json_response(event_dict(status=body["status"]))

    async def roster(request):
        team = request.query.get("team")
        agents = [event_dict("agent-1"), {"kind": "presence", "schema": 1, "bad": True}, event_dict("agent-2", 3, "lunch") | {"last_seen": 1800000000.5}]
        return web.json_response({"agents": agents, "as_of": "2026-11-29T20:00:00.000Z", "team": team})

    async def heartbeat(request):
        return web.json_response({"ok": True})

    app = web.Application()
    app.add_routes([web.post("/v1/status", status), web.get("/v1/roster", roster), web.post("/v1/heartbeat", heartbeat)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", state
    await runner.cleanup()


async def test_relay_client_refreshes_once_on_401_and_maps_errors(relay_server):
    url, state = relay_server
    token = {"value": "old"}

    async def get_token():
        return token["value"]

    async def refresh():
        token["value"] = "new"

    client = HttpRelayClient(url, get_token, refresh=refresh)
    ev = await client.set_status("break", "back in 5")
    assert ev.status == "break" and state["tokens"] == ["Bearer old", "Bearer new"]
    with pytest.raises(RelayError) as err:
        await client.set_status("nope")
    assert err.value.status == 400 and err.value.code == "unknown_status" and not err.value.retryable
    snap = await client.roster("team-1")
    assert [e.agent_id for e in snap.events] == ["agent-1", "agent-2"]  # the bad entry is skipped
    assert snap.last_seen == {"agent-2": 1800000000.5} and snap.as_of.startswith("2026")
    await client.heartbeat()
    await client.close()


async def test_relay_client_unreachable_is_retryable():
    async def tok():
        return "t"

    client = HttpRelayClient("http://127.0.0.1:9", tok, timeout_s=2)
    with pytest.raises(RelayError) as err:
        await client.heartbeat()
    assert err.value.status == 0 and err.value.retryable
    await client.close()


def test_channels_by_role():
    assert channel_for_identity(Identity("sup-1", "s", ("supervisors",), "team-1")) == "/agent-presence/*"
    assert channel_for_identity(Identity("agent-3", "s", ("support_agents",), "team-3")) == "/agent-presence/team-3/*"


@dataclass
class State:
    status: str
    next_attempt_at: float | None = None
    reason: str | None = None


class FakeSub:
    def __init__(self):
        self.q = asyncio.Queue()

    def __aiter__(self):
        return self

    async def __anext__(self):
        item = await self.q.get()
        if item is StopAsyncIteration:
            raise StopAsyncIteration
        return item


class FakeClient:
    def __init__(self):
        self.listeners = []
        self.sub = FakeSub()
        self.state = State("idle")
        self.subscribed = []

    def add_state_listener(self, cb):
        self.listeners.append(cb)
        return lambda: self.listeners.remove(cb)

    def set(self, status, **kw):
        self.state = State(status, **kw)
        for cb in list(self.listeners):
            cb(self.state)

    async def start(self):
        self.set("connecting")
        self.set("connected")

    async def subscribe(self, channel):
        if self.state.status == "closed":
            raise ClientClosedError("client closed")
        self.subscribed.append(channel)
        return self.sub

    async def close(self):
        self.set("closed")
        await self.sub.q.put(StopAsyncIteration)


class Sink:
    def __init__(self):
        self.log = []

    def feed_subscribed(self):
        self.log.append("subscribed")

    def feed_event(self, ev):
        self.log.append(("event", ev.agent_id, ev.version))

    def feed_lost_events(self):
        self.log.append("lost")

    def feed_down(self, reason, next_retry_at):
        self.log.append(("down", reason, next_retry_at))


async def test_live_feed_maps_client_states_and_items():
    client, sink = FakeClient(), Sink()
    feed = EventsLiveFeed(client, "/agent-presence/*")
    task = asyncio.create_task(feed.run(sink))
    await asyncio.sleep(0.05)
    assert client.subscribed == ["/agent-presence/*"] and sink.log == ["subscribed"]
    await client.sub.q.put(event_dict("agent-4", 7))
    await client.sub.q.put({"kind": "presence", "schema": 1})  # malformed: dropped, not fatal
    await client.sub.q.put(LostEvents("overflow", 12))
    await asyncio.sleep(0.05)
    at = time.time() + 4
    client.set("reconnecting", next_attempt_at=at, reason="closed by server (code 1001)")
    await client.sub.q.put(LostEvents("reconnected"))  # resubscribed on the new connection
    await asyncio.sleep(0.05)
    assert sink.log == ["subscribed", ("event", "agent-4", 7), "lost",
                        ("down", "closed by server (code 1001)", at), "subscribed"]
    await feed.close()
    await asyncio.wait_for(task, 2)  # ends quietly once the client is closed


async def test_relay_client_verifies_tls_with_the_profiles_extra_ca(tmp_path):
    import ssl

    import trustme

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    async def heartbeat(request):
        return web.json_response({"ok": True})

    app = web.Application()
    app.add_routes([web.post("/v1/heartbeat", heartbeat)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    url = f"https://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    async def tok():
        return "t"

    try:
        untrusting = HttpRelayClient(url, tok, timeout_s=5)
        with pytest.raises(RelayError) as err:
            await untrusting.heartbeat()  # the system store does not know this CA: refused
        assert err.value.status == 0
        trusting = HttpRelayClient(url, tok, ca_file=str(ca_file), timeout_s=5)
        await trusting.heartbeat()
        await untrusting.close()
        await trusting.close()
    finally:
        await runner.cleanup()


async def test_live_feed_yields_to_the_loop_within_a_long_run_of_events_in_order():
    """The subscription hands over every queued item without suspending; the feed must let the
    GUI (timers, repaints) run every FEED_SLICE events, and keep the order."""
    from presence_desktop.client import backends as adapters

    client, sink = FakeClient(), Sink()
    for v in range(1, 1001):
        client.sub.q.put_nowait(event_dict("agent-4", v))
    seen = []

    async def other():
        while len(sink.log) < 1001:
            seen.append(len(sink.log))
            await asyncio.sleep(0)

    observer = asyncio.create_task(other())
    feed = EventsLiveFeed(client, "/agent-presence/*")
    task = asyncio.create_task(feed.run(sink))
    await asyncio.wait_for(observer, 5)
    assert sink.log == ["subscribed", *[("event", "agent-4", v) for v in range(1, 1001)]]
    during = {n for n in seen if 1 < n < 1001}
    assert adapters.FEED_SLICE <= 250 and len(during) >= 1000 // adapters.FEED_SLICE - 1
    await feed.close()
    await asyncio.wait_for(task, 2)


async def test_relay_snapshot_is_parsed_off_the_event_loop_thread(relay_server, monkeypatch):
    import threading

    from presence_desktop.domain import presence

    url, _ = relay_server
    threads = set()
    original = presence.PresenceEvent.from_dict.__func__

    def spy(cls, raw):
        threads.add(threading.current_thread() is threading.main_thread())
        return original(cls, raw)

    monkeypatch.setattr(presence.PresenceEvent, "from_dict", classmethod(spy))

    async def tok():
        return "t"

    client = HttpRelayClient(url, tok)
    snap = await client.roster()
    assert [e.agent_id for e in snap.events] == ["agent-1", "agent-2"]
    assert threads == {False}  # never on the loop's (GUI) thread
    await client.close()


async def test_relay_roster_answer_without_agents_is_a_bad_response():
    from aiohttp import web as w

    async def roster(request):
        return w.json_response({"nope": True})

    app = w.Application()
    app.add_routes([w.get("/v1/roster", roster)])
    runner = w.AppRunner(app)
    await runner.setup()
    site = w.TCPSite(runner, "127.0.0.1", 0)
    await site.start()

    async def tok():
        return "t"

    client = HttpRelayClient(f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}", tok)
    try:
        with pytest.raises(RelayError) as err:
            await client.roster()
        assert err.value.status == 502 and err.value.code == "bad_response"
    finally:
        await client.close()
        await runner.cleanup()
