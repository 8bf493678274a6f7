"""The one span lifecycle: start, (attach while the call runs), stop or fail. Never raises.

Every operation (an LLM call from any provider, an embeddings call, a tool, a retrieval) is an
:class:`Invocation`. Provider instrumentations only map a request onto ``start_llm`` arguments and a
response onto an :class:`~agentvitals._records.LLMResponse`; timing, errors, metrics, cost, task
credit and budgets are written here once.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from agentvitals import names
from agentvitals._records import LLMResponse, Usage
from agentvitals._tasks import TASK_KEY, TaskRun
from agentvitals._telemetry import LLMMetrics, Telemetry

_logger = logging.getLogger("agentvitals")

__all__ = ["Invocation", "LLMInvocation", "llm_active", "should_instrument_llm", "start_llm", "start_operation",
           "start_retrieval", "start_tool"]

_LLM_ACTIVE = otel_context.create_key("agentvitals-llm-active")
# The SDK's own key: exporters run under it, so their HTTP calls are never traced. Read directly
# rather than through opentelemetry.instrumentation.utils, whose import costs ~50 ms.
_SUPPRESSED = otel_context._SUPPRESS_INSTRUMENTATION_KEY
_SUPPRESSED_PLAIN = "suppress_instrumentation"


def llm_active() -> bool:
    """True while an agentvitals LLM span is current: nested LLM instrumentation must stand aside."""
    return otel_context.get_value(_LLM_ACTIVE) is True


def should_instrument_llm() -> bool:
    current = otel_context.get_current()
    return not (current.get(_SUPPRESSED) or current.get(_SUPPRESSED_PLAIN) or current.get(_LLM_ACTIVE) is True)


def error_type(exc: BaseException) -> str:
    return type(exc).__qualname__


class Invocation:
    """A started operation. ``stop()``/``fail(exc)`` end it exactly once; neither raises."""

    __slots__ = ("telemetry", "span", "run", "_start", "_duration", "_labels", "_token", "_ended", "_llm")

    def __init__(
        self,
        telemetry: Telemetry,
        span: trace.Span,
        run: TaskRun | None,
        duration: Any,
        labels: dict[str, Any],
        *,
        llm: bool = False,
    ) -> None:
        self.telemetry = telemetry
        self.span = span
        self.run = run
        self._start = time.perf_counter()
        self._duration = duration
        self._labels = labels
        self._token: object | None = None
        self._ended = False
        self._llm = llm

    # Context: the span is current only while the underlying call runs (never across a yield).
    def attach(self) -> None:
        ctx = trace.set_span_in_context(self.span)
        if self._llm:
            ctx = otel_context.set_value(_LLM_ACTIVE, True, ctx)
        self._token = otel_context.attach(ctx)

    def detach(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]

    # ``with invocation:`` around the underlying call: the span is current while it runs, and an exception
    # ends it failed and propagates unchanged. Success leaves it open (a returned stream is still to be
    # read): the caller stops it.
    def __enter__(self) -> Invocation:
        self.attach()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self.detach()
        if exc is not None:
            self.fail(exc)

    @property
    def ended(self) -> bool:
        return self._ended

    def elapsed(self) -> float:
        return time.perf_counter() - self._start

    def stop(self) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            self._record(None, self.elapsed())
        except Exception:  # deliberate: telemetry never breaks the caller
            _logger.debug("agentvitals: error while ending a span", exc_info=True)
        self.span.end()

    def fail(self, exc: BaseException) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            elapsed = self.elapsed()
            self.span.set_attribute(names.ERROR_TYPE, error_type(exc))
            self.span.set_status(Status(StatusCode.ERROR, str(exc)[:200]))
            self._record(exc, elapsed)
        except Exception:  # deliberate: telemetry never breaks the caller
            _logger.debug("agentvitals: error while failing a span", exc_info=True)
        self.span.end()

    def end(self, exc: BaseException | None = None) -> None:
        """``stop()`` on success, ``fail(exc)`` when the operation raised."""
        if exc is None:
            self.stop()
        else:
            self.fail(exc)

    def _record(self, exc: BaseException | None, elapsed: float) -> None:
        """Record the results before the span ends: the duration, by error type when it failed. Subclasses add
        theirs. Measurements carry the span's context: a sampled span becomes their points' exemplar."""
        labels = self._labels if exc is None else {**self._labels, names.ERROR_TYPE: error_type(exc)}
        self._duration.record(elapsed, labels, context=trace.set_span_in_context(self.span))


class LLMInvocation(Invocation):
    """An LLM call: adds the response, tokens, cost, time to first chunk and task credit."""

    __slots__ = ("provider", "request_model", "response", "_first_chunk_s", "cost_usd", "_metrics")

    def __init__(self, telemetry: Telemetry, span: trace.Span, run: TaskRun | None, metrics: LLMMetrics,
                 provider: str, request_model: str | None) -> None:
        super().__init__(telemetry, span, run, telemetry.operation_duration, metrics.labels, llm=True)
        self._metrics = metrics
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
            self._metrics.time_to_first_chunk(elapsed, self.telemetry.exemplar(self.span))
        except Exception:
            _logger.debug("agentvitals: could not record time to first chunk", exc_info=True)

    def _record(self, exc: BaseException | None, elapsed: float) -> None:
        # Everything the response tells goes onto the span in one set_attributes call (one lock, one
        # validation pass), and into the call's bound metric series, linked to the span by one exemplar.
        response = self.response
        attributes: dict[str, Any] = {}
        if self._first_chunk_s is not None:
            attributes[names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = self._first_chunk_s
        if response is not None:
            if response.model:
                attributes[names.GEN_AI_RESPONSE_MODEL] = response.model
            if response.response_id:
                attributes[names.GEN_AI_RESPONSE_ID] = response.response_id
            if response.finish_reasons:
                attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] = response.finish_reasons
            if self.telemetry.capture_content and response.output_text:
                attributes[names.GEN_AI_OUTPUT_MESSAGES] = self.telemetry.clip(response.output_text)
        if exc is not None:
            super()._record(exc, elapsed)
        else:
            exemplar = self.telemetry.exemplar(self.span)
            self._metrics.duration(elapsed, exemplar)
            usage = response.usage if response is not None else None
            if usage is None:
                attributes[names.USAGE_REPORTED] = False
            else:
                self._record_usage(usage, attributes, exemplar)
            self._record_cost(response, usage, attributes, exemplar)
        if attributes:
            self.span.set_attributes(attributes)

    def _record_usage(self, usage: Usage, attributes: dict[str, Any], exemplar: Any) -> None:
        for attribute, value in (
            (names.GEN_AI_USAGE_INPUT_TOKENS, usage.input_tokens),
            (names.GEN_AI_USAGE_OUTPUT_TOKENS, usage.output_tokens),
            (names.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, usage.cache_read_tokens),
            (names.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, usage.cache_write_tokens),
            (names.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, usage.reasoning_tokens),
        ):
            if value is not None:
                attributes[attribute] = value
        metrics = self._metrics
        if usage.input_tokens is not None:
            metrics.input_tokens(usage.input_tokens, exemplar)
        if usage.output_tokens is not None:
            metrics.output_tokens(usage.output_tokens, exemplar)
        # Input and output totals are the histogram's _sum; the counter carries only what it lacks.
        if usage.cache_read_tokens:
            metrics.cache_read_tokens(usage.cache_read_tokens, exemplar)
        if usage.cache_write_tokens:
            metrics.cache_write_tokens(usage.cache_write_tokens, exemplar)
        if usage.reasoning_tokens:
            metrics.reasoning_tokens(usage.reasoning_tokens, exemplar)

    def _record_cost(self, response: LLMResponse | None, usage: Usage | None, attributes: dict[str, Any],
                     exemplar: Any) -> None:
        telemetry = self.telemetry
        amount: float | None
        source = "local"
        if response is not None and response.provider_cost_usd is not None:
            amount, source = response.provider_cost_usd, "provider"
        else:
            model = (response.model if response is not None and response.model else None) or self.request_model
            cost = telemetry.pricing.cost(self.provider, model, usage)
            if cost is None and model != self.request_model:
                cost = telemetry.pricing.cost(self.provider, self.request_model, usage)
            amount = cost.amount_usd if cost is not None else None
        self.cost_usd = amount
        if amount is None:  # the marker is only for the unpriced: a priced span carries the amount
            attributes[names.COST_PRICED] = False
            self._metrics.unpriced_calls(1, exemplar)
        else:
            attributes[names.COST_AMOUNT] = amount
            attributes[names.COST_CURRENCY] = "USD"
            attributes[names.COST_SOURCE] = source
            self._metrics.cost(amount, exemplar)
        if self.run is not None:
            self.run.add_llm_result(
                amount,
                usage.input_tokens if usage is not None else None,
                usage.output_tokens if usage is not None else None,
            )


def start_llm(
    telemetry: Telemetry,
    *,
    provider: str,
    operation: str,
    model: str | None,
    attributes: Mapping[str, Any] | None = None,
    messages: Any = None,
) -> LLMInvocation:
    """Start an LLM span. Checks and counts the task's budget first (raises BudgetExhausted)."""
    run: TaskRun | None = otel_context.get_value(TASK_KEY)  # type: ignore[assignment]
    if run is not None:
        run.begin_step("llm")
    metrics = telemetry.llm_metrics(operation, provider, model)
    span_attributes = {**metrics.labels, **attributes} if attributes else dict(metrics.labels)
    if messages is not None and telemetry.capture_content:
        span_attributes[names.GEN_AI_INPUT_MESSAGES] = telemetry.clip(_to_json(messages))
    span = telemetry.tracer.start_span(
        names.span_name(operation, model), kind=SpanKind.CLIENT, attributes=span_attributes
    )
    return LLMInvocation(telemetry, span, run, metrics, provider, model)


