"""Helpers for the events-server tests: a throwaway Cognito-like key pair (static JWKS) and token
minting, so the AMAZON_COGNITO_USER_POOLS mode is tested without the local Cognito."""

from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from presence_desktop.relay.cognito_jwt import CognitoTokenVerifier

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_DEVSTACKT"
CLIENT_ID = "devstacktestclient0000000"


class TokenMint:
    """Mints RS256 Cognito-shaped access tokens signed by ``key`` (kid ``kid``)."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-kid-1"
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid=self.kid, alg="RS256", use="sig")
        self.jwks = {"keys": [public]}

    def access_token(self, username: str, groups=(), *, exp_in: int = 3600, key=None, issuer: str = ISSUER,
                     client_id: str = CLIENT_ID) -> str:
        now = int(time.time())
        claims = {
            "sub": f"sub-{username}",
            "iss": issuer,
            "client_id": client_id,
            "token_use": "access",
            "username": username,
            "iat": now - 5,
            "exp": now + exp_in,
            "jti": str(uuid.uuid4()),
        }
        if groups:
            claims["cognito:groups"] = list(groups)
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": self.kid})

    def id_token(self, username: str, groups=(), *, team_id: str | None = None, supervises: str | None = None) -> str:
        """An id token: the one that carries the admin-only team attributes (docs/teams.md)."""
        now = int(time.time())
        claims = {"sub": f"sub-{username}", "iss": ISSUER, "aud": CLIENT_ID, "token_use": "id",
                  "cognito:username": username, "iat": now - 5, "exp": now + 3600}
        if groups:
            claims["cognito:groups"] = list(groups)
        if team_id is not None:
            claims["custom:team_id"] = team_id
        if supervises is not None:
            claims["custom:supervises"] = supervises
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    def verifier(self) -> CognitoTokenVerifier:
        return CognitoTokenVerifier(ISSUER, {CLIENT_ID}, jwks=self.jwks, leeway_s=0)


@pytest.fixture(scope="session")
def token_mint() -> TokenMint:
    return TokenMint()
