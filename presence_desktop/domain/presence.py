"""The presence event: the one payload that travels on channel ``/agent-presence/<team>/<agent>``.

AppSync Events ``data`` frames carry no channel, so the payload says everything. JSON, compact,
versioned (``schema``). ``version`` is a per-agent counter assigned by the relay's store; a
client applies an event only if its version is newer than what it holds.

Wire shape (docs/relay-api.md, "The presence event")::

    {"kind":"presence","schema":1,"agent_id":"a-1","team_id":"team-1","display_name":"Ada",
     "status":"available","message":null,"source":"manual","changed_by":"<sub>","version":17,
     "changed_at":"2026-11-29T19:00:00.123Z"}
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

SCHEMA = 1
KIND = "presence"
NAMESPACE = "agent-presence"
SOURCES = ("manual", "idle", "supervisor", "system")
MESSAGE_MAX_CHARS = 140
DISPLAY_NAME_MAX_CHARS = 100

# Channel segment rule (AppSync Events channel namespaces doc): alphanumerics and '-', 1-50 chars.
SEGMENT_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?\Z")  # \Z: "$" also matches before a final "\n"


class PresenceError(ValueError):
    """A payload that is not a valid presence event; the message says which field and why."""


def valid_segment(value: object) -> bool:
    """True when ``value`` may be a channel segment (agent id, team id)."""
    return isinstance(value, str) and bool(SEGMENT_RE.match(value))


def utc_now_iso() -> str:
    """Current UTC time as ISO 8601 with milliseconds and ``Z`` (``2026-11-29T19:00:00.123Z``)."""
    return format_time(datetime.now(UTC))


def format_time(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 UTC timestamp; raises :class:`PresenceError`."""
    if not isinstance(text, str):
        raise PresenceError("changed_at must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PresenceError(f"changed_at is not ISO 8601: {text!r}") from None
    if moment.tzinfo is None:
        raise PresenceError("changed_at must carry a time zone (use Z)")
    return moment.astimezone(UTC)


def channel_for(team_id: str, agent_id: str) -> str:
    """The channel of one agent: ``/agent-presence/<team_id>/<agent_id>``."""
    if not valid_segment(team_id):
        raise PresenceError(f"team_id {team_id!r} is not a valid channel segment")
    if not valid_segment(agent_id):
        raise PresenceError(f"agent_id {agent_id!r} is not a valid channel segment")
    return f"/{NAMESPACE}/{team_id}/{agent_id}"


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    """One agent's status at one version. Immutable; use :meth:`with_` for a changed copy."""

    agent_id: str
    team_id: str
    display_name: str
    status: str
    version: int
    changed_at: str
    source: str = "manual"
    changed_by: str | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if not valid_segment(self.agent_id):
            raise PresenceError(f"agent_id {self.agent_id!r}: alphanumerics and '-', 1-50 chars")
        if not valid_segment(self.team_id):
            raise PresenceError(f"team_id {self.team_id!r}: alphanumerics and '-', 1-50 chars")
        if not isinstance(self.display_name, str) or len(self.display_name) > DISPLAY_NAME_MAX_CHARS:
            raise PresenceError(f"display_name must be a string of at most {DISPLAY_NAME_MAX_CHARS} chars")
        if not isinstance(self.status, str) or not self.status:
            raise PresenceError("status must be a non-empty string")
        if not isinstance(self.version, int) or isinstance(self.version, bool) or self.version < 1:
            raise PresenceError("version must be a whole number >= 1")
        if self.source not in SOURCES:
            raise PresenceError(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.message is not None and (not isinstance(self.message, str) or len(self.message) > MESSAGE_MAX_CHARS):
            raise PresenceError(f"message must be a string of at most {MESSAGE_MAX_CHARS} chars")
        if self.changed_by is not None and not isinstance(self.changed_by, str):
            raise PresenceError("changed_by must be a string")
        parse_time(self.changed_at)

    @property
    def channel(self) -> str:
        return channel_for(self.team_id, self.agent_id)

    @property
    def changed_at_dt(self) -> datetime:
        return parse_time(self.changed_at)

    def with_(self, **changes: Any) -> PresenceEvent:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        return {"kind": KIND, "schema": SCHEMA, **body}

    def to_json(self) -> str:
        """Compact JSON, non-ASCII kept as is (what is signed is what is sent)."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Any) -> PresenceEvent:
        """Validate and build from a parsed payload. Raises :class:`PresenceError`.

        Unknown extra fields are ignored (forward compatibility); a different ``schema`` major
        or ``kind`` is refused.
        """
        if not isinstance(data, dict):
            raise PresenceError("a presence event is a JSON object")
        if data.get("kind") != KIND:
            raise PresenceError(f"kind must be {KIND!r}")
        if data.get("schema") != SCHEMA:
            raise PresenceError(f"unsupported schema {data.get('schema')!r} (this app reads {SCHEMA})")
        fields = ("agent_id", "team_id", "display_name", "status", "version", "changed_at")
        missing = [f for f in fields if f not in data]
        if missing:
            raise PresenceError(f"missing field(s): {', '.join(missing)}")
        try:
            return cls(
                agent_id=data["agent_id"],
                team_id=data["team_id"],
                display_name=data["display_name"],
                status=data["status"],
                version=data["version"],
                changed_at=data["changed_at"],
                source=data.get("source", "manual"),
                changed_by=data.get("changed_by"),
                message=data.get("message"),
            )
        except TypeError as exc:
            raise PresenceError(str(exc)) from None

    @classmethod
    def from_json(cls, text: str | bytes) -> PresenceEvent:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PresenceError(f"not JSON: {exc}") from None
        return cls.from_dict(data)
