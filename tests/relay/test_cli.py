"""The ``presence-relay`` console script: configuration from env + args, 127.0.0.1 by default,
serving the API against the local events server and Cognito, clean exit on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp
import pytest

from presence_desktop.relay.cognito_jwt import CognitoTokenVerifier
from presence_desktop.relay.config import ConfigError, RelayConfig
from tests.fixtures.events import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, events_auth_for
from tests.relay.test_relay_events import Subscriber


def relay_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from presence_desktop.relay.server import main; sys.exit(main())", *args]


async def test_console_script_serves_and_publishes(tmp_path, local_cognito, cognito_tokens, events_server_factory, events_local_ca):
    verifier = CognitoTokenVerifier(local_cognito.issuer, {local_cognito.client_id}, jwks_url=local_cognito.jwks_url)
    server = await events_server_factory(cognito_verifier=verifier)
    env = {**os.environ,
           "PRESENCE_RELAY_COGNITO_ISSUER": local_cognito.issuer,
           "PRESENCE_RELAY_COGNITO_CLIENT_IDS": local_cognito.client_id,
           "PRESENCE_RELAY_EVENTS_CA_FILE": str(events_local_ca.ca_file),
           "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": TEST_SECRET_ACCESS_KEY}
    proc = await asyncio.create_subprocess_exec(
        *relay_cmd("--port", "0", "--events-http-url", server.http_url, "--cognito-jwks-url", local_cognito.jwks_url,
                   "--store", f"sqlite:{tmp_path / 'cli.sqlite3'}"),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert "serving on http://127.0.0.1:" in line, line + (await proc.stderr.read(2000)).decode()
        url = line.split("serving on ")[1].strip()
        token = cognito_tokens("agent-1")["id_token"]
        async with aiohttp.ClientSession() as session, Subscriber(events_auth_for(server, events_local_ca), token, "/agent-presence/team-1/*") as sub:
            async with session.post(url + "/v1/status", json={"status": "available"}) as resp:
                assert resp.status == 401 and (await resp.json())["error"]["code"] == "missing_token"
            async with session.post(url + "/v1/status", json={"status": "available"}, headers={"Authorization": f"Bearer {token}"}) as resp:
                body = await resp.json()
                assert resp.status == 200, body
            assert await sub.next_event() == body
        assert (tmp_path / "cli.sqlite3").is_file()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 0


async def test_missing_configuration_exits_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESENCE_")}
    proc = await asyncio.create_subprocess_exec(*relay_cmd(), env=env, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2 and b"PRESENCE_RELAY_COGNITO_ISSUER" in err


def test_config_from_env_and_overrides():
    env = {"PRESENCE_RELAY_COGNITO_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X",
           "PRESENCE_COGNITO_CLIENT_IDS": "a, b",
           "PRESENCE_EVENTS_HTTP_URL": "https://h.appsync-api.eu-west-1.amazonaws.com/event",
           "PRESENCE_STORE": "dynamodb", "PRESENCE_TABLE_NAME": "T", "AWS_REGION": "eu-west-1",
           "PRESENCE_RELAY_HEARTBEAT_TTL_S": "45", "PRESENCE_RELAY_RATE_BURST": "7"}
    config = RelayConfig.from_env(env, port=9000)
    assert config.cognito_client_ids == ["a", "b"] and config.store == "dynamodb:T" and config.events_region == "eu-west-1"
    assert config.host == "127.0.0.1" and config.port == 9000
    assert config.limits.heartbeat_ttl_s == 45 and config.limits.rate_burst == 7
    with pytest.raises(ConfigError, match="TABLE_NAME"):
        RelayConfig.from_env({**env, "PRESENCE_TABLE_NAME": ""})
    with pytest.raises(ConfigError, match="must be a number"):
        RelayConfig.from_env({**env, "PRESENCE_RELAY_HEARTBEAT_TTL_S": "soon"})
    with pytest.raises(ConfigError, match="PORT must be a whole number"):
        RelayConfig.from_env({**env, "PRESENCE_RELAY_PORT": "8443.5"})
    with pytest.raises(ConfigError, match="https"):
        RelayConfig.from_env({**env, "PRESENCE_EVENTS_HTTP_URL": "http://example.com/event"})
    with pytest.raises(ConfigError, match="TLS"):
        RelayConfig.from_env(env, tls_cert="x.pem")
