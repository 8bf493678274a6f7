"""The neutral span record the analysis reads: what one span of a task did, whoever made it and wherever it was
read from (a live span in the accounting processor, a span in an OTLP JSON file or a Tempo response).

:func:`build_record` is the one place a span's attributes become a record, so the in-process analysis and
``agentvitals explain`` see the same thing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE
from opentelemetry.trace import SpanKind, StatusCode

from agentvitals._errors import ErrorSource, classify_type
from agentvitals._pricing import PriceTable
from agentvitals._records import non_empty_str
from agentvitals._spans import CallFacts, is_agent, is_inference, is_tool, server_address, tool_name, wait_kind
from agentvitals.attributes import (
    ERROR_CAUSE,
    ERROR_CLASS,
    INSTRUMENTATION_SCOPE,
    TASK_ID,
    TOOL_ARGUMENTS_HASH,
    WaitKind,
)
from agentvitals.semconv import (
    DB_SYSTEM_LEGACY,
    DB_SYSTEM_NAME,
    ERROR_TYPE,
    GEN_AI_DATA_SOURCE_ID,
    GEN_AI_OPERATION_NAME,
    GEN_AI_TOOL_CALL_ARGUMENTS,
)

if TYPE_CHECKING:  # the SDK is not imported with agentvitals (only init() loads it)
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["SpanRecord", "arguments_hash", "build_record", "exception_type", "is_ours", "record_from_span"]

_OI_INPUT = "input.value"  # OpenInference: a tool span's input (its arguments)
# One key per process: equal arguments hash equally within the process that made the calls (where a task's
# repeats happen), while a hash cannot be matched against guessed arguments elsewhere.
_ARGUMENTS_KEY = os.urandom(16)


def arguments_hash(arguments: Any) -> str:
    """A keyed hash of tool-call arguments (never the arguments themselves)."""
    try:
        text = arguments if isinstance(arguments, str) else json.dumps(arguments, sort_keys=True, default=str)
    except Exception:  # unserialisable and unsortable: its text is the next best identity
        text = str(arguments)
    return hashlib.blake2b(text.encode("utf-8", "replace"), key=_ARGUMENTS_KEY, digest_size=8).hexdigest()


class SpanRecord:
    """One span, as the analysis needs it. Times in ns since the epoch."""

    __slots__ = ("span_id", "parent_id", "name", "start_ns", "end_ns", "kind", "llm", "tool", "agent", "operation",
                 "subject", "ours", "provider", "input_tokens", "output_tokens", "cost_usd", "args_hash",
                 "error_type", "error_class", "error_cause", "task_id", "reported")

    def __init__(self, span_id: int, parent_id: int | None, name: str, start_ns: int, end_ns: int) -> None:
        self.span_id = span_id
        self.parent_id = parent_id
        self.name = name
        self.start_ns = start_ns
        self.end_ns = max(end_ns, start_ns)
        self.kind: WaitKind | None = None
        """The kind of external call it is, or ``None`` for the task's own work."""
        self.llm = False
        self.tool = False
        self.agent = False
        self.operation = ""
        self.subject = name
        """What the span is about: the model, the tool, the data source, the database, the server."""
        self.ours = False
        self.provider: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cost_usd: float | None = None
        self.args_hash: str | None = None
        self.error_type: str | None = None
        self.error_class: str | None = None
        self.error_cause: str | None = None
        self.task_id: str | None = None
        self.reported: tuple[str, ...] = ()
        """Causes of cognitive errors the application reported on this span (read back from span events)."""

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    def __repr__(self) -> str:
        return f"SpanRecord({self.name!r}, {self.kind}, {self.duration_s:.3f}s)"


def _subject(record: SpanRecord, attributes: Mapping[str, Any]) -> str:
    if record.tool:
        return tool_name(attributes) or record.name
    kind = record.kind
    if kind is WaitKind.RETRIEVAL:
        return non_empty_str(attributes.get(GEN_AI_DATA_SOURCE_ID)) or record.name
    if kind is WaitKind.DB:
        return (non_empty_str(attributes.get(DB_SYSTEM_NAME)) or non_empty_str(attributes.get(DB_SYSTEM_LEGACY))
                or record.name)
    if kind is WaitKind.HTTP:
        return server_address(attributes) or record.name
    return record.name


