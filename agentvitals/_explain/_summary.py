"""In-process: a bounded summary of each task's spans, kept by the accounting processor, and its analysis when
the task ends (attributes on the task span, and metrics).

Cost: one record per descendant span of a task (built when the span ends; spans outside tasks cost nothing
here), at most :data:`MAX_SPANS` per task (then the summary is marked truncated), and one O(n log n) analysis at
task end. Measured by ``benchmarks/explain.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace

from agentvitals._errors import ErrorCause, ErrorSource, classify
from agentvitals._explain._analysis import TaskAnalysis, analyse
from agentvitals._explain._records import SpanRecord
from agentvitals._explain._thresholds import Thresholds
from agentvitals._handler import Handler
from agentvitals.attributes import (
    CRITICAL_PATH_KIND,
    ERROR_CAUSE,
    ERROR_CLASS,
    FINDING_KIND,
    TASK_COGNITIVE_ERRORS,
    TASK_FINDINGS,
    TASK_FINDINGS_COUNT,
    TASK_NAME,
    TASK_PARALLELIZABLE_TIME,
    TASK_SAVEABLE_TIME,
    TASK_SPANS_TRUNCATED,
    TASK_SYSTEM_ERRORS,
    task_critical_path_time,
)
from agentvitals.semconv import ERROR_TYPE

__all__ = ["MAX_SPANS", "TOP_FINDINGS", "TaskSpans", "budget_error", "explain_task", "findings_attribute"]

MAX_SPANS = 2048
"""Descendant spans kept per task; a task with more is analysed from the first ones to end (marked truncated)."""
TOP_FINDINGS = 5
"""Findings listed in the task span's JSON attribute (all are counted in the metric)."""
_MAX_FINDINGS_CHARS = 2000


class TaskSpans:
    """The spans of one task so far. Appends are atomic under the GIL: no lock on the span-end path."""

    __slots__ = ("root_id", "records", "truncated", "reported", "thresholds", "limit")

    def __init__(self, root_id: int, thresholds: Thresholds) -> None:
        self.root_id = root_id
        self.records: list[SpanRecord] = []
        self.truncated = False
        self.reported: list[str] = []
        """Causes of cognitive errors the application reported while the task ran."""
        self.thresholds = thresholds
        self.limit = MAX_SPANS

    def add(self, record: SpanRecord) -> None:
        if len(self.records) < self.limit:
            self.records.append(record)
        else:
            self.truncated = True

    def add_reported(self, cause: Any) -> None:
        if len(self.reported) < self.limit:
            self.reported.append(str(getattr(cause, "value", cause)))

    def analyse(self, start_ns: int, end_ns: int) -> TaskAnalysis:
        return analyse(self.root_id, start_ns, end_ns, list(self.records), self.thresholds,
                       reported=list(self.reported), truncated=self.truncated)


def findings_attribute(analysis: TaskAnalysis) -> str:
    """The top findings as a small JSON list (bounded: at most :data:`TOP_FINDINGS`, about 2 KB)."""
    top = [finding.as_dict() for finding in analysis.findings[:TOP_FINDINGS]]
    text = json.dumps(top, separators=(",", ":"))
    while len(text) > _MAX_FINDINGS_CHARS and top:
        top.pop()
        text = json.dumps(top, separators=(",", ":"))
    return text


def explain_task(handler: Handler, spans: TaskSpans, name: str, start_ns: int, end_ns: int,
                 span: trace.Span) -> tuple[dict[str, Any], TaskAnalysis]:
    """Analyse a finished task: its span attributes, recorded into the metrics (linked to ``span``)."""
    analysis = spans.analyse(start_ns, end_ns)
    errors = analysis.error_counts()
    attributes: dict[str, Any] = {
        TASK_PARALLELIZABLE_TIME: analysis.parallelizable_s,
        TASK_SAVEABLE_TIME: analysis.saveable_s,
        TASK_FINDINGS: findings_attribute(analysis),
        TASK_FINDINGS_COUNT: len(analysis.findings),
        TASK_COGNITIVE_ERRORS: errors["cognitive"],
        TASK_SYSTEM_ERRORS: errors["system"],
    }
    for kind, seconds in analysis.critical_path.items():
        attributes[task_critical_path_time(kind)] = seconds
    if analysis.truncated:
        attributes[TASK_SPANS_TRUNCATED] = True
    _record_metrics(handler, analysis, {TASK_NAME: name}, trace.set_span_in_context(span))
    return attributes, analysis


def _record_metrics(handler: Handler, analysis: TaskAnalysis, labels: Mapping[str, str], context: Any) -> None:
    instruments = handler.instruments
    for kind, seconds in analysis.critical_path.items():
        instruments.task_critical_path.add(seconds, {**labels, CRITICAL_PATH_KIND: kind}, context=context)
    # Added even when zero: the series exist from the first task on, so their panels never say "No data".
    instruments.task_parallelizable.add(analysis.parallelizable_s, labels, context=context)
    instruments.task_saveable.add(analysis.saveable_s, labels, context=context)
    for finding in analysis.findings:
        instruments.task_findings.add(1, {**labels, FINDING_KIND: finding.kind}, context=context)


def budget_error(exhausted: BaseException, analysis: TaskAnalysis | None) -> dict[str, Any]:
    """``error.type``, class and cause of a task its budget stopped: a step limit, or a loop when the task repeated
    an identical tool call (the span keeps its status: the task ended as its outcome says)."""
    classified = classify(exhausted, ErrorSource.TASK)
    cause = classified.cause
    if cause is ErrorCause.STEP_LIMIT and analysis is not None and any(
            f.kind == "repeated_tool_call" for f in analysis.findings):
        cause = ErrorCause.LOOP_DETECTED
    return {ERROR_TYPE: classified.error_type, ERROR_CLASS: cause.error_class.value, ERROR_CAUSE: cause.value}
