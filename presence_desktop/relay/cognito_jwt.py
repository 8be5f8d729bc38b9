"""Verify Amazon Cognito user pool tokens (JWT, RS256) against the pool's JWKS.

Sources: "Verifying a JSON Web Token" in the Amazon Cognito developer guide
(docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html):
check the signature with the key of the token's ``kid`` from ``<issuer>/.well-known/jwks.json``,
``iss`` equal to ``https://cognito-idp.<region>.amazonaws.com/<user pool id>``, ``exp`` in the
future, ``token_use`` (``id`` or ``access``), and the app client: ``aud`` in an id token,
``client_id`` in an access token. JWT itself: RFC 7519; the key set: RFC 7517.

The JWKS is fetched with PyJWT's ``PyJWKClient`` (cached; on an unknown ``kid`` it refetches once,
at most every ``refetch_cooldown_s``, which handles key rotation without letting forged ``kid``
values turn into a fetch per request).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ssl
from collections.abc import Iterable
from typing import Any

import jwt

from presence_desktop.domain.identity import Claims

ALGORITHMS = ["RS256"]


class TokenError(Exception):
    """A token that must be refused. ``code`` is one of: expired, invalid_signature,
    wrong_issuer, wrong_client, wrong_token_use, malformed, unknown_key, jwks_unavailable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class CognitoTokenVerifier:
    """Verifies Cognito JWTs for one user pool (``issuer``) and a set of app clients.

    Give either ``jwks_url`` (fetched and cached) or a static ``jwks`` dict (tests, or an
    air-gapped deployment). ``leeway_s`` tolerates clock skew on ``exp``/``iat`` (seconds).
    ``ssl_context`` is used for an ``https`` JWKS URL (default: the system trust store).
    """

    def __init__(
        self,
        issuer: str,
        client_ids: Iterable[str],
        jwks_url: str | None = None,
        jwks: dict[str, Any] | None = None,
        leeway_s: int = 60,
        allowed_token_uses: Iterable[str] = ("id", "access"),
        refetch_cooldown_s: float = 30.0,
        fetch_timeout_s: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if (jwks_url is None) == (jwks is None):
            raise ValueError("give exactly one of jwks_url or jwks")
        self.issuer = issuer.rstrip("/")
        self.client_ids = frozenset(client_ids)
        if not self.client_ids:
            raise ValueError("at least one app client id is required")
        self.leeway_s = leeway_s
        self.allowed_token_uses = frozenset(allowed_token_uses)
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._static = jwt.PyJWKSet.from_dict(jwks) if jwks is not None else None
        self._client = (
            jwt.PyJWKClient(
                jwks_url,
                cache_jwk_set=True,
                lifespan=3600,
                timeout=fetch_timeout_s,
                ssl_context=ssl_context,
                cooldown_duration=refetch_cooldown_s,
            )
            if jwks_url is not None
            else None
        )

    # --- public -------------------------------------------------------------------------------
    def verify(self, token: str, token_use: str | None = None) -> Claims:
        """Verify ``token`` (blocking only when the JWKS must be fetched).

        ``token_use`` demands ``"id"`` or ``"access"``; None accepts any of ``allowed_token_uses``.
        Raises :class:`TokenError`.
        """
        kid = self._kid(token)
        key = self._signing_key(kid)
        return self._decode(token, key, token_use)

    async def verify_async(self, token: str, token_use: str | None = None) -> Claims:
        """Like :meth:`verify`; a JWKS fetch, if needed, runs in a worker thread."""
        kid = self._kid(token)
        if self._static is not None or self._cached_key(kid) is not None:
            return self.verify(token, token_use)
        # Its own thread, not the loop's default executor, which clients of this process may fill.
        key = await asyncio.get_running_loop().run_in_executor(self._jwks_executor(), self._signing_key, kid)
        return self._decode(token, key, token_use)

    # --- internals ----------------------------------------------------------------------------
    def _jwks_executor(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="jwks")
        return self._executor

    @staticmethod
    def _kid(token: str) -> str:
        if not isinstance(token, str) or token.count(".") != 2:
            raise TokenError("malformed", "not a JWT")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError("malformed", f"unreadable JWT header: {exc}") from None
        if header.get("alg") not in ALGORITHMS:
            raise TokenError("malformed", f"algorithm {header.get('alg')!r} not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("malformed", "JWT header has no kid")
        return kid

    def _cached_key(self, kid: str) -> jwt.PyJWK | None:
        cache = getattr(self._client, "jwk_set_cache", None)
        jwk_set = cache.get() if cache is not None else None
        if jwk_set is None:
            return None
        found: jwt.PyJWK | None = next((key for key in jwk_set.keys if key.key_id == kid), None)
        return found

    def _signing_key(self, kid: str) -> jwt.PyJWK:
        if self._static is not None:
            for key in self._static.keys:
                if key.key_id == kid:
                    return key
            raise TokenError("unknown_key", "token signed with a key this pool does not publish")
        assert self._client is not None
        try:
            return self._client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise TokenError("jwks_unavailable", f"could not fetch the pool's JWKS: {exc}") from None
        except jwt.PyJWKClientError as exc:
            if "Unable to find a signing key" in str(exc):
                raise TokenError("unknown_key", "token signed with a key this pool does not publish") from None
            raise TokenError("jwks_unavailable", f"bad JWKS: {exc}") from None

    def _decode(self, token: str, key: jwt.PyJWK, token_use: str | None) -> Claims:
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"verify_aud": False, "require": ["exp", "iss", "sub", "token_use"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("expired", "token has expired") from None
        except jwt.InvalidSignatureError:
            raise TokenError("invalid_signature", "signature does not verify") from None
        except jwt.InvalidIssuerError:
            raise TokenError("wrong_issuer", "token was not issued by this user pool") from None
        except jwt.PyJWTError as exc:
            raise TokenError("malformed", str(exc)) from None

        use = claims.get("token_use")
        if use not in self.allowed_token_uses or (token_use is not None and use != token_use):
            wanted = token_use or "/".join(sorted(self.allowed_token_uses))
            raise TokenError("wrong_token_use", f"expected an {wanted} token, got {use!r}")
        client_id = claims.get("aud") if use == "id" else claims.get("client_id")
        if isinstance(client_id, list):  # RFC 7519 allows an audience array
            client_id = next((c for c in client_id if c in self.client_ids), None)
        if client_id not in self.client_ids:
            raise TokenError("wrong_client", "token was issued to another app client")
        username = claims.get("cognito:username") if use == "id" else claims.get("username")
        groups = claims.get("cognito:groups") or []
        if not isinstance(groups, list):  # Cognito always sends a list; anything else is no group
            groups = []
        return Claims(
            sub=str(claims["sub"]),
            username=str(username or claims["sub"]),
            groups=tuple(str(g) for g in groups),
            token_use=use,
            client_id=str(client_id),
            issuer=str(claims["iss"]),
            exp=int(claims["exp"]),
            team_id=claims.get("custom:team_id"),
            raw=claims,
        )
