"""The wrapper every tool and retrieval method of a library gets; a library only supplies an endpoint.

* :class:`RetrievalEndpoint` (vector stores, framework retrievers): a ``retrieval {source}`` CLIENT
  span with the data source, requested top-k and result count, timed into
  ``agentvitals.retrieval.duration`` by operation (``query`` or ``add``).
* :class:`ToolEndpoint` (framework tools, MCP tool calls): an ``execute_tool {name}`` span, counted
  against the task's tool budget and timed into ``agentvitals.tool.duration``.

Query text and tool arguments are recorded only when content capture is on. When one library's
tool call goes through another instrumented layer of the same library (MCP's ``Client.call_tool``
over ``ClientSession.call_tool``), only the outermost makes a span.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from agentvitals import names
from agentvitals._invocation import Invocation, start_operation
from agentvitals._tasks import BudgetExhausted
from agentvitals._telemetry import Telemetry

_logger = logging.getLogger("agentvitals")
_OUTERMOST = otel_context.create_key("agentvitals-outermost-operation")

__all__ = ["RetrievalEndpoint", "ToolEndpoint", "async_operation_wrapper", "sync_operation_wrapper"]


@dataclass(frozen=True)
class RetrievalEndpoint:
    system: str
    """``db.system.name`` of the store, e.g. ``chroma`` or ``qdrant``."""
    operation: str
    """``query`` or ``add``."""
    source: Callable[[Any, tuple[Any, ...], Mapping[str, Any]], str | None]
    """(instance, args, kwargs) -> the collection searched or written."""
    top_k: Callable[[tuple[Any, ...], Mapping[str, Any]], int | None] = lambda args, kwargs: None
    results: Callable[[Any], int | None] = lambda result: None
    query_text: Callable[[tuple[Any, ...], Mapping[str, Any]], str | None] = lambda args, kwargs: None


@dataclass(frozen=True)
class ToolEndpoint:
    name: Callable[[Any, tuple[Any, ...], Mapping[str, Any]], str | None]
    """(instance, args, kwargs) -> the tool's name."""
    tool_type: str = "function"
    """``function`` (code in this process) or ``extension`` (run elsewhere, e.g. an MCP server)."""
    arguments: Callable[[tuple[Any, ...], Mapping[str, Any]], Any] = lambda args, kwargs: None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    only_outermost: str | None = None
    """A key: nested calls carrying the same key make no span of their own."""


def _start(telemetry: Telemetry, endpoint: RetrievalEndpoint | ToolEndpoint, instance: Any, args: tuple[Any, ...],
           kwargs: Mapping[str, Any]) -> Invocation | None:
    if isinstance(endpoint, ToolEndpoint):
        return _start_tool(telemetry, endpoint, instance, args, kwargs)
    try:
        attributes: dict[str, Any] = {"db.system.name": endpoint.system}
        top_k = endpoint.top_k(args, kwargs)
        if isinstance(top_k, int) and not isinstance(top_k, bool):
            attributes[names.RETRIEVAL_TOP_K] = top_k
        if telemetry.capture_content and (text := endpoint.query_text(args, kwargs)):
            attributes[names.GEN_AI_RETRIEVAL_QUERY_TEXT] = telemetry.clip(text)
        return start_operation(
            telemetry, operation=names.Operation.RETRIEVAL.value,
            target=endpoint.source(instance, args, kwargs) or endpoint.system,
            target_attribute=names.GEN_AI_DATA_SOURCE_ID, step=None, duration=telemetry.retrieval_duration,
            attributes=attributes, kind=SpanKind.CLIENT, labels={names.RETRIEVAL_OPERATION: endpoint.operation},
        )
    except Exception:  # deliberate: never break the user's call
        _logger.debug("agentvitals: could not start %s span", endpoint.system, exc_info=True)
        return None


