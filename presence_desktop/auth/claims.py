"""The id token's claims, as the desktop reads them: decoded, not signature-checked.

Why no signature check here: the desktop receives its tokens only straight from Cognito's token
endpoint, in the answer to its own TLS request (InitiateAuth / RespondToAuthChallenge). OpenID
Connect Core 1.0 §3.1.3.7 (6): for an ID token "received via direct communication between the
Client and the Token Endpoint ... the TLS server validation MAY be used to validate the issuer in
place of checking the token signature". Every server that acts on a token (the relay, AppSync)
verifies it (presence_desktop/relay/cognito_jwt.py). What the desktop does with the claims is
choose its view (username, groups, team); it checks they belong to this pool and app client.

Not checking the signature saves the start-up a JWKS fetch (a network round trip). The token is
still parsed by PyJWT (``jwt.decode`` with ``verify_signature`` off; RFC 7519), not by hand.
"""

from __future__ import annotations

from typing import Any

from presence_desktop.domain.identity import Claims


class ClaimsError(ValueError):
    """Not an id token of this pool and app client. ``code``: malformed, wrong_issuer,
    wrong_client or wrong_token_use (the names presence_desktop.relay.cognito_jwt uses)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def jwt_payload(token: str) -> dict[str, Any]:
    """The payload (claims) of a compact JWT, read with PyJWT without checking the signature.
    Raises ClaimsError("malformed")."""
    import jwt  # PyJWT

    if not isinstance(token, str):
        raise ClaimsError("malformed", "not a JWT")
    try:
        payload = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise ClaimsError("malformed", f"unreadable JWT: {type(exc).__name__}") from None
    if not isinstance(payload, dict):
        raise ClaimsError("malformed", "JWT payload is not an object")
    return payload


def id_token_claims(token: str, issuer: str, client_id: str) -> Claims:
    """The claims of a Cognito id token issued by ``issuer`` to ``client_id``.
    Raises :class:`ClaimsError`."""
    claims = jwt_payload(token)
    for name in ("sub", "iss", "exp", "token_use"):
        if name not in claims:
            raise ClaimsError("malformed", f"id token without {name!r}")
    if str(claims["iss"]).rstrip("/") != issuer.rstrip("/"):
        raise ClaimsError("wrong_issuer", "token was not issued by this user pool")
    if claims["token_use"] != "id":
        raise ClaimsError("wrong_token_use", f"expected an id token, got {claims['token_use']!r}")
    aud = claims.get("aud")
    if not (aud == client_id or (isinstance(aud, list) and client_id in aud)):
        raise ClaimsError("wrong_client", "token was issued to another app client")
    groups = claims.get("cognito:groups") or []
    if not isinstance(groups, list):  # Cognito always sends a list; anything else is no group
        groups = []
    try:
        exp = int(claims["exp"])
    except (TypeError, ValueError):
        raise ClaimsError("malformed", "id token with a bad 'exp'") from None
    return Claims(
        sub=str(claims["sub"]),
        username=str(claims.get("cognito:username") or claims["sub"]),
        groups=tuple(str(g) for g in groups),
        token_use="id",
        client_id=client_id,
        issuer=str(claims["iss"]),
        exp=exp,
        team_id=claims.get("custom:team_id"),
        raw=claims,
    )
