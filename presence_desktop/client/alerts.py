"""A supervisor's alerts: "tell me when …", checked against the live roster (no Qt).

Four kinds, each firing once per occurrence (a transition, not a state):

- ``agent_available``: an agent moves from a non-routable status to a routable one;
- ``team_available``: anyone of a team does;
- ``below_floor``: a team's count for one of its staffing floors drops below the minimum (again
  after it was met);
- ``over_budget``: an agent passes the time budget of their status (Break 15 min), once per stint.

Nothing fires while the roster is not current (joining, disconnected): a stale row must not
raise an alarm. The first look at an agent or team sets the baseline silently, so starting the
app or adding a rule does not fire for what is already true.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from presence_desktop.domain.floors import Floor
from presence_desktop.domain.statuses import Status, StatusCatalogue

AlertKind = Literal["agent_available", "team_available", "below_floor", "over_budget"]
KINDS: tuple[AlertKind, ...] = ("agent_available", "team_available", "below_floor", "over_budget")


class RosterView(Protocol):
    """What the alerts read of the roster (domain.roster.Roster satisfies it)."""

    joining: bool

    def agent_ids(self) -> list[str]: ...

    def get(self, agent_id: str) -> object | None: ...

    def display_status(self, agent_id: str, now: float | None = None) -> Status: ...

    def budget_level(self, agent_id: str, now: float | None = None) -> str: ...


@dataclass(frozen=True)
class AlertRule:
    """One "tell me when"; ``agent_id`` for agent rules, ``team_id`` for team rules (``over_budget``
    takes either, or neither for every watched agent). ``once``: removed after it fires."""

    kind: AlertKind
    agent_id: str | None = None
    team_id: str | None = None
    once: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown alert kind {self.kind!r}")
        if self.kind == "agent_available" and not self.agent_id:
            raise ValueError("agent_available needs an agent")
        if self.kind in ("team_available", "below_floor") and not self.team_id:
            raise ValueError(f"{self.kind} needs a team")

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "agent_id": self.agent_id, "team_id": self.team_id, "once": self.once, "id": self.id}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> AlertRule:
        """Raises ValueError/TypeError for a malformed rule."""
        return cls(kind=data["kind"], agent_id=data.get("agent_id"), team_id=data.get("team_id"),  # type: ignore[arg-type]
                   once=bool(data.get("once", False)), id=str(data.get("id") or uuid.uuid4().hex[:12]))

    def describe(self, name_of: Callable[[str], str] = str, team_name: Callable[[str], str] = str) -> str:
        """The rule in plain words, for the alerts list."""
        if self.kind == "agent_available":
            return f"When {name_of(self.agent_id or '')} becomes available"
        if self.kind == "team_available":
            return f"When anyone in {team_name(self.team_id or '')} becomes available"
        if self.kind == "below_floor":
            return f"When {team_name(self.team_id or '')} drops below a staffing floor"
        if self.agent_id:
            return f"When {name_of(self.agent_id)} passes a status time budget"
        if self.team_id:
            return f"When anyone in {team_name(self.team_id)} passes a status time budget"
        return "When anyone passes a status time budget"


@dataclass(frozen=True)
class Alert:
    """A fired alert: ``title`` and ``text`` are plain text for a desktop notification."""

    rule: AlertRule
    title: str
    text: str
    agent_id: str | None = None
    team_id: str | None = None


class AlertEngine:
    """Holds the rules and what was last seen; :meth:`check` returns the alerts that fire now.

    ``team_of(agent_id)`` and ``name_of(agent_id)`` read the roster's entry (team id, display
    name); ``team_name(team_id)`` gives a team's display name."""

    def __init__(self, catalogue: StatusCatalogue, *, team_of: Callable[[str], str | None],
                 name_of: Callable[[str], str], team_name: Callable[[str], str] = str,
                 rules: Iterable[AlertRule] = ()) -> None:
        self.catalogue = catalogue
        self.team_of = team_of
        self.name_of = name_of
        self.team_name = team_name
        self.rules: list[AlertRule] = list(rules)
        self._routable: dict[str, bool] = {}
        self._over: dict[str, str] = {}  # agent -> status id it was last seen over budget in
        self._below: dict[tuple[str, int], bool] = {}

    def add(self, rule: AlertRule) -> None:
        if any(r.kind == rule.kind and r.agent_id == rule.agent_id and r.team_id == rule.team_id for r in self.rules):
            return  # the same question twice would notify twice
        self.rules.append(rule)

    def remove(self, rule_id: str) -> None:
        self.rules = [r for r in self.rules if r.id != rule_id]

    def check(self, roster: RosterView, floors: Mapping[str, tuple[Floor, ...]], now: float,
              live: bool = True) -> list[Alert]:
        """Compare the roster with what was last seen; return the alerts that fire (and drop the
        ``once`` rules among them). ``live`` False (joining, disconnected): only the baseline moves
        on when live again; nothing fires."""
        if not self.rules:
            # Nothing can fire: no walk over the roster (each second, every agent: most of the
            # app's idle CPU at 5,000 agents, bench/README.md). The baseline goes, so the first
            # check after a rule is added looks anew and fires only for what changes from then.
            self._routable.clear()
            self._over.clear()
            self._below.clear()
            return []
        fired: list[Alert] = []
        became_routable: list[str] = []
        counts: dict[str, dict[str, int]] = {}
        current = set(roster.agent_ids())
        for gone in [a for a in self._routable if a not in current]:
            self._routable.pop(gone, None)
            self._over.pop(gone, None)
        for agent in current:
            status = roster.display_status(agent, now)
            team = self.team_of(agent)
            if team is not None:
                per = counts.setdefault(team, {})
                per[status.id] = per.get(status.id, 0) + 1
            if not live or roster.joining:
                continue
            was = self._routable.get(agent)
            self._routable[agent] = status.routable
            if was is False and status.routable:
                became_routable.append(agent)
            over = roster.budget_level(agent, now) == "over"
            if not over:
                self._over.pop(agent, None)
            elif self._over.get(agent) != status.id:
                first_sight = agent not in self._over and was is None
                self._over[agent] = status.id
                if not first_sight:
                    fired += self._over_budget(agent, status)
        if not live or roster.joining:
            return []
        for agent in became_routable:
            fired += self._available(agent, roster.display_status(agent, now))
        for team, team_floors in floors.items():
            for i, floor in enumerate(team_floors):
                key = (team, i)
                below = floor.shortfall(counts.get(team, {})) > 0
                was_below = self._below.get(key)
                self._below[key] = below
                if below and was_below is False:
                    fired += self._below_floor(team, floor, counts.get(team, {}))
        once = {a.rule.id for a in fired if a.rule.once}
        if once:
            self.rules = [r for r in self.rules if r.id not in once]
        return fired

    def _available(self, agent: str, status: Status) -> list[Alert]:
        team = self.team_of(agent)
        out = []
        for rule in self.rules:
            if (rule.kind == "agent_available" and rule.agent_id == agent) or (
                    rule.kind == "team_available" and team is not None and rule.team_id == team):
                out.append(Alert(rule, f"{self.name_of(agent)} is {status.label.lower()}",
                                 f"{self.name_of(agent)} ({self.team_name(team or '')}) is now {status.label}.",
                                 agent, team))
        return out

    def _over_budget(self, agent: str, status: Status) -> list[Alert]:
        team = self.team_of(agent)
        out = []
        for rule in self.rules:
            if rule.kind != "over_budget":
                continue
            if (rule.agent_id and rule.agent_id != agent) or (rule.team_id and rule.team_id != team):
                continue
            minutes = (status.budget_s or 0) // 60
            out.append(Alert(rule, f"{self.name_of(agent)}: {status.label} over budget",
                             f"{self.name_of(agent)} has been on {status.label} for more than {minutes} min.",
                             agent, team))
        return out

    def _below_floor(self, team: str, floor: Floor, counts: Mapping[str, int]) -> list[Alert]:
        label = floor.describe(lambda s: self.catalogue.display(s).label)
        return [Alert(rule, f"{self.team_name(team)} below its floor",
                      f"{label}: {floor.count(counts)} of at least {floor.minimum}.", None, team)
                for rule in self.rules if rule.kind == "below_floor" and rule.team_id == team]
