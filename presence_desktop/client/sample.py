"""Sample roster data for ``--self-test`` and for GUI tests (no network). Deterministic per seed."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from presence_desktop.domain.presence import PresenceEvent, format_time

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "John",
         "Radia", "Dennis", "Hedy", "Tim", "Katherine", "Linus", "Sophie", "Guido", "Anita", "Niklaus"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Allen",
        "McCarthy", "Perlman", "Ritchie", "Lamarr", "Berners-Lee", "Johnson", "Torvalds", "Wilson", "van Rossum",
        "Borg", "Wirth"]
STATUS_IDS = ["available", "on_call", "after_call_work", "break", "lunch", "training", "away", "offline"]


def sample_name(i: int) -> str:
    """A distinct display name for agent number ``i`` (1-based; distinct for i <= 400)."""
    k = i - 1
    return f"{FIRST[k % 20]} {LAST[(k * 3 + k // 20 * 7) % 20]}"


def sample_events(n: int = 40, teams: int = 4, seed: int = 7, status_ids: Iterable[str] | None = None, now: float | None = None) -> list[PresenceEvent]:
    rnd = random.Random(seed)
    ids = list(status_ids or STATUS_IDS)
    now = time.time() if now is None else now
    out = []
    for i in range(1, n + 1):
        source = rnd.choice(["manual", "manual", "manual", "supervisor", "system"])
        out.append(PresenceEvent(
            agent_id=f"agent-{i}", team_id=f"team-{(i - 1) % teams + 1}", display_name=sample_name(i),
            status=rnd.choice(ids), version=rnd.randint(1, 30),
            changed_at=format_time(datetime.fromtimestamp(now - rnd.uniform(5, 1800), UTC)),
            message=rnd.choice([None, None, None, "back in 10", "coaching session", "VIP queue"]),
            source=source, changed_by="sup-1" if source == "supervisor" else f"agent-{i}",
        ))
    return out
