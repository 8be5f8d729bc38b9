"""Liveness the AWS way, against the real local events server: no WebSocket pings by default (AWS's
clients send none; whether AppSync answers them is UNCONFIRMED, so the devstack can leave them
unanswered), and a connection whose ``ka`` stops is reported ``lagging`` and then replaced after
about 2.5 intervals (devstack: ``withhold_ka``)."""

from __future__ import annotations

import asyncio

import pytest

from presence_desktop.devstack.events_server import Behaviour, Limits
from presence_desktop.events_api.client import EventsClient, LostEvents
from tests.events_api.test_client_integration import FAST, TokenMint, supervisor_auth
from tests.fixtures.common import wait_until
from tests.fixtures.events import events_auth_for

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def mint():
    return TokenMint()


@pytest.fixture
async def clients():
    made: list[EventsClient] = []
    yield made
    for client in made:
        await client.close()


async def _server(factory, mint, *, ka: float, answer_pings: bool = True):
    return await factory(cognito_verifier=mint.verifier, limits=Limits(ka_interval_s=ka),
                         behaviour=Behaviour(answer_pings=answer_pings))


def _client(server, mint, clients, ca, **kw) -> tuple[EventsClient, list]:
    kw.setdefault("backoff", FAST)
    client = EventsClient(server.realtime_url, server.http_url, supervisor_auth(server, mint),
                          events_auth_for(server, ca).ssl_context, **kw)
    clients.append(client)
    states: list = []
    client.add_state_listener(states.append)
    return client, states


def test_no_websocket_pings_by_default() -> None:
    assert EventsClient.__init__.__kwdefaults__["ping_interval"] is None


async def test_default_client_stays_up_when_the_server_leaves_pings_unanswered(
        events_server_factory, mint, clients, events_local_ca):
    server = await _server(events_server_factory, mint, ka=0.2, answer_pings=False)
    client, states = _client(server, mint, clients, events_local_ca)
    sub = await client.subscribe("/agent-presence/*", timeout=20)
    # Ten ka intervals: a pinging client would have been dropped by now (next test).
    await asyncio.sleep(2.0)
    assert [s.status for s in states].count("connected") == 1
    assert not any(s.lagging for s in states) and client.stats["reconnects"] == 0
    assert sub.pending_items() == 0


async def test_a_pinging_client_flaps_when_pings_go_unanswered(
        events_server_factory, mint, clients, events_local_ca):
    # What the old default (pings every 20 s, 20 s timeout) would meet if AppSync ignores pings.
    server = await _server(events_server_factory, mint, ka=0.2, answer_pings=False)
    client, states = _client(server, mint, clients, events_local_ca, ping_interval=0.3)
    await client.subscribe("/agent-presence/*", timeout=20)
    await wait_until(lambda: client.stats["reconnects"] >= 1, timeout=20)


async def test_withheld_ka_reports_lagging_then_replaces_the_connection(
        events_server_factory, mint, clients, events_local_ca):
    server = await _server(events_server_factory, mint, ka=0.2)
    client, states = _client(server, mint, clients, events_local_ca)
    sub = await client.subscribe("/agent-presence/*", timeout=20)
    await asyncio.sleep(1.0)  # a few ka frames: the client learns the 0.2 s interval
    assert not any(s.lagging for s in states)
    server.withhold_ka()
    await wait_until(lambda: any(s.status == "reconnecting" for s in states), timeout=20)
    seen = [(s.status, s.lagging) for s in states]
    lag = seen.index(("connected", True))
    assert ("reconnecting", False) in seen[lag:]  # stale first, then dead and replaced
    lost = next(s for s in states if s.status == "reconnecting")
    assert "keep-alive" in (lost.reason or "")
    server.resume_ka()
    assert await sub.get(30) == LostEvents("reconnected")


async def test_a_late_ka_ends_the_lag_without_a_new_connection(
        events_server_factory, mint, clients, events_local_ca):
    server = await _server(events_server_factory, mint, ka=0.2)
    # Dead only after 25 intervals: the lag can end first, whatever the machine's load.
    client, states = _client(server, mint, clients, events_local_ca, ka_dead_after=25.0)
    await client.subscribe("/agent-presence/*", timeout=20)
    await asyncio.sleep(1.0)
    server.withhold_ka()
    await wait_until(lambda: client.state.lagging, timeout=20)
    server.resume_ka()
    await wait_until(lambda: client.state.status == "connected" and not client.state.lagging, timeout=20)
    assert client.stats["reconnects"] == 0


def test_liveness_settings_reach_the_client() -> None:
    from presence_desktop.client.profile import EventsSettings, LivenessSettings
    from presence_desktop.events_api.auth import ApiKeyAuth

    settings = EventsSettings(http_url="https://h/event", realtime_url="wss://h/event/realtime", region="r",
                              liveness=LivenessSettings(ws_ping_interval_s=30, ka_interval_s=10, ka_dead_after=3))
    client = EventsClient.from_settings(settings, ApiKeyAuth("k", "h"))
    assert (client.ping_interval, client.ka_interval_s, client.ka_dead_after) == (30, 10, 3)
    assert EventsClient.from_settings(settings.model_copy(update={"liveness": LivenessSettings()}),
                                      ApiKeyAuth("k", "h")).ping_interval is None


async def test_the_deploy_probe_reports_a_quiet_healthy_connection(events_server_factory, mint, clients, events_local_ca):
    # packaging/probe_connection.py's hold(), against the devstack with pings unanswered.
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "packaging" / "probe_connection.py"
    spec = importlib.util.spec_from_file_location("probe_connection", path)
    probe = importlib.util.module_from_spec(spec)
    import sys

    sys.modules.setdefault("probe_connection", probe)  # dataclasses look their module up
    spec.loader.exec_module(probe)
    server = await _server(events_server_factory, mint, ka=0.2, answer_pings=False)
    client, _ = _client(server, mint, clients, events_local_ca)
    lines: list[str] = []
    summary = await probe.hold(client, "/agent-presence/*", 1.5, out=lines.append)
    assert summary.reconnects == 0 and summary.lagging == 0
    assert summary.ka_interval_s is not None and 0.1 < summary.ka_interval_s < 1.0
    assert "reconnects 0" in summary.line() and any("connected" in line for line in lines)
