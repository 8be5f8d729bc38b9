"""Publish presence events to AWS AppSync Events over HTTP, signed with SigV4 (IAM).

Protocol (docs/appsync-events-protocol.md sections 2.3 and 4; AWS "Publish events via HTTP",
https://docs.aws.amazon.com/appsync/latest/eventapi/publish-http.html):

- ``POST https://<http host>/event`` with body ``{"channel": "/ns/a/b", "events": ["<json>", ...]}``
  (1-5 events, each a JSON *string*);
- headers ``accept: application/json, text/javascript``, ``content-encoding: amz-1.0``,
  ``content-type: application/json; charset=UTF-8`` plus the SigV4 set (``host``,
  ``x-amz-date``, ``x-amz-security-token`` for temporary credentials, ``authorization``) from
  botocore's ``SigV4Auth(credentials, "appsync", region)``;
- success is HTTP 200 ``{"successful": [{"identifier", "index"}], "failed": [...]}``.

The body is encoded to bytes once; those exact bytes are signed and sent (non-ASCII kept as
UTF-8, no HTML escaping), so what AppSync hashes is what was signed.

Retries (full-jitter exponential backoff) on network errors, timeouts, HTTP 429 and 5xx. A
401/403/400 or a ``failed`` entry is final. The last failure is raised as :class:`HttpPublishError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from botocore.credentials import Credentials

from presence_desktop.events_api.auth import sign_iam_headers
from presence_desktop.events_api.protocol import MAX_EVENTS_PER_PUBLISH, publish_body
from presence_desktop.net.aws_sdk_logs import quiet_aws_sdk_logs
from presence_desktop.net.backoff import full_jitter

log = logging.getLogger(__name__)



class HttpPublishError(RuntimeError):
    """The events could not be published.

    ``code``: ``events_unavailable`` (network error, timeout, 429/5xx after all retries) or
    ``publish_rejected`` (AppSync refused: 4xx or a ``failed`` entry; retrying will not help).
    ``status``: the last HTTP status seen, or None for a network error.
    """

    def __init__(self, code: str, message: str, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retryable = retryable


def encode_publish_body(channel: str, events: Sequence[str]) -> bytes:
    """The HTTP publish body as UTF-8 bytes: compact JSON, non-ASCII kept, nothing HTML-escaped."""
    if not 1 <= len(events) <= MAX_EVENTS_PER_PUBLISH:
        raise ValueError(f"a publish carries 1-{MAX_EVENTS_PER_PUBLISH} events, got {len(events)}")
    for event in events:
        if not isinstance(event, str):
            raise TypeError("each event is a JSON string")
    return publish_body(channel, events).encode("utf-8")


CredentialsSource = Callable[[], "Credentials | None"]


def sign_publish(url: str, body: bytes, credentials: Credentials, region: str) -> dict[str, str]:
    """SigV4-sign ``POST url`` with exactly ``body``; returns every header to send (lowercase).

    Delegates to :func:`presence_desktop.events_api.auth.sign_iam_headers` (botocore
    ``SigV4Auth``, service ``appsync``; AWS SigV4:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html),
    which signs the UTF-8 encoding of the text we pass: the same bytes as ``body``.
    """
    return sign_iam_headers(credentials, region, url, body.decode("utf-8"))


@dataclass
class RetryPolicy:
    """``attempts`` tries in all; the wait before try n+1 is uniform in [0, min(cap, base*2**n)]."""

    attempts: int = 4
    base_s: float = 0.2
    cap_s: float = 3.0
    timeout_s: float = 5.0

    def delay(self, attempt: int) -> float:
        return full_jitter(attempt, base=self.base_s, cap=self.cap_s)

    def worst_case_s(self) -> float:
        """Seconds one publish can take at most: every try timing out, every wait at its cap."""
        waits = sum(min(self.cap_s, self.base_s * float(2**n)) for n in range(self.attempts - 1))
        return self.attempts * self.timeout_s + waits


class EventsPublisher:
    """Signs and sends publishes; one aiohttp session reused per event loop.

    ``credentials``: a botocore ``Credentials`` (refreshable ones are frozen per request) or a
    callable returning one (None = no credentials -> ``publish_rejected``). ``ssl_context``: a verifying context (e.g. trusting the devstack CA);
    None = the system trust store. TLS verification is never disabled.
    """

    def __init__(
        self,
        http_url: str,
        region: str,
        credentials: Credentials | CredentialsSource,
        ssl_context: ssl.SSLContext | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not http_url.startswith(("https://", "http://")) or not http_url.rstrip("/").endswith("/event"):
            raise ValueError(f"events http_url must be https://<host>/event, got {http_url!r}")
        quiet_aws_sdk_logs()
        self.http_url = http_url
        self.region = region
        self._credentials = credentials
        self._ssl = ssl_context
        self.retry = retry or RetryPolicy()
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def _current_credentials(self) -> Credentials:
        creds = self._credentials() if callable(self._credentials) else self._credentials
        if creds is None:
            raise HttpPublishError("publish_rejected", "no AWS credentials to sign the publish with")
        return creds

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else True)
            # The signed headers (host, accept, content-type) are passed explicitly per request.
            self._session = aiohttp.ClientSession(connector=connector)
            self._session_loop = loop
        return self._session

    async def publish(self, channel: str, events: Sequence[str]) -> dict[str, Any]:
        """Publish ``events`` (JSON strings) to ``channel``; returns AppSync's response JSON.

        Raises :class:`HttpPublishError` after the last retry (or at once when not retryable).
        """
        body = encode_publish_body(channel, events)
        last: HttpPublishError | None = None
        for attempt in range(self.retry.attempts):
            if attempt:
                await asyncio.sleep(self.retry.delay(attempt - 1))
            try:
                return await self._send_once(body)
            except HttpPublishError as exc:
                last = exc
                if not exc.retryable:
                    break
                log.warning("publish to %s failed (try %d/%d): %s", channel, attempt + 1, self.retry.attempts, exc.message)
        assert last is not None
        log.error("publish to %s failed for good: %s", channel, last.message)
        raise last

    async def _send_once(self, body: bytes) -> dict[str, Any]:
        headers = sign_publish(self.http_url, body, self._current_credentials(), self.region)
        session = self._get_session()
        try:
            async with session.post(
                self.http_url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=self.retry.timeout_s)
            ) as resp:
                text = await resp.text()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise HttpPublishError("events_unavailable", f"events endpoint unreachable: {type(exc).__name__}: {exc}", None, True) from None
        if status == 429 or status >= 500:
            raise HttpPublishError("events_unavailable", f"events endpoint answered HTTP {status}: {text[:200]}", status, True)
        if status != 200:
            # Refused signature: credentials rotated under us? Read them again; worth a retry
            # only if they changed (relay/config.py ChainCredentials).
            invalidate = getattr(self._credentials, "invalidate", None)
            rotated = status in (401, 403) and invalidate is not None and await asyncio.to_thread(invalidate)
            if rotated:
                log.warning("events endpoint refused the signature; retrying with the credentials read again")
            raise HttpPublishError("publish_rejected", f"events endpoint refused the publish: HTTP {status}: {text[:300]}",
                               status, retryable=bool(rotated))
        try:
            result = json.loads(text)
        except json.JSONDecodeError:
            raise HttpPublishError("events_unavailable", f"events endpoint answered non-JSON: {text[:200]!r}", status, True) from None
        failed = result.get("failed") if isinstance(result, dict) else None
        errors = result.get("errors") if isinstance(result, dict) else None
        if errors:
            raise HttpPublishError("publish_rejected", f"events endpoint returned errors: {json.dumps(errors)[:300]}", status)
        if failed:
            raise HttpPublishError("publish_rejected", f"events endpoint did not accept the event: {json.dumps(failed)[:300]}", status)
        return result if isinstance(result, dict) else {}

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            try:
                await self._session.close()
            except RuntimeError:  # session of a loop that is gone
                pass
        self._session = None
