"""The entry point and the qasync runtime, in subprocesses (each owns its QApplication and loop)."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from presence_desktop.client.settings import AppSettings, SettingsError, SettingsStore, UiState

REPO = Path(__file__).resolve().parents[2]


def run_py(code_or_args, timeout=60, env=None, **kw):
    args = [sys.executable, *code_or_args] if isinstance(code_or_args, list) else [sys.executable, "-c", code_or_args]
    e = dict(os.environ, QT_QPA_PLATFORM="offscreen", **(env or {}))
    t = time.monotonic()
    proc = subprocess.run(args, cwd=REPO, env=e, capture_output=True, text=True, timeout=timeout, **kw)
    return proc, time.monotonic() - t


def test_version_and_self_test():
    proc, _ = run_py(["-m", "presence_desktop.app", "--version"])
    assert proc.returncode == 0 and proc.stdout.startswith("presence-desktop ")
    proc, _ = run_py(["-m", "presence_desktop.app", "--self-test"])
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["roster_rows"] == 12 and report["keyring"] and report["websockets"]


def test_profile_import_is_dispatched(tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({
        "Region": "eu-west-1", "UserPoolId": "eu-west-1_AbCdEf123", "UserPoolClientId": "abc123def456",
        "EventsHttpUrl": "https://abc.appsync-api.eu-west-1.amazonaws.com/event",
        "EventsRealtimeUrl": "wss://abc.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime",
        "RelayUrl": "https://xyz.lambda-url.eu-west-1.on.aws/",
    }))
    cfg = tmp_path / "cfg"
    proc, _ = run_py(["-m", "presence_desktop.app", "profile", "import", "--stack-outputs", str(outputs), "--name", "prod"],
                     env={"PRESENCE_DESKTOP_CONFIG_DIR": str(cfg)})
    assert proc.returncode == 0, proc.stderr
    assert SettingsStore(cfg).load_profile("prod").events.region == "eu-west-1"
    proc, _ = run_py(["-m", "presence_desktop.app", "profile", "export"])
    assert proc.returncode == 2


def test_unknown_profile_is_a_clear_error(tmp_path):
    proc, elapsed = run_py(["-m", "presence_desktop.app", "--profile", "nope"],
                           env={"PRESENCE_DESKTOP_CONFIG_DIR": str(tmp_path)})
    assert proc.returncode == 1
    assert "no profile named 'nope'" in proc.stderr and "profile import" in proc.stderr
    assert elapsed < 20


RUNTIME_SCRIPT = textwrap.dedent('''
    import asyncio, sys, time
    from presence_desktop.ui.runtime import run

    async def start(rt):
        async def hung_network():
            await asyncio.sleep(3600)          # a publish that never answers
        async def blocking_keyring():
            await asyncio.to_thread(time.sleep, 3600)   # a keyring call that never returns
        async def fails():
            raise ValueError("boom in a task")
        rt.errorRaised.connect(lambda text: print("SHOWN:", text, flush=True))
        rt.add_shutdown_hook(hung_network)
        rt.spawn(blocking_keyring(), name="keyring")
        rt.spawn(fails(), name="failing")
        await asyncio.sleep(0.3)
        print("QUITTING", flush=True)
        rt.request_quit()

    t = time.monotonic()
    code = run(start, budget_s=float(sys.argv[1]))
    print("EXIT", code, round(time.monotonic() - t, 2), flush=True)
    sys.exit(code)
''')


def test_runtime_quits_within_budget_despite_hung_calls_and_shows_task_errors():
    t = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", RUNTIME_SCRIPT, "2.0"], cwd=REPO, capture_output=True, text=True,
                          timeout=30, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    elapsed = time.monotonic() - t
    assert proc.returncode == 0, proc.stderr
    assert "SHOWN: Something went wrong (failing): boom in a task" in proc.stdout
    assert "QUITTING" in proc.stdout and "EXIT 0" in proc.stdout
    assert "shutdown took longer" in proc.stderr  # the hung hook was cut off, not waited for
    quit_to_exit = float(proc.stdout.split("EXIT 0 ")[1].split()[0])
    assert quit_to_exit < 3.5 and elapsed < 10


def test_settings_round_trip_and_errors(tmp_path):
    store = SettingsStore(tmp_path)
    assert store.load_settings() == AppSettings()
    s = AppSettings(last_profile="aws", last_username="agent-3", heartbeat_s=15)
    store.save_settings(s)
    assert store.load_settings() == s
    store.save_ui_state(UiState(roster_window={"geometry": "AAA="}))
    assert store.load_ui_state().roster_window == {"geometry": "AAA="}
    assert store.ui_state_path != store.settings_path  # UI state kept apart
    # A file from an older app with the dropped signin_geometry key still loads.
    (tmp_path / "ui-state.json").write_text('{"roster_window": {"geometry": "AAA="}, "signin_geometry": "BBB="}')
    assert store.load_ui_state().roster_window == {"geometry": "AAA="}
    (tmp_path / "ui-state.json").write_text("{broken")
    assert store.load_ui_state() == UiState()  # disposable: forgotten, never fatal
    (tmp_path / "settings.json").write_text("{broken")
    with pytest.raises(SettingsError, match="not valid JSON"):
        store.load_settings()
    (tmp_path / "settings.json").write_text(json.dumps({"heartbeat_s": -1}))
    with pytest.raises(SettingsError, match="heartbeat_s"):
        store.load_settings()
    (tmp_path / "settings.json").write_text(json.dumps({"version": 99}))
    with pytest.raises(SettingsError, match="newer app"):
        store.load_settings()
    with pytest.raises(SettingsError, match="no profile named 'x'"):
        store.load_profile("x")


KEYRING_SCRIPT = textwrap.dedent('''
    import asyncio, sys, time
    import keyring.backend
    from presence_desktop.app.cli import _leave
    from presence_desktop.auth.token_store import TokenStore
    from presence_desktop.ui.runtime import run

    class HangingKeyring(keyring.backend.KeyringBackend):
        priority = 5
        def get_password(self, service, username):
            time.sleep(3600)   # a locked keyring waiting for an unlock prompt nobody answers
        def set_password(self, service, username, password):
            time.sleep(3600)
        def delete_password(self, service, username):
            time.sleep(3600)

    async def start(rt):
        store = TokenStore("pool/client", backend=HangingKeyring(), timeout_s=3600)
        rt.spawn(store.load(), name="restore")
        await asyncio.sleep(0.3)
        print("QUITTING", flush=True)
        rt.request_quit()

    code = run(start)
    _leave(code)
    sys.exit(code)
''')


def test_quit_is_not_held_by_a_hung_keyring_thread():
    proc = subprocess.Popen([sys.executable, "-c", KEYRING_SCRIPT], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    t = None
    deadline = time.monotonic() + 30
    for line in proc.stdout:
        if "QUITTING" in line:
            t = time.monotonic()
            break
        assert time.monotonic() < deadline
    try:
        code = proc.wait(timeout=10)
    finally:
        proc.kill()
    assert t is not None and code == 0
    assert time.monotonic() - t < 3.0
    # The hung keyring call runs on a daemon thread: a normal exit, not os._exit's way out.
    assert "busy worker thread" not in proc.stderr.read()


def test_missing_x11_libraries_are_named(monkeypatch):
    import ctypes.util

    from presence_desktop.app import platform as app

    monkeypatch.setattr(app.sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None if name in ("xcb-cursor", "xcb-icccm") else f"lib{name}.so")
    assert app.missing_display_libraries() == ["libxcb-cursor0", "libxcb-icccm4"]
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert app.missing_display_libraries() == []


def test_no_display_is_a_clear_error_before_qt_loads(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PRESENCE_DESKTOP_CONFIG_DIR"] = str(tmp_path)
    code = ("import sys; from presence_desktop.app import main; rc = main(['--profile', 'nope']); "
            "print('QT LOADED' if any(m.startswith('PySide6.Qt') for m in sys.modules) else 'NO QT'); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    if not sys.platform.startswith("linux"):
        pytest.skip("the DISPLAY check is for Linux")
    assert proc.returncode == 1, proc.stderr
    assert "no display: set DISPLAY" in proc.stderr and "QT_QPA_PLATFORM=offscreen" in proc.stderr
    assert "NO QT" in proc.stdout


def start_local_app(tmp_path, *extra):
    """``presence-desktop --profile local --agents 0`` in a subprocess with its own devstack
    folder; returns (process, devstack folder, ready info) once the stack is ready."""
    ds = tmp_path / "devstack"
    log = open(tmp_path / "app.log", "w")  # noqa: SIM115 - the child writes it
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PRESENCE_DESKTOP_CONFIG_DIR=str(tmp_path / "cfg"))
    proc = subprocess.Popen([sys.executable, "-m", "presence_desktop.app", "--profile", "local", "--agents", "0",
                             "--devstack-dir", str(ds), "--log-level", "INFO", *extra],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    ready = ds / "app-ready.json"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the app exited {proc.returncode}: {(tmp_path / 'app.log').read_text()}")
        assert time.monotonic() < deadline, "no app-ready.json within 120 s"
        try:
            info = json.loads(ready.read_text())
            break
        except (OSError, ValueError):
            time.sleep(0.2)
    return proc, ds, info


def process_gone(pid: int) -> bool:
    """Exited (a zombie nobody reaped yet counts: it serves nothing)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_quitting_lets_the_owned_stack_stop_cleanly_and_removes_its_ready_file(tmp_path):
    proc, ds, info = start_local_app(tmp_path, "--agents", "3")  # agents make a stop take seconds
    stack_pid = info["pid"]
    try:
        time.sleep(3)  # signed in and showing the roster
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)  # as quitting from the menu: the runtime's request_quit
        assert proc.wait(timeout=15) == 0, (tmp_path / "app.log").read_text()
        assert time.monotonic() - t < 4.0  # the app's exit budget is not spent waiting for the stack
        deadline = time.monotonic() + 20
        while not process_gone(stack_pid):
            assert time.monotonic() < deadline, "the stack did not stop by itself"
            time.sleep(0.2)
    finally:
        proc.kill()
        if not process_gone(stack_pid):
            os.kill(stack_pid, signal.SIGKILL)
    stack_log = (ds / "devstack.log").read_text()
    assert not (ds / "app-ready.json").exists()
    assert "stopped" in stack_log.splitlines()[-1], stack_log[-2000:]  # stopped by itself, not killed


