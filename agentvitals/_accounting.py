"""Task accounting from spans, whoever made them: waits, model calls, tool calls, tokens and cost.

A span processor sees every span start and end: ours, a contrib instrumentation's, a framework's own
(pydantic-ai, OpenInference, ...). From them it keeps, for each task:

* **waits**: a span is a wait when it is an external call (LLM, tool, retrieval, DB, HTTP or any other
  CLIENT span); only *outermost* waits are recorded (the HTTP span under an LLM span is inside the LLM
  wait), so summed child time is not inflated by nesting. An HTTP call to a known LLM API path that no
  model-call span covers is an ``llm`` wait, and counted as an uninstrumented LLM call.
* **model calls, once each**: nested inference spans (a framework's ``chat`` span around our SDK span, or
  another instrumentation's inside ours) are one *nest*, one call. It is counted when the nest's outermost
  span starts, and credited (tokens, cost) when it ends, from the best member: ours if there is one (it
  carries our cost), else the innermost span that reported usage, priced with our table. For a nest with
  none of our spans, the processor also records the cost metric (the other instrumentation records its own
  duration and token metrics).
* **tool calls, once each**: likewise for nested ``execute_tool`` spans.
* **agent runs no task encloses**: another instrumentation's ``invoke_agent`` span outside any task is a task
  of its own: its run is accounted like ours and its results recorded when it ends (the task attributes
  join the span at export, see :meth:`AccountingProcessor.export_change`).
* **what each task did, for its analysis**: every descendant span of a task becomes a record in the task's
  bounded summary when it ends (:mod:`agentvitals._explain`: critical path, parallelizable calls, findings).
* **errors, once each**: a failed LLM, tool or task span (ours or another instrumentation's) is counted by class
  and cause where the error first surfaced, not again in the spans it propagates through
  (:func:`agentvitals._errors.counts`); other instrumentations' spans get their class and cause at export.

A task's own span is recognised when it starts: its context carries the task's new run (``_tasks``).

Cost on the hot path: one dict lookup per span outside tasks and nests, two dict operations per span inside
one, a per-task lock when something is credited. The split is computed once, when the task ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanContext, StatusCode

from agentvitals._errors import ErrorSource, classify_type, counts
from agentvitals._explain._records import exception_type, is_ours, record_from_span
from agentvitals._explain._summary import TaskSpans
from agentvitals._explain._thresholds import Thresholds
from agentvitals._handler import Handler
from agentvitals._spans import (
    CallFacts,
    agent_name,
    is_agent,
    is_inference,
    is_tool,
    llm_http_provider,
    server_address,
    wait_kind,
)
from agentvitals._taskrun import TASK_KEY, TaskRun
from agentvitals._tasks import finish_task
from agentvitals.attributes import ERROR_CAUSE, ERROR_CLASS, ERROR_SOURCE, TASK_ID, Outcome, WaitKind
from agentvitals.semconv import (
    ERROR_TYPE,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    SERVER_ADDRESS,
)

_logger = logging.getLogger("agentvitals")

__all__ = ["AccountingProcessor", "ExportChange"]

_MAX_ANNOTATIONS = 4096
"""Task attributes waiting for their span's export; bounded (an exporter that never runs must not leak)."""


class ExportChange(NamedTuple):
    drop: bool = False
    attributes: Mapping[str, Any] | None = None
    """Attributes to add."""
    parent: SpanContext | None = None
    """A new parent (the span's parent is left out of the export)."""


class _Nest:
    """Nested spans of one model call (or one tool call): counted once, credited once."""

    __slots__ = ("our_root", "ours", "best")

    def __init__(self, our_root: bool) -> None:
        self.our_root = our_root
        """The outermost span of the call is ours: other instrumentations' model-call spans inside it are
        duplicates of it (see :meth:`AccountingProcessor.exported`)."""
        self.ours: CallFacts | None = None
        """What our own span in the nest reported (preferred: it carries our cost)."""
        self.best: CallFacts | None = None
        """The innermost other span that reported usage."""


