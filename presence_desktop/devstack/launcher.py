"""The local devstack as a background process of the desktop app (``--profile local``).

``presence-desktop --profile local`` starts ``presence-devstack`` as a child (or reuses one another
app instance started) and signs in as a demo user read from the stack's ready file
(``<state dir>/app-ready.json``, mode 0600). Only ``app/`` imports this, lazily.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from presence_desktop.client.profile import CognitoSettings, EventsSettings, Profile, RelaySettings

log = logging.getLogger(__name__)

DEVSTACK_READY_TIMEOUT_S = 90.0


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
STACK_RESTARTED_TEXT = ("The local stack was restarted: its sign-in service and demo passwords are new, so this "
                        "window cannot sign in to it. Quit and start the app again.")
STACK_NOT_ANSWERING_TEXT = "The local stack is not answering (paused or very busy); waiting for it…"
STACK_OUTAGE_GRACE_S = 10.0  # silence shorter than this (a pause, a busy start) is not worth a word


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

    async def wait_ready(self, timeout: float = DEVSTACK_READY_TIMEOUT_S,
                         on_progress: Callable[[str], None] | None = None) -> dict:
        """Wait for the ready file; ``on_progress(text)`` gets each new step the starting stack
        reports (what it is doing, in words). Raises ``RuntimeError`` if the child exits or time
        runs out."""
        from presence_desktop.devstack.cli import progress_file_for

        progress = progress_file_for(self.ready_file)
        last = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if on_progress is not None:
                try:
                    step = progress.read_text(encoding="utf-8").strip()
                except OSError:
                    step = None
                if step and step != last:
                    last = step
                    on_progress(step)
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the devstack exited with code {self.process.returncode}; see {self.log_path}")
            if self.ready_file.exists():
                try:
                    return json.loads(self.ready_file.read_text(encoding="utf-8"))
                except ValueError:
                    pass  # written atomically, but be lenient
            await asyncio.sleep(0.2)
        raise RuntimeError(f"the devstack was not ready within {timeout:.0f} s; see {self.log_path}")

    async def watch(self, info: dict, interval_s: float = 1.0, on_outage: Callable[[bool], None] | None = None,
                    outage_grace_s: float = STACK_OUTAGE_GRACE_S) -> tuple[str, str] | None:
        """Wait until the stack goes away for good; return ``(text for the window, reason for the
        log)``, or None once we stopped it ourselves.

        Our own child: its exit. A stack another app started (the ready file's ``pid``): that
        process is gone, or a *different* stack now owns the ready file (restarted: its
        in-memory Cognito is new, so this window's sign-in cannot work there). A relay that does
        not answer is no proof of either (a pause, a busy machine, a restart of the relay alone):
        after ``outage_grace_s`` of silence ``on_outage(True)`` is called, and ``on_outage(False)``
        once it answers again."""
        silent_since: float | None = None
        reported = False
        while not self.stopping:
            await asyncio.sleep(interval_s)
            if self.stopping:
                break
            if self.process is not None:
                code = self.process.poll()
                if code is not None:
                    return STACK_STOPPED_TEXT, f"the local stack exited with code {code} (see {self.log_path})"
                continue
            other = self._other_stack(info)
            if other is not None:
                return STACK_RESTARTED_TEXT, f"the ready file now names another local stack (pid {other})"
            pid = info.get("pid")
            if isinstance(pid, int) and _process_alive(pid) is False:
                return STACK_STOPPED_TEXT, f"the local stack (pid {pid}) is gone"
            relay = (info.get("relay") or {}).get("url")
            if relay and not await asyncio.to_thread(_reachable, relay):
                silent_since = silent_since if silent_since is not None else time.monotonic()
                if not reported and time.monotonic() - silent_since >= outage_grace_s:
                    reported = True
                    if on_outage is not None:
                        on_outage(True)
            else:
                silent_since = None
                if reported:
                    reported = False
                    if on_outage is not None:
                        on_outage(False)
        return None

    def _other_stack(self, info: dict) -> int | str | None:
        """The pid of a different stack the ready file names now (None: the same one, or none)."""
        try:
            now = json.loads(self.ready_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        pool = (info.get("cognito") or {}).get("user_pool_id")
        if now.get("pid") != info.get("pid") or (now.get("cognito") or {}).get("user_pool_id") != pool:
            return now.get("pid") or "?"
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


def profile_from_ready_file(path: str | Path, name: str = "local") -> Profile:
    """Build the local profile from the devstack's ready file (see ``presence-devstack``).

    Raises ``OSError``, ``ValueError`` (bad JSON) or ``pydantic.ValidationError``.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    events = data["events"]
    cognito = data["cognito"]
    relay = data["relay"]
    return Profile(
        name=name,
        kind="local",
        cognito=CognitoSettings(
            region=cognito["region"],
            user_pool_id=cognito["user_pool_id"],
            client_id=cognito["client_id"],
            endpoint=cognito["endpoint"],
            issuer=cognito["issuer"],
            jwks_url=cognito["jwks_url"],
            password_policy=cognito.get("password_policy"),
        ),
        events=EventsSettings(
            http_url=events["http"],
            realtime_url=events["realtime"],
            region=data["region"],
            ca_file=events.get("ca_file"),
            allow_plaintext=not events["realtime"].startswith("wss://"),
            api_key=events.get("api_key"),
        ),
        relay=RelaySettings(url=relay["url"], ca_file=relay.get("ca_file") or events.get("ca_file")),
    )
