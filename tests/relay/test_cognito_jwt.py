"""CognitoTokenVerifier: every reason to refuse a token, and key rotation through a real JWKS URL."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from presence_desktop.relay.cognito_jwt import CognitoTokenVerifier, TokenError

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TESTPOOL"
CLIENT = "client-abc"


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(private, kid):
    data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    data.update(kid=kid, alg="RS256", use="sig")
    return data


def _token(private, kid, **over):
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "sub-1", "aud": CLIENT, "token_use": "id", "iat": now, "exp": now + 3600,
              "cognito:username": "agent-1", "cognito:groups": ["support_agents"], "custom:team_id": "team-1"}
    claims.update(over)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def keys():
    return _key(), _key()


@pytest.fixture
def verifier(keys):
    return CognitoTokenVerifier(ISSUER, [CLIENT], jwks={"keys": [_jwk(keys[0], "k1")]}, leeway_s=5)


def test_valid_id_token_gives_username_groups_and_team(keys, verifier):
    claims = verifier.verify(_token(keys[0], "k1"), token_use="id")
    assert (claims.username, claims.groups, claims.team_id, claims.sub) == ("agent-1", ("support_agents",), "team-1", "sub-1")


def test_valid_access_token_uses_client_id_claim(keys, verifier):
    tok = _token(keys[0], "k1", token_use="access", aud=None, client_id=CLIENT, username="agent-1")
    assert verifier.verify(tok).token_use == "access"


@pytest.mark.parametrize(
    "make, code",
    [
        (lambda k: _token(k[1], "k1"), "invalid_signature"),  # forged: another key, same kid
        (lambda k: _token(k[0], "k1", iss=ISSUER + "x"), "wrong_issuer"),
        (lambda k: _token(k[0], "k1", aud="other-client"), "wrong_client"),
        (lambda k: _token(k[0], "k1", exp=int(time.time()) - 60), "expired"),
        (lambda k: _token(k[0], "k1", token_use="access", aud=None, client_id=CLIENT), "wrong_token_use"),
        (lambda k: _token(k[0], "k2"), "unknown_key"),
        (lambda k: "not.a.jwt", "malformed"),
        (lambda k: "abc", "malformed"),
        (lambda k: jwt.encode({"iss": ISSUER}, "", algorithm="none", headers={"kid": "k1"}), "malformed"),
        (lambda k: _token(k[0], "k1", token_use=None), "malformed"),
    ],
)
def test_bad_tokens_are_refused_with_their_reason(keys, verifier, make, code):
    with pytest.raises(TokenError) as err:
        verifier.verify(make(keys), token_use="id")
    assert err.value.code == code


def test_small_clock_skew_is_tolerated(keys, verifier):
    assert verifier.verify(_token(keys[0], "k1", exp=int(time.time()) - 2))


class _JwksServer:
    def __init__(self, jwks):
        self.jwks = jwks
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # http.server API
                outer.hits += 1
                body = json.dumps(outer.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/jwks.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


async def test_key_rotation_refetches_once_and_forged_kids_do_not_cause_fetch_storms(keys):
    server = _JwksServer({"keys": [_jwk(keys[0], "k1")]})
    try:
        v = CognitoTokenVerifier(ISSUER, [CLIENT], jwks_url=server.url, refetch_cooldown_s=0.0)
        assert (await v.verify_async(_token(keys[0], "k1"))).username == "agent-1"
        assert v.verify(_token(keys[0], "k1")) and server.hits == 1  # cached
        server.jwks = {"keys": [_jwk(keys[0], "k1"), _jwk(keys[1], "k2")]}  # the pool rotates in k2
        assert (await v.verify_async(_token(keys[1], "k2"))).sub == "sub-1"
        assert server.hits == 2

        slow = CognitoTokenVerifier(ISSUER, [CLIENT], jwks_url=server.url, refetch_cooldown_s=60.0)
        slow.verify(_token(keys[0], "k1"))
        before = server.hits
        for i in range(5):
            with pytest.raises(TokenError) as err:
                slow.verify(_token(keys[0], f"forged-{i}"))
            assert err.value.code == "unknown_key"
        assert server.hits - before <= 1
    finally:
        server.close()


def test_unreachable_jwks_is_reported_not_crashed(keys):
    v = CognitoTokenVerifier(ISSUER, [CLIENT], jwks_url="http://127.0.0.1:9/jwks.json", fetch_timeout_s=1)
    with pytest.raises(TokenError) as err:
        v.verify(_token(keys[0], "k1"))
    assert err.value.code == "jwks_unavailable"


def test_constructor_demands_one_key_source():
    with pytest.raises(ValueError):
        CognitoTokenVerifier(ISSUER, [CLIENT])
    with pytest.raises(ValueError):
        CognitoTokenVerifier(ISSUER, [], jwks={"keys": []})
