"""The real adapters behind the ports: the relay HTTP client (against a small aiohttp server) and
the live feed's mapping of the events client's world onto the service's sink."""

import asyncio
import time
from dataclasses import dataclass

import pytest
from aiohttp import web

from presence_desktop.client.backends import EventsLiveFeed, channels_for
from presence_desktop.client.ports import RelayCallError
from presence_desktop.client.relay_client import HttpRelayClient
from presence_desktop.domain.identity import Identity
from presence_desktop.domain.presence import utc_now_iso
from presence_desktop.events_api.client import ClientClosedError, LostEvents
from tests.gui.fakes import demo_events


def event_dict(agent="agent-1", version=2, status="break"):
    return demo_events(1)[0].with_(agent_id=agent, version=version, status=status, changed_at=utc_now_iso()).to_dict()


@pytest.fixture
async def serve():
    """``await serve(routes, ssl_context=None)`` -> the base URL of an aiohttp server on a loopback
    port the OS chose; every server started is cleaned up after the test."""
    runners = []

    async def start(routes, ssl_context=None) -> str:
        app = web.Application()
        app.add_routes(routes)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        scheme = "https" if ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def relay_server(serve):
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

    url = await serve([web.post("/v1/status", status), web.get("/v1/roster", roster), web.post("/v1/heartbeat", heartbeat)])
    return url, state


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
    with pytest.raises(RelayCallError) as err:
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
    with pytest.raises(RelayCallError) as err:
        await client.heartbeat()
    assert err.value.status == 0 and err.value.retryable
    await client.close()


def test_channels_by_role():
    sup = Identity("sup-1", "s", ("supervisors",), "team-1", supervised_teams=("team-2", "team-5"))
    assert channels_for(sup) == ["/agent-presence/team-2/*", "/agent-presence/team-5/*"]  # never the wildcard
    assert channels_for(sup, ["team-5", "team-9"]) == ["/agent-presence/team-5/*"]  # only what the token allows
    assert channels_for(Identity("sup-2", "s", ("supervisors",), "team-1")) == []  # supervises nothing
    assert channels_for(Identity("agent-3", "s", ("support_agents",), "team-3")) == ["/agent-presence/team-3/*"]
    assert channels_for(Identity("agent-4", "s", ("support_agents",), None)) == []  # no team: nothing, not everything
    assert channels_for(Identity("mgr-1", "s", ("managers",), None)) == ["/agent-presence/*"]


@dataclass
class State:
    status: str
    next_attempt_at: float | None = None
    reason: str | None = None
    needs_sign_in: bool = False
    quiet_since: float | None = None


class FakeSub:
    def __init__(self, channel=None):
        self.q = asyncio.Queue()
        self.channel = channel
        self.unsubscribed = False

    async def unsubscribe(self):
        self.unsubscribed = True

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
        self.subs = {}
        self.refuse = set()
        self.connects = 0

    def add_state_listener(self, cb):
        self.listeners.append(cb)
        return lambda: self.listeners.remove(cb)

    def set(self, status, **kw):
        self.state = State(status, **kw)
        for cb in list(self.listeners):
            cb(self.state)

    async def start(self):
        self.connects += 1
        self.set("connecting")
        self.set("connected")

    async def subscribe(self, channel):
        if self.state.status == "closed":
            raise ClientClosedError("client closed")
        self.subscribed.append(channel)
        if self.refuse and channel in self.refuse:
            from presence_desktop.events_api.client import SubscriptionError

            raise SubscriptionError("Unauthorized")
        if self.subs:  # the first subscription uses self.sub (tests put items there)
            self.subs[channel] = FakeSub(channel)
            return self.subs[channel]
        self.subs[channel] = self.sub
        return self.sub

    async def close(self):
        self.set("closed")
        for sub in {id(s): s for s in [self.sub, *self.subs.values()]}.values():
            await sub.q.put(StopAsyncIteration)


class Sink:
    def __init__(self):
        self.log = []

    def feed_subscribed(self, channel=None):
        self.log.append("subscribed")
        self.channels = getattr(self, "channels", []) + [channel]

    def feed_refused(self, channel, reason, *, needs_sign_in=False, retrying=True):
        self.log.append(("refused", channel, reason))

    def feed_event(self, ev):
        self.log.append(("event", ev.agent_id, ev.version))

    def feed_lost_events(self):
        self.log.append("lost")

    def feed_down(self, reason, next_retry_at, *, needs_sign_in=False, stopped=False):
        self.log.append(("down", reason, next_retry_at, needs_sign_in))

    def feed_quiet(self, since):
        self.log.append(("quiet", since))



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
                        ("down", "closed by server (code 1001)", at, False), "subscribed"]
    # The client gave up because the session was refused: the typed fact goes through as is.
    client.set("failed", reason="sign in again: token refused", needs_sign_in=True)
    assert sink.log[-1] == ("down", "sign in again: token refused", None, True)
    await feed.close()
    await asyncio.wait_for(task, 2)  # ends quietly once the client is closed


