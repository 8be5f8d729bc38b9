"""DevStack wiring: what a fresh start looks like (relay store, demo users for people)."""

from __future__ import annotations

import sqlite3

from presence_desktop.devstack.stack import DevStack, StackOptions


def _presence_rows(path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT agent_id, event_json FROM presence").fetchall()


async def test_a_new_run_starts_with_a_fresh_relay_store(tmp_path):
    """Rows a previous run's simulated agents left must not show as live statuses in a run
    without them (they would until the heartbeat TTL ran out)."""
    first = DevStack(StackOptions(state_dir=tmp_path, tls=False, simulate_agents=2, simulate_mean_interval_s=60,
                                  extra={"demo_agents": 2}))
    try:
        await first.start()
    finally:
        await first.stop()
    assert {r[0] for r in _presence_rows(tmp_path / "relay.sqlite3")} == {"agent-1", "agent-2"}

    second = DevStack(StackOptions(state_dir=tmp_path, tls=False, simulate_agents=0, extra={"demo_agents": 2}))
    try:
        await second.start()
        assert _presence_rows(tmp_path / "relay.sqlite3") == []
    finally:
        await second.stop()
