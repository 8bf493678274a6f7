"""openai-agents: a tracing processor of ours (``agents.add_trace_processor``) makes its runs tasks and its tool calls
``execute_tool`` spans.

openai-agents traces every run itself: a trace per ``Runner.run``/``run_sync``/``run_streamed``, an agent span
per agent that takes a turn (a handoff starts the next one), a function span per tool call, generation/response
spans per model call. Its processors are called synchronously as those spans start and end, in the task that runs
them, so:

* the first agent span of a trace, when no ``agentvitals.task`` encloses the run, starts a task of its own
  (``invoke_agent {first agent}``), which ends with the trace; each agent span makes that task current while it
  is open, so the model calls (the openai SDK's, instrumented: one LLM span each, priced) and the tool calls
  belong to it;
* each function span is an ``execute_tool {name}`` span, current while the tool runs (its own calls nest under
  it; parallel tool calls each run in their own asyncio task). It counts against the task's tool budget, but a
  processor cannot refuse a call: over budget, the task is marked exhausted and its next model call raises
  ``BudgetExhausted``;
* generation and response spans are left alone: the SDK instrumentation makes the one LLM span per call.

openai-agents also exports its traces **to OpenAI** by default (its ``BatchTraceProcessor``, whenever
``OPENAI_API_KEY`` is set). We never enable, configure or disable that: adding our processor leaves its list
as it was. To keep traces local while agentvitals still sees the runs, replace its processors before ``init()``
(``agents.set_trace_processors([])``, then ``agentvitals.init()`` adds ours); ``OPENAI_AGENTS_DISABLE_TRACING``
or ``set_tracing_disabled(True)`` switch its tracing off altogether, and with it what we see of the runs.

openai-agents has no public way to remove one processor: uninstrumenting leaves ours registered but inert, and
instrumenting again reuses it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from agentvitals._handler import Handler
from agentvitals._lifecycle import Invocation, start_tool
from agentvitals._records import non_empty_str
from agentvitals._taskrun import current_task
from agentvitals.attributes import Outcome
from agentvitals.instrumentation._agents import AgentRun, ReportedError, detach_if_current
from agentvitals.instrumentation._base import handler_for
from agentvitals.instrumentation._operations import in_tool_call

_logger = logging.getLogger("agentvitals")

__all__ = ["OpenAIAgentsInstrumentor"]


class _Open:
    """What a span start did: the context it attached (and its token), the tool span it started."""

    __slots__ = ("token", "context", "tool")

    def __init__(self, token: object, context: otel_context.Context, tool: Invocation | None) -> None:
        self.token = token
        self.context = context
        self.tool = tool


def _error(span: Any) -> ReportedError | None:
    error = getattr(span, "error", None)
    if not error:
        return None
    message = error.get("message") if isinstance(error, dict) else None
    return ReportedError(message if isinstance(message, str) else "error")


class _Processor:
    """The ``TracingProcessor`` (see :func:`_processor_class`). Never raises; inert once ``handler`` is ``None``."""

    def __init__(self) -> None:
        self.handler: Handler | None = None
        self._runs: dict[str, AgentRun] = {}
        """trace id -> the task its run became."""
        self._open: dict[str, _Open] = {}
        """span id -> what its start attached."""
        self._lock = threading.Lock()

    # Traces: a run's task ends with its trace.
    def on_trace_start(self, trace: Any) -> None:
        pass

    def on_trace_end(self, trace: Any) -> None:
        with self._lock:
            run = self._runs.pop(getattr(trace, "trace_id", ""), None)
        if run is not None:
            run.end(None)

    def on_span_start(self, span: Any) -> None:
        handler = self.handler
        if handler is None:
            return
        try:
            from agents.tracing import AgentSpanData, FunctionSpanData

            data = span.span_data
            if isinstance(data, AgentSpanData):
                self._agent_started(handler, span, data)
            elif isinstance(data, FunctionSpanData):
                tool = start_tool(handler, non_empty_str(data.name) or "tool", enforce_budget=False)
                self._attach(span, in_tool_call(tool.context()), tool)
        except Exception:  # deliberate: openai-agents logs a processor's errors; we keep ours quiet
            _logger.debug("agentvitals: could not follow an openai-agents span", exc_info=True)

    def _agent_started(self, handler: Handler, span: Any, data: Any) -> None:
        trace_id = span.trace_id
        with self._lock:
            run = self._runs.get(trace_id)
        if run is None:
            if current_task() is not None:  # the application's task encloses the run
                return
            run = AgentRun(handler, non_empty_str(data.name))
            context = run.begin(on_this_thread=False)
            if run.invocation is None:
                return
            with self._lock:
                self._runs[trace_id] = run
        else:
            context = run.context_in(otel_context.get_current())
        self._attach(span, context, None)

    def _attach(self, span: Any, context: otel_context.Context, tool: Invocation | None) -> None:
        token = otel_context.attach(context)
        with self._lock:
            self._open[span.span_id] = _Open(token, context, tool)

    def on_span_end(self, span: Any) -> None:
        with self._lock:
            entry = self._open.pop(getattr(span, "span_id", ""), None)
        if entry is None:
            return
        try:
            detach_if_current(entry.token, entry.context)
            error = _error(span)
            if entry.tool is not None:
                entry.tool.end(error)
            elif error is not None:
                with self._lock:
                    run = self._runs.get(span.trace_id)
                if run is not None and run.invocation is not None:
                    run.invocation.outcome = Outcome.ERROR
        except Exception:
            _logger.debug("agentvitals: could not end an openai-agents span", exc_info=True)

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


_processor: Any = None


def _shared_processor() -> Any:
    """Our one processor, registered once per process (there is no public way to unregister it)."""
    global _processor
    if _processor is None:
        from agents import add_trace_processor
        from agents.tracing import TracingProcessor

        class AgentvitalsTracingProcessor(_Processor, TracingProcessor):
            pass

        _processor = AgentvitalsTracingProcessor()
        add_trace_processor(_processor)
    return _processor


class OpenAIAgentsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    instruments = ("openai-agents >= 0.2",)

    def instrumentation_dependencies(self) -> Collection[str]:
        return self.instruments

    def _instrument(self, **kwargs: Any) -> None:
        _shared_processor().handler = handler_for(kwargs)

    def _uninstrument(self, **kwargs: Any) -> None:
        if _processor is not None:
            _processor.handler = None
