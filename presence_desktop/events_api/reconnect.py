"""When the realtime client tries again after its WebSocket is lost: the reconnect policy.

Full-jitter exponential backoff (``net/backoff.py``; AWS Architecture Blog, "Exponential Backoff
And Jitter", https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/): attempt ``n`` of an
outage waits ``max(floor, uniform(0, ceiling))`` seconds with

    ceiling = min(base * factor**(n-1), window(outage_s))            (fast lane)
    window  = min(cap, fast_cap * max(1, outage_s / fast_window))

``outage_s`` is how long the outage has lasted (since the last *stable* connection was lost).
So a young outage (a server restart, a dropped Wi-Fi) is retried at most ``fast_cap`` (0.5 s)
apart for its first ``fast_window`` (5 s), and the client is back within about 0.5 s of the server
(median ~0.15 s after a 2 s restart); a longer one waits at most ``fast_cap / fast_window`` (10 %)
of the outage so far, up to ``cap`` (30 s). No wait is shorter than ``floor`` (50 ms): at most 20
attempts in any second, whatever the dice say.

Herd arithmetic (defaults, an endpoint that refuses at once; expected values per client, mean wait
= ceiling / 2): ~20 attempts in the first 5 s (4 a second), then ``2 * fast_window / fast_cap *
ln(t2/t1)`` (= 20 per e-fold of the outage: ~14 between 5 s and 10 s, ~36 between 10 s and 60 s,
~32 between 60 s and 300 s), and from 300 s on 4 per minute, as with a plain 30 s cap. From 5 s on
the schedule is the one of the previous defaults (1 s for 10 s, then 10 %); only the first 5 s are
twice as dense (~34 attempts in the first 10 s instead of ~21, ~71 in the first minute instead of
~58), which is why they are safe for thousands of clients at once:

- the density is bounded in time: a herd that lost AWS together spends 5 s at 4 attempts/s per
  client, then thins out exactly as before (10 % of the outage), so a long outage costs the
  endpoint what it did;
- a refused connect is one TCP/TLS attempt, not a session: nothing is subscribed or fetched
  until a connection is acked;
- N desktops that lost one server together come back spread over ``window(outage_s)``: 2N per
  second after a restart of under 5 s (the AppSync Events default quota, UNCONFIRMED, is 2,000
  new connections/s per API: up to 1,000 desktops land within it; more are throttled, and a
  throttling answer sends that client to the slow lane below), N/30 per second after 5 minutes;
- a server that accepts and drops at once (flapping) or throttles gets the slow lane, never this one.

Slow lane (plain ``min(cap, base * factor**(n-1))``, no outage window) for the rest of an outage
once it has seen either
- a reconnection that died younger than ``stable_after`` (a flapping server: the streak is kept
  and the fast lane closed, so flapping never becomes a sub-second reconnect loop; the first
  connection of a session dying young is one outage, not yet flapping), or
- a throttling answer (HTTP 429, ``LimitExceeded``/``Throttling`` errors): the server is up and
  asks for less, not more.

Measured (bench figure 7, server down 2 s): with a 1 s / 10 s fast lane the client was back
0.0-0.8 s after the server (median ~0.3 s by simulation, tests/events_api/test_reconnect.py), and
the app's roster reconciled 0.45-0.95 s after it; see bench/README.md, "Fourth round".
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from presence_desktop.net.backoff import backoff_ceiling


class ReconnectSettings(BaseModel):
    """The reconnect policy's parameters (seconds); see the module docstring for the formula."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_s: float = Field(default=0.25, gt=0, description="ceiling of the first retry's wait")
    factor: float = Field(default=2.0, ge=1, description="growth of the ceiling per failed attempt")
    fast_cap_s: float = Field(default=0.5, gt=0, description="ceiling while the outage is younger than fast_window_s")
    fast_window_s: float = Field(default=5.0, gt=0, description="after it, the ceiling is fast_cap_s/fast_window_s "
                                 "(10 %) of the outage's length so far")
    floor_s: float = Field(default=0.05, ge=0, description="no wait is shorter (at most 1/floor_s attempts a second)")
    cap_s: float = Field(default=30.0, gt=0, description="no wait ever exceeds it")
    stable_after_s: float = Field(default=10.0, ge=0, description="a connection that dies younger keeps the "
                                  "backoff streak and closes the fast lane (flapping guard)")


