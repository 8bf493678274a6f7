"""The demo's end-of-run report, computed only from the telemetry the run emitted.

Task numbers come from the finished ``invoke_agent`` spans (a span processor keeps their
attributes); cache ratios and errors by class from the metric points (an in-memory metric reader); the
slowest task's waterfall from its spans, analysed as ``agentvitals explain`` does; the findings across the
run from each task span's findings. Nothing is counted on the side, so the report is a check that the
telemetry tells the story.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from agentvitals.attributes import (
    CACHE_RESULT,
    ERROR_CAUSE,
    ERROR_CLASS,
    TASK_CHILD_TIME,
    TASK_COST_AMOUNT,
    TASK_FINDINGS,
    TASK_IDLE_TIME,
    TASK_OUTCOME,
    TASK_SAVEABLE_TIME,
    TASK_WALL_TIME,
    Outcome,
    WaitKind,
    task_idle_time,
)
from agentvitals.explain import explain_task
from agentvitals.metrics import CACHE_REQUESTS, ERRORS, genai_conventions
from agentvitals.semconv import GEN_AI_OPERATION_NAME, Generation, Operation, TokenCount

__all__ = ["Report", "TaskSpanCollector", "build_report", "percentile"]


@dataclass(frozen=True)
class TaskRecord:
    start: float
    """Seconds since the epoch."""
    attributes: dict[str, Any]


class TaskSpanCollector(SpanProcessor):
    """Keeps the attributes of every finished task span (bounded by ``limit``), and the spans of the slowest task
    so far (the spans of traces still running are held until their task ends: at most ``traces`` traces of at
    most ``spans_per_trace`` spans)."""

    def __init__(self, limit: int = 200_000, traces: int = 512, spans_per_trace: int = 2048) -> None:
        self.tasks: list[TaskRecord] = []
        self._limit = limit
        self._lock = threading.Lock()
        self._pending: OrderedDict[int, list[ReadableSpan]] = OrderedDict()
        self._traces = traces
        self._spans_per_trace = spans_per_trace
        self.slowest: tuple[ReadableSpan, list[ReadableSpan]] | None = None

    def on_end(self, span: ReadableSpan) -> None:
        attributes = span.attributes or {}
        context = span.context
        if context is None:
            return
        is_task = attributes.get(GEN_AI_OPERATION_NAME) == Operation.INVOKE_AGENT.value and TASK_OUTCOME in attributes
        with self._lock:
            if not is_task:
                spans = self._pending.setdefault(context.trace_id, [])
                if len(spans) < self._spans_per_trace:
                    spans.append(span)
                while len(self._pending) > self._traces:
                    self._pending.popitem(last=False)
                return
            spans = self._pending.pop(context.trace_id, [])
            if len(self.tasks) < self._limit:
                self.tasks.append(TaskRecord((span.start_time or 0) / 1e9, dict(attributes)))
            slowest = self.slowest
            if slowest is None or _wall(span) > _wall(slowest[0]):
                self.slowest = (span, spans)

    def snapshot(self) -> list[TaskRecord]:
        with self._lock:
            return list(self.tasks)

    def slowest_task(self) -> str:
        """The slowest task, explained as ``agentvitals explain`` does, from its spans."""
        with self._lock:
            slowest = self.slowest
        if slowest is None:
            return ""
        root, spans = slowest
        return explain_task(root, spans, max_rows=40)


def _wall(span: ReadableSpan) -> int:
    return (span.end_time or 0) - (span.start_time or 0)


def top_findings(tasks: Iterable[TaskRecord], limit: int = 5) -> list[dict[str, Any]]:
    """The findings most tasks had, across the run (from each task span's findings attribute)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for task in tasks:
        try:
            findings = json.loads(str(task.attributes.get(TASK_FINDINGS, "[]")))
        except ValueError:
            continue
        for finding in findings:
            key = (finding["kind"], finding["subject"])
            entry = seen.setdefault(key, {**finding, "tasks": 0, "values": []})
            entry["tasks"] += 1
            entry["values"].append(float(finding["value"]))
    ranked = sorted(seen.values(), key=lambda f: -f["tasks"])[:limit]
    for entry in ranked:
        values = entry.pop("values")
        entry["value"] = percentile(values, 50)
    return ranked


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
    saveable_share: float = math.nan
    """Share of the tasks' wall time that running their sequential independent calls concurrently would save."""
    errors: dict[str, dict[str, float]] = field(default_factory=dict)
    """Errors by class, then cause (from the errors metric)."""
    findings: list[dict[str, Any]] = field(default_factory=list)
    slowest_task: str = ""

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
        for error_class in ("cognitive", "system"):
            causes = self.errors.get(error_class, {})
            lines.append(f"  {error_class + ' errors':<21} {sum(causes.values()):.0f}"
                         + ("   (" + ", ".join(f"{cause} {count:.0f}" for cause, count in
                                                sorted(causes.items(), key=lambda item: -item[1])) + ")"
                            if causes else ""))
        lines.append(f"  saveable time         {pct(self.saveable_share)} of task time (independent calls made one "
                     "after another)")
        lines.append("")
        lines.append("top findings across the run (share of tasks, median value)")
        if not self.findings:
            lines.append("  none")
        for index, finding in enumerate(self.findings, 1):
            share = finding["tasks"] / self.tasks if self.tasks else math.nan
            lines.append(f"  {index}. {finding['kind']:<18} {finding['subject']}: in {pct(share)} of tasks, "
                         f"median {finding['value']:.3g} (threshold {finding['threshold']:g})")
            lines.append(f"     → {finding['suggestion']}")
        if self.slowest_task:
            lines.append("")
            lines.append("slowest task (agentvitals explain)")
            lines.extend("  " + line if line else "" for line in self.slowest_task.splitlines())
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


def _errors(reader: InMemoryMetricReader) -> dict[str, dict[str, float]]:
    data = reader.get_metrics_data()
    errors: dict[str, dict[str, float]] = {}
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for found in scope_metrics.metrics:
                if found.name != ERRORS.name:
                    continue
                for point in found.data.data_points:
                    attributes = point.attributes or {}
                    causes = errors.setdefault(str(attributes.get(ERROR_CLASS)), {})
                    cause = str(attributes.get(ERROR_CAUSE))
                    causes[cause] = causes.get(cause, 0) + getattr(point, "value", 0)
    return errors


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def build_report(tasks: Iterable[TaskRecord], reader: InMemoryMetricReader, *,
                 degraded_periods: list[tuple[float, float]],
                 phase_starts: Sequence[tuple[str, float]] = (), load_ended: float = math.inf, workers_max: int = 0,
                 shed: int = 0, slowest_task: str = "", generation: Generation = Generation.CURRENT) -> Report:
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
    totals = genai_conventions(generation).token_totals
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
        saveable_share=_ratio(sum(float(r.attributes.get(TASK_SAVEABLE_TIME, 0.0)) for r in records), wall_total),
        errors=_errors(reader),
        findings=top_findings(records),
        slowest_task=slowest_task,
    )
