"""Authorization objects for AppSync Events: API key, Cognito user pools, IAM (SigV4).

Each authorizer turns the body of a request into the header object AWS expects (docs/appsync-events-protocol.md section 2.2,
AWS docs "Configuring authorization and authentication to secure Event APIs",
https://docs.aws.amazon.com/appsync/latest/eventapi/configure-event-api-auth.html). The same object
goes in the ``header-`` subprotocol (connect), in the ``authorization`` field of a subscribe or
publish frame, and as HTTP headers for an HTTP publish.

``host`` is always the HTTP host (``<id>.appsync-api.<region>.amazonaws.com`` or the custom domain),
never the realtime host (docs section 1). No token, key or signature is ever logged here.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, Union
from urllib.parse import urlsplit

from .protocol import CONNECT_BODY

if TYPE_CHECKING:
    from botocore.credentials import Credentials
# botocore (SigV4) is imported only by the IAM mode: the desktop app authorises with Cognito
# tokens, and botocore.auth is heavy to import (bench/README.md, "Figures behind the code").

SIGNING_SERVICE = "appsync"
# The headers amplify signs for every AppSync Events request (AWS_APPSYNC_REALTIME_HEADERS); the
# server's canonical request quoted in amplify-js #14001 lists exactly these plus host/x-amz-*.
IAM_CONTENT_HEADERS = {
    "accept": "application/json, text/javascript",
    "content-encoding": "amz-1.0",
    "content-type": "application/json; charset=UTF-8",
}


class AuthRefreshError(Exception):
    """Fresh credentials could not be obtained: the user must sign in again."""


class Authorizer(Protocol):
    """What :class:`~presence_desktop.events_api.client.EventsClient` needs from an auth mode."""

    async def headers(self, body: str) -> dict[str, str]:
        """The authorization header object for a request whose (signed) body is ``body``."""

    async def refresh(self) -> None:
        """Get fresh credentials after the server refused them. Raises :class:`AuthRefreshError`."""


def http_host(url: str) -> str:
    """The ``host`` of an ``https://…/event`` URL as a browser's ``URL.host`` gives it: the default
    port (443 for https/wss, 80 for http/ws) dropped, any other port kept. Raises ``ValueError``."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"not an absolute URL: {url!r}")
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    default = {"https": 443, "wss": 443, "http": 80, "ws": 80}.get(parts.scheme)
    return host if port is None or port == default else f"{host}:{port}"


class ApiKeyAuth:
    """``API_KEY`` mode: ``{"host", "x-api-key"}`` (docs section 2.2; keys look like ``da2-…``)."""

    def __init__(self, api_key: str, http_host: str):
        if not api_key:
            raise ValueError("api_key is empty")
        self._api_key = api_key
        self.http_host = http_host

    async def headers(self, body: str = CONNECT_BODY) -> dict[str, str]:
        return {"host": self.http_host, "x-api-key": self._api_key}

    async def refresh(self) -> None:
        raise AuthRefreshError("the API key was refused")

    def __repr__(self) -> str:
        return f"ApiKeyAuth(http_host={self.http_host!r})"


TokenProvider = Callable[[], Awaitable[str]]


class CognitoAuth:
    """``AMAZON_COGNITO_USER_POOLS`` mode: ``{"Authorization": <JWT>, "host"}`` (docs section 2.2).

    ``token_provider`` is an async callable returning a currently valid JWT (e.g.
    ``AuthSession.id_token``, which refreshes near expiry); it is called for every request, so each
    connect and subscribe carries the freshest token. ``force_refresh`` (optional async callable,
    e.g. ``AuthSession.force_refresh``) is awaited by :meth:`refresh` after the server refused a
    token; its return value is ignored and the next :meth:`headers` asks ``token_provider`` again.
    """

    def __init__(self, token_provider: TokenProvider, http_host: str, *,
                 force_refresh: Callable[[], Awaitable[Any]] | None = None,
                 sign_in_errors: tuple[type[BaseException], ...] = ()):
        self._token_provider = token_provider
        self._force_refresh = force_refresh
        self._sign_in_errors = sign_in_errors
        self.http_host = http_host

    async def headers(self, body: str = CONNECT_BODY) -> dict[str, str]:
        """Raises :class:`AuthRefreshError` when the provider raises one of ``sign_in_errors``
        (the caller's "the user must sign in" errors): no token can be had without the user. Other provider errors (e.g. the network) propagate unchanged and
        the client retries them with backoff."""
        try:
            token = await self._token_provider()
        except self._sign_in_errors as exc:
            raise AuthRefreshError(str(exc) or type(exc).__name__) from exc
        if not isinstance(token, str) or not token:
            raise AuthRefreshError("the token provider returned no token")
        return {"Authorization": token, "host": self.http_host}

    async def refresh(self) -> None:
        if self._force_refresh is None:
            raise AuthRefreshError("the token was refused and no refresh is configured")
        try:
            await self._force_refresh()
        except AuthRefreshError:
            raise
        except Exception as exc:  # any failure to refresh means: sign in again
            raise AuthRefreshError(f"token refresh failed: {exc or type(exc).__name__}") from exc

    def __repr__(self) -> str:
        return f"CognitoAuth(http_host={self.http_host!r})"


