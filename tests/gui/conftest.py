"""Async GUI tests run on qasync's loop, so that Qt timers (the 16 ms flush, the 1 s tick) fire
while a coroutine awaits."""

import qasync
from PySide6.QtWidgets import QApplication


def pytest_asyncio_loop_factories(config, item):
    return {"qasync": lambda: qasync.QEventLoop(QApplication.instance() or QApplication([]))}
