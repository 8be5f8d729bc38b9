"""The limit: a bare ``websockets`` loop that connects, subscribes to ``/agent-presence/*`` and
only parses frames (the frame JSON, then the event JSON string) and stamps each event.

On a lost connection it reconnects at once (every 50 ms until it works): the fastest possible
recovery, to stand beside the app's and Amplify's.

stdin commands (JSON lines): ``{"cmd": "dump"}`` -> one line {"receiver": "bare", "phases":
{phase: {"lat_us": [...], "first_us", "last_us", "count"}}, "reconnects": [...]}; ``quit``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import ssl

import websockets

from bench.common import API_KEY, NAMESPACE, compact, emit, load_ready, now_us, stdin_commands


class Phases:
    """Per-phase latencies (us) and first/last receive stamps, shared by the bench receivers."""

    def __init__(self) -> None:
        self.data: dict[str, dict] = {}

    last_phase: str | None = None

    def record(self, phase: str, sent_us: int, at_us: int) -> None:
        self.last_phase = phase
        ph = self.data.get(phase)
        if ph is None:
            ph = self.data[phase] = {"lat_us": [], "first_us": at_us, "last_us": at_us, "count": 0}
        ph["lat_us"].append(at_us - sent_us)
        ph["last_us"] = at_us
        ph["count"] += 1


async def run(ready: dict) -> None:
    ctx = ssl.create_default_context()
    ctx.load_verify_locations(cafile=ready["ca_file"])
    auth = {"host": ready["host"], "x-api-key": API_KEY}
    header = "header-" + base64.urlsafe_b64encode(compact(auth).encode()).decode().rstrip("=")
    phases = Phases()
    reconnects: list[dict] = []
    loop = asyncio.get_running_loop()
    quit_ = asyncio.Event()

    def on_command(cmd: dict) -> None:
        def handle() -> None:
            if cmd.get("cmd") == "probe":
                probing[0] = bool(cmd.get("on"))
                probe_on.set() if probing[0] else probe_on.clear()
            elif cmd.get("cmd") == "count":
                emit({"receiver": "bare", "count": {k: v["count"] for k, v in phases.data.items()}})
            elif cmd.get("cmd") == "dump":
                emit({"receiver": "bare", "phases": phases.data, "reconnects": reconnects, "stalls": stalls})
            elif cmd.get("cmd") == "quit":
                os._exit(0)
        loop.call_soon_threadsafe(handle)

    stdin_commands(on_command)
    stalls: dict[str, float] = {}
    probing = [False]
    probe_on = asyncio.Event()

    async def stall_probe() -> None:
        # The machine's own scheduling noise: the longest gap between 5 ms sleeps in this
        # process, per phase seen last (the limit beside the app's GUI stall).
        last = now_us()
        while True:
            if not probing[0]:
                await probe_on.wait()
                last = now_us()
                continue
            await asyncio.sleep(0.005)
            at = now_us()
            key = phases.last_phase or "start"
            stalls[key] = max(stalls.get(key, 0.0), round((at - last) / 1000.0, 2))
            last = at

    probe = asyncio.ensure_future(stall_probe())  # runs for the process's life
    first = True
    lost_at = None
    while not quit_.is_set():
        try:
            async with websockets.connect(ready["realtime"], subprotocols=["aws-appsync-event-ws", header], ssl=ctx,
                                          max_size=2**24, ping_interval=20) as ws:
                await ws.send('{"type":"connection_init"}')
                while json.loads(await ws.recv()).get("type") != "connection_ack":
                    pass
                await ws.send(compact({"type": "subscribe", "id": "bare-1", "channel": f"/{NAMESPACE}/*",
                                       "authorization": auth}))
                while json.loads(await ws.recv()).get("type") != "subscribe_success":
                    pass
                if first:
                    emit({"receiver": "bare", "ready": True})
                    first = False
                elif lost_at is not None:
                    reconnects.append({"lost_us": lost_at, "subscribed_us": now_us()})
                recv = ws.recv
                loads = json.loads
                while True:
                    frame = loads(await recv())
                    if frame.get("type") == "data":
                        at = now_us()
                        ev = loads(frame["event"])
                        phase = ev.get("bench_phase")
                        if phase is not None:
                            phases.record(phase, ev["bench_ts"], at)
        except (TimeoutError, OSError, websockets.ConnectionClosed, websockets.InvalidHandshake):
            if lost_at is None or (reconnects and reconnects[-1]["lost_us"] == lost_at):
                lost_at = now_us()
            await asyncio.sleep(0.05)
    probe.cancel()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ready-file", required=True)
    args = parser.parse_args()
    try:
        asyncio.run(run(load_ready(args.ready_file)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
