"""Hold one realtime connection to a deployed Event API and report how it lived: the first-deployment
check of liveness (packaging/README.md, "First deployment").

    python packaging/probe_connection.py --profile prod --username ada [--minutes 10] [--ping-interval 20]

Signs in as ``--username`` with the saved app profile (``presence-desktop profile import``; the
password is read from the terminal, never echoed, logged or stored; an account that must still set
its password or MFA: sign in once with the app first), subscribes to the user's channel as the app
does, and holds the connection. Without ``--ping-interval`` no WebSocket pings are sent, as the app
does by default. Prints one line per connection state change, then a summary: minutes held,
reconnects, lagging reports, the ``ka`` interval the server kept. Exit 0 when the connection never
dropped, 1 otherwise, 2 when it could not start.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout


@dataclass
class Summary:
    held_s: float = 0.0
    reconnects: int = 0
    lagging: int = 0
    ka_interval_s: float | None = None
    states: list[str] = field(default_factory=list)

    def line(self) -> str:
        ka = f"{self.ka_interval_s:.1f} s" if self.ka_interval_s is not None else "not seen twice"
        return (f"held {self.held_s / 60:.1f} min; reconnects {self.reconnects}; lagging reports {self.lagging}; "
                f"ka interval {ka}")


async def hold(client: Any, channel: str, seconds: float, out=print) -> Summary:
    """Subscribe ``client`` (an EventsClient) to ``channel`` and keep it ``seconds``; report."""
    summary = Summary()
    start = time.monotonic()

    def on_state(state: Any) -> None:
        text = state.status + (" (lagging)" if getattr(state, "lagging", False) else "")
        if state.reason:
            text += f": {state.reason}"
        summary.states.append(text)
        if getattr(state, "lagging", False):
            summary.lagging += 1
        out(f"{time.monotonic() - start:8.1f} s  {text}")

    remove = client.add_state_listener(on_state)
    try:
        await client.subscribe(channel, timeout=30)
        deadline = start + seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            summary.ka_interval_s = client.ka_interval_observed or summary.ka_interval_s
    finally:
        remove()
    summary.held_s = time.monotonic() - start
    summary.reconnects = int(client.stats["reconnects"])
    return summary


async def _main(args: argparse.Namespace) -> int:
    from presence_desktop.auth.session import AuthSession, SignedIn
    from presence_desktop.client.backends import channel_for_identity
    from presence_desktop.client.settings import SettingsStore
    from presence_desktop.domain.identity import Identity
    from presence_desktop.events_api.auth import CognitoAuth, http_host
    from presence_desktop.events_api.client import EventsClient

    profile = SettingsStore(args.config_dir).load_profile(args.profile)
    session = AuthSession(profile.cognito)
    result = await session.sign_in(args.username, getpass.getpass(f"password for {args.username}: "))
    if not isinstance(result, SignedIn):
        print(f"sign-in needs a step this probe does not do ({type(result).__name__}); sign in once with the app")
        return 2
    claims = session.claims
    identity = Identity(username=claims.username, sub=claims.sub, groups=claims.groups, team_id=claims.team_id)
    auth = CognitoAuth(session.id_token, http_host(profile.events.http_url), force_refresh=session.force_refresh)
    client = EventsClient.from_settings(profile.events, auth, ping_interval=args.ping_interval)
    channel = channel_for_identity(identity)
    print(f"holding {channel} for {args.minutes:g} min, WebSocket pings "
          + (f"every {args.ping_interval:g} s" if args.ping_interval else "off"))
    try:
        summary = await hold(client, channel, args.minutes * 60)
    finally:
        await client.close()
    print(summary.line())
    return 0 if summary.reconnects == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", required=True, help="a saved profile name (presence-desktop profile import)")
    parser.add_argument("--username", required=True)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--ping-interval", type=float, default=None, help="seconds between WebSocket pings (default: none)")
    parser.add_argument("--config-dir", type=Path, default=None, help="the app's config folder (default: the app's)")
    args = parser.parse_args(argv)
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