async def test_live_feed_reports_missed_keep_alives_once_and_their_end():
    """A frozen server looked live for ~40 s: the feed passes on the client's quiet state."""
    client, sink = FakeClient(), Sink()
    feed = EventsLiveFeed(client, "/agent-presence/*")
    task = asyncio.create_task(feed.run(sink))
    await asyncio.sleep(0.05)
    client.set("connected", quiet_since=1000.0)
    client.set("connected", quiet_since=1000.0)  # the same state again: reported once
    client.set("connected")  # a frame came
    await asyncio.sleep(0.05)
    # heard from again on the same socket: events may have been missed meanwhile, so rejoin
    assert sink.log == ["subscribed", ("quiet", 1000.0), ("quiet", None), "lost"]
    await feed.close()
    await asyncio.wait_for(task, 2)


async def test_relay_client_verifies_tls_with_the_profiles_extra_ca(tmp_path, serve):
    import ssl

    import trustme

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    async def heartbeat(request):
        return web.json_response({"ok": True})

    url = await serve([web.post("/v1/heartbeat", heartbeat)], ssl_context=server_ctx)

    async def tok():
        return "t"

    untrusting = HttpRelayClient(url, tok, timeout_s=5)
    with pytest.raises(RelayCallError) as err:
        await untrusting.heartbeat()  # the system store does not know this CA: refused
    assert err.value.status == 0
    trusting = HttpRelayClient(url, tok, ca_file=str(ca_file), timeout_s=5)
    await trusting.heartbeat()
    await untrusting.close()
    await trusting.close()


async def test_live_feed_yields_to_the_loop_within_a_long_run_of_events_in_order():
    """The subscription hands over every queued item without suspending; the feed must let the
    GUI (timers, repaints) run every FEED_SLICE events, and keep the order."""
    from presence_desktop.client import backends

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
    assert backends.FEED_SLICE <= 250 and len(during) >= 1000 // backends.FEED_SLICE - 1
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


async def test_relay_roster_answer_without_agents_is_a_bad_response(serve):
    async def roster(request):
        return web.json_response({"nope": True})

    async def tok():
        return "t"

    client = HttpRelayClient(await serve([web.get("/v1/roster", roster)]), tok)
    try:
        with pytest.raises(RelayCallError) as err:
            await client.roster()
        assert err.value.status == 502 and err.value.code == "bad_response"
    finally:
        await client.close()


PORTAL = "<html><body>Please accept the terms of use</body></html>"


@pytest.mark.parametrize("status,body,content_type,stored", [
    (502, PORTAL, "text/html", None),  # a proxy's own 502
    (200, PORTAL, "text/html", None),  # a captive portal answers 200 with its page
    (200, "[]", "application/json", None),
    (503, '{"message": "Service Unavailable"}', "application/json", None),  # a gateway's JSON, not the relay's
    (502, '{"error": {"code": "publish_rejected", "message": "refused"}}', "application/json", None),  # no version
    (502, '{"error": {"code": "bad_gateway", "message": "x", "stored_version": 3}}', "application/json", None),
    (502, '{"error": {"code": "publish_rejected", "message": "refused", "stored_version": 7}}', "application/json", 7),
    (503, '{"error": {"code": "events_unavailable", "message": "later", "stored_version": 2}}', "application/json", 2),
])
async def test_only_the_relays_own_stored_answer_reads_as_stored(serve, status, body, content_type, stored):
    """Any 502/503 (or an unparseable 200) used to be read as "stored, will be published": the
    status stayed pending for ever, never sent again, though nothing was stored."""
    async def handler(request):
        return web.Response(status=status, text=body, content_type=content_type)

    async def tok():
        return "t"

    client = HttpRelayClient(await serve([web.post("/v1/status", handler)]), tok)
    try:
        with pytest.raises(RelayCallError) as err:
            await client.set_status("away")
        assert err.value.stored_version == stored and err.value.stored is (stored is not None)
        assert err.value.retryable
    finally:
        await client.close()


async def test_live_feed_changes_channels_over_the_same_connection():
    client, sink = FakeClient(), Sink()
    feed = EventsLiveFeed(client, ["/agent-presence/team-1/*"])
    task = asyncio.create_task(feed.run(sink))
    await asyncio.sleep(0.05)
    assert client.subscribed == ["/agent-presence/team-1/*"] and sink.channels == ["/agent-presence/team-1/*"]
    client.refuse = {"/agent-presence/team-3/*"}
    feed.set_channels(["/agent-presence/team-2/*", "/agent-presence/team-3/*"])
    await asyncio.sleep(0.05)
    assert client.connects == 1, "no reconnect"
    assert client.sub.unsubscribed, "the dropped team's subscription is ended"
    assert client.subscribed[1:] == ["/agent-presence/team-2/*", "/agent-presence/team-3/*"]
    assert sink.channels[-1] == "/agent-presence/team-2/*"
    assert ("refused", "/agent-presence/team-3/*", "subscription refused: Unauthorized") in sink.log
    await client.subs["/agent-presence/team-2/*"].q.put(event_dict("agent-2", 4))
    await asyncio.sleep(0.05)
    assert sink.log[-1] == ("event", "agent-2", 4) or ("event", "agent-2", 4) in sink.log
    await feed.close()
    await asyncio.wait_for(task, 2)


