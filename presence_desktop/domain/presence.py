"""The presence event: the one payload that travels on channel ``/agent-presence/<team>/<agent>``.

AppSync Events ``data`` frames carry no channel, so the payload says everything. JSON, compact,
versioned (``schema``). ``version`` is a per-agent counter assigned by the relay's store; a
client applies an event only if its version is newer than what it holds.

Wire shape (docs/presence-event.md)::

    {"kind":"presence","schema":1,"agent_id":"a-1","team_id":"team-1","display_name":"Ada",
     "status":"available","message":null,"source":"manual","changed_by":"<sub>","version":17,
     "changed_at":"2026-11-29T19:00:00.123Z","status_since":"2026-11-29T18:52:10.004Z"}

``changed_at`` is when this version was stored (any change: status, message, who set it);
``status_since`` is when the *status* last changed, so a message edit keeps the time in status.
It is optional: an event without it (an older relay) means ``status_since == changed_at``, and
readers that do not know it ignore it (unknown fields are ignored), so schema stays 1.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from presence_desktop.domain.compact_json import compact_json

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


def _check_time(text: object, name: str) -> None:
    """``text`` is an ISO 8601 time with a zone; raises :class:`PresenceError` naming ``name``."""
    if not isinstance(text, str):
        raise PresenceError(f"{name} must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(text)  # Python 3.11+: "Z" included
    except ValueError:
        raise PresenceError(f"{name} is not ISO 8601: {text!r}") from None
    if moment.tzinfo is None:
        raise PresenceError(f"{name} must carry a time zone (use Z)")


def _check_fields(agent_id: Any, team_id: Any, display_name: Any, status: Any, version: Any, changed_at: Any,
                  source: Any, changed_by: Any, message: Any, status_since: Any) -> None:
    """The field rules of :class:`PresenceEvent` (its constructor and :meth:`PresenceEvent.from_dict`).
    Raises :class:`PresenceError` saying which field and why."""
    if not valid_segment(agent_id):
        raise PresenceError(f"agent_id {agent_id!r}: alphanumerics and '-', 1-50 chars")
    if not valid_segment(team_id):
        raise PresenceError(f"team_id {team_id!r}: alphanumerics and '-', 1-50 chars")
    if not isinstance(display_name, str) or len(display_name) > DISPLAY_NAME_MAX_CHARS:
        raise PresenceError(f"display_name must be a string of at most {DISPLAY_NAME_MAX_CHARS} chars")
    if not isinstance(status, str) or not status:
        raise PresenceError("status must be a non-empty string")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PresenceError("version must be a whole number >= 1")
    if source not in SOURCES:
        raise PresenceError(f"source must be one of {SOURCES}, got {source!r}")
    if message is not None and (not isinstance(message, str) or len(message) > MESSAGE_MAX_CHARS):
        raise PresenceError(f"message must be a string of at most {MESSAGE_MAX_CHARS} chars")
    if changed_by is not None and not isinstance(changed_by, str):
        raise PresenceError("changed_by must be a string")
    _check_time(changed_at, "changed_at")
    if status_since is not None:
        _check_time(status_since, "status_since")


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
    status_since: str | None = None

    def __post_init__(self) -> None:
        _check_fields(self.agent_id, self.team_id, self.display_name, self.status, self.version,
                      self.changed_at, self.source, self.changed_by, self.message, self.status_since)

    @property
    def status_since_at(self) -> str:
        """When the status last changed (ISO 8601 Z): ``status_since``, else ``changed_at``."""
        return self.status_since or self.changed_at

    @property
    def channel(self) -> str:
        return channel_for(self.team_id, self.agent_id)

    @property
    def changed_at_dt(self) -> datetime:
        return parse_time(self.changed_at)

    def with_(self, **changes: Any) -> PresenceEvent:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        # Built by hand, in field order: asdict deep-copies, and every live event becomes a history
        # entry (bench/README.md, "Figures behind the code").
        body = {"kind": KIND, "schema": SCHEMA, "agent_id": self.agent_id, "team_id": self.team_id,
                "display_name": self.display_name, "status": self.status, "version": self.version,
                "changed_at": self.changed_at, "source": self.source, "changed_by": self.changed_by,
                "message": self.message}
        if self.status_since is not None:  # absent is what a relay without it sent: the same bytes
            body["status_since"] = self.status_since
        return body

    def to_json(self) -> str:
        """Compact JSON, non-ASCII kept as is (what is signed is what is sent)."""
        return compact_json(self.to_dict())

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
        try:
            values = (data["agent_id"], data["team_id"], data["display_name"], data["status"], data["version"],
                      data["changed_at"], data.get("source", "manual"), data.get("changed_by"), data.get("message"),
                      data.get("status_since"))
        except KeyError:
            missing = [f for f in _REQUIRED if f not in data]
            raise PresenceError(f"missing field(s): {', '.join(missing)}") from None
        _check_fields(*values)
        # Checked once, above: built without the constructor, whose __post_init__ would check again
        # (every live event comes this way; bench/README.md, "Figures behind the code").
        event = _new(cls)
        (agent_id, team_id, display_name, status, version, changed_at, source, changed_by, message,
         status_since) = values
        _set(event, "agent_id", agent_id)
        _set(event, "team_id", team_id)
        _set(event, "display_name", display_name)
        _set(event, "status", status)
        _set(event, "version", version)
        _set(event, "changed_at", changed_at)
        _set(event, "source", source)
        _set(event, "changed_by", changed_by)
        _set(event, "message", message)
        _set(event, "status_since", status_since)
        return event

    @classmethod
    def from_json(cls, text: str | bytes) -> PresenceEvent:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PresenceError(f"not JSON: {exc}") from None
        return cls.from_dict(data)


_REQUIRED = ("agent_id", "team_id", "display_name", "status", "version", "changed_at")
_new = object.__new__
_set = object.__setattr__  # the frozen dataclass's own way of setting its fields
