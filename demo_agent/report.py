"""The demo's end-of-run report, computed only from the telemetry the run emitted.

Task numbers come from the finished ``invoke_agent`` spans (a span processor keeps their
attributes); cache ratios from the metric points (an in-memory metric reader). Nothing is counted
on the side, so the report is a check that the telemetry tells the story.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from agentvitals._handler import current
from agentvitals.attributes import (
    CACHE_RESULT,
    TASK_CHILD_TIME,
    TASK_COST_AMOUNT,
    TASK_IDLE_TIME,
    TASK_OUTCOME,
    TASK_WALL_TIME,
    Outcome,
    WaitKind,
    task_idle_time,
)
from agentvitals.metrics import CACHE_REQUESTS
from agentvitals.semconv import GEN_AI_OPERATION_NAME, Operation, TokenCount

__all__ = ["Report", "TaskSpanCollector", "build_report", "percentile"]


@dataclass(frozen=True)
class TaskRecord:
    start: float
    """Seconds since the epoch."""
    attributes: dict[str, Any]


class TaskSpanCollector(SpanProcessor):
    """Keeps the attributes of every finished task span (bounded by ``limit``)."""

    def __init__(self, limit: int = 200_000) -> None:
        self.tasks: list[TaskRecord] = []
        self._limit = limit
        self._lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        attributes = span.attributes or {}
        if attributes.get(GEN_AI_OPERATION_NAME) != Operation.INVOKE_AGENT.value:
            return
        if TASK_OUTCOME not in attributes or len(self.tasks) >= self._limit:
            return
        with self._lock:
            self.tasks.append(TaskRecord((span.start_time or 0) / 1e9, dict(attributes)))

    def snapshot(self) -> list[TaskRecord]:
        with self._lock:
            return list(self.tasks)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class PhaseStats:
    name: str
    tasks: int
    p95_s: float
    start: float = math.nan
    """Seconds since the epoch when the phase's arrivals began."""
    end: float = math.nan
    """When the next phase began (the last phase: when arrivals stopped)."""


@dataclass
class Report:
    tasks: int
    outcomes: dict[str, int]
    success_rate: float
    p50_s: float
    p95_s: float
    p99_s: float
    active_share: float
    idle_share: float
    idle_share_by_kind: dict[str, float]
    parallelism: float
    cost_usd: float
    cost_per_task_usd: float
    cost_per_successful_task_usd: float
    semantic_cache_hit_ratio: float
    prompt_cache_hit_ratio: float
    degraded_periods: list[tuple[float, float]]
    phases: list[PhaseStats] = field(default_factory=list)
    workers_max: int = 0
    shed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self) -> str:
        def pct(value: float) -> str:
            return "n/a" if math.isnan(value) else f"{100 * value:.1f}%"

        def ms(value: float) -> str:
            return "n/a" if math.isnan(value) else f"{1000 * value:.0f} ms"

        lines = [
            "agentvitals demo report (computed from the run's spans and metrics)",
            f"  tasks                 {self.tasks}   "
            + ", ".join(f"{outcome}={count}" for outcome, count in sorted(self.outcomes.items())),
            f"  success rate          {pct(self.success_rate)}",
            f"  task latency          p50 {ms(self.p50_s)}   p95 {ms(self.p95_s)}   p99 {ms(self.p99_s)}",
            f"  time split            active {pct(self.active_share)}   idle {pct(self.idle_share)}"
            f"   (parallelism {self.parallelism:.2f}x)",
            "  idle by kind          " + "   ".join(f"{kind} {pct(share)}"
                                                   for kind, share in sorted(self.idle_share_by_kind.items())),
            f"  cost                  ${self.cost_usd:.4f} total   ${self.cost_per_task_usd:.5f} per task   "
            f"${self.cost_per_successful_task_usd:.5f} per successful task",
            f"  cache hit ratios      semantic {pct(self.semantic_cache_hit_ratio)}   "
            f"prompt (cached input tokens) {pct(self.prompt_cache_hit_ratio)}",
        ]
        if self.phases:
            lines.append("  p95 by phase          " + "   ".join(f"{p.name} {ms(p.p95_s)} ({p.tasks})"
                                                                 for p in self.phases))
        if self.degraded_periods:
            periods = ", ".join(f"{end - start:.1f}s" for start, end in self.degraded_periods)
            lines.append(f"  degraded mode         {len(self.degraded_periods)} period(s): {periods}")
        else:
            lines.append("  degraded mode         never")
        if self.workers_max:
            lines.append(f"  workers (max)         {self.workers_max}   shed arrivals {self.shed}")
        return "\n".join(lines)


