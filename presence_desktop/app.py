"""``presence-desktop``: the desktop app's entry point.

    presence-desktop --profile local            start the devstack (40 simulated agents) in the
                                                background and sign in as the demo supervisor
    presence-desktop --profile local --user agent-41  a second window as a demo agent the simulator
                                                does not touch (reuses the running devstack)
    presence-desktop --profile aws              a saved profile (see `profile import`)
    presence-desktop profile import --stack-outputs FILE [--name NAME] [--force]
    presence-desktop --version | --self-test

Exit codes: 0 normal quit, 1 could not start (message on stderr), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("presence_desktop")

DEMO_SUPERVISOR = "sup-1"
LOCAL_PROFILE = "local"
DEVSTACK_READY_TIMEOUT_S = 90.0


def _version() -> str:
    from presence_desktop import __version__

    return __version__


class _VersionAction(argparse.Action):
    """``--version``: argparse's own action needs the string up front; the package metadata
    lookup behind it is left for when someone asks."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):  # noqa: A002
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0,
                         help=help or "show the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"presence-desktop {_version()}")  # stdout, as argparse's own version action
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="presence-desktop", description="Real-time agent presence for call-centre teams.")
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument("--profile", default=None,
                        help="'local' (start or reuse the devstack) or a saved profile name; default: the last one used")
    parser.add_argument("--user", default=None,
                        help=f"with --profile local: the demo user to sign in as (default {DEMO_SUPERVISOR})")
    parser.add_argument("--agents", type=int, default=40, help="with --profile local: simulated agents (default 40)")
    parser.add_argument("--devstack-dir", type=Path, default=None,
                        help="with --profile local: the devstack's state folder (default: per-user state folder)")
    parser.add_argument("--self-test", action="store_true",
                        help="load Qt, the keyring backend and websockets, draw the roster once offscreen, exit 0")
    parser.add_argument("--log-level", default=os.environ.get("PRESENCE_LOG_LEVEL", "WARNING"),
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


# --- the local devstack, as a background process ------------------------------------------------------

def default_devstack_dir() -> Path:
    from platformdirs import user_state_dir

    return Path(user_state_dir("presence-desktop", appauthor=False)) / "devstack"


def _reachable(url: str, timeout: float = 0.5) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


STACK_STOPPED_TEXT = "The local stack stopped. Quit and run `make run` again."


def _process_alive(pid: int) -> bool | None:
    """Whether process ``pid`` runs (a zombie does not); None where it cannot be asked cheaply
    (Windows: os.kill(pid, 0) would terminate it)."""
    if sys.platform.startswith("win"):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, someone else's
        pass
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class LocalDevstack:
    """Starts ``presence-devstack`` as a child process, or reuses one that is already running.

    The shared ready file ``<state dir>/app-ready.json`` lets a second app instance find the
    stack the first one started (``--user agent-41``). Only the instance that started the stack
    stops it.
    """

    def __init__(self, state_dir: Path, agents: int = 40) -> None:
        self.state_dir = state_dir
        self.agents = agents
        self.ready_file = state_dir / "app-ready.json"
        self.process: subprocess.Popen | None = None
        self.stopping = False  # we asked it to stop: its exit is expected
        self.log_path = state_dir / "devstack.log"

    def running_info(self) -> dict | None:
        """The ready info of a live stack, or None."""
        try:
            info = json.loads(self.ready_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if isinstance(info.get("pid"), int) and _process_alive(info["pid"]) is False:
            return None  # stale: its stack died (its ports may serve something else by now)
        relay = (info.get("relay") or {}).get("url")
        events = (info.get("events") or {}).get("http")
        if relay and events and _reachable(relay) and _reachable(events):
            return info
        return None

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.ready_file.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "presence_desktop.devstack.cli", "--ready-file", str(self.ready_file),
               "--state-dir", str(self.state_dir), "--agents", str(self.agents)]
        log.info("starting the devstack: %s", " ".join(cmd))
        logf = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.process = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        finally:
            logf.close()

    async def wait_ready(self, timeout: float = DEVSTACK_READY_TIMEOUT_S) -> dict:
        """Wait for the ready file. Raises ``RuntimeError`` if the child exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the devstack exited with code {self.process.returncode}; see {self.log_path}")
            if self.ready_file.exists():
                try:
                    return json.loads(self.ready_file.read_text(encoding="utf-8"))
                except ValueError:
                    pass  # written atomically, but be lenient
            await asyncio.sleep(0.2)
        raise RuntimeError(f"the devstack was not ready within {timeout:.0f} s; see {self.log_path}")

    async def watch(self, info: dict, interval_s: float = 1.0) -> str | None:
        """Wait until the stack goes away unexpectedly; return why, for the log (None once we
        stopped it ourselves). Our own child: its exit code. A stack another app started (the
        ready file's ``pid``): that process is gone, or its relay refuses connections twice in a row.
        The local Cognito is in memory, so a dead stack cannot be restarted under the same sign-in."""
        misses = 0
        while not self.stopping:
            await asyncio.sleep(interval_s)
            if self.stopping:
                break
            if self.process is not None:
                code = self.process.poll()
                if code is not None:
                    return f"the local stack exited with code {code} (see {self.log_path})"
                continue
            pid = info.get("pid")
            if isinstance(pid, int) and _process_alive(pid) is False:
                return f"the local stack (pid {pid}) is gone"
            relay = (info.get("relay") or {}).get("url")
            if relay and not await asyncio.to_thread(_reachable, relay):
                misses += 1
                if misses >= 2:
                    return f"the local stack's relay ({relay}) refuses connections"
            else:
                misses = 0
        return None

    def terminate(self) -> None:
        """Ask our stack to stop (SIGTERM, once) and remove its ready file; never waits, never
        raises. The stack runs in its own session: it finishes stopping (~3 s, bounded by its own
        hard deadline) after this app has left, so quitting stays within the app's 3 s budget."""
        if self.process is None or self.stopping:
            return
        self.stopping = True
        if self.process.poll() is None:
            try:
                self.process.terminate()
            except OSError:
                pass
        self.ready_file.unlink(missing_ok=True)  # nobody should pick up a stack that is going away

    def stop(self) -> None:
        """As :meth:`terminate` (kept for the exit path: a no-op after the shutdown hook ran)."""
        self.terminate()


def demo_password(info: dict, username: str) -> str:
    for user in info.get("users") or []:
        if user.get("username") == username:
            return user["password"]
    free = info.get("free_users") or [u.get("username", "?") for u in (info.get("users") or [])]
    raise ValueError(f"no demo user {username!r} in the devstack (free for you: {', '.join(free[-8:])})")


# --- backends for the real app ----------------------------------------------------------------------

def real_auth_factory(profile, remember: bool):
    from presence_desktop.auth.session import AuthSession
    from presence_desktop.auth.token_store import TokenStore

    store = TokenStore.for_settings(profile.cognito) if remember else None
    return AuthSession(profile.cognito, store)


def real_backend_factory(profile, auth, identity):
    from presence_desktop.ui.adapters import make_backends

    return make_backends(profile, auth, identity)


def prepare_backends(profile) -> None:
    """Ahead of need (GuiApp calls it while a remembered session is restored): the TLS contexts
    of the profile's endpoints, built on a thread (OpenSSL reads the trust store without the
    GIL; no imports there), and the live feed's modules (websockets, the events client),
    imported meanwhile on the calling thread."""
    from presence_desktop.net import prewarm_ssl_contexts

    cas = []  # botocore (Cognito) builds its own TLS context: only ours are made here
    if profile.relay.url.startswith("https://"):
        cas.append(profile.relay.ca_file)
    if profile.events.realtime_url.startswith("wss://"):
        cas.append(profile.events.ca_file)
    if cas:
        prewarm_ssl_contexts(cas)
    import presence_desktop.events_api.auth  # noqa: F401
    import presence_desktop.events_api.client  # noqa: F401 - and websockets
    import presence_desktop.ui.adapters  # noqa: F401


# --- commands -----------------------------------------------------------------------------------------

def self_test() -> int:
    """Load what a frozen build must carry and draw the roster once offscreen."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    report: dict[str, Any] = {"version": _version()}
    from PySide6 import __version__ as pyside_version
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["presence-desktop", "--self-test"])
    report["qt"] = pyside_version
    report["platform"] = app.platformName()
    import keyring
    import websockets

    backend = type(keyring.get_keyring())
    # Module-qualified: SecretService, kwallet and fail (no backend found) all name theirs "Keyring".
    report["keyring"] = f"{backend.__module__}.{backend.__qualname__}"
    report["websockets"] = websockets.__version__
    import botocore  # every Cognito call (pycognito's SRP for the interactive sign-in)
    import pycognito  # noqa: F401
    import qasync  # noqa: F401
    import urllib3  # the relay client

    report["urllib3"], report["botocore"] = urllib3.__version__, botocore.__version__
    from presence_desktop.domain.roster import Roster
    from presence_desktop.resources import default_catalogue
    from presence_desktop.ui.ports import Identity
    from presence_desktop.ui.roster_window import RosterWindow
    from presence_desktop.ui.sample import sample_events  # no network in a self-test

    cat = default_catalogue()
    roster = Roster(cat)
    roster.begin_join()
    roster.complete_join(sample_events(12))
    win = RosterWindow(roster, cat, Identity("self-test", "self-test", ("supervisors",), "team-1"))
    win.model.sync()
    pixmap = win.grab()
    report["roster_rows"] = win.proxy.rowCount()
    report["drawn"] = f"{pixmap.width()}x{pixmap.height()}"
    ok = not pixmap.isNull() and win.proxy.rowCount() == 12
    win.close()
    print(json.dumps(report))
    return 0 if ok else 1


# Libraries Qt's xcb platform plugin loads (PySide6 6.x: ldd of libQt6XcbQpa), as
# (ctypes name, Debian/Ubuntu package). Desktops often lack a few (xcb-cursor since Qt 6.5).
XCB_LIBS = (
    ("xcb-cursor", "libxcb-cursor0"), ("xcb-icccm", "libxcb-icccm4"), ("xcb-image", "libxcb-image0"),
    ("xcb-keysyms", "libxcb-keysyms1"), ("xcb-randr", "libxcb-randr0"), ("xcb-render-util", "libxcb-render-util0"),
    ("xcb-shape", "libxcb-shape0"), ("xcb-sync", "libxcb-sync1"), ("xcb-xfixes", "libxcb-xfixes0"),
    ("xcb-xkb", "libxcb-xkb1"), ("xkbcommon-x11", "libxkbcommon-x11-0"),
)


def missing_display_libraries() -> list[str]:
    """On Linux under X11, the packages whose libraries Qt's xcb plugin needs and cannot find.
    Qt aborts the process when the plugin cannot load, so say it in plain words first."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM", "xcb") != "xcb":
        return []
    if not os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return []
    import ctypes.util

    return [pkg for lib, pkg in XCB_LIBS if ctypes.util.find_library(lib) is None]


def no_display_problem() -> str | None:
    """On Linux (and other X11/Wayland systems), the plain-words reason the GUI cannot start when
    there is no display and no Qt platform chosen; None when a display (or a platform) is set.
    Checked before Qt loads: Qt would abort the process (exit 134) with a misleading xcb hint."""
    if sys.platform.startswith(("win", "darwin")) or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return "no display: set DISPLAY (or WAYLAND_DISPLAY), or QT_QPA_PLATFORM=offscreen for tests"


async def watch_stack(runtime, devstack: LocalDevstack, info: dict) -> None:
    """Tell the user, in plain words, when the local stack dies under the app (the windows would
    otherwise retry dead ports forever); the log says why (exit code)."""
    reason = await devstack.watch(info, interval_s=1.0 if devstack.process is not None else 2.0)
    if reason is None:
        return
    log.error("%s. %s", reason, STACK_STOPPED_TEXT)
    runtime.report(STACK_STOPPED_TEXT)


def run_gui(args: argparse.Namespace) -> int:
    missing = missing_display_libraries()
    if missing:
        print("warning: Qt's X11 support needs system libraries that seem to be missing; if the app does not start, "
              f"install them (Debian/Ubuntu): sudo apt install {' '.join(missing)}", file=sys.stderr)
    from presence_desktop.config import Profile
    from presence_desktop.resources import default_catalogue
    from presence_desktop.settings import SettingsError, SettingsStore
    from presence_desktop.ui import runtime as rt
    from presence_desktop.ui.gui_app import GuiApp

    store = SettingsStore()
    try:
        settings = store.load_settings()
    except SettingsError as exc:
        print(f"warning: {exc}; using default settings", file=sys.stderr)
        from presence_desktop.settings import AppSettings

        settings = AppSettings()
    profile_name = args.profile or settings.last_profile or LOCAL_PROFILE
    devstack: LocalDevstack | None = None
    failures: list[BaseException] = []

    async def start(runtime: rt.QtRuntime) -> None:
        try:
            await _start(runtime)
        except Exception as exc:  # noqa: BLE001 - cannot start: say why and quit with 1
            log.debug("start failed", exc_info=True)
            failures.append(exc)
            runtime.request_quit()

    async def _start(runtime: rt.QtRuntime) -> None:
        nonlocal devstack
        profiles: dict[str, Profile] = {}
        for name in store.profile_names():
            try:
                profiles[name] = store.load_profile(name)
            except SettingsError as exc:
                log.warning("%s", exc)
        username = password = None
        if profile_name == LOCAL_PROFILE:
            devstack = LocalDevstack(args.devstack_dir or default_devstack_dir(), agents=args.agents)
            info = devstack.running_info()
            if info is None:
                from presence_desktop.ui.splash import StartupSplash

                splash = StartupSplash(
                    f"Starting the local stack: sign-in service, events server, relay and "
                    f"{args.agents} simulated agents…"
                )
                splash.show()
                try:
                    devstack.start()
                    info = await devstack.wait_ready()
                finally:
                    splash.close()
                    splash.deleteLater()
            else:
                devstack.process = None  # someone else's: never stop it

            async def stop_stack() -> None:  # registered first, so it runs last: after "offline"
                devstack.terminate()

            runtime.add_shutdown_hook(stop_stack)
            profiles[LOCAL_PROFILE] = Profile.from_ready_file(devstack.ready_file, name=LOCAL_PROFILE)
            username = args.user or DEMO_SUPERVISOR
            password = demo_password(info, username)
        elif profile_name not in profiles:
            raise ValueError(
                f"no profile named {profile_name!r} (saved: {', '.join(profiles) or 'none'}); import one with "
                "`presence-desktop profile import --stack-outputs FILE`, or use --profile local"
            )
        gui = GuiApp(runtime, default_catalogue(), profiles, auth_factory=real_auth_factory,
                     backend_factory=real_backend_factory, store=store, settings=settings,
                     prepare=prepare_backends)
        runtime.gui = gui  # for tests and debugging
        if devstack is not None:
            runtime.spawn(watch_stack(runtime, devstack, info), name="devstack-watch")
        # The devstack's demo users are recreated at every start: nothing worth remembering.
        await gui.start(profile_name, username, password, remember=False if username else None)

    try:
        code = rt.run(start, [sys.argv[0]])
        log.info("event loop ended (code %s)", code)
    finally:
        if devstack is not None:
            devstack.stop()
            log.info("devstack stopped")
    if failures:
        raise RuntimeError(str(failures[0]))
    return code


def _leave(code: int) -> None:
    """End the process now if a worker thread is stuck: a keyring or network call hung on a
    ThreadPoolExecutor worker would otherwise hold the exit (the interpreter joins those
    threads). The app has already shut down (status published, sockets closed, settings
    saved), so nothing is lost by not waiting. Otherwise return and exit normally."""
    stuck = [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive() and not t.daemon]
    if not stuck:
        return
    log.warning("leaving with %d busy worker thread(s): %s", len(stuck), ", ".join(t.name for t in stuck))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["profile"]:
        if argv[1:2] != ["import"]:
            print("usage: presence-desktop profile import --stack-outputs FILE [--name NAME] [--force]", file=sys.stderr)
            return 2
        from presence_desktop import profile_import

        return profile_import.main(argv[2:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.self_test:
        return self_test()
    if args.user and (args.profile or LOCAL_PROFILE) != LOCAL_PROFILE:
        print("error: --user is for the local devstack's demo users (--profile local)", file=sys.stderr)
        return 2
    problem = no_display_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    try:
        code = run_gui(args)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _leave(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
