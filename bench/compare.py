"""``python -m bench --compare A.json B.json``: every headline figure of two results files
(bench/results/*.json, as ``python -m bench`` writes them) before (A) and after (B) a change, as a
Markdown table: the two values, the absolute and relative change, and each figure's goal (issue
20, bench/goals.py) met or missed in A and in B, judged by today's goals for both files.

A figure missing from one file (an ``--only`` run, a failed section) shows as "—".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import goals


class CompareError(Exception):
    """A results file that cannot be read (missing, not JSON, not a results file)."""


@dataclass(frozen=True)
class Figure:
    key: str  # stable identity across files (the row is matched on it)
    label: str
    unit: str
    value: float | None
    met: bool | None = None  # None: this figure has no goal of its own, or not judged
    goal: str = ""


def load(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CompareError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CompareError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("figures"), dict):
        raise CompareError(f"{path}: not a bench results file (no \"figures\"; expected what `python -m bench` writes)")
    return data


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _num(v: Any) -> float | None:
    return v if isinstance(v, int | float) and not isinstance(v, bool) else None


def headline(results: dict[str, Any]) -> list[Figure]:
    """The headline figures of one results file, in table order."""
    fig = results.get("figures") or {}
    out: list[Figure] = []
    lat = fig.get("latency") or {}
    for phase, row in lat.items():
        try:
            rate = int(phase.lstrip("r"))
        except ValueError:
            continue
        at = f"{rate:,} ev/s"
        app50, app99 = _num(_get(row, "app", "p50_ms")), _num(_get(row, "app", "p99_ms"))
        bare99, amp99 = _num(_get(row, "bare", "p99_ms")), _num(_get(row, "amplify", "p99_ms"))
        out += [
            Figure(f"model_p50_{rate}", f"event-to-model p50, app, {at}", "ms", app50),
            Figure(f"model_p99_{rate}", f"event-to-model p99, app, {at}", "ms", app99,
                   goals.model_met(app99, bare99, amp99), goals.TEXT["model"]),
            Figure(f"model_p99_bare_{rate}", f"event-to-model p99, bare loop (limit), {at}", "ms", bare99),
            Figure(f"model_p99_amplify_{rate}", f"event-to-model p99, Amplify JS (peer), {at}", "ms", amp99),
        ]
        m2p = _num(_get(row, "app_model_to_pixel", "p99_ms"))
        out.append(Figure(f"pixel_p99_{rate}", f"model->pixel p99, {at}", "ms", m2p, goals.pixel_met(rate, m2p),
                          goals.TEXT["pixel"] if rate == goals.PIXEL_RATE else ""))
    b = fig.get("burst")
    if isinstance(b, dict):
        stall, correct = _num(b.get("app_longest_stall_ms")), _num(b.get("app_correct_s"))
        met = goals.burst_met(stall, correct)
        out += [
            Figure("burst_stall", "burst: longest GUI stall", "ms", stall, met, goals.TEXT["burst"]),
            Figure("burst_stalls_over_50", "burst: GUI stalls > 50 ms", "", _num(b.get("app_stalls_over_50ms")),
                   None if b.get("app_stalls_over_50ms") is None else b["app_stalls_over_50ms"] == 0,
                   goals.TEXT["burst"]),
            Figure("burst_correct", "burst: app roster correct", "s", correct),
            Figure("burst_bare", "burst: bare loop received all", "s", _num(b.get("bare_all_received_s"))),
            Figure("burst_amplify", "burst: Amplify JS received all", "s", _num(b.get("amplify_all_received_s"))),
        ]
    mem = fig.get("memory")
    if isinstance(mem, dict):
        empty = _num(mem.get("empty_window_mb"))
        out.append(Figure("memory_empty", "memory: empty PySide6 window", "MB", empty))
        sizes = sorted(int(k[4:-3]) for k in mem
                       if k.startswith("app_") and k.endswith("_mb") and k[4:-3].isdigit())
        for n in sizes:
            out.append(Figure(f"memory_{n}", f"memory: app, {n:,} agents", "MB", _num(mem.get(f"app_{n}_mb"))))
        app0, app_n = _num(mem.get("app_0_mb")), _num(mem.get(f"app_{goals.MEMORY_AGENTS}_mb"))
        ratio, per_agent = goals.memory_ratio(empty, app_n), goals.memory_per_agent_kb(app0, app_n)
        out += [
            Figure("memory_ratio", f"memory: app at {goals.MEMORY_AGENTS:,} agents / empty window", "x",
                   ratio, goals.memory_ratio_met(ratio), goals.TEXT["memory_ratio"]),
            Figure("memory_per_agent", f"memory: KB per agent ({goals.MEMORY_AGENTS:,} over 0)", "KB",
                   per_agent, goals.memory_per_agent_met(per_agent), goals.TEXT["memory_per_agent"]),
        ]
        for who in ("bare", "amplify"):
            v = _num(mem.get(f"{who}_live_mb"))
            if v is not None:
                name = "bare loop (limit)" if who == "bare" else "Amplify JS (peer)"
                out.append(Figure(f"memory_{who}_live", f"memory: {name}, live run", "MB", v))
    st = fig.get("startup")
    if isinstance(st, dict):
        ratio = _num(st.get("ratio"))
        out += [
            Figure("startup_app", "start-up: app, launch to roster painted", "s", _num(st.get("app_s"))),
            Figure("startup_bare", "start-up: bare window (limit)", "s", _num(st.get("bare_window_s"))),
            Figure("startup_ratio", "start-up: app / bare window", "x", ratio, goals.startup_met(ratio),
                   goals.TEXT["startup"]),
        ]
    idle = fig.get("idle")
    if isinstance(idle, dict):
        cpu = idle.get("cpu_percent_of_one_core") or {}
        app = _num(cpu.get("app"))
        out += [
            Figure("idle_app", "idle: app", "% core", app, goals.idle_met(app), goals.TEXT["idle"]),
            Figure("idle_bare", "idle: bare loop (limit)", "% core", _num(cpu.get("bare"))),
            Figure("idle_amplify", "idle: Amplify JS (peer)", "% core", _num(cpu.get("amplify"))),
        ]
    rec = fig.get("recovery")
    if isinstance(rec, dict):
        med = _num(rec.get("app_reconciled_after_back_s"))
        out += [
            Figure("recovery_app", "recovery: app roster reconciled (median)", "s", med, goals.recovery_met(med),
                   goals.TEXT["recovery"]),
            Figure("recovery_bare", "recovery: bare loop first event (limit)", "s",
                   _num(rec.get("bare_first_event_after_back_s"))),
            Figure("recovery_amplify", "recovery: Amplify JS first event (peer)", "s",
                   _num(rec.get("amplify_first_event_after_back_s"))),
        ]
    return out


def _fmt(v: float | None) -> str:
    if v is None:
        return "—"
    if isinstance(v, int) or float(v).is_integer() and abs(v) >= 10:
        return f"{v:,.0f}"
    return f"{v:.3g}" if abs(v) < 10 else f"{v:,.1f}"


def _ok(flag: bool | None) -> str:
    return "—" if flag is None else ("met" if flag else "**missed**")


def _describe(path: Path, results: dict[str, Any]) -> str:
    cfg = results.get("config") or {}
    shape = "quick" if cfg.get("quick") else "full"
    only = cfg.get("only")
    if only and set(only) != {"latency", "idle", "burst", "recovery", "memory", "startup"}:
        shape += f", --only {','.join(only)}"
    load = _get(results, "machine", "loadavg_at_start")
    extra = f", load {load[0]}" if isinstance(load, list) and load else ""
    failed = f", **failed: {results['error']}**" if results.get("error") else ""
    return f"`{path}`: run {results.get('started', '?')} ({shape}, {results.get('seconds', '?')} s{extra}){failed}"


def compare(a: dict[str, Any], b: dict[str, Any], a_name: Path | str = "A", b_name: Path | str = "B") -> str:
    """The before/after Markdown table of ``a`` and ``b`` (results dicts)."""
    fa, fb = headline(a), headline(b)
    by_a, by_b = {f.key: f for f in fa}, {f.key: f for f in fb}
    keys = [f.key for f in fa] + [f.key for f in fb if f.key not in by_a]
    lines = [f"Before (A): {_describe(Path(a_name), a)}", "", f"After (B): {_describe(Path(b_name), b)}", "",
             "Goals: issue 20's, as bench/goals.py states them, applied to both files.", "",
             "| figure | unit | A | B | B - A | change | goal | A | B |", "|---|---|---|---|---|---|---|---|---|"]
    for key in keys:
        x, y = by_a.get(key), by_b.get(key)
        f = y or x
        va, vb = (x.value if x else None), (y.value if y else None)
        diff = rel = "—"
        if va is not None and vb is not None:
            d = vb - va
            diff = ("+" if d > 0 else "") + _fmt(round(d, 6))
            rel = f"{100 * d / va:+.1f} %" if va else "—"
        goal = (x.goal if x and x.goal else "") or (y.goal if y else "")
        has_goal = bool(goal)
        lines.append(f"| {f.label} | {f.unit} | {_fmt(va)} | {_fmt(vb)} | {diff} | {rel} | {goal or ''} "
                     f"| {_ok(x.met) if x and has_goal else '—'} | {_ok(y.met) if y and has_goal else '—'} |")
    return "\n".join(lines) + "\n"


def main(a_path: Path, b_path: Path) -> str:
    """Read both files and return the table; :class:`CompareError` names the bad file."""
    return compare(load(a_path), load(b_path), a_path, b_path)
