"""Shared helpers of the benchmark harness: clocks, payloads, statistics, /proc readings, IPC.

Clock: every process stamps with CLOCK_MONOTONIC (Python ``time.monotonic_ns()``, node
``process.hrtime.bigint()``; both read ``clock_gettime(CLOCK_MONOTONIC)`` on Linux), so a send
stamp made in the publisher process can be subtracted from a receive stamp made in any other
process on the same machine. Stamps travel as integer microseconds (``bench_ts``).
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "bench"
JS_DIR = ROOT / "tests" / "js"
API_KEY = "da2-benchkey000000000000000000"
NAMESPACE = "agent-presence"
STATUSES = ("available", "on_call", "after_call_work", "break", "lunch", "training", "away", "offline")
TEAMS = 20


def now_us() -> int:
    """CLOCK_MONOTONIC in integer microseconds (the harness's one clock)."""
    return time.monotonic_ns() // 1000


def agent_id(i: int) -> str:
    return f"a-{i:05d}"


def team_of(i: int) -> str:
    return f"team-{i % TEAMS}"


def iso_now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def presence_payload(i: int, version: int, status: str, ts_us: int, phase: str, changed_at: str) -> dict[str, Any]:
    """A valid presence event (docs/relay-api.md shape) plus two bench fields the app ignores
    (``PresenceEvent.from_dict`` drops unknown fields): ``bench_ts`` (send stamp, monotonic us)
    and ``bench_phase``."""
    return {
        "kind": "presence", "schema": 1, "agent_id": agent_id(i), "team_id": team_of(i),
        "display_name": f"Agent {i:05d}", "status": status, "message": None, "source": "manual",
        "changed_by": "bench", "version": version, "changed_at": changed_at,
        "bench_ts": ts_us, "bench_phase": phase,
    }


def compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of an ascending list; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize_us(values_us: list[int] | list[float]) -> dict[str, Any]:
    """Latencies in us -> {n, p50_ms, p99_ms, max_ms, mean_ms}."""
    vals = sorted(values_us)
    if not vals:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None, "mean_ms": None}
    r = lambda v: None if v is None else round(v / 1000.0, 3)  # noqa: E731
    return {"n": len(vals), "p50_ms": r(percentile(vals, 50)), "p99_ms": r(percentile(vals, 99)),
            "max_ms": r(vals[-1]), "mean_ms": r(sum(vals) / len(vals))}


# --- /proc ------------------------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (s), children excluded. Raises OSError if it is gone."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise OSError("no VmRSS")


def machine_info() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    load = os.getloadavg()
    return {"cpu": model, "cores": os.cpu_count(), "memory_gb": mem_gb,
            "loadavg_at_start": [round(x, 2) for x in load], "kernel": os.uname().release}


# --- IPC: JSON lines over stdin/stdout --------------------------------------------------------------

def emit(obj: dict[str, Any]) -> None:
    """One JSON line on stdout (the orchestrator reads these)."""
    sys.stdout.write(compact(obj) + "\n")
    sys.stdout.flush()


def stdin_commands(on_command: Callable[[dict[str, Any]], None]) -> threading.Thread:
    """Read JSON lines from stdin on a daemon thread; ``on_command`` is called on that thread
    (hand it to the loop with ``call_soon_threadsafe``). EOF sends ``{"cmd": "quit"}``."""

    def reader() -> None:
        for line in sys.stdin:
            line = line.strip()
            if line:
                try:
                    on_command(json.loads(line))
                except ValueError:
                    pass
        on_command({"cmd": "quit"})

    thread = threading.Thread(target=reader, name="bench-stdin", daemon=True)
    thread.start()
    return thread


def load_ready(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))