def _status_code(attributes: Mapping[str, Any]) -> int | None:
    status = attributes.get(HTTP_RESPONSE_STATUS_CODE, attributes.get("http.status_code"))
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def build_record(span_id: int, parent_id: int | None, name: str, span_kind: SpanKind, start_ns: int, end_ns: int,
                 attributes: Mapping[str, Any], *, ours: bool, failed: bool, exception_type: str | None = None,
                 pricing: PriceTable | None = None, reported: Sequence[str] = ()) -> SpanRecord:
    """A record from what a span says. ``failed``: its status is ERROR. ``pricing`` prices a model call that
    carries usage but no cost of ours (another instrumentation's)."""
    record = SpanRecord(span_id, parent_id, name, start_ns, end_ns)
    record.ours = ours
    record.kind = wait_kind(attributes, span_kind)
    record.llm = is_inference(attributes)
    record.tool = not record.llm and is_tool(attributes)
    record.agent = is_agent(attributes)
    operation = attributes.get(GEN_AI_OPERATION_NAME)
    record.operation = operation if isinstance(operation, str) else (record.kind.value if record.kind else "")
    record.reported = tuple(reported)
    task_id = attributes.get(TASK_ID)
    record.task_id = task_id if isinstance(task_id, str) else None
    if record.llm:
        facts = CallFacts(attributes)
        record.operation = facts.operation
        record.provider = facts.provider
        record.subject = facts.model or facts.provider
        usage = facts.usage
        if usage is not None:
            record.input_tokens, record.output_tokens = usage.input_tokens, usage.output_tokens
        record.cost_usd = facts.cost_usd
        if record.cost_usd is None and usage is not None and pricing is not None:
            cost = pricing.call_cost(facts.provider, facts.model, facts.request_model, usage)
            record.cost_usd = cost.amount_usd if cost is not None else None
    else:
        record.subject = _subject(record, attributes)
    if record.tool:
        hashed = attributes.get(TOOL_ARGUMENTS_HASH)
        if isinstance(hashed, str):
            record.args_hash = hashed
        else:
            raw = attributes.get(GEN_AI_TOOL_CALL_ARGUMENTS, attributes.get(_OI_INPUT))
            record.args_hash = arguments_hash(raw) if raw is not None else None
    error_class = attributes.get(ERROR_CLASS)
    if failed or isinstance(error_class, str):
        error_type = attributes.get(ERROR_TYPE)
        record.error_type = str(error_type) if error_type is not None else (exception_type or "error")
        cause = attributes.get(ERROR_CAUSE)
        if isinstance(error_class, str) and isinstance(cause, str):
            record.error_class, record.error_cause = error_class, cause
        else:
            source = (ErrorSource.LLM if record.llm else ErrorSource.TOOL if record.tool
                      else ErrorSource.TASK if record.agent else None)
            classified = classify_type(record.error_type, _status_code(attributes), source)
            record.error_class, record.error_cause = classified.error_class.value, classified.cause.value
    return record


def is_ours(span: ReadableSpan) -> bool:
    scope = span.instrumentation_scope
    return scope is not None and scope.name == INSTRUMENTATION_SCOPE


def exception_type(span: ReadableSpan) -> str | None:
    """The type of the exception a span recorded (instrumentations that set no ``error.type`` record one)."""
    for event in span.events:
        if event.name == "exception" and event.attributes:
            found = event.attributes.get("exception.type")
            if isinstance(found, str):
                return found
    return None


def record_from_span(span: ReadableSpan, pricing: PriceTable | None = None) -> SpanRecord:
    """The record of an ended SDK span (``pricing``: for model calls of other instrumentations)."""
    failed = span.status.status_code is StatusCode.ERROR
    context = span.context
    # One copy into a plain dict: a span's attribute mapping answers each lookup in Python, a dict in C.
    attributes = dict(span.attributes) if span.attributes else {}
    return build_record(
        context.span_id if context is not None else 0, span.parent.span_id if span.parent is not None else None,
        span.name, span.kind, span.start_time or 0, span.end_time or span.start_time or 0, attributes,
        ours=is_ours(span), failed=failed, exception_type=exception_type(span) if failed else None, pricing=pricing)