def wait_for_text(path, text, timeout):
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{text!r} not in {path.name}:\n{path.read_text(errors='replace')[-3000:]}"
        time.sleep(0.2)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_app_says_so_when_its_own_stack_dies(tmp_path):
    proc, ds, info = start_local_app(tmp_path)
    try:
        time.sleep(2)
        os.kill(info["pid"], signal.SIGKILL)  # a crash
        wait_for_text(tmp_path / "app.log", "The local stack stopped. Quit and run `make run` again.", 20)
        assert "exited with code -9" in (tmp_path / "app.log").read_text()
        assert proc.poll() is None  # still up: the user reads the message and quits
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        proc.kill()


def test_a_second_app_says_so_when_the_stack_it_reused_goes_away(tmp_path):
    """The second window (``--user agent-41``) did not start the stack: it must notice too."""
    ds = tmp_path / "devstack"
    ready = ds / "app-ready.json"
    stack = subprocess.Popen([sys.executable, "-m", "presence_desktop.devstack.cli", "--ready-file", str(ready),
                              "--state-dir", str(ds)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    app = None
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert stack.poll() is None and time.monotonic() < deadline, "the devstack did not start"
            time.sleep(0.2)
        app, _, _ = start_local_app(tmp_path, "--user", "agent-41")
        wait_for_text(tmp_path / "app.log", "subscribing", 60)  # signed in and connected
        stack.kill()
        stack.wait(timeout=10)
        wait_for_text(tmp_path / "app.log", "The local stack stopped. Quit and run `make run` again.", 20)
        assert "is gone" in (tmp_path / "app.log").read_text()
        app.send_signal(signal.SIGTERM)
        assert app.wait(timeout=15) == 0
    finally:
        stack.kill()
        if app is not None:
            app.kill()


async def test_a_dead_stack_is_reported_to_the_window_in_plain_words(tmp_path):
    from presence_desktop.app.gui import watch_stack
    from presence_desktop.devstack.launcher import STACK_STOPPED_TEXT, LocalDevstack

    class DeadChild:
        returncode = -9

        def poll(self):
            return self.returncode

    class Runtime:
        shown: list[str] = []

        def report(self, text):
            self.shown.append(text)

    stack = LocalDevstack(tmp_path)
    stack.process = DeadChild()
    rt = Runtime()
    await watch_stack(rt, stack, {})
    assert rt.shown == [STACK_STOPPED_TEXT]

    stack.stopping = True  # we stopped it ourselves (quit): nothing to say
    rt.shown.clear()
    await watch_stack(rt, stack, {})
    assert rt.shown == []


@pytest.mark.skipif(sys.platform.startswith("win"), reason="no cheap pid check on Windows")
def test_a_stale_ready_file_of_a_dead_stack_is_not_reused(tmp_path):
    import socket

    from presence_desktop.devstack.launcher import LocalDevstack

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with socket.socket() as server:  # the dead stack's ports, now something else's
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"https://127.0.0.1:{server.getsockname()[1]}"
        stack = LocalDevstack(tmp_path)
        info = {"relay": {"url": url}, "events": {"http": url + "/event"}, "pid": os.getpid()}
        stack.ready_file.write_text(json.dumps(info))
        assert stack.running_info() == info
        stack.ready_file.write_text(json.dumps({**info, "pid": dead.pid}))
        assert stack.running_info() is None


def test_prepare_backends_builds_only_the_tls_contexts_the_app_itself_uses(monkeypatch):
    # botocore makes its own TLS context for Cognito: a system-store context built "for Cognito"
    # was start-up work nobody used. Only the relay's and the realtime endpoint's are prewarmed.
    import presence_desktop.net.tls as net
    from presence_desktop.app.gui import prepare_backends
    from presence_desktop.client.profile import CognitoSettings, EventsSettings, Profile, RelaySettings

    asked = []
    monkeypatch.setattr(net, "prewarm_ssl_contexts", lambda cas: asked.append(list(cas)))
    cognito = CognitoSettings(region="eu-west-1", user_pool_id="eu-west-1_abc", client_id="c")  # https (AWS)

    def profile(relay, realtime):
        return Profile(name="p", kind="aws", cognito=cognito, relay=RelaySettings(url=relay, ca_file="/ca.pem"),
                       events=EventsSettings(http_url="http://127.0.0.1:9/event", region="eu-west-1",
                                             realtime_url=realtime, allow_plaintext=True))

    prepare_backends(profile("http://127.0.0.1:9", "ws://127.0.0.1:9/event/realtime"))
    prepare_backends(profile("https://relay.example", "ws://127.0.0.1:9/event/realtime"))
    assert asked == [["/ca.pem"]]


async def test_a_short_relay_outage_says_nothing_a_long_one_says_so_and_clears(tmp_path, monkeypatch):
    """A stack another window started: its relay refusing connections twice (3 s) was read as
    "The local stack stopped. Quit and run `make run` again.", which stayed after it came back."""
    import os

    from presence_desktop.devstack import launcher

    answers = iter([False, False, True, True] + [False] * 6 + [True, True])
    events = []
    stack = launcher.LocalDevstack(tmp_path)
    info = {"pid": os.getpid(), "relay": {"url": "https://127.0.0.1:9"}, "cognito": {"user_pool_id": "p1"}}

    def reachable(url, timeout=0.5):
        try:
            return next(answers)
        except StopIteration:
            stack.stopping = True
            return True

    monkeypatch.setattr(launcher, "_reachable", reachable)
    ended = await stack.watch(info, interval_s=0.01, on_outage=events.append, outage_grace_s=0.04)
    assert ended is None  # never "stopped": the process is alive
    assert events == [True, False]  # the long outage only, and its end


async def test_a_restarted_stack_is_said_plainly(tmp_path):
    """After another window restarted the stack, "Sign in again" could only fail ("The sign-in
    service reported an error"): the new stack has a new pool and new passwords."""
    import json
    import os

    from presence_desktop.app.gui import watch_stack
    from presence_desktop.devstack.launcher import STACK_RESTARTED_TEXT, LocalDevstack

    stack = LocalDevstack(tmp_path)
    info = {"pid": os.getpid(), "cognito": {"user_pool_id": "old-pool"}}
    stack.ready_file.parent.mkdir(parents=True, exist_ok=True)
    stack.ready_file.write_text(json.dumps({"pid": os.getpid(), "cognito": {"user_pool_id": "new-pool"}}))

    class Runtime:
        shown: list[str] = []

        def report(self, text):
            self.shown.append(text)

    rt = Runtime()
    await asyncio.wait_for(watch_stack(rt, stack, info), 10)
    assert rt.shown == [STACK_RESTARTED_TEXT]


async def test_the_start_window_shows_the_stacks_steps_and_says_when_it_takes_long(tmp_path, qtbot):
    import json as _json

    from presence_desktop.devstack.cli import progress_file_for
    from presence_desktop.devstack.launcher import LocalDevstack
    from presence_desktop.ui.splash import StartupSplash

    stack = LocalDevstack(tmp_path)
    splash = StartupSplash("Starting the local stack…", expected_s=0.0)
    qtbot.addWidget(splash)
    progress = progress_file_for(stack.ready_file)
    tmp_path.mkdir(exist_ok=True)

    async def stack_side():
        for step in ("starting the relay", "signing in the simulated agents (3 of 40)"):
            progress.write_text(step)
            await asyncio.sleep(0.5)
        stack.ready_file.write_text(_json.dumps({"pid": 1}))

    seen = []
    writer = asyncio.ensure_future(stack_side())
    info = await stack.wait_ready(timeout=10, on_progress=lambda t: (seen.append(t), splash.set_step(t)))
    await writer
    assert info == {"pid": 1}
    assert seen == ["starting the relay", "signing in the simulated agents (3 of 40)"]
    assert splash.step.text() == "Now: signing in the simulated agents (3 of 40)"
    splash._tick()
    assert "longer than usual" in splash.elapsed.text() and "usually" not in splash.elapsed.text()
