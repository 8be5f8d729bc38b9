"""Where the relay keeps the last presence of every agent: one interface, SQLite or DynamoDB.

AppSync Events keeps no history, so the store is the source of truth for the roster snapshot and
for per-agent versions. Each row holds the latest :class:`PresenceEvent` of one agent *as the
exact JSON text that is (or will be) published*, a ``published`` flag (outbox), and the time of
the agent's last sign of life (``last_seen``, epoch seconds).

Consistency rules every implementation keeps:

- :meth:`PresenceStore.update` is an atomic compare-and-set per agent: the new version is the
  stored version + 1 and no two writers get the same version (SQLite: ``BEGIN IMMEDIATE``;
  DynamoDB: a conditional ``PutItem`` on the old version, retried on conflict).
- The stored JSON is written once per version and never changed, so a publish retried later (by
  the caller or the sweeper) sends byte-identical content: one version is never published with
  two different contents.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from presence_desktop.domain.presence import PresenceEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredPresence:
    """One agent's row: the latest event, its exact JSON, whether it reached AppSync, liveness."""

    event: PresenceEvent
    event_json: str
    published: bool
    last_seen: float | None

    @property
    def agent_id(self) -> str:
        return self.event.agent_id

    @property
    def version(self) -> int:
        return self.event.version

    @classmethod
    def new(cls, event: PresenceEvent, last_seen: float | None) -> StoredPresence:
        return cls(event=event, event_json=event.to_json(), published=False, last_seen=last_seen)


UpdateFn = Callable[["StoredPresence | None"], "StoredPresence | None"]
# The stores have a method named ``list``: inside their class bodies the builtin needs this name.
Rows = list[StoredPresence]
T = TypeVar("T")
"""Given the current row (or None), return the row to store (its event's version must be the
current version + 1, or 1), or None to leave the row as it is. May raise to abort. Must be
pure: DynamoDB may call it again after a conflicting write."""


class StoreUnavailable(RuntimeError):
    """The store could not be reached or stayed locked/throttled past its wait (a retry later
    may succeed). The relay answers 500 ``store_unavailable`` with ``Retry-After`` (nothing written)."""


class VersionConflict(RuntimeError):
    """The update function returned a version that is not the stored version + 1."""


class PresenceStore(abc.ABC):
    """Async interface of a presence store. Any method may raise :class:`StoreUnavailable`
    (locked, throttled, unreachable: worth a retry later)."""

    @abc.abstractmethod
    async def get(self, agent_id: str) -> StoredPresence | None:
        """The agent's row, or None."""

    @abc.abstractmethod
    async def update(self, agent_id: str, fn: UpdateFn) -> tuple[StoredPresence | None, StoredPresence | None]:
        """Atomically replace the agent's row with ``fn(current)``.

        Returns ``(old, new)``; ``new`` is None when ``fn`` returned None (nothing written).
        Exceptions raised by ``fn`` propagate and nothing is written.
        """

    @abc.abstractmethod
    async def mark_published(self, agent_id: str, version: int) -> None:
        """Set ``published`` on the row if it still holds ``version`` (a newer row is left alone)."""

    @abc.abstractmethod
    async def touch(self, agent_id: str, now: float) -> StoredPresence | None:
        """Record a heartbeat (``last_seen = now``) without changing the version; None if no row."""

    @abc.abstractmethod
    async def list(self, team_id: str | None = None, *, after: str | None = None,
                   limit: int | None = None) -> Rows:
        """Rows ordered by agent id: of one team when ``team_id`` is given (read through an index
        by team, never the whole table), only agent ids greater than ``after``, at most ``limit``
        (None: all). A row written a moment ago may be missing (DynamoDB's index by team is
        eventually consistent); the join's replay by version covers it (docs/teams.md)."""

    @abc.abstractmethod
    async def stale(self, cutoff: float) -> Rows:
        """Rows whose status is not ``offline`` and whose ``last_seen`` is before ``cutoff``
        (candidates for expiry; :meth:`update` re-checks them atomically)."""

    @abc.abstractmethod
    async def mark_rejected(self, agent_id: str, version: int,
                            retry_at_for: Callable[[int], float]) -> int | None:
        """Record that AppSync refused this version (4xx, handler error) and return how many
        times it has been refused (refusals of one version add up in the store, across relay
        processes and restarts; a new version starts again at 1). It leaves the outbox until
        ``retry_at_for(refusals)`` (epoch s), for every relay process, then is tried again (the
        cause, e.g. rotated credentials or a handler fixed, may be gone). A newer version stored
        meanwhile is left alone: returns None."""

    @abc.abstractmethod
    async def take_rate(self, key: str, now: float, window_s: float, limit: int) -> float:
        """Count one request of ``key`` in the fixed window of ``window_s`` seconds holding ``now``
        (epoch s), shared by every relay process; return 0.0 when it is within ``limit``, else the
        seconds until the window ends (nothing counted). One record per key, whatever the window."""

    @abc.abstractmethod
    async def unpublished(self, now: float) -> Rows:
        """Rows whose latest event has not been confirmed published (the outbox), but for a
        refused version whose ``retry_at`` is after ``now`` (epoch s)."""

    async def close(self) -> None:  # noqa: B027 - a store with nothing to release need not override it
        """Release connections. Idempotent."""


