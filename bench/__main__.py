"""``python -m bench`` (= ``make bench``): run every benchmark, write bench/results/latest.json and
the results table in bench/README.md. See bench/README.md for what each figure means.

    python -m bench              full run (~12 min on 2 cores)
    python -m bench --quick      short phases (~3 min), same shape of results
    python -m bench --only latency,idle   a subset (latency, burst, idle, recovery, memory, startup)
    python -m bench --compare A.json B.json   before/after table of two results files (runs nothing)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench import goals
from bench.common import API_KEY, BENCH_DIR, JS_DIR, ROOT, cpu_seconds, load_ready, machine_info, rss_mb, summarize_us

ALL = ("latency", "idle", "burst", "recovery", "memory", "startup")
PY = sys.executable


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Proc:
    """A child speaking JSON lines on stdin/stdout."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None, logdir: Path | None = None):
        self.name = name
        self.err = open(logdir / f"{name}.log", "wb") if logdir else subprocess.DEVNULL  # noqa: SIM115
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
                                  env={**os.environ, **(env or {})}, cwd=ROOT, text=True, bufsize=1)
        self.lines: asyncio.Queue[dict] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._read, name=f"read-{name}", daemon=True).start()

    def _read(self) -> None:
        loop = self._loop
        for line in self.p.stdout:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            loop.call_soon_threadsafe(self.lines.put_nowait, obj)

    @property
    def pid(self) -> int:
        return self.p.pid

    def send(self, obj: dict) -> None:
        try:
            self.p.stdin.write(json.dumps(obj) + "\n")
            self.p.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    async def expect(self, key: str, timeout: float = 60.0) -> dict:
        async with asyncio.timeout(timeout):
            while True:
                obj = await self.lines.get()
                if key in obj:
                    return obj

    def stop(self) -> None:
        self.send({"cmd": "quit"})
        try:
            self.p.wait(3)
        except subprocess.TimeoutExpired:
            self.p.terminate()
            try:
                self.p.wait(3)
            except subprocess.TimeoutExpired:
                self.p.kill()


def _proc(name: str, argv: list[str], env=None, logdir=None) -> Proc:
    return Proc(name, argv, env, logdir)


