"""The one retry-wait formula of the package: exponential backoff with full jitter.

AWS Architecture Blog, "Exponential Backoff And Jitter"
(https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/): retry ``n`` (from 0)
waits ``uniform(0, min(cap, base * factor**n))`` seconds.

Used by every retry loop: the realtime client's reconnect (``events_api/reconnect.py`` narrows the
ceiling further by the outage's length), the relay's publisher and its DynamoDB compare-and-set
loop, and the desktop's own-status and roster-snapshot retries.

Why our own formula and not tenacity: what the loops share is only this wait. Their control flow
differs in ways a retry decorator would have to be bent around: the reconnect is a state machine
(outage window, flapping and throttling lanes), the own-status loop wakes early when the
connection comes back and hands a 502/503 over to the relay's outbox, the snapshot loop stops on a
401. A ten-line formula kept here once is simpler than those callbacks.
"""

from __future__ import annotations

import random
from collections.abc import Callable

# 2**64 already exceeds any cap; a larger exponent would only risk an OverflowError.
_MAX_EXPONENT = 64


def backoff_ceiling(retry: int, *, base: float, cap: float, factor: float = 2.0) -> float:
    """``min(cap, base * factor**retry)`` seconds; ``retry`` counts from 0 (the first retry).
    Raises ``ValueError`` for a negative ``retry``."""
    if retry < 0:
        raise ValueError("retry counts from 0")
    return min(cap, base * factor ** min(retry, _MAX_EXPONENT))


def full_jitter(retry: int, *, base: float, cap: float, factor: float = 2.0, floor: float = 0.0,
                limit: float | None = None,
                rng: Callable[[float, float], float] = random.uniform) -> float:
    """Seconds to wait before retry ``retry`` (from 0): ``uniform(0, ceiling)``, where the ceiling
    is :func:`backoff_ceiling`, lowered to ``limit`` when given; never below ``floor``.
    ``rng(lo, hi)`` draws the wait (a seeded one in tests)."""
    ceiling = backoff_ceiling(retry, base=base, cap=cap, factor=factor)
    if limit is not None:
        ceiling = min(ceiling, limit)
    return max(floor, rng(0.0, ceiling))


__all__ = ["backoff_ceiling", "full_jitter"]
