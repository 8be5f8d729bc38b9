"""Hostile and odd input against a real relay server on 127.0.0.1: every answer is the JSON error
shape of docs/relay-api.md (never a 500 or a text/plain page), and nothing odd reaches the store or a
channel name."""

from __future__ import annotations

import sqlite3

import pytest

from presence_desktop.relay.store import SqliteStore


async def _raw(relay, method: str, path: str, body: bytes, token: str) -> tuple[int, str, str]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with relay.session.request(method, relay.url + path, data=body, headers=headers) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


@pytest.mark.parametrize(
    "body",
    [
        rb'{"status":"available","message":"\ud800"}',  # lone surrogate in a value
        rb'{"status":"available","\udfff":1}',  # lone surrogate in a key (echoed in the error)
        rb'{"status":"available","message":"ok \ud83d x"}',  # half of an emoji pair
    ],
)
async def test_lone_surrogates_get_a_json_400_not_a_500(relay_factory, token_minter, capture_events, body):
    relay = await relay_factory()
    status, ctype, text = await _raw(relay, "POST", "/v1/status", body, token_minter.mint("agent-1"))
    assert status == 400, text
    assert ctype.startswith("application/json")
    assert '"invalid_json"' in text
    assert await relay.store.get("agent-1") is None and capture_events.accepted == []


async def test_a_paired_surrogate_escape_is_a_normal_character(relay_factory, token_minter, capture_events):
    relay = await relay_factory()
    status, _, text = await _raw(relay, "POST", "/v1/status", rb'{"status":"available","message":"\ud83d\ude00"}',
                                 token_minter.mint("agent-1"))
    assert status == 200, text
    assert capture_events.events("agent-1")[-1]["message"] == "\U0001F600"


@pytest.mark.parametrize("claim", ["cognito:username", "custom:team_id"])
async def test_a_trailing_newline_is_not_a_channel_segment(relay_factory, token_minter, capture_events, claim):
    # "$" in a regex also matches before a final "\n": "team-1\n" must not become a channel segment.
    relay = await relay_factory()
    token = token_minter.mint("agent-1", team_id="team-1", extra={claim: ("agent-1\n" if "username" in claim else "team-1\n")})
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "available"})
    assert status == 403, body
    assert capture_events.accepted == []


async def test_supervisor_target_and_roster_team_with_trailing_newline_are_400(relay_factory, token_minter, capture_events):
    relay = await relay_factory()
    sup = token_minter.mint("sup-1", groups=("supervisors",))
    status, body, _ = await relay.call("POST", "/v1/status", token=sup, json_body={"status": "away", "agent_id": "agent-2\n"})
    assert status == 400 and body["error"]["code"] == "invalid_request"
    status, body, _ = await relay.call("GET", "/v1/roster?team=team-1%0A", token=sup)
    assert status == 400 and body["error"]["code"] == "invalid_request"


def test_the_channel_rules_refuse_a_trailing_newline():
    from presence_desktop.domain.presence import valid_segment
    from presence_desktop.events_api.channels import ChannelError, parse_channel

    assert valid_segment("team-1") and not valid_segment("team-1\n")
    parse_channel("/agent-presence/team-1/agent-1", allow_wildcard=False)
    with pytest.raises(ChannelError):
        parse_channel("/agent-presence/team-1\n/agent-1", allow_wildcard=False)


async def test_a_locked_sqlite_file_is_a_store_unavailable_500_with_retry_after(relay_factory, token_minter, capture_events, tmp_path):
    path = tmp_path / "locked.sqlite3"
    relay = await relay_factory(store=SqliteStore(path, busy_timeout_ms=200))
    token = token_minter.mint("agent-1")
    assert (await relay.call("POST", "/v1/status", token=token, json_body={"status": "available"}))[0] == 200
    other = sqlite3.connect(str(path), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process holds the file
    try:
        for method, path_, body in (("POST", "/v1/status", {"status": "break"}), ("POST", "/v1/heartbeat", None)):
            status, resp, headers = await relay.call(method, path_, token=token, json_body=body)
            assert status == 500, resp  # not 502/503: those say "stored, publishing later"
            assert resp["error"]["code"] == "store_unavailable"
            assert int(headers["Retry-After"]) >= 1
    finally:
        other.execute("ROLLBACK")
        other.close()
    status, resp, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "break"})
    assert status == 200 and resp["version"] == 2  # nothing half-written while it was locked


async def test_an_unreachable_dynamodb_is_store_unavailable_not_internal(relay_factory, token_minter, capture_events):
    import socket

    import boto3
    from botocore.config import Config

    from presence_desktop.relay.dynamo_store import DynamoStore

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                          aws_access_key_id="local", aws_secret_access_key="local",
                          config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2))
    relay = await relay_factory(store=DynamoStore("presence", client=client))
    token = token_minter.mint("agent-1")
    for method, path, body in (("POST", "/v1/status", {"status": "break"}), ("POST", "/v1/heartbeat", None),
                               ("GET", "/v1/roster", None)):
        status, resp, headers = await relay.call(method, path, token=token, json_body=body)
        assert status == 500, resp  # not 502/503: those say "stored, publishing later"
        assert resp["error"]["code"] == "store_unavailable" and "Retry-After" in headers
    assert capture_events.accepted == []


