"""The whole local stack on 127.0.0.1: Cognito, the events server, the relay, simulated agents.

Start order matters: the events server trusts the local Cognito's tokens, the relay publishes to
the events server and verifies Cognito tokens, the simulated agents sign in and talk to the relay.
Each part is owned by its own module; this class only wires them and writes the ready file.

Ready file (stable keys, other tools read them)::

    {"region": str,
     "events": {"http": "https://127.0.0.1:P/event", "realtime": "wss://127.0.0.1:P/event/realtime",
                "api_key": str, "ca_file": str},
     "iam": {"access_key_id": str, "secret_access_key": str},
     "cognito": {"endpoint", "region", "user_pool_id", "client_id", "jwks_url", "issuer",
                 "password_policy"},  # the pool's password rules in words
     "relay": {"url"},
     "users": [{"username", "password", "groups", "team_id", "supervises",
                "watches": [team, ...] | "all"}],   # the teams each may watch (docs/teams.md)
     "free_users": [username, ...],   # demo users the simulated agents never touch (for people)
     "pid": int}                      # the process serving the stack (ready file only)
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from presence_desktop.domain.identity import AGENT_GROUPS

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


EVENTS_CREDENTIALS_FILE = "events-credentials.json"
RELAY_STORE_FILE = "relay.sqlite3"  # demo state, fresh at every stack start (see DevStack._start_relay)


def load_or_create_events_credentials(state_dir: Path) -> dict[str, str]:
    """The events API key and the local IAM key pair, made at first start and kept in
    ``state_dir/events-credentials.json`` (mode 0600) so profiles stay valid across restarts.

    Shapes as AWS issues them: API key ``da2-`` + 26 chars; access key id ``AKIA`` + 16
    upper-case alphanumerics; secret 40 chars.
    """
    import secrets
    import string

    path = Path(state_dir) / EVENTS_CREDENTIALS_FILE
    keys = ("api_key", "access_key_id", "secret_access_key")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if all(isinstance(data.get(k), str) and data[k] for k in keys):
            return {k: data[k] for k in keys}
        log.warning("%s is incomplete; making new credentials", path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError):
        log.warning("%s is unreadable; making new credentials", path)
    lower = string.ascii_lowercase + string.digits
    upper = string.ascii_uppercase + string.digits
    data = {
        "api_key": "da2-" + "".join(secrets.choice(lower) for _ in range(26)),
        "access_key_id": "AKIA" + "".join(secrets.choice(upper) for _ in range(16)),
        "secret_access_key": secrets.token_urlsafe(30)[:40],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)
    return data


FREE_DEMO_AGENTS = 4  # one per team with the default 4 teams


def demo_agent_count(simulate_agents: int) -> int:
    """Demo agents to create: at least 40 (the demo roster), always FREE_DEMO_AGENTS more than
    the simulated ones, so people can sign in as an agent the simulator never touches."""
    return max(40, simulate_agents) + FREE_DEMO_AGENTS


class DevStack:
    """Start and stop every local service in order. ``await start()``, then ``ready_info()``."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.ca = None
        self.cognito = None  # LocalCognito (devstack/cognito.py)
        self.events = None  # EventsServer (devstack/events_server.py)
        self.relay = None  # relay service (relay/server.py)
        self.agents = None  # simulated agents (devstack/agents.py)
        self.simulated_usernames: set[str] = set()
        self.on_progress: Callable[[str], None] | None = None  # what the start is doing now, in words

    def _progress(self, text: str) -> None:
        if self.on_progress is not None:
            try:
                self.on_progress(text)
            except Exception:
                log.debug("progress report failed", exc_info=True)

    async def start(self) -> None:
        opts = self.options
        opts.state_dir.mkdir(parents=True, exist_ok=True)
        if opts.tls:
            from presence_desktop.devstack.tls import LocalCA

            self.ca = LocalCA.load_or_create(opts.state_dir)
        self._progress("starting the sign-in service (Cognito) and its demo users")
        await self._start_cognito()
        self._progress("starting the events server")
        await self._start_events()
        self._progress("starting the relay")
        await self._start_relay()
        await self._start_agents()

    # --- each part: owned by its module -------------------------------------------------------
    async def _start_cognito(self) -> None:
        from presence_desktop.devstack.cognito import LocalCognito

        opts = self.options
        # Enough demo agents for the simulation plus FREE_DEMO_AGENTS nobody simulates, for people
        # (a second window); creating one costs a few local API calls. ``extra["demo_agents"]`` overrides.
        agents = int(opts.extra.get("demo_agents", demo_agent_count(opts.simulate_agents)))
        cognito = LocalCognito(
            host=opts.host, port=opts.cognito_port, region=opts.region,
            agents=agents, teams=max(1, opts.simulate_teams),
        )
        await cognito.start()
        self.cognito = cognito

    async def _start_events(self) -> None:
        from presence_desktop.devstack.events_server import EventsServer, EventsServerConfig
        from presence_desktop.devstack.namespace_handlers import standard_namespaces

        opts = self.options
        creds = load_or_create_events_credentials(opts.state_dir)
        verifier = None
        if self.cognito is not None:  # trust the local pool's tokens (JWKS fetched from it)
            from presence_desktop.relay.cognito_jwt import CognitoTokenVerifier

            verifier = CognitoTokenVerifier(
                issuer=self.cognito.issuer, client_ids={self.cognito.client_id}, jwks_url=self.cognito.jwks_url
            )
        server = EventsServer(
            EventsServerConfig(
                host=opts.host,
                port=opts.events_port,
                tls=self.ca.server_context() if self.ca else None,
                ca_file=str(self.ca.ca_file) if self.ca else None,
                api_keys=(creds["api_key"],),
                iam_credentials={creds["access_key_id"]: creds["secret_access_key"]},
                region=opts.region,
                cognito_verifier=verifier,
                namespaces=standard_namespaces(),
            )
        )
        await server.start()
        self.events = server

    async def _start_relay(self) -> None:
        """The relay (relay/server.py) on ``host:relay_port``: verifies the local pool's id tokens,
        keeps presence in ``state_dir/relay.sqlite3`` (versions survive relay restarts), publishes to the
        local events server signed with its IAM key (trusting the local CA), and serves HTTPS with
        the local CA's certificate when TLS is on. ``extra["heartbeat_ttl_s"]`` overrides the TTL.

        The store is fresh at every stack start: the local Cognito is in memory, so each run has a
        new pool and new demo users, and rows from a previous run (e.g. its simulated agents) would
        show as live statuses until the heartbeat TTL ran out (``--agents 0`` after ``--agents 40``)."""
        if self.events is None or self.cognito is None:
            log.warning("relay not started: it needs the events server and the local Cognito")
            return
        from botocore.credentials import Credentials

        from presence_desktop.relay.cognito_jwt import CognitoTokenVerifier
        from presence_desktop.relay.core import RelayCore, RelayLimits
        from presence_desktop.relay.publisher import EventsPublisher
        from presence_desktop.relay.server import RelayService
        from presence_desktop.relay.store import SqliteStore

        opts = self.options
        iam = self.events.ready_info()["iam"]
        publisher = EventsPublisher(
            self.events.http_url, opts.region, Credentials(iam["access_key_id"], iam["secret_access_key"]),
            ssl_context=self.ca.client_context() if self.ca else None,
        )
        verifier = CognitoTokenVerifier(
            issuer=self.cognito.issuer, client_ids={self.cognito.client_id}, jwks_url=self.cognito.jwks_url
        )
        limits = RelayLimits(heartbeat_ttl_s=float(opts.extra.get("heartbeat_ttl_s", RelayLimits.heartbeat_ttl_s)))
        store_path = opts.state_dir / RELAY_STORE_FILE
        for stale in (store_path, *(store_path.with_name(store_path.name + s) for s in ("-wal", "-shm", "-journal"))):
            stale.unlink(missing_ok=True)
        from presence_desktop.relay.floors import SqliteFloors
        from presence_desktop.relay.history import SqliteHistory

        core = RelayCore(verifier, SqliteStore(store_path), publisher, limits=limits,
                         history=SqliteHistory(store_path), floors=SqliteFloors(store_path))
        service = RelayService(
            core, opts.host, opts.relay_port,
            ssl_context=self.ca.server_context() if self.ca else None,
            sweep_interval_s=float(opts.extra.get("relay_sweep_interval_s", 5.0)),
            ca_file=str(self.ca.ca_file) if self.ca else None,
        )
        try:
            await service.start()
        except BaseException:
            await core.close()
            raise
        self.relay = service

    async def _start_agents(self) -> None:
        """``simulate_agents`` demo agents (devstack/agents.py) sign in with the real SRP flow and
        change status through the relay every ``simulate_mean_interval_s`` seconds on average.
        Returns once each has published an initial status, so the ready file means a full roster."""
        opts = self.options
        if opts.simulate_agents <= 0:
            return
        if self.relay is None or self.cognito is None:
            log.warning("simulated agents not started: they need the local Cognito and the relay")
            return
        from presence_desktop.devstack.agents import SimulatedAgents

        users = [u for u in self.cognito.users if "support_agents" in u.groups][: opts.simulate_agents]
        if len(users) < opts.simulate_agents:
            log.warning("only %d demo agents exist; simulating those", len(users))
        self.simulated_usernames = {u.username for u in users}
        await asyncio.to_thread(self._name_demo_agents, users)
        agents = SimulatedAgents(
            self.relay.ready_info()["relay"]["url"], self.cognito.cognito_settings(), users,
            ca_file=str(self.ca.ca_file) if self.ca else None,
            mean_interval_s=opts.simulate_mean_interval_s,
            on_progress=self._progress,
        )
        try:
            await agents.start()
        except BaseException:
            await agents.stop()
            raise
        self.agents = agents

    def _name_demo_agents(self, users) -> None:
        """Give the simulated agents people's names (Cognito ``name``, which the relay uses as
        ``display_name``) so the demo roster reads like a team, not a list of ids."""
        from presence_desktop.client.sample import sample_name

        idp = self.cognito.admin_client()
        for user in users:
            number = user.username.rsplit("-", 1)[-1]
            if not number.isdigit():
                continue
            try:
                idp.admin_update_user_attributes(
                    UserPoolId=self.cognito.user_pool_id, Username=user.username,
                    UserAttributes=[{"Name": "name", "Value": sample_name(int(number))}],
                )
            except Exception as exc:  # noqa: BLE001 - names are cosmetic
                log.info("could not name %s: %s", user.username, exc)

    async def stop(self) -> None:
        """Stop in reverse order; never raises (logs what failed)."""
        for name in ("agents", "relay", "events", "cognito"):
            part = getattr(self, name)
            if part is None:
                continue
            try:
                await part.stop()
            except Exception:  # shutdown must go on
                log.exception("stopping %s failed", name)
            setattr(self, name, None)

    def ready_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"region": self.options.region}
        for name in ("cognito", "events", "relay"):
            part = getattr(self, name)
            if part is not None:
                info.update(part.ready_info())
        if "users" in info:  # who people may sign in as: the simulator never changes their status
            info["free_users"] = [
                u["username"] for u in info["users"]
                if set(u.get("groups") or ()) & set(AGENT_GROUPS)
                and u["username"] not in self.simulated_usernames
            ]
        return info

    def write_ready_file(self, path: Path) -> None:
        """Write the ready file atomically (readers never see half a file), mode 0600: it
        holds demo passwords and the local IAM secret. Adds ``"pid"``: the process serving the
        stack, so a reader can tell whether it is still alive."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({**self.ready_info(), "pid": os.getpid()}, fh, indent=2)
        os.replace(tmp, path)
