"""The one span lifecycle: LLM calls, tools, retrievals and tasks start here and end exactly once.

An :class:`Invocation` is a started operation. ``end(exc)`` (or ``stop()``/``fail(exc)``) records its
results onto the span and into metrics, then ends the span; it never raises. Subclasses add what their
kind of operation knows: :class:`LLMInvocation` the response, tokens, cost and time to first chunk (provider
instrumentations only map a request onto ``start_llm`` arguments and a response onto an
:class:`~agentvitals._records.LLMResponse`); the task's invocation (``_tasks``) its outcome and time split.

Every measurement carries the span's context, so a sampled span becomes its points' exemplar.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.metrics import Histogram
from opentelemetry.trace import SpanKind, Status, StatusCode

from agentvitals._handler import Handler
from agentvitals._records import LLMResponse, Usage, finish_reasons
from agentvitals._taskrun import TaskRun, current_task
from agentvitals.attributes import (
    COST_AMOUNT,
    COST_CURRENCY,
    COST_PRICED,
    COST_SOURCE,
    REJECTED_FIELD,
    RESPONSE_REJECTED,
    RETRIEVAL_OPERATION,
    RETRIEVAL_TOP_K,
    TOKEN_TYPE,
    USAGE_REPORTED,
    TokenType,
)
from agentvitals.metrics import REJECTED_VALUES
from agentvitals.semconv import (
    ERROR_TYPE,
    GEN_AI_DATA_SOURCE_ID,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OPERATION_NAME,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_FINISH_REASONS,
    GEN_AI_RESPONSE_ID,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    GEN_AI_RETRIEVAL_QUERY_TEXT,
    GEN_AI_TOKEN_TYPE,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_NAME,
    GEN_AI_TOOL_TYPE,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    Operation,
    span_name,
)

_logger = logging.getLogger("agentvitals")

__all__ = ["Invocation", "LLMInvocation", "error_type", "llm_active", "should_instrument_llm", "start_llm",
           "start_operation", "start_retrieval", "start_tool"]

_LLM_ACTIVE = otel_context.create_key("agentvitals-llm-active")
_rejection_logged = False


def llm_active() -> bool:
    """True while an agentvitals LLM span is current: nested LLM instrumentation must stand aside."""
    return otel_context.get_value(_LLM_ACTIVE) is True


def should_instrument_llm() -> bool:
    """False when instrumentation is suppressed (our exporters' own calls) or an LLM span is already current."""
    return is_instrumentation_enabled() and not llm_active()


def error_type(exc: BaseException) -> str:
    return type(exc).__qualname__


class Invocation:
    """A started operation, ended exactly once by ``end(exc)``; nothing here raises into the caller."""

    __slots__ = ("handler", "span", "run", "_start", "_duration", "_labels", "_token", "_ended", "_llm")

    def __init__(self, handler: Handler, span: trace.Span, run: TaskRun | None, duration: Histogram | None,
                 labels: Mapping[str, Any], *, llm: bool = False) -> None:
        self.handler = handler
        self.span = span
        self.run = run
        self._start = time.perf_counter()
        self._duration = duration
        self._labels = labels
        self._token: object | None = None
        self._ended = False
        self._llm = llm

    # The span is current only while the underlying call runs (never across a yield).
    def context(self, parent: otel_context.Context | None = None) -> otel_context.Context:
        """``parent`` (default: the current context) with this operation's span current."""
        ctx = trace.set_span_in_context(self.span, parent)
        if self._llm:
            ctx = otel_context.set_value(_LLM_ACTIVE, True, ctx)
        return ctx

    def attach(self) -> None:
        self._token = otel_context.attach(self.context())

    def detach(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]

    # ``with invocation:`` around the underlying call: the span is current while it runs, and an exception
    # ends it failed and propagates unchanged. Success leaves it open (a returned stream is still to be
    # read): the caller ends it.
    def __enter__(self) -> Invocation:
        self.attach()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self.detach()
        if exc is not None:
            self.end(exc)

    @property
    def ended(self) -> bool:
        return self._ended

    def elapsed(self) -> float:
        return time.perf_counter() - self._start

    def end(self, exc: BaseException | None = None) -> None:
        """Record the results (failed when ``exc`` is given), then end the span. Only the first call counts."""
        if self._ended:
            return
        self._ended = True
        end_time: int | None = None
        try:
            end_time = self._record(exc, self.elapsed())
        except Exception:  # deliberate: telemetry never breaks the caller
            _logger.debug("agentvitals: error while ending a span", exc_info=True)
        self.span.end(end_time=end_time)

    def stop(self) -> None:
        self.end(None)

    def fail(self, exc: BaseException) -> None:
        self.end(exc)

    def mark_failed(self, exc: BaseException) -> None:
        """``error.type`` and an ERROR status; the message only when content capture is on."""
        self.span.set_attribute(ERROR_TYPE, error_type(exc))
        self.span.set_status(Status(StatusCode.ERROR, self.handler.content.error_description(exc)))

    def _record(self, exc: BaseException | None, elapsed: float) -> int | None:
        """Record the results before the span ends; returns the span's end time (``None``: now).
        Here: the duration, by error type when it failed. Subclasses record theirs."""
        labels = self._labels
        if exc is not None:
            self.mark_failed(exc)
            labels = {**labels, ERROR_TYPE: error_type(exc)}
        if self._duration is not None:
            self._duration.record(elapsed, labels, context=trace.set_span_in_context(self.span))
        return None


class LLMInvocation(Invocation):
    """An LLM call: adds the response, tokens, cost, time to first chunk and task credit."""

    __slots__ = ("provider", "request_model", "response", "_first_chunk_s", "cost_usd")

    def __init__(self, handler: Handler, span: trace.Span, run: TaskRun | None, labels: Mapping[str, Any],
                 provider: str, request_model: str | None) -> None:
        super().__init__(handler, span, run, handler.instruments.operation_duration, labels, llm=True)
        self.provider = provider
        self.request_model = request_model
        self.response: LLMResponse | None = None
        self._first_chunk_s: float | None = None
        self.cost_usd: float | None = None
        """Set when the call ended with a priced usage."""

    def first_chunk(self) -> None:
        """Record time to first chunk (streams). Only the first call counts."""
        if self._first_chunk_s is not None:
            return
        elapsed = self._first_chunk_s = self.elapsed()  # onto the span with the other response attributes
        try:
            self.handler.instruments.time_to_first_chunk.record(
                elapsed, self._labels, context=trace.set_span_in_context(self.span))
        except Exception:
            _logger.debug("agentvitals: could not record time to first chunk", exc_info=True)

    def _record(self, exc: BaseException | None, elapsed: float) -> int | None:
        # Everything the response tells goes onto the span in one set_attributes call (one lock, one
        # validation pass), and into the metrics, linked to the span by its context.
        response = self.response
        attributes: dict[str, Any] = {}
        if self._first_chunk_s is not None:
            attributes[GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = self._first_chunk_s
        if response is not None:
            if response.model:
                attributes[GEN_AI_RESPONSE_MODEL] = response.model
            if response.response_id:
                attributes[GEN_AI_RESPONSE_ID] = response.response_id
            if response.finish_reasons:  # bounded, whichever instrumentation filled them
                attributes[GEN_AI_RESPONSE_FINISH_REASONS] = finish_reasons(response.finish_reasons)
            if self.handler.content.capture and response.output_text:
                attributes[GEN_AI_OUTPUT_MESSAGES] = self.handler.content.clip(response.output_text)
        if exc is not None:
            super()._record(exc, elapsed)
        else:
            context = trace.set_span_in_context(self.span)
            self.handler.instruments.operation_duration.record(elapsed, self._labels, context=context)
            usage = response.usage if response is not None else None
            if usage is None:
                attributes[USAGE_REPORTED] = False
            else:
                self._record_usage(usage, attributes, context)
            rejected = self._record_cost(response, usage, attributes, context)
            if response is not None:
                rejected = (*response.all_rejected, *rejected)
            if rejected:
                self._record_rejected(rejected, attributes, context)
        if attributes:
            self.span.set_attributes(attributes)
        return None

    def _record_usage(self, usage: Usage, attributes: dict[str, Any], context: otel_context.Context) -> None:
        for attribute, value in (
            (GEN_AI_USAGE_INPUT_TOKENS, usage.input_tokens),
            (GEN_AI_USAGE_OUTPUT_TOKENS, usage.output_tokens),
            (GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, usage.cache_read_tokens),
            (GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, usage.cache_write_tokens),
            (GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, usage.reasoning_tokens),
        ):
            if value is not None:
                attributes[attribute] = value
        instruments, labels = self.handler.instruments, self._labels
        if usage.input_tokens is not None:
            instruments.token_usage.record(usage.input_tokens, {**labels, GEN_AI_TOKEN_TYPE: "input"}, context=context)
        if usage.output_tokens is not None:
            instruments.token_usage.record(usage.output_tokens, {**labels, GEN_AI_TOKEN_TYPE: "output"},
                                           context=context)
        # Input and output totals are the histogram's _sum; the counter carries only what it lacks.
        for token_type, count in ((TokenType.CACHE_READ, usage.cache_read_tokens),
                                  (TokenType.CACHE_WRITE, usage.cache_write_tokens),
                                  (TokenType.REASONING, usage.reasoning_tokens)):
            if count:
                instruments.tokens.add(count, {**labels, TOKEN_TYPE: token_type.value}, context=context)

    def _record_cost(self, response: LLMResponse | None, usage: Usage | None, attributes: dict[str, Any],
                     context: otel_context.Context) -> tuple[str, ...]:
        """Cost onto the span, the metrics and the task; returns what had to be rejected on the way."""
        handler = self.handler
        amount: float | None = None
        rejected: tuple[str, ...] = ()
        source = "local"
        if response is not None and response.provider_cost_usd is not None:
            amount, source = response.provider_cost_usd, "provider"
        elif usage is None or not usage.rejected:  # usage with rejected counts cannot be priced: it is unknown
            model = (response.model if response is not None and response.model else None) or self.request_model
            cost = handler.pricing.cost(self.provider, model, usage)
            if cost is None and model != self.request_model:
                cost = handler.pricing.cost(self.provider, self.request_model, usage)
            amount = cost.amount_usd if cost is not None else None
            if amount is not None and not (math.isfinite(amount) and amount >= 0):
                amount, rejected = None, ("cost",)
        self.cost_usd = amount
        if amount is None:  # the marker is only for the unpriced: a priced span carries the amount
            attributes[COST_PRICED] = False
            handler.instruments.unpriced_calls.add(1, self._labels, context=context)
        else:
            attributes[COST_AMOUNT] = amount
            attributes[COST_CURRENCY] = "USD"
            attributes[COST_SOURCE] = source
            handler.instruments.cost.add(amount, self._labels, context=context)
        if self.run is not None:
            self.run.add_llm_result(
                amount,
                usage.input_tokens if usage is not None else None,
                usage.output_tokens if usage is not None else None,
            )
        return rejected

    def _record_rejected(self, rejected: tuple[str, ...], attributes: dict[str, Any],
                         context: otel_context.Context) -> None:
        """Mark the call, count each rejected field, and say it once per process."""
        fields = tuple(dict.fromkeys(rejected))
        attributes[RESPONSE_REJECTED] = fields
        for name in fields:
            self.handler.instruments.rejected_values.add(1, {**self._labels, REJECTED_FIELD: name}, context=context)
        global _rejection_logged
        if not _rejection_logged:
            _rejection_logged = True
            _logger.warning("agentvitals: %s (model %s) reported invalid %s; left out of tokens, cost and budgets "
                            "(the span is marked %s, the metric %s counts them; said once)", self.provider,
                            self.request_model, ", ".join(fields), RESPONSE_REJECTED, REJECTED_VALUES.name)


def start_llm(
    handler: Handler,
    *,
    provider: str,
    operation: str,
    model: str | None,
    attributes: Mapping[str, Any] | None = None,
    messages: Any = None,
) -> LLMInvocation:
    """Start an LLM span. Checks and counts the task's budget first (raises BudgetExhausted)."""
    run = current_task()
    if run is not None:
        run.begin_step("llm")
    labels = {GEN_AI_OPERATION_NAME: operation, GEN_AI_PROVIDER_NAME: provider}
    if model:
        labels[GEN_AI_REQUEST_MODEL] = model
    span_attributes: dict[str, Any] = {**labels, **attributes} if attributes else dict(labels)
    if messages is not None and handler.content.capture:
        span_attributes[GEN_AI_INPUT_MESSAGES] = handler.content.clip(_to_json(messages))
    span = handler.tracer.start_span(span_name(operation, model), kind=SpanKind.CLIENT, attributes=span_attributes)
    return LLMInvocation(handler, span, run, labels, provider, model)


def start_operation(
    handler: Handler,
    *,
    operation: str,
    target: str,
    target_attribute: str,
    step: str | None,
    duration: Histogram,
    attributes: Mapping[str, Any] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    labels: Mapping[str, str] | None = None,
) -> Invocation:
    """Start a tool or retrieval span; ``step`` (``"tool"``) is checked against the task's budget.
    ``labels`` are extra (bounded) metric attributes, also set on the span."""
    run = current_task()
    if run is not None and step is not None:
        run.begin_step(step)
    metric_labels = {target_attribute: target, **(labels or {})}
    span_attributes = {GEN_AI_OPERATION_NAME: operation, **metric_labels}
    if attributes:
        span_attributes.update(attributes)
    span = handler.tracer.start_span(span_name(operation, target), kind=kind, attributes=span_attributes)
    return Invocation(handler, span, run, duration, metric_labels)


def start_tool(
    handler: Handler,
    name: str,
    *,
    tool_type: str = "function",
    call_id: str | None = None,
    arguments: Any = None,
    attributes: Mapping[str, Any] | None = None,
) -> Invocation:
    """Start an ``execute_tool {name}`` span, counted against the task's tool budget (raises BudgetExhausted).
    ``arguments`` are recorded only when content capture is on."""
    span_attributes: dict[str, Any] = {GEN_AI_TOOL_TYPE: tool_type, **(attributes or {})}
    if call_id:
        span_attributes[GEN_AI_TOOL_CALL_ID] = call_id
    if arguments is not None and handler.content.capture:
        span_attributes[GEN_AI_TOOL_CALL_ARGUMENTS] = handler.content.clip(str(arguments))
    return start_operation(
        handler, operation=Operation.EXECUTE_TOOL.value, target=name, target_attribute=GEN_AI_TOOL_NAME,
        step="tool", duration=handler.instruments.tool_duration, attributes=span_attributes,
    )


def start_retrieval(
    handler: Handler,
    source: str,
    *,
    operation: str = "query",
    top_k: int | None = None,
    query: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Invocation:
    """Start a ``retrieval {source}`` CLIENT span; ``operation`` (``query`` or ``add``) labels the duration
    metric. ``query`` is recorded only when content capture is on."""
    span_attributes: dict[str, Any] = dict(attributes or {})
    if top_k is not None:
        span_attributes[RETRIEVAL_TOP_K] = top_k
    if query is not None and handler.content.capture:
        span_attributes[GEN_AI_RETRIEVAL_QUERY_TEXT] = handler.content.clip(query)
    return start_operation(
        handler, operation=Operation.RETRIEVAL.value, target=source, target_attribute=GEN_AI_DATA_SOURCE_ID,
        step=None, duration=handler.instruments.retrieval_duration, attributes=span_attributes,
        kind=SpanKind.CLIENT, labels={RETRIEVAL_OPERATION: operation},
    )


def _to_json(value: Any) -> str:
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except Exception:
        return str(value)
