"""``python -m bench.relay_history``: what recording history costs a status change.

The relay core (no HTTP) with the SQLite presence store and a publisher that answers at once, so
the figure is the store work: N sequential ``POST /v1/status`` handled with history off, then on
(SQLite history in the same file, as the local relay runs). Prints p50/p99 in ms as JSON.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from presence_desktop.domain.identity import Identity
from presence_desktop.relay.core import RelayCore
from presence_desktop.relay.floors import SqliteFloors
from presence_desktop.relay.history import SqliteHistory
from presence_desktop.relay.store import SqliteStore


class InstantPublisher:
    async def publish(self, channel: str, events: list[str]) -> None:
        return None

    async def close(self) -> None:
        return None


async def run(n: int, with_history: bool, folder: Path) -> list[float]:
    path = folder / f"relay-{with_history}.sqlite3"
    core = RelayCore(verifier=None, store=SqliteStore(path), publisher=InstantPublisher(),  # type: ignore[arg-type]
                     history=SqliteHistory(path) if with_history else None,
                     floors=SqliteFloors(path) if with_history else None)
    who = Identity("agent-1", "sub-1", ("support_agents",), "team-1", "Agent One")
    statuses = ["available", "on_call", "after_call_work", "break"]
    times = []
    for i in range(n + 20):
        t0 = time.perf_counter()
        await core.set_status(who, {"status": statuses[i % 4]})
        if i >= 20:  # warm-up: threads, connections, page cache
            times.append((time.perf_counter() - t0) * 1000)
    await core.close()
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def main(n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = {}
        for label, on in (("history_off", False), ("history_on", True), ("history_off_again", False)):
            t = await run(n, on, Path(tmp))
            out[label] = {"n": n, "p50_ms": round(statistics.median(t), 3), "p99_ms": pct(t, 0.99)}
        return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)), indent=2))
