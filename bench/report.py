"""Writes the results section of bench/README.md from a results dict (bench/results/latest.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

BEGIN = "<!-- bench:results:begin -->"
END = "<!-- bench:results:end -->"


def _ms(v: Any) -> str:
    return "—" if v is None else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def _ok(flag: Any) -> str:
    return "—" if flag is None else ("met" if flag else "**missed**")


def render(results: dict) -> str:
    m, v, fig = results["machine"], results["versions"], results.get("figures", {})
    cfg = results.get("config", {})
    out = [
        f"Run {results['started']} ({'quick' if cfg.get('quick') else 'full'}, {results.get('seconds')} s)"
        + (f", **failed: {results['error']}**" if results.get("error") else "") + ".",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; load average {m['loadavg_at_start'][0]} at start, "
        f"{m.get('loadavg_at_end', ['?'])[0]} at end (shared with other work: read ratios, not absolutes).",
        "",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
    ]
    lat = fig.get("latency")
    if lat:
        out += [
            "### 1-2. Event-to-model and event-to-pixel latency (ms, HTTP publish -> receiver)",
            "",
            "| rate (target / achieved ev/s) | bare loop p50 / p99 | **app model** p50 / p99 | Amplify JS p50 / p99 "
            "| app p99 / bare p99 | app pixel p50 / p99 (n) | longest GUI stall (bare loop's) | goals |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in lat.values():
            pub = row["published"]
            b, a, p, px = row["bare"], row["app"], row["amplify"], row["app_pixel"]
            stall = (row.get("app_stall") or {}).get("max_gap_ms")
            goals = f"model {_ok(row['goal_model']['met'])}"
            if "goal_pixel" in row:
                goals += (f"; pixel: model->pixel p99 {_ms(row['goal_pixel'].get('per_event_p99_ms'))} ms "
                          f"{_ok(row['goal_pixel']['met'])}")
            out.append(
                f"| {pub['target_eps']:.0f} / {pub['achieved_eps']:.0f} | {_ms(b['p50_ms'])} / {_ms(b['p99_ms'])} "
                f"| **{_ms(a['p50_ms'])} / {_ms(a['p99_ms'])}** | {_ms(p['p50_ms'])} / {_ms(p['p99_ms'])} "
                f"| {row['goal_model']['ratio_to_bare']} | {_ms(px['p50_ms'])} / {_ms(px['p99_ms'])} ({px['n']}) "
                f"| {_ms(stall)} ({_ms(row.get('bare_stall_ms'))}) | {goals} |")
        out.append("")
    b = fig.get("burst")
    if b:
        out += [
            f"### 3. Burst: {b['updates']:,} updates over {b['agents']:,} agents",
            "",
            "| server sent all | bare loop received all | Amplify received all | **app roster correct** "
            "| app longest GUI stall | stalls > 50 ms | snapshot fetches / lost events | goal (stall <= 50 ms) |",
            "|---|---|---|---|---|---|---|---|",
            f"| {b['server_publish_s']} s | {b['bare_all_received_s']} s ({b['bare_received']:,}) "
            f"| {b['amplify_all_received_s']} s ({b['amplify_received']:,}) | **{b['app_correct_s']} s** "
            f"| {_ms(b['app_longest_stall_ms'])} ms | {b['app_stalls_over_50ms']} | {b['app_snapshots']} / {b['app_lost_events']} "
            f"| {_ok(b['goal_met'])} |",
            "",
        ]
    mem = fig.get("memory")
    if mem:
        sizes = [k[4:-3] for k in mem if k.startswith("app_") and k.endswith("_mb") and "above" not in k]
        out += [
            "### 4. Memory (RSS, MB)",
            "",
            "| empty PySide6 window | " + " | ".join(f"app, {int(n):,} agents" for n in sizes) + " | goal (10,000: < 40 MB above empty) |",
            "|---|" + "---|" * len(sizes) + "---|",
            f"| {mem['empty_window_mb']} | " + " | ".join(
                f"{mem[f'app_{n}_mb']} (+{mem[f'app_{n}_above_empty_mb']})" if mem[f"app_{n}_mb"] is not None
                else f"**{mem.get(f'app_{n}_error')}**" for n in sizes) + f" | {_ok(mem.get('goal_met'))} |",
            "",
        ]
    st = fig.get("startup")
    if st:
        out += [
            "### 5. Start-up (s, median of runs)",
            "",
            "| bare QApplication window | **app: launch to roster painted** | ratio | goal (< 2x) | what was measured |",
            "|---|---|---|---|---|",
            f"| {st.get('bare_window_s')} | **{st.get('app_s')}** | {st.get('ratio')} | {_ok(st.get('goal_met'))} | {st.get('measured', '')} |",
            "",
        ]
    idle = fig.get("idle")
    if idle:
        c = idle["cpu_percent_of_one_core"]
        out += [
            f"### 6. Idle cost (CPU % of one core over {idle['seconds']} s, connected, keep-alives only)",
            "",
            "| **app** | bare loop | Amplify JS | events server | goal (app < 0.5 %) |",
            "|---|---|---|---|---|",
            f"| **{c['app']}** | {c['bare']} | {c['amplify']} | {c['server']} | {_ok(idle['goal_met'])} |",
            "",
            f"(/proc utime+stime, resolution {idle['clock_tick_s']} s.)",
            "",
        ]
    r = fig.get("recovery")
    if r:
        out += [
            f"### 7. Recovery: events server stopped for {r['server_down_s']} s, then back "
            f"(s after it is back; median of {len(r.get('rounds', [])) or 1} restarts)",
            "",
            "| bare loop first event | app first event | **app roster reconciled** | Amplify Connected | Amplify first event | goal (< 1 s) |",
            "|---|---|---|---|---|---|",
            f"| {r['bare_first_event_after_back_s']} | {r['app_first_event_after_back_s']} | **{r['app_reconciled_after_back_s']}** "
            f"| {r['amplify_connected_after_back_s']} | {r['amplify_first_event_after_back_s']} | {_ok(r['goal_met'])} |",
            "",
            "Each restart: " + "; ".join(
                f"app {x['app_reconciled_after_back_s']} s, Amplify {x['amplify_first_event_after_back_s']} s"
                for x in r.get("rounds", [])) + ".",
            "",
        ]
    return "\n".join(out)


def write_readme(path: Path, results: dict) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text += f"\n## Latest results\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(head + BEGIN + "\n" + render(results) + "\n" + END + tail, encoding="utf-8")
