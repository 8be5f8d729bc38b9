"""Start-up benchmark: launch to roster painted, with a remembered session, beside a bare window.

1. ``presence-devstack`` (local Cognito with real SRP, events server, relay, 20 simulated agents)
   is started once in the background, in a temporary state folder.
2. A profile ``bench`` is saved in a temporary config folder (``PRESENCE_DESKTOP_CONFIG_DIR``)
   and ``sup-1`` signs in once with ``AuthSession`` + the app's ``TokenStore`` over the bench's
   file keyring (bench/filekeyring.py): that is the remembered session.
3. ``presence-desktop --profile bench`` is launched N times as a fresh process
   (bench/startup_app.py: the real ``presence_desktop.app.main`` plus a paint watcher): it
   restores the session from the keyring (a real Cognito REFRESH_TOKEN_AUTH), connects, joins
   (snapshot from the relay) and paints the roster. Time = the watcher's stamp after the first
   paint with rows minus the parent's stamp just before spawning the process (interpreter start
   and imports included).
4. The same for a bare QApplication + QMainWindow (first paint).
Medians are reported, with every sample.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import goals
from bench.common import ROOT, now_us

PY = sys.executable


async def _run_probe(argv: list[str], env: dict[str, str], timeout: float = 90.0) -> float | None:
    t0 = now_us()
    proc = await asyncio.create_subprocess_exec(PY, "-m", "bench.startup_app", *argv, cwd=ROOT, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    painted = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                line = await proc.stdout.readline()
                if not line:
                    break
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if "painted_us" in obj:
                    painted = obj["painted_us"]
            await proc.wait()
    except TimeoutError:
        proc.kill()
        await proc.wait()
    if painted is None:
        err = (await proc.stderr.read()).decode(errors="replace")[-2000:]
        raise RuntimeError(f"start-up probe {argv[:2]} never painted; stderr tail:\n{err}")
    return (painted - t0) / 1e6


async def startup(cfg: dict, work: Path, log: Callable[[str], None]) -> dict[str, Any]:
    state = work / "devstack"
    ready_file = state / "ready.json"
    conf = work / "config"
    keyring_file = work / "keyring.json"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PRESENCE_DESKTOP_CONFIG_DIR": str(conf),
           "PYTHON_KEYRING_BACKEND": "bench.filekeyring.BenchFileKeyring", "BENCH_KEYRING_FILE": str(keyring_file),
           "PYTHONPATH": str(ROOT)}
    log("start-up: starting the devstack (local Cognito, events server, relay, 20 simulated agents)")
    devlog = open(work / "devstack.log", "wb")  # noqa: SIM115
    stack = await asyncio.create_subprocess_exec(
        PY, "-m", "presence_desktop.devstack.cli", "--ready-file", str(ready_file), "--state-dir", str(state),
        "--agents", "20", "--log-level", "WARNING", cwd=ROOT, stdout=devlog, stderr=devlog)
    try:
        deadline = time.monotonic() + 180
        while not ready_file.exists():
            if stack.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the devstack did not start; see {work / 'devstack.log'}")
            await asyncio.sleep(0.2)
        remember = await asyncio.create_subprocess_exec(
            PY, "-c", _REMEMBER, str(ready_file), cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await remember.communicate()
        if remember.returncode != 0:
            raise RuntimeError(f"could not remember a session: {err.decode()[-1500:]}")
        log(f"start-up: {out.decode().strip()}")
        n = cfg["startup_repeats"]
        bare = [await _run_probe(["--bare"], env) for _ in range(n)]
        log(f"start-up: bare window {bare}")
        app = [await _run_probe(["--app", "--profile", "bench"], env) for _ in range(n)]
        log(f"start-up: app {app}")
        # once more for the bare window, interleaved effects of a warm cache averaged out
        bare += [await _run_probe(["--bare"], env) for _ in range(max(1, n // 2))]
    finally:
        stack.terminate()
        try:
            await asyncio.wait_for(stack.wait(), 10)
        except TimeoutError:
            stack.kill()
        devlog.close()
    b, a = statistics.median(bare), statistics.median(app)
    return {"bare_window_s": round(b, 3), "app_s": round(a, 3), "ratio": round(a / b, 2), "goal_met": goals.startup_met(round(a / b, 2)),
            "bare_samples_s": [round(x, 3) for x in bare], "app_samples_s": [round(x, 3) for x in app],
            "measured": "process spawn -> first paint of the roster table with rows (real entry, remembered "
                        "session restored from the keyring via Cognito refresh, devstack already running)"}


_REMEMBER = r"""
import asyncio, json, sys
from presence_desktop.auth.session import AuthSession
from presence_desktop.auth.token_store import TokenStore
from presence_desktop.devstack.launcher import profile_from_ready_file
from presence_desktop.client.settings import AppSettings, SettingsStore

ready = json.loads(open(sys.argv[1]).read())
profile = profile_from_ready_file(sys.argv[1], name="bench")
store = SettingsStore()
store.save_profile(profile)
store.save_settings(AppSettings(last_profile="bench", last_username="sup-1", remember_me=True))
password = next(u["password"] for u in ready["users"] if u["username"] == "sup-1")

async def go():
    tokens = TokenStore.for_settings(profile.cognito)
    session = AuthSession(profile.cognito, tokens)
    result = await session.sign_in("sup-1", password)
    print(type(result).__name__, "remembered:", getattr(result, "remembered", None))
    tokens.close()
asyncio.run(go())
"""
