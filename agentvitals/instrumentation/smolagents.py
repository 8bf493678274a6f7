"""smolagents: tool calls and agent runs.

smolagents has no tracing of its own, so its public entry points are wrapped (reversibly):
``Tool.__call__`` (every tool a ``ToolCallingAgent`` or a ``CodeAgent`` calls, parallel calls included:
smolagents runs them on a thread pool with the caller's context) becomes ``execute_tool {name}``, counted
against the task's tool budget; ``final_answer`` is the agent's way to stop, not a tool call, and makes no
span. ``MultiStepAgent.run`` (``agent.run(...)`` and ``agent(...)``, streamed or not) is an agent run: a
task of its own when no task encloses it. The models call the openai SDK (``OpenAIServerModel``) or
litellm (``LiteLLMModel``), whose instrumentations make the LLM spans.

smolagents turns a tool's exception into an error it shows the model, so a tool refused by the budget does
not stop the run by itself: the budget stays spent and the next LLM call ends the task.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentvitals._handler import Handler
from agentvitals._records import non_empty_str
from agentvitals.instrumentation._agents import AgentRunEndpoint, sync_agent_run_wrapper
from agentvitals.instrumentation._base import Patch, PatchTableInstrumentor
from agentvitals.instrumentation._operations import ToolEndpoint, sync_operation_wrapper

__all__ = ["SmolagentsInstrumentor"]

FINAL_ANSWER = "final_answer"
"""The tool name smolagents itself treats as the end of the run."""


def _name(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    return non_empty_str(getattr(instance, "name", None))


def _tool_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    arguments = {key: value for key, value in kwargs.items() if key != "sanitize_inputs_outputs"}
    return arguments or (args[0] if len(args) == 1 else list(args) or None)


TOOL = ToolEndpoint(_name, arguments=_tool_arguments)
AGENT_RUN = AgentRunEndpoint(_name)


def _tool_call(handler: Handler) -> Callable[..., Any]:
    traced = sync_operation_wrapper(TOOL)(handler)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if getattr(instance, "name", None) == FINAL_ANSWER:
            return wrapped(*args, **kwargs)
        return traced(wrapped, instance, args, kwargs)

    return wrapper


class SmolagentsInstrumentor(PatchTableInstrumentor):
    name = "smolagents"
    instruments = ("smolagents >= 1.0",)
    patches = (
        Patch("smolagents.tools", "Tool.__call__", _tool_call),
        Patch("smolagents.tools", "PipelineTool.__call__", _tool_call),  # overrides Tool.__call__
        Patch("smolagents.agents", "MultiStepAgent.run", sync_agent_run_wrapper(AGENT_RUN)),
    )
