"""The app under test, as a receiver: the real wiring of ``GuiApp.open_roster`` (PresenceService,
EventsLiveFeed over the real EventsClient, QtBridge, RosterWindow with its model, proxy and
delegate, the tray) on qasync, offscreen, against the bench events server.

Stand-ins (documented in bench/README.md): the connection is authorised with the API key
(``ApiKeyAuth``, the same client code path as Cognito minus the token); the relay is
:class:`BenchRelay` (``GET /roster`` of the bench server's store instead of the relay's
``GET /v1/roster``; heartbeats and own-status calls are no-ops).

Probes (bench code only; the app is unchanged):
- a tap between EventsClient and EventsLiveFeed notes ``(agent_id, version) -> bench_ts`` of each
  raw event (one dict insert);
- event-to-model: a slot on ``QtBridge.rosterChanged`` connected after the window's, i.e. the
  moment the domain roster holds the event and the table model has been told (``note_change``);
- event-to-pixel: the indicator column's delegate, subclassed, stamps the first paint of a row
  showing a version >= the event's (only rows on screen are ever painted);
- GUI stall: a 5 ms precise QTimer; a stall is the longest gap between two of its ticks.

Around the loop, as ``ui/runtime.run`` does for the real app: the signal wake-up and the
loop-lag watchdog (``BENCH_APP_RUNTIME_TIMERS=0`` leaves them out, to measure what they cost).

Modes: receiver (default; stdin commands, see ``_command``) and ``--memory N`` (open the roster
with N agents from an in-process snapshot, connected, painted; print RSS; exit).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench.bare_proc import Phases
from bench.common import API_KEY, agent_id, emit, iso_now, load_ready, now_us, rss_mb, stdin_commands, team_of

WINDOW_W, WINDOW_H = 1040, 1400  # ~50 rows on screen


class BenchRelay:
    """RelayApi stand-in: the snapshot comes from the bench server's store over plain HTTP."""

    def __init__(self, control_url: str | None, local_events: list | None = None) -> None:
        self.control_url = control_url
        self.local_events = local_events
        self.snapshots = 0
        self._session = None  # aiohttp, imported on first use: the app itself does not load it

    async def roster(self, team=None):
        from presence_desktop.client.ports import RelayCallError, RosterSnapshot
        from presence_desktop.domain.presence import PresenceEvent

        self.snapshots += 1
        if self.local_events is not None:
            return RosterSnapshot(list(self.local_events), as_of=iso_now())
        import aiohttp

        try:
            if self._session is None:
                self._session = aiohttp.ClientSession()
            async with self._session.get(self.control_url + "/roster") as resp:
                data = await resp.json()
        except aiohttp.ClientError as exc:
            raise RelayCallError(0, "network", str(exc)) from None
        return RosterSnapshot([PresenceEvent.from_dict(a) for a in data["agents"]], as_of=data.get("as_of"))

    async def set_status(self, status, message=None, agent_id=None, source=None):
        from presence_desktop.client.ports import RelayCallError

        raise RelayCallError(503, "bench", "the bench relay does not take status changes")

    async def heartbeat(self) -> None:
        return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class TapSubscription:
    def __init__(self, sub: Any, sent: dict, taken: Phases) -> None:
        self._sub = sub
        self._sent = sent
        self._taken = taken

    def __aiter__(self):
        return self

    async def __anext__(self):
        item = await self._sub.__anext__()
        if type(item) is dict:
            ts = item.get("bench_ts")
            if ts is not None:
                phase = item.get("bench_phase")
                self._sent.setdefault(item.get("agent_id"), []).append((item.get("version"), ts, phase))
                self._taken.record(phase, ts, now_us())
        return item

    def __getattr__(self, name):
        return getattr(self._sub, name)


