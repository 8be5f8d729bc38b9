"""A loop-lag watchdog: logs when the event loop (in the app, the GUI thread) stops running
callbacks for longer than a threshold, with what it was doing.

A beat is scheduled on the loop every ``interval_s``; a daemon thread checks that beats keep
coming. When none came for ``threshold_s`` it logs a WARNING with the loop thread's stack at that
moment (the innermost frames: the function that holds the loop) and the asyncio task running then,
and once the loop runs again a second WARNING with the stall's whole length. A blocked GUI thread
(a slow slot, a synchronous call on the loop) is then visible in the log instead of silent.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback

log = logging.getLogger(__name__)


class LoopLagWatchdog:
    """``start()`` from the loop's thread (the loop must be running or about to run);
    ``stop()`` from anywhere. Times in seconds (monotonic).

    ``interval_s`` (default: half the threshold) is how often the loop beats and the thread looks:
    each beat is a timer and a callback on the loop and a wake-up of the thread, and they run all
    the time the app is idle. At 0.1 s they were more than the idle roster itself (bench/README.md:
    ~0.36 % of a core on an idle qasync loop; 0.07 % at 0.5 s). A stall is still reported once it
    passes the threshold, at most one interval late."""

    def __init__(self, loop: asyncio.AbstractEventLoop, threshold_s: float = 0.5, interval_s: float | None = None,
                 frames: int = 6) -> None:
        if interval_s is None:
            interval_s = threshold_s / 2
        if threshold_s <= interval_s:
            raise ValueError("threshold_s must be larger than interval_s")
        self.loop = loop
        self.threshold_s = threshold_s
        self.interval_s = interval_s
        self.frames = frames
        self.stalls = 0
        self._last = time.monotonic()
        self._stalled_since: float | None = None
        self._loop_thread: int | None = None
        self._stop = threading.Event()
        self._handle: asyncio.TimerHandle | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._loop_thread = threading.get_ident()
        self._last = time.monotonic()
        self._handle = self.loop.call_later(self.interval_s, self._beat)
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()

    def _beat(self) -> None:
        now = time.monotonic()
        stalled_since, self._stalled_since = self._stalled_since, None
        if stalled_since is not None:
            log.warning("the event loop ran again after a stall of %.2f s", now - stalled_since)
        self._last = now
        if not self._stop.is_set():
            self._handle = self.loop.call_later(self.interval_s, self._beat)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval_s):
            last = self._last
            silent = time.monotonic() - last - self.interval_s
            if silent < self.threshold_s or self._stalled_since is not None or self.loop.is_closed():
                continue
            if not self.loop.is_running():
                continue
            self._stalled_since = last + self.interval_s
            self.stalls += 1
            log.warning("the event loop has not run for %.2f s (threshold %.2f s); it is in %s%s",
                        silent, self.threshold_s, self._where(), self._task_text())

    def _where(self) -> str:
        frame = sys._current_frames().get(self._loop_thread or -1)
        if frame is None:
            return "an unknown place"
        stack = traceback.extract_stack(frame)[-self.frames:]
        return " <- ".join(f"{f.name} ({f.filename.rsplit('/', 1)[-1]}:{f.lineno})" for f in reversed(stack))

    def _task_text(self) -> str:
        try:
            task = asyncio.tasks._current_tasks.get(self.loop)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - a private table: best effort
            task = None
        return f"; task {task.get_name()!r}" if task is not None else ""
