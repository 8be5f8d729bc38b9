"""An app's start asks the relay for three things per watched team (roster, floors, the day's
history). With a per-user limit of 30 a minute and bursts of 20, a supervisor of ten teams got
429s on every start, and one of two teams restarting a few times in a minute waited up to a
minute for the roster (found by bench/ start-up: one launch took 45 s)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from presence_desktop.client.ports import RelayCallError
from presence_desktop.client.relay_client import HttpRelayClient, retry_after_s
from presence_desktop.client.service import _retry_delay

TEAMS = [f"team-{i}" for i in range(1, 11)]


async def test_a_ten_team_supervisor_starts_without_a_429_with_the_default_limits(relay_factory, token_minter):
    relay = await relay_factory()  # RelayLimits' defaults
    sup = token_minter.mint("sup-1", groups=("supervisors",), team_id="team-1", extra={"custom:supervises": ",".join(TEAMS)})

    async def token():
        return sup

    client = HttpRelayClient(relay.url, token)
    day = datetime.now(UTC).date().isoformat()
    try:
        for team in TEAMS:  # back to back, as fast as the relay answers
            await client.roster(team)
            await client.floors(team)
            await client.history(day=day, team=team)
    finally:
        await client.close()


async def test_a_429_carries_retry_after_and_the_app_retries_no_sooner(relay_factory, token_minter):
    relay = await relay_factory(user_rate_per_min=2)
    agent = token_minter.mint("agent-1")

    async def token():
        return agent

    client = HttpRelayClient(relay.url, token)
    try:
        await client.roster()
        await client.roster()
        with pytest.raises(RelayCallError) as err:
            await client.roster()
    finally:
        await client.close()
    assert err.value.status == 429 and err.value.retryable
    assert err.value.retry_after_s is not None and 1 <= err.value.retry_after_s <= 60
    assert all(_retry_delay(0, err.value) >= err.value.retry_after_s for _ in range(50))


@pytest.mark.parametrize(("header", "seconds"), [("7", 7.0), (" 12 ", 12.0), ("0", 0.0), ("86400", 300.0),
                                                 (None, None), ("", None), ("-3", None), ("1.5", None),
                                                 ("Wed, 21 Oct 2026 07:28:00 GMT", None)])
def test_retry_after_header(header, seconds):
    assert retry_after_s(header) == seconds
