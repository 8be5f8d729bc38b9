"""qasync bootstrap, done the way that does not bite:

- the QApplication exists before anything else; asyncio then runs on qasync's loop;
- the first task starts from a zero-delay timer, i.e. once the loop runs;
- every task is kept referenced (:class:`~presence_desktop.client.tasks.TaskKeeper`); an exception in
  a task, an async slot or a loop callback is logged and shown (``errorRaised``), never lost;
- shutdown runs from ``aboutToQuit``: the registered async hooks (publish offline, close the
  WebSocket with 1000, cancel and await tasks) get a bounded budget (default 2 s) while Qt
  keeps processing events, then the loop ends and the process exits 0;
- blocking calls (keyring, pycognito's SRP) run on *daemon* threads (:class:`DaemonExecutor`),
  so one that hangs can neither block the loop nor keep the process alive at exit;
- no modal ``exec()`` inside coroutines: windows are shown with ``show()``/``open()``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import qasync
from PySide6.QtCore import QEventLoop, QObject, QSocketNotifier, QTimer, Signal
from PySide6.QtWidgets import QApplication

from presence_desktop.client.tasks import TaskKeeper

log = logging.getLogger(__name__)

SHUTDOWN_BUDGET_S = 2.0  # + process teardown stays under the 3 s promise


class DaemonExecutor(concurrent.futures.Executor):
    """Runs each call on its own daemon thread; ``shutdown`` never waits.

    The default ThreadPoolExecutor joins its workers at interpreter exit, so a keyring call stuck
    on a locked keyring would keep the app alive. Calls here are few (sign-in, refresh, keyring)
    and short, so a thread per call costs nothing that matters.
    """

    def __init__(self) -> None:
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs):
        if self._shutdown:
            raise RuntimeError("executor is shut down")
        future: concurrent.futures.Future = concurrent.futures.Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=work, name=f"blocking-{getattr(fn, '__name__', 'call')}", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shutdown = True  # never wait: a hung call must not hold the exit


class QtRuntime(QObject):
    """The running app's asyncio-on-Qt runtime: spawn tasks, report errors, quit cleanly."""

    errorRaised = Signal(str)  # plain words for the user
    shutdownFinished = Signal(float)  # seconds the shutdown took

    def __init__(self, app: QApplication, loop: asyncio.AbstractEventLoop, budget_s: float = SHUTDOWN_BUDGET_S,
                 *, shutdown_on_quit: bool = True) -> None:
        """``shutdown_on_quit=False`` is for a host that runs the loop many times (a test runner:
        qasync ends each run with ``app.exit()``, which emits ``aboutToQuit``); it then calls
        :meth:`shutdown` itself."""
        super().__init__()
        self.app = app
        self.loop = loop
        self.budget_s = budget_s
        self.tasks = TaskKeeper(on_error=self._task_failed)
        self._hooks: list[Callable[[], Awaitable[Any]]] = []
        self.shutting_down = False
        self.shutdown_seconds: float | None = None
        # Closing the sign-in window on success must not end the app: the app decides when to quit.
        app.setQuitOnLastWindowClosed(False)
        if shutdown_on_quit:
            app.aboutToQuit.connect(self._about_to_quit)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task:
        return self.tasks.spawn(coro, name)

    def add_shutdown_hook(self, hook: Callable[[], Awaitable[Any]]) -> None:
        """Register an async cleanup; hooks run in reverse order of registration (last in,
        first out), all within one budget."""
        self._hooks.append(hook)

    def remove_shutdown_hook(self, hook: Callable[[], Awaitable[Any]]) -> None:
        if hook in self._hooks:
            self._hooks.remove(hook)

    def request_quit(self) -> None:
        """Quit from anywhere (menu, tray, signal): Qt emits aboutToQuit, which runs the hooks."""
        QTimer.singleShot(0, self.app.quit)

    # --- errors --------------------------------------------------------------------------------
    def report(self, text: str) -> None:
        self.errorRaised.emit(text)

    def _task_failed(self, name: str, exc: BaseException) -> None:
        self.report(f"Something went wrong ({name}): {exc}")

    def loop_exception(self, loop, context: dict) -> None:
        exc = context.get("exception")
        msg = context.get("message", "unhandled error")
        if exc is not None:
            log.error("event loop: %s", msg, exc_info=exc)
            self.report(f"Something went wrong: {exc}")
        else:
            log.error("event loop: %s", msg)

    def excepthook(self, etype, value, tb) -> None:
        """For exceptions raised in Qt slots (and qasync's asyncSlot, which calls
        ``sys.excepthook``): log and show instead of printing and carrying on silently."""
        if issubclass(etype, KeyboardInterrupt):
            self.request_quit()
            return
        log.error("unhandled exception:\n%s", "".join(traceback.format_exception(etype, value, tb)))
        self.report(f"Something went wrong: {value}")

    # --- shutdown ------------------------------------------------------------------------------
    def _about_to_quit(self) -> None:
        if self.shutting_down:
            return
        self.shutting_down = True
        started = time.monotonic()
        future = asyncio.ensure_future(self._run_hooks(), loop=self.loop)
        # Keep Qt (and with it qasync's asyncio) turning until the hooks are done or the budget
        # is spent. A repeating timer guarantees wake-ups while nothing else happens.
        waker = QTimer()
        waker.setInterval(20)
        waker.start()
        deadline = started + self.budget_s
        while not future.done() and time.monotonic() < deadline:
            self.app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents | QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
        waker.stop()
        if not future.done():
            log.warning("shutdown took longer than %.1f s; leaving anyway", self.budget_s)
            future.cancel()
            self.app.processEvents()
        self.shutdown_seconds = time.monotonic() - started
        log.info("shutdown finished in %.2f s", self.shutdown_seconds)
        self.shutdownFinished.emit(self.shutdown_seconds)

    async def shutdown(self) -> None:
        """Run the shutdown hooks within the budget (for hosts that own the loop)."""
        self.shutting_down = True
        try:
            await asyncio.wait_for(self._run_hooks(), self.budget_s)
        except TimeoutError:
            log.warning("shutdown took longer than %.1f s", self.budget_s)

    async def _run_hooks(self) -> None:
        for hook in reversed(self._hooks):
            try:
                await hook()
            except Exception:  # every hook gets its turn
                log.exception("shutdown hook failed")
        await self.tasks.cancel_all(timeout=0.5)


