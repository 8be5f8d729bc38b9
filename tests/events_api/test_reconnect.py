"""The reconnect policy, deterministic: seeded RNG and a fake clock (no sockets, no sleeping)."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from presence_desktop.client.profile import EventsSettings
from presence_desktop.events_api.auth import ApiKeyAuth
from presence_desktop.events_api.client import EventsClient
from presence_desktop.events_api.reconnect import Backoff, ReconnectSchedule, ReconnectSettings


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def seeded(seed: int) -> Backoff:
    return Backoff(rng=random.Random(seed).uniform)


def simulate_outage(sched: ReconnectSchedule, clock: Clock, down_s: float, connect_s: float = 0.0) -> float:
    """A stable connection is lost at clock.t; the server refuses connects for ``down_s``; each
    connect takes ``connect_s``. Returns seconds from the server being back to the reconnect."""
    sched.connected()
    clock.t += 60.0  # a settled connection
    sched.lost()
    back = clock.t + down_s
    while True:
        clock.t += sched.next_delay()
        clock.t += connect_s
        if clock.t >= back:
            sched.connected()
            return clock.t - back
        sched.failed()


def attempts_per_minute(seed: int, minutes: int) -> list[int]:
    clock = Clock()
    sched = ReconnectSchedule(seeded(seed), clock=clock)
    sched.connected()
    clock.t += 60.0
    sched.lost()
    start = clock.t
    counts = [0] * minutes
    while True:
        clock.t += sched.next_delay()
        minute = int((clock.t - start) // 60)
        if minute >= minutes:
            return counts
        counts[minute] += 1
        sched.failed()


def test_ceiling_short_outage_is_at_most_the_fast_cap():
    b = Backoff()
    assert b.ceiling(1, 0.0) == 0.25 and b.ceiling(2, 0.3) == 0.5 and b.ceiling(3, 0.3) == 0.5
    for outage in (0.0, 1.0, 2.0, 4.99, 5.0):
        assert all(b.ceiling(n, outage) <= 0.5 for n in range(1, 80))
    assert b.ceiling(40, 2.0) == 0.5
    # from the end of the fast window on: 10 % of the outage, as with the previous 1 s / 10 s lane
    assert b.ceiling(40, 7.5) == pytest.approx(0.75) and b.ceiling(40, 10.0) == pytest.approx(1.0)


def test_ceiling_grows_with_the_outage_up_to_the_cap():
    b = Backoff()
    assert b.ceiling(40, 30.0) == pytest.approx(3.0)
    assert b.ceiling(40, 60.0) == pytest.approx(6.0)
    assert b.ceiling(40, 300.0) == 30.0 and b.ceiling(40, 86400.0) == 30.0
    # the attempt ramp still applies at the start of a long outage
    assert b.ceiling(1, 120.0) == 0.25


def test_slow_lane_and_no_outage_are_the_classic_backoff():
    b = Backoff()
    assert [b.ceiling(n, 2.0, fast=False) for n in (1, 2, 3, 4, 5, 9)] == [0.25, 0.5, 1.0, 2.0, 4.0, 30.0]
    assert b.ceiling(9) == 30.0
    assert Backoff(rng=lambda lo, hi: hi).delay(9, 2.0) == 0.5
    with pytest.raises(ValueError):
        b.ceiling(0, 1.0)


def test_delays_are_full_jitter_within_the_ceiling_above_the_floor():
    b = seeded(7)
    delays = [b.delay(5, 2.0) for _ in range(2000)]
    assert min(delays) == 0.05 and 0.49 < max(delays) <= 0.5  # the whole [0, 0.5] range, floored
    assert 0.08 < sum(d == 0.05 for d in delays) / len(delays) < 0.12  # ~10 % of draws were below 50 ms
    unfloored = Backoff(floor=0.0, rng=random.Random(7).uniform)
    assert min(unfloored.delay(5, 2.0) for _ in range(2000)) < 0.01


@pytest.mark.parametrize("down_s, within", [(0.5, 0.5), (2.0, 0.5), (4.0, 0.5), (8.0, 1.0)])
def test_short_outage_reconnects_within_the_window_of_the_server_being_back(down_s, within):
    for seed in range(200):
        clock = Clock()
        sched = ReconnectSchedule(seeded(seed), clock=clock)
        late = simulate_outage(sched, clock, down_s, connect_s=0.005)
        assert late <= within + 0.005, (seed, late)


def test_short_outage_median_is_well_under_half_a_second():
    lates = []
    for seed in range(300):
        clock = Clock()
        lates.append(simulate_outage(ReconnectSchedule(seeded(seed), clock=clock), clock, 2.0))
    lates.sort()
    assert lates[len(lates) // 2] < 0.2  # renewal residual of uniform(0, 0.5): ~1/6 s (was ~1/3 s with 1 s)


def test_no_client_makes_more_than_twenty_attempts_in_any_second():
    for seed in range(300):
        clock = Clock()
        sched = ReconnectSchedule(seeded(seed), clock=clock)
        sched.connected()
        clock.t += 60.0
        sched.lost()
        times = []
        while clock.t < 1090.0:
            clock.t += sched.next_delay()
            times.append(clock.t)
            sched.failed()
        # with the 50 ms floor: 21 attempts span at least a second
        assert all(b - a >= 1.0 - 1e-9 for a, b in zip(times, times[20:], strict=False)), seed


def test_long_outage_wait_is_bounded_by_a_tenth_of_the_outage():
    for seed in range(50):
        clock = Clock()
        late = simulate_outage(ReconnectSchedule(seeded(seed), clock=clock), clock, 60.0)
        assert late <= 6.0 * 1.2 + 1e-9  # window at the last attempt: <= 0.1 x (60 s + that wait)
        clock = Clock()
        late = simulate_outage(ReconnectSchedule(seeded(seed), clock=clock), clock, 900.0)
        assert late <= 30.0


def test_herd_attempts_per_client_per_minute_in_a_long_outage():
    runs = [attempts_per_minute(seed, 30) for seed in range(200)]
    first = sum(r[0] for r in runs) / len(runs)
    assert 62 <= first <= 80  # ~20 in the first 5 s, ~14 to 10 s, ~36 from 10 s to 60 s (module docstring)
    late = [r[m] for r in runs for m in range(5, 30)]  # past 5 minutes: the 30 s cap
    mean = sum(late) / len(late)
    assert 3.5 <= mean <= 4.5  # 60 / (30 / 2)
    assert max(late) <= 14  # worst client-minute over 5,000 (full jitter: no hard floor)


def test_flapping_server_gets_the_slow_lane_not_a_fast_loop():
    """The server accepts, then drops every connection after 0.5 s (younger than stable_after)."""
    clock = Clock()
    sched = ReconnectSchedule(seeded(3), stable_after=10.0, clock=clock)
    sched.connected()
    clock.t += 60.0
    sched.lost()  # the stable connection: a fast-lane outage begins
    assert sched.fast and sched.attempt == 1
    start, connects, ceilings = clock.t, 0, []
    while clock.t - start < 600:
        ceilings.append(sched.backoff.ceiling(sched.attempt, sched.outage_s, fast=sched.fast))
        clock.t += sched.next_delay()
        sched.connected()
        connects += 1
        if clock.t - start < 60:
            first_minute = connects
        clock.t += 0.5
        sched.lost()
        assert not sched.fast  # a flap closes the fast lane for the rest of the outage
    assert ceilings[:6] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]  # the streak survives each flap
    assert max(ceilings) == 30.0
    assert first_minute <= 12
    assert connects <= 12 + 9 * 60 / 15 * 1.6  # then ~4 a minute


def test_first_connection_of_a_session_dying_young_is_an_outage_not_a_flap():
    clock = Clock()
    sched = ReconnectSchedule(Backoff(), stable_after=10.0, clock=clock)
    sched.connected()  # connected at once, no failed attempt before
    clock.t += 1.0
    sched.lost()
    assert sched.fast and sched.attempt == 1 and sched.outage_s == 0.0
    clock.t += 0.2
    sched.connected()  # the reconnect
    clock.t += 1.0
    sched.lost()  # dies young too: now it is flapping
    assert not sched.fast and sched.attempt == 2 and sched.outage_s == pytest.approx(1.2)


def test_stable_connection_reopens_the_fast_lane_and_restarts_the_outage_clock():
    clock = Clock()
    sched = ReconnectSchedule(Backoff(), stable_after=10.0, clock=clock)
    sched.failed()
    sched.connected()
    clock.t += 1.0
    sched.lost()
    assert not sched.fast and sched.attempt == 2
    sched.connected()
    clock.t += 10.0
    sched.lost()
    assert sched.fast and sched.attempt == 1 and sched.outage_s == 0.0


def test_throttling_closes_the_fast_lane():
    clock = Clock()
    sched = ReconnectSchedule(Backoff(), clock=clock)
    sched.failed()
    sched.failed()
    sched.failed()
    sched.failed()
    assert sched.backoff.ceiling(sched.attempt, sched.outage_s, fast=sched.fast) == 0.5
    sched.failed(throttled=True)
    assert sched.backoff.ceiling(sched.attempt, sched.outage_s, fast=sched.fast) == 4.0


def test_settings_defaults_validation_and_from_settings():
    s = ReconnectSettings()
    assert (s.base_s, s.factor, s.fast_cap_s, s.fast_window_s, s.floor_s, s.cap_s, s.stable_after_s) == (
        0.25, 2.0, 0.5, 5.0, 0.05, 30.0, 10.0)
    with pytest.raises(ValidationError):
        ReconnectSettings(fast_cap_s=0)
    with pytest.raises(ValidationError):
        ReconnectSettings(retry="fast")
    events = EventsSettings(http_url="https://127.0.0.1:1/event", realtime_url="ws://127.0.0.1:1/event/realtime",
                            region="us-east-1", allow_plaintext=True,
                            reconnect={"fast_window_s": 5.0, "cap_s": 20.0, "stable_after_s": 3.0})
    assert EventsSettings(http_url="h", realtime_url="wss://h/event/realtime", region="r").reconnect == s
    client = EventsClient.from_settings(events, ApiKeyAuth("k", "127.0.0.1:1"))
    assert client.backoff.fast_window == 5.0 and client.backoff.cap == 20.0 and client.stable_after == 3.0
