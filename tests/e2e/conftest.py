"""End-to-end fixtures: the whole devstack in this process, on qasync's loop (the app's loop), so
tests can drive the app's windows and inject faults into the events server."""

from __future__ import annotations

import pytest_asyncio
import asyncio

import qasync
from PySide6.QtWidgets import QApplication

from presence_desktop.devstack.stack import DevStack, StackOptions

SIMULATED = 40
DEMO_AGENTS = 44  # agent-41..44 exist but are not simulated: the tests drive them


class _RunningTimer(qasync._SimpleTimer):
    """Runs each asyncio callback with the loop marked as running.

    pytest runs the loop once per test, and between runs pytest-qt (and qasync's own last
    ``processEvents()``) let Qt deliver due timers while no loop is running; a callback then
    failing with "no running event loop" would kill a background task (the relay's handler, the
    websocket reader). The app runs its loop once and never hits this.
    """

    def __init__(self, loop):
        super().__init__()
        self._loop = loop

    def timerEvent(self, event):  # noqa: N802
        if asyncio.events._get_running_loop() is None and not self._loop.is_closed():
            asyncio.events._set_running_loop(self._loop)
            try:
                return super().timerEvent(event)
            finally:
                asyncio.events._set_running_loop(None)
        return super().timerEvent(event)


class _TestQEventLoop(qasync.QEventLoop):
    def __init__(self, app):
        super().__init__(app)
        self._timer = _RunningTimer(self)


def _qasync_loop():
    return _TestQEventLoop(QApplication.instance() or QApplication([]))


_FACTORIES = {"qasync": _qasync_loop}  # one object: a new one per test would re-create module fixtures


def pytest_asyncio_loop_factories(config, item):
    return _FACTORIES


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def devstack(tmp_path_factory):
    import asyncio

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
