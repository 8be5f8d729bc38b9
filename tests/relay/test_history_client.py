"""The desktop's relay client reads history and floors from a real local relay over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from presence_desktop.client.ports import RelayCallError
from presence_desktop.client.relay_client import HttpRelayClient
from presence_desktop.domain.history import day_window, intervals_csv, status_intervals


async def test_history_pages_floors_and_csv_through_the_client(relay_factory, token_minter):
    relay = await relay_factory(rate_burst=100)
    agent = token_minter.mint("agent-1", team_id="team-1")
    sup = token_minter.mint("sup-1", groups=("supervisors",), team_id="team-1", extra={"custom:supervises": "team-1"})

    async def tok_agent():
        return agent

    async def tok_sup():
        return sup

    client = HttpRelayClient(relay.url, tok_agent)
    supc = HttpRelayClient(relay.url, tok_sup)
    try:
        for s in ["available", "on_call", "available", "break"] * 3:
            await client.set_status(s)
        day = datetime.now(UTC).date().isoformat()
        page = await client.history(day=day, agent="agent-1", limit=5)
        assert len(page["entries"]) == 5 and page["cursor"]
        whole = await supc.history_day(day=day, team="team-1")
        assert [e["version"] for e in whole["entries"]] == list(range(1, 13)) and whole["gaps"] == []
        rows = status_intervals(whole["entries"], day_window(day, None, datetime.now().timestamp()), datetime.now().timestamp())
        assert len(rows) == 12 and intervals_csv(rows).count("\r\n") == 13
        with pytest.raises(RelayCallError) as err:
            await client.history(day=day, team="team-2")
        assert err.value.status == 403
        with pytest.raises(RelayCallError) as err:
            await client.set_floors("team-1", [])
        assert err.value.status == 403
        doc = await supc.set_floors("team-1", [{"statuses": ["available"], "minimum": 2}])
        assert (await client.floors("team-1"))["floors"] == doc["floors"]
    finally:
        await client.close()
        await supc.close()
