"""The manual API for what no library call reveals: tools, retrievals, LLM calls from clients we do
not instrument, and application cache look-ups. ``tool``, ``retrieval`` and ``llm_call`` are scopes
(context managers; ``tool`` and ``retrieval`` also decorators for sync, async and generator functions),
each one :class:`~agentvitals._lifecycle.Invocation` per use."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace

from agentvitals._handler import Handler, current
from agentvitals._lifecycle import Invocation, LLMInvocation, start_llm, start_retrieval, start_tool
from agentvitals._records import LLMResponse, Usage, non_negative_int
from agentvitals._records import finish_reasons as bounded_finish_reasons
from agentvitals._scope import Scope, decorate
from agentvitals.attributes import CACHE_NAME, CACHE_RESULT, RETRIEVAL_RESULT_COUNT
from agentvitals.semconv import GEN_AI_TOOL_CALL_RESULT, Operation

_logger = logging.getLogger("agentvitals")

__all__ = ["llm_call", "record_cache_lookup", "retrieval", "tool"]

F = TypeVar("F", bound=Callable[..., Any])


class _Operation(Scope):
    """A scope that starts one :class:`Invocation` per use and ends it with the body's exception, if any."""

    _invocation: Invocation | None = None
    _handler: Handler | None = None

    def _start(self, handler: Handler) -> Invocation:  # pragma: no cover - abstract
        raise NotImplementedError

    def _begin(self, *, is_async: bool) -> otel_context.Context:
        self._invocation = self._start(self._handler or current())  # BudgetExhausted propagates, by design
        return self._invocation.context()

    def _end(self, exc: BaseException | None) -> bool:
        if self._invocation is not None:
            self._invocation.end(exc)
        return False

    @property
    def span(self) -> trace.Span:
        return self._invocation.span if self._invocation is not None else trace.INVALID_SPAN


class tool(_Operation):  # noqa: N801 - a decorator and context manager
    """A tool execution: span ``execute_tool {name}``, counted against the task's tool budget.

    Args:
        name: Tool name (low-cardinality: a metric label). Defaults to the decorated function's name.
        tool_type: ``function``, ``extension`` or ``datastore``.
        call_id: The model's tool-call id, if any (span attribute only).
        arguments: Recorded only when content capture is on.
    """

    def __init__(self, name: str | None = None, *, tool_type: str = "function", call_id: str | None = None,
                 arguments: Any = None, handler: Handler | None = None) -> None:
        if callable(name):
            raise TypeError("use @agentvitals.tool() or @agentvitals.tool('name'), with parentheses")
        self._name = name
        self._tool_type = tool_type
        self._call_id = call_id
        self._arguments = arguments
        self._handler = handler

    def __call__(self, func: F) -> F:
        name = self._name or func.__name__
        return decorate(lambda: tool(name, tool_type=self._tool_type, handler=self._handler), func)

    def _start(self, handler: Handler) -> Invocation:
        return start_tool(handler, self._name or "tool", tool_type=self._tool_type, call_id=self._call_id,
                          arguments=self._arguments)

    def set_result(self, result: Any) -> None:
        """Record the tool's result (only when content capture is on)."""
        invocation = self._invocation
        if invocation is not None and invocation.handler.content.capture:
            invocation.span.set_attribute(GEN_AI_TOOL_CALL_RESULT, invocation.handler.content.clip(str(result)))


class retrieval(_Operation):  # noqa: N801 - a decorator and context manager
    """A retrieval from a data source (vector store, search index): span ``retrieval {source}``.

    Args:
        source: Data source id (low-cardinality: a metric label).
        top_k: Requested number of results.
        query: Recorded only when content capture is on.
    """

    def __init__(self, source: str | None = None, *, top_k: int | None = None, query: str | None = None,
                 handler: Handler | None = None) -> None:
        if callable(source):
            raise TypeError("use @agentvitals.retrieval() or @agentvitals.retrieval('source'), with parentheses")
        self._source = source
        self._top_k = top_k
        self._query = query
        self._handler = handler

    def __call__(self, func: F) -> F:
        source = self._source or func.__name__
        return decorate(lambda: retrieval(source, top_k=self._top_k, handler=self._handler), func)

    def _start(self, handler: Handler) -> Invocation:
        return start_retrieval(handler, self._source or "retrieval", top_k=self._top_k, query=self._query)

    def set_results(self, count: int) -> None:
        """Record how many results the retrieval returned."""
        if self._invocation is not None and non_negative_int(count) is not None:
            self._invocation.span.set_attribute(RETRIEVAL_RESULT_COUNT, count)


class llm_call(_Operation):  # noqa: N801 - a context manager
    """Record an LLM call made through a client agentvitals does not instrument: tokens in, cost out.

    ``with agentvitals.llm_call("my-provider", "my-model") as call: ...; call.record(input_tokens=..)``.
    Token counts follow the inclusive convention (input includes cached tokens). After the block,
    ``call.cost_usd`` is the computed cost, or ``None`` when the model is unpriced.
    """

    _invocation: LLMInvocation | None

    def __init__(self, provider: str, model: str, *, operation: str = Operation.CHAT.value,
                 handler: Handler | None = None) -> None:
        self._provider = provider
        self._model = model
        self._operation = operation
        self._handler = handler
        self._invocation = None
        self.cost_usd: float | None = None

    def _start(self, handler: Handler) -> LLMInvocation:
        return start_llm(handler, provider=self._provider, operation=self._operation, model=self._model)

    def record(self, *, input_tokens: int | None = None, output_tokens: int | None = None,
               cache_read_tokens: int | None = None, cache_write_tokens: int | None = None,
               reasoning_tokens: int | None = None, response_model: str | None = None,
               finish_reasons: Sequence[str] = (), cost_usd: float | None = None) -> None:
        """What the provider reported. Omit what it did not report: it stays absent, never 0."""
        if self._invocation is None:
            return
        usage = Usage.of(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cache_read_tokens,
                         cache_write_tokens=cache_write_tokens, reasoning_tokens=reasoning_tokens)
        response = LLMResponse(model=response_model, finish_reasons=bounded_finish_reasons(finish_reasons),
                               usage=usage if usage != Usage() else None)
        response.set_provider_cost(cost_usd)
        self._invocation.response = response

    def first_chunk(self) -> None:
        """Call when the first streamed chunk arrives (records time to first chunk)."""
        if self._invocation is not None:
            self._invocation.first_chunk()

    def _end(self, exc: BaseException | None) -> bool:
        swallowed = super()._end(exc)
        if self._invocation is not None:
            self.cost_usd = self._invocation.cost_usd
        return swallowed


def record_cache_lookup(cache: str, hit: bool, *, saved_usd: float | None = None,
                        handler: Handler | None = None) -> None:
    """Count one application cache look-up (``cache`` is a low-cardinality name, e.g. ``semantic``).

    ``saved_usd``: on a hit, what producing the cached value cost (added to the estimated savings)."""
    try:
        instruments = (handler or current()).instruments
        instruments.cache_requests.add(1, {CACHE_NAME: cache, CACHE_RESULT: "hit" if hit else "miss"})
        if hit and saved_usd:
            instruments.cache_saved.add(saved_usd, {CACHE_NAME: cache})
    except Exception:  # deliberate: counting must never break a cache look-up
        _logger.debug("agentvitals: could not record cache look-up", exc_info=True)
