"""The relay as an aiohttp service (``presence-relay``): a thin adapter over :class:`RelayCore`.

Binds 127.0.0.1 by default. Runs the expiry/outbox sweeper every ``sweep_interval_s`` seconds.
The request body is read with a hard limit (413 before the rest arrives), so an oversized body
never reaches memory.

Usage::

    presence-relay --cognito-issuer URL --cognito-client-id ID --events-http-url https://H/event \
        [--host 127.0.0.1] [--port 8443] [--tls-cert chain.pem --tls-key key.pem] \
        [--store sqlite:/path/relay.sqlite3 | dynamodb:TABLE] [--events-ca-file ca.pem]

Every option also reads ``PRESENCE_RELAY_*`` (see :mod:`presence_desktop.relay.config`).
AWS credentials come from botocore's default chain (environment, profile, role).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys
from typing import Any

from aiohttp import web

from presence_desktop.relay.core import RelayCore, RelayRequest, RelayResponse, body_too_large

log = logging.getLogger(__name__)


def _json_response(resp: RelayResponse) -> web.Response:
    content_type, _, charset = resp.content_type.partition("; charset=")
    return web.Response(status=resp.status, body=resp.body_bytes(), headers=resp.headers, content_type=content_type,
                        charset=charset or None)


def make_app(core: RelayCore) -> web.Application:
    """An aiohttp application routing every path to ``core.handle``."""
    limit = core.limits.max_body_bytes

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > limit:
            return _json_response(RelayResponse(413, body_too_large(limit).body()))
        body = bytearray()
        async for chunk in request.content.iter_chunked(16384):
            body += chunk
            if len(body) > limit:
                return _json_response(RelayResponse(413, body_too_large(limit).body()))
        rr = RelayRequest(
            method=request.method, path=request.path, query=request.query_string,
            headers=request.headers, body=bytes(body), source_ip=request.remote,
        )
        return _json_response(await core.handle(rr))

    # client_max_size is a second fence for any handler that would call request.read().
    app = web.Application(client_max_size=limit + 1)
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


class RelayService:
    """The relay HTTP server plus its sweeper. ``await start()``, ``.url``, ``await stop()``.

    ``port`` 0 picks a free port. ``ssl_context`` None serves plain HTTP (only sensible on
    127.0.0.1). ``ca_file`` is the CA clients should trust, reported by :meth:`ready_info`.
    """

    def __init__(
        self,
        core: RelayCore,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        sweep_interval_s: float = 10.0,
        ca_file: str | None = None,
    ) -> None:
        self.core = core
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.sweep_interval_s = sweep_interval_s
        self.ca_file = ca_file
        self._runner: web.AppRunner | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(make_app(self.core), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl_context)
        await site.start()
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        self.start_sweeper()
        log.info("relay listening on %s", self.url)

    def start_sweeper(self) -> None:
        """Start the periodic expiry/outbox sweep (idempotent)."""
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="relay-sweeper")

    async def stop_sweeper(self) -> None:
        task, self._sweeper = self._sweeper, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - it is going away
                pass

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval_s)
            try:
                result = await self.core.sweep()
                if result.expired or result.republished or result.failed:
                    log.info("sweep: expired=%s republished=%s failed=%s", result.expired, result.republished, result.failed)
            except asyncio.CancelledError:
                raise
            except Exception:  # the sweeper must survive a bad round
                log.exception("relay sweep failed")

    async def stop(self) -> None:
        await self.stop_sweeper()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.core.close()

    def ready_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"url": self.url}
        if self.ca_file:
            info["ca_file"] = self.ca_file
        return {"relay": info}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="presence-relay", description="The presence status relay (HTTP API -> AppSync Events).")
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8443; 0 = any free port)")
    p.add_argument("--tls-cert", help="PEM certificate chain (with --tls-key)")
    p.add_argument("--tls-key", help="PEM private key")
    p.add_argument("--cognito-issuer", help="user pool issuer URL")
    p.add_argument("--cognito-client-id", action="append", dest="cognito_client_ids", help="app client id (repeatable)")
    p.add_argument("--cognito-jwks-url", help="default <issuer>/.well-known/jwks.json")
    p.add_argument("--events-http-url", help="https://<host>/event")
    p.add_argument("--events-region", help="signing region")
    p.add_argument("--events-ca-file", help="extra CA to trust for the events endpoint")
    p.add_argument("--store", help="sqlite:<path> or dynamodb:<table>")
    p.add_argument("--dynamodb-endpoint", help="DynamoDB endpoint URL")
    p.add_argument("--heartbeat-ttl-s", type=float)
    p.add_argument("--sweep-interval-s", type=float)
    p.add_argument("--log-level", default="INFO")
    return p


def main(argv: list[str] | None = None) -> int:
    from presence_desktop.relay.config import ConfigError, RelayConfig, build_core

    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = {k: v for k, v in vars(args).items() if k != "log_level" and v is not None}
    try:
        config = RelayConfig.from_env(**overrides)
    except ConfigError as exc:
        print(f"presence-relay: {exc}", file=sys.stderr)
        return 2

    async def run() -> None:
        core = build_core(config)
        service = RelayService(core, config.host, config.port, config.server_ssl_context(), config.sweep_interval_s)
        await service.start()
        print(f"presence-relay: serving on {service.url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # Windows
                pass
        try:
            await stop.wait()
        finally:
            await service.stop()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
