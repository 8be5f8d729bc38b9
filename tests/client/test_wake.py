"""Wake and network change: the service reconnects at once and rejoins (snapshot + replay),
driven through the one entry point every OS signal uses (``PresenceService.resume``), over a
real EventsClient and WebSocket; logind's PrepareForSleep on a private D-Bus system bus."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess

import pytest
import trustme

from presence_desktop.client.backends import EventsLiveFeed
from presence_desktop.client.service import PresenceService
from presence_desktop.client.wake import ClockJumpDetector, watch_logind_sleep
from presence_desktop.domain.identity import Identity
from presence_desktop.events_api.auth import ApiKeyAuth
from presence_desktop.events_api.client import Backoff, EventsClient
from presence_desktop.net.tls import client_ssl_context
from presence_desktop.resources import default_catalogue
from tests.events_api.fake_server import FakeEventsServer
from tests.fixtures.common import wait_until
from tests.gui.fakes import FakeRelay

pytestmark = pytest.mark.timeout(60)
ME = Identity(username="agent-1", sub="s-1", groups=("support_agents",), team_id="team-1")


@pytest.fixture
async def server(tmp_path):
    authority = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(ctx)
    srv = FakeEventsServer(ssl_context=ctx)
    await srv.start()
    srv.ca_file = str(ca_file)
    yield srv
    await srv.stop()


async def test_resume_reconnects_at_once_and_rejoins(server):
    # A long backoff: only reconnect_now can bring the connection back within the test.
    client = EventsClient(server.realtime_url, server.http_url, ApiKeyAuth("da2-test", f"127.0.0.1:{server.port}"),
                          client_ssl_context(server.ca_file), backoff=Backoff(base=60, cap=60))
    relay = FakeRelay(me="agent-1")
    service = PresenceService(ME, default_catalogue(), relay, EventsLiveFeed(client, "/agent-presence/team-1/*"),
                              heartbeat_s=0)
    service.start()
    try:
        await wait_until(lambda: service.connection.up and not service.connection.joining, timeout=10)
        assert len(server.connect_headers) == 1 and relay.calls.count(("roster", "team-1")) == 1
        service.resume("resumed from sleep (logind)")  # what watch_logind_sleep / the network watcher call
        await wait_until(lambda: len(server.connect_headers) == 2, timeout=5)
        # rejoined: subscribed again on the new socket, a fresh snapshot, live again
        await wait_until(lambda: relay.calls.count(("roster", "team-1")) == 2 and service.connection.up
                         and not service.connection.joining, timeout=5)
        subs = [f for f in server.received if f["type"] == "subscribe"]
        assert len(subs) == 2
    finally:
        await service.shutdown()


def test_clock_jump_detector():
    d = ClockJumpDetector(jump_s=5, gap_s=30)
    assert d.check(100.0, 10.0) is None
    assert d.check(101.0, 11.0) is None
    assert "jumped +3599" in d.check(3701.0, 12.0)  # suspend: the monotonic clock stood still
    assert d.check(3702.0, 13.0) is None
    assert "nothing ran for 40" in d.check(3742.0, 53.0)  # a clock that runs through suspend
    assert "jumped -120" in d.check(3623.0, 54.0)  # the wall clock set back


@pytest.fixture
def system_bus(tmp_path, monkeypatch):
    """A private dbus-daemon standing in for the system bus (jeepney reads the env var)."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed")
    config = tmp_path / "bus.conf"
    config.write_text(f"""<busconfig><type>system</type><listen>unix:path={tmp_path}/bus</listen>
<auth>EXTERNAL</auth><policy context="default"><allow user="*"/><allow own="*"/>
<allow send_destination="*" eavesdrop="true"/><allow receive_sender="*"/></policy></busconfig>""")
    proc = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address"],
                            stdout=subprocess.PIPE, text=True)
    address = proc.stdout.readline().strip()
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
    yield address
    proc.terminate()
    proc.wait(5)


async def test_logind_resume_signal_calls_resume(system_bus):
    from jeepney import DBusAddress, new_signal
    from jeepney.io.asyncio import open_dbus_connection

    resumed = []
    watcher = asyncio.ensure_future(watch_logind_sleep(resumed.append))
    try:
        conn = await open_dbus_connection(bus="SYSTEM")
        emitter = DBusAddress("/org/freedesktop/login1", interface="org.freedesktop.login1.Manager")
        # The watcher's match rule is in place once it has sent AddMatch: emit until it hears.
        for _ in range(100):
            await conn.send(new_signal(emitter, "PrepareForSleep", "b", (True,)))  # going to sleep: ignored
            await conn.send(new_signal(emitter, "PrepareForSleep", "b", (False,)))
            await asyncio.sleep(0.05)
            if resumed:
                break
        assert resumed and resumed[0] == "resumed from sleep (logind)"
        await conn.close()
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


async def test_logind_watcher_without_a_system_bus_returns_quietly(monkeypatch, tmp_path, caplog):
    caplog.set_level("INFO")
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/none")
    await asyncio.wait_for(watch_logind_sleep(lambda r: None), 5)
    assert "no suspend/resume signals" in caplog.text