class _Entry:
    __slots__ = ("run", "kind", "inside_wait", "llm_nest", "llm_root", "tool_nest", "tool_root", "own_run",
                 "uninstrumented", "task_root", "counted_below")

    def __init__(self, run: TaskRun | None, kind: WaitKind | None, inside_wait: bool) -> None:
        self.run = run
        self.kind = kind
        self.inside_wait = inside_wait
        self.llm_nest: _Nest | None = None
        self.llm_root = False
        self.tool_nest: _Nest | None = None
        self.tool_root = False
        self.own_run: TaskRun | None = None
        """The run of an agent span no task enclosed: it is finished when the span ends."""
        self.uninstrumented: str | None = None
        """The provider of an HTTP call to an LLM API that no model-call span covers."""
        self.task_root = False
        """The span of a task itself (ours, or another instrumentation's agent run made a task)."""
        self.counted_below: set[str] | None = None
        """Error types counted in descendants (see :func:`agentvitals._errors.counts`)."""


_ours = is_ours


class AccountingProcessor(SpanProcessor):
    """Attributes spans to tasks and counts and credits what happens in them. Never raises.

    Args:
        handler: The handler to price and record through (looked up when needed: ``init()`` activates it after
            the providers, and so this processor, exist).
        thresholds: When the findings of each task's analysis fire.
    """

    def __init__(self, handler: Callable[[], Handler], thresholds: Thresholds | None = None) -> None:
        self._handler = handler
        self._thresholds = thresholds or Thresholds()
        self.annotate = False
        """Keep task attributes for agent spans of other instrumentations until export (only when an export
        processor of ours takes them: see :meth:`annotations`)."""
        self._open: dict[int, _Entry] = {}
        self._annotations: OrderedDict[int, Mapping[str, Any]] = OrderedDict()
        self._duplicates: OrderedDict[int, SpanContext] = OrderedDict()
        self._views_lock = threading.Lock()

    # --- start ------------------------------------------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            self._start(span, parent_context)
        except Exception:  # deliberate: accounting must never break the caller's span
            _logger.debug("agentvitals: accounting failed at span start", exc_info=True)

    def _start(self, span: Span, parent_context: Context | None) -> None:
        attributes = span.attributes or {}
        parent = span.parent
        parent_entry = self._open.get(parent.span_id) if parent is not None else None
        span_id = span.context.span_id

        run_in_context = otel_context.get_value(TASK_KEY, parent_context)
        if (isinstance(run_in_context, TaskRun) and attributes.get(TASK_ID) is not None
                and attributes.get(TASK_ID) == run_in_context.task_id):
            # Our task's own span. Inside another instrumentation's agent run, that run is its parent.
            if run_in_context.parent is None and parent_entry is not None and parent_entry.run is not None:
                run_in_context.parent = parent_entry.run
            entry = _Entry(run_in_context, None, False)
            entry.task_root = True
            if run_in_context.spans is None:
                run_in_context.spans = TaskSpans(span_id, self._thresholds)
            self._open[span_id] = entry
            return

        run = parent_entry.run if parent_entry is not None else None
        own_run = None
        ours = _ours(span)
        if run is None and not ours and is_agent(attributes):
            own_run = run = TaskRun(agent_name(attributes, span.name), None, None)
            own_run.start_ns = span.start_time or time.time_ns()
            own_run.spans = TaskSpans(span_id, self._thresholds)
        llm_nest = parent_entry.llm_nest if parent_entry is not None else None
        tool_nest = parent_entry.tool_nest if parent_entry is not None else None
        inference, tool = is_inference(attributes), is_tool(attributes)
        kind = wait_kind(attributes, span.kind)
        uninstrumented = None
        if kind is WaitKind.LLM and not inference:  # an HTTP call to an LLM API path
            if llm_nest is not None:
                kind = WaitKind.HTTP  # covered by a model-call span: its transport
            else:
                uninstrumented = llm_http_provider(attributes)
        if run is None and llm_nest is None and tool_nest is None and not inference and not tool \
                and uninstrumented is None:
            return  # nothing to account for: keep the hot path to one lookup

        inside = parent_entry is not None and (parent_entry.inside_wait or parent_entry.kind is not None)
        if not inside and parent_context is not None:
            # An explicit parent (OpenInference's LlamaIndex spans follow LlamaIndex's own span tree, not the
            # current context): a span started while a wait of the same task is current is inside it in time.
            ambient = self._open.get(trace.get_current_span().get_span_context().span_id)
            inside = ambient is not None and ambient.run is run and (ambient.inside_wait or ambient.kind is not None)
        entry = _Entry(run, kind, inside)
        entry.own_run = own_run
        entry.task_root = own_run is not None
        entry.uninstrumented = uninstrumented
        entry.llm_nest, entry.tool_nest = llm_nest, tool_nest
        if inference and llm_nest is None:
            entry.llm_nest, entry.llm_root = _Nest(ours), True
            if run is not None:
                run.count_step("llm")
        elif (inference and self.annotate and llm_nest is not None and llm_nest.our_root and not ours
              and parent is not None):
            # Another layer tracing the call we already trace (anthropic's native span, a second GenAI
            # instrumentation): counted once by the nest, and left out of the export when our export processor
            # exports it (export_change, the only reader of these entries).
            with self._views_lock:
                self._duplicates[span_id] = self._duplicates.get(parent.span_id, parent)
                while len(self._duplicates) > _MAX_ANNOTATIONS:
                    self._duplicates.popitem(last=False)
        if tool and tool_nest is None:
            entry.tool_nest, entry.tool_root = _Nest(False), True
            if run is not None:
                run.count_step("tool")
        self._open[span_id] = entry

    # --- end ----------------------------------------------------------------------------------------------
    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None:
            return
        entry = self._open.pop(context.span_id, None)
        if entry is None:
            return
        try:
            self._end(span, entry)
        except Exception:  # deliberate: see on_start
            _logger.debug("agentvitals: accounting failed at span end", exc_info=True)

    def _end(self, span: ReadableSpan, entry: _Entry) -> None:
        attributes = span.attributes or {}
        nest = entry.llm_nest
        if nest is not None and entry.run is None and entry.llm_root and nest.our_root:
            pass  # our own call outside any task: the call recorded its cost itself, and there is nothing to credit
        elif nest is not None and is_inference(attributes):
            facts = CallFacts(attributes)
            if _ours(span):
                nest.ours = facts
            elif nest.best is None and facts.usage is not None:
                nest.best = facts
            if entry.llm_root:
                self._credit_call(entry.run, nest, facts, span)
        if entry.uninstrumented is not None:
            self._count_uninstrumented(entry.uninstrumented, attributes)
        self._record_wait(span, entry)
        self._summarise(span, entry)
        results = self._finish_agent_run(span, entry.own_run) if entry.own_run is not None else None
        self._count_error(span, entry, results)

    def _record_wait(self, span: ReadableSpan, entry: _Entry) -> None:
        if entry.run is None or entry.inside_wait or entry.own_run is not None:
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

    def _credit_call(self, run: TaskRun | None, nest: _Nest, root: CallFacts, span: ReadableSpan) -> None:
        """Credit a finished model call to its task, from its best span; price it when no span of ours did."""
        if nest.ours is not None:
            facts, cost = nest.ours, nest.ours.cost_usd
        else:
            facts = nest.best or root
            cost = self._price_and_record(facts, span)
        if run is not None:
            usage = facts.usage
            run.add_llm_result(cost, usage.input_tokens if usage else None, usage.output_tokens if usage else None)

    def _price_and_record(self, facts: CallFacts, span: ReadableSpan) -> float | None:
        """Another instrumentation's model call: our price, and our cost (or unpriced) counter."""
        handler = self._handler()
        cost = handler.pricing.call_cost(facts.provider, facts.model, facts.request_model, facts.usage)
        labels = {GEN_AI_OPERATION_NAME: facts.operation, GEN_AI_PROVIDER_NAME: facts.provider}
        if facts.request_model:
            labels[GEN_AI_REQUEST_MODEL] = facts.request_model
        context = trace.set_span_in_context(trace.NonRecordingSpan(span.context)) if span.context else None
        if cost is None:
            handler.instruments.unpriced_calls.add(1, labels, context=context)
            return None
        handler.instruments.cost.add(cost.amount_usd, labels, context=context)
        return cost.amount_usd

    def _count_uninstrumented(self, provider: str, attributes: Mapping[str, Any]) -> None:
        labels = {GEN_AI_PROVIDER_NAME: provider}
        address = server_address(attributes)
        if address is not None:
            labels[SERVER_ADDRESS] = address
        self._handler().instruments.uninstrumented_calls.add(1, labels)

    def _finish_agent_run(self, span: ReadableSpan, run: TaskRun) -> dict[str, Any]:
        failed = span.status.status_code is StatusCode.ERROR
        outcome = Outcome.BUDGET_EXHAUSTED if run.exhausted is not None else (
            Outcome.ERROR if failed else Outcome.SUCCESS)
        end_ns = span.end_time or time.time_ns()
        parent = trace.NonRecordingSpan(span.context) if span.context is not None else trace.INVALID_SPAN
        error = None
        if outcome is Outcome.ERROR:
            recorded = (span.attributes or {}).get(ERROR_TYPE)
            error = recorded if isinstance(recorded, str) else "_OTHER"
        attributes = finish_task(self._handler(), run, parent, outcome, end_ns, None, error)
        self._annotate(span, {**attributes, TASK_ID: run.task_id})
        return attributes

    def _annotate(self, span: ReadableSpan, extra: Mapping[str, Any]) -> None:
        if self.annotate and span.context is not None:
            with self._views_lock:
                key = span.context.span_id
                self._annotations[key] = {**self._annotations.get(key, {}), **extra}
                while len(self._annotations) > _MAX_ANNOTATIONS:
                    self._annotations.popitem(last=False)

    # --- explain: the task's span summary, errors by class ----------------------------------------------
    def _summarise(self, span: ReadableSpan, entry: _Entry) -> None:
        """Add the span to the summaries of the tasks it belongs to (not to its own, for a task's span)."""
        run = entry.run
        if run is None:
            return
        runs = [r for r in (run.lineage()[1:] if entry.task_root else run.lineage()) if r.spans is not None]
        if not runs or span.context is None:
            return
        pricing = self._handler().pricing if entry.llm_nest is not None and not _ours(span) else None
        record = record_from_span(span, pricing)
        for enclosing in runs:
            enclosing.spans.add(record)  # type: ignore[union-attr]

    def _count_error(self, span: ReadableSpan, entry: _Entry, results: Mapping[str, Any] | None) -> None:
        """Count a failed LLM, tool or task span's error once (where it first surfaced) by class and cause."""
        attributes: Mapping[str, Any] = span.attributes or {}
        if results:
            attributes = {**attributes, **results}
        failed = span.status.status_code is StatusCode.ERROR
        if not failed and ERROR_CLASS not in attributes:
            return
        found = attributes.get(ERROR_TYPE)
        error_type = str(found) if found is not None else (exception_type(span) or "error")
        llm = entry.llm_nest is not None and is_inference(attributes)
        tool = entry.tool_nest is not None and not llm and is_tool(attributes)
        counted, passes_up = counts(error_type, countable=llm or tool or entry.task_root, nest_like=llm or tool,
                                    counted_below=entry.counted_below)
        parent = self._open.get(span.parent.span_id) if span.parent is not None else None
        if passes_up and parent is not None:
            if parent.counted_below is None:
                parent.counted_below = set()
            parent.counted_below.add(error_type)
        if not (llm or tool or entry.task_root):
            return
        source = ErrorSource.LLM if llm else ErrorSource.TOOL if tool else ErrorSource.TASK
        error_class, cause = attributes.get(ERROR_CLASS), attributes.get(ERROR_CAUSE)
        if not isinstance(error_class, str) or not isinstance(cause, str):
            status = attributes.get("http.response.status_code")
            classified = classify_type(error_type, status if isinstance(status, int) else None, source)
            error_class, cause = classified.error_class.value, classified.cause.value
            if not _ours(span):  # an ended span of another instrumentation: its class joins it at export
                self._annotate(span, {ERROR_CLASS: error_class, ERROR_CAUSE: cause})
        if counted:
            context = trace.set_span_in_context(trace.NonRecordingSpan(span.context)) if span.context else None
            self._handler().instruments.errors.add(
                1, {ERROR_CLASS: error_class, ERROR_CAUSE: cause, ERROR_SOURCE: source.value}, context=context)

    def export_change(self, span: ReadableSpan) -> ExportChange | None:
        """How a span should differ when exported through our export processor (an ended span cannot be changed;
        the exporter gets a copy): another instrumentation's agent span gets the task results it earned; a
        duplicate model-call span (another layer inside ours) is left out, its children attached to its parent.
        ``None``: export it as it is."""
        if not self.annotate or span.context is None or not (self._annotations or self._duplicates):
            return None
        with self._views_lock:
            if self._duplicates.pop(span.context.span_id, None) is not None:
                return ExportChange(drop=True)  # its children, which ended first, were exported before it
            parent = self._duplicates.get(span.parent.span_id) if span.parent is not None else None
            extra = self._annotations.pop(span.context.span_id, None)
        if parent is None and extra is None:
            return None
        return ExportChange(attributes=extra, parent=parent)

    def shutdown(self) -> None:
        self._open.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