class TapClient:
    """The EventsClient, with its subscriptions tapped (see module doc)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.sent: dict[str, list[tuple[int, int, str]]] = {}  # agent -> [(version, sent us, phase)]
        self.subs: list[Any] = []
        self.taken = Phases()  # when the app's feed loop took each event from the client

    async def subscribe(self, channel, *args, **kwargs):
        sub = await self._client.subscribe(channel, *args, **kwargs)
        self.subs.append(sub)
        return TapSubscription(sub, self.sent, self.taken)

    def __getattr__(self, name):
        return getattr(self._client, name)


def build_app(ready: dict, local_events: list | None = None):
    """Create the QApplication, qasync loop, runtime and GuiApp; open the roster as a supervisor."""
    import qasync

    from presence_desktop.client.backends import EventsLiveFeed, channels_for
    from presence_desktop.client.profile import CognitoSettings, EventsSettings, Profile, RelaySettings
    from presence_desktop.client.settings import AppSettings
    from presence_desktop.domain.identity import Identity
    from presence_desktop.events_api.auth import ApiKeyAuth
    from presence_desktop.events_api.client import EventsClient
    from presence_desktop.resources import default_catalogue
    from presence_desktop.ui.gui_app import GuiApp
    from presence_desktop.ui.runtime import DaemonExecutor, QtRuntime, make_qt_app

    app = make_qt_app(["bench-app"])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    loop.set_default_executor(DaemonExecutor())
    runtime = QtRuntime(app, loop)
    profile = Profile(
        name="bench", kind="local",
        cognito=CognitoSettings(region="us-east-1", user_pool_id="us-east-1_bench", client_id="bench"),
        events=EventsSettings(http_url=ready["http"], realtime_url=ready["realtime"], region="us-east-1",
                              ca_file=ready["ca_file"]),
        relay=RelaySettings(url=ready["control"]),
    )
    holder: dict[str, Any] = {}

    def backend_factory(prof, auth, identity):
        client = EventsClient.from_settings(prof.events, ApiKeyAuth(API_KEY, ready["host"]))
        tap = TapClient(client)
        relay = BenchRelay(ready["control"], local_events)
        holder.update(tap=tap, relay=relay, client=client)
        return relay, EventsLiveFeed(tap, channels_for(identity))

    gui = GuiApp(runtime, default_catalogue(), {"bench": profile}, auth_factory=lambda p, r: None,
                 backend_factory=backend_factory, settings=AppSettings(remember_me=False))
    gui.profile = profile
    identity = Identity("bench-sup", "bench-sup", ("supervisors", "managers"), "team-0")  # watches every team
    return app, loop, runtime, gui, identity, holder


class Receiver:
    def __init__(self, ready: dict) -> None:
        from presence_desktop.ui.roster.delegates import PersonDelegate
        from presence_desktop.ui.roster.model import AGENT_ROLE

        self.app, self.loop, self.runtime, self.gui, identity, self.holder = build_app(ready)
        self.model_ph = Phases()
        self.pixel_ph = Phases()
        self.render_ph = Phases()  # per event: model updated -> its row painted
        self.awaiting: dict[str, list[tuple[int, int, str]]] = {}
        self.targets: dict[str, int] | None = None
        self.targets_missing: set[str] = set()
        self.target_done_us: int | None = None
        self.last_change_us = 0
        self.conn_log: list[dict] = []
        self.stall_mark = "start"
        self.stalls: dict[str, dict] = {}
        self._last_tick: int | None = None
        self.gc_pauses: dict[str, dict] = {}
        self._gc_t0 = 0
        gc.callbacks.append(self._gc_probe)
        recv = self

        class ProbeDelegate(PersonDelegate):
            def paint(self, painter, option, index) -> None:
                super().paint(painter, option, index)
                waiting = recv.awaiting
                if not waiting:
                    return
                aid = index.data(AGENT_ROLE)
                pend = waiting.get(aid)
                if pend is None:
                    return
                at = now_us()
                shown = recv.roster.version_of(aid)
                keep = []
                for version, ts, phase, model_at in pend:
                    if version <= shown:
                        recv.pixel_ph.record(phase, ts, at)
                        recv.render_ph.record(phase, model_at, at)
                    else:
                        keep.append((version, ts, phase, model_at))
                if keep:
                    waiting[aid] = keep
                else:
                    del waiting[aid]

        self._identity = identity
        self._delegate_cls = ProbeDelegate
        stdin_commands(lambda cmd: self.loop.call_soon_threadsafe(self._command, cmd))

    # --- probes -------------------------------------------------------------------------------
    def _on_change(self, change) -> None:
        at = now_us()
        self.last_change_us = at
        sent = self.holder["tap"].sent
        roster = self.roster
        for aid in (*change.added, *change.updated):
            v = roster.version_of(aid)
            waiting = sent.get(aid)
            if waiting:
                # every event of this agent up to the version now held is in the model
                # (one change carries several: the app announces once per loop turn)
                left = []
                for version, ts, phase in waiting:
                    if version <= v:
                        self.model_ph.record(phase, ts, at)
                        pend = self.awaiting.setdefault(aid, [])
                        pend.append((version, ts, phase, at))
                        if len(pend) > 20:
                            del pend[:-20]
                    else:
                        left.append((version, ts, phase))
                if left:
                    sent[aid] = left
                else:
                    del sent[aid]
            if self.targets_missing and aid in self.targets_missing and v >= self.targets[aid]:
                self.targets_missing.discard(aid)
                if not self.targets_missing:
                    self.target_done_us = at

    def _on_connection(self, state) -> None:
        self.conn_log.append({"up": state.up, "joining": state.joining, "at_us": now_us()})
        if state.up and not state.joining and not self.ready_sent:
            self.ready_sent = True
            emit({"receiver": "app", "ready": True, "agents": len(self.roster)})

    def _gc_probe(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_t0 = now_us()
            return
        ms = (now_us() - self._gc_t0) / 1000.0
        g = self.gc_pauses.setdefault(self.stall_mark, {"max_ms": 0.0, "gen2": 0, "gen2_max_ms": 0.0, "total_ms": 0.0})
        g["max_ms"] = round(max(g["max_ms"], ms), 2)
        g["total_ms"] = round(g["total_ms"] + ms, 2)
        if info.get("generation") == 2:
            g["gen2"] += 1
            g["gen2_max_ms"] = round(max(g["gen2_max_ms"], ms), 2)

    def _tick(self) -> None:
        at = now_us()
        if self._last_tick is not None:
            gap = at - self._last_tick
            st = self.stalls.setdefault(self.stall_mark, {"max_gap_ms": 0.0, "over_50ms": 0, "ticks": 0})
            st["ticks"] += 1
            st["max_gap_ms"] = max(st["max_gap_ms"], round(gap / 1000.0, 2))
            if gap > 50_000:
                st["over_50ms"] += 1
        self._last_tick = at

    # --- commands -----------------------------------------------------------------------------
    def _command(self, cmd: dict) -> None:
        kind = cmd.get("cmd")
        if kind == "mark":
            self.stall_mark = cmd["phase"]
            self._last_tick = None
        elif kind == "probe":
            if cmd.get("on"):
                self._last_tick = None
                self.probe.start()
            else:
                self.probe.stop()
        elif kind == "expect":
            self.targets = {k: int(v) for k, v in cmd["targets"].items()}
            self.target_done_us = None
            self.targets_missing = {a for a, v in self.targets.items() if self.roster.version_of(a) < v}
            if not self.targets_missing:
                self.target_done_us = self.last_change_us
        elif kind == "count":
            emit({"receiver": "app", "count": {k: v["count"] for k, v in self.model_ph.data.items()},
                  "queued": sum(sub.pending_items() for sub in self.holder["tap"].subs)})
        elif kind == "status":
            emit({"receiver": "app", "status": {
                "agents": len(self.roster), "targets_missing": len(self.targets_missing),
                "target_done_us": self.target_done_us, "snapshots": self.holder["relay"].snapshots,
                "lost": sum(s.lost_total for s in self.holder["tap"].subs),
                "rss_mb": round(rss_mb(), 1), "conn_log": self.conn_log[-6:],
                "flushes": self.window.model.flushes}})
        elif kind == "dump":
            emit({"receiver": "app", "phases": self.model_ph.data, "pixel": self.pixel_ph.data,
                  "render": self.render_ph.data,
                  "taken": self.holder["tap"].taken.data,
                  "stalls": self.stalls, "gc": self.gc_pauses, "paints": self.paints, "conn_log": self.conn_log,
                  "snapshots": self.holder["relay"].snapshots,
                  "lost": sum(s.lost_total for s in self.holder["tap"].subs),
                  "client_stats": dict(self.holder["client"].stats)})
        elif kind == "profile":
            self._profile(bool(cmd.get("on")), bool(cmd.get("cprofile")))
        elif kind == "quit":
            os._exit(0)

    def _profile(self, on: bool, cprofile: bool) -> None:
        """Diagnostics of a quiet phase (``python -m bench --profile-idle``): the GUI thread's CPU,
        the tick's cell counts (pixmap-cache misses, blits, fast paints) and, with ``cprofile``,
        the Python functions where the GUI thread's time went (cProfile adds its own overhead:
        read the attribution, not the total)."""
        ticking = self.window.ticking
        delegate = ticking.delegate if ticking is not None else None

        def counters() -> dict[str, Any]:
            return {"thread_cpu_s": time.thread_time(), "process_cpu_s": time.process_time(),
                    "wall_s": time.monotonic(), "cache_misses": self._renders[0],
                    "blits": delegate.blits if delegate else 0,
                    "fast_paints": ticking.fast_paints if ticking else 0,
                    "viewport_paints": sum(v["paints"] for v in self.paints.values()),
                    "gc_collections": sum(s["collections"] for s in gc.get_stats())}

        if on:
            self._prof_start = counters()
            self._prof = None
            if cprofile:
                import cProfile

                self._prof = cProfile.Profile()
                self._prof.enable()
            return
        prof, self._prof = getattr(self, "_prof", None), None
        if prof is not None:
            prof.disable()
        end, start = counters(), getattr(self, "_prof_start", None) or counters()
        out: dict[str, Any] = {k: round(end[k] - start[k], 4) for k in end}
        if prof is not None:
            import io
            import pstats

            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(30)
            out["cprofile_tottime"] = buf.getvalue()[-12000:]
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(30)
            out["cprofile_cumulative"] = buf.getvalue()[-12000:]
        emit({"receiver": "app", "profile": out})

    def _open(self) -> None:
        from PySide6.QtCore import QEvent, QObject, Qt, QTimer

        from presence_desktop.ui.roster.columns import COL_NAME

        ProbeDelegate, identity = self._delegate_cls, self._identity
        window = self.gui.open_roster(identity)
        self.window = window
        self.roster = self.gui.service.roster
        window.resize(WINDOW_W, WINDOW_H)
        window.table.setItemDelegateForColumn(COL_NAME, ProbeDelegate(window.table))
        self._renders = [0]
        if window.ticking is not None:  # count the tick's pixmap-cache misses (``profile``)
            render_cell, renders = window.ticking.delegate.render_cell, self._renders

            def counted_render_cell(*args):
                renders[0] += 1
                return render_cell(*args)

            window.ticking.delegate.render_cell = counted_render_cell
        self.gui.bridge.rosterChanged.connect(self._on_change)
        self.gui.bridge.connectionChanged.connect(self._on_connection)
        self.paints: dict[str, dict] = {}
        recv = self

        class PaintWatch(QObject):
            """Counts the table viewport's paint events per phase, and the whole-viewport ones."""

            def eventFilter(self, obj, ev):  # Qt API
                t = ev.type()
                if t == QEvent.Type.Paint:
                    vp = window.table.viewport()
                    full = ev.rect().width() * ev.rect().height() >= 0.8 * vp.width() * vp.height()
                    st = recv.paints.setdefault(recv.stall_mark, {"paints": 0, "full": 0, "resizes": 0})
                    st["paints"] += 1
                    st["full"] += int(full)
                elif t == QEvent.Type.Resize:
                    st = recv.paints.setdefault(recv.stall_mark, {"paints": 0, "full": 0, "resizes": 0})
                    st["resizes"] += 1
                return False

        self._paint_watch = PaintWatch()
        window.table.viewport().installEventFilter(self._paint_watch)
        self.probe = QTimer()
        self.probe.setTimerType(Qt.TimerType.PreciseTimer)
        self.probe.setInterval(5)
        self.probe.timeout.connect(self._tick)
        self.ready_sent = False

    def run(self) -> None:
        self.loop.call_soon(self._open)
        if os.environ.get("BENCH_APP_RUNTIME_TIMERS", "1") != "0":
            # What ui/runtime.run adds around the real app's loop: the wake-up that lets Python see
            # Ctrl+C / SIGTERM, and the loop-lag watchdog (a beat on the loop, a thread checking it).
            from presence_desktop.client.loop_watchdog import LoopLagWatchdog
            from presence_desktop.ui.runtime import LOOP_STALL_THRESHOLD_S, _signal_wakeup

            self._wakeup = _signal_wakeup()
            self._watchdog = LoopLagWatchdog(self.loop, threshold_s=LOOP_STALL_THRESHOLD_S)
            self.loop.call_soon(self._watchdog.start)
        with self.loop:
            self.loop.run_forever()


