"""The real backends behind the app's ports: the relay over HTTP and the live feed over the
AppSync Events WebSocket client (:mod:`presence_desktop.events_api.client`).

:class:`EventsLiveFeed` maps the client's world onto :class:`~presence_desktop.client.ports.FeedSink`:

- subscription confirmed (first time) -> ``feed_subscribed`` (the service starts the join);
- ``LostEvents("reconnected")`` (resubscribed on a new connection; events sent while down are
  gone) -> ``feed_subscribed`` again: buffer, snapshot, replay;
- other ``LostEvents`` (overflow, malformed, broadcast_error) -> ``feed_lost_events``;
- client state ``reconnecting`` / ``failed`` (or ``connecting`` after having been up) ->
  ``feed_down(reason, next_attempt_at)``;
- a data event -> parsed :class:`PresenceEvent` -> ``feed_event`` (a bad payload is logged and
  dropped: the version check never sees it).

The subscription hands over every queued item without suspending, so after ``FEED_SLICE`` items
the feed yields one loop turn (timers, repaints, the client's reader run in between). Nothing is
lost meanwhile: a full subscription queue holds the client's reader back (backpressure) instead of
dropping events.

Channel: supervisors subscribe to ``/agent-presence/*``; agents to their team's
``/agent-presence/<team>/*`` (docs/architecture.md, "Channels and the event payload").
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from presence_desktop.client.ports import FeedSink
from presence_desktop.client.relay_client import HttpRelayClient
from presence_desktop.domain.identity import Identity
from presence_desktop.domain.presence import NAMESPACE, PresenceError, PresenceEvent

log = logging.getLogger(__name__)

RESUBSCRIBE_AFTER_REFUSAL_S = 15.0
FEED_SLICE = 200  # events applied per loop turn before the feed yields to the GUI


def channel_for_identity(identity: Identity) -> str:
    if identity.is_supervisor or not identity.team_id:
        return f"/{NAMESPACE}/*"
    return f"/{NAMESPACE}/{identity.team_id}/*"


class EventsLiveFeed:
    """``LiveFeed`` over one :class:`~presence_desktop.events_api.client.EventsClient`."""

    def __init__(self, client: Any, channel: str) -> None:
        self.client = client
        self.channel = channel
        self._was_up = False
        self._down_reported = False
        self._sink: FeedSink | None = None

    def _on_state(self, state: Any) -> None:
        sink = self._sink
        if sink is None:
            return
        status = state.status
        if status == "connected":
            self._was_up = True
            return
        if status in ("reconnecting", "failed") or (status == "connecting" and self._was_up):
            sink.feed_down(state.reason or status, state.next_attempt_at)

    async def run(self, sink: FeedSink) -> None:
        from presence_desktop.events_api.client import (
            ClientClosedError,
            ClientFailedError,
            LostEvents,
            SubscriptionError,
        )

        self._sink = sink
        remove = self.client.add_state_listener(self._on_state)
        try:
            await self.client.start()
            while True:
                try:
                    sub = await self.client.subscribe(self.channel)
                except ClientClosedError:
                    return  # closed by us (shutdown, sign-out)
                except (SubscriptionError, ClientFailedError) as exc:
                    sink.feed_down(f"subscription refused: {exc}", None)
                    await asyncio.sleep(RESUBSCRIBE_AFTER_REFUSAL_S)
                    continue
                sink.feed_subscribed()
                taken = 0
                try:
                    async for item in sub:
                        taken += 1
                        if taken >= FEED_SLICE:
                            taken = 0
                            await asyncio.sleep(0)  # the item just taken waits its turn: order kept
                        if isinstance(item, LostEvents):
                            if item.reason == "reconnected":
                                sink.feed_subscribed()
                            else:
                                sink.feed_lost_events()
                            continue
                        try:
                            event = PresenceEvent.from_dict(item)
                        except PresenceError as exc:
                            log.warning("dropping a bad presence event: %s", exc)
                            continue
                        sink.feed_event(event)
                except ClientClosedError:
                    return
                except (SubscriptionError, ClientFailedError) as exc:
                    sink.feed_down(f"subscription ended: {exc}", None)
                    await asyncio.sleep(RESUBSCRIBE_AFTER_REFUSAL_S)
                if self.client.state.status == "closed":
                    return  # the iteration ended because we closed the client
        finally:
            remove()

    async def close(self) -> None:
        """Closes the WebSocket with 1000 (the client's ``close``)."""
        await self.client.close()


def make_backends(profile: Any, auth: Any, identity: Identity) -> tuple[HttpRelayClient, EventsLiveFeed]:
    """The relay client and the live feed for ``profile``, authorised by ``auth`` (an
    :class:`~presence_desktop.auth.session.AuthSession`: ``id_token``, ``force_refresh``)."""
    from presence_desktop.auth.errors import NotSignedInError, SessionExpiredError
    from presence_desktop.events_api.auth import CognitoAuth, http_host
    from presence_desktop.events_api.client import EventsClient
    from presence_desktop.net.tls import client_ssl_context

    relay = HttpRelayClient(profile.relay.url, auth.id_token, refresh=auth.force_refresh, ca_file=profile.relay.ca_file)
    connect_auth = CognitoAuth(auth.id_token, http_host(profile.events.http_url), force_refresh=auth.force_refresh,
                               sign_in_errors=(NotSignedInError, SessionExpiredError))
    # One TLS context per trusted-CA set for the whole app (building one reads the trust store).
    ctx = client_ssl_context(profile.events.ca_file) if profile.events.realtime_url.startswith("wss://") else None
    client = EventsClient.from_settings(profile.events, connect_auth, ssl_context=ctx)
    return relay, EventsLiveFeed(client, channel_for_identity(identity))
