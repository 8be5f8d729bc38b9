"""The bench's events server process: the devstack's :class:`EventsServer` (TLS, the real
``agent-presence`` onPublish handler) plus a small plain-HTTP control API on 127.0.0.1.

Differences from the devstack, on purpose: ``agent-presence`` takes API_KEY for publish and
subscribe (no SigV4 per request, no Cognito) so the publisher measures the server and the
subscribers, not botocore; the onPublish handler (payload validation) is the devstack's.

A "relay store" (latest payload per agent, by version) records everything onPublish lets
through; ``GET /roster`` serves it as the relay's ``GET /v1/roster`` would.

Control API (JSON): ``GET /roster``, ``GET /stats``, ``POST /seed {n}``,
``POST /burst {agents, per_agent}``, ``POST /restart {down_s, changes, trickle_s}``,
``POST /trickle {seconds, interval_s}``, ``POST /quit``.

Run: ``python -m bench.server_proc --state-dir D --ready-file F`` (writes F when serving).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.common import API_KEY, NAMESPACE, STATUSES, agent_id, compact, iso_now, now_us, presence_payload, team_of
from presence_desktop.devstack.events_server import EventsServer, EventsServerConfig, Limits, NamespaceConfig
from presence_desktop.devstack.namespace_handlers import on_publish_agent_presence
from presence_desktop.devstack.tls import LocalCA

log = logging.getLogger("bench.server")
AUTH = {"x-api-key": API_KEY}


class BenchServer:
    def __init__(self, state_dir: Path, send_queue_mb: int) -> None:
        self.ca = LocalCA.load_or_create(state_dir)
        self.store: dict[str, dict[str, Any]] = {}

        def on_publish(ctx: dict[str, Any]) -> list[dict[str, Any]]:
            out = on_publish_agent_presence(ctx)
            for item in out:
                payload = item.get("payload")
                if payload is not None:
                    held = self.store.get(payload["agent_id"])
                    if held is None or payload["version"] > held["version"]:
                        self.store[payload["agent_id"]] = payload
            return out

        ns = NamespaceConfig(publish_auth_modes=("API_KEY",), subscribe_auth_modes=("API_KEY",), on_publish=on_publish)
        self.events = EventsServer(EventsServerConfig(
            tls=self.ca.server_context(), ca_file=str(self.ca.ca_file), api_keys=(API_KEY,),
            connection_auth_modes=("API_KEY",), namespaces={NAMESPACE: ns},
            limits=Limits(send_queue_max_bytes=send_queue_mb * 1024 * 1024),
        ))
        self.control_runner: web.AppRunner | None = None
        self.control_port = 0
        self.quit = asyncio.Event()
        self._trickle: asyncio.Task | None = None

    # --- publishing in-process (same validation, handler and fan-out as POST /event) ----------
    async def publish_agent(self, i: int, versions: list[int], status_of, phase: str) -> None:
        ts, at = now_us(), iso_now()
        events = [compact(presence_payload(i, v, status_of(v), ts, phase, at)) for v in versions]
        channel = f"/{NAMESPACE}/{team_of(i)}/{agent_id(i)}"
        await self.events.publish(channel, events, AUTH, "", "127.0.0.1")

    async def seed(self, n: int) -> None:
        base = now_us() * 8
        for i in range(n):
            await self.publish_agent(i, [base], lambda v: "offline", "seed")

    async def burst(self, agents: int, per_agent: int) -> dict[str, Any]:
        """``agents`` publishes of ``per_agent`` successive versions each, back to back, yielding
        to the loop every 20 publishes so the per-connection writers drain as they can."""
        t0 = now_us()
        base = t0 * 8
        for i in range(agents):
            vs = [base + k for k in range(per_agent)]
            await self.publish_agent(i, vs, lambda v: STATUSES[v % 7], "burst")
            if i % 20 == 19:
                await asyncio.sleep(0)
        return {"t0_us": t0, "t1_us": now_us(), "events": agents * per_agent}

    async def trickle(self, seconds: float, interval_s: float, phase: str) -> None:
        """One event every ``interval_s`` on agent 0 (probe for 'first event after restart')."""
        end = now_us() + int(seconds * 1e6)
        while now_us() < end:
            if self.events.running:
                try:
                    await self.publish_agent(0, [now_us() * 8], lambda v: STATUSES[v % 7], phase)
                except Exception:  # keep probing
                    log.exception("trickle publish failed")
            await asyncio.sleep(interval_s)

    async def restart(self, down_s: float, changes: int, trickle_s: float, phase: str = "recovery") -> dict[str, Any]:
        """Stop the events server; while it is down the store changes ``changes`` agents (as the
        relay would store status changes it cannot publish); start it again on the same port."""
        t_stop = now_us()
        await self.events.stop()
        t_down = now_us()
        base = now_us() * 8
        targets = {}
        at = iso_now()
        for i in range(1, changes + 1):  # agent 0 is the trickle probe
            v = base + i
            self.store[agent_id(i)] = presence_payload(i, v, "training", now_us(), "outage", at)
            targets[agent_id(i)] = v
        await asyncio.sleep(down_s)
        await self.events.start()
        t_back = now_us()
        if trickle_s > 0:
            self._trickle = asyncio.ensure_future(self.trickle(trickle_s, 0.02, phase))
        return {"t_stop_us": t_stop, "t_down_us": t_down, "t_back_us": t_back, "targets": targets}

    # --- control API ----------------------------------------------------------------------------
    async def start(self) -> None:
        await self.events.start()
        app = web.Application()
        app.router.add_get("/roster", self._roster)
        app.router.add_get("/stats", self._stats)
        app.router.add_post("/seed", self._seed)
        app.router.add_post("/burst", self._burst)
        app.router.add_post("/restart", self._restart)
        app.router.add_post("/trickle", self._trickle_h)
        app.router.add_post("/quit", self._quit)
        self.control_runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.control_runner.setup()
        site = web.TCPSite(self.control_runner, "127.0.0.1", 0)
        await site.start()
        self.control_port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self.events.stop()
        if self.control_runner is not None:
            await self.control_runner.cleanup()

    async def _roster(self, request: web.Request) -> web.Response:
        return web.json_response({"agents": list(self.store.values()), "as_of": iso_now()}, dumps=compact)

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"stats": dict(self.events.stats), "connections": self.events.connection_count,
                                  "subscriptions": self.events.subscription_count, "agents": len(self.store)})

    async def _seed(self, request: web.Request) -> web.Response:
        body = await request.json()
        await self.seed(int(body["n"]))
        return web.json_response({"agents": len(self.store)})

    async def _burst(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(await self.burst(int(body["agents"]), int(body.get("per_agent", 5))))

    async def _restart(self, request: web.Request) -> web.Response:
        body = await request.json()
        result = await self.restart(float(body.get("down_s", 2.0)), int(body.get("changes", 100)),
                                    float(body.get("trickle_s", 10.0)), str(body.get("phase", "recovery")))
        return web.json_response(result)

    async def _trickle_h(self, request: web.Request) -> web.Response:
        body = await request.json()
        await self.trickle(float(body["seconds"]), float(body.get("interval_s", 0.02)), body.get("phase", "trickle"))
        return web.json_response({"ok": True})

    async def _quit(self, request: web.Request) -> web.Response:
        self.quit.set()
        return web.json_response({"ok": True})


async def amain(args: argparse.Namespace) -> None:
    server = BenchServer(Path(args.state_dir), args.send_queue_mb)
    await server.start()
    if args.seed:
        await server.seed(args.seed)
    ready = {
        "http": server.events.http_url, "realtime": server.events.realtime_url, "host": server.events.http_host,
        "ca_file": str(server.ca.ca_file), "api_key": API_KEY, "control": f"http://127.0.0.1:{server.control_port}",
        "pid": os.getpid(),
    }
    tmp = Path(args.ready_file + ".tmp")
    tmp.write_text(json.dumps(ready))
    os.replace(tmp, args.ready_file)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.quit.set)
    await server.quit.wait()
    await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--seed", type=int, default=0, help="agents in the store at start (version 1, offline)")
    parser.add_argument("--send-queue-mb", type=int, default=8, help="per-connection send queue bound (server default 8)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(amain(args))


if __name__ == "__main__":
    main()
