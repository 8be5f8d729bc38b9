"""Who someone is: the Cognito groups the product knows, a token's claims, and the signed-in
identity that the desktop and the relay act on.

One home for these words; nothing here checks a signature (``relay/cognito_jwt.py`` verifies,
``auth/claims.py`` reads the desktop's own id token).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Cognito groups (the user pool's, see packaging/cloudformation/presence.yaml).
SUPERVISORS = "supervisors"
SUPPORT_AGENTS = "support_agents"
# Members of any of these may use the app; everyone else is turned away.
AGENT_GROUPS: tuple[str, ...] = (SUPPORT_AGENTS, SUPERVISORS)


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


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is signed in, as the app and the relay act on it (from the id token's claims).

    ``display_name`` is the name others see (``name`` or ``preferred_username``; None = the
    username)."""

    username: str
    sub: str
    groups: tuple[str, ...] = ()
    team_id: str | None = None
    display_name: str | None = None

    @property
    def is_supervisor(self) -> bool:
        return SUPERVISORS in self.groups

    @property
    def may_use_app(self) -> bool:
        return any(g in self.groups for g in AGENT_GROUPS)

    @property
    def agent_id(self) -> str:
        """The agent id presence is filed under (the Cognito username)."""
        return self.username