async def test_aws_credentials_and_signatures_never_reach_debug_logs(relay_factory, token_minter, capture_events,
                                                                     tmp_path, caplog):
    import logging

    from botocore.credentials import Credentials

    from presence_desktop.relay.publisher import EventsPublisher, RetryPolicy
    from tests.fixtures.relay import TEST_AK, TEST_REGION, TEST_SK

    caplog.set_level(logging.DEBUG)  # presence-relay --log-level DEBUG
    session_token = "IQoJb3JpZ2luX2VjELr-temporary-session-token-of-the-lambda-role"
    publisher = EventsPublisher(capture_events.http_url, TEST_REGION, Credentials(TEST_AK, TEST_SK, session_token),
                                retry=RetryPolicy(attempts=1))
    relay = await relay_factory(publisher=publisher)
    bearer = token_minter.mint("agent-1")
    await relay.call("POST", "/v1/status", token=bearer, json_body={"status": "available"})
    assert caplog.records  # logging was on
    for secret in (session_token, TEST_SK, bearer.split(".")[2]):
        assert secret not in caplog.text
    assert "Signature" not in caplog.text  # a SigV4 signature can replay the request for minutes


async def test_an_odd_name_claim_does_not_break_the_write(relay_factory, token_minter, capture_events):
    # The display name comes from the id token's "name" (a user may be allowed to edit it): a
    # lone surrogate there cannot be stored or published as UTF-8, so the username is shown instead.
    relay = await relay_factory()
    token = token_minter.mint("agent-1", extra={"name": "Ada \ud800 Lovelace"})
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "available"})
    assert status == 200, body
    assert body["display_name"] == "agent-1"
    assert capture_events.events("agent-1")[-1]["display_name"] == "agent-1"


@pytest.mark.parametrize(
    "body",
    [
        b'{"status":"available","expected_version":' + b"9" * 5000 + b"}",  # past int('...') digit limit
        b'{"status":"available","message":' + b"[" * 4000 + b"]" * 4000 + b"}",  # deeper than the recursion limit
    ],
    ids=["5000-digit-number", "4000-deep-nesting"],
)
async def test_pathological_json_within_a_raised_body_limit_is_a_400(relay_factory, token_minter, capture_events, body):
    relay = await relay_factory(max_body_bytes=16384)  # PRESENCE_RELAY_MAX_BODY_BYTES may be raised
    status, ctype, text = await _raw(relay, "POST", "/v1/status", body, token_minter.mint("agent-1"))
    assert status == 400, text
    assert ctype.startswith("application/json") and '"invalid_json"' in text


@pytest.mark.parametrize(
    "name, value",
    [("MAX_BODY_BYTES", "0"), ("MAX_BODY_BYTES", "-1"), ("RATE_BURST", "0"), ("RATE_PER_S", "0"),
     ("RATE_PER_S", "nan"), ("HEARTBEAT_TTL_S", "nan"), ("HEARTBEAT_TTL_S", "inf"),
     ("PORT", "70000")],
)
def test_limits_that_would_refuse_or_break_every_request_are_config_errors(name, value):
    # e.g. MAX_BODY_BYTES=0 answered every status with 413, RATE_BURST=0 every request with 429,
    # a nan TTL never expired anyone (every comparison with nan is false).
    from presence_desktop.relay.config import ConfigError, RelayConfig

    env = {"PRESENCE_RELAY_COGNITO_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X",
           "PRESENCE_RELAY_COGNITO_CLIENT_IDS": "a",
           "PRESENCE_RELAY_EVENTS_HTTP_URL": "https://h.appsync-api.eu-west-1.amazonaws.com/event"}
    RelayConfig.from_env(env)
    with pytest.raises(ConfigError, match=name):
        RelayConfig.from_env({**env, f"PRESENCE_RELAY_{name}": value})


async def test_two_authorization_headers_are_refused(relay_factory, token_minter, capture_events):
    # Authorization is a singleton field (RFC 9110 section 5.3): with two, a proxy in front and
    # the relay could each believe a different one.
    from multidict import CIMultiDict

    relay = await relay_factory()
    good, other = token_minter.mint("agent-1"), token_minter.mint("agent-2")
    for pair in ((good, other), (good, "garbage")):
        headers = CIMultiDict([("Authorization", f"Bearer {pair[0]}"), ("Authorization", f"Bearer {pair[1]}")])
        async with relay.session.post(relay.url + "/v1/status", json={"status": "available"}, headers=headers) as resp:
            body = await resp.json()
            assert resp.status == 400, body
            assert body["error"]["code"] == "invalid_request"
    assert await relay.store.get("agent-1") is None and capture_events.accepted == []


async def test_unreachable_jwks_is_not_reported_as_stored(relay_factory, capture_events, token_minter):
    # 502/503 mean "stored with a version, published later" (the desktop client stops resending
    # then); a token that cannot be checked means nothing was stored.
    import socket

    from presence_desktop.relay.cognito_jwt import CognitoTokenVerifier
    from tests.fixtures.relay import TEST_CLIENT_ID, TEST_ISSUER

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    verifier = CognitoTokenVerifier(TEST_ISSUER, {TEST_CLIENT_ID}, jwks_url=f"http://127.0.0.1:{dead}/jwks.json",
                                    fetch_timeout_s=2.0)
    relay = await relay_factory(verifier=verifier)
    status, body, headers = await relay.call("POST", "/v1/status", token=token_minter.mint("agent-1"),
                                             json_body={"status": "available"})
    assert status not in (502, 503) and status >= 500, body
    assert body["error"]["code"] == "auth_unavailable" and "Retry-After" in headers
    assert await relay.store.get("agent-1") is None and capture_events.accepted == []
