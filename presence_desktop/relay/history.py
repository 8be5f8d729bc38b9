"""Status history: every change the relay accepted, kept for ``retention`` days (docs/relay-api.md).

AppSync Events keeps no history and the presence store keeps only the last status, so the relay
appends each accepted change (a new version) here: status, message, source, changed_by, version,
time, and what it replaced (``previous``), so a day's timeline can start from the status that was
current at midnight without reading older days.

Reads are by one agent or one team for one *local* day (``tz``, an IANA zone; UTC by default):
at most two UTC-day partitions. Pages hold at most :data:`MAX_PAGE` entries; a ``cursor`` (opaque)
asks for the next page.

A history store that is down must not block a status change: the relay writes here after the
presence store, alongside the publish, and a failed append is retried by the sweeper
(:class:`HistoryWriter`); versions of one agent are consecutive, so a reader can say where an
entry is missing (``domain/history.py`` ``find_gaps``) instead of drawing a wrong timeline.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import collections
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from presence_desktop.domain.history import (
    RETENTION_DAYS,
    DayWindow,
    HistoryQueryError,
    entry_dict,
)
from presence_desktop.domain.presence import PresenceEvent, format_time, parse_time
from presence_desktop.relay.store import SqliteConnections, T

log = logging.getLogger(__name__)

MAX_PAGE = 500
DEFAULT_PAGE = 200


class HistoryUnavailable(RuntimeError):
    """The history store could not be read or written (locked, throttled, unreachable)."""


def encode_cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str | None) -> dict[str, Any] | None:
    """Raises :class:`HistoryQueryError` ``invalid_cursor``."""
    if not text:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, TypeError):
        raise HistoryQueryError("invalid_cursor", "the cursor is not one this relay gave out") from None
    if not isinstance(data, dict):
        raise HistoryQueryError("invalid_cursor", "the cursor is not one this relay gave out")
    return data


@dataclass
class HistoryPage:
    """Entries (API dicts, oldest first) and the cursor of the next page (None = last page)."""

    entries: list[dict[str, Any]]
    cursor: str | None


class HistoryStore(abc.ABC):
    """Append-only history of accepted changes. Implementations: :class:`SqliteHistory`,
    :class:`DynamoHistory`. Every method may raise :class:`HistoryUnavailable`."""

    @abc.abstractmethod
    async def append(self, event: PresenceEvent, previous: PresenceEvent | None) -> None:
        """Record ``event`` (idempotent per agent and version)."""

    @abc.abstractmethod
    async def query(self, window: DayWindow, *, agent_id: str | None = None, team_id: str | None = None,
                    cursor: str | None = None, limit: int = DEFAULT_PAGE) -> HistoryPage:
        """The entries of one agent or one team changed within ``window``, oldest first."""

    async def close(self) -> None:  # noqa: B027 - optional
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    agent_id   TEXT NOT NULL,
    version    INTEGER NOT NULL,
    team_id    TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    entry_json TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (agent_id, version)
);
CREATE INDEX IF NOT EXISTS history_team_time ON history (team_id, changed_at, agent_id, version);
CREATE INDEX IF NOT EXISTS history_agent_time ON history (agent_id, changed_at);
CREATE INDEX IF NOT EXISTS history_expiry ON history (expires_at);
"""


