"""Keeping asyncio tasks referenced, named, reported and cancellable (no Qt here).

A task created and forgotten may be garbage-collected mid-flight, and its exception is lost.
:class:`TaskKeeper` keeps every task it starts, logs an exception the moment the task ends with
one and hands it to ``on_error`` (the UI shows it); a *named* task replaces (cancels) its
predecessor of the same name, so the latest request wins (after FeelUOwn's ``task.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskKeeper:
    def __init__(self, on_error: Callable[[str, BaseException], None] | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._named: dict[str, asyncio.Task[Any]] = {}
        self.on_error = on_error
        self.closed = False

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Start ``coro`` as a task on the running loop. With ``name``, a running task of the
        same name is cancelled first. Raises ``RuntimeError`` after :meth:`cancel_all`."""
        if self.closed:
            coro.close()
            raise RuntimeError("shutting down: no new tasks")
        if name is not None:
            old = self._named.pop(name, None)
            if old is not None and not old.done():
                old.cancel()
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        if name is not None:
            self._named[name] = task
        task.add_done_callback(self._done)
        return task

    def get(self, name: str) -> asyncio.Task[Any] | None:
        task = self._named.get(name)
        return task if task is not None and not task.done() else None

    def cancel(self, name: str) -> None:
        task = self._named.pop(name, None)
        if task is not None:
            task.cancel()

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if self._named.get(task.get_name()) is task:
            del self._named[task.get_name()]
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("task %s failed", task.get_name(), exc_info=exc)
            if self.on_error is not None:
                try:
                    self.on_error(task.get_name(), exc)
                except Exception:  # a broken error handler must not hide the error
                    log.exception("error handler failed")

    @property
    def running(self) -> int:
        return sum(1 for t in self._tasks if not t.done())

    async def cancel_all(self, timeout: float = 1.0) -> None:
        """Cancel every task and wait (at most ``timeout`` s) for them to finish."""
        self.closed = True
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                log.warning("task %s did not stop within %.1f s", task.get_name(), timeout)