def memory_probe(ready: dict, n: int) -> None:
    """RSS of the app with ``n`` agents in the roster (connected, joined, painted)."""
    import linecache

    from presence_desktop.app.gui import load_core_before_qt

    load_core_before_qt()  # as run_gui: the Qt-free core before the first PySide6 import
    import keyring

    keyring.get_keyring()  # the app picks its keyring back-end at start (its imports weigh ~12 MB)
    from presence_desktop.auth.claims import jwt_payload
    from presence_desktop.auth.session import AuthSession
    from presence_desktop.client.profile import CognitoSettings

    # What a signed-in session holds beside the roster (the bench authorises with the API key, so
    # nothing else would load them): PyJWT (the id token's claims, read at start), and, from its
    # first refresh on (hourly), botocore imported after PySide6 and a Cognito client made and
    # released (auth/session.py): done below once the roster is open, as the app does.
    cognito = AuthSession(CognitoSettings(region="us-east-1", user_pool_id="us-east-1_bench", client_id="bench"))
    try:
        jwt_payload("not.a.jwt")
    except ValueError:
        pass
    from presence_desktop.client.sample import STATUS_IDS
    from presence_desktop.domain.presence import PresenceEvent

    at = iso_now()
    events = [PresenceEvent(agent_id=agent_id(i), team_id=team_of(i), display_name=f"Agent {i:05d}",
                            status=STATUS_IDS[i % 8], version=1 + i % 13, changed_at=at,
                            message="back in 10" if i % 5 == 0 else None) for i in range(n)]
    app, loop, runtime, gui, identity, holder = build_app(ready, local_events=events)
    linecache.clearcache()  # as run_gui, after the ui's imports
    result: dict[str, Any] = {}

    async def go() -> None:
        window = gui.open_roster(identity)
        if os.environ.get("BENCH_MEMORY_FIRST_HOUR") != "1":  # steady state: after the first refresh
            await asyncio.to_thread(cognito.cognito_client)
            cognito._release_client()
        window.resize(WINDOW_W, WINDOW_H)
        deadline = time.monotonic() + 60
        while not (gui.service.connection.up and not gui.service.connection.joining) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        window.model.flush()
        window.grab()  # paint once
        await asyncio.sleep(1.5)  # a few ticks
        gc.collect()
        await asyncio.sleep(0.2)
        result.update(agents=len(gui.service.roster), rows=window.model.rowCount(), rss_mb=round(rss_mb(), 1))
        loop.stop()

    with loop:
        loop.create_task(go())
        loop.run_forever()
    emit({"memory": result})
    os._exit(0)


def empty_window_probe() -> None:
    """RSS of an empty PySide6 window (QApplication + QMainWindow shown and painted)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication(["bench-empty"])
    w = QMainWindow()
    w.resize(WINDOW_W, WINDOW_H)
    w.show()
    out = {}

    def measure() -> None:
        w.grab()
        gc.collect()
        out["rss_mb"] = round(rss_mb(), 1)
        app.quit()

    QTimer.singleShot(1500, measure)
    app.exec()
    emit({"memory": out})
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ready-file")
    parser.add_argument("--memory", type=int, default=None, help="memory probe with N agents")
    parser.add_argument("--empty-window", action="store_true")
    args = parser.parse_args()
    if args.empty_window:
        empty_window_probe()
        return
    ready = load_ready(args.ready_file)
    if args.memory is not None:
        memory_probe(ready, args.memory)
        return
    Receiver(ready).run()


if __name__ == "__main__":
    sys.exit(main())
