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


async def test_demo_agents_beyond_the_simulated_ones_are_free_for_people(tmp_path):
    """A person's second window must use an agent the simulator never touches (it would overwrite
    their status every few seconds): the stack makes some, one per team, and the ready file and
    ``presence-devstack``'s summary name them."""
    from presence_desktop.devstack.cli import _summary

    stack = DevStack(StackOptions(state_dir=tmp_path, tls=False, simulate_agents=2, simulate_mean_interval_s=60))
    try:
        await stack.start()
        info = stack.ready_info()
    finally:
        await stack.stop()
    agents = {u["username"]: u["team_id"] for u in info["users"] if "support_agents" in u["groups"]}
    assert len(agents) == 44  # 40 for the demo roster + 4 nobody simulates
    free = info["free_users"]
    assert "agent-1" not in free and "agent-2" not in free and "outsider" not in free
    assert "sup-1" in free
    # Who may watch which team (docs/teams.md): two supervisors of different teams, a manager.
    users = {u["username"]: u for u in info["users"]}
    assert users["sup-1"]["groups"] == ["supervisors"] and users["sup-1"]["watches"] == ["team-1", "team-2"]
    assert users["sup-2"]["groups"] == ["supervisors"] and users["sup-2"]["watches"] == ["team-3", "team-4"]
    assert users["mgr-1"]["groups"] == ["managers"] and users["mgr-1"]["watches"] == "all"
    assert users["agent-41"]["watches"] == ["team-1"] and users["outsider"]["watches"] == []
    assert {"sup-2", "mgr-1"} <= set(free)
    assert [agents[name] for name in ("agent-41", "agent-42", "agent-43", "agent-44") if name in free] == \
        ["team-1", "team-2", "team-3", "team-4"]

    class Stopped:
        def ready_info(self):
            return info

    assert "agent-41 (team-1)" in _summary(Stopped(), None)


def test_free_demo_agents_are_beyond_the_simulated_ones():
    from presence_desktop.devstack.stack import demo_agent_count

    assert demo_agent_count(0) == demo_agent_count(40) == 44  # agent-41..44 free in `make run`
    assert demo_agent_count(100) == 104
