"""Auth header objects for AWS (docs/appsync-events-protocol.md sections 2.2, 2.3). The SigV4 signature is recomputed here by
hand (hashlib/hmac, AWS SigV4 spec) for a fixed date and fixed credentials, independently of botocore."""

import datetime
import hashlib
import hmac

import pytest
from botocore.credentials import Credentials

from presence_desktop.events_api import auth as a
from presence_desktop.events_api.protocol import CONNECT_BODY, publish_body, subscribe_body

HTTP_URL = "https://abcdefghijklmnopqrstuvwxyz.appsync-api.eu-west-1.amazonaws.com/event"
HOST = "abcdefghijklmnopqrstuvwxyz.appsync-api.eu-west-1.amazonaws.com"
FIXED = datetime.datetime(2026, 11, 29, 19, 0, 0)
AKID, SECRET, TOKEN = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token-xyz"


@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: FIXED)


def expected_sigv4(body: str, host: str, token: str | None) -> tuple[str, str]:
    """(canonical request, authorization header) per the SigV4 spec, service appsync."""
    amz_date, day = "20261129T190000Z", "20261129"
    headers = {"accept": "application/json, text/javascript", "content-encoding": "amz-1.0",
               "content-type": "application/json; charset=UTF-8", "host": host, "x-amz-date": amz_date}
    if token:
        headers["x-amz-security-token"] = token
    names = sorted(headers)
    canonical = "\n".join(["POST", "/event", "", *[f"{n}:{headers[n]}" for n in names], "",
                           ";".join(names), hashlib.sha256(body.encode()).hexdigest()])
    scope = f"{day}/eu-west-1/appsync/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + SECRET).encode()
    for part in (day, "eu-west-1", "appsync", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return canonical, f"AWS4-HMAC-SHA256 Credential={AKID}/{scope}, SignedHeaders={';'.join(names)}, Signature={sig}"


@pytest.mark.parametrize("body", [CONNECT_BODY, subscribe_body("/agent-presence/*"),
                                  publish_body("/agent-presence/t1/a1", ['{"status":"café"}'])])
async def test_iam_headers_match_an_independent_sigv4(fixed_clock, body):
    auth = a.IamAuth(Credentials(AKID, SECRET, TOKEN), "eu-west-1", HTTP_URL)
    headers = await auth.headers(body)
    canonical, expected_auth = expected_sigv4(body, HOST, TOKEN)
    # The server's canonical request in amplify-js #14001 signs exactly these headers.
    assert canonical.splitlines()[-2] == "accept;content-encoding;content-type;host;x-amz-date;x-amz-security-token"
    assert headers == {
        "accept": "application/json, text/javascript", "content-encoding": "amz-1.0",
        "content-type": "application/json; charset=UTF-8", "host": HOST, "x-amz-date": "20261129T190000Z",
        "x-amz-security-token": TOKEN, "authorization": expected_auth,
    }


def test_iam_sign_without_session_token_and_a_wrong_body_differs(fixed_clock):
    headers = a.sign_iam_headers(Credentials(AKID, SECRET), "eu-west-1", HTTP_URL, "{}")
    assert "x-amz-security-token" not in headers
    assert headers["authorization"] == expected_sigv4("{}", HOST, None)[1]
    assert headers["authorization"] != expected_sigv4('{"channel":"/x/y"}', HOST, None)[1]


def test_iam_sync_helper_for_http_publish(fixed_clock):
    auth = a.IamAuth(lambda: Credentials(AKID, SECRET, TOKEN), "eu-west-1", HTTP_URL)
    body = publish_body("/agent-presence/t1/a1", ['{"v":1}'])
    assert auth.sign_sync(body)["authorization"] == expected_sigv4(body, HOST, TOKEN)[1]


async def test_iam_accepts_async_credentials_provider(fixed_clock):
    async def provider():
        return Credentials(AKID, SECRET)
    headers = await a.IamAuth(provider, "eu-west-1", HTTP_URL).headers("{}")
    assert headers["authorization"] == expected_sigv4("{}", HOST, None)[1]


def test_iam_local_host_keeps_its_port(fixed_clock):
    headers = a.sign_iam_headers(Credentials(AKID, SECRET), "us-east-1", "https://127.0.0.1:8443/event", "{}")
    assert headers["host"] == "127.0.0.1:8443"


@pytest.mark.parametrize("url, host", [
    ("https://x.appsync-api.eu-west-1.amazonaws.com/event", "x.appsync-api.eu-west-1.amazonaws.com"),
    ("https://x.example.com:443/event", "x.example.com"),
    ("https://127.0.0.1:9443/event", "127.0.0.1:9443"),
    ("http://localhost:80/event", "localhost"),
    ("https://[::1]:9443/event", "[::1]:9443"),
])
def test_http_host_like_a_browser(url, host):
    assert a.http_host(url) == host


def test_http_host_refuses_relative():
    with pytest.raises(ValueError):
        a.http_host("/event")


async def test_api_key_headers():
    assert await a.ApiKeyAuth("da2-abc", HOST).headers("{}") == {"host": HOST, "x-api-key": "da2-abc"}
    with pytest.raises(a.AuthRefreshError):
        await a.ApiKeyAuth("da2-abc", HOST).refresh()
    with pytest.raises(ValueError):
        a.ApiKeyAuth("", HOST)


async def test_cognito_headers_ask_the_provider_every_time_and_refresh_once():
    tokens = iter(["t1", "t2"])
    refreshed = []

    async def provider():
        return next(tokens)

    async def force():
        refreshed.append(True)

    auth = a.CognitoAuth(provider, HOST, force_refresh=force)
    assert await auth.headers("{}") == {"Authorization": "t1", "host": HOST}
    await auth.refresh()
    assert refreshed == [True]
    assert (await auth.headers("{}"))["Authorization"] == "t2"


async def test_cognito_refresh_failure_means_sign_in_again():
    async def provider():
        return "t"

    async def broken():
        raise RuntimeError("refresh token revoked")

    with pytest.raises(a.AuthRefreshError):
        await a.CognitoAuth(provider, HOST, force_refresh=broken).refresh()
    with pytest.raises(a.AuthRefreshError):
        await a.CognitoAuth(provider, HOST).refresh()


def test_reprs_and_redaction_never_show_secrets():
    assert "da2" not in repr(a.ApiKeyAuth("da2-secret", HOST))
    red = a.redact({"Authorization": "jwt", "x-api-key": "k", "x-amz-security-token": "s", "host": "h"})
    assert red == {"Authorization": "<redacted>", "x-api-key": "<redacted>",
                   "x-amz-security-token": "<redacted>", "host": "h"}


async def test_cognito_provider_sign_in_errors_become_auth_refresh_errors():
    from presence_desktop.auth import errors as E

    async def signed_out():
        raise E.SessionExpiredError()

    async def offline():
        raise E.NetworkError()

    sign_in = (E.NotSignedInError, E.SessionExpiredError)
    with pytest.raises(a.AuthRefreshError):
        await a.CognitoAuth(signed_out, HOST, sign_in_errors=sign_in).headers("{}")
    with pytest.raises(E.NetworkError):  # transient: the client retries it with backoff
        await a.CognitoAuth(offline, HOST, sign_in_errors=sign_in).headers("{}")