async def test_relay_client_follows_the_roster_cursor_to_the_last_page(serve):
    seen_queries = []

    async def roster(request):
        seen_queries.append(dict(request.query))
        cursor = request.query.get("cursor")
        if cursor is None:
            body = {"agents": [event_dict("agent-1"), event_dict("agent-2")], "as_of": "2026-11-29T20:00:00.000Z",
                    "next": "agent-2"}
        elif cursor == "agent-2":
            body = {"agents": [event_dict("agent-3") | {"last_seen": 1800000000.0}], "as_of": "2026-11-29T20:00:01.000Z",
                    "next": None}
        else:
            body = {"agents": [], "as_of": "2026-11-29T20:00:02.000Z", "next": cursor}  # a cursor that never moves
        return web.json_response(body)

    url = await serve([web.get("/v1/roster", roster)])

    async def tok():
        return "t"

    client = HttpRelayClient(url, tok, timeout_s=5)
    try:
        snap = await client.roster("team-1")
        assert [e.agent_id for e in snap.events] == ["agent-1", "agent-2", "agent-3"]
        assert snap.as_of == "2026-11-29T20:00:00.000Z" and snap.last_seen == {"agent-3": 1800000000.0}
        assert seen_queries == [{"team": "team-1"}, {"team": "team-1", "cursor": "agent-2"}]
        seen_queries.clear()

        async def stuck(request):
            return web.json_response({"agents": [], "as_of": "2026-11-29T20:00:00.000Z", "next": "agent-9"})

        client2 = HttpRelayClient(await serve([web.get("/v1/roster", stuck)]), tok, timeout_s=5)
        with pytest.raises(RelayCallError) as err:
            await client2.roster("team-1")  # the relay's cursor does not move: an error, not a loop
        assert err.value.code == "bad_response"
        await client2.close()
    finally:
        await client.close()


def test_refused_subscriptions_back_off_up_to_five_minutes():
    from presence_desktop.client.backends import refusal_delay

    for n, (low, high) in {1: (7.5, 15), 2: (15, 30), 3: (30, 60), 10: (150, 300), 40: (150, 300)}.items():
        delays = [refusal_delay(n) for _ in range(50)]
        assert all(low <= d <= high for d in delays), (n, min(delays), max(delays))


async def test_a_denied_subscription_stops_with_the_reason_and_is_not_retried():
    from presence_desktop.events_api.client import SubscriptionError
    from presence_desktop.events_api.protocol import ErrorInfo

    class DeniedClient(FakeClient):
        attempts = 0

        async def subscribe(self, channel):
            self.attempts += 1
            raise SubscriptionError("subscribe refused", [ErrorInfo("Unauthorized", "Not authorized")])

    client, sink = DeniedClient(), Sink()
    feed = EventsLiveFeed(client, ["/agent-presence/team-9/*"])
    task = asyncio.create_task(feed.run(sink))
    await asyncio.sleep(0.2)
    assert client.attempts == 1  # no retry loop
    (channel, reason), = [e[1:] for e in sink.log if e[0] == "refused"]
    assert channel == "/agent-presence/team-9/*" and "not allowed" in reason and "administrator" in reason
    await feed.close()
    await asyncio.wait_for(task, 2)


async def test_another_refusal_is_retried_later_with_a_growing_pause(monkeypatch):
    from presence_desktop.client import backends
    from presence_desktop.events_api.client import SubscriptionError
    from presence_desktop.events_api.protocol import ErrorInfo

    waits = []
    real_sleep = asyncio.sleep

    async def no_sleep(delay):
        if delay > 1:
            waits.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(backends.asyncio, "sleep", no_sleep)

    class BusyClient(FakeClient):
        async def subscribe(self, channel):
            raise SubscriptionError("subscribe refused", [ErrorInfo("MaxSubscriptionsReachedError", "too many")])

    client, sink = BusyClient(), Sink()
    feed = EventsLiveFeed(client, ["/agent-presence/*"])
    task = asyncio.create_task(feed.run(sink))
    while len(waits) < 3:
        await real_sleep(0.01)
    await feed.close()
    await asyncio.wait_for(task, 2)
    assert 7.5 <= waits[0] <= 15 and 15 <= waits[1] <= 30 and 30 <= waits[2] <= 60
    assert len([e for e in sink.log if e[0] == "refused"]) >= 3
