"""Verify AWS Signature Version 4 on AppSync Events requests, with botocore doing the signing math.

AppSync Events IAM auth (docs/appsync-events-protocol.md section 2.3): the client signs an HTTP ``POST /event`` on the
*HTTP* host, service ``appsync``, with body ``{}`` (WebSocket connect), ``{"channel":..}``
(subscribe frame), ``{"channel":..,"events":[..]}`` (publish frame) or the actual body (HTTP
publish), and sends every signed header. We rebuild that request from the headers named in
``SignedHeaders`` and let botocore's :class:`~botocore.auth.SigV4Auth` compute the signature with
the secret we hold for the access key, then compare in constant time.

Sources: "Signature Version 4 signing process" (docs.aws.amazon.com/IAM/latest/UserGuide/
reference_sigv.html, create-signed-request.html); amplify-js #14001 for the server's canonical
request.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+)\s*,\s*SignedHeaders=(?P<signed>[^,\s]+)\s*,"
    r"\s*Signature=(?P<sig>[0-9a-f]{64})\s*$"
)


class SigV4Error(Exception):
    """A signature that must be refused. ``error_type`` is the AppSync errorType to report:
    ``UnauthorizedException`` (unknown key, expired date) or ``BadRequestException``
    (malformed header, signature mismatch: the type amplify-js #14001 quotes from AWS)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class SigV4Identity:
    access_key_id: str
    region: str
    signed_at: datetime


def looks_like_sigv4(headers: Mapping[str, str]) -> bool:
    """True when a (lower-case keyed) header map carries a SigV4 ``authorization``."""
    return str(headers.get("authorization", "")).startswith(ALGORITHM)


def verify_sigv4(
    headers: Mapping[str, str],
    body: str | bytes,
    *,
    credentials: Mapping[str, str],
    region: str,
    service: str = "appsync",
    path: str = "/event",
    max_skew_s: float = 300.0,
    now: datetime | None = None,
) -> SigV4Identity:
    """Check a SigV4 ``authorization`` header over ``POST <path>`` with ``body``.

    ``headers``: lower-case names -> values (the auth object of a frame, or the HTTP request's
    headers); must contain every header listed in ``SignedHeaders``.
    ``credentials``: access key id -> secret access key the server accepts.
    ``max_skew_s``: how far ``x-amz-date`` may be from ``now`` (either way), seconds. AWS uses
    5 minutes ("Signature expired" otherwise).
    Raises :class:`SigV4Error`; returns the verified access key id, region and signing time.
    """
    match = _AUTH_RE.match(str(headers.get("authorization", "")).strip())
    if not match:
        raise SigV4Error("BadRequestException", "Authorization header is not a valid AWS4-HMAC-SHA256 signature")
    cred_parts = match["cred"].split("/")
    if len(cred_parts) != 5 or cred_parts[4] != "aws4_request":
        raise SigV4Error("BadRequestException", "Credential must be <key>/<date>/<region>/<service>/aws4_request")
    access_key, scope_date, scope_region, scope_service, _ = cred_parts
    signed = match["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        raise SigV4Error("BadRequestException", "SignedHeaders must include host and x-amz-date")
    missing = [name for name in signed if name not in headers]
    if missing:
        raise SigV4Error("BadRequestException", f"signed header(s) missing from the request: {', '.join(missing)}")
    secret = credentials.get(access_key)
    if secret is None:
        raise SigV4Error("UnauthorizedException", "The security token included in the request is invalid.")
    amz_date = str(headers["x-amz-date"])
    try:
        signed_at = datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SigV4Error("BadRequestException", "x-amz-date must be YYYYMMDDTHHMMSSZ") from None
    if scope_date != amz_date[:8]:
        raise SigV4Error("BadRequestException", "credential scope date does not match x-amz-date")
    if scope_region != region or scope_service != service:
        raise SigV4Error(
            "BadRequestException",
            f"credential scope must be for region {region!r} and service {service!r}",
        )
    now = now or datetime.now(UTC)
    skew = abs((now - signed_at).total_seconds())
    if skew > max_skew_s:
        raise SigV4Error(
            "UnauthorizedException",
            f"Signature expired: {amz_date} is more than {int(max_skew_s)} s from the server time",
        )

    # Rebuild exactly the signed request; botocore computes the canonical request and signature.
    request = AWSRequest(
        method="POST",
        url=f"https://{headers['host']}{path}",
        data=body.encode("utf-8") if isinstance(body, str) else body,
        headers={name: str(headers[name]) for name in signed},
    )
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(access_key, secret), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, match["sig"]):
        raise SigV4Error(
            "BadRequestException",
            "The request signature we calculated does not match the signature you provided.",
        )
    return SigV4Identity(access_key, region, signed_at)


def sign_headers(
    body: str,
    *,
    http_url: str,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    session_token: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
    when: datetime | None = None,
) -> dict[str, str]:
    """Sign ``POST http_url`` with ``body`` the way AWS clients do for AppSync Events and return
    the lower-case header map to send (for tests and tools; the app uses events_api.auth).

    Headers as amplify sends them (docs/appsync-events-protocol.md 2.3): accept, content-encoding,
    content-type, host, x-amz-date, [x-amz-security-token], authorization. ``when`` signs as of
    another time (tests of expired signatures); default now.
    """
    base = {
        "accept": "application/json, text/javascript",
        "content-encoding": "amz-1.0",
        "content-type": "application/json; charset=UTF-8",
    }
    base.update(extra_headers or {})
    request = AWSRequest(method="POST", url=http_url, data=body.encode("utf-8"), headers=base)
    signer = SigV4Auth(Credentials(access_key_id, secret_access_key, session_token), "appsync", region)
    if when is None:
        signer.add_auth(request)
    else:
        from unittest import mock

        # botocore reads the clock through this module function; no await in between, so safe.
        with mock.patch("botocore.auth.get_current_datetime", return_value=when.astimezone(UTC).replace(tzinfo=None)):
            signer.add_auth(request)
    out = {k.lower(): v for k, v in request.headers.items()}
    if "host" not in out:
        from urllib.parse import urlsplit

        out["host"] = urlsplit(http_url).netloc
    return out
