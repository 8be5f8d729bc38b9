"""Amplify JS v6 (AWS's own client, its own SRP code) against the local Cognito, and subscribing
to ``/agent-presence/*`` on the local events server with the token it got: two independent
implementations agree with ours."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from presence_desktop.auth.session import AuthSession, SignedIn
from presence_desktop.devstack.cognito import LocalCognito
from presence_desktop.domain.presence import PresenceEvent, format_time
from presence_desktop.relay.cognito_jwt import CognitoTokenVerifier

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = ROOT / "tests" / "js"
SCRIPT = JS_DIR / "amplify_auth.mjs"

pytestmark = pytest.mark.node


def _require_node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (Node 20+ needed for the Amplify JS tests)")
    if not (JS_DIR / "node_modules" / "aws-amplify").is_dir():
        pytest.skip("tests/js/node_modules missing: run `cd tests/js && npm ci` (make test does)")
    return node


class Amplify:
    """One run of amplify_auth.mjs; ``lines`` are its JSON output lines as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, payload: dict[str, Any], extra_env: dict[str, str] | None = None) -> Amplify:
        node = _require_node()
        env = {**os.environ, **(extra_env or {})}
        proc = await asyncio.create_subprocess_exec(
            node, str(SCRIPT), cwd=str(JS_DIR), env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(payload).encode())
        proc.stdin.close()
        return cls(proc)

    async def next_line(self, timeout: float = 60.0) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            if not raw:
                err = (await self.proc.stderr.read()).decode(errors="replace") if self.proc.stderr else ""
                raise AssertionError(f"amplify script ended early; stderr: {err[-2000:]}")
            text = raw.decode().strip()
            if text.startswith("{"):
                line = json.loads(text)
                self.lines.append(line)
                return line

    async def finish(self) -> None:
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


def _payload(cognito: LocalCognito, username: str, password: str, **extra: Any) -> dict[str, Any]:
    return {"userPoolId": cognito.user_pool_id, "clientId": cognito.client_id, "endpoint": cognito.endpoint,
            "username": username, "password": password, **extra}


async def test_amplify_signs_in_with_its_own_srp_and_tokens_verify(local_cognito: LocalCognito) -> None:
    user = local_cognito.user("sup-1")
    amp = await Amplify.start(_payload(local_cognito, "sup-1", user.password))
    line = await amp.next_line()
    await amp.finish()
    assert line["stage"] == "signed_in" and line["isSignedIn"] is True, line
    assert line["groups"] == ["supervisors"] and line["username"] == "sup-1"
    verifier = CognitoTokenVerifier(local_cognito.issuer, {local_cognito.client_id}, jwks_url=local_cognito.jwks_url)
    claims = await verifier.verify_async(line["idToken"], "id")
    assert claims.groups == ("supervisors",) and claims.team_id == "team-1"
    # our client, same user, same pool: the same identity
    session = AuthSession(local_cognito.cognito_settings())
    assert isinstance(await session.sign_in("sup-1", user.password), SignedIn)
    assert session.claims.sub == claims.sub


async def test_amplify_wrong_password_is_refused(local_cognito: LocalCognito) -> None:
    amp = await Amplify.start(_payload(local_cognito, "agent-1", "Wrong-Password-1!"))
    line = await amp.next_line()
    await amp.finish()
    assert line["stage"] == "error" and line["name"] == "NotAuthorizedException", line


def _presence_event(agent_id: str, team_id: str, version: int) -> PresenceEvent:
    return PresenceEvent(agent_id=agent_id, team_id=team_id, display_name=agent_id.title(), status="available",
                         version=version, changed_at=format_time(datetime.now(UTC)), source="manual")


async def _publish(server: Any, auth: Any, event: PresenceEvent) -> int:
    body = json.dumps({"channel": event.channel, "events": [event.to_json()]}, separators=(",", ":"))
    headers = auth.iam_auth(body)
    async with aiohttp.ClientSession() as http:
        async with http.post(server.http_url, data=body.encode(), headers=headers, ssl=auth.ssl_context) as resp:
            await resp.read()
            return resp.status


async def _events_server_for(local_cognito: LocalCognito, events_server_factory: Any, events_local_ca: Any):
    from tests.fixtures.events import events_auth_for

    verifier = CognitoTokenVerifier(local_cognito.issuer, {local_cognito.client_id}, jwks_url=local_cognito.jwks_url)
    server = await events_server_factory(cognito_verifier=verifier)
    return server, events_auth_for(server, events_local_ca)


async def test_amplify_subscribes_to_agent_presence_with_its_cognito_token(
    local_cognito: LocalCognito, events_server_factory: Any, events_local_ca: Any
) -> None:
    server, auth = await _events_server_for(local_cognito, events_server_factory, events_local_ca)
    user = local_cognito.user("agent-1")
    amp = await Amplify.start(
        _payload(local_cognito, "agent-1", user.password,
                 events={"endpoint": server.http_url, "region": "us-east-1", "channel": "/agent-presence/*",
                         "timeoutMs": 45000}),
        extra_env={"NODE_EXTRA_CA_CERTS": str(events_local_ca.ca_file)},
    )
    try:
        assert (await amp.next_line())["stage"] == "signed_in"
        assert (await amp.next_line())["stage"] == "subscribing"
        # The subscribe frame may still be in flight: publish (as the relay would, IAM) until
        # Amplify reports an event, each with a new version.
        version = 0
        received: dict[str, Any] | None = None
        next_line = asyncio.ensure_future(amp.next_line(timeout=60))
        deadline = time.monotonic() + 45
        while received is None and time.monotonic() < deadline:
            version += 1
            assert await _publish(server, auth, _presence_event("agent-2", "team-2", version)) == 200
            done, _ = await asyncio.wait({next_line}, timeout=0.5)
            if done:
                received = next_line.result()
        assert received is not None, "Amplify received nothing"
        assert received["stage"] == "event", received
        data = received["data"]  # Amplify's next(): {"id", "type": "data", "event": <payload>}
        assert data["type"] == "data"
        payload = data["event"]
        event = PresenceEvent.from_dict(json.loads(payload) if isinstance(payload, str) else payload)
        assert (event.agent_id, event.team_id) == ("agent-2", "team-2") and 1 <= event.version <= version
    finally:
        await amp.finish()


async def test_amplify_outsider_cannot_subscribe(
    local_cognito: LocalCognito, events_server_factory: Any, events_local_ca: Any
) -> None:
    server, _ = await _events_server_for(local_cognito, events_server_factory, events_local_ca)
    user = local_cognito.user("outsider")
    amp = await Amplify.start(
        _payload(local_cognito, "outsider", user.password,
                 events={"endpoint": server.http_url, "region": "us-east-1", "channel": "/agent-presence/*",
                         "timeoutMs": 20000}),
        extra_env={"NODE_EXTRA_CA_CERTS": str(events_local_ca.ca_file)},
    )
    try:
        assert (await amp.next_line())["stage"] == "signed_in"
        line = await amp.next_line()
        if line["stage"] == "subscribing":
            line = await amp.next_line()
        assert line["stage"] == "error", line
        assert "Unauthorized" in json.dumps(line) or "unauthorized" in json.dumps(line).lower(), line
    finally:
        await amp.finish()