def start_operation(
    telemetry: Telemetry,
    *,
    operation: str,
    target: str,
    target_attribute: str,
    step: str | None,
    duration: Any,
    attributes: Mapping[str, Any] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    labels: Mapping[str, str] | None = None,
) -> Invocation:
    """Start a tool or retrieval span; ``step`` (``"tool"``) is checked against the task's budget.
    ``labels`` are extra (bounded) metric attributes, also set on the span."""
    run: TaskRun | None = otel_context.get_value(TASK_KEY)  # type: ignore[assignment]
    if run is not None and step is not None:
        run.begin_step(step)
    labels = {target_attribute: target, **(labels or {})}
    span_attributes = {names.GEN_AI_OPERATION_NAME: operation, **labels}
    if attributes:
        span_attributes.update(attributes)
    span = telemetry.tracer.start_span(names.span_name(operation, target), kind=kind, attributes=span_attributes)
    return Invocation(telemetry, span, run, duration, labels)


def start_tool(
    telemetry: Telemetry,
    name: str,
    *,
    tool_type: str = "function",
    call_id: str | None = None,
    arguments: Any = None,
    attributes: Mapping[str, Any] | None = None,
) -> Invocation:
    """Start an ``execute_tool {name}`` span, counted against the task's tool budget (raises BudgetExhausted).
    ``arguments`` are recorded only when content capture is on."""
    span_attributes: dict[str, Any] = {names.GEN_AI_TOOL_TYPE: tool_type, **(attributes or {})}
    if call_id:
        span_attributes[names.GEN_AI_TOOL_CALL_ID] = call_id
    if arguments is not None and telemetry.capture_content:
        span_attributes[names.GEN_AI_TOOL_CALL_ARGUMENTS] = telemetry.clip(str(arguments))
    return start_operation(
        telemetry, operation=names.Operation.EXECUTE_TOOL.value, target=name,
        target_attribute=names.GEN_AI_TOOL_NAME, step="tool", duration=telemetry.tool_duration,
        attributes=span_attributes,
    )


def start_retrieval(
    telemetry: Telemetry,
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
        span_attributes[names.RETRIEVAL_TOP_K] = top_k
    if query is not None and telemetry.capture_content:
        span_attributes[names.GEN_AI_RETRIEVAL_QUERY_TEXT] = telemetry.clip(query)
    return start_operation(
        telemetry, operation=names.Operation.RETRIEVAL.value, target=source,
        target_attribute=names.GEN_AI_DATA_SOURCE_ID, step=None, duration=telemetry.retrieval_duration,
        attributes=span_attributes, kind=SpanKind.CLIENT, labels={names.RETRIEVAL_OPERATION: operation},
    )


def _to_json(value: Any) -> str:
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except Exception:
        return str(value)
