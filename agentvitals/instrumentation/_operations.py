"""The wrapper every tool and retrieval method of a library gets; a library only supplies an endpoint.

* :class:`RetrievalEndpoint` (vector stores, framework retrievers): a ``retrieval {source}`` CLIENT
  span with the data source, requested top-k and result count, timed into
  ``agentvitals.retrieval.duration`` by operation (``query`` or ``add``).
* :class:`ToolEndpoint` (framework tools, MCP tool calls): an ``execute_tool {name}`` span, counted
  against the task's tool budget and timed into ``agentvitals.tool.duration``.

Query text and tool arguments are recorded only when content capture is on. When one library's
tool call goes through another instrumented layer of the same library (MCP's ``Client.call_tool``
over ``ClientSession.call_tool``), only the outermost makes a span; and an MCP tool call made inside
another tool's span (a framework's MCP tool, or a tool whose body calls an MCP server) is that tool's
call, not a second one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, ClassVar

from opentelemetry import context as otel_context

from agentvitals._handler import Handler
from agentvitals._lifecycle import Invocation, start_retrieval, start_tool
from agentvitals._taskrun import BudgetExhausted
from agentvitals.attributes import RETRIEVAL_RESULT_COUNT
from agentvitals.semconv import DB_SYSTEM_NAME

_logger = logging.getLogger("agentvitals")
_OUTERMOST = otel_context.create_key("agentvitals-outermost-operation")
_IN_TOOL = otel_context.create_key("agentvitals-in-tool-call")

__all__ = ["RetrievalEndpoint", "ToolEndpoint", "async_operation_wrapper", "in_tool_call", "sync_operation_wrapper"]


def in_tool_call(context: otel_context.Context) -> otel_context.Context:
    """``context`` marked as inside a tool call's span (every tool span makes it current so): a tool endpoint
    with ``part_of_outer_tool`` makes no span of its own there."""
    return otel_context.set_value(_IN_TOOL, True, context)


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
    only_outermost: ClassVar[str | None] = None

    def start(self, handler: Handler, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
              ) -> Invocation:
        top_k = self.top_k(args, kwargs)
        return start_retrieval(
            handler, self.source(instance, args, kwargs) or self.system, operation=self.operation,
            top_k=top_k if isinstance(top_k, int) and not isinstance(top_k, bool) else None,
            query=self.query_text(args, kwargs) or None, attributes={DB_SYSTEM_NAME: self.system},
        )

    def finish(self, invocation: Invocation, result: Any) -> None:
        try:
            count = self.results(result)
            if isinstance(count, int):
                invocation.span.set_attribute(RETRIEVAL_RESULT_COUNT, count)
        except Exception:
            _logger.debug("agentvitals: could not read %s result", self.system, exc_info=True)
        invocation.stop()


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
    part_of_outer_tool: bool = False
    """Inside another tool's span, this call is part of that tool call (a protocol layer such as MCP's)."""

    def start(self, handler: Handler, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
              ) -> Invocation:
        return start_tool(handler, self.name(instance, args, kwargs) or "tool", tool_type=self.tool_type,
                          arguments=self.arguments(args, kwargs), attributes=self.attributes)

    def finish(self, invocation: Invocation, result: Any) -> None:
        invocation.stop()


Endpoint = RetrievalEndpoint | ToolEndpoint


def _start(handler: Handler, endpoint: Endpoint, instance: Any, args: tuple[Any, ...],
           kwargs: Mapping[str, Any]) -> Invocation | None:
    try:
        return endpoint.start(handler, instance, args, kwargs)
    except BudgetExhausted:
        raise  # the user set a budget: the task ends here, by design
    except Exception:  # deliberate: never break the user's call
        _logger.debug("agentvitals: could not start a span for %s", endpoint, exc_info=True)
        return None


def _nested(endpoint: Endpoint) -> bool:
    if isinstance(endpoint, ToolEndpoint) and endpoint.part_of_outer_tool and otel_context.get_value(_IN_TOOL):
        return True
    key = endpoint.only_outermost
    return key is not None and otel_context.get_value(_OUTERMOST) == key


@contextmanager
def _marked(key: str | None, tool: bool) -> Iterator[None]:
    """While the call runs, nested calls with the same ``only_outermost`` key, and (inside a tool call) calls
    that are part of it, stand aside."""
    context = otel_context.get_current()
    if key is not None:
        context = otel_context.set_value(_OUTERMOST, key, context)
    if tool:
        context = in_tool_call(context)
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)


def _marker(endpoint: Endpoint) -> AbstractContextManager[None]:
    tool = isinstance(endpoint, ToolEndpoint)
    return _marked(endpoint.only_outermost, tool) if endpoint.only_outermost is not None or tool else nullcontext()


def sync_operation_wrapper(endpoint: Endpoint) -> Callable[[Handler], Callable[..., Any]]:
    def factory(handler: Handler) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            invocation = None if _nested(endpoint) else _start(handler, endpoint, instance, args, kwargs)
            if invocation is None:
                return wrapped(*args, **kwargs)
            with invocation, _marker(endpoint):
                result = wrapped(*args, **kwargs)
            endpoint.finish(invocation, result)
            return result

        return wrapper

    return factory


def async_operation_wrapper(endpoint: Endpoint) -> Callable[[Handler], Callable[..., Any]]:
    def factory(handler: Handler) -> Callable[..., Any]:
        async def wrapper(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            invocation = None if _nested(endpoint) else _start(handler, endpoint, instance, args, kwargs)
            if invocation is None:
                return await wrapped(*args, **kwargs)
            with invocation, _marker(endpoint):
                result = await wrapped(*args, **kwargs)
            endpoint.finish(invocation, result)
            return result

        return wrapper

    return factory