def check_next(old: StoredPresence | None, new: StoredPresence) -> None:
    expected = 1 if old is None else old.version + 1
    if new.version != expected:
        raise VersionConflict(f"version {new.version} is not the next version {expected}")
    if new.agent_id != (old.agent_id if old else new.agent_id):
        raise VersionConflict("an update may not change the agent id")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS presence (
    agent_id   TEXT PRIMARY KEY,
    team_id    TEXT NOT NULL,
    status     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    event_json TEXT NOT NULL,
    published  INTEGER NOT NULL DEFAULT 0,
    last_seen  REAL
);
CREATE INDEX IF NOT EXISTS presence_team ON presence (team_id, agent_id);
CREATE TABLE IF NOT EXISTS rate (
    key    TEXT PRIMARY KEY,
    window INTEGER NOT NULL,
    n      INTEGER NOT NULL
);
"""
# Added after the first release: existing files get the column on open.
_MIGRATIONS = (("presence", "rejected_version", "ALTER TABLE presence ADD COLUMN rejected_version INTEGER"),
               ("presence", "rejected_until", "ALTER TABLE presence ADD COLUMN rejected_until REAL"),
               ("presence", "rejected_count", "ALTER TABLE presence ADD COLUMN rejected_count INTEGER"))


class SqliteConnections:
    """One SQLite connection per thread to ``path`` (sqlite3 connections must not be shared by two
    threads), in WAL mode with ``busy_timeout``; :meth:`close` closes them all. Every SQLite store
    of the relay (presence, history, floors) opens its file through one of these."""

    def __init__(self, path: str, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def get(self) -> sqlite3.Connection:
        """This thread's connection. Raises RuntimeError once closed."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError("store is closed")
            # isolation_level=None: the stores issue BEGIN/COMMIT themselves.
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=self.busy_timeout_ms / 1000)
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal" and self.path != ":memory:":
                log.warning("sqlite journal_mode is %s, not wal", mode)
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:  # pragma: no cover - closing is best effort
                log.exception("closing sqlite connection failed")


