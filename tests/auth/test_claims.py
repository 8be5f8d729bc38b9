"""The id token's claims as the desktop reads them: decoded by PyJWT, not signature-checked, but
checked to belong to this pool and app client (auth/claims.py)."""

from __future__ import annotations

import base64
import json

import pytest

from presence_desktop.auth.claims import ClaimsError, id_token_claims, jwt_payload

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
