"""The remembered session's light path: id-token claims decoded (not signature-checked) and the
unsigned Cognito JSON calls (auth/claims.py, auth/cognito_api.py)."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from presence_desktop.auth import errors as E
from presence_desktop.auth.claims import Claims, ClaimsError, id_token_claims, jwt_payload
from presence_desktop.auth.cognito_api import CognitoApiError, default_endpoint, error_code
from presence_desktop.relay import cognito_jwt

ISS = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"


def token(**claims) -> str:
    def part(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    body = {"sub": "s-1", "iss": ISS, "exp": 2_000_000_000, "token_use": "id", "aud": "client-1",
            "cognito:username": "sup-1", "cognito:groups": ["supervisors"], "custom:team_id": "team-1"}
    body.update(claims)
    return f"{part({'alg': 'RS256', 'kid': 'k'})}.{part({k: v for k, v in body.items() if v is not None})}.c2ln"


def test_claims_of_an_id_token_for_this_pool_and_client():
    c = id_token_claims(token(), ISS, "client-1")
    assert (c.sub, c.username, c.groups, c.team_id, c.token_use, c.client_id, c.exp) == (
        "s-1", "sup-1", ("supervisors",), "team-1", "id", "client-1", 2_000_000_000)
    assert c.in_group("supervisors") and c.raw["iss"] == ISS
    assert id_token_claims(token(aud=["other", "client-1"]), ISS + "/", "client-1").client_id == "client-1"


@pytest.mark.parametrize("claims, code", [
    ({"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_other"}, "wrong_issuer"),
    ({"aud": "client-2"}, "wrong_client"),
    ({"token_use": "access"}, "wrong_token_use"),
    ({"sub": None}, "malformed"),
    ({"exp": "soon"}, "malformed"),
])
def test_a_token_for_another_pool_client_or_use_is_refused(claims, code):
    with pytest.raises(ClaimsError) as err:
        id_token_claims(token(**claims), ISS, "client-1")
    assert err.value.code == code


@pytest.mark.parametrize("bad", ["", "a.b", "a.!!!.c", f"x.{base64.urlsafe_b64encode(b'[1]').decode()}.y"])
def test_malformed_tokens(bad):
    with pytest.raises(ClaimsError):
        jwt_payload(bad)


def test_claims_has_the_relay_verifiers_fields():
    # The app reads either kind (identity_from_claims); they must not drift apart.
    assert [f.name for f in dataclasses.fields(Claims)] == [f.name for f in dataclasses.fields(cognito_jwt.Claims)]


def test_cognito_error_codes_and_mapping():
    assert error_code({"x-amzn-ErrorType": "NotAuthorizedException:http://internal.amazon.com/"}, {}) == "NotAuthorizedException"
    assert error_code({}, {"__type": "com.amazonaws.cognito#TooManyRequestsException"}) == "TooManyRequestsException"
    assert error_code({}, None) == ""
    mapped = E.map_client_error(CognitoApiError("NotAuthorizedException", "Refresh Token has been revoked", 400))
    assert isinstance(mapped, E.WrongCredentialsError)
    assert isinstance(E.map_client_error(CognitoApiError("TooManyRequestsException", "Rate exceeded", 400)), E.ThrottledError)


def test_default_endpoints():
    assert default_endpoint("eu-west-1") == "https://cognito-idp.eu-west-1.amazonaws.com/"
    assert default_endpoint("cn-north-1") == "https://cognito-idp.cn-north-1.amazonaws.com.cn/"


def test_cognito_calls_use_the_environments_proxy_as_botocore_did(monkeypatch):
    import http.server
    import threading

    from presence_desktop.auth.cognito_api import CognitoIdp
    from presence_desktop.config import CognitoSettings

    seen = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            seen.append((self.path, self.headers.get("X-Amz-Target")))
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps({"__type": "NotAuthorizedException", "message": "Invalid Refresh Token"}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        settings = CognitoSettings(region="eu-west-1", user_pool_id="eu-west-1_x", client_id="c",
                                   endpoint="http://cognito.invalid:8080/")
        with pytest.raises(CognitoApiError) as err:
            CognitoIdp().refresh(settings, "r" * 40)
        assert err.value.code == "NotAuthorizedException" and err.value.status == 400
        assert seen == [("http://cognito.invalid:8080/", "AWSCognitoIdentityProviderService.InitiateAuth")]
    finally:
        server.shutdown()
