"""AppSync Events channel rules, shared by the client and the local events server.

Source: AWS AppSync Events, "Understanding channel namespaces" (docs.aws.amazon.com/appsync/
latest/eventapi/channel-namespaces.html) and the API model's ``Namespace`` pattern:
- the first segment is the namespace, which must exist;
- at most 5 segments, namespace included;
- each segment 1-50 chars, alphanumerics and ``-``, starting and ending alphanumeric (confirmed for
  the namespace; the same rule for other segments is UNCONFIRMED, see docs/appsync-events-protocol.md section 5);
- a leading ``/`` is optional (amplify sends none; its HTTP post adds one);
- ``*`` only as the last segment, and only to subscribe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SEGMENT_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?\Z")  # \Z: "$" also matches before a final "\n"
MAX_SEGMENTS = 5
WILDCARD = "*"


class ChannelError(ValueError):
    """A channel path that breaks the rules. ``error_type`` is the AppSync errorType to report."""

    error_type = "BadRequestException"


@dataclass(frozen=True, slots=True)
class Channel:
    """A parsed channel: ``path`` normalized with a leading ``/``; ``segments`` include the namespace."""

    path: str
    segments: tuple[str, ...]

    @property
    def namespace(self) -> str:
        return self.segments[0]

    @property
    def is_wildcard(self) -> bool:
        return self.segments[-1] == WILDCARD

    def matches(self, concrete: Channel, *, any_depth: bool = True) -> bool:
        """True when this (possibly wildcard) subscription channel matches ``concrete``.

        ``/ns/a/*`` matches channels strictly below ``/ns/a``: at any depth when ``any_depth``
        (the local server's default), exactly one level below otherwise. Wildcard depth on AWS
        is UNCONFIRMED, hence the switch.
        """
        if not self.is_wildcard:
            return self.segments == concrete.segments
        prefix = self.segments[:-1]
        if len(concrete.segments) <= len(prefix) or concrete.segments[: len(prefix)] != prefix:
            return False
        return any_depth or len(concrete.segments) == len(prefix) + 1


def parse_channel(raw: object, *, allow_wildcard: bool, max_segments: int = MAX_SEGMENTS) -> Channel:
    """Validate and normalize a channel path.

    ``allow_wildcard`` is True for subscribe, False for publish. Raises :class:`ChannelError`
    (errorType ``BadRequestException``, message as AWS: "Invalid Channel Format").
    """
    if not isinstance(raw, str) or not raw:
        raise ChannelError("Invalid Channel Format: channel must be a non-empty string")
    body = raw[1:] if raw.startswith("/") else raw
    segments = tuple(body.split("/"))
    if len(segments) > max_segments:
        raise ChannelError(f"Invalid Channel Format: at most {max_segments} segments")
    for index, segment in enumerate(segments):
        if segment == WILDCARD:
            if not allow_wildcard:
                raise ChannelError("Invalid Channel Format: wildcards are allowed only to subscribe")
            if index != len(segments) - 1:
                raise ChannelError("Invalid Channel Format: '*' only as the last segment")
            if index == 0:
                raise ChannelError("Invalid Channel Format: the namespace cannot be a wildcard")
            continue
        if not SEGMENT_RE.match(segment):
            raise ChannelError(
                f"Invalid Channel Format: segment {segment!r} must be 1-50 alphanumerics or '-',"
                " starting and ending alphanumeric"
            )
    return Channel("/" + "/".join(segments), segments)