class SqliteHistory(HistoryStore):
    """History in SQLite (the local relay): WAL, one connection per worker thread; expired rows
    are deleted at most once an hour, on append."""

    def __init__(self, path: str | Path, retention_days: int = RETENTION_DAYS, clock: Callable[[], float] = time.time,
                 busy_timeout_ms: int = 10_000) -> None:
        self.path = str(path)
        self.retention_s = retention_days * 86400
        self.clock = clock
        self._connections = SqliteConnections(self.path, busy_timeout_ms)
        self._pruned_at = 0.0
        self._conn().executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        return self._connections.get()

    def _append(self, event: PresenceEvent, previous: PresenceEvent | None) -> None:
        now = self.clock()
        conn = self._conn()
        conn.execute(
            "INSERT OR IGNORE INTO history (agent_id, version, team_id, changed_at, entry_json, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (event.agent_id, event.version, event.team_id, event.changed_at,
             json.dumps(entry_dict(event, previous), separators=(",", ":"), ensure_ascii=False),
             parse_time(event.changed_at).timestamp() + self.retention_s),
        )
        if now - self._pruned_at > 3600:
            self._pruned_at = now
            conn.execute("DELETE FROM history WHERE expires_at < ?", (now,))

    def _query(self, window: DayWindow, agent_id: str | None, team_id: str | None, cursor: str | None,
               limit: int) -> HistoryPage:
        after = decode_cursor(cursor)
        column, value = ("agent_id", agent_id) if agent_id is not None else ("team_id", team_id)
        sql = (f"SELECT changed_at, agent_id, version, entry_json FROM history WHERE {column} = ?"
               " AND changed_at >= ? AND changed_at < ?")
        args: list[Any] = [value, window.start_iso, window.end_iso]
        if after is not None:
            try:
                sql += " AND (changed_at, agent_id, version) > (?, ?, ?)"
                args += [str(after["t"]), str(after["a"]), int(after["v"])]
            except (KeyError, TypeError, ValueError):
                raise HistoryQueryError("invalid_cursor", "the cursor is not one this relay gave out") from None
        sql += " ORDER BY changed_at, agent_id, version LIMIT ?"
        rows = self._conn().execute(sql, (*args, limit + 1)).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = encode_cursor({"t": rows[-1][0], "a": rows[-1][1], "v": rows[-1][2]}) if more else None
        return HistoryPage([json.loads(r[3]) for r in rows], nxt)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args)
        except sqlite3.OperationalError as exc:
            raise HistoryUnavailable(f"sqlite: {exc}") from exc

    async def append(self, event: PresenceEvent, previous: PresenceEvent | None) -> None:
        await self._run(self._append, event, previous)

    async def query(self, window: DayWindow, *, agent_id: str | None = None, team_id: str | None = None,
                    cursor: str | None = None, limit: int = DEFAULT_PAGE) -> HistoryPage:
        return await self._run(self._query, window, agent_id, team_id, cursor, limit)

    async def close(self) -> None:
        self._connections.close()


