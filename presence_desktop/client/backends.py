"""The real backends behind the app's ports: the relay over HTTP and the live feed over the
AppSync Events WebSocket client (:mod:`presence_desktop.events_api.client`).

:class:`EventsLiveFeed` maps the client's world onto :class:`~presence_desktop.client.ports.FeedSink`:

- subscription confirmed (first time) -> ``feed_subscribed`` (the service starts the join);
- ``LostEvents("reconnected")`` (resubscribed on a new connection; events sent while down are
  gone) -> ``feed_subscribed`` again: buffer, snapshot, replay;
- other ``LostEvents`` (overflow, malformed, broadcast_error) -> ``feed_lost_events``;
- client state ``reconnecting`` / ``failed`` (or ``connecting`` after having been up) ->
  ``feed_down(reason, next_attempt_at, needs_sign_in=state.needs_sign_in)``;
- client state ``connected`` with ``quiet_since`` (no ``ka`` past its interval) -> ``feed_quiet``;
  back to heard from on the same connection -> ``feed_quiet(None)`` and ``feed_lost_events`` (a
  rejoin of every team: events may be gone);
- a data event -> parsed :class:`PresenceEvent` -> ``feed_event`` (a bad payload is logged and
  dropped: the version check never sees it).

The subscription hands over every queued item without suspending, so after ``FEED_SLICE`` items
the feed yields one loop turn (timers, repaints, the client's reader run in between). Nothing is
lost meanwhile: a full subscription queue holds the client's reader back (backpressure) instead of
dropping events.

Channels (one subscription each, all over the one WebSocket): a team's ``/agent-presence/<team>/*``
for every team watched (:func:`channels_for`); the namespace wildcard ``/agent-presence/*`` only
for a manager watching every team (docs/teams.md). :meth:`EventsLiveFeed.set_channels` subscribes
and unsubscribes without reconnecting; each channel's subscription reports its own joins, and a
refused one is reported (``feed_refused``) and tried again later while the others go on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from presence_desktop.client.ports import FeedSink
from presence_desktop.client.relay_client import HttpRelayClient
from presence_desktop.domain.identity import Identity
from presence_desktop.domain.presence import NAMESPACE, PresenceError, PresenceEvent

log = logging.getLogger(__name__)

RESUBSCRIBE_AFTER_REFUSAL_S = 15.0  # first wait after a refused subscription; doubles per refusal
RESUBSCRIBE_MAX_S = 300.0
# errorType of an onSubscribe denial (util.unauthorized()): the user may not watch this channel,
# and asking again cannot change that until an administrator does.
DENIED_TYPES = frozenset({"Unauthorized", "UnauthorizedException"})
FEED_SLICE = 200  # events applied per loop turn before the feed yields to the GUI
ALL_TEAMS = f"/{NAMESPACE}/*"


def refusal_delay(refusals: int) -> float:
    """Seconds before subscribing again after ``refusals`` (>= 1) refusals in a row: half the
    ceiling plus jitter, the ceiling doubling from ``RESUBSCRIBE_AFTER_REFUSAL_S`` to
    ``RESUBSCRIBE_MAX_S``."""
    from presence_desktop.events_api.reconnect import Backoff

    backoff = Backoff(base=RESUBSCRIBE_AFTER_REFUSAL_S, cap=RESUBSCRIBE_MAX_S)
    return backoff.ceiling(refusals) / 2 + backoff.delay(refusals) / 2


def team_channel(team: str) -> str:
    return f"/{NAMESPACE}/{team}/*"


def channel_team(channel: str) -> str | None:
    """``/agent-presence/<team>/*`` -> team; the namespace wildcard -> None."""
    parts = [p for p in channel.split("/") if p]
    return parts[1] if len(parts) > 2 and parts[0] == NAMESPACE else None


def channels_for(identity: Identity, teams: Iterable[str] | None = None) -> list[str]:
    """The channels to subscribe: one per team in ``teams`` (default: every team the identity
    may watch) that the identity may watch; the namespace wildcard for a manager watching all."""
    if teams is None:
        watched = identity.watched_teams
        if watched is None:
            return [ALL_TEAMS]
        teams = watched
    return [team_channel(t) for t in teams if identity.may_watch(t)]


class EventsLiveFeed:
    """``LiveFeed`` over one :class:`~presence_desktop.events_api.client.EventsClient`."""

    def __init__(self, client: Any, channels: Iterable[str] | str) -> None:
        self.client = client
        self.channels: list[str] = [channels] if isinstance(channels, str) else list(channels)
        self._was_up = False
        self._quiet: float | None = None  # the last quiet_since reported
        self._sink: FeedSink | None = None
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._ended: asyncio.Event | None = None

    def _on_state(self, state: Any) -> None:
        sink = self._sink
        if sink is None:
            return
        status = state.status
        if status == "connected":
            self._was_up = True
            quiet = getattr(state, "quiet_since", None)
            if quiet != self._quiet:
                was_quiet, self._quiet = self._quiet is not None, quiet
                sink.feed_quiet(quiet)
                if quiet is None and was_quiet:
                    sink.feed_lost_events()  # heard from again on the same socket: events may be gone
            return
        self._quiet = None  # a new connection resubscribes and rejoins by itself
        if status in ("reconnecting", "failed") or (status == "connecting" and self._was_up):
            sink.feed_down(state.reason or status, state.next_attempt_at, needs_sign_in=state.needs_sign_in,
                           stopped=status == "failed")

    async def run(self, sink: FeedSink) -> None:
        self._sink = sink
        self._ended = asyncio.Event()
        remove = self.client.add_state_listener(self._on_state)
        try:
            await self.client.start()
            self._sync()
            await self._ended.wait()
        finally:
            remove()
            for task in self._runs.values():
                task.cancel()
            self._runs.clear()

    def set_channels(self, channels: Iterable[str]) -> None:
        """Subscribe to exactly ``channels`` from now on (no reconnect)."""
        self.channels = list(channels)
        if self._sink is not None and self._ended is not None:
            self._sync()

    def _sync(self) -> None:
        for channel in list(self._runs):
            if channel not in self.channels:
                self._runs.pop(channel).cancel()  # its finally unsubscribes
        for channel in self.channels:
            if channel not in self._runs:
                self._runs[channel] = asyncio.get_running_loop().create_task(
                    self._run_channel(channel), name=f"feed {channel}")

    async def _run_channel(self, channel: str) -> None:
        from presence_desktop.events_api.client import (
            ClientClosedError,
            ClientFailedError,
            LostEvents,
            SubscriptionError,
        )

        sink = self._sink
        assert sink is not None and self._ended is not None
        refusals = 0
        try:
            while True:
                try:
                    sub = await self.client.subscribe(channel)
                except ClientClosedError:
                    self._ended.set()
                    return  # closed by us (shutdown, sign-out)
                except (SubscriptionError, ClientFailedError) as exc:
                    if isinstance(exc, SubscriptionError) and exc.error_type in DENIED_TYPES:
                        log.warning("subscription to %s denied: %s", channel, exc)
                        sink.feed_refused(channel, f"not allowed ({exc}); ask an administrator for the right "
                                          "group or team, then sign in again", retrying=False)
                        return
                    refusals += 1
                    delay = refusal_delay(refusals)
                    log.warning("subscription to %s refused: %s; again in %.0f s", channel, exc, delay)
                    sink.feed_refused(channel, f"subscription refused: {exc}", needs_sign_in=exc.needs_sign_in)
                    await asyncio.sleep(delay)
                    continue
                refusals = 0
                try:
                    sink.feed_subscribed(channel)
                    taken = 0
                    async for item in sub:
                        taken += 1
                        if taken >= FEED_SLICE:
                            taken = 0
                            await asyncio.sleep(0)  # the item just taken waits its turn: order kept
                        if isinstance(item, LostEvents):
                            if item.reason == "reconnected":
                                sink.feed_subscribed(channel)
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
                    self._ended.set()
                    return
                except (SubscriptionError, ClientFailedError) as exc:
                    refusals += 1
                    delay = refusal_delay(refusals)
                    log.warning("subscription to %s ended: %s; again in %.0f s", channel, exc, delay)
                    sink.feed_refused(channel, f"subscription ended: {exc}", needs_sign_in=exc.needs_sign_in)
                    await asyncio.sleep(delay)
                except asyncio.CancelledError:
                    try:
                        await asyncio.shield(sub.unsubscribe())
                    except Exception as exc:  # noqa: BLE001 - the connection may be gone already
                        log.info("unsubscribing %s: %s", channel, exc)
                    raise
                if self.client.state.status == "closed":
                    self._ended.set()
                    return  # the iteration ended because we closed the client
        finally:
            if self._runs.get(channel) is asyncio.current_task():
                self._runs.pop(channel, None)

    async def close(self) -> None:
        """Closes the WebSocket with 1000 (the client's ``close``) and ends :meth:`run` (also when
        no channel task is left to notice, e.g. every subscription was denied)."""
        await self.client.close()
        if self._ended is not None:
            self._ended.set()

    def reconnect_now(self, reason: str) -> None:
        """Wake or network change: the client drops the socket (or skips its backoff wait) and
        reconnects at once; its resubscription arrives as ``LostEvents("reconnected")``, so the
        sink rejoins (snapshot and replay) as after any reconnect."""
        self.client.reconnect_now(reason)


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
    return relay, EventsLiveFeed(client, channels_for(identity))
