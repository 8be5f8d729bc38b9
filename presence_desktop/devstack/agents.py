"""Simulated agents for the devstack: demo users who sign in and change status through the relay.

Each agent signs in to the local Cognito with the real SRP flow (its own tokens, refreshed by
:class:`~presence_desktop.auth.session.AuthSession`), publishes an initial status, then changes
status at random moments (exponential gaps, mean ``mean_interval_s`` seconds) following a small
call-centre state machine (Available -> On call -> After-call work -> Available, with breaks,
lunch, training, away). An agent quiet for ``heartbeat_s`` sends a heartbeat so the relay's
TTL sweep does not set it offline. Everything goes through the relay's HTTP API, exactly like the
desktop app; nothing is written to the store directly.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from presence_desktop.client.ports import RelayError
from presence_desktop.client.relay_client import HttpRelayClient

log = logging.getLogger(__name__)

# status -> [(next status, weight)]; ids from the default catalogue (resources/statuses.json).
TRANSITIONS: dict[str, list[tuple[str, float]]] = {
    "available": [("on_call", 6), ("break", 1), ("away", 0.5), ("training", 0.3), ("lunch", 0.3)],
    "on_call": [("after_call_work", 8), ("available", 2)],
    "after_call_work": [("available", 9), ("break", 1)],
    "break": [("available", 1)],
    "lunch": [("available", 1)],
    "training": [("available", 1)],
    "away": [("available", 1)],
    "offline": [("available", 1)],
}
INITIAL: list[tuple[str, float]] = [
    ("available", 5), ("on_call", 6), ("after_call_work", 2), ("break", 1), ("lunch", 1), ("training", 0.5), ("away", 0.5)
]
MESSAGES = {"break": ["back in 10", None], "lunch": ["back at 13:30", None], "training": ["product training", None],
            "away": ["with a customer's manager", None]}


def _pick(rnd: random.Random, choices: list[tuple[str, float]], allowed: set[str] | None) -> str:
    pool = [(s, w) for s, w in choices if allowed is None or s in allowed] or [("available", 1.0)]
    total = sum(w for _s, w in pool)
    x = rnd.uniform(0, total)
    for status, weight in pool:
        x -= weight
        if x <= 0:
            return status
    return pool[-1][0]


@dataclass
class _Agent:
    username: str
    password: str
    team_id: str | None
    session: Any = None
    relay: HttpRelayClient | None = None
    status: str = "available"
    changes: int = 0
    last_event: Any = None  # the PresenceEvent the relay stored last


class SimulatedAgents:
    """``await start()`` signs every agent in and sets an initial status; then each agent changes
    status on its own schedule until ``await stop()``.

    ``users``: objects with ``username``, ``password``, ``team_id`` (the local Cognito's demo
    users). ``cognito``: :class:`presence_desktop.client.profile.CognitoSettings`. ``ca_file``: the local CA
    the relay's TLS certificate chains to (None for plain http). Times in seconds.
    """

    def __init__(
        self,
        relay_url: str,
        cognito: Any,
        users: Iterable[Any],
        *,
        ca_file: str | None = None,
        mean_interval_s: float = 8.0,
        heartbeat_s: float = 30.0,
        seed: int | None = None,
        statuses: Iterable[str] | None = None,
        sign_in_concurrency: int = 4,
    ) -> None:
        if mean_interval_s <= 0:
            raise ValueError("mean_interval_s must be > 0")
        self.relay_url = relay_url
        self.cognito = cognito
        self.ca_file = ca_file
        self.mean_interval_s = mean_interval_s
        self.heartbeat_s = heartbeat_s
        self.rnd = random.Random(seed)
        self.allowed = set(statuses) if statuses is not None else None
        self.agents = [_Agent(u.username, u.password, getattr(u, "team_id", None)) for u in users]
        self._sem = asyncio.Semaphore(max(1, sign_in_concurrency))
        self._tasks: list[asyncio.Task] = []
        self.errors = 0

    @property
    def changes(self) -> int:
        return sum(a.changes for a in self.agents)

    async def start(self) -> None:
        await asyncio.gather(*(self._sign_in(a) for a in self.agents))
        ready = [a for a in self.agents if a.relay is not None]
        log.info("simulated agents signed in: %d of %d", len(ready), len(self.agents))
        await asyncio.gather(*(self._set(a, _pick(self.rnd, INITIAL, self.allowed)) for a in ready))
        for agent in ready:
            self._tasks.append(asyncio.create_task(self._live(agent), name=f"sim-{agent.username}"))

    async def _sign_in(self, agent: _Agent) -> None:
        from presence_desktop.auth.session import AuthSession

        async with self._sem:
            session = AuthSession(self.cognito, None)
            try:
                result = await session.sign_in(agent.username, agent.password)
            except Exception as exc:  # noqa: BLE001 - one agent failing must not stop the others
                log.warning("simulated agent %s could not sign in: %s", agent.username, exc)
                self.errors += 1
                return
            if type(result).__name__ != "SignedIn":
                log.warning("simulated agent %s needs %s; skipped", agent.username, type(result).__name__)
                return
            agent.session = session
            agent.relay = HttpRelayClient(self.relay_url, session.id_token, refresh=session.force_refresh,
                                          ca_file=self.ca_file)

    async def _set(self, agent: _Agent, status: str) -> None:
        message = self.rnd.choice(MESSAGES.get(status, [None]))
        try:
            agent.last_event = await agent.relay.set_status(status, message)
        except RelayError as exc:
            self.errors += 1
            log.info("simulated agent %s: %s", agent.username, exc)
            return
        agent.status = status
        agent.changes += 1

    async def _live(self, agent: _Agent) -> None:
        quiet = 0.0
        while True:
            gap = self.rnd.expovariate(1.0 / self.mean_interval_s)
            if quiet + gap >= self.heartbeat_s:
                wait = max(0.0, self.heartbeat_s - quiet)
                await asyncio.sleep(wait)
                try:
                    await agent.relay.heartbeat()
                except RelayError as exc:
                    log.info("simulated agent %s heartbeat: %s", agent.username, exc)
                quiet = 0.0
                continue
            await asyncio.sleep(gap)
            await self._set(agent, _pick(self.rnd, TRANSITIONS.get(agent.status, TRANSITIONS["offline"]), self.allowed))
            quiet = 0.0

    async def stop(self) -> None:
        """Cancel the agents' loops and close their HTTP sessions. Never raises. The agents'
        statuses stay as they are (the relay's TTL sweep sets them offline later)."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        self._tasks.clear()
        for agent in self.agents:
            if agent.relay is not None:
                try:
                    await agent.relay.close()
                except Exception:  # noqa: BLE001
                    pass