async def run_publisher(ready: dict, rate: float, duration: float, agents: int, phase: str) -> dict:
    sessions = max(4, min(32, int(rate / 5 * 0.02) + 4))  # ~20 ms per request in flight
    proc = await asyncio.create_subprocess_exec(
        PY, "-m", "bench.publisher_proc", "--url", ready["http"], "--ca-file", ready["ca_file"], "--api-key", API_KEY,
        "--rate", str(rate), "--duration", str(duration), "--agents", str(agents), "--phase", phase,
        "--sessions", str(sessions), cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    return json.loads(out.decode().strip().splitlines()[-1])


async def drain(app: Proc, bare: Proc, phase: str, limit_s: float = 90.0) -> float:
    """Wait until the app has applied as many events of ``phase`` as the bare loop received
    (the app may be behind; the next phase must not start on its backlog). Returns the seconds
    waited after the publisher finished (0.5 s minimum, for stragglers)."""
    t0 = time.monotonic()
    await asyncio.sleep(0.5)
    last, still = -1, time.monotonic()
    while time.monotonic() - t0 < limit_s:
        bare.send({"cmd": "count"})
        want = (await bare.expect("count", 30))["count"].get(phase, 0)
        app.send({"cmd": "count"})
        reply = await app.expect("count", 30)
        got = reply["count"].get(phase, 0)
        # the version check may drop a few (two requests for one agent crossing): allow 0.2 %
        if got >= want * 0.998 and not reply.get("queued"):
            break
        if got != last:
            last, still = got, time.monotonic()
        elif time.monotonic() - still > 10:
            log(f"  app stuck at {got}/{want} events of {phase}")
            break
        await asyncio.sleep(0.25)
    return round(time.monotonic() - t0, 2)


def runq_wait_s(pid: int) -> float:
    """Seconds the process has waited for a CPU (run queue), from /proc/<pid>/schedstat."""
    try:
        with open(f"/proc/{pid}/schedstat") as fh:
            return int(fh.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def thread_cpu(pid: int) -> dict[str, float]:
    """utime+stime (s) of each thread of a process, keyed "name/tid" (diagnostics of idle)."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as fh:
                raw = fh.read()
        except OSError:
            continue
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw.rsplit(")", 1)[1].split()
        out[f"{name}/{tid}"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def rss_of(pid: int) -> float | None:
    try:
        return round(rss_mb(pid), 1)
    except OSError:
        return None


def cpu_of(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        try:
            out[name] = cpu_seconds(pid)
        except OSError:
            out[name] = float("nan")
    return out


async def http_json(session: aiohttp.ClientSession, method: str, url: str, body: dict | None = None) -> Any:
    async with session.request(method, url, json=body, timeout=aiohttp.ClientTimeout(total=600)) as resp:
        return await resp.json()


def versions() -> dict[str, str]:
    def mod_version(name: str) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(name)
        except PackageNotFoundError:
            return "missing"

    node = "missing"
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        pass
    amplify = "missing"
    try:
        amplify = json.loads((JS_DIR / "node_modules" / "aws-amplify" / "package.json").read_text())["version"]
    except OSError:
        pass
    return {"python": platform.python_version(), "PySide6": mod_version("PySide6-Essentials"), "qasync": mod_version("qasync"),
            "websockets": mod_version("websockets"), "aiohttp": mod_version("aiohttp"), "node": node,
            "aws-amplify": amplify}


# --- the live session: server, the app, the bare loop and Amplify on one stream --------------------

async def live_session(cfg: dict, work: Path, results: dict) -> None:
    ready_file = work / "server-ready.json"
    server = _proc("server", [PY, "-m", "bench.server_proc", "--state-dir", str(work / "server"),
                              "--ready-file", str(ready_file), "--seed", str(cfg["agents"])], logdir=work)
    deadline = time.monotonic() + 60
    while not ready_file.exists():
        if server.p.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"bench server did not start; see {work / 'server.log'}")
        await asyncio.sleep(0.1)
    ready = load_ready(ready_file)
    receivers = {
        "app": _proc("app", [PY, "-m", "bench.app_proc", "--ready-file", str(ready_file)], logdir=work),
        "bare": _proc("bare", [PY, "-m", "bench.bare_proc", "--ready-file", str(ready_file)], logdir=work),
        "amplify": _proc("amplify", ["node", str(BENCH_DIR / "amplify_peer.mjs")], logdir=work, env={
            "BENCH_READY": str(ready_file), "BENCH_JS_DIR": str(JS_DIR), "NODE_EXTRA_CA_CERTS": ready["ca_file"]}),
    }
    app = receivers["app"]
    try:
        for name, proc in receivers.items():
            await proc.expect("ready", 90)
            log(f"{name} subscribed")
        await asyncio.sleep(1.0)
        def probe(on: bool) -> None:
            for name in ("app", "bare"):
                receivers[name].send({"cmd": "probe", "on": on})

        pids = {"app": app.pid, "bare": receivers["bare"].pid, "amplify": receivers["amplify"].pid, "server": server.pid}
        async with aiohttp.ClientSession() as http:
            control = ready["control"]
            if "latency" in cfg["only"]:
                pubs = {}
                for rate, dur in cfg["rates"]:
                    phase = f"r{rate}"
                    app.send({"cmd": "mark", "phase": phase})
                    probe(True)
                    c0, w0 = cpu_of(pids), runq_wait_s(app.pid)
                    log(f"publishing {rate} events/s for {dur} s")
                    pubs[phase] = await run_publisher(ready, rate, dur, cfg["agents"], phase)
                    pubs[phase]["app_drain_s"] = await drain(app, receivers["bare"], phase)
                    c1 = cpu_of(pids)
                    pubs[phase]["cpu_s"] = {k: round(c1[k] - c0[k], 2) for k in pids}
                    pubs[phase]["app_runqueue_wait_s"] = round(runq_wait_s(app.pid) - w0, 2)
                    probe(False)
                    log(f"  publisher: {pubs[phase]}")
                results["publisher"] = pubs
            if "idle" in cfg["only"]:
                log(f"idle for {cfg['idle_s']} s")
                await asyncio.sleep(2.0)
                profiling = cfg.get("profile_idle")
                if profiling:
                    app.send({"cmd": "profile", "on": True, "cprofile": profiling == "cprofile"})
                c0, t0, th0 = cpu_of(pids), time.monotonic(), thread_cpu(app.pid)
                # the app's CPU per slice of the phase: a transient at the start (what the phase
                # before left behind) vs a steady cost
                slices, slice_s = [], cfg["idle_s"] / 6
                last_cpu, last_t = c0["app"], t0
                while time.monotonic() - t0 < cfg["idle_s"] - 0.01:
                    await asyncio.sleep(min(slice_s, cfg["idle_s"] - (time.monotonic() - t0)))
                    cpu, at = cpu_of({"app": app.pid})["app"], time.monotonic()
                    slices.append(round(100 * (cpu - last_cpu) / (at - last_t), 3))
                    last_cpu, last_t = cpu, at
                c1, t1, th1 = cpu_of(pids), time.monotonic(), thread_cpu(app.pid)
                results["idle"] = {"seconds": round(t1 - t0, 1), "cpu_percent_of_one_core": {
                    k: round(100 * (c1[k] - c0[k]) / (t1 - t0), 3) for k in pids},
                    "clock_tick_s": 1 / os.sysconf("SC_CLK_TCK"),
                    "app_cpu_percent_per_sixth": slices,
                    "app_threads_cpu_s": {k: round(th1[k] - th0.get(k, 0.0), 2) for k in th1
                                          if th1[k] - th0.get(k, 0.0) > 0}}
                if profiling:
                    app.send({"cmd": "profile", "on": False})
                    results["idle"]["app_profile"] = (await app.expect("profile", 60))["profile"]
                log(f"  idle: {results['idle']}")
            # beside the memory figures: every receiver's RSS with the live roster (the bench's agents)
            results["live_rss_mb"] = {k: rss_of(pid) for k, pid in pids.items() if k != "server"}
            results["live_rss_agents"] = cfg["agents"]
            if "burst" in cfg["only"]:
                app.send({"cmd": "mark", "phase": "burst"})
                probe(True)
                await asyncio.sleep(0.3)
                log(f"burst: {cfg['burst_agents'] * 5} updates over {cfg['burst_agents']} agents")
                burst = await http_json(http, "POST", control + "/burst", {"agents": cfg["burst_agents"], "per_agent": 5})
                roster = await http_json(http, "GET", control + "/roster")
                targets = {a["agent_id"]: a["version"] for a in roster["agents"]}
                app.send({"cmd": "expect", "targets": targets})
                status = None
                end = time.monotonic() + cfg["burst_timeout_s"]
                while time.monotonic() < end:
                    await asyncio.sleep(0.5)
                    app.send({"cmd": "status"})
                    status = (await app.expect("status", 30))["status"]
                    if status["targets_missing"] == 0 and status["target_done_us"]:
                        break
                await asyncio.sleep(1.0)
                probe(False)
                results["burst_raw"] = {"server": burst, "app_status": status}
                log(f"  burst: server {burst}, app {status}")
            if "recovery" in cfg["only"]:
                rounds = []
                for k in range(cfg["recovery_rounds"]):
                    if k:
                        # The client keeps its backoff streak for connections younger than its
                        # stable_after (10 s): wait past it so each round starts from a settled
                        # connection, as after any real outage.
                        await asyncio.sleep(cfg["recovery_settle_s"])
                    phase = f"recovery{k}"
                    app.send({"cmd": "mark", "phase": phase})
                    probe(True)
                    log(f"recovery {k + 1}/{cfg['recovery_rounds']}: restarting the events server (down 2 s)")
                    rec = await http_json(http, "POST", control + "/restart",
                                          {"down_s": 2.0, "changes": 100, "trickle_s": cfg["recovery_watch_s"],
                                           "phase": phase})
                    app.send({"cmd": "expect", "targets": rec["targets"]})
                    await asyncio.sleep(cfg["recovery_watch_s"] + 1)
                    app.send({"cmd": "status"})
                    status = (await app.expect("status", 30))["status"]
                    probe(False)
                    rounds.append({"phase": phase, "server": rec | {"targets": len(rec["targets"])}, "app_status": status})
                    log(f"  recovery: app target_done_us {status['target_done_us']}, back {rec['t_back_us']}")
                results["recovery_raw"] = rounds
            results["server_stats"] = await http_json(http, "GET", control + "/stats")
        dumps = {}
        for name, proc in receivers.items():
            proc.send({"cmd": "dump"})
            dumps[name] = await proc.expect("phases", 60)
        results["dumps"] = dumps
    finally:
        for proc in receivers.values():
            proc.stop()
        server.p.terminate()
        try:
            server.p.wait(5)
        except subprocess.TimeoutExpired:
            server.p.kill()


# --- memory ----------------------------------------------------------------------------------------

async def memory(cfg: dict, work: Path, results: dict) -> None:
    ready_file = work / "mem-ready.json"
    server = _proc("mem-server", [PY, "-m", "bench.server_proc", "--state-dir", str(work / "server"),
                                  "--ready-file", str(ready_file)], logdir=work)
    try:
        while not ready_file.exists():
            await asyncio.sleep(0.1)
        out: dict[str, Any] = {}
        for label, argv in [("empty_window", ["--empty-window"])] + [
                (str(n), ["--ready-file", str(ready_file), "--memory", str(n)]) for n in cfg["memory_sizes"]]:
            samples = []
            for _ in range(cfg["memory_repeats"]):
                p = _proc(f"mem-{label}", [PY, "-m", "bench.app_proc", *argv], logdir=work)
                try:
                    samples.append((await p.expect("memory", cfg["memory_timeout_s"]))["memory"])
                except TimeoutError:
                    out[label] = {"rss_mb": None, "error": f"not joined and painted within {cfg['memory_timeout_s']} s"}
                    break
                finally:
                    p.p.kill()
                    p.p.wait()
            if not samples:
                log(f"memory {label}: {out.get(label)}")
                continue
            best = min(samples, key=lambda s: s["rss_mb"])
            out[label] = best | {"samples_mb": [s["rss_mb"] for s in samples]}
            log(f"memory {label}: {out[label]}")
        results["memory"] = out
    finally:
        server.p.terminate()
        server.p.wait(5)


# --- results ---------------------------------------------------------------------------------------

def analyse(results: dict, cfg: dict) -> dict:
    """Raw receiver dumps -> the figures of the table (and goals met or not)."""
    dumps = results.pop("dumps", {})
    fig: dict[str, Any] = {}
    if "latency" in cfg["only"] and dumps:
        lat = {}
        for rate, _ in cfg["rates"]:
            ph = f"r{rate}"
            row = {"published": results["publisher"][ph]}
            for name in ("bare", "app", "amplify"):
                data = dumps.get(name, {}).get("phases", {}).get(ph)
                row[name] = summarize_us(data["lat_us"] if data else [])
            pix = dumps.get("app", {}).get("pixel", {}).get(ph)
            row["app_pixel"] = summarize_us(pix["lat_us"] if pix else [])
            row["app_stall"] = dumps.get("app", {}).get("stalls", {}).get(ph)
            row["app_gc"] = dumps.get("app", {}).get("gc", {}).get(ph)
            row["app_paints"] = dumps.get("app", {}).get("paints", {}).get(ph)
            taken = dumps.get("app", {}).get("taken", {}).get(ph)
            row["app_taken_from_client"] = summarize_us(taken["lat_us"] if taken else [])
            row["bare_stall_ms"] = dumps.get("bare", {}).get("stalls", {}).get(ph)
            b, a, p = row["bare"]["p99_ms"], row["app"]["p99_ms"], row["amplify"]["p99_ms"]
            row["goal_model"] = {"ratio_to_bare": round(a / b, 2) if a and b else None,
                                 "met": goals.model_met(a, b, p)}
            render = dumps.get("app", {}).get("render", {}).get(ph)
            row["app_model_to_pixel"] = summarize_us(render["lat_us"] if render else [])
            if row["app_pixel"]["p99_ms"] is not None and a is not None:
                extra = round(row["app_pixel"]["p99_ms"] - a, 2)
                per_event = row["app_model_to_pixel"]["p99_ms"]
                row["goal_pixel"] = {"p99_above_model_ms": extra, "per_event_p99_ms": per_event,
                                     "met": goals.pixel_met(rate, per_event)}
            lat[ph] = row
        fig["latency"] = lat
    if "burst_raw" in results:
        raw = results.pop("burst_raw")
        t0 = raw["server"]["t0_us"]
        b = {"updates": raw["server"]["events"], "agents": cfg["burst_agents"],
             "server_publish_s": round((raw["server"]["t1_us"] - t0) / 1e6, 3)}
        st = raw["app_status"] or {}
        done = st.get("target_done_us")
        b["app_correct_s"] = round((done - t0) / 1e6, 3) if done else None
        b["app_snapshots"] = st.get("snapshots")
        b["app_lost_events"] = st.get("lost")
        for name in ("bare", "amplify"):
            ph = dumps.get(name, {}).get("phases", {}).get("burst")
            b[f"{name}_all_received_s"] = round((ph["last_us"] - t0) / 1e6, 3) if ph else None
            b[f"{name}_received"] = ph["count"] if ph else 0
        ph = dumps.get("app", {}).get("phases", {}).get("burst")
        b["app_events_applied_live"] = ph["count"] if ph else 0
        stall = dumps.get("app", {}).get("stalls", {}).get("burst") or {}
        b["app_longest_stall_ms"] = stall.get("max_gap_ms")
        b["app_stalls_over_50ms"] = stall.get("over_50ms")
        b["app_gc"] = dumps.get("app", {}).get("gc", {}).get("burst")
        b["bare_stall_ms"] = dumps.get("bare", {}).get("stalls", {}).get("burst")
        b["goal_met"] = goals.burst_met(stall.get("max_gap_ms"), b["app_correct_s"])
        fig["burst"] = b
    if "recovery_raw" in results:
        rounds = []
        for raw in results.pop("recovery_raw"):
            ph, back = raw["phase"], raw["server"]["t_back_us"]
            st = raw["app_status"] or {}
            r = {"server_down_s": round((back - raw["server"]["t_down_us"]) / 1e6, 3)}
            done = st.get("target_done_us")
            r["app_reconciled_after_back_s"] = round((done - back) / 1e6, 3) if done and done > back else None
            for name in ("app", "bare", "amplify"):
                p = dumps.get(name, {}).get("phases", {}).get(ph)
                r[f"{name}_first_event_after_back_s"] = round((p["first_us"] - back) / 1e6, 3) if p else None
            amp = [s for s in dumps.get("amplify", {}).get("states", [])
                   if s["at_us"] > back and s["state"] == "Connected"]
            r["amplify_connected_after_back_s"] = round((amp[0]["at_us"] - back) / 1e6, 3) if amp else None
            r["app_longest_stall_ms"] = (dumps.get("app", {}).get("stalls", {}).get(ph) or {}).get("max_gap_ms")
            rounds.append(r)

        def med(key: str) -> float | None:
            vals = [r[key] for r in rounds if r.get(key) is not None]
            return round(statistics.median(vals), 3) if vals and len(vals) == len(rounds) else None

        fig["recovery"] = {key: med(key) for key in rounds[0]} | {
            "rounds": rounds, "goal_met": goals.recovery_met(med("app_reconciled_after_back_s"))}
    if "idle" in results:
        idle = results["idle"]
        app_pct = idle["cpu_percent_of_one_core"]["app"]
        fig["idle"] = idle | {"goal_met": goals.idle_met(app_pct),
                              "after": "alone" if cfg["only"] == ["idle"] or "latency" not in cfg["only"]
                              else f"the {cfg['rates'][-1][0]:,} ev/s phase"}
    if "memory" in results:
        mem = results["memory"]
        base = mem["empty_window"]["rss_mb"]
        m = {"empty_window_mb": base}
        for n in cfg["memory_sizes"]:
            rss = (mem.get(str(n)) or {}).get("rss_mb")
            m[f"app_{n}_mb"] = rss
            m[f"app_{n}_above_empty_mb"] = round(rss - base, 1) if rss is not None else None
            if rss is None:
                m[f"app_{n}_error"] = (mem.get(str(n)) or {}).get("error")
        n = goals.MEMORY_AGENTS
        m["app_to_empty_ratio"] = goals.memory_ratio(base, m.get(f"app_{n}_mb"))
        m["app_kb_per_agent"] = goals.memory_per_agent_kb(m.get("app_0_mb"), m.get(f"app_{n}_mb"))
        m["goal_met"] = goals.memory_met(base, m.get("app_0_mb"), m.get(f"app_{n}_mb"))
        for who, rss in (results.get("live_rss_mb") or {}).items():
            m[f"{who}_live_mb"] = rss
        if results.get("live_rss_mb"):
            m["live_agents"] = results.get("live_rss_agents")
        fig["memory"] = m
    if "startup" in results:
        fig["startup"] = results["startup"]
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short phases (smoke runs, CI)")
    parser.add_argument("--only", default=",".join(ALL), help=f"comma list of {', '.join(ALL)}")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "latest.json")
    parser.add_argument("--readme", type=Path, default=BENCH_DIR / "README.md",
                        help="README whose results section is rewritten ('-' = none)")
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--idle-seconds", type=float, default=None,
                        help="length of the idle phase (default 60, 10 with --quick)")
    parser.add_argument("--profile-idle", choices=("counters", "cprofile"), default=None,
                        help="diagnostics of the app in the idle phase, into latest.json (idle.app_profile): the GUI "
                             "thread's CPU and the tick's cell counts; 'cprofile' adds a Python profile (its overhead "
                             "inflates the idle figure: not for a run whose figures count)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A.json", "B.json"),
                        help="run nothing: print a Markdown table of every headline figure of two results files, "
                             "before (A) and after (B), with the change and each goal met or missed in both")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # the smoke test
    args = parser.parse_args(argv)
    if args.compare:
        from bench.compare import CompareError
        from bench.compare import main as compare

        try:
            sys.stdout.write(compare(*args.compare))
        except CompareError as exc:
            parser.exit(2, f"{parser.prog}: error: {exc}\n")
        return 0
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    bad = set(only) - set(ALL)
    if bad:
        parser.error(f"unknown benchmark(s) {sorted(bad)}; choose from {ALL}")
    cfg: dict[str, Any] = {
        "only": only, "agents": args.agents, "quick": args.quick,
        "rates": [(100, 20), (1000, 20), (5000, 10)], "idle_s": 60, "burst_agents": 10_000,
        "burst_timeout_s": 180, "recovery_watch_s": 10, "recovery_rounds": 3, "recovery_settle_s": 12, "memory_sizes": [0, 1000, 10_000, 50_000],
        "memory_repeats": 2, "memory_timeout_s": 150, "startup_repeats": 5,
    }
    if args.quick:
        cfg.update(rates=[(100, 4), (1000, 4), (5000, 3)], idle_s=10, memory_repeats=1, startup_repeats=2,
                   recovery_rounds=1)
    if args.tiny:
        cfg.update(agents=200, rates=[(100, 1), (500, 1)], idle_s=1, burst_agents=200, burst_timeout_s=60,
                   recovery_watch_s=8, recovery_rounds=1, memory_sizes=[0, 100], memory_repeats=1, startup_repeats=1,
                   memory_timeout_s=120)
    if args.idle_seconds is not None:
        cfg["idle_s"] = args.idle_seconds
    cfg["profile_idle"] = args.profile_idle
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               "machine": machine_info(), "versions": versions(),
                               "config": {k: v for k, v in cfg.items()}}
    work = Path(tempfile.mkdtemp(prefix="presence-bench-"))
    t0 = time.monotonic()

    errors: dict[str, str] = {}

    async def section(name: str, coro) -> None:
        try:
            await coro
        except Exception as exc:  # noqa: BLE001 - one failed section must not lose the others
            errors[name] = f"{type(exc).__name__}: {exc}"
            log(f"FAILED {name}: {errors[name]} (logs in {work})")

    async def run() -> None:
        if {"latency", "idle", "burst", "recovery"} & set(only):
            await section("live", live_session(cfg, work, results))
        if "memory" in only:
            await section("memory", memory(cfg, work, results))
        if "startup" in only:
            from bench.startup import startup

            async def st() -> None:
                results["startup"] = await startup(cfg, work, log)

            await section("startup", st())

    asyncio.run(run())
    failed = "; ".join(f"{k}: {v}" for k, v in errors.items()) or None
    results["figures"] = analyse(results, cfg)
    results["seconds"] = round(time.monotonic() - t0, 1)
    results["error"] = failed
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    log(f"wrote {args.out} in {results['seconds']} s")
    if str(args.readme) != "-":
        from bench.report import write_readme

        write_readme(args.readme, results)
        log(f"updated {args.readme}")
    if failed is None:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
