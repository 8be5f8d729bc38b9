"""The two unsigned Cognito user-pool calls of a remembered session, over urllib3: refresh
(``InitiateAuth`` with ``REFRESH_TOKEN_AUTH``) and ``GlobalSignOut``.

Why not a boto3/botocore client here: creating one costs ~0.23-0.29 s and ~32-37 MB (botocore's
loaders, endpoint rules and the cognito-idp service model), every start-up with a remembered
session paid it for one HTTP request (bench/ figures 4 and 5). The interactive sign-in (SRP and
its challenges) still uses boto3 + pycognito, imported only then.

Protocol (Amazon Cognito API reference, "InitiateAuth", "GlobalSignOut"; AWS JSON 1.1 as botocore
speaks it for ``cognito-idp``): ``POST <endpoint>/`` with ``Content-Type:
application/x-amz-json-1.1`` and ``X-Amz-Target: AWSCognitoIdentityProviderService.<Operation>``,
a JSON body, no signature (public app client). Errors: HTTP 4xx/5xx with the error code in the
``x-amzn-ErrorType`` header or the body's ``__type`` (either may carry a ``...#`` prefix or a
``:...`` suffix) and the text in ``message`` / ``Message``.

Endpoint: the profile's ``endpoint`` (devstack), else ``https://cognito-idp.<region>.amazonaws.com``
(``.amazonaws.com.cn`` in the China regions). TLS: the system trust store, always verified.
Proxies: from the environment, as botocore chose them (:func:`presence_desktop.net.environ_proxy`).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import urllib3
from urllib3.util import Retry

from presence_desktop.net import client_ssl_context, environ_proxy

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
CONTENT_TYPE = "application/x-amz-json-1.1"


class CognitoApiError(Exception):
    """Cognito answered with an error. ``code`` e.g. ``"NotAuthorizedException"`` (the API
    reference's error names), ``message`` its text, ``status`` the HTTP status. ``response``
    has botocore ``ClientError``'s shape (``{"Error": {"Code", "Message"}}``) for
    :func:`presence_desktop.auth.errors.map_client_error`."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.response = {"Error": {"Code": code, "Message": message},
                         "ResponseMetadata": {"HTTPStatusCode": status}}


def default_endpoint(region: str) -> str:
    """The regional Cognito user-pool endpoint (AWS general reference, "Amazon Cognito endpoints")."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://cognito-idp.{region}.{suffix}/"


def error_code(headers: Any, body: Any) -> str:
    """The error's short name from ``x-amzn-ErrorType`` or ``__type`` (botocore's rule)."""
    raw = headers.get("x-amzn-ErrorType") or (body.get("__type") if isinstance(body, dict) else None) or ""
    return str(raw).split(":", 1)[0].rsplit("#", 1)[-1]


class CognitoIdp:
    """Unsigned calls to a user pool's endpoint; ``settings`` arguments are
    :class:`presence_desktop.config.CognitoSettings`. Timeouts in seconds. Blocking: call from a
    worker thread. Keeps its connections alive between calls (thread-safe pool)."""

    def __init__(self, connect_timeout_s: float = 5.0, read_timeout_s: float = 15.0) -> None:
        self._timeout = urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s)
        # One retry for a lost connection or a 5xx, after Retry-After when the answer has one
        # (botocore's "standard" mode with total_max_attempts=2, which the boto3 client used).
        self._retry = Retry(total=1, connect=1, read=0, status=1, other=0, allowed_methods=None,
                            status_forcelist=(500, 502, 503, 504), backoff_factor=0.2,
                            respect_retry_after_header=True, raise_on_status=False)
        self._pools: dict[str | None, urllib3.PoolManager] = {}  # by proxy URL (None: direct)
        self._lock = threading.Lock()

    def _http(self, url: str) -> urllib3.PoolManager:
        proxy = environ_proxy(url)
        with self._lock:
            pool = self._pools.get(proxy)
            if pool is None:
                kwargs: dict[str, Any] = dict(num_pools=2, maxsize=2, timeout=self._timeout, retries=self._retry)
                if url.startswith("https://") or (proxy or "").startswith("https://"):
                    kwargs["ssl_context"] = client_ssl_context(None)
                pool = urllib3.ProxyManager(proxy, **kwargs) if proxy else urllib3.PoolManager(**kwargs)
                self._pools[proxy] = pool
            return pool

    def call(self, settings: Any, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """``operation`` (e.g. ``"InitiateAuth"``) with ``body`` -> the answer's JSON object.
        Raises :class:`CognitoApiError` (Cognito said no), urllib3's ``HTTPError`` or ``OSError``
        (no answer)."""
        endpoint = settings.endpoint or default_endpoint(settings.region)
        resp = self._http(endpoint).request(
            "POST", endpoint, body=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + operation,
                     "User-Agent": "presence-desktop"},
        )
        try:
            data = json.loads(resp.data) if resp.data else {}
        except ValueError:
            data = None
        if 200 <= resp.status < 300 and isinstance(data, dict):
            return data
        code = error_code(resp.headers, data) or f"HTTP{resp.status}"
        message = ""
        if isinstance(data, dict):
            message = str(data.get("message") or data.get("Message") or "")
        raise CognitoApiError(code, message, resp.status)

    def refresh(self, settings: Any, refresh_token: str) -> dict[str, Any]:
        """``InitiateAuth`` with ``REFRESH_TOKEN_AUTH`` for ``settings.client_id``:
        ``{"AuthenticationResult": {IdToken, AccessToken, ExpiresIn, [RefreshToken]}}``."""
        return self.call(settings, "InitiateAuth", {"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": settings.client_id,
                                                    "AuthParameters": {"REFRESH_TOKEN": refresh_token}})

    def global_sign_out(self, settings: Any, access_token: str) -> dict[str, Any]:
        """``GlobalSignOut``: revokes every token of the user."""
        return self.call(settings, "GlobalSignOut", {"AccessToken": access_token})

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.clear()
