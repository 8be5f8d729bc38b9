"""Conformance: each auth mode accepted and refused, at connect, subscribe and publish, per API and
per namespace (docs/appsync-events-protocol.md section 2)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric import rsa

from presence_desktop.devstack.events_server import (
    API_KEY,
    AWS_IAM,
    COGNITO,
    SUBPROTOCOL,
    Behaviour,
    NamespaceConfig,
    compact,
)
from presence_desktop.devstack.namespace_handlers import standard_namespaces
from presence_desktop.domain.presence import PresenceEvent
from tests.devstack.test_events_protocol import http_publish, send, subscribe
from tests.fixtures.events import events_auth_for, recv_frame, ws_connect


async def expect_connect_refused(auth, connect_auth, error_type, *, frame_type="connection_error"):
    ws = await ws_connect(auth, connect_auth)
    try:  # the refusal may already be on its way (it is sent right after the upgrade)
        await send(ws, {"type": "connection_init"})
    except websockets.ConnectionClosed:
        pass
    frame = await recv_frame(ws)
    assert frame["type"] == frame_type, frame
    assert frame["errors"][0]["errorType"] == error_type
    assert frame["errors"][0]["message"]
    with pytest.raises(websockets.ConnectionClosed) as info:
        await recv_frame(ws)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008
    return frame


async def expect_connect_ok(auth, connect_auth):
    async with await ws_connect(auth, connect_auth) as ws:
        await send(ws, {"type": "connection_init"})
        assert (await recv_frame(ws))["type"] == "connection_ack"


def presence(team="team-1", agent="agent-1", **changes):
    event = PresenceEvent(agent_id=agent, team_id=team, display_name="Ada", status="available", version=3,
                          changed_at="2026-11-29T19:00:00.123Z", source="manual", changed_by="sub-x")
    return event.with_(**changes).to_json()


# --- API key ---------------------------------------------------------------------------------
async def test_api_key_connect_accepted_and_wrong_key_refused(events_auth):
    await expect_connect_ok(events_auth, events_auth.api_key_auth())
    await expect_connect_refused(events_auth, events_auth.api_key_auth("da2-wrong"), "UnauthorizedException")


async def test_connect_without_any_auth_is_refused(events_auth):
    await expect_connect_refused(events_auth, {"host": events_auth.server.http_host}, "UnauthorizedException")


async def test_malformed_header_subprotocol_is_bad_request(events_auth):
    ws = await websockets.connect(events_auth.server.realtime_url, subprotocols=[SUBPROTOCOL, "header-%%%notb64"],
                                  ssl=events_auth.ssl_context)
    frame = await recv_frame(ws)
    assert frame["type"] == "connection_error"
    assert frame["errors"][0]["errorType"] == "BadRequestException"
    await ws.close()


async def test_connect_error_frame_type_is_a_setting(events_server_factory, events_local_ca):
    server = await events_server_factory(behaviour=Behaviour(connect_error_type="error"))
    auth = events_auth_for(server, events_local_ca)
    await expect_connect_refused(auth, auth.api_key_auth("da2-wrong"), "UnauthorizedException", frame_type="error")


async def test_api_key_subscribe_and_http_publish_refused_with_wrong_key(events_auth):
    async with await ws_connect(events_auth) as ws:
        frame = await subscribe(ws, events_auth, "s1", "/default/a", authorization=events_auth.api_key_auth("da2-bad"))
        assert frame["type"] == "subscribe_error" and frame["errors"][0]["errorType"] == "UnauthorizedException"
    status, body = await http_publish(events_auth, "/default/a", ["1"], headers={"x-api-key": "da2-bad"})
    assert status == 401 and body["errors"][0]["errorType"] == "UnauthorizedException"
    status, body = await http_publish(events_auth, "/default/a", ["1"], headers={})
    assert status == 401


# --- IAM -------------------------------------------------------------------------------------
async def test_iam_connect_valid(events_auth):
    await expect_connect_ok(events_auth, events_auth.iam_auth("{}"))


async def test_iam_connect_tampered_body(events_auth):
    frame = await expect_connect_refused(events_auth, events_auth.iam_auth('{"x":1}'), "BadRequestException")
    assert "signature" in frame["errors"][0]["message"]


async def test_iam_connect_expired_date(events_auth):
    old = datetime.now(UTC) - timedelta(minutes=6)
    frame = await expect_connect_refused(events_auth, events_auth.iam_auth("{}", when=old), "UnauthorizedException")
    assert "expired" in frame["errors"][0]["message"].lower()


async def test_iam_connect_date_within_skew_accepted(events_auth):
    await expect_connect_ok(events_auth, events_auth.iam_auth("{}", when=datetime.now(UTC) - timedelta(minutes=4)))


async def test_iam_connect_wrong_secret(events_auth):
    await expect_connect_refused(events_auth, events_auth.iam_auth("{}", secret="not-the-secret"), "BadRequestException")


async def test_iam_connect_unknown_access_key(events_auth):
    await expect_connect_refused(
        events_auth, events_auth.iam_auth("{}", access_key_id="AKIAUNKNOWN000000000"), "UnauthorizedException"
    )


async def test_iam_connect_header_changed_after_signing(events_auth):
    auth = events_auth.iam_auth("{}")
    auth["content-type"] = "text/plain"
    await expect_connect_refused(events_auth, auth, "BadRequestException")


async def test_iam_http_publish_to_agent_presence(events_auth):
    body = json.dumps({"channel": "/agent-presence/team-1/agent-1", "events": [presence()]})
    signed = events_auth.iam_auth(body)
    status, resp = await http_publish(events_auth, None, None, raw_body=body, headers=signed)
    assert status == 200 and len(resp["successful"]) == 1 and resp["failed"] == []
    # The same headers over another body: refused.
    tampered = body.replace("available", "lunch")
    status, resp = await http_publish(events_auth, None, None, raw_body=tampered, headers=signed)
    assert status == 400 and resp["errors"][0]["errorType"] == "BadRequestException"
    wrong = events_auth.iam_auth(body, secret="nope")
    status, resp = await http_publish(events_auth, None, None, raw_body=body, headers=wrong)
    assert status == 400
    old = events_auth.iam_auth(body, when=datetime.now(UTC) - timedelta(minutes=10))
    status, resp = await http_publish(events_auth, None, None, raw_body=body, headers=old)
    assert status == 401 and "expired" in resp["errors"][0]["message"].lower()


async def test_iam_websocket_publish_signs_channel_and_events(events_auth):
    channel, events = "/agent-presence/team-1/agent-1", [presence()]
    async with await ws_connect(events_auth) as ws:
        good = events_auth.iam_auth({"channel": channel, "events": events})
        await send(ws, {"type": "publish", "id": "p1", "channel": channel, "events": events, "authorization": good})
        assert (await recv_frame(ws))["type"] == "publish_success"
        other = events_auth.iam_auth({"channel": channel, "events": [presence(status="lunch")]})
        await send(ws, {"type": "publish", "id": "p2", "channel": channel, "events": events, "authorization": other})
        frame = await recv_frame(ws)
        assert frame["type"] == "publish_error" and frame["errors"][0]["errorType"] == "BadRequestException"


async def test_iam_subscribe_signs_the_channel(events_server_factory, events_local_ca):
    namespaces = {**standard_namespaces(), "iamns": NamespaceConfig((AWS_IAM,), (AWS_IAM,))}
    server = await events_server_factory(namespaces=namespaces)
    auth = events_auth_for(server, events_local_ca)
    async with await ws_connect(auth) as ws:
        ok = await subscribe(ws, auth, "s1", "/iamns/a", authorization=auth.iam_auth({"channel": "/iamns/a"}))
        assert ok == {"type": "subscribe_success", "id": "s1"}
        bad = await subscribe(ws, auth, "s2", "/iamns/b", authorization=auth.iam_auth({"channel": "/iamns/a"}))
        assert bad["type"] == "subscribe_error" and bad["errors"][0]["errorType"] == "BadRequestException"
        # API key is not a subscribe mode of this namespace.
        refused = await subscribe(ws, auth, "s3", "/iamns/a")
        assert refused["type"] == "subscribe_error" and refused["errors"][0]["errorType"] == "UnauthorizedException"


# --- Cognito ---------------------------------------------------------------------------------
@pytest.fixture
async def cognito_server(events_server_factory, token_mint, events_local_ca):
    server = await events_server_factory(cognito_verifier=token_mint.verifier())
    return server, events_auth_for(server, events_local_ca)


async def test_cognito_connect_and_subscribe_by_group(cognito_server, token_mint, caplog):
    server, auth = cognito_server
    agent = token_mint.access_token("agent-1", ["support_agents"])
    outsider = token_mint.access_token("outsider")
    caplog.set_level(logging.INFO, logger="presence_desktop.devstack.namespace_handlers")
    async with await ws_connect(auth, auth.cognito_auth(agent)) as ws:
        await send(ws, {"type": "connection_init"})
        assert (await recv_frame(ws))["type"] == "connection_ack"
        ok = await subscribe(ws, auth, "s1", "/agent-presence/*", authorization=auth.cognito_auth(agent))
        assert ok == {"type": "subscribe_success", "id": "s1"}
        denied = await subscribe(ws, auth, "s2", "/agent-presence/*", authorization=auth.cognito_auth(outsider))
        assert denied["type"] == "subscribe_error" and denied["id"] == "s2"
        assert denied["errors"][0]["errorType"] == "Unauthorized"
        # Publish (IAM, the relay's mode) reaches the admitted subscriber.
        channel, events = "/agent-presence/team-1/agent-1", [presence(), '{"kind":"nope"}']
        body = compact({"channel": channel, "events": events})
        status, resp = await http_publish(auth, None, None, raw_body=body, headers=auth.iam_auth(body))
        assert status == 200
        assert [s["index"] for s in resp["successful"]] == [0]
        assert resp["failed"][0]["index"] == 1 and "kind" in resp["failed"][0]["errorMessage"]
        frame = await recv_frame(ws)
        assert frame["id"] == "s1" and json.loads(frame["event"]) == json.loads(events[0])
    logged = caplog.text
    assert "allowed" in logged and "denied" in logged and "outsider" in logged
    assert agent not in logged and outsider not in logged


@pytest.mark.parametrize("case", ["expired", "foreign_key", "wrong_issuer", "wrong_client", "garbage"])
async def test_cognito_bad_tokens_refused(cognito_server, token_mint, case):
    server, auth = cognito_server
    token = {
        "expired": lambda: token_mint.access_token("agent-1", ["support_agents"], exp_in=-120),
        "foreign_key": lambda: token_mint.access_token(
            "agent-1", ["support_agents"], key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "wrong_issuer": lambda: token_mint.access_token("agent-1", ["support_agents"], issuer="https://evil.example"),
        "wrong_client": lambda: token_mint.access_token("agent-1", ["support_agents"], client_id="other"),
        "garbage": lambda: "not.a.jwt",
    }[case]()
    await expect_connect_refused(auth, auth.cognito_auth(token), "UnauthorizedException")
    async with await ws_connect(auth) as ws:
        frame = await subscribe(ws, auth, "s1", "/agent-presence/*", authorization=auth.cognito_auth(token))
        assert frame["type"] == "subscribe_error" and frame["errors"][0]["errorType"] == "UnauthorizedException"


async def test_cognito_refused_when_no_verifier_configured(events_auth, token_mint):
    token = token_mint.access_token("agent-1", ["support_agents"])
    await expect_connect_refused(events_auth, events_auth.cognito_auth(token), "UnauthorizedException")


# --- modes per API and per namespace ---------------------------------------------------------
async def test_agent_presence_modes(cognito_server, token_mint):
    server, auth = cognito_server
    agent = token_mint.access_token("agent-1", ["support_agents"])
    async with await ws_connect(auth) as ws:
        # subscribe: Cognito only
        frame = await subscribe(ws, auth, "k", "/agent-presence/*")
        assert frame["errors"][0]["errorType"] == "UnauthorizedException"
        frame = await subscribe(ws, auth, "i", "/agent-presence/*",
                                authorization=auth.iam_auth({"channel": "/agent-presence/*"}))
        assert frame["errors"][0]["errorType"] == "UnauthorizedException"
        # publish: IAM only
        channel, events = "/agent-presence/team-1/agent-1", [presence()]
        for authz in (auth.api_key_auth(), auth.cognito_auth(agent)):
            await send(ws, {"type": "publish", "id": "p", "channel": channel, "events": events, "authorization": authz})
            frame = await recv_frame(ws)
            assert frame["type"] == "publish_error" and frame["errors"][0]["errorType"] == "UnauthorizedException"
    status, _ = await http_publish(auth, channel, events)
    assert status == 401


async def test_default_namespace_refuses_other_modes(cognito_server, token_mint):
    server, auth = cognito_server
    agent = token_mint.access_token("agent-1", ["support_agents"])
    async with await ws_connect(auth) as ws:
        frame = await subscribe(ws, auth, "c", "/default/a", authorization=auth.cognito_auth(agent))
        assert frame["errors"][0]["errorType"] == "UnauthorizedException"
    body = compact({"channel": "/default/a", "events": ["1"]})
    status, _ = await http_publish(auth, None, None, raw_body=body, headers=auth.iam_auth(body))
    assert status == 401


async def test_connection_auth_modes_per_api(events_server_factory, events_local_ca):
    server = await events_server_factory(connection_auth_modes=(AWS_IAM,))
    auth = events_auth_for(server, events_local_ca)
    await expect_connect_refused(auth, auth.api_key_auth(), "UnauthorizedException")
    await expect_connect_ok(auth, auth.iam_auth("{}"))


async def test_api_default_modes_apply_to_namespaces_without_overrides(events_server_factory, events_local_ca):
    namespaces = {"plain": NamespaceConfig()}
    server = await events_server_factory(namespaces=namespaces, default_subscribe_auth_modes=(AWS_IAM,),
                                         default_publish_auth_modes=(API_KEY,))
    auth = events_auth_for(server, events_local_ca)
    async with await ws_connect(auth) as ws:
        refused = await subscribe(ws, auth, "a", "/plain/x")
        assert refused["errors"][0]["errorType"] == "UnauthorizedException"
        ok = await subscribe(ws, auth, "b", "/plain/x", authorization=auth.iam_auth({"channel": "/plain/x"}))
        assert ok["type"] == "subscribe_success"
        status, _ = await http_publish(auth, "/plain/x", ["1"])
        assert status == 200
        assert (await recv_frame(ws)) == {"type": "data", "id": "b", "event": "1"}


def test_unknown_auth_mode_in_config_is_refused():
    from presence_desktop.devstack.events_server import EventsServerConfig

    with pytest.raises(ValueError, match="OPENID_CONNECT"):
        EventsServerConfig(connection_auth_modes=("OPENID_CONNECT",))
    assert COGNITO  # the supported set includes Cognito


# --- the real local Cognito (id and access tokens) ---------------------------------------------
@pytest.mark.parametrize("token_kind", ["id_token", "access_token"])
async def test_local_cognito_tokens(events_server_with_cognito, events_local_ca, cognito_tokens, token_kind):
    auth = events_auth_for(events_server_with_cognito, events_local_ca)
    supervisor = cognito_tokens("sup-1")[token_kind]
    outsider = cognito_tokens("outsider")[token_kind]
    await expect_connect_ok(auth, auth.cognito_auth(supervisor))
    async with await ws_connect(auth, auth.cognito_auth(supervisor)) as ws:
        ok = await subscribe(ws, auth, "s", "/agent-presence/team-1/*", authorization=auth.cognito_auth(supervisor))
        assert ok == {"type": "subscribe_success", "id": "s"}
        denied = await subscribe(ws, auth, "o", "/agent-presence/*", authorization=auth.cognito_auth(outsider))
        assert denied["errors"][0]["errorType"] == "Unauthorized"


async def test_http_publish_body_errors(events_auth):
    status, body = await http_publish(events_auth, None, None, raw_body=b"\xff\xfe")
    assert status == 400 and "UTF-8" in body["errors"][0]["message"]


async def test_connect_refusal_can_leave_the_socket_open(events_server_factory, events_local_ca):
    server = await events_server_factory(behaviour=Behaviour(close_after_connect_error=False))
    auth = events_auth_for(server, events_local_ca)
    async with await ws_connect(auth, auth.api_key_auth("da2-wrong")) as ws:
        frame = await recv_frame(ws)
        assert frame["type"] == "connection_error"
        await send(ws, {"type": "subscribe", "id": "s", "channel": "/default/a", "authorization": auth.api_key_auth()})
        with pytest.raises(TimeoutError):  # ignored: no subscribe_success on a refused connection
            await recv_frame(ws, timeout=0.5)
        assert server.connection_count == 0
