"""Writes the results section of bench/README.md from a results dict (bench/results/latest.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import goals

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
            f"Goals: event-to-model {goals.TEXT['model']}; {goals.TEXT['pixel']} (judged per event: that "
            "event's model stamp -> its row painted).",
            "",
            "| rate (target / achieved ev/s) | bare loop p50 / p99 | **app model** p50 / p99 | Amplify JS p50 / p99 "
            "| app p99 / bare p99 | app pixel p50 / p99 (n) | longest GUI stall (bare loop's) | goals |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in lat.values():
            pub = row["published"]
            b, a, p, px = row["bare"], row["app"], row["amplify"], row["app_pixel"]
            stall = (row.get("app_stall") or {}).get("max_gap_ms")
            met = f"model {_ok(goals.model_met(a['p99_ms'], b['p99_ms'], p['p99_ms']))}"
            m2p = (row.get("app_model_to_pixel") or {}).get("p99_ms")
            pixel_met = goals.pixel_met(int(pub["target_eps"]), m2p)
            met += f"; model->pixel p99 {_ms(m2p)} ms" + (f" {_ok(pixel_met)}" if pixel_met is not None else "")
            out.append(
                f"| {pub['target_eps']:.0f} / {pub['achieved_eps']:.0f} | {_ms(b['p50_ms'])} / {_ms(b['p99_ms'])} "
                f"| **{_ms(a['p50_ms'])} / {_ms(a['p99_ms'])}** | {_ms(p['p50_ms'])} / {_ms(p['p99_ms'])} "
                f"| {row['goal_model']['ratio_to_bare']} | {_ms(px['p50_ms'])} / {_ms(px['p99_ms'])} ({px['n']}) "
                f"| {_ms(stall)} ({_ms(row.get('bare_stall_ms'))}) | {met} |")
        out.append("")
    b = fig.get("burst")
    if b:
        out += [
            f"### 3. Burst: {b['updates']:,} updates over {b['agents']:,} agents",
            "",
            "| server sent all | bare loop received all | Amplify received all | **app roster correct** "
            "| app longest GUI stall (bare loop's) | stalls > 50 ms | snapshot fetches / lost events "
            f"| goal ({goals.TEXT['burst']}) |",
            "|---|---|---|---|---|---|---|---|",
            f"| {b['server_publish_s']} s | {b['bare_all_received_s']} s ({b['bare_received']:,}) "
            f"| {b['amplify_all_received_s']} s ({b['amplify_received']:,}) | **{b['app_correct_s']} s** "
            f"| {_ms(b['app_longest_stall_ms'])} ms ({_ms(b.get('bare_stall_ms'))} ms) | {b['app_stalls_over_50ms']} "
            f"| {b['app_snapshots']} / {b['app_lost_events']} "
            f"| {_ok(goals.burst_met(b['app_longest_stall_ms'], b['app_correct_s']))} |",
            "",
        ]
    mem = fig.get("memory")
    if mem:
        sizes = [k[4:-3] for k in mem if k.startswith("app_") and k.endswith("_mb") and k[4:-3].isdigit()]
        n = goals.MEMORY_AGENTS
        base, app0, app_n = mem.get("empty_window_mb"), mem.get("app_0_mb"), mem.get(f"app_{n}_mb")
        ratio, per_agent = goals.memory_ratio(base, app_n), goals.memory_per_agent_kb(app0, app_n)
        out += [
            "### 4. Memory (RSS, MB)",
            "",
            "| empty PySide6 window | " + " | ".join(f"app, {int(k):,} agents" for k in sizes)
            + f" | app at {n:,} / empty | KB per agent ({n:,} over 0) | goal ({goals.TEXT['memory']}) |",
            "|---|" + "---|" * len(sizes) + "---|---|---|",
            f"| {base} | " + " | ".join(
                f"{mem[f'app_{k}_mb']} (+{mem[f'app_{k}_above_empty_mb']})" if mem[f"app_{k}_mb"] is not None
                else f"**{mem.get(f'app_{k}_error')}**" for k in sizes)
            + f" | {ratio if ratio is not None else '—'} ({_ok(goals.memory_ratio_met(ratio))})"
            f" | {per_agent if per_agent is not None else '—'} ({_ok(goals.memory_per_agent_met(per_agent))})"
            f" | {_ok(goals.memory_met(base, app0, app_n))} |",
            "",
        ]
        if mem.get("app_live_mb") is not None:
            out += [
                f"Beside it, in the live run (latency and idle phases, {mem.get('live_agents') or '?':,} agents, "
                f"the same stream): app {mem.get('app_live_mb')} MB, bare loop (the limit) {mem.get('bare_live_mb')} MB, "
                f"Amplify JS (the peer, node) {mem.get('amplify_live_mb')} MB.",
                "",
            ]
    st = fig.get("startup")
    if st:
        out += [
            "### 5. Start-up (s, median of runs)",
            "",
            f"| bare QApplication window (the limit) | **app: launch to roster painted** | ratio | goal ({goals.TEXT['startup']}) "
            "| what was measured |",
            "|---|---|---|---|---|",
            f"| {st.get('bare_window_s')} | **{st.get('app_s')}** | {st.get('ratio')} | {_ok(goals.startup_met(st.get('ratio')))} "
            f"| {st.get('measured', '')}; no peer measured (Amplify JS has no window) |",
        ]
        if st.get("app_refresh_s") is not None:
            out.append(f"| {st.get('bare_window_s')} | {st.get('app_refresh_s')} | {st.get('refresh_ratio')} | "
                       f"{_ok(goals.startup_met(st.get('refresh_ratio')))} | {st.get('measured_refresh', '')} |")
        out.append("")
    idle = fig.get("idle")
    if idle:
        c = idle["cpu_percent_of_one_core"]
        out += [
            f"### 6. Idle cost (CPU % of one core over {idle['seconds']} s, connected, keep-alives only"
            + (f", after {idle['after']})" if idle.get("after") else ")"),
            "",
            f"| **app** | bare loop (the limit) | Amplify JS (the peer) | events server | goal ({goals.TEXT['idle']}) |",
            "|---|---|---|---|---|",
            f"| **{c['app']}** | {c['bare']} | {c['amplify']} | {c['server']} | {_ok(goals.idle_met(c['app']))} |",
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
            "| bare loop first event (the limit) | app first event | **app roster reconciled** | Amplify Connected "
            f"| Amplify first event (the peer) | goal ({goals.TEXT['recovery']}) |",
            "|---|---|---|---|---|---|",
            f"| {r['bare_first_event_after_back_s']} | {r['app_first_event_after_back_s']} | **{r['app_reconciled_after_back_s']}** "
            f"| {r['amplify_connected_after_back_s']} | {r['amplify_first_event_after_back_s']} "
            f"| {_ok(goals.recovery_met(r['app_reconciled_after_back_s']))} |",
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