def _total(reader: InMemoryMetricReader, metric: str, **match: str) -> float:
    data = reader.get_metrics_data()
    total = 0.0
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for found in scope_metrics.metrics:
                if found.name != metric:
                    continue
                for point in found.data.data_points:
                    if all(point.attributes.get(key) == value for key, value in match.items()):
                        total += point.sum if hasattr(point, "sum") else point.value  # histograms: their sum
    return total


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def build_report(tasks: Iterable[TaskRecord], reader: InMemoryMetricReader, *,
                 degraded_periods: list[tuple[float, float]],
                 phase_starts: Sequence[tuple[str, float]] = (), load_ended: float = math.inf, workers_max: int = 0,
                 shed: int = 0) -> Report:
    records = list(tasks)
    outcomes: dict[str, int] = {}
    for record in records:
        outcome = str(record.attributes[TASK_OUTCOME])
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    walls = [float(r.attributes[TASK_WALL_TIME]) for r in records]
    wall_total = sum(walls)
    idle_total = sum(float(r.attributes[TASK_IDLE_TIME]) for r in records)
    child_total = sum(float(r.attributes[TASK_CHILD_TIME]) for r in records)
    by_kind: dict[str, float] = {}
    for record in records:
        for kind in WaitKind:
            value = record.attributes.get(task_idle_time(kind))
            if value is not None:
                by_kind[kind.value] = by_kind.get(kind.value, 0.0) + float(value)
    cost = sum(float(r.attributes[TASK_COST_AMOUNT]) for r in records)
    successes = outcomes.get(Outcome.SUCCESS.value, 0)

    phases: list[PhaseStats] = []
    for index, (name, start) in enumerate(phase_starts):
        end = phase_starts[index + 1][1] if index + 1 < len(phase_starts) else load_ended
        in_phase = [float(r.attributes[TASK_WALL_TIME]) for r in records if start <= r.start < end]
        phases.append(PhaseStats(name, len(in_phase), percentile(in_phase, 95), start, end))

    hits = _total(reader, CACHE_REQUESTS.name, **{CACHE_RESULT: "hit"})
    lookups = _total(reader, CACHE_REQUESTS.name)
    # Where token counts add up depends on the generation of GenAI names the process emits.
    totals = current().conventions.token_totals
    cached, all_input = totals[TokenCount.CACHE_READ], totals[TokenCount.INPUT]
    cached_tokens = _total(reader, cached.metric.name, **cached.selector)
    input_tokens = _total(reader, all_input.metric.name, **all_input.selector)
    return Report(
        tasks=len(records),
        outcomes=outcomes,
        success_rate=_ratio(successes, len(records)),
        p50_s=percentile(walls, 50),
        p95_s=percentile(walls, 95),
        p99_s=percentile(walls, 99),
        active_share=_ratio(wall_total - idle_total, wall_total),
        idle_share=_ratio(idle_total, wall_total),
        idle_share_by_kind={kind: _ratio(value, wall_total) for kind, value in by_kind.items()},
        parallelism=_ratio(child_total, idle_total),
        cost_usd=cost,
        cost_per_task_usd=_ratio(cost, len(records)),
        cost_per_successful_task_usd=_ratio(cost, successes),
        semantic_cache_hit_ratio=_ratio(hits, lookups),
        prompt_cache_hit_ratio=_ratio(cached_tokens, input_tokens),
        degraded_periods=degraded_periods,
        phases=phases,
        workers_max=workers_max,
        shed=shed,
    )
