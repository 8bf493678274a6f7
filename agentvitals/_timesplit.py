"""How a task's wall time splits into active and idle time (pure; no OpenTelemetry SDK)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agentvitals.attributes import WaitKind

__all__ = ["TimeSplit", "split_time"]


@dataclass(frozen=True)
class TimeSplit:
    """How a task's wall time splits. Seconds."""

    wall: float
    active: float
    idle: float
    idle_by_kind: Mapping[WaitKind, float]
    """Sums to ``idle``: time when several kinds overlap is shared equally among them."""
    child: float
    """Sum of the outermost waits' durations: ``child / idle`` is the parallelism achieved."""


def split_time(start_ns: int, end_ns: int, waits: Iterable[tuple[int, int, WaitKind]]) -> TimeSplit:
    """Split ``[start_ns, end_ns]`` into active and idle time, given the task's waits.

    Idle is the union of the wait intervals (clipped to the task), so parallel waits count once.
    """
    events: list[tuple[int, int, WaitKind]] = []
    child_ns = 0
    for w_start, w_end, kind in waits:
        w_start, w_end = max(w_start, start_ns), min(w_end, end_ns)
        if w_end <= w_start:
            continue
        child_ns += w_end - w_start
        events.append((w_start, 1, kind))
        events.append((w_end, -1, kind))
    events.sort(key=lambda e: (e[0], e[1]))

    by_kind: dict[WaitKind, float] = {}
    open_counts: dict[WaitKind, int] = {}
    idle_ns = 0
    previous = start_ns
    for time_ns, delta, kind in events:
        if open_counts and time_ns > previous:
            segment = time_ns - previous
            idle_ns += segment
            share = segment / len(open_counts)
            for open_kind in open_counts:
                by_kind[open_kind] = by_kind.get(open_kind, 0.0) + share
        previous = time_ns
        count = open_counts.get(kind, 0) + delta
        if count:
            open_counts[kind] = count
        else:
            open_counts.pop(kind, None)

    wall_ns = max(end_ns - start_ns, 0)
    return TimeSplit(
        wall=wall_ns / 1e9,
        active=(wall_ns - idle_ns) / 1e9,
        idle=idle_ns / 1e9,
        idle_by_kind={kind: value / 1e9 for kind, value in by_kind.items()},
        child=child_ns / 1e9,
    )
