"""Async GUI tests run on qasync's loop, so that Qt timers (the 16 ms flush, the 1 s tick) fire
while a coroutine awaits."""

import asyncio

import qasync
from PySide6.QtWidgets import QApplication


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
