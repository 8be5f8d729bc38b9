"""Staffing floors: "at least N agents of a team in these statuses" (e.g. Available + On call >= 4).

A team's floors are set by a supervisor of that team and stored by the relay, so every supervisor
of the team sees the same ones (docs/relay-api.md, ``/v1/floors``). The counts bar and the
wallboard compare live counts with them; alerts fire when a team drops below one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_FLOORS_PER_TEAM = 10
MAX_MINIMUM = 10_000
LABEL_MAX_CHARS = 40


class FloorError(ValueError):
    """A floor document that cannot be accepted; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class Floor:
    """``minimum`` agents must be in one of ``statuses`` (status ids); ``label`` names it for
    people (default: the statuses joined with " + ")."""

    statuses: tuple[str, ...]
    minimum: int
    label: str | None = None

    def count(self, counts: Mapping[str, int]) -> int:
        """How many agents the floor counts, given agents per status id."""
        return sum(counts.get(s, 0) for s in self.statuses)

    def shortfall(self, counts: Mapping[str, int]) -> int:
        """How many agents are missing to reach the floor (0 = met)."""
        return max(0, self.minimum - self.count(counts))

    def describe(self, label_of: Callable[[str], str]) -> str:
        """The floor's name for people: its label, else its statuses' labels joined with " + "
        (``label_of(status_id)``)."""
        return self.label or " + ".join(label_of(s) for s in self.statuses)

    def to_dict(self) -> dict[str, Any]:
        return {"statuses": list(self.statuses), "minimum": self.minimum, "label": self.label}


def parse_floors(data: Any, known_statuses: Iterable[str]) -> tuple[Floor, ...]:
    """Floors from their JSON shape ``[{"statuses": [id...], "minimum": int, "label"?: str}]``.

    Raises :class:`FloorError` for anything else: unknown status ids, a minimum outside
    0..10,000, more than 10 floors, duplicate status sets, a label over 40 characters."""
    known = set(known_statuses)
    if not isinstance(data, list):
        raise FloorError("floors must be a list")
    if len(data) > MAX_FLOORS_PER_TEAM:
        raise FloorError(f"at most {MAX_FLOORS_PER_TEAM} floors per team")
    out: list[Floor] = []
    seen: set[frozenset[str]] = set()
    for i, item in enumerate(data):
        if not isinstance(item, dict) or set(item) - {"statuses", "minimum", "label"}:
            raise FloorError(f"floor {i + 1}: an object with statuses, minimum and an optional label")
        statuses = item.get("statuses")
        if not isinstance(statuses, list) or not statuses or not all(isinstance(s, str) for s in statuses):
            raise FloorError(f"floor {i + 1}: statuses must be a non-empty list of status ids")
        unknown = [s for s in statuses if s not in known]
        if unknown:
            raise FloorError(f"floor {i + 1}: unknown status id(s) {', '.join(sorted(unknown))}")
        minimum = item.get("minimum")
        if not isinstance(minimum, int) or isinstance(minimum, bool) or not 0 <= minimum <= MAX_MINIMUM:
            raise FloorError(f"floor {i + 1}: minimum must be a whole number from 0 to {MAX_MINIMUM}")
        label = item.get("label")
        if label is not None and (not isinstance(label, str) or len(label) > LABEL_MAX_CHARS):
            raise FloorError(f"floor {i + 1}: label must be text of at most {LABEL_MAX_CHARS} characters")
        key = frozenset(statuses)
        if key in seen:
            raise FloorError(f"floor {i + 1}: the same statuses are already a floor")
        seen.add(key)
        out.append(Floor(tuple(dict.fromkeys(statuses)), minimum, label.strip() or None if label else None))
    return tuple(out)
