"""The relay as an AWS Lambda function: a thin adapter over :class:`RelayCore`.

``handler(event, context)`` (CloudFormation: ``presence_desktop.relay.lambda_handler.handler``)
accepts:

- API Gateway HTTP API and Lambda function URL requests, payload format 2.0
  (``version: "2.0"``, ``rawPath``, ``rawQueryString``, ``headers``, ``body``,
  ``isBase64Encoded``, ``requestContext.http.{method,sourceIp}``; AWS docs "Working with AWS
  Lambda proxy integrations for HTTP APIs" and "Invoking Lambda function URLs" (request and
  response payloads), docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html,
  docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html);
- API Gateway REST (payload 1.0: ``httpMethod``, ``path``, ``queryStringParameters``), for
  completeness;
- the sweeper's scheduled event ``{"source": "presence.sweep"}`` (EventBridge rule input), or
  any ``aws.events`` scheduled event: runs :meth:`RelayCore.sweep` and returns its result.

It answers ``{"statusCode", "headers", "body", "isBase64Encoded": false}`` with the same JSON
bodies as the aiohttp service. Configuration: the environment (see
:mod:`presence_desktop.relay.config`; CloudFormation sets ``PRESENCE_STORE=dynamodb``,
``PRESENCE_TABLE_NAME``, ``PRESENCE_EVENTS_HTTP_URL``, ``PRESENCE_COGNITO_ISSUER``, ...).
AWS credentials: the function's role, through botocore's chain.

One core (verifier JWKS cache, DynamoDB client, HTTP session) and one event loop live per warm
container. In the Lambda runtime (``AWS_LAMBDA_RUNTIME_API`` set) both are built when the module
is imported, during the function's init phase, so the first request does not pay for them; a
broken configuration is logged and raised there (an init error naming the setting), not on every
request. Elsewhere (tests, tools) they are built on first use.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
from typing import Any
from urllib.parse import urlencode

from presence_desktop.relay.core import RelayCore, RelayRequest, RelayResponse

log = logging.getLogger(__name__)

_core: RelayCore | None = None
_loop: asyncio.AbstractEventLoop | None = None

SWEEP_SOURCES = ("presence.sweep", "aws.events", "aws.scheduler")


def _get_core() -> RelayCore:
    global _core
    if _core is None:
        _core = _build_core()
    return _core


def _build_core() -> RelayCore:
    from presence_desktop.relay.config import RelayConfig, build_core

    config = RelayConfig.from_env()
    # Lambda has a hard timeout (15 s in the template): fewer, shorter publish tries.
    if not (os.environ.get("PRESENCE_RELAY_PUBLISH_ATTEMPTS") or os.environ.get("PRESENCE_PUBLISH_ATTEMPTS")):
        config.publish_attempts = 3
    if not (os.environ.get("PRESENCE_RELAY_PUBLISH_TIMEOUT_S") or os.environ.get("PRESENCE_PUBLISH_TIMEOUT_S")):
        config.publish_timeout_s = 3.0
    return build_core(config)


def _get_loop() -> asyncio.AbstractEventLoop:
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    return _loop


def reset() -> None:
    """Forget the warm core and loop (tests; a changed environment)."""
    global _core, _loop
    core, loop = _core, _loop
    _core, _loop = None, None
    if loop is not None and not loop.is_closed():
        if core is not None:
            loop.run_until_complete(core.close())
        loop.close()


def request_from_event(event: dict[str, Any]) -> RelayRequest:
    """Translate an HTTP API / function URL (2.0) or REST (1.0) event. Raises ``ValueError``."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        raw = base64.b64decode(body)
    else:
        raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if event.get("version") == "2.0" or "rawPath" in event:
        http = (event.get("requestContext") or {}).get("http") or {}
        return RelayRequest(
            method=http.get("method", "GET"), path=event.get("rawPath") or "/",
            query=event.get("rawQueryString") or "", headers=headers, body=raw, source_ip=http.get("sourceIp"),
        )
    if "httpMethod" in event:
        params = event.get("multiValueQueryStringParameters") or {
            k: [v] for k, v in (event.get("queryStringParameters") or {}).items()
        }
        ctx = event.get("requestContext") or {}
        return RelayRequest(
            method=event["httpMethod"], path=event.get("path") or "/", query=urlencode(params, doseq=True),
            headers=headers, body=raw, source_ip=(ctx.get("identity") or {}).get("sourceIp"),
        )
    raise ValueError("not an API Gateway / function URL event")


def response_to_lambda(resp: RelayResponse) -> dict[str, Any]:
    return {
        "statusCode": resp.status,
        "headers": {"content-type": resp.content_type, **resp.headers},
        "body": resp.body_bytes().decode("utf-8"),
        "isBase64Encoded": False,
    }


def is_sweep_event(event: Any) -> bool:
    return isinstance(event, dict) and event.get("source") in SWEEP_SOURCES and "rawPath" not in event


SWEEP_RESERVE_S = 3.0  # of the invocation's time, kept for publishes already started


async def handle_event(core: RelayCore, event: dict[str, Any], remaining_s: float | None = None) -> dict[str, Any]:
    """Handle one Lambda event with ``core`` (async; the Lambda entry point wraps it).
    ``remaining_s``: the invocation's time left; a sweep starts no new work within
    ``SWEEP_RESERVE_S`` of it (the next scheduled run takes the rest)."""
    if is_sweep_event(event):
        budget = None if remaining_s is None else max(0.0, remaining_s - SWEEP_RESERVE_S)
        if budget is not None:
            budget = min(budget, core.limits.sweep_budget_s)
        result = await core.sweep(budget_s=budget)
        if result.deferred:
            log.warning("sweep ran out of time: %d silent agents left for the next run", len(result.deferred))
        return {"expired": result.expired, "republished": result.republished, "failed": result.failed,
                "deferred": result.deferred}
    try:
        request = request_from_event(event)
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        log.error("unrecognised event: %s", exc)
        return response_to_lambda(RelayResponse(400, {"error": {"code": "invalid_request", "message": str(exc)}}))
    return response_to_lambda(await core.handle(request))


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """AWS Lambda entry point."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO)
    core = _get_core()
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    remaining_s = remaining() / 1000.0 if callable(remaining) else None
    return _get_loop().run_until_complete(handle_event(core, event, remaining_s))


def _init_in_lambda() -> None:
    """Build the core and loop now when running in the Lambda runtime (init phase)."""
    if not os.environ.get("AWS_LAMBDA_RUNTIME_API"):
        return
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO)
    try:
        _get_core()
        _get_loop()
    except Exception:
        log.exception("relay init failed; every invocation will fail until the configuration is fixed")
        raise


_init_in_lambda()

__all__ = ["handler", "handle_event", "request_from_event", "reset"]
