"""The active/idle split: union of waits, overlap shared among kinds, clipping to the task."""

from __future__ import annotations

import pytest

from agentvitals._timesplit import split_time
from agentvitals.attributes import WaitKind

S = 1_000_000_000  # one second in ns


def test_no_waits_is_all_active() -> None:
    split = split_time(0, 2 * S, [])
    assert (split.wall, split.active, split.idle, split.child) == (2.0, 2.0, 0.0, 0.0)


def test_parallel_waits_count_once() -> None:
    split = split_time(0, 1 * S, [(0, S // 10, WaitKind.TOOL)] * 3)
    assert split.idle == pytest.approx(0.1) and split.child == pytest.approx(0.3)
    assert split.active == pytest.approx(0.9)


def test_overlapping_kinds_share_time_and_sum_to_idle() -> None:
    waits = [(0, 4 * S, WaitKind.LLM), (2 * S, 6 * S, WaitKind.DB)]
    split = split_time(0, 10 * S, waits)
    assert split.idle == pytest.approx(6.0)
    assert split.idle_by_kind == {WaitKind.LLM: pytest.approx(3.0), WaitKind.DB: pytest.approx(3.0)}
    assert sum(split.idle_by_kind.values()) == pytest.approx(split.idle)


def test_waits_are_clipped_to_the_task() -> None:
    split = split_time(2 * S, 4 * S, [(0, 3 * S, WaitKind.HTTP), (3500 * S // 1000, 9 * S, WaitKind.HTTP)])
    assert split.idle == pytest.approx(1.5) and split.child == pytest.approx(1.5)
