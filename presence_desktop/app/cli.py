"""``presence-desktop``: the desktop app's command line (argparse).

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
import logging
import os
import sys
import threading
from pathlib import Path

from presence_desktop.app.version import version

log = logging.getLogger("presence_desktop")

# Here, not in devstack/launcher.py: the parser must not load the devstack.
DEMO_SUPERVISOR = "sup-1"
LOCAL_PROFILE = "local"


class _VersionAction(argparse.Action):
    """``--version``: argparse's own action needs the string up front; the package metadata
    lookup behind it is left for when someone asks."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0,
                         help=help or "show the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"presence-desktop {version()}")  # stdout, as argparse's own version action
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
    parser.add_argument("--wallboard", action="store_true",
                        help="also open the full-screen wallboard of the watched teams (supervisors, managers)")
    parser.add_argument("--self-test", action="store_true",
                        help="load Qt, the keyring backend and websockets, draw the roster once offscreen, exit 0")
    parser.add_argument("--log-level", default=os.environ.get("PRESENCE_LOG_LEVEL", "WARNING"),
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


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
        from presence_desktop.app import profile_import

        return profile_import.main(argv[2:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.self_test:
        from presence_desktop.app.selftest import self_test

        return self_test()
    if args.user and (args.profile or LOCAL_PROFILE) != LOCAL_PROFILE:
        print("error: --user is for the local devstack's demo users (--profile local)", file=sys.stderr)
        return 2
    from presence_desktop.app.platform import no_display_problem

    problem = no_display_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    from presence_desktop.app.gui import run_gui

    try:
        code = run_gui(args)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _leave(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