CredentialsProvider = Union["Credentials", Callable[[], Union["Credentials", Awaitable["Credentials"]]]]


def sign_iam_headers(credentials: Credentials, region: str, http_url: str, body: str) -> dict[str, str]:
    """SigV4-sign ``POST <http_url>`` with ``body`` for service ``appsync`` and return every header
    to send: ``accept``, ``content-encoding``, ``content-type``, ``host``, ``x-amz-date``,
    ``x-amz-security-token`` (temporary credentials only) and ``authorization`` (lowercase keys,
    as amplify sends them). Synchronous: the relay uses it for its HTTP publish.

    Source: docs/appsync-events-protocol.md section 2.3 (amplify authHeaders.ts, amplify-js #14001). Raises
    ``botocore.exceptions.NoCredentialsError`` if ``credentials`` is None.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    host = http_host(http_url)
    request = AWSRequest(method="POST", url=http_url, data=body.encode("utf-8"),
                         headers={**IAM_CONTENT_HEADERS, "host": host})
    frozen = credentials.get_frozen_credentials() if credentials is not None else None
    SigV4Auth(frozen, SIGNING_SERVICE, region).add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


class IamAuth:
    """``AWS_IAM`` mode: SigV4 headers over ``POST https://<http host>/event`` with the request body
    (``{}`` connect, ``{"channel"}`` subscribe, ``{"channel","events"}`` publish).

    ``credentials`` is a botocore ``Credentials`` (refreshable ones refresh themselves) or a
    callable (sync or async) returning one; it is asked again on every request and by :meth:`refresh`.
    """

    def __init__(self, credentials: CredentialsProvider, region: str, http_url: str):
        self._credentials = credentials
        self.region = region
        self.http_url = http_url
        self.http_host = http_host(http_url)

    async def _current(self) -> Credentials:
        from botocore.credentials import Credentials

        provider = self._credentials
        if isinstance(provider, Credentials):
            return provider
        value = provider()
        if inspect.isawaitable(value):
            value = await value
        if value is None:
            raise AuthRefreshError("no AWS credentials")
        return value

    async def headers(self, body: str = CONNECT_BODY) -> dict[str, str]:
        return sign_iam_headers(await self._current(), self.region, self.http_url, body)

    def sign_sync(self, body: str) -> dict[str, str]:
        """Like :meth:`headers` for a synchronous caller; needs a sync provider or ``Credentials``."""
        from botocore.credentials import Credentials

        provider = self._credentials
        creds = provider if isinstance(provider, Credentials) else provider()
        if inspect.isawaitable(creds):
            raise TypeError("sign_sync needs a synchronous credentials provider")
        return sign_iam_headers(creds, self.region, self.http_url, body)

    async def refresh(self) -> None:
        try:
            await self._current()
        except Exception as exc:
            raise AuthRefreshError(f"AWS credentials unavailable: {type(exc).__name__}") from exc

    def __repr__(self) -> str:
        return f"IamAuth(region={self.region!r}, http_host={self.http_host!r})"


def redact(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` safe to log: secrets replaced by ``"<redacted>"``."""
    secret = {"authorization", "x-api-key", "x-amz-security-token"}
    return {k: ("<redacted>" if k.lower() in secret else v) for k, v in headers.items()}
