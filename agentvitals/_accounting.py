"""Active vs idle time: which spans of a task are waits, and how a task's wall time splits.

A span processor sees every span (ours and any contrib instrumentation's) start and end. A task's
own span is recognised when it starts (its context carries the new task's run); any other span belongs
to the task of its parent span; a span is a *wait* when it is an external call (LLM, tool,
retrieval, DB, HTTP or any other CLIENT span). Only *outermost* waits are recorded (the HTTP span
under an LLM span is inside the LLM wait), so summed child time is not inflated by nesting.

Cost on the hot path: one dict lookup per span outside tasks, two dict operations per span inside
one, and a per-task lock only when a wait ends. No global locks: dict get/set/pop are atomic under
the GIL. The split is computed once, when the task ends (O(n log n) in its waits).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind

from agentvitals._taskrun import TASK_KEY, TaskRun
from agentvitals.attributes import TASK_ID, WaitKind
from agentvitals.semconv import (
    DB_QUERY_TEXT,
    DB_SYSTEM_LEGACY,
    DB_SYSTEM_NAME,
    GEN_AI_OPERATION_NAME,
    HTTP_REQUEST_METHOD,
    LLM_OPERATIONS,
    Operation,
)

if TYPE_CHECKING:
    from opentelemetry.context import Context

__all__ = ["WaitAccountingProcessor", "wait_kind"]

_OPERATION_KINDS: Mapping[str, WaitKind] = {
    **{op: WaitKind.LLM for op in LLM_OPERATIONS},
    Operation.EMBEDDINGS.value: WaitKind.LLM,
    Operation.EXECUTE_TOOL.value: WaitKind.TOOL,
    Operation.RETRIEVAL.value: WaitKind.RETRIEVAL,
}


_VECTOR_OPERATORS = ("<->", "<=>", "<#>", "<+>")


def wait_kind(attributes: Mapping[str, Any] | None, kind: SpanKind) -> WaitKind | None:
    """The kind of wait a span is, or ``None`` when it is the task's own work."""
    attributes = attributes or {}
    operation = attributes.get(GEN_AI_OPERATION_NAME)
    if operation is not None:
        return _OPERATION_KINDS.get(operation)
    if DB_SYSTEM_NAME in attributes or DB_SYSTEM_LEGACY in attributes:
        query = attributes.get(DB_QUERY_TEXT) or ""
        # pgvector's distance operators: a nearest-neighbour search is a retrieval, whatever stores it.
        if isinstance(query, str) and any(operator in query for operator in _VECTOR_OPERATORS):
            return WaitKind.RETRIEVAL
        return WaitKind.DB
    if kind is SpanKind.CLIENT:
        if HTTP_REQUEST_METHOD in attributes or "http.method" in attributes:
            return WaitKind.HTTP
        return WaitKind.OTHER
    return None


class _Entry:
    __slots__ = ("run", "kind", "inside_wait")

    def __init__(self, run: TaskRun, kind: WaitKind | None, inside_wait: bool) -> None:
        self.run = run
        self.kind = kind
        self.inside_wait = inside_wait


class WaitAccountingProcessor(SpanProcessor):
    """Attributes spans to tasks and records each task's outermost waits. Never raises."""

    def __init__(self) -> None:
        self._open: dict[int, _Entry] = {}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        span_id = span.context.span_id
        parent = span.parent
        parent_entry = self._open.get(parent.span_id) if parent is not None else None
        if parent_entry is None:
            # A task's own span starts in a context that carries its new run (see _tasks.start_task).
            run = otel_context.get_value(TASK_KEY, parent_context)
            if isinstance(run, TaskRun) and (span.attributes or {}).get(TASK_ID) == run.task_id:
                self._open[span_id] = _Entry(run, None, False)
            return
        attributes = span.attributes or {}
        if attributes.get(TASK_ID) is not None:
            run = otel_context.get_value(TASK_KEY, parent_context)
            if isinstance(run, TaskRun) and attributes.get(TASK_ID) == run.task_id:  # a nested task
                self._open[span_id] = _Entry(run, None, False)
                return
        kind = wait_kind(attributes, span.kind)
        inside = parent_entry.inside_wait or parent_entry.kind is not None
        self._open[span_id] = _Entry(parent_entry.run, kind, inside)

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None:
            return
        entry = self._open.pop(context.span_id, None)
        if entry is None or entry.inside_wait:
            return
        kind = entry.kind
        if kind is None or kind is WaitKind.OTHER:
            # Some instrumentations (DB-API among them) set their attributes after starting the span:
            # classify again with the final attributes.
            kind = wait_kind(span.attributes, span.kind)
            if kind is None:
                return
        start, end = span.start_time, span.end_time
        if start is None or end is None:
            return
        for run in entry.run.lineage():  # nested tasks: a sub-task's waits are its parent's waits too
            run.add_wait(start, end, kind)

    def shutdown(self) -> None:
        self._open.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
