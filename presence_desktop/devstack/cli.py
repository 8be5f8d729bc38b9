"""``presence-devstack``: the whole local stack on 127.0.0.1 in one command.

Starts Cognito, the AppSync Events server, the relay and (optionally) simulated agents (each part
as far as it exists; see :class:`~presence_desktop.devstack.stack.DevStack`), writes the JSON
ready file once every server accepts connections, and runs until SIGINT or SIGTERM, then removes
the ready file (so nobody picks up a stack that is going away), stops everything and exits 0 (1 if
the stack could not start or did not stop within ``STOP_DEADLINE_S``, or on a second signal while
stopping; 2 on bad arguments).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from presence_desktop.devstack.stack import DevStack, StackOptions

log = logging.getLogger("presence_desktop.devstack")

STOP_DEADLINE_S = 10.0  # a clean stop takes ~3 s; never linger longer than this after a signal


def _exit_now(ready_file: Path | None, why: str) -> None:
    """Leave at once (a stop that hangs, or a second signal): remove the ready file, exit 1."""
    log.error("%s; exiting now", why)
    if ready_file is not None:
        ready_file.unlink(missing_ok=True)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    os._exit(1)


def _arm_stop_deadline(ready_file: Path | None, seconds: float = STOP_DEADLINE_S) -> threading.Timer:
    """A hard deadline for stopping: a part that hangs (or an executor thread that asyncio.run
    would wait for) must not keep the process alive."""
    timer = threading.Timer(seconds, _exit_now, (ready_file, f"the devstack did not stop within {seconds:.0f} s"))
    timer.daemon = True
    timer.start()
    return timer


def default_state_dir() -> Path:
    """Per-user state folder (local CA, generated credentials), e.g.
    ``~/.local/state/presence-desktop/devstack`` on Linux."""
    from platformdirs import user_state_dir

    return Path(user_state_dir("presence-desktop", appauthor=False)) / "devstack"


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is 0 (any free port) to 65535")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="presence-devstack",
        description="Run the local presence stack (Cognito, AppSync Events server, relay, simulated agents).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address every server binds (default %(default)s)")
    parser.add_argument("--port", type=_port, default=0, help="events server port; 0 = any free port (default)")
    parser.add_argument("--cognito-port", type=_port, default=0, help="local Cognito port; 0 = any free port")
    parser.add_argument("--relay-port", type=_port, default=0, help="relay port; 0 = any free port")
    parser.add_argument("--ready-file", type=Path, help="write the ready JSON here once everything accepts connections")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="where the local CA and generated credentials live (default: a per-user state folder)")
    parser.add_argument("--no-tls", action="store_true", help="serve plain http/ws (AWS's JS client needs TLS)")
    parser.add_argument("--region", default="us-east-1", help="AWS region the local services claim (default %(default)s)")
    parser.add_argument("--agents", type=_non_negative, default=0, help="simulated agents changing status (default 0)")
    parser.add_argument("--teams", type=_non_negative, default=4, help="teams of the simulated agents (default 4)")
    parser.add_argument("--agent-interval", type=_positive_float, default=8.0,
                        help="mean seconds between a simulated agent's status changes (default 8)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def options_from_args(args: argparse.Namespace) -> StackOptions:
    return StackOptions(
        state_dir=args.state_dir or default_state_dir(),
        host=args.host,
        events_port=args.port,
        cognito_port=args.cognito_port,
        relay_port=args.relay_port,
        tls=not args.no_tls,
        region=args.region,
        simulate_agents=args.agents,
        simulate_teams=args.teams,
        simulate_mean_interval_s=args.agent_interval,
    )


def _summary(stack: DevStack, ready_file: Path | None) -> str:
    info = stack.ready_info()
    lines = ["presence devstack is running (Ctrl+C to stop)"]
    events = info.get("events") or {}
    for label, key in (("events http", "http"), ("events realtime", "realtime"), ("local CA", "ca_file")):
        if events.get(key):
            lines.append(f"  {label:<16} {events[key]}")
    if (info.get("cognito") or {}).get("endpoint"):
        lines.append(f"  {'cognito':<16} {info['cognito']['endpoint']}")
    if (info.get("relay") or {}).get("url"):
        lines.append(f"  {'relay':<16} {info['relay']['url']}")
    users = info.get("users") or []
    if users:
        shown = ", ".join(u.get("username", "?") for u in users[:6]) + (" ..." if len(users) > 6 else "")
        lines.append(f"  {'demo users':<16} {shown}")
    free = info.get("free_users") or []
    if free:
        teams = {u.get("username"): u.get("team_id") for u in users}
        named = [f"{name} ({teams[name]})" if teams.get(name) else name for name in free]
        shown = ", ".join(named if len(named) <= 6 else [named[0], "...", *named[-4:]])
        lines.append(f"  {'free for you':<16} {shown} (not simulated: sign in as these)")
    if ready_file:
        lines.append(f"  {'ready file':<16} {ready_file} (keys, passwords)")
    return "\n".join(lines)


async def run(options: StackOptions, ready_file: Path | None) -> int:
    """Start the stack, write the ready file, wait for SIGINT/SIGTERM, stop. Returns the exit code."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            _exit_now(ready_file, "a second signal while stopping")
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    stack = DevStack(options)
    try:
        try:
            await stack.start()
        except Exception as exc:  # report, clean up what started, exit 1
            log.error("the devstack could not start: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
            return 1
        if ready_file is not None:
            stack.write_ready_file(ready_file)
        print(_summary(stack, ready_file), flush=True)
        await stop.wait()
        log.info("stopping")
        return 0
    finally:
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)
        _arm_stop_deadline(ready_file)  # not cancelled: it also covers asyncio.run's own cleanup
        await stack.stop()
        log.info("stopped")
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(run(options_from_args(args), args.ready_file))


if __name__ == "__main__":
    sys.exit(main())
