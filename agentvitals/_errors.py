"""Errors by class: ``system`` (the infrastructure failed: timeouts, rate limits, 5xx, connections, auth) or
``cognitive`` (the model or the agent's reasoning did: a tool that does not exist, output that does not parse,
a loop, a step limit, a refusal), each with a bounded cause.

Recognised where the library tells us, without importing it: by the exception's class names (its MRO: the
openai and anthropic SDKs share theirs; openai-agents' ``MaxTurnsExceeded``/``ModelBehaviorError``, pydantic-ai's
``UnexpectedModelBehavior``/``UsageLimitExceeded``, LangGraph's ``GraphRecursionError``, ...), its HTTP status
code, and the exceptions it was raised from (a ``json.JSONDecodeError`` behind an application's own exception).
A message is read, in-process only and never recorded, where a framework uses one class for several causes.
What only the application knows it reports with :func:`cognitive_error`.

Counting: each error once, where it first surfaced. An exception that propagates through a tool span, the span
around it and the task fails all three spans; :func:`counts` counts it at the tool and lets the others pass.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from opentelemetry import trace

from agentvitals.attributes import COGNITIVE_ERROR_EVENT, ERROR_CAUSE, ERROR_CLASS, ERROR_DETAIL, ERROR_SOURCE

_logger = logging.getLogger("agentvitals")

__all__ = ["Classified", "ErrorCause", "ErrorClass", "ErrorSource", "classify", "classify_type", "cognitive_error",
           "counts"]


class ErrorClass(str, Enum):
    SYSTEM = "system"
    COGNITIVE = "cognitive"


class ErrorCause(str, Enum):
    """Bounded causes (metric label values). The first group is cognitive, the second system."""

    TOOL_NOT_FOUND = "tool_not_found"
    INVALID_TOOL_ARGUMENTS = "invalid_tool_arguments"
    OUTPUT_PARSE = "output_parse"
    OUTPUT_TRUNCATED = "output_truncated"
    LOOP_DETECTED = "loop_detected"
    STEP_LIMIT = "step_limit"
    BUDGET_LIMIT = "budget_limit"
    REFUSAL = "refusal"
    GUARDRAIL = "guardrail"
    CONTEXT_OVERFLOW = "context_overflow"
    MODEL_BEHAVIOR = "model_behavior"
    OTHER_COGNITIVE = "other_cognitive"

    TIMEOUT = "timeout"
    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    CONNECTION = "connection"
    AUTH = "auth"
    INVALID_REQUEST = "invalid_request"
    NOT_FOUND = "not_found"
    CANCELLED = "cancelled"
    OTHER = "other"

    @property
    def error_class(self) -> ErrorClass:
        return ErrorClass.SYSTEM if self in _SYSTEM_CAUSES else ErrorClass.COGNITIVE


_SYSTEM_CAUSES = frozenset({ErrorCause.TIMEOUT, ErrorCause.RATE_LIMIT, ErrorCause.SERVER_ERROR, ErrorCause.CONNECTION,
                            ErrorCause.AUTH, ErrorCause.INVALID_REQUEST, ErrorCause.NOT_FOUND, ErrorCause.CANCELLED,
                            ErrorCause.OTHER})
COGNITIVE_CAUSES = frozenset(ErrorCause) - _SYSTEM_CAUSES


class ErrorSource(str, Enum):
    LLM = "llm"
    TOOL = "tool"
    TASK = "task"
    APPLICATION = "application"


@dataclass(frozen=True)
class Classified:
    error_type: str
    cause: ErrorCause

    @property
    def error_class(self) -> ErrorClass:
        return self.cause.error_class

    def attributes(self) -> dict[str, str]:
        return {ERROR_CLASS: self.error_class.value, ERROR_CAUSE: self.cause.value}


# Class names, matched against every class of the exception's MRO (most specific first). Names are shared by
# SDKs that follow the same generator (openai, anthropic: RateLimitError, APITimeoutError, ...).
_BY_NAME: Mapping[str, ErrorCause] = {
    # agent frameworks
    "MaxTurnsExceeded": ErrorCause.STEP_LIMIT,  # openai-agents
    "UsageLimitExceeded": ErrorCause.STEP_LIMIT,  # pydantic-ai (request, tool-call and token limits)
    "GraphRecursionError": ErrorCause.STEP_LIMIT,  # LangGraph's recursion_limit
    "ModelBehaviorError": ErrorCause.MODEL_BEHAVIOR,  # openai-agents; refined by message below
    "UnexpectedModelBehavior": ErrorCause.MODEL_BEHAVIOR,  # pydantic-ai; refined by message below
    "InputGuardrailTripwireTriggered": ErrorCause.GUARDRAIL,
    "OutputGuardrailTripwireTriggered": ErrorCause.GUARDRAIL,
    "OutputParserException": ErrorCause.OUTPUT_PARSE,  # LangChain
    "JSONDecodeError": ErrorCause.OUTPUT_PARSE,
    "ValidationError": ErrorCause.OUTPUT_PARSE,  # pydantic: structured output that does not validate
    "ContentFilterFinishReasonError": ErrorCause.REFUSAL,  # openai structured outputs
    "LengthFinishReasonError": ErrorCause.OUTPUT_TRUNCATED,
    # provider SDKs (openai, anthropic)
    "RateLimitError": ErrorCause.RATE_LIMIT,
    "APITimeoutError": ErrorCause.TIMEOUT,
    "APIConnectionError": ErrorCause.CONNECTION,
    "AuthenticationError": ErrorCause.AUTH,
    "PermissionDeniedError": ErrorCause.AUTH,
    "InternalServerError": ErrorCause.SERVER_ERROR,
    "OverloadedError": ErrorCause.SERVER_ERROR,
    "ServiceUnavailableError": ErrorCause.SERVER_ERROR,
    "DeadlineExceededError": ErrorCause.TIMEOUT,
    "BadRequestError": ErrorCause.INVALID_REQUEST,
    "UnprocessableEntityError": ErrorCause.INVALID_REQUEST,
    "NotFoundError": ErrorCause.NOT_FOUND,
    # transports and the standard library
    "TimeoutException": ErrorCause.TIMEOUT,  # httpx
    "TimeoutError": ErrorCause.TIMEOUT,  # builtins (asyncio.TimeoutError too)
    "ConnectError": ErrorCause.CONNECTION,  # httpx
    "NetworkError": ErrorCause.CONNECTION,
    "RemoteProtocolError": ErrorCause.CONNECTION,
    "ConnectionError": ErrorCause.CONNECTION,  # builtins, requests
    "CancelledError": ErrorCause.CANCELLED,
}
# Substrings of class names (frameworks and applications name these their own way).
_BY_NAME_PART: tuple[tuple[str, ErrorCause], ...] = (
    ("ToolNotFound", ErrorCause.TOOL_NOT_FOUND),
    ("UnknownTool", ErrorCause.TOOL_NOT_FOUND),
    ("NoSuchTool", ErrorCause.TOOL_NOT_FOUND),
    ("Refus", ErrorCause.REFUSAL),
    ("ParseError", ErrorCause.OUTPUT_PARSE),
    ("RecursionLimit", ErrorCause.STEP_LIMIT),
    ("MaxIterations", ErrorCause.STEP_LIMIT),
    ("MaxSteps", ErrorCause.STEP_LIMIT),
    ("Timeout", ErrorCause.TIMEOUT),
)
# What frameworks put in one class for several causes; read in-process, never recorded.
_BY_MESSAGE: tuple[tuple[str, ErrorCause], ...] = (
    ("not found in agent", ErrorCause.TOOL_NOT_FOUND),  # openai-agents: "Tool x not found in agent y"
    ("unknown tool", ErrorCause.TOOL_NOT_FOUND),
    ("invalid json input for tool", ErrorCause.INVALID_TOOL_ARGUMENTS),
    ("invalid json", ErrorCause.OUTPUT_PARSE),
    ("output validation", ErrorCause.OUTPUT_PARSE),  # pydantic-ai: "Exceeded maximum retries (n) for output ..."
    ("context_length_exceeded", ErrorCause.CONTEXT_OVERFLOW),
    ("maximum context length", ErrorCause.CONTEXT_OVERFLOW),
    ("context window", ErrorCause.CONTEXT_OVERFLOW),
)
_MESSAGE_REFINED = frozenset({ErrorCause.MODEL_BEHAVIOR, ErrorCause.INVALID_REQUEST})


def by_status(status: int) -> ErrorCause:
    """The cause an HTTP status code tells."""
    if status in (408, 504):
        return ErrorCause.TIMEOUT
    if status == 429:
        return ErrorCause.RATE_LIMIT
    if status in (401, 403):
        return ErrorCause.AUTH
    if status == 404:
        return ErrorCause.NOT_FOUND
    if status >= 500:
        return ErrorCause.SERVER_ERROR
    return ErrorCause.INVALID_REQUEST


def _by_names(names: Iterable[str], source: ErrorSource | None) -> ErrorCause | None:
    names = list(names)
    for name in names:
        cause = _BY_NAME.get(name)
        if cause is ErrorCause.OUTPUT_PARSE and source is ErrorSource.TOOL:
            # Inside a tool: arguments from the model that do not validate, or a tool response that does not decode.
            return ErrorCause.INVALID_TOOL_ARGUMENTS if name == "ValidationError" else ErrorCause.SERVER_ERROR
        if cause is ErrorCause.OUTPUT_PARSE and source is ErrorSource.LLM and name != "OutputParserException":
            return ErrorCause.SERVER_ERROR  # a provider response the client could not decode
        if cause is not None:
            return cause
    for name in names:
        for part, cause in _BY_NAME_PART:
            if part in name:
                return cause
    return None


def _status_of(exc: BaseException) -> int | None:
    for holder in (exc, getattr(exc, "response", None)):
        status = getattr(holder, "status_code", None)
        if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
            return status
    return None


def _chain(exc: BaseException, depth: int = 4) -> list[BaseException]:
    """The exception and those it was raised from (explicitly, or implicitly unless suppressed)."""
    chain = [exc]
    while len(chain) < depth:
        current = chain[-1]
        following = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
        if following is None or any(following is seen for seen in chain):
            break
        chain.append(following)
    return chain


def classify(exc: BaseException, source: ErrorSource | None = None) -> Classified:
    """The class and cause of an exception. Never raises."""
    error_type = type(exc).__qualname__
    try:
        if error_type == "BudgetExhausted":
            limit = getattr(exc, "limit", "")
            return Classified(error_type, ErrorCause.STEP_LIMIT if limit in ("llm_calls", "tool_calls")
                              else ErrorCause.BUDGET_LIMIT)
        for link in _chain(exc):
            cause = _by_names((k.__name__ for k in type(link).__mro__), source)
            if cause in _MESSAGE_REFINED:
                message = str(link).lower()
                cause = next((c for text, c in _BY_MESSAGE if text in message), cause)
            if cause is None:
                status = _status_of(link)
                cause = by_status(status) if status is not None else None
            if cause is not None:
                return Classified(error_type, cause)
        return Classified(error_type, ErrorCause.OTHER)
    except Exception:  # deliberate: classification must never break the caller's error path
        _logger.debug("agentvitals: could not classify an error", exc_info=True)
        return Classified(error_type, ErrorCause.OTHER)


def classify_type(error_type: str, status_code: int | None = None, source: ErrorSource | None = None) -> Classified:
    """The class and cause from what a span records: an ``error.type`` (a class name, possibly dotted) and an HTTP
    status code. Used for spans of other instrumentations and for traces read back from storage."""
    name = error_type.rsplit(".", 1)[-1]
    cause = _by_names((name,), source)
    if cause is None and status_code is not None:
        cause = by_status(status_code)
    if cause is None and name.isdigit():  # HTTP instrumentations set error.type to the status code
        cause = by_status(int(name))
    return Classified(error_type, cause or ErrorCause.OTHER)


def counts(error_type: str, *, countable: bool, nest_like: bool, counted_below: set[str] | None
           ) -> tuple[bool, bool]:
    """For a failed span: whether its error is counted here, and whether its type passes up to its parent as
    already counted.

    ``counted_below`` holds the error types counted in (or passed up from) its descendants. A span failing with a
    type counted below it is that error propagating: not counted again. An LLM or tool span (``nest_like``) with
    any error counted below it is one call whose inner span (another instrumentation's, or ours) already counted
    its failure. Only LLM, tool and task spans are ``countable``; others only pass a propagating error up."""
    propagated = bool(counted_below) and (nest_like or error_type in counted_below)  # type: ignore[operator]
    counted = countable and not propagated
    return counted, counted or propagated


def cognitive_error(kind: str, detail: str | None = None) -> None:
    """Report a cognitive error only the application can see: the model asked for a tool that does not exist,
    its output did not parse, the agent repeats itself, ...; the agent handled it (nothing was raised).

    ``kind`` is a cognitive cause (``tool_not_found``, ``invalid_tool_arguments``, ``output_parse``,
    ``output_truncated``, ``loop_detected``, ``step_limit``, ``budget_limit``, ``refusal``, ``guardrail``,
    ``context_overflow``, ``model_behavior``); anything else is counted as ``other_cognitive`` with a warning.
    ``detail`` is recorded only when content capture is on. Adds an event to the current span, counts the error
    (``agentvitals.errors``, source ``application``) and, inside a task, in the task's errors. Never raises.
    """
    try:
        _report(kind, detail)
    except Exception:  # deliberate: reporting must never break the agent
        _logger.debug("agentvitals: could not record a cognitive error", exc_info=True)


_warned_kinds: set[str] = set()


def _report(kind: str, detail: str | None) -> None:
    from agentvitals._handler import current
    from agentvitals._taskrun import current_task

    try:
        cause = ErrorCause(kind)
    except ValueError:
        cause = ErrorCause.OTHER_COGNITIVE
    if cause not in COGNITIVE_CAUSES:
        cause = ErrorCause.OTHER_COGNITIVE
    if cause is ErrorCause.OTHER_COGNITIVE and kind != cause.value and len(_warned_kinds) < 64 \
            and kind not in _warned_kinds:
        _warned_kinds.add(str(kind))
        _logger.warning("agentvitals.cognitive_error: unknown kind %r counted as %s (known: %s)", kind, cause.value,
                        ", ".join(sorted(c.value for c in COGNITIVE_CAUSES)))
    handler = current()
    attributes: dict[str, Any] = {ERROR_CLASS: ErrorClass.COGNITIVE.value, ERROR_CAUSE: cause.value}
    span = trace.get_current_span()
    if span.is_recording():
        event = dict(attributes)
        if detail is not None and handler.content.capture:
            event[ERROR_DETAIL] = handler.content.clip(str(detail))
        span.add_event(COGNITIVE_ERROR_EVENT, event)
    handler.instruments.errors.add(1, {**attributes, ERROR_SOURCE: ErrorSource.APPLICATION.value})
    run = current_task()
    for enclosing in run.lineage() if run is not None else ():
        spans = getattr(enclosing, "spans", None)
        if spans is not None:
            spans.add_reported(cause)
