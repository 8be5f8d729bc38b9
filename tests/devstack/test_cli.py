"""``presence-devstack``: ready file, a working events server behind it (TLS, API key, IAM, the
local Cognito's tokens), clean exit on SIGTERM/SIGINT with the port released."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import websockets

from presence_desktop.devstack.cli import build_parser, options_from_args
from presence_desktop.devstack.events_server import SUBPROTOCOL, compact, encode_header_subprotocol
from presence_desktop.devstack.sigv4_verify import sign_headers
from presence_desktop.devstack.stack import load_or_create_events_credentials
from presence_desktop.domain.presence import PresenceEvent
from tests.fixtures.events import recv_frame

ROOT = Path(__file__).resolve().parents[2]


def devstack_command() -> list[str]:
    script = Path(sys.executable).with_name("presence-devstack")
    if script.exists():
        return [str(script)]
    found = shutil.which("presence-devstack")
    if found:
        return [found]
    pytest.fail("presence-devstack is not installed (pip install -e .)")


def start_devstack(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, dict]:
    ready = tmp_path / "ready.json"
    log = open(tmp_path / "devstack.log", "wb")  # noqa: SIM115 - the child writes it
    proc = subprocess.Popen(
        [*devstack_command(), "--ready-file", str(ready), "--state-dir", str(tmp_path / "state"), *extra],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )
    deadline = time.monotonic() + 120
    while not ready.exists():
        if proc.poll() is not None:
            pytest.fail(f"devstack exited {proc.returncode}: {(tmp_path / 'devstack.log').read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no ready file within 120 s")
        time.sleep(0.1)
    return proc, json.loads(ready.read_text())


def stop_devstack(proc: subprocess.Popen, sig: int) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def port_is_free(port: int) -> bool:
    """True when a new server could listen on ``port``. SO_REUSEADDR as every server sets it:
    connections the old server closed may linger in TIME_WAIT, which is not holding the port."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
        return True