def freeze_gc() -> None:
    """Collect the young generations, then move every object alive now (modules, Qt wrappers,
    the joined roster) to the permanent generation (``gc.freeze``, Python >= 3.7), so later full
    collections stop walking them (far shorter gen-2 pauses in a burst over a large roster). Not a
    full collection first: it is a long pause that finds next to nothing to free, so freezing
    without it costs nothing and the call is cheap (young objects only; ``gc.freeze`` itself is O(1)): it can run again after
    thousands of agents joined (:class:`~presence_desktop.ui.roster.model.RosterTableModel`).
    The collection thresholds stay CPython's: a higher young threshold cut the total GC time but
    lengthened single pauses. Figures: bench/README.md, "Figures behind the code"."""
    gc.collect(1)
    gc.freeze()


def make_qt_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication, created first (or the existing one)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("presence-desktop")
    app.setOrganizationName("presence-desktop")
    app.setQuitOnLastWindowClosed(False)  # the app decides (tray or quit), see GuiApp
    return app


class _SignalWakeup:
    """``signal.set_wakeup_fd`` on a socket pair, read by a QSocketNotifier on the GUI thread."""

    def __init__(self) -> None:
        self.read, self.write = socket.socketpair()
        for sock in (self.read, self.write):
            sock.setblocking(False)
        self.previous = signal.set_wakeup_fd(self.write.fileno())  # ValueError off the main thread
        self.notifier = QSocketNotifier(self.read.fileno(), QSocketNotifier.Type.Read)
        self.notifier.activated.connect(self._drain)  # running Python runs the pending handlers

    def _drain(self, *_args: Any) -> None:
        try:
            while self.read.recv(64):
                pass
        except OSError:  # BlockingIOError: drained
            pass

    def close(self) -> None:
        self.notifier.setEnabled(False)
        try:
            signal.set_wakeup_fd(self.previous)
        except ValueError:
            pass
        self.read.close()
        self.write.close()


def _signal_wakeup() -> _SignalWakeup | None:
    try:
        return _SignalWakeup()
    except (ValueError, OSError):  # not the main thread: no signal handlers either
        return None


LOOP_STALL_THRESHOLD_S = 1.0  # a GUI thread blocked longer than this is logged (client/loop_watchdog.py)


def run(start: Callable[[QtRuntime], Coroutine[Any, Any, Any]], argv: list[str] | None = None,
        budget_s: float = SHUTDOWN_BUDGET_S) -> int:
    """Create the QApplication, run asyncio on qasync's loop, call ``start(runtime)`` once the
    loop runs, and return the exit code when the app quits (0 on a normal quit)."""
    app = make_qt_app(argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    loop.set_default_executor(DaemonExecutor())
    runtime = QtRuntime(app, loop, budget_s)
    loop.set_exception_handler(runtime.loop_exception)
    old_hook = sys.excepthook
    sys.excepthook = runtime.excepthook

    # Ctrl+C / SIGTERM: Python only runs signal handlers when the interpreter gets control. The
    # C-level handler writes the signal number to a wake-up socket whose notifier hands Python
    # control at once (a timer handing it control 4 times a second cost ~0.05 % of a core idle).
    wake = _signal_wakeup()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, lambda *_: runtime.request_quit())
        except (ValueError, OSError):  # not the main thread
            pass

    from presence_desktop.client.loop_watchdog import LoopLagWatchdog

    watchdog = LoopLagWatchdog(loop, threshold_s=LOOP_STALL_THRESHOLD_S)

    def _start() -> None:
        watchdog.start()
        runtime.spawn(start(runtime), name="startup")

    QTimer.singleShot(0, _start)
    try:
        with loop:
            code = loop.run_forever()
    finally:
        watchdog.stop()
        if wake is not None:
            wake.close()
        sys.excepthook = old_hook
        asyncio.set_event_loop(None)
    return int(code or 0)
