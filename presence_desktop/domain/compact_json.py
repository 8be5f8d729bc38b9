"""The package's one compact-JSON encoding: what goes on the wire, is signed, and is stored."""

from __future__ import annotations

import json
from typing import Any


def compact_json(value: Any, *, ascii_only: bool = False) -> str:
    """``value`` as JSON without spaces, non-ASCII kept as is: the text AWS JS clients produce
    (``JSON.stringify``) and so what IAM signatures cover. ``ascii_only=True`` escapes non-ASCII
    (for a target that cannot carry it). Raises ``TypeError``/``ValueError`` as ``json.dumps``."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only)


__all__ = ["compact_json"]