class DynamoHistory(HistoryStore):
    """History in DynamoDB (the relay in AWS). Table ``HistoryTable`` (packaging/cloudformation/
    presence.yaml): key ``pk`` = ``agent#<agent>#<UTC day>``, ``sk`` = ``<changed_at>#<version>``;
    global secondary index ``team`` with ``tpk`` = ``team#<team>#<UTC day>``, ``tsk`` =
    ``<changed_at>#<agent>#<version>``; TTL on ``expires_at``. One agent-day or team-day is one
    ``Query`` per UTC day touched; an append is one conditional ``PutItem`` (a retried append
    of the same version is a no-op). ``client``: a botocore DynamoDB client."""

    def __init__(self, table: str, *, client: Any = None, region: str | None = None, endpoint_url: str | None = None,
                 retention_days: int = RETENTION_DAYS) -> None:
        if not table:
            raise ValueError("a DynamoDB table name is required")
        self.table = table
        self.retention_s = retention_days * 86400
        if client is None:
            import botocore.session
            from botocore.config import Config

            client = botocore.session.get_session().create_client(
                "dynamodb", region_name=region, endpoint_url=endpoint_url,
                config=Config(retries={"mode": "standard", "max_attempts": 5}))
        self.client = client

    def create_table(self) -> None:
        """Create the table as the template does (tests, local use)."""
        s = {"AttributeType": "S"}
        self.client.create_table(
            TableName=self.table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, **s} for n in ("pk", "sk", "tpk", "tsk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "team", "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": "tpk", "KeyType": "HASH"}, {"AttributeName": "tsk", "KeyType": "RANGE"}],
            }],
        )
        self.client.get_waiter("table_exists").wait(TableName=self.table)

    def _append(self, event: PresenceEvent, previous: PresenceEvent | None) -> None:
        from botocore.exceptions import ClientError

        day = event.changed_at[:10]
        item = {
            "pk": {"S": f"agent#{event.agent_id}#{day}"},
            "sk": {"S": f"{event.changed_at}#{event.version:012d}"},
            "tpk": {"S": f"team#{event.team_id}#{day}"},
            "tsk": {"S": f"{event.changed_at}#{event.agent_id}#{event.version:012d}"},
            "entry_json": {"S": json.dumps(entry_dict(event, previous), separators=(",", ":"), ensure_ascii=False)},
            "expires_at": {"N": str(int(parse_time(event.changed_at).timestamp() + self.retention_s))},
        }
        try:
            self.client.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def _query(self, window: DayWindow, agent_id: str | None, team_id: str | None, cursor: str | None,
               limit: int) -> HistoryPage:
        after = decode_cursor(cursor) or {}
        days = window.utc_days()
        try:
            index = int(after.get("d", 0))
        except (TypeError, ValueError):
            raise HistoryQueryError("invalid_cursor", "the cursor is not one this relay gave out") from None
        start_key = after.get("k")
        if not 0 <= index < len(days) or (start_key is not None and not isinstance(start_key, dict)):
            raise HistoryQueryError("invalid_cursor", "the cursor is not one this relay gave out")
        entries: list[dict[str, Any]] = []
        while index < len(days) and len(entries) < limit:
            day = days[index]
            if agent_id is not None:
                kw: dict[str, Any] = {"KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
                                      "ExpressionAttributeValues": {":p": {"S": f"agent#{agent_id}#{day}"}}}
            else:
                kw = {"IndexName": "team", "KeyConditionExpression": "tpk = :p AND tsk BETWEEN :a AND :b",
                      "ExpressionAttributeValues": {":p": {"S": f"team#{team_id}#{day}"}}}
            # "~" sorts after every digit and '#': the whole of the last millisecond is included.
            kw["ExpressionAttributeValues"][":a"] = {"S": window.start_iso}
            kw["ExpressionAttributeValues"][":b"] = {"S": format_time(window.end - timedelta(milliseconds=1)) + "~"}
            kw.update(TableName=self.table, Limit=limit - len(entries))
            if start_key:
                kw["ExclusiveStartKey"] = start_key
            resp = self.client.query(**kw)
            entries.extend(json.loads(i["entry_json"]["S"]) for i in resp.get("Items", []))
            start_key = resp.get("LastEvaluatedKey")
            if not start_key:
                index += 1
        nxt = encode_cursor({"d": index, "k": start_key}) if index < len(days) else None
        return HistoryPage(entries, nxt)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await asyncio.to_thread(fn, *args)
        except (ClientError, BotoCoreError) as exc:
            raise HistoryUnavailable(f"dynamodb: {type(exc).__name__}: {exc}") from exc

    async def append(self, event: PresenceEvent, previous: PresenceEvent | None) -> None:
        await self._run(self._append, event, previous)

    async def query(self, window: DayWindow, *, agent_id: str | None = None, team_id: str | None = None,
                    cursor: str | None = None, limit: int = DEFAULT_PAGE) -> HistoryPage:
        return await self._run(self._query, window, agent_id, team_id, cursor, limit)


class HistoryWriter:
    """Appends without ever failing a status change: an append that fails or takes longer than
    ``timeout_s`` is queued (at most ``max_pending``, oldest dropped with a log line: the gap
    then shows in :func:`find_gaps`) and retried by :meth:`retry_pending` (the sweeper)."""

    def __init__(self, store: HistoryStore, timeout_s: float = 1.0, max_pending: int = 10_000) -> None:
        self.store = store
        self.timeout_s = timeout_s
        self.pending: collections.deque[tuple[PresenceEvent, PresenceEvent | None]] = collections.deque()
        self.max_pending = max_pending

    def _queue(self, event: PresenceEvent, previous: PresenceEvent | None) -> None:
        if len(self.pending) >= self.max_pending:
            lost, _ = self.pending.popleft()
            log.error("history: dropped %s v%d (retry queue full); readers will see the gap", lost.agent_id, lost.version)
        self.pending.append((event, previous))

    async def record(self, event: PresenceEvent, previous: PresenceEvent | None) -> bool:
        """Append; True when written now. Never raises (but for cancellation)."""
        try:
            await asyncio.wait_for(self.store.append(event, previous), self.timeout_s)
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - history must never fail a status change
            log.warning("history: could not record %s v%d now (%s); will retry", event.agent_id, event.version,
                        type(exc).__name__)
            self._queue(event, previous)
            return False

    async def retry_pending(self) -> int:
        """Retry queued appends in order; stops at the first failure. Returns how many were written."""
        written = 0
        while self.pending:
            event, previous = self.pending[0]
            try:
                await asyncio.wait_for(self.store.append(event, previous), self.timeout_s)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - still down: the next sweep tries again
                break
            self.pending.popleft()
            written += 1
        return written


