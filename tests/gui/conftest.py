"""Async GUI tests run on qasync's loop, so that Qt timers (the 16 ms flush, the 1 s tick) fire
while a coroutine awaits."""

from tests.fixtures.qasync_loop import LOOP_FACTORIES, collect_qt_garbage  # noqa: F401 - autouse fixture


def pytest_asyncio_loop_factories(config, item):
    return LOOP_FACTORIES
