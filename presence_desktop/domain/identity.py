"""Who someone is: the Cognito groups the product knows, a token's claims, and the signed-in
identity that the desktop and the relay act on.

One home for these words; nothing here checks a signature (``relay/cognito_jwt.py`` verifies,
``auth/claims.py`` reads the desktop's own id token).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from presence_desktop.domain.presence import valid_segment

# Cognito groups (the user pool's, see packaging/cloudformation/presence.yaml).
SUPERVISORS = "supervisors"
SUPPORT_AGENTS = "support_agents"
MANAGERS = "managers"  # may watch every team (not change anyone: that takes supervising the team)
# Members of any of these may use the app; everyone else is turned away.
AGENT_GROUPS: tuple[str, ...] = (SUPPORT_AGENTS, SUPERVISORS, MANAGERS)
# Id-token claims of the user pool's admin-only attributes (docs/teams.md says why attributes).
TEAM_CLAIM = "custom:team_id"  # the team an agent belongs to (one channel segment)
SUPERVISES_CLAIM = "custom:supervises"  # the teams a supervisor watches: "team-1,team-7"


def team_list(value: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``custom:supervises`` -> (valid team ids in order, without repeats; the rejected items).
    Items are split on ``,`` and stripped; an item that is not a channel segment (1-50
    alphanumerics or ``-``) is rejected, never widened. A non-string gives ``((), ())``."""
    if not isinstance(value, str):
        return (), ()
    good: list[str] = []
    bad: list[str] = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        if valid_segment(item):
            if item not in good:
                good.append(item)
        else:
            bad.append(item)
    return tuple(good), tuple(bad)


@dataclass(frozen=True)
class Claims:
    """What the rest of the code needs from a Cognito token.

    ``username`` is ``cognito:username`` (id token) or ``username`` (access token); ``groups``
    is ``cognito:groups`` (empty when absent); ``team_id`` is ``custom:team_id`` (id tokens
    only); ``exp`` is seconds since the epoch; ``raw`` holds every claim.
    """

    sub: str
    username: str
    groups: tuple[str, ...]
    token_use: str
    client_id: str
    issuer: str
    exp: int
    team_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def in_group(self, group: str) -> bool:
        return group in self.groups

    @property
    def supervises(self) -> tuple[str, ...]:
        """The valid team ids of ``custom:supervises`` (empty when absent; see :func:`team_list`)."""
        return team_list((self.raw or {}).get(SUPERVISES_CLAIM))[0]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is signed in, as the app and the relay act on it (from the id token's claims).

    ``display_name`` is the name others see (``name`` or ``preferred_username``; None = the
    username). ``supervised_teams`` are the teams of ``custom:supervises`` (counted only for
    members of ``supervisors``).

    Who may watch which team is decided here and nowhere else in Python (the relay, the devstack's
    namespace handler and the app ask :meth:`may_watch`); the APPSYNC_JS handler spells the same
    rule and packaging/handlers/cases.json holds both to it."""

    username: str
    sub: str
    groups: tuple[str, ...] = ()
    team_id: str | None = None
    display_name: str | None = None
    supervised_teams: tuple[str, ...] = ()

    @property
    def is_supervisor(self) -> bool:
        return SUPERVISORS in self.groups

    @property
    def is_manager(self) -> bool:
        return MANAGERS in self.groups

    @property
    def watches_many(self) -> bool:
        """A watcher of teams (supervisor or manager) rather than an agent of one team."""
        return self.is_supervisor or self.is_manager

    def may_watch(self, team: str | None) -> bool:
        """May this user see ``team``'s presence (subscribe to its channels, read its roster)?
        A manager: any team. A supervisor: the supervised teams. An agent (``support_agents``):
        the own ``team_id``. Nobody: ``None`` or an id that is not a channel segment."""
        if not valid_segment(team):
            return False
        if self.is_manager:
            return True
        if self.is_supervisor and team in self.supervised_teams:
            return True
        return SUPPORT_AGENTS in self.groups and self.team_id is not None and team == self.team_id

    def may_change(self, team: str | None) -> bool:
        """May this user set the status of another agent of ``team``? Only a supervisor of it."""
        return self.is_supervisor and valid_segment(team) and team in self.supervised_teams

    @property
    def watched_teams(self) -> tuple[str, ...] | None:
        """The teams this user may watch, in order; ``None`` = every team (a manager)."""
        if self.is_manager:
            return None
        teams = list(self.supervised_teams) if self.is_supervisor else []
        if SUPPORT_AGENTS in self.groups and self.team_id is not None and self.team_id not in teams:
            teams.append(self.team_id)
        return tuple(teams)

    @property
    def may_use_app(self) -> bool:
        return any(g in self.groups for g in AGENT_GROUPS)

    @property
    def agent_id(self) -> str:
        """The agent id presence is filed under (the Cognito username)."""
        return self.username


def identity_from_token(username: str, sub: str, groups: Any, claims: Mapping[str, Any] | None) -> Identity:
    """An :class:`Identity` from a token's username, sub, ``cognito:groups`` (a list or None)
    and claims (``custom:team_id``, ``custom:supervises``, ``name``, ``preferred_username``).
    A team id that is not a channel segment becomes ``None`` (no team), never a wider view."""
    claims = claims or {}
    group_list = groups if isinstance(groups, (list, tuple)) else ()
    group_tuple = tuple(str(g) for g in group_list)
    team = claims.get(TEAM_CLAIM)
    supervised = team_list(claims.get(SUPERVISES_CLAIM))[0] if SUPERVISORS in group_tuple else ()
    return Identity(
        username=username, sub=sub, groups=group_tuple,
        team_id=team if valid_segment(team) else None,
        supervised_teams=supervised,
    )
