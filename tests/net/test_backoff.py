"""The one retry-wait formula (net/backoff.py)."""

from __future__ import annotations

import random

import pytest

from presence_desktop.net.backoff import backoff_ceiling, full_jitter


def test_ceiling_doubles_from_base_up_to_the_cap():
    assert [backoff_ceiling(n, base=0.25, cap=30.0) for n in (0, 1, 2, 3, 8)] == [0.25, 0.5, 1.0, 2.0, 30.0]
    assert backoff_ceiling(10_000, base=1.0, cap=30.0) == 30.0  # no OverflowError
    assert backoff_ceiling(2, base=1.0, cap=100.0, factor=3.0) == 9.0
    with pytest.raises(ValueError):
        backoff_ceiling(-1, base=1.0, cap=1.0)


def test_full_jitter_spans_zero_to_the_ceiling():
    rng = random.Random(3).uniform
    delays = [full_jitter(2, base=0.5, cap=30.0, rng=rng) for _ in range(2000)]
    assert 0.0 <= min(delays) < 0.01 and 1.99 < max(delays) <= 2.0


def test_floor_and_limit():
    assert full_jitter(0, base=1.0, cap=30.0, floor=0.05, rng=lambda lo, hi: lo) == 0.05
    assert full_jitter(9, base=1.0, cap=30.0, limit=1.5, rng=lambda lo, hi: hi) == 1.5
    assert full_jitter(9, base=1.0, cap=30.0, rng=lambda lo, hi: hi) == 30.0