class SqliteStore(PresenceStore):
    """One SQLite file in WAL mode; every blocking call runs in a worker thread.

    Safe under concurrent requests and across processes sharing the file: writes take the
    database write lock up front (``BEGIN IMMEDIATE``), readers never block writers (WAL), and
    a busy lock is waited for (``busy_timeout``) rather than failing. Each worker thread has its
    own connection (sqlite3 connections must not be used by two threads at once).

    The worker threads are the store's own (``max_workers``), not the loop's default executor:
    in the devstack the relay shares its process with clients making blocking HTTP calls to it
    on default-executor threads, and a store call queued behind them would wait for their
    timeouts (a deadlock broken only by ReadTimeoutError).
    """

    def __init__(self, path: str | Path, busy_timeout_ms: int = 10_000, max_workers: int = 4) -> None:
        self.path = str(path)
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="relay-store")
        self._connections = SqliteConnections(self.path, busy_timeout_ms)
        conn = self._conn()
        conn.executescript(_SCHEMA)
        for table, column, ddl in _MIGRATIONS:
            if column not in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
                conn.execute(ddl)

    def _conn(self) -> sqlite3.Connection:
        return self._connections.get()

    @property
    def journal_mode(self) -> str:
        return str(self._conn().execute("PRAGMA journal_mode").fetchone()[0])

    @staticmethod
    def _row(row: tuple[str, int, float | None] | None) -> StoredPresence | None:
        if row is None:
            return None
        event_json, published, last_seen = row
        return StoredPresence(PresenceEvent.from_json(event_json), event_json, bool(published), last_seen)

    def _get(self, agent_id: str) -> StoredPresence | None:
        row = self._conn().execute(
            "SELECT event_json, published, last_seen FROM presence WHERE agent_id = ?", (agent_id,)
        ).fetchone()
        return self._row(row)

    def _update(self, agent_id: str, fn: UpdateFn) -> tuple[StoredPresence | None, StoredPresence | None]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            old = self._get(agent_id)
            new = fn(old)
            if new is not None:
                check_next(old, new)
                e = new.event
                conn.execute(
                    "INSERT INTO presence (agent_id, team_id, status, version, event_json, published, last_seen)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (agent_id) DO UPDATE SET team_id = excluded.team_id, status = excluded.status,"
                    " version = excluded.version, event_json = excluded.event_json,"
                    " published = excluded.published, last_seen = excluded.last_seen",
                    (agent_id, e.team_id, e.status, e.version, new.event_json, int(new.published), new.last_seen),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return old, new

    def _mark_published(self, agent_id: str, version: int) -> None:
        self._conn().execute(
            "UPDATE presence SET published = 1 WHERE agent_id = ? AND version = ?", (agent_id, version)
        )

    def _mark_rejected(self, agent_id: str, version: int, retry_at_for: Callable[[int], float]) -> int | None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT rejected_version, rejected_count FROM presence WHERE agent_id = ? AND version = ?",
                               (agent_id, version)).fetchone()
            if row is None:  # a newer version is stored
                conn.execute("COMMIT")
                return None
            refusals = (row[1] or 0) + 1 if row[0] == version else 1
            conn.execute("UPDATE presence SET rejected_version = ?, rejected_count = ?, rejected_until = ?"
                         " WHERE agent_id = ? AND version = ?",
                         (version, refusals, retry_at_for(refusals), agent_id, version))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return refusals

    def _take_rate(self, key: str, now: float, window_s: float, limit: int) -> float:
        window = int(now // window_s)
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT window, n FROM rate WHERE key = ?", (key,)).fetchone()
            if row is not None and row[0] == window and row[1] >= limit:
                conn.execute("COMMIT")
                return (window + 1) * window_s - now
            n = row[1] + 1 if row is not None and row[0] == window else 1
            conn.execute("INSERT INTO rate (key, window, n) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
                         " window = excluded.window, n = excluded.n", (key, window, n))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return 0.0

    def _touch(self, agent_id: str, now: float) -> StoredPresence | None:
        conn = self._conn()
        conn.execute("UPDATE presence SET last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE agent_id = ?", (now, agent_id))
        return self._get(agent_id)

    def _select(self, where: str = "", args: tuple[object, ...] = ()) -> Rows:
        rows = self._conn().execute(
            f"SELECT event_json, published, last_seen FROM presence {where} ORDER BY agent_id", args
        ).fetchall()
        return [self._row(r) for r in rows]  # type: ignore[misc]

    def _select_raw(self, clause: str, args: tuple[object, ...]) -> Rows:
        rows = self._conn().execute(f"SELECT event_json, published, last_seen FROM presence {clause}", args).fetchall()
        return [self._row(r) for r in rows]  # type: ignore[misc]

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except sqlite3.OperationalError as exc:  # locked past busy_timeout, disk I/O, cannot open
            raise StoreUnavailable(f"sqlite: {exc}") from exc

    async def get(self, agent_id: str) -> StoredPresence | None:
        return await self._run(self._get, agent_id)

    async def update(self, agent_id: str, fn: UpdateFn) -> tuple[StoredPresence | None, StoredPresence | None]:
        """See :meth:`PresenceStore.update`; raises :class:`StoreUnavailable` when the file stays locked."""
        return await self._run(self._update, agent_id, fn)

    async def mark_published(self, agent_id: str, version: int) -> None:
        await self._run(self._mark_published, agent_id, version)

    async def touch(self, agent_id: str, now: float) -> StoredPresence | None:
        return await self._run(self._touch, agent_id, now)

    async def list(self, team_id: str | None = None, *, after: str | None = None,
                   limit: int | None = None) -> Rows:
        where: list[str] = []
        args: list[object] = []
        if team_id is not None:
            where.append("team_id = ?")  # index presence_team (team_id, agent_id)
            args.append(team_id)
        if after is not None:
            where.append("agent_id > ?")
            args.append(after)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        if limit is not None:
            clause += " ORDER BY agent_id LIMIT ?"
            args.append(int(limit))
            return await self._run(self._select_raw, clause, tuple(args))
        return await self._run(self._select, clause, tuple(args))

    async def stale(self, cutoff: float) -> Rows:
        return await self._run(
            self._select, "WHERE status != 'offline' AND last_seen IS NOT NULL AND last_seen < ?", (cutoff,)
        )

    async def mark_rejected(self, agent_id: str, version: int,
                            retry_at_for: Callable[[int], float]) -> int | None:
        return await self._run(self._mark_rejected, agent_id, version, retry_at_for)

    async def take_rate(self, key: str, now: float, window_s: float, limit: int) -> float:
        return await self._run(self._take_rate, key, now, window_s, limit)

    async def unpublished(self, now: float) -> Rows:
        return await self._run(
            self._select, "WHERE published = 0 AND (rejected_version IS NULL OR rejected_version != version"
            " OR COALESCE(rejected_until, 0) <= ?)", (now,)
        )

    async def close(self) -> None:
        self._connections.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
