"""Channel namespace handlers of the local events server (Python twins of the APPSYNC_JS handlers
deployed to AWS from packaging/handlers; one table of cases, packaging/handlers/cases.json, tests
both).

``agent-presence``:
- publish: AWS_IAM only (the relay signs); subscribe: AMAZON_COGNITO_USER_POOLS only.
- onSubscribe admits only members of ``support_agents`` or ``supervisors``; every attempt is
  logged (username, sub, groups, channel, decision; never a token).
- onPublish keeps events whose payload is a valid presence event
  (:meth:`PresenceEvent.from_dict`, ``source`` required) of the channel's own team and agent;
  the others get an ``error`` naming the field and are not broadcast.

``default``: API_KEY for connect, publish and subscribe (tools and tests), no handlers.

The handler functions are pure (ctx in, result or exception out) apart from logging, so a test can
call them directly with :func:`~presence_desktop.devstack.handler_api.make_context`.
"""

from __future__ import annotations

import logging
from typing import Any

from presence_desktop.devstack.handler_api import Unauthorized
from presence_desktop.domain.presence import NAMESPACE as AGENT_PRESENCE
from presence_desktop.domain.presence import PresenceError, PresenceEvent

log = logging.getLogger(__name__)

API_KEY = "API_KEY"
AWS_IAM = "AWS_IAM"
COGNITO = "AMAZON_COGNITO_USER_POOLS"
SUBSCRIBE_GROUPS = frozenset({"support_agents", "supervisors"})


def on_subscribe_agent_presence(ctx: dict[str, Any]) -> None:
    """Allow (return None) when the Cognito identity is in ``support_agents`` or ``supervisors``;
    otherwise raise :class:`Unauthorized` (errorType ``Unauthorized``)."""
    identity = ctx.get("identity") or {}
    groups = identity.get("groups") or []
    channel = ctx["info"]["channel"]["path"]
    allowed = bool(SUBSCRIBE_GROUPS.intersection(groups))
    log.info(
        "subscribe %s: user=%s sub=%s groups=%s channel=%s",
        "allowed" if allowed else "denied",
        identity.get("username"),
        identity.get("sub"),
        sorted(groups),
        channel,
    )
    if not allowed:
        raise Unauthorized()


def presence_problem(payload: Any, segments: list[str]) -> str | None:
    """Why ``payload`` may not be broadcast on the channel with ``segments`` (None: it may).
    The message starts with the field at fault (``"version: ..."``), as the JS twin's does."""
    if not isinstance(payload, dict):
        return "payload: must be a JSON object"
    try:
        event = PresenceEvent.from_dict(payload)
    except PresenceError as exc:
        text = str(exc)
        return text if ":" in text.split(" ")[0] else f"{_field_of(text)}: {text}"
    if "source" not in payload:  # PresenceEvent defaults it; on the wire it is required
        return "source: is required (manual, idle, supervisor or system)"
    if len(segments) != 3 or segments[1] != event.team_id or segments[2] != event.agent_id:
        return "channel: must be /agent-presence/<team_id>/<agent_id> of this event"
    return None


def _field_of(message: str) -> str:
    fields = ("kind", "schema", "agent_id", "team_id", "display_name", "status", "version", "changed_at",
              "source", "changed_by", "message")
    positions = [(message.find(f), f) for f in fields if f in message]
    return min(positions)[1] if positions else "payload"


def on_publish_agent_presence(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    """Return every event, each either ``{"id", "payload"}`` (a valid presence event for this
    channel, broadcast unchanged) or ``{"id", "error"}`` (not broadcast; the message starts with
    the field at fault: shape per :meth:`PresenceEvent.from_dict`, ``source`` required, and the
    payload's team_id/agent_id must be the channel's)."""
    segments = list(ctx["info"]["channel"]["segments"])
    out: list[dict[str, Any]] = []
    for event in ctx.get("events") or []:
        problem = presence_problem(event.get("payload"), segments)
        if problem:
            out.append({"id": event["id"], "error": problem})
        else:
            out.append({"id": event["id"], "payload": event["payload"]})
    return out


def agent_presence_namespace():  # -> NamespaceConfig (import kept local: no cycle)
    from presence_desktop.devstack.events_server import NamespaceConfig

    return NamespaceConfig(
        publish_auth_modes=(AWS_IAM,),
        subscribe_auth_modes=(COGNITO,),
        on_publish=on_publish_agent_presence,
        on_subscribe=on_subscribe_agent_presence,
    )


def default_namespace():
    from presence_desktop.devstack.events_server import NamespaceConfig

    return NamespaceConfig(publish_auth_modes=(API_KEY,), subscribe_auth_modes=(API_KEY,))


def standard_namespaces() -> dict[str, Any]:
    """``{"agent-presence": ..., "default": ...}`` as the devstack runs them."""
    return {AGENT_PRESENCE: agent_presence_namespace(), "default": default_namespace()}
