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


async def test_simulated_agents_never_time_out_against_the_relay_on_a_small_machine(tmp_path):
    """The agents' blocking HTTP calls and the relay's store work once shared the loop's default
    executor (cpu + 4 = 6 threads on 2 cores): six agents waiting for the relay held every thread
    the relay needed to answer them, and each of them failed with ReadTimeoutError 10 s later.
    Here the default executor has 2 threads (smaller than any real machine's) and 12 agents."""
    import asyncio
    import concurrent.futures

    from presence_desktop.devstack.agents import SimulatedAgents

    loop = asyncio.get_running_loop()
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=2))
    stack = DevStack(StackOptions(state_dir=tmp_path, tls=False, simulate_agents=0, extra={"demo_agents": 12}))
    try:
        await stack.start()
        users = [u for u in stack.cognito.users if "support_agents" in u.groups]
        assert len(users) == 12
        agents = SimulatedAgents(stack.relay.ready_info()["relay"]["url"], stack.cognito.cognito_settings(), users,
                                 mean_interval_s=60, seed=1, request_timeout_s=3)
        try:
            await agents.start()
            assert agents.errors == 0
            assert [a.changes for a in agents.agents] == [1] * 12
        finally:
            await agents.stop()
    finally:
        await stack.stop()


async def test_no_demo_password_reaches_the_log_at_debug(tmp_path, caplog):
    """--log-level DEBUG wrote every demo password to the devstack log (botocore's DEBUG record
    of the AdminCreateUser / AdminSetUserPassword calls that seed the pool)."""
    import logging

    caplog.set_level(logging.DEBUG)
    for name in ("botocore", "boto3"):  # as in a fresh process (other code quiets them for good later)
        caplog.set_level(logging.NOTSET, logger=name)
    stack = DevStack(StackOptions(state_dir=tmp_path, tls=False, simulate_agents=1, simulate_mean_interval_s=60,
                                  extra={"demo_agents": 2}))
    try:
        await stack.start()
        passwords = {u["password"] for u in stack.ready_info()["users"]}
        stack.cognito.create_user("late-1", groups=("support_agents",), team_id="team-1", password="Late-Pa55word!")
    finally:
        await stack.stop()
    assert passwords and any(r.levelno == logging.DEBUG and r.name.startswith("botocore") for r in caplog.records)
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in passwords | {"Late-Pa55word!"}:
        assert secret not in text


async def test_the_start_says_what_it_is_waiting_for(tmp_path):
    """The start window said only "usually about 20 s", also at 69 s."""
    stack = DevStack(StackOptions(state_dir=tmp_path, tls=False, simulate_agents=2, simulate_mean_interval_s=60,
                                  extra={"demo_agents": 2}))
    steps: list[str] = []
    stack.on_progress = steps.append
    try:
        await stack.start()
    finally:
        await stack.stop()
    assert steps[:3] == ["starting the sign-in service (Cognito) and its demo users", "starting the events server",
                         "starting the relay"]
    assert "signing in the simulated agents (2 of 2)" in steps
    assert steps[-1] == "setting the simulated agents' first statuses (2 agents)"
