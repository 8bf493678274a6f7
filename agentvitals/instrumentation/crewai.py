"""CrewAI: tool calls through its global tool-call hooks, crew and agent kickoffs as agent runs.

CrewAI runs every tool call, native function calling and ReAct alike, between its global ``before_tool_call``
and ``after_tool_call`` hooks (``crewai.hooks``), synchronously, in the thread or task that runs the tool. Our
before hook starts an ``execute_tool {name}`` span, current while the tool runs (its own calls nest under it),
counted against the task's tool budget: over budget, the hook blocks the call (CrewAI tells the model the call
was blocked) and the task's next model call ends it. The after hook ends the span.

``Crew.kickoff``/``akickoff`` and a standalone ``Agent.kickoff``/``kickoff_async``/``akickoff`` are agent runs:
a task of their own (named after the crew, or the agent's role) when no task encloses them. A streaming crew's
``kickoff`` returns before the crew runs, in a ``kickoff`` of its own that makes the task. The model calls are
the openai SDK's (CrewAI's native OpenAI provider), instrumented there.

CrewAI's event bus is not used for this: it runs its handlers on a thread pool after the event, where nothing
can be made current for the tool or refused. CrewAI's own telemetry (to CrewAI's servers, on a private tracer
provider) is CrewAI's to switch off: ``CREWAI_DISABLE_TELEMETRY=true``, ``CREWAI_TRACING_ENABLED=false``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from agentvitals._handler import Handler
from agentvitals._lifecycle import Invocation, start_tool
from agentvitals._records import non_empty_str
from agentvitals._taskrun import BudgetExhausted
from agentvitals.instrumentation._agents import (
    AgentRunEndpoint,
    async_agent_run_wrapper,
    detach_if_current,
    sync_agent_run_wrapper,
)
from agentvitals.instrumentation._base import Patch, PatchTableInstrumentor, handler_for
from agentvitals.instrumentation._operations import in_tool_call

_logger = logging.getLogger("agentvitals")

__all__ = ["CrewAIInstrumentor"]

_OPEN_TOOL = otel_context.create_key("agentvitals-crewai-tool")


class _OpenTool:
    __slots__ = ("invocation", "token", "context")

    def __init__(self, invocation: Invocation, token: object, context: otel_context.Context) -> None:
        self.invocation = invocation
        self.token = token
        self.context = context


class _ToolHooks:
    """The pair of global hooks; a tool call's span is found again through the context its before hook attached."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def before(self, hook_context: Any) -> bool | None:
        try:
            arguments = getattr(hook_context, "tool_input", None)
            invocation = start_tool(self.handler, non_empty_str(getattr(hook_context, "tool_name", None)) or "tool",
                                    arguments=arguments)
        except BudgetExhausted:
            return False  # blocks the call; the exhausted budget ends the task at its next model call
        except Exception:
            _logger.debug("agentvitals: could not start a CrewAI tool span", exc_info=True)
            return None
        context = in_tool_call(invocation.context())
        record = _OpenTool(invocation, None, context)
        context = otel_context.set_value(_OPEN_TOOL, record, context)
        record.context = context
        record.token = otel_context.attach(context)
        return None

    def after(self, hook_context: Any) -> None:
        record = otel_context.get_value(_OPEN_TOOL)
        if not isinstance(record, _OpenTool):
            return None
        try:
            detach_if_current(record.token, record.context)
            record.invocation.stop()
        except Exception:
            _logger.debug("agentvitals: could not end a CrewAI tool span", exc_info=True)
        return None


def _crew_name(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    return non_empty_str(getattr(instance, "name", None))


def _agent_role(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    return non_empty_str(getattr(instance, "role", None))


def _not_streaming(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
    return not getattr(instance, "stream", False)


CREW_RUN = AgentRunEndpoint(_crew_name, applies=_not_streaming)
AGENT_RUN = AgentRunEndpoint(_agent_role)


class _KickoffInstrumentor(PatchTableInstrumentor):
    name = "crewai-kickoff"
    instruments = ("crewai >= 1.0",)
    patches = (
        Patch("crewai.crew", "Crew.kickoff", sync_agent_run_wrapper(CREW_RUN)),
        Patch("crewai.crew", "Crew.akickoff", async_agent_run_wrapper(CREW_RUN)),
        Patch("crewai.agent.core", "Agent.kickoff", sync_agent_run_wrapper(AGENT_RUN)),
        Patch("crewai.agent.core", "Agent.kickoff_async", async_agent_run_wrapper(AGENT_RUN)),
        Patch("crewai.agent.core", "Agent.akickoff", async_agent_run_wrapper(AGENT_RUN)),
    )


class CrewAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    instruments = ("crewai >= 1.0",)

    def instrumentation_dependencies(self) -> Collection[str]:
        return self.instruments

    def _instrument(self, **kwargs: Any) -> None:
        from crewai.hooks import register_after_tool_call_hook, register_before_tool_call_hook

        hooks = _ToolHooks(handler_for(kwargs))
        register_before_tool_call_hook(hooks.before)
        register_after_tool_call_hook(hooks.after)
        self._hooks: _ToolHooks | None = hooks
        self._kickoff = _KickoffInstrumentor()
        self._kickoff.instrument(skip_dep_check=True, **kwargs)

    def _uninstrument(self, **kwargs: Any) -> None:
        from crewai.hooks import unregister_after_tool_call_hook, unregister_before_tool_call_hook

        hooks = getattr(self, "_hooks", None)
        if hooks is not None:
            unregister_before_tool_call_hook(hooks.before)
            unregister_after_tool_call_hook(hooks.after)
            self._hooks = None
        kickoff = getattr(self, "_kickoff", None)
        if kickoff is not None:
            kickoff.uninstrument()