@dataclass(frozen=True)
class Backoff:
    """The delay formula (module docstring). ``outage_s=None`` or ``fast=False``: the slow lane,
    ``max(floor, uniform(0, min(cap, base * factor**(n-1))))``. Raises ``ValueError`` for ``attempt < 1``."""

    base: float = 0.25
    factor: float = 2.0
    cap: float = 30.0
    fast_cap: float = 0.5
    fast_window: float = 5.0
    floor: float = 0.05
    rng: Callable[[float, float], float] = random.uniform

    @classmethod
    def from_settings(cls, settings: ReconnectSettings, **kw: object) -> Backoff:
        return cls(base=settings.base_s, factor=settings.factor, cap=settings.cap_s,
                   fast_cap=settings.fast_cap_s, fast_window=settings.fast_window_s, floor=settings.floor_s,
                   **kw)  # type: ignore[arg-type]

    def window(self, outage_s: float) -> float:
        return min(self.cap, self.fast_cap * max(1.0, outage_s / self.fast_window))

    def ceiling(self, attempt: int, outage_s: float | None = None, *, fast: bool = True) -> float:
        if attempt < 1:
            raise ValueError("attempt counts from 1")
        ramp = backoff_ceiling(attempt - 1, base=self.base, cap=self.cap, factor=self.factor)
        if outage_s is None or not fast:
            return ramp
        return min(ramp, self.window(max(0.0, outage_s)))

    def delay(self, attempt: int, outage_s: float | None = None, *, fast: bool = True) -> float:
        return max(self.floor, self.rng(0.0, self.ceiling(attempt, outage_s, fast=fast)))


class ReconnectSchedule:
    """One client's reconnect state: the attempt streak, when the outage began, which lane.

    Driven by the client's supervisor: :meth:`failed` after each failed connect,
    :meth:`connected` / :meth:`lost` around each connection, :meth:`reset` after a resume.
    ``clock``: monotonic seconds (the event loop's ``time`` in the client; a fake in tests).
    """

    def __init__(self, backoff: Backoff, stable_after: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self.backoff = backoff
        self.stable_after = stable_after
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        self.attempt = 0               # of the next reconnect (0: connect at once)
        self.fast = True               # fast lane open (no flap, no throttling in this outage)
        self.outage_since: float | None = None
        self._streak = 0
        self._connected_at: float | None = None

    @property
    def outage_s(self) -> float:
        return 0.0 if self.outage_since is None else max(0.0, self._clock() - self.outage_since)

    def failed(self, *, throttled: bool = False) -> None:
        if self.outage_since is None:
            self.outage_since = self._clock()
        self.attempt += 1
        if throttled:
            self.fast = False

    def connected(self) -> None:
        self._streak, self.attempt = self.attempt, 0
        self._connected_at = self._clock()

    def lost(self) -> None:
        """The connection ended. A young one that was itself a reconnect (a flap) keeps the
        streak and the outage's start, and closes the fast lane; a stable one, or the first
        connection of a session, starts a new outage now."""
        now = self._clock()
        lived = now - (self._connected_at if self._connected_at is not None else now)
        self._connected_at = None
        if lived < self.stable_after and self._streak > 0:
            self.attempt = self._streak + 1
            self.fast = False
            if self.outage_since is None:
                self.outage_since = now
        else:
            self.attempt, self.fast, self.outage_since = 1, True, now

    def next_delay(self) -> float:
        """Seconds to wait before attempt :attr:`attempt` (>= 1)."""
        return self.backoff.delay(self.attempt, self.outage_s, fast=self.fast)


__all__ = ["Backoff", "ReconnectSchedule", "ReconnectSettings"]