def srp_tokens(cognito: dict, username: str, password: str) -> dict:
    import boto3
    from pycognito.aws_srp import AWSSRP

    client = boto3.client("cognito-idp", endpoint_url=cognito["endpoint"], region_name=cognito["region"],
                          aws_access_key_id="local", aws_secret_access_key="local")
    srp = AWSSRP(username, password, cognito["user_pool_id"], cognito["client_id"], client=client)
    return srp.authenticate_user()["AuthenticationResult"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_devstack_serves_events_then_exits_cleanly(tmp_path, sig):
    proc, info = start_devstack(tmp_path)
    try:
        events = info["events"]
        assert events["http"].startswith("https://127.0.0.1:") and events["realtime"].startswith("wss://127.0.0.1:")
        assert events["api_key"].startswith("da2-") and Path(events["ca_file"]).is_file()
        assert info["iam"]["access_key_id"] and info["iam"]["secret_access_key"]
        assert oct(os.stat(tmp_path / "ready.json").st_mode & 0o777) == "0o600"
        port = int(events["http"].rsplit(":", 1)[1].split("/")[0])
        ctx = ssl.create_default_context(cafile=events["ca_file"])
        host = f"127.0.0.1:{port}"
        api = {"host": host, "x-api-key": events["api_key"]}
        async with websockets.connect(events["realtime"], ssl=ctx,
                                      subprotocols=[SUBPROTOCOL, encode_header_subprotocol(api)]) as ws:
            await ws.send(json.dumps({"type": "connection_init"}))
            assert (await recv_frame(ws))["type"] == "connection_ack"
            await ws.send(json.dumps({"type": "subscribe", "id": "d", "channel": "/default/x", "authorization": api}))
            assert (await recv_frame(ws)) == {"type": "subscribe_success", "id": "d"}
            if sig == signal.SIGTERM:  # the full round trip once
                await _agent_presence_round_trip(ws, info, host, ctx)
    finally:
        code = stop_devstack(proc, sig)
    assert code == 0, (tmp_path / "devstack.log").read_text()
    assert port_is_free(port)
    assert not (tmp_path / "ready.json").exists()


async def _agent_presence_round_trip(ws, info: dict, host: str, ctx: ssl.SSLContext) -> None:
    """The events server trusts the devstack's Cognito: an agent may subscribe, an outsider not;
    an IAM-signed publish with the ready file's keys reaches the agent."""
    users = {u["username"]: u for u in info["users"]}
    agent = srp_tokens(info["cognito"], "agent-1", users["agent-1"]["password"])["AccessToken"]
    outsider = srp_tokens(info["cognito"], "outsider", users["outsider"]["password"])["AccessToken"]
    await ws.send(json.dumps({"type": "subscribe", "id": "a", "channel": "/agent-presence/*",
                              "authorization": {"host": host, "authorization": agent}}))
    assert (await recv_frame(ws)) == {"type": "subscribe_success", "id": "a"}
    await ws.send(json.dumps({"type": "subscribe", "id": "o", "channel": "/agent-presence/*",
                              "authorization": {"host": host, "authorization": outsider}}))
    denied = await recv_frame(ws)
    assert denied["type"] == "subscribe_error" and denied["errors"][0]["errorType"] == "Unauthorized"
    event = PresenceEvent(agent_id="agent-1", team_id="team-1", display_name="A", status="break", version=1,
                          changed_at="2026-11-29T19:00:00.000Z", source="manual")
    body = compact({"channel": event.channel, "events": [event.to_json()]})
    headers = sign_headers(body, http_url=info["events"]["http"], access_key_id=info["iam"]["access_key_id"],
                           secret_access_key=info["iam"]["secret_access_key"], region=info["region"])
    async with aiohttp.ClientSession() as session:
        async with session.post(info["events"]["http"], data=body, headers=headers, ssl=ctx) as resp:
            assert resp.status == 200, await resp.text()
    frame = await recv_frame(ws)
    assert frame["id"] == "a" and json.loads(frame["event"]) == event.to_dict()


def test_no_tls_flag_serves_plain(tmp_path):
    proc, info = start_devstack(tmp_path, "--no-tls")
    try:
        assert info["events"]["http"].startswith("http://") and info["events"]["realtime"].startswith("ws://")
        assert info["events"]["ca_file"] is None
    finally:
        assert stop_devstack(proc, signal.SIGTERM) == 0


def test_bad_arguments_exit_2(tmp_path):
    result = subprocess.run([*devstack_command(), "--port", "70000"], capture_output=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2 and b"port" in result.stderr


def test_options_from_args_defaults(tmp_path):
    args = build_parser().parse_args(["--port", "0", "--state-dir", str(tmp_path), "--agents", "3"])
    opts = options_from_args(args)
    assert opts.host == "127.0.0.1" and opts.events_port == 0 and opts.tls is True
    assert opts.state_dir == tmp_path and opts.simulate_agents == 3
    default = options_from_args(build_parser().parse_args([]))
    assert "presence-desktop" in str(default.state_dir)


def test_events_credentials_are_persisted_privately(tmp_path):
    first = load_or_create_events_credentials(tmp_path)
    assert first["api_key"].startswith("da2-") and len(first["api_key"]) == 30
    assert first["access_key_id"].startswith("AKIA") and len(first["access_key_id"]) == 20
    assert len(first["secret_access_key"]) == 40
    assert load_or_create_events_credentials(tmp_path) == first
    path = tmp_path / "events-credentials.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    path.write_text("{broken")
    fresh = load_or_create_events_credentials(tmp_path)
    assert fresh != first and fresh["api_key"].startswith("da2-")


HANGING_STOP = r'''
import asyncio, sys
from presence_desktop.devstack import cli, stack

async def never(self):
    await asyncio.sleep(3600)   # a part whose stop hangs

async def fast_start(self):
    pass

stack.DevStack.stop = never
stack.DevStack.start = fast_start
cli.STOP_DEADLINE_S = float(sys.argv[2])
cli._arm_stop_deadline.__defaults__ = (cli.STOP_DEADLINE_S,)
sys.exit(cli.main(["--ready-file", sys.argv[1], "--state-dir", sys.argv[1] + ".state"]))
'''


def test_a_hanging_stop_is_cut_off_by_the_hard_deadline(tmp_path):
    """The app that owns the stack sends SIGTERM and leaves: the stack must not linger, and its
    ready file must not stay behind for the next app to find."""
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen([sys.executable, "-c", HANGING_STOP, str(ready), "2"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        elapsed = time.monotonic() - t
    finally:
        proc.kill()
    err = proc.stderr.read()
    assert code == 1 and 1.5 < elapsed < 10, err
    assert "did not stop within 2 s" in err
    assert not ready.exists()
