"""Publishes presence events over HTTP (``POST /event``, API key) at a target rate.

Each request carries 5 successive versions of one agent (AppSync Events allows 5 events per
publish, and the agent-presence channel is per agent), all stamped with the send time
(``bench_ts``, monotonic us, taken just before the request is written). Requests are paced on a
fixed schedule and sent over ``--sessions`` keep-alive TLS connections; when every connection is
busy the schedule slips, and the achieved rate is reported, never assumed.

Prints one JSON line: {"target_eps", "achieved_eps", "requests", "events", "errors", "seconds",
"late_ms_p99"}.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

import aiohttp

from bench.common import STATUSES, agent_id, emit, iso_now, now_us, presence_payload, team_of
from presence_desktop.domain.compact_json import compact_json
from presence_desktop.domain.presence import NAMESPACE
from presence_desktop.events_api import protocol as wire
from presence_desktop.net.tls import client_ssl_context

PER_REQUEST = 5


async def run(args: argparse.Namespace) -> dict:
    ctx = client_ssl_context(args.ca_file)
    rnd = random.Random(args.seed)
    interval = PER_REQUEST / args.rate
    total = max(1, int(args.duration / interval))
    headers = {"content-type": "application/json", "x-api-key": args.api_key}
    sem = asyncio.Semaphore(args.sessions)
    errors = 0
    done = 0
    lateness: list[float] = []
    connector = aiohttp.TCPConnector(ssl=ctx, limit=args.sessions, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> None:
            nonlocal errors, done
            try:
                ts = now_us()
                base = ts * 8
                at = iso_now()
                events = [compact_json(presence_payload(i, base + k, STATUSES[(base + k) % 7], ts, args.phase, at))
                          for k in range(PER_REQUEST)]
                body = wire.publish_body(f"/{NAMESPACE}/{team_of(i)}/{agent_id(i)}", events)
                async with session.post(args.url, data=body, headers=headers) as resp:
                    data = await resp.json(content_type=None)
                    if resp.status != 200 or data.get("failed"):
                        errors += 1
                    else:
                        done += 1
            except Exception:  # noqa: BLE001 - counted
                errors += 1
            finally:
                sem.release()

        # warm the connections (TLS handshakes) before the clock starts
        await asyncio.gather(*(session.get(args.url.rsplit("/", 1)[0] + "/") for _ in range(1)), return_exceptions=True)
        tasks = []
        start = time.monotonic()
        for n in range(total):
            due = start + n * interval
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await sem.acquire()
            lateness.append(max(0.0, time.monotonic() - due))
            tasks.append(asyncio.ensure_future(one(rnd.randrange(args.agents))))
        await asyncio.gather(*tasks)
        seconds = time.monotonic() - start
    lateness.sort()
    return {
        "phase": args.phase, "target_eps": args.rate, "achieved_eps": round(done * PER_REQUEST / seconds, 1),
        "requests": done, "events": done * PER_REQUEST, "errors": errors, "seconds": round(seconds, 2),
        "late_ms_p99": round(lateness[int(0.99 * (len(lateness) - 1))] * 1000, 1) if lateness else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--rate", type=float, required=True, help="events per second")
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--phase", required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    emit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
