"""End-to-end fixtures: the whole devstack in this process, on qasync's loop (the app's loop), so
tests can drive the app's windows and inject faults into the events server."""

from __future__ import annotations

import asyncio

import pytest_asyncio

from presence_desktop.devstack.stack import DevStack, StackOptions
from tests.fixtures.qasync_loop import LOOP_FACTORIES, collect_qt_garbage  # noqa: F401 - autouse fixture

SIMULATED = 40
DEMO_AGENTS = 44  # agent-41..44 exist but are not simulated: the tests drive them


def pytest_asyncio_loop_factories(config, item):
    return LOOP_FACTORIES


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def devstack(tmp_path_factory):
    from presence_desktop.ui.runtime import DaemonExecutor

    asyncio.get_running_loop().set_default_executor(DaemonExecutor())  # as the app does
    state = tmp_path_factory.mktemp("devstack")
    stack = DevStack(StackOptions(
        state_dir=state, simulate_agents=SIMULATED, simulate_mean_interval_s=3.0,
        extra={"demo_agents": DEMO_AGENTS, "relay_sweep_interval_s": 1.0},
    ))
    try:
        await stack.start()
        stack.write_ready_file(state / "app-ready.json")  # where `presence-desktop --profile local` looks
        yield stack
    finally:
        await stack.stop()
