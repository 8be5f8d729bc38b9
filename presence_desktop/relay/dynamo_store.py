"""DynamoDB presence store (the relay in AWS), behind :class:`~presence_desktop.relay.store.PresenceStore`.

Table (packaging/cloudformation/presence.yaml ``PresenceTable``): key ``pk`` (S, HASH) + ``sk``
(S, RANGE), TTL attribute ``expires_at``. One item per agent::

    pk="agent#<agent_id>", sk="presence", agent_id, team_id, status, version (N),
    event_json (S: the exact published text), published (BOOL), last_seen (N, epoch s),
    expires_at (N, epoch s: last activity + retention), outbox (S "1", only while unpublished),
    rejected_version (N: the version AppSync refused), rejected_count (N: its refusals so far,
    which the pause doubles with) and rejected_until (N, epoch s: kept out of the outbox by every
    container until then)

and one rate-limit counter per user (:meth:`DynamoStore.take_rate`)::

    pk="rate#<key>", sk="rate", window (N: epoch s // window length), n (N), expires_at (N)

Two global secondary indexes, both KEYS_ONLY so a heartbeat (which changes only ``last_seen`` and
``expires_at``, projected by neither) writes no index item:

- ``by-team`` (``team_id`` HASH, ``agent_id`` RANGE): a team's roster is a Query on it, then a
  BatchGetItem of those items (eventually consistent: the client's join replays live events by
  version over the snapshot, docs/teams.md) - reads in proportion to the team, not the table.
- ``outbox`` (``outbox`` HASH, ``agent_id`` RANGE), sparse: only unpublished items carry
  ``outbox``, so the sweeper's outbox read is a Query of the few waiting items, not a Scan.

The sweeper's search for silent agents is one eventually consistent Scan per run (it was two
strongly consistent ones: a quarter of the read units); :meth:`update` re-checks every candidate
with a consistent read. An index on ``last_seen`` would be rewritten by every heartbeat, which
costs more than the scan it saves (packaging/cost_model.py counts both).

Versions: :meth:`DynamoStore.update` reads the item (strongly consistent), computes the next row
and writes it with ``PutItem`` conditioned on the version and ``last_seen`` it read
(``attribute_not_exists(pk)`` for a first write; ``last_seen`` because a heartbeat changes it
without a new version); a ``ConditionalCheckFailedException`` means another writer won, so it reads
and tries again. DynamoDB docs: "Condition expressions" / "Optimistic locking with version
number" (docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html,
DynamoDBMapper.OptimisticLocking.html).

TTL is housekeeping for agents gone for ``retention_s`` (default 90 days; DynamoDB deletes
expired items within days). A deleted agent starts again at version 1: a client still holding
that agent's old version from 90+ days ago would ignore it until it reloads the roster.

Every team's roster at once (managers) is a paginated Scan: its pages follow DynamoDB's key
order, and the cursor (``after``) is the last agent id of the previous page.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from presence_desktop.domain.presence import PresenceEvent
from presence_desktop.net.aws_sdk_logs import quiet_aws_sdk_logs
from presence_desktop.net.backoff import full_jitter
from presence_desktop.relay.store import PresenceStore, Rows, StoredPresence, StoreUnavailable, T, UpdateFn, check_next

log = logging.getLogger(__name__)

SK = "presence"
TEAM_INDEX = "by-team"
OUTBOX_INDEX = "outbox"
RETENTION_S = 90 * 24 * 3600


def _due(item: dict[str, Any], now: float) -> bool:
    """Whether an outbox item may be published now: not a refused version still in its pause."""
    rejected = item.get("rejected_version", {}).get("N")
    if rejected is None or rejected != item.get("version", {}).get("N"):
        return True
    return float(item.get("rejected_until", {}).get("N", "0")) <= now


def _pk(agent_id: str) -> str:
    return f"agent#{agent_id}"


# DynamoDB errors worth a retry later (after botocore's own retries): throttling, service trouble.
_TRANSIENT_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "TransactionConflictException",
})


class StoreContention(StoreUnavailable):
    """Too many concurrent writers for one agent; the update was not applied."""


class DynamoStore(PresenceStore):
    """``table``: table name. ``client``: a botocore (or boto3) DynamoDB client (else a botocore
    one is made from ``region``/``endpoint_url`` and botocore's credential chain: boto3 would add
    s3transfer and multiprocessing to the Lambda's cold start for nothing). Blocking calls run in
    threads."""

    def __init__(
        self,
        table: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        client: Any = None,
        retention_s: float | None = RETENTION_S,
        max_attempts: int = 100,
    ) -> None:
        if not table:
            raise ValueError("a DynamoDB table name is required")
        quiet_aws_sdk_logs()  # boto3 at DEBUG logs signed headers (the role's session token)
        self.table = table
        self.retention_s = retention_s
        self.max_attempts = max_attempts
        self._owns_client = client is None
        self.client = client or botocore.session.get_session().create_client(
            "dynamodb", region_name=region, endpoint_url=endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32),
        )

    # --- table management (tests, local use; in AWS CloudFormation makes the table) -------------
    def create_table(self) -> None:
        """Create the table (pk/sk, on-demand) with TTL on ``expires_at``, and wait for it."""
        self.client.create_table(
            TableName=self.table,
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"}
                                  for name in ("pk", "sk", "team_id", "agent_id", "outbox")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {"IndexName": index, "Projection": {"ProjectionType": "KEYS_ONLY"},
                 "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"}, {"AttributeName": "agent_id", "KeyType": "RANGE"}]}
                for index, hash_key in ((TEAM_INDEX, "team_id"), (OUTBOX_INDEX, "outbox"))
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        self.client.get_waiter("table_exists").wait(TableName=self.table)
        self.client.update_time_to_live(
            TableName=self.table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )

    # --- item <-> row -----------------------------------------------------------------------
    @staticmethod
    def _row(item: dict[str, Any] | None) -> StoredPresence | None:
        if not item:
            return None
        text = item["event_json"]["S"]
        last_seen = float(item["last_seen"]["N"]) if "last_seen" in item else None
        return StoredPresence(PresenceEvent.from_json(text), text, bool(item.get("published", {}).get("BOOL")), last_seen)

    def _item(self, row: StoredPresence) -> dict[str, Any]:
        e = row.event
        item: dict[str, Any] = {
            "pk": {"S": _pk(e.agent_id)},
            "sk": {"S": SK},
            "agent_id": {"S": e.agent_id},
            "team_id": {"S": e.team_id},
            "status": {"S": e.status},
            "version": {"N": str(e.version)},
            "event_json": {"S": row.event_json},
            "published": {"BOOL": row.published},
        }
        if not row.published:
            item["outbox"] = {"S": "1"}
        if row.last_seen is not None:
            item["last_seen"] = {"N": repr(float(row.last_seen))}
        expires = self._expires_at(row.last_seen)
        if expires is not None:
            item["expires_at"] = {"N": str(expires)}
        return item

    def _expires_at(self, last_seen: float | None) -> int | None:
        if self.retention_s is None:
            return None
        return int((last_seen if last_seen is not None else time.time()) + self.retention_s)

    # --- sync operations ----------------------------------------------------------------------
    def _get(self, agent_id: str) -> StoredPresence | None:
        resp = self.client.get_item(TableName=self.table, Key={"pk": {"S": _pk(agent_id)}, "sk": {"S": SK}}, ConsistentRead=True)
        return self._row(resp.get("Item"))

    def _update(self, agent_id: str, fn: UpdateFn) -> tuple[StoredPresence | None, StoredPresence | None]:
        for attempt in range(self.max_attempts):
            old = self._get(agent_id)
            new = fn(old)
            if new is None:
                return old, None
            check_next(old, new)
            if new.agent_id != agent_id:
                raise ValueError("the row's agent id differs from the key")
            kwargs: dict[str, Any] = {"TableName": self.table, "Item": self._item(new)}
            if old is None:
                kwargs["ConditionExpression"] = "attribute_not_exists(pk)"
            else:
                # last_seen too: a heartbeat (touch) between our read and this write must not be
                # overwritten with the old time, nor an agent expired that just sent one.
                kwargs["ExpressionAttributeValues"] = {":v": {"N": str(old.version)}}
                if old.last_seen is None:
                    kwargs["ConditionExpression"] = "version = :v AND attribute_not_exists(last_seen)"
                else:
                    kwargs["ConditionExpression"] = "version = :v AND last_seen = :ls"
                    kwargs["ExpressionAttributeValues"][":ls"] = {"N": repr(float(old.last_seen))}
            try:
                self.client.put_item(**kwargs)
                return old, new
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
            # Lost the race: back off a little (jittered) and recompute from the new state.
            time.sleep(full_jitter(attempt, base=0.002, cap=0.05))
        raise StoreContention(f"gave up after {self.max_attempts} conflicting writes for {agent_id}")

    def _mark_published(self, agent_id: str, version: int) -> None:
        try:
            self.client.update_item(
                TableName=self.table, Key={"pk": {"S": _pk(agent_id)}, "sk": {"S": SK}},
                UpdateExpression="SET published = :t REMOVE outbox", ConditionExpression="version = :v",
                ExpressionAttributeValues={":t": {"BOOL": True}, ":v": {"N": str(version)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise  # else a newer version is stored: leave it alone

    def _mark_rejected(self, agent_id: str, version: int, retry_at_for: Callable[[int], float]) -> int | None:
        # Refusals of one version add up: one conditional UpdateItem counts this one (the first
        # refusal of a version resets the count), a second stores the time of the next try, which
        # depends on the count. Refusals are rare; two writes are cheap.
        key = {"pk": {"S": _pk(agent_id)}, "sk": {"S": SK}}
        v = {"N": str(version)}
        try:
            out = self.client.update_item(
                TableName=self.table, Key=key, UpdateExpression="ADD rejected_count :one",
                ConditionExpression="version = :v AND rejected_version = :v",
                ExpressionAttributeValues={":v": v, ":one": {"N": "1"}}, ReturnValues="UPDATED_NEW",
            )
            refusals = int(out["Attributes"]["rejected_count"]["N"])
            condition = "version = :v AND rejected_version = :v"
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            refusals, condition = 1, "version = :v"  # this version's first refusal (or a newer one stored)
        try:
            self.client.update_item(
                TableName=self.table, Key=key,
                UpdateExpression="SET rejected_version = :v, rejected_count = :n, rejected_until = :u",
                ConditionExpression=condition,
                ExpressionAttributeValues={":v": v, ":n": {"N": str(refusals)},
                                           ":u": {"N": repr(float(retry_at_for(refusals)))}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return None  # a newer version is stored: leave it alone
        return refusals

    def _take_rate(self, key: str, now: float, window_s: float, limit: int) -> float:
        # Counting in the current window and opening a new one are each one conditional
        # UpdateItem; usually the first one succeeds, so a request costs one write.
        window = int(now // window_s)
        item_key = {"pk": {"S": f"rate#{key}"}, "sk": {"S": "rate"}}
        values = {":w": {"N": str(window)}, ":one": {"N": "1"}, ":lim": {"N": str(limit)},
                  ":exp": {"N": str(int((window + 2) * window_s))}}
        names = {"#w": "window"}
        for _ in range(2):  # a second round only when another writer opened the window meanwhile
            try:
                self.client.update_item(
                    TableName=self.table, Key=item_key, UpdateExpression="ADD n :one SET expires_at = :exp",
                    ConditionExpression="#w = :w AND n < :lim", ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
                return 0.0
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
            try:
                self.client.update_item(
                    TableName=self.table, Key=item_key, UpdateExpression="SET #w = :w, n = :one, expires_at = :exp",
                    ConditionExpression="attribute_not_exists(#w) OR #w < :w", ExpressionAttributeNames=names,
                    ExpressionAttributeValues={k: v for k, v in values.items() if k != ":lim"},
                )
                return 0.0
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
        return (window + 1) * window_s - now  # this window is full (or another writer opened it full)

    def _touch(self, agent_id: str, now: float) -> StoredPresence | None:
        values: dict[str, Any] = {":now": {"N": repr(float(now))}}
        update = "SET last_seen = :now"
        expires = self._expires_at(now)
        if expires is not None:
            update += ", expires_at = :exp"
            values[":exp"] = {"N": str(expires)}
        try:
            resp = self.client.update_item(
                TableName=self.table, Key={"pk": {"S": _pk(agent_id)}, "sk": {"S": SK}},
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(last_seen) OR last_seen < :now)",
                ExpressionAttributeValues=values, ReturnValues="ALL_NEW",
            )
            return self._row(resp.get("Attributes"))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return self._get(agent_id)  # no row, or a later heartbeat already recorded

    def _query_keys(self, index: str, hash_name: str, hash_value: str, after: str | None, limit: int | None) -> list[str]:
        """Agent ids of one index partition, in agent id order, after ``after``, at most ``limit``."""
        cond = "#h = :h" + (" AND agent_id > :after" if after is not None else "")
        values: dict[str, Any] = {":h": {"S": hash_value}}
        if after is not None:
            values[":after"] = {"S": after}
        kwargs: dict[str, Any] = {"TableName": self.table, "IndexName": index, "KeyConditionExpression": cond,
                                  "ExpressionAttributeNames": {"#h": hash_name}, "ExpressionAttributeValues": values}
        ids: list[str] = []
        while limit is None or len(ids) < limit:
            if limit is not None:
                kwargs["Limit"] = limit - len(ids)
            page = self.client.query(**kwargs)
            ids.extend(item["agent_id"]["S"] for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return ids

    def _batch_get(self, agent_ids: list[str], keep: Callable[[dict[str, Any]], bool] | None = None) -> Rows:
        """The items of ``agent_ids`` (BatchGetItem, 100 keys a call; unprocessed keys again),
        in agent id order; an item deleted meanwhile, or that ``keep`` refuses, is left out."""
        rows: Rows = []
        for start in range(0, len(agent_ids), 100):
            keys = [{"pk": {"S": _pk(a)}, "sk": {"S": SK}} for a in agent_ids[start:start + 100]]
            request: dict[str, Any] = {self.table: {"Keys": keys}}
            for attempt in range(10):
                resp = self.client.batch_get_item(RequestItems=request)
                items = resp.get("Responses", {}).get(self.table, [])
                rows.extend(r for r in map(self._row, (i for i in items if keep is None or keep(i))) if r is not None)
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(full_jitter(attempt, base=0.05, cap=1.0))
            else:
                raise StoreUnavailable("dynamodb: BatchGetItem kept returning unprocessed keys")
        rows.sort(key=lambda r: r.agent_id)
        return rows

    def _list(self, team_id: str | None, after: str | None, limit: int | None) -> Rows:
        if team_id is not None:
            return self._batch_get(self._query_keys(TEAM_INDEX, "team_id", team_id, after, limit))
        kwargs: dict[str, Any] = {"TableName": self.table, "FilterExpression": "sk = :sk",
                                  "ExpressionAttributeValues": {":sk": {"S": SK}}}
        if after is not None:
            kwargs["ExclusiveStartKey"] = {"pk": {"S": _pk(after)}, "sk": {"S": SK}}
        rows: Rows = []
        while limit is None or len(rows) < limit:
            if limit is not None:
                kwargs["Limit"] = limit - len(rows)
            page = self.client.scan(**kwargs)
            rows.extend(r for r in map(self._row, page.get("Items", [])) if r is not None)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if after is None and limit is None:
            rows.sort(key=lambda r: r.agent_id)  # one whole answer: in agent id order, as SQLite's
        return rows

    def _scan(self, filter_expr: str, values: dict[str, Any], names: dict[str, str] | None = None) -> Rows:
        # Eventually consistent: the sweeper's candidates are re-checked by update()'s consistent read.
        kwargs: dict[str, Any] = {
            "TableName": self.table, "FilterExpression": filter_expr,
            "ExpressionAttributeValues": {":sk": {"S": SK}, **values}, "ConsistentRead": False,
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
        rows: Rows = []
        for page in self.client.get_paginator("scan").paginate(**kwargs):
            rows.extend(r for r in (self._row(i) for i in page.get("Items", [])) if r is not None)
        rows.sort(key=lambda r: r.agent_id)
        return rows

    # --- async interface ----------------------------------------------------------------------
    @staticmethod
    async def _run(fn: Callable[..., T], *args: object) -> T:
        """Run a blocking call in a thread; transient DynamoDB trouble -> :class:`StoreUnavailable`."""
        try:
            return await asyncio.to_thread(fn, *args)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _TRANSIENT_CODES:
                raise StoreUnavailable(f"dynamodb: {code}") from exc
            raise
        except BotoCoreError as exc:  # endpoint unreachable, timeouts
            raise StoreUnavailable(f"dynamodb: {type(exc).__name__}") from exc

    async def get(self, agent_id: str) -> StoredPresence | None:
        return await self._run(self._get, agent_id)

    async def update(self, agent_id: str, fn: UpdateFn) -> tuple[StoredPresence | None, StoredPresence | None]:
        return await self._run(self._update, agent_id, fn)

    async def mark_published(self, agent_id: str, version: int) -> None:
        await self._run(self._mark_published, agent_id, version)

    async def touch(self, agent_id: str, now: float) -> StoredPresence | None:
        return await self._run(self._touch, agent_id, now)

    async def list(self, team_id: str | None = None, *, after: str | None = None,
                   limit: int | None = None) -> Rows:
        """See :meth:`PresenceStore.list`; ``team_id`` None: Scan order (module docstring)."""
        return await self._run(self._list, team_id, after, limit)

    async def stale(self, cutoff: float) -> Rows:
        return await self._run(
            self._scan, "sk = :sk AND #s <> :off AND last_seen < :cut",
            {":off": {"S": "offline"}, ":cut": {"N": repr(float(cutoff))}}, {"#s": "status"},
        )

    async def mark_rejected(self, agent_id: str, version: int,
                            retry_at_for: Callable[[int], float]) -> int | None:
        return await self._run(self._mark_rejected, agent_id, version, retry_at_for)

    async def take_rate(self, key: str, now: float, window_s: float, limit: int) -> float:
        return await self._run(self._take_rate, key, now, window_s, limit)

    async def unpublished(self, now: float) -> Rows:
        def read() -> Rows:
            keys = self._query_keys(OUTBOX_INDEX, "outbox", "1", None, None)
            rows = self._batch_get(keys, keep=lambda item: _due(item, now))
            return [r for r in rows if not r.published]  # the index may lag behind mark_published

        return await self._run(read)

    async def close(self) -> None:
        close = getattr(self.client, "close", None)
        if self._owns_client and close is not None:
            await asyncio.to_thread(close)
