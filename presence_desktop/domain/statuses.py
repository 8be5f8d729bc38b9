"""The status catalogue: which statuses exist, how they look, whether calls are routed.

A catalogue is data, not an enum: the default one ships in ``resources/statuses.json`` and a
deployment may replace it. Shapes let a status be read without colour (accessibility).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHAPES = frozenset(
    {"circle", "diamond", "triangle", "pause", "square", "star", "moon", "ring", "dashed_ring", "hexagon", "cross"}
)
"""Shapes a status indicator may use; the UI's delegate paints each one."""

_STATUS_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")

UNKNOWN_ID = "unknown"
"""Not a status anyone sets: what the roster shows when this app's own connection is down
or an agent's heartbeat is overdue."""

OFFLINE_ID = "offline"


class CatalogueError(ValueError):
    """The catalogue file is malformed (bad JSON, duplicate id, unknown shape, ...)."""


class UnknownStatusError(KeyError):
    """A status id that the catalogue does not define."""

    def __init__(self, status_id: str) -> None:
        super().__init__(status_id)
        self.status_id = status_id

    def __str__(self) -> str:
        return f"unknown status {self.status_id!r}"


@dataclass(frozen=True, slots=True)
class Status:
    """One status of the catalogue.

    ``budget_s`` is an optional time budget in seconds (Break 15 min -> 900); ``order`` is the
    display order (ascending).
    """

    id: str
    label: str
    color: str
    shape: str
    routable: bool
    order: int = 0
    budget_s: int | None = None


UNKNOWN = Status(id=UNKNOWN_ID, label="Unknown", color="#9e9e9e", shape="dashed_ring", routable=False, order=10_000)


class StatusCatalogue:
    """An ordered, immutable set of statuses, looked up by id.

    ``get(id)`` raises :class:`UnknownStatusError`; ``UNKNOWN`` is never part of a catalogue
    but ``display(id)`` falls back to it for ids that are not (or no longer) defined.
    """

    def __init__(self, statuses: Iterable[Status]) -> None:
        items = sorted(statuses, key=lambda s: (s.order, s.id))
        self._by_id: dict[str, Status] = {}
        for status in items:
            if status.id in self._by_id:
                raise CatalogueError(f"duplicate status id {status.id!r}")
            if status.id == UNKNOWN_ID:
                raise CatalogueError("'unknown' is reserved: it is what the roster shows, not a status")
            self._by_id[status.id] = status
        if not self._by_id:
            raise CatalogueError("a catalogue needs at least one status")
        if OFFLINE_ID not in self._by_id:
            raise CatalogueError("a catalogue must define 'offline' (set by heartbeat expiry)")

    def __iter__(self) -> Iterator[Status]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, status_id: object) -> bool:
        return status_id in self._by_id

    def ids(self) -> list[str]:
        return list(self._by_id)

    def get(self, status_id: str) -> Status:
        try:
            return self._by_id[status_id]
        except KeyError:
            raise UnknownStatusError(status_id) from None

    def display(self, status_id: str | None) -> Status:
        """The status to draw for ``status_id``: the catalogue's, or ``UNKNOWN``."""
        if status_id is None:
            return UNKNOWN
        return self._by_id.get(status_id, UNKNOWN)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StatusCatalogue:
        """Build from ``{"schema": 1, "statuses": [{id, label, color, shape, routable, order?, budget_s?}]}``.

        Raises :class:`CatalogueError` on any malformed entry.
        """
        if not isinstance(data, dict) or data.get("schema") != 1 or not isinstance(data.get("statuses"), list):
            raise CatalogueError('expected {"schema": 1, "statuses": [...]}')
        out = []
        for i, raw in enumerate(data["statuses"]):
            if not isinstance(raw, dict):
                raise CatalogueError(f"status #{i} is not an object")
            try:
                sid, label, color, shape = raw["id"], raw["label"], raw["color"], raw["shape"]
                routable = raw["routable"]
            except KeyError as exc:
                raise CatalogueError(f"status #{i} lacks {exc.args[0]!r}") from None
            if not isinstance(sid, str) or not _STATUS_ID.match(sid):
                raise CatalogueError(f"status #{i}: bad id {sid!r}")
            if not isinstance(label, str) or not label.strip():
                raise CatalogueError(f"status {sid!r}: empty label")
            if not isinstance(color, str) or not _COLOR.match(color):
                raise CatalogueError(f"status {sid!r}: colour must be #rrggbb, got {color!r}")
            if shape not in SHAPES:
                raise CatalogueError(f"status {sid!r}: unknown shape {shape!r} (one of {sorted(SHAPES)})")
            if not isinstance(routable, bool):
                raise CatalogueError(f"status {sid!r}: routable must be true or false")
            budget = raw.get("budget_s")
            if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool) or budget <= 0):
                raise CatalogueError(f"status {sid!r}: budget_s must be a positive whole number of seconds")
            order = raw.get("order", 0)
            if not isinstance(order, int) or isinstance(order, bool):
                raise CatalogueError(f"status {sid!r}: order must be a whole number")
            out.append(Status(sid, label, color, shape, routable, order, budget))
        return cls(out)

    @classmethod
    def load(cls, path: str | Path) -> StatusCatalogue:
        """Read a catalogue JSON file. Raises :class:`CatalogueError` or ``OSError``."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CatalogueError(f"{path}: not JSON: {exc}") from None
        return cls.from_dict(data)
