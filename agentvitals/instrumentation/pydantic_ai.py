"""pydantic-ai: its own instrumentation, switched on by ``Agent.instrument_all``, with agentvitals tasks and tools.

pydantic-ai's instrumentation (the ``Instrumentation`` capability every agent gets from
``Agent.instrument_all(InstrumentationSettings(...))``) opens, through the tracer its settings carry:

* ``invoke_agent {agent}`` around each run,
* ``chat {model}`` (CLIENT) around each model request, *around* the provider SDK call, so the SDK's
  instrumentation (our ``chat {model}`` span, priced, and its HTTP span) nests under it,
* ``execute_tool {tool}`` around each tool call (parallel calls included: pydantic-ai runs them as asyncio
  tasks, each with its span current).

We switch it on with a tracer of our own in its settings: the tool span it asks for is started as our
``execute_tool`` span (counted against the task's tool budget, before the tool runs; the tool's own calls nest
under it) and, when no ``agentvitals.task`` encloses the run, the agent span it asks for is started as a task
of its own. Every other span (``chat``) is pydantic-ai's own, from its own tracer (scope ``pydantic-ai``) on the
same provider. Its content capture follows ours (``include_content``), and its metrics go nowhere
(``gen_ai.client.token.usage`` would otherwise be recorded twice, by it and by the SDK instrumentation).

So each model request produces two CLIENT ``chat`` spans carrying ``gen_ai.usage.*``: pydantic-ai's
(outer, no cost attribute) and ours (inner, priced, the one the task counts). The task's tokens, cost and LLM
calls come from ours only; the outer span is the one the accounting records as the ``llm`` wait.

An application that calls ``Agent.instrument_all(...)`` (or passes ``instrument=`` to an agent) after
``init()`` replaces ours: its spans are then pydantic-ai's alone.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import Link, SpanKind

from agentvitals._handler import Handler
from agentvitals._lifecycle import Invocation, start_tool
from agentvitals._records import non_empty_str
from agentvitals._taskrun import BudgetExhausted, current_task
from agentvitals.instrumentation._agents import AgentRun
from agentvitals.instrumentation._base import handler_for
from agentvitals.instrumentation._operations import in_tool_call
from agentvitals.semconv import (
    GEN_AI_AGENT_NAME,
    GEN_AI_OPERATION_NAME,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_NAME,
    Operation,
)

_logger = logging.getLogger("agentvitals")

__all__ = ["PydanticAIInstrumentor"]

Attributes = Mapping[str, Any]


def _start_tool(handler: Handler, attributes: Attributes) -> Invocation | None:
    try:
        return start_tool(handler, non_empty_str(attributes.get(GEN_AI_TOOL_NAME)) or "tool",
                          call_id=non_empty_str(attributes.get(GEN_AI_TOOL_CALL_ID)), attributes=attributes)
    except BudgetExhausted:
        raise  # the task's budget: the tool does not run
    except Exception:
        _logger.debug("agentvitals: could not start a pydantic-ai tool span", exc_info=True)
        return None


class _Tracer(trace.Tracer):
    """pydantic-ai's tracer: its tool spans and (outside a task) its agent spans are ours; the rest is its own."""

    def __init__(self, handler: Handler, own: trace.Tracer) -> None:
        self._handler = handler
        self._own = own

    def start_span(self, name: str, context: otel_context.Context | None = None, kind: SpanKind = SpanKind.INTERNAL,
                   attributes: Attributes | None = None, links: Sequence[Link] | None = None,
                   start_time: int | None = None, record_exception: bool = True,
                   set_status_on_exception: bool = True) -> trace.Span:
        # Spans pydantic-ai ends itself (durable replay): its own.
        return self._own.start_span(name, context, kind, attributes, links, start_time, record_exception,
                                    set_status_on_exception)

    @contextmanager
    def start_as_current_span(self, name: str, context: otel_context.Context | None = None,  # type: ignore[override]
                              kind: SpanKind = SpanKind.INTERNAL, attributes: Attributes | None = None,
                              links: Sequence[Link] | None = None, start_time: int | None = None,
                              record_exception: bool = True, set_status_on_exception: bool = True,
                              end_on_exit: bool = True) -> Iterator[trace.Span]:
        operation = (attributes or {}).get(GEN_AI_OPERATION_NAME)
        if attributes and context is None and end_on_exit:
            if operation == Operation.EXECUTE_TOOL.value:
                invocation = _start_tool(self._handler, attributes)
                if invocation is not None:
                    token = otel_context.attach(in_tool_call(invocation.context()))  # current while the tool runs
                    try:
                        yield invocation.span
                    except BaseException as exc:
                        otel_context.detach(token)
                        invocation.end(exc)
                        raise
                    otel_context.detach(token)
                    invocation.stop()
                    return
            elif operation == Operation.INVOKE_AGENT.value and current_task() is None:
                run = AgentRun(self._handler, non_empty_str(attributes.get(GEN_AI_AGENT_NAME)), attributes)
                with run:
                    if run.invocation is not None:
                        yield run.invocation.span
                        return
        with self._own.start_as_current_span(name, context, kind, attributes, links, start_time, record_exception,
                                             set_status_on_exception, end_on_exit) as span:
            yield span


class _TracerProvider(trace.TracerProvider):
    def __init__(self, handler: Handler, provider: trace.TracerProvider) -> None:
        self._handler = handler
        self._provider = provider

    def get_tracer(self, instrumenting_module_name: str, instrumenting_library_version: str | None = None,
                   schema_url: str | None = None, attributes: Attributes | None = None) -> trace.Tracer:
        own = self._provider.get_tracer(instrumenting_module_name, instrumenting_library_version, schema_url,
                                        attributes)
        return _Tracer(self._handler, own)


class PydanticAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """``Agent.instrument_all`` with agentvitals' tracer; uninstrumenting switches pydantic-ai's instrumentation off."""

    instruments = ("pydantic-ai-slim >= 1.0",)

    def instrumentation_dependencies(self) -> Collection[str]:
        return self.instruments

    def _instrument(self, **kwargs: Any) -> None:
        from pydantic_ai import Agent
        from pydantic_ai.models.instrumented import InstrumentationSettings

        handler = handler_for(kwargs)
        provider = kwargs.get("tracer_provider") or trace.get_tracer_provider()
        settings = InstrumentationSettings(tracer_provider=_TracerProvider(handler, provider),
                                           meter_provider=NoOpMeterProvider(),
                                           include_content=handler.content.capture,
                                           include_binary_content=handler.content.capture)
        Agent.instrument_all(settings)

    def _uninstrument(self, **kwargs: Any) -> None:
        from pydantic_ai import Agent

        Agent.instrument_all(False)