def _start_tool(telemetry: Telemetry, endpoint: ToolEndpoint, instance: Any, args: tuple[Any, ...],
                kwargs: Mapping[str, Any]) -> Invocation | None:
    try:
        attributes: dict[str, Any] = {names.GEN_AI_TOOL_TYPE: endpoint.tool_type, **endpoint.attributes}
        if telemetry.capture_content and (arguments := endpoint.arguments(args, kwargs)) is not None:
            attributes[names.GEN_AI_TOOL_CALL_ARGUMENTS] = telemetry.clip(str(arguments))
        name = endpoint.name(instance, args, kwargs) or "tool"
    except Exception:  # deliberate: never break the user's call
        _logger.debug("agentvitals: could not describe a tool call", exc_info=True)
        return None
    try:
        return start_operation(
            telemetry, operation=names.Operation.EXECUTE_TOOL.value, target=name,
            target_attribute=names.GEN_AI_TOOL_NAME, step="tool", duration=telemetry.tool_duration,
            attributes=attributes,
        )
    except BudgetExhausted:
        raise  # the user set a budget: the task ends here, by design
    except Exception:
        _logger.debug("agentvitals: could not start a tool span", exc_info=True)
        return None


def _outermost_key(endpoint: RetrievalEndpoint | ToolEndpoint) -> str | None:
    return endpoint.only_outermost if isinstance(endpoint, ToolEndpoint) else None


def _nested(endpoint: RetrievalEndpoint | ToolEndpoint) -> bool:
    key = _outermost_key(endpoint)
    return key is not None and otel_context.get_value(_OUTERMOST) == key


def _attach(invocation: Invocation, endpoint: RetrievalEndpoint | ToolEndpoint) -> object:
    """Make the span current (and mark the call for ``only_outermost``) while the call runs."""
    ctx = trace.set_span_in_context(invocation.span)
    if (key := _outermost_key(endpoint)) is not None:
        ctx = otel_context.set_value(_OUTERMOST, key, ctx)
    return otel_context.attach(ctx)


def _finish(invocation: Invocation, endpoint: RetrievalEndpoint | ToolEndpoint, result: Any) -> None:
    if isinstance(endpoint, ToolEndpoint):
        invocation.stop()
        return
    try:
        count = endpoint.results(result)
        if isinstance(count, int):
            invocation.span.set_attribute(names.RETRIEVAL_RESULT_COUNT, count)
    except Exception:
        _logger.debug("agentvitals: could not read %s result", endpoint.system, exc_info=True)
    invocation.stop()


def sync_operation_wrapper(endpoint: RetrievalEndpoint | ToolEndpoint) -> Callable[[Telemetry], Callable[..., Any]]:
    def factory(telemetry: Telemetry) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if _nested(endpoint):
                return wrapped(*args, **kwargs)
            invocation = _start(telemetry, endpoint, instance, args, kwargs)
            if invocation is None:
                return wrapped(*args, **kwargs)
            token = _attach(invocation, endpoint)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                otel_context.detach(token)  # type: ignore[arg-type]
                invocation.fail(exc)
                raise
            otel_context.detach(token)  # type: ignore[arg-type]
            _finish(invocation, endpoint, result)
            return result

        return wrapper

    return factory


def async_operation_wrapper(endpoint: RetrievalEndpoint | ToolEndpoint) -> Callable[[Telemetry], Callable[..., Any]]:
    def factory(telemetry: Telemetry) -> Callable[..., Any]:
        async def wrapper(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            if _nested(endpoint):
                return await wrapped(*args, **kwargs)
            invocation = _start(telemetry, endpoint, instance, args, kwargs)
            if invocation is None:
                return await wrapped(*args, **kwargs)
            token = _attach(invocation, endpoint)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                otel_context.detach(token)  # type: ignore[arg-type]
                invocation.fail(exc)
                raise
            otel_context.detach(token)  # type: ignore[arg-type]
            _finish(invocation, endpoint, result)
            return result

        return wrapper

    return factory
