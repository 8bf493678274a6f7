"""The one span lifecycle: LLM calls, tools, retrievals and tasks start here and end exactly once.

An :class:`Invocation` is a started operation. ``end(exc)`` (or ``stop()``/``fail(exc)``) records its
results onto the span and into metrics, then ends the span; it never raises. Subclasses add what their
kind of operation knows: :class:`LLMInvocation` the response, tokens, cost and time to first chunk (provider
instrumentations only map a request onto ``start_llm`` arguments and a response onto an
:class:`~agentvitals._records.LLMResponse`); the task's invocation (``_tasks``) its outcome and time split.

Every measurement carries the span's context, so a sampled span becomes its points' exemplar.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import Histogram
from opentelemetry.trace import SpanKind, Status, StatusCode

from agentvitals import _messages as structured
from agentvitals._errors import ErrorSource, classify
from agentvitals._explain._records import arguments_hash
from agentvitals._handler import Handler
from agentvitals._messages import bounded_json
from agentvitals._records import LLMResponse, Usage, cost_usd, finish_reasons
from agentvitals._spans import is_agent, is_inference, is_tool
from agentvitals._taskrun import current_task
from agentvitals.attributes import (
    COST_AMOUNT,
    COST_CURRENCY,
    COST_PRICED,
    COST_SOURCE,
    REJECTED_FIELD,
    RESPONSE_REJECTED,
    RETRIEVAL_OPERATION,
    RETRIEVAL_TOP_K,
    TOOL_ARGUMENTS_HASH,
    USAGE_REPORTED,
)
from agentvitals.metrics import GENAI_METRIC_LABELS, REJECTED_VALUES
from agentvitals.semconv import (
    ERROR_TYPE,
    GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS,
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
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_NAME,
    GEN_AI_TOOL_TYPE,
    Operation,
    TokenCount,
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
    return _instrumentation_enabled() and not llm_active()


def _instrumentation_enabled() -> bool:
    # Imported on the first call: the module pulls in wrapt and asyncio (~90 ms), which `import agentvitals` alone
    # need not pay; an instrumented call has imported it already (every instrumentor uses it).
    global _instrumentation_enabled
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled

    _instrumentation_enabled = is_instrumentation_enabled
    return is_instrumentation_enabled()


def error_type(exc: BaseException) -> str:
    return type(exc).__qualname__


def _check_budget(step: str, nested_in: Callable[[Mapping[str, Any]], bool]) -> None:
    """Refuse the step if it would exceed the task's budget. A step inside a span of the same call (our tool
    inside a framework's ``execute_tool`` span, our SDK span inside a framework's ``chat`` span) is that call,
    already counted: it is not checked again."""
    run = current_task()
    if run is None:
        return
    attributes = getattr(trace.get_current_span(), "attributes", None)  # an SDK span's, if recording
    if isinstance(attributes, Mapping) and nested_in(attributes):
        return
    run.check_step(step)


def _error_source(span: trace.Span) -> ErrorSource | None:
    """What kind of operation a span of ours is, from its attributes (an SDK span's, when recording)."""
    attributes = getattr(span, "attributes", None)
    if not isinstance(attributes, Mapping):
        return None
    if is_inference(attributes):
        return ErrorSource.LLM
    if is_tool(attributes):
        return ErrorSource.TOOL
    return ErrorSource.TASK if is_agent(attributes) else None


class Invocation:
    """A started operation, ended exactly once by ``end(exc)``; nothing here raises into the caller."""

    __slots__ = ("handler", "span", "_start", "_duration", "_labels", "_token", "_ended", "_llm")

    def __init__(self, handler: Handler, span: trace.Span, duration: Histogram | None, labels: Mapping[str, Any],
                 *, llm: bool = False) -> None:
        self.handler = handler
        self.span = span
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
        """``error.type``, the error's class and cause, and an ERROR status; the message only when content capture
        is on."""
        self.span.set_attributes({ERROR_TYPE: error_type(exc), **classify(exc, _error_source(self.span)).attributes()})
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
    """An LLM call: adds the response, tokens, cost and time to first chunk (the task's credit is taken from the
    span by the accounting processor).

    Two label sets: ``labels`` (operation, provider, request model) for agentvitals' own metrics, and the
    conventions' metric labels, which add every request or response attribute the registry lists as a label
    (``gen_ai.response.model``, ``server.*``, ``openai.response.service_tier``: :data:`GENAI_METRIC_LABELS`).
    """

    __slots__ = ("provider", "request_model", "operation", "response", "_first_chunk_s", "cost_usd",
                 "_request_labels", "_event_content")

    def __init__(self, handler: Handler, span: trace.Span, labels: Mapping[str, Any], provider: str,
                 request_model: str | None, *, operation: str = Operation.CHAT.value,
                 request_labels: Mapping[str, Any] | None = None) -> None:
        super().__init__(handler, span, None, labels, llm=True)
        self.provider = provider
        self.request_model = request_model
        self.operation = operation
        self.response: LLMResponse | None = None
        self._first_chunk_s: float | None = None
        self._request_labels = dict(request_labels or {})
        self._event_content: dict[str, str] | None = None
        """The request's content, kept for the inference details event (content capture with events)."""
        self.cost_usd: float | None = None
        """Set when the call ended with a priced usage."""

    def first_chunk(self) -> None:
        """Note the time to first chunk (streams): recorded when the call ends, with the response's labels.
        Only the first call counts."""
        if self._first_chunk_s is None:
            self._first_chunk_s = self.elapsed()

    def _genai_labels(self) -> dict[str, Any]:
        labels = {**self._labels, **self._request_labels}
        response = self.response
        if response is not None:
            if response.model:
                labels[GEN_AI_RESPONSE_MODEL] = response.model
            labels.update((key, value) for key, value in response.attributes.items() if key in GENAI_METRIC_LABELS)
        return labels

    def _record(self, exc: BaseException | None, elapsed: float) -> int | None:
        # Everything the response tells goes onto the span in one set_attributes call (one lock, one
        # validation pass), and into the metrics, linked to the span by its context.
        handler = self.handler
        response = self.response
        attributes: dict[str, Any] = {}
        if self._first_chunk_s is not None:
            attributes[GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = self._first_chunk_s
        if response is not None:
            if response.model:
                attributes[GEN_AI_RESPONSE_MODEL] = response.model
            if response.response_id:
                attributes[GEN_AI_RESPONSE_ID] = response.response_id
            if response.finish_reasons:
                # bounded, whichever instrumentation filled them
                attributes[GEN_AI_RESPONSE_FINISH_REASONS] = finish_reasons(response.finish_reasons)
            attributes.update(response.attributes)
        self._record_content(response, attributes)
        context = trace.set_span_in_context(self.span)
        labels = self._genai_labels()
        genai = handler.instruments.genai
        if exc is not None:
            self.mark_failed(exc)
            genai.record_duration(self.operation, elapsed, {**labels, ERROR_TYPE: error_type(exc)}, context)
            genai.record_usage(self.operation, None, labels, self._labels, failed=True, context=context)
        else:
            genai.record_duration(self.operation, elapsed, labels, context)
            if self._first_chunk_s is not None:
                genai.record_first_chunk(self._first_chunk_s, labels, context)
            usage = response.usage if response is not None else None
            genai.record_usage(self.operation, usage, labels, self._labels, failed=False, context=context)
            if usage is None:
                attributes[USAGE_REPORTED] = False
            else:
                self._usage_attributes(usage, attributes)
            rejected = self._record_cost(response, usage, attributes, context)
            if response is not None:
                rejected = (*response.all_rejected, *rejected)
            if rejected:
                self._record_rejected(rejected, attributes, context)
        if attributes:
            self.span.set_attributes(attributes)
        return None

    def _record_content(self, response: LLMResponse | None, attributes: dict[str, Any]) -> None:
        """The output messages: on the span, on the inference details event, or both, as configured."""
        policy = self.handler.content
        if not policy.collect:
            return
        output = output_messages(response) if response is not None else []
        encoded = bounded_json(output, policy.max_length) if output else None
        if encoded is not None and policy.capture:
            attributes[GEN_AI_OUTPUT_MESSAGES] = encoded
        if policy.events:
            event: dict[str, Any] = {GEN_AI_OPERATION_NAME: self.operation, **(self._event_content or {})}
            if encoded is not None:
                event[GEN_AI_OUTPUT_MESSAGES] = encoded
            # A span event: agentvitals sets up no log pipeline, and OpenTelemetry Python's Logs API is not
            # public yet (opentelemetry._logs).
            self.span.add_event(GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS, event)

    def _usage_attributes(self, usage: Usage, attributes: dict[str, Any]) -> None:
        keys = self.handler.conventions.keys.usage
        for count, value in (
            (TokenCount.INPUT, usage.input_tokens),
            (TokenCount.OUTPUT, usage.output_tokens),
            (TokenCount.CACHE_READ, usage.cache_read_tokens),
            (TokenCount.CACHE_WRITE, usage.cache_write_tokens),
            (TokenCount.REASONING, usage.reasoning_tokens),
        ):
            if value is not None:
                attributes[keys[count]] = value

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
            cost = handler.pricing.call_cost(self.provider, response.model if response is not None else None,
                                             self.request_model, usage)
            amount = cost_usd(cost.amount_usd) if cost is not None else None
            if cost is not None and amount is None:
                rejected = ("cost",)
        self.cost_usd = amount
        if amount is None:  # the marker is only for the unpriced: a priced span carries the amount
            attributes[COST_PRICED] = False
            handler.instruments.unpriced_calls.add(1, self._labels, context=context)
        else:
            attributes[COST_AMOUNT] = amount
            attributes[COST_CURRENCY] = "USD"
            attributes[COST_SOURCE] = source
            handler.instruments.cost.add(amount, self._labels, context=context)
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


def output_messages(response: LLMResponse) -> list[dict[str, Any]]:
    """The response's output messages; a bare ``output_text`` (``llm_call(...).record(output_text=...)``)
    as one assistant message."""
    if response.output_messages:
        return response.output_messages
    if response.output_text:
        finish = response.finish_reasons[0] if response.finish_reasons else "stop"
        return [structured.message("assistant", [structured.text(response.output_text)], finish)]
    return []


def start_llm(
    handler: Handler,
    *,
    provider: str,
    operation: str,
    model: str | None,
    attributes: Mapping[str, Any] | None = None,
    messages: Any = None,
    content: Mapping[str, Any] | None = None,
) -> LLMInvocation:
    """Start an LLM span. Checks the task's budget first (raises BudgetExhausted); the accounting processor
    counts the call and credits its cost and tokens to the task from the span.

    ``content`` (read only when content capture is on) maps content attributes (``gen_ai.input.messages``,
    ``gen_ai.system_instructions``, ``gen_ai.tool.definitions``) to their structured values, recorded as
    bounded JSON; ``messages`` is a shorthand for the input messages alone."""
    _check_budget("llm", is_inference)
    labels = {GEN_AI_OPERATION_NAME: operation, GEN_AI_PROVIDER_NAME: provider}
    if model:
        labels[GEN_AI_REQUEST_MODEL] = model
    span_attributes: dict[str, Any] = {**labels, **attributes} if attributes else dict(labels)
    captured: dict[str, str] = {}
    if handler.content.collect:
        given = dict(content or {})
        if messages is not None:
            given.setdefault(GEN_AI_INPUT_MESSAGES, messages)
        captured = {key: bounded_json(value, handler.content.max_length) for key, value in given.items() if value}
        if handler.content.capture:
            span_attributes.update(captured)
    request_labels = {key: value for key, value in (attributes or {}).items() if key in GENAI_METRIC_LABELS}
    span = handler.tracer.start_span(span_name(operation, model), kind=SpanKind.CLIENT, attributes=span_attributes)
    invocation = LLMInvocation(handler, span, labels, provider, model, operation=operation,
                               request_labels=request_labels)
    if handler.content.events:
        invocation._event_content = captured
    return invocation


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
    enforce_budget: bool = True,
) -> Invocation:
    """Start a tool or retrieval span; ``step`` (``"tool"``) is checked against the task's budget.
    ``labels`` are extra (bounded) metric attributes, also set on the span. ``enforce_budget=False``: the step
    is never refused (a framework reported it once it already runs); it is counted all the same, when its
    span starts, and over the budget marks the task exhausted (see :meth:`TaskRun.count_step`)."""
    if step is not None and enforce_budget:
        _check_budget(step, is_tool if step == "tool" else is_inference)
    metric_labels = {target_attribute: target, **(labels or {})}
    span_attributes = {GEN_AI_OPERATION_NAME: operation, **metric_labels}
    if attributes:
        span_attributes.update(attributes)
    span = handler.tracer.start_span(span_name(operation, target), kind=kind, attributes=span_attributes)
    return Invocation(handler, span, duration, metric_labels)


def start_tool(
    handler: Handler,
    name: str,
    *,
    tool_type: str = "function",
    call_id: str | None = None,
    arguments: Any = None,
    attributes: Mapping[str, Any] | None = None,
    enforce_budget: bool = True,
) -> Invocation:
    """Start an ``execute_tool {name}`` span, counted against the task's tool budget (raises BudgetExhausted
    unless ``enforce_budget=False``: a tool a framework reports once it already runs). ``arguments`` are
    recorded only when content capture is on; a keyed hash of them always (repeated identical calls are a
    finding)."""
    span_attributes: dict[str, Any] = {GEN_AI_TOOL_TYPE: tool_type, **(attributes or {})}
    if call_id:
        span_attributes[GEN_AI_TOOL_CALL_ID] = call_id
    if arguments is not None:
        span_attributes[TOOL_ARGUMENTS_HASH] = arguments_hash(arguments)
        if handler.content.capture:
            span_attributes[GEN_AI_TOOL_CALL_ARGUMENTS] = handler.content.clip(str(arguments))
    # v0.1.0's gen_ai.execute_tool.duration is by tool type too; v1.41's (our own) duration is not.
    labels = {GEN_AI_TOOL_TYPE: tool_type} if GEN_AI_TOOL_TYPE in handler.conventions.tool_duration.labels else None
    return start_operation(
        handler, operation=Operation.EXECUTE_TOOL.value, target=name, target_attribute=GEN_AI_TOOL_NAME,
        step="tool", duration=handler.instruments.tool_duration, attributes=span_attributes, labels=labels,
        enforce_budget=enforce_budget,
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
        if handler.conventions.keys.retrieval_top_k is not None:
            span_attributes[handler.conventions.keys.retrieval_top_k] = top_k
    if query is not None and handler.content.capture:
        span_attributes[GEN_AI_RETRIEVAL_QUERY_TEXT] = handler.content.clip(query)
    return start_operation(
        handler, operation=Operation.RETRIEVAL.value, target=source, target_attribute=GEN_AI_DATA_SOURCE_ID,
        step=None, duration=handler.instruments.retrieval_duration, attributes=span_attributes,
        kind=SpanKind.CLIENT, labels={RETRIEVAL_OPERATION: operation},
    )

