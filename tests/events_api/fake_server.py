"""A tiny in-test AppSync Events server: a test double that records what the client sends and
misbehaves on demand. The real local server (presence_desktop.devstack.events_server) is what the
integration tests use; this one exists for wire-level checks and faults that must be exact."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import uuid
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from presence_desktop.events_api.channels import ChannelError, parse_channel
from presence_desktop.events_api.protocol import decode_auth_subprotocol


class FakeEventsServer:
    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, api_keys=("da2-test",),
                 tokens: set[str] | None = None, connection_timeout_ms: int = 300_000,
                 ka_interval: float | None = None, deny_channels: set[str] | None = None,
                 ack: bool = True, answer_subscribe: bool = True):
        self.ssl_context = ssl_context
        self.api_keys = set(api_keys)
        self.tokens = tokens if tokens is not None else set()
        self.connection_timeout_ms = connection_timeout_ms
        self.ka_interval = ka_interval
        self.deny_channels = deny_channels or set()
        self.ack = ack
        self.answer_subscribe = answer_subscribe
        self.port = 0
        self.connect_headers: list[dict[str, str]] = []
        self.offered_subprotocols: list[list[str]] = []
        self.received: list[dict[str, Any]] = []
        self.connections: list[ServerConnection] = []
        self.subs: dict[ServerConnection, dict[str, str]] = {}
        self.paused = False
        self._server = None

    @property
    def realtime_url(self) -> str:
        return f"{'wss' if self.ssl_context else 'ws'}://127.0.0.1:{self.port}/event/realtime"

    @property
    def http_url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}/event"

    async def start(self) -> None:
        self._server = await serve(self._handler, "127.0.0.1", self.port, ssl=self.ssl_context,
                                   subprotocols=["aws-appsync-event-ws"], max_size=4 * 2**20)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 3)
            self._server = None
        self.connections.clear()
        self.subs.clear()

    def _authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("x-api-key") in self.api_keys or headers.get("Authorization") in self.tokens

    async def _send(self, ws: ServerConnection, obj: Any) -> None:
        if self.paused:
            return
        await ws.send(obj if isinstance(obj, str) else json.dumps(obj))

    async def _handler(self, ws: ServerConnection) -> None:
        offered = [v.strip() for h in ws.request.headers.get_all("Sec-WebSocket-Protocol") for v in h.split(",")]
        self.offered_subprotocols.append(offered)
        auth = next((v for v in offered if v.startswith("header-")), None)
        headers = decode_auth_subprotocol(auth) if auth else {}
        self.connect_headers.append(headers)
        if not self._authorized(headers):
            await ws.send(json.dumps({"type": "connection_error",
                                      "errors": [{"errorType": "UnauthorizedException", "message": "nope"}]}))
            await ws.close(4401, "unauthorized")
            return
        self.connections.append(ws)
        self.subs[ws] = {}
        ka_task = asyncio.create_task(self._ka(ws)) if self.ka_interval else None
        try:
            async for raw in ws:
                frame = json.loads(raw)
                self.received.append(frame)
                await self._on_frame(ws, frame)
        except Exception:  # noqa: BLE001 - the fake server outlives any one connection's failure
            pass
        finally:
            if ka_task:
                ka_task.cancel()
            self.subs.pop(ws, None)
            if ws in self.connections:
                self.connections.remove(ws)

    async def _ka(self, ws: ServerConnection) -> None:
        while True:
            await asyncio.sleep(self.ka_interval)
            await self._send(ws, {"type": "ka"})

    async def _on_frame(self, ws: ServerConnection, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "connection_init" and self.ack:
            await self._send(ws, {"type": "connection_ack", "connectionTimeoutMs": self.connection_timeout_ms})
        elif kind == "subscribe":
            if not self.answer_subscribe:
                return
            sid, channel = frame["id"], frame["channel"]
            if not self._authorized(frame.get("authorization") or {}):
                await self._send(ws, {"type": "subscribe_error", "id": sid,
                                      "errors": [{"errorType": "UnauthorizedException", "message": "token"}]})
            elif channel in self.deny_channels:
                await self._send(ws, {"type": "subscribe_error", "id": sid,
                                      "errors": [{"errorType": "Unauthorized", "message": "denied"}]})
            else:
                self.subs[ws][sid] = channel
                await self._send(ws, {"type": "subscribe_success", "id": sid})
        elif kind == "unsubscribe":
            self.subs[ws].pop(frame["id"], None)
            await self._send(ws, {"type": "unsubscribe_success", "id": frame["id"]})
        elif kind == "publish":
            try:
                target = parse_channel(frame["channel"], allow_wildcard=False)
            except ChannelError:
                await self._send(ws, {"type": "publish_error", "id": frame["id"], "errors": [
                    {"errorType": "BadRequestException", "message": "Invalid Channel Format"}]})
                return
            for event in frame["events"]:
                await self.fan_out(target.path, event)
            await self._send(ws, {"type": "publish_success", "id": frame["id"], "failed": [],
                                  "successful": [{"identifier": str(uuid.uuid4()), "index": i}
                                                 for i in range(len(frame["events"]))]})

    async def fan_out(self, channel: str, event_text: str) -> int:
        target = parse_channel(channel, allow_wildcard=False)
        sent = 0
        for ws, subs in list(self.subs.items()):
            for sid, sub_channel in list(subs.items()):
                if parse_channel(sub_channel, allow_wildcard=True).matches(target):
                    with contextlib.suppress(Exception):
                        await self._send(ws, {"type": "data", "id": sid, "event": event_text})
                        sent += 1
        return sent

    async def publish(self, channel: str, value: Any) -> int:
        return await self.fan_out(channel, json.dumps(value))

    async def inject_raw(self, text: str | bytes) -> None:
        for ws in list(self.connections):
            with contextlib.suppress(Exception):
                await ws.send(text)

    async def drop_all_connections(self) -> None:
        for ws in list(self.connections):
            ws.transport.abort()

    def subscription_count(self) -> int:
        return sum(len(s) for s in self.subs.values())
