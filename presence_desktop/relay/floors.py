"""Where the relay keeps each team's staffing floors (domain/floors.py; API: docs/relay-api.md).

One small document per team: ``{"team_id", "floors": [...], "updated_by", "updated_at"}``.
SQLite locally (a table beside the history), DynamoDB in AWS (an item ``pk = floors#<team>``,
``sk = floors`` in the history table: no index, no TTL).
"""

from __future__ import annotations

import abc
import asyncio
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from presence_desktop.relay.history import HistoryUnavailable
from presence_desktop.relay.store import SqliteConnections, T


class FloorStore(abc.ABC):
    """Every method may raise :class:`~presence_desktop.relay.history.HistoryUnavailable`."""

    @abc.abstractmethod
    async def get(self, team_id: str) -> dict[str, Any] | None:
        """The team's floor document, or None when none was ever set."""

    @abc.abstractmethod
    async def put(self, team_id: str, document: dict[str, Any]) -> None:
        """Replace the team's floor document."""

    async def close(self) -> None:  # noqa: B027 - optional
        pass


class SqliteFloors(FloorStore):
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._connections = SqliteConnections(self.path)
        self._conn().execute("CREATE TABLE IF NOT EXISTS floors (team_id TEXT PRIMARY KEY, doc_json TEXT NOT NULL)")

    def _conn(self) -> sqlite3.Connection:
        return self._connections.get()

    def _get(self, team_id: str) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT doc_json FROM floors WHERE team_id = ?", (team_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def _put(self, team_id: str, document: dict[str, Any]) -> None:
        self._conn().execute("INSERT INTO floors (team_id, doc_json) VALUES (?, ?) ON CONFLICT (team_id)"
                             " DO UPDATE SET doc_json = excluded.doc_json", (team_id, json.dumps(document)))

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args)
        except sqlite3.OperationalError as exc:
            raise HistoryUnavailable(f"sqlite: {exc}") from exc

    async def get(self, team_id: str) -> dict[str, Any] | None:
        return await self._run(self._get, team_id)

    async def put(self, team_id: str, document: dict[str, Any]) -> None:
        await self._run(self._put, team_id, document)

    async def close(self) -> None:
        self._connections.close()


class DynamoFloors(FloorStore):
    """``client``: a botocore DynamoDB client (the history store's)."""

    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    def _key(self, team_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"floors#{team_id}"}, "sk": {"S": "floors"}}

    def _get(self, team_id: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.table, Key=self._key(team_id), ConsistentRead=True).get("Item")
        return json.loads(item["doc_json"]["S"]) if item else None

    def _put(self, team_id: str, document: dict[str, Any]) -> None:
        self.client.put_item(TableName=self.table, Item={**self._key(team_id), "doc_json": {"S": json.dumps(document)}})

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await asyncio.to_thread(fn, *args)
        except (ClientError, BotoCoreError) as exc:
            raise HistoryUnavailable(f"dynamodb: {type(exc).__name__}") from exc

    async def get(self, team_id: str) -> dict[str, Any] | None:
        return await self._run(self._get, team_id)

    async def put(self, team_id: str, document: dict[str, Any]) -> None:
        await self._run(self._put, team_id, document)
