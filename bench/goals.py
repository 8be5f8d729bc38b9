"""The goals of issue 20, in one place: the results table (bench/report.py), the goal flags of
``latest.json`` (bench/__main__.py ``analyse``) and ``python -m bench --compare`` judge by these.

Each ``*_met`` returns True / False, or None when a figure it needs is missing (a ``--only`` run,
a failed section): "not judged", never "missed".
"""

from __future__ import annotations

MODEL_P99_TO_BARE_MAX = 1.3  # event-to-model p99 <= 1.3x the bare loop's, and <= Amplify's, at every rate
PIXEL_RATE = 1000  # model->pixel p99 is judged at this rate
PIXEL_P99_MAX_MS = 17.0
STALL_MAX_MS = 50.0  # burst: no GUI stall longer than this
MEMORY_AGENTS = 10_000
MEMORY_TO_EMPTY_MAX = 2.0  # RSS at 10,000 agents <= 2x the empty window's
MEMORY_PER_AGENT_MAX_KB = 1.0  # ... and <= 1 KB per agent added over 0 agents
STARTUP_RATIO_MAX = 2.5  # launch with a remembered session <= 2.5x a bare window
IDLE_MAX_PERCENT = 0.3  # of one core; the same in the full run as alone
RECOVERY_MAX_S = 0.5  # roster reconciled after the server is back (median)

TEXT = {
    "model": f"p99 <= Amplify's and <= {MODEL_P99_TO_BARE_MAX}x the bare loop's, at every rate",
    "pixel": f"model->pixel p99 <= {PIXEL_P99_MAX_MS:.0f} ms at {PIXEL_RATE:,} ev/s",
    "burst": f"no GUI stall > {STALL_MAX_MS:.0f} ms",
    "memory": (f"at {MEMORY_AGENTS:,} agents <= {MEMORY_TO_EMPTY_MAX:.0f}x the empty window and "
               f"<= {MEMORY_PER_AGENT_MAX_KB:.0f} KB per agent added over 0 agents"),
    "memory_ratio": f"at {MEMORY_AGENTS:,} agents <= {MEMORY_TO_EMPTY_MAX:.0f}x the empty window",
    "memory_per_agent": f"<= {MEMORY_PER_AGENT_MAX_KB:.0f} KB per agent (added over 0 agents)",
    "startup": f"<= {STARTUP_RATIO_MAX}x a bare window (remembered session)",
    "idle": f"app <= {IDLE_MAX_PERCENT} % of a core, the same in the full run as alone",
    "recovery": f"roster reconciled <= {RECOVERY_MAX_S} s after the server is back (median)",
}


def _have(*values) -> bool:
    return all(v is not None for v in values)


def model_met(app_p99: float | None, bare_p99: float | None, amplify_p99: float | None) -> bool | None:
    if not _have(app_p99, bare_p99, amplify_p99):
        return None
    return app_p99 <= amplify_p99 and app_p99 <= MODEL_P99_TO_BARE_MAX * bare_p99


def pixel_met(rate: int, model_to_pixel_p99_ms: float | None) -> bool | None:
    if rate != PIXEL_RATE or model_to_pixel_p99_ms is None:
        return None
    return model_to_pixel_p99_ms <= PIXEL_P99_MAX_MS


def burst_met(longest_stall_ms: float | None, roster_correct_s: float | None) -> bool | None:
    """No stall over the limit (and the roster became correct: a run that never got there met nothing)."""
    if longest_stall_ms is None:
        return None
    return longest_stall_ms <= STALL_MAX_MS and roster_correct_s is not None


def memory_ratio(empty_mb: float | None, app_mb: float | None) -> float | None:
    return round(app_mb / empty_mb, 2) if _have(empty_mb, app_mb) and empty_mb else None


def memory_per_agent_kb(app0_mb: float | None, app_n_mb: float | None, n: int = MEMORY_AGENTS) -> float | None:
    """KB of RSS per agent, added over the app with 0 agents."""
    return round((app_n_mb - app0_mb) * 1024 / n, 3) if _have(app0_mb, app_n_mb) and n else None


def memory_ratio_met(ratio: float | None) -> bool | None:
    return None if ratio is None else ratio <= MEMORY_TO_EMPTY_MAX


def memory_per_agent_met(kb: float | None) -> bool | None:
    return None if kb is None else kb <= MEMORY_PER_AGENT_MAX_KB


def memory_met(empty_mb: float | None, app0_mb: float | None, app_n_mb: float | None) -> bool | None:
    ratio = memory_ratio_met(memory_ratio(empty_mb, app_n_mb))
    per_agent = memory_per_agent_met(memory_per_agent_kb(app0_mb, app_n_mb))
    if ratio is None or per_agent is None:
        return None
    return ratio and per_agent


def startup_met(ratio: float | None) -> bool | None:
    return None if ratio is None else ratio <= STARTUP_RATIO_MAX


def idle_met(app_percent: float | None) -> bool | None:
    return None if app_percent is None else app_percent <= IDLE_MAX_PERCENT


def recovery_met(median_s: float | None) -> bool | None:
    return None if median_s is None else median_s <= RECOVERY_MAX_S
