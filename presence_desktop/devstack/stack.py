"""The whole local stack on 127.0.0.1: Cognito, the events server, the relay, simulated agents.

Start order matters: the events server trusts the local Cognito's tokens, the relay publishes to
the events server and verifies Cognito tokens, the simulated agents sign in and talk to the relay.
Each part is owned by its own module; this class only wires them and writes the ready file.

Ready file (stable keys, other tools read them)::

    {"region": str,
     "events": {"http": "https://127.0.0.1:P/event", "realtime": "wss://127.0.0.1:P/event/realtime",
                "api_key": str, "ca_file": str},
     "iam": {"access_key_id": str, "secret_access_key": str},
     "cognito": {"endpoint", "region", "user_pool_id", "client_id", "jwks_url", "issuer"},
     "relay": {"url"},
     "users": [{"username", "password", "groups", "team_id"}]}
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class StackOptions:
    """What ``presence-devstack`` was asked for. Ports 0 = any free port."""

    state_dir: Path
    host: str = "127.0.0.1"
    events_port: int = 0
    cognito_port: int = 0
    relay_port: int = 0
    tls: bool = True
    region: str = "us-east-1"
    simulate_agents: int = 0
    simulate_teams: int = 4
    simulate_mean_interval_s: float = 8.0
    extra: dict[str, Any] = field(default_factory=dict)


class DevStack:
    """Start and stop every local service in order. ``await start()``, then ``ready_info()``."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.ca = None
        self.cognito = None  # LocalCognito (devstack/cognito.py)
        self.events = None  # EventsServer (devstack/events_server.py)
        self.relay = None  # relay service (relay/server.py)
        self.agents = None  # simulated agents (devstack/agents.py)

    async def start(self) -> None:
        opts = self.options
        opts.state_dir.mkdir(parents=True, exist_ok=True)
        if opts.tls:
            from presence_desktop.devstack.tls import LocalCA

            self.ca = LocalCA.load_or_create(opts.state_dir)
        await self._start_cognito()
        await self._start_events()
        await self._start_relay()
        await self._start_agents()

    # --- each part: owned by its module -------------------------------------------------------
    async def _start_cognito(self) -> None:
        from presence_desktop.devstack.cognito import LocalCognito

        opts = self.options
        # Enough demo agents for the simulation (default 40 over the simulated teams); creating
        # one costs a few local API calls. ``extra["demo_agents"]`` overrides.
        agents = int(opts.extra.get("demo_agents", max(40, opts.simulate_agents)))
        cognito = LocalCognito(
            host=opts.host, port=opts.cognito_port, region=opts.region,
            agents=agents, teams=max(1, opts.simulate_teams),
        )
        await cognito.start()
        self.cognito = cognito

    async def _start_events(self) -> None:
        pass  # filled by the events-server work (devstack/events_server.py)

    async def _start_relay(self) -> None:
        pass  # filled by the relay work (relay/server.py)

    async def _start_agents(self) -> None:
        pass  # filled by the desktop-app work (devstack/agents.py)

    async def stop(self) -> None:
        """Stop in reverse order; never raises (logs what failed)."""
        for name in ("agents", "relay", "events", "cognito"):
            part = getattr(self, name)
            if part is None:
                continue
            try:
                await part.stop()
            except Exception:  # noqa: BLE001 - shutdown must go on
                log.exception("stopping %s failed", name)
            setattr(self, name, None)

    def ready_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"region": self.options.region}
        for name in ("cognito", "events", "relay"):
            part = getattr(self, name)
            if part is not None:
                info.update(part.ready_info())
        return info

    def write_ready_file(self, path: Path) -> None:
        """Write the ready file atomically (readers never see half a file), mode 0600: it
        holds demo passwords and the local IAM secret."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.ready_info(), fh, indent=2)
        os.replace(tmp, path)
