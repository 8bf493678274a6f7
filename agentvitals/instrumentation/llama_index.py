"""LlamaIndex: ``FunctionTool`` calls and agent runs (``FunctionAgent``, ``ReActAgent``, ``CodeActAgent``,
``AgentWorkflow``).

``FunctionTool.call``/``acall`` (what an agent's ``call_tool`` step awaits, parallel calls each in their own
worker task, and what application code calls directly) become ``execute_tool {name}`` spans, counted against
the task's tool budget. ``BaseWorkflowAgent.run``/``AgentWorkflow.run`` is an agent run: a task of its own
(named after the agent, or the workflow's root agent) when no task encloses it. ``run()`` schedules the
workflow on the event loop and returns its handler: the task's context is current while ``run()`` schedules
it, so every step inherits it, and the task ends when the run does (``handler.stop_event_result()``), whether
or not the application awaits the handler. The model calls are the openai SDK's
(``llama-index-llms-openai``), instrumented there.

LlamaIndex's instrumentation dispatcher is not used for this: it sees no ``FunctionTool`` call, its span handlers'
exceptions are swallowed (a budget could not stop a tool), and a span handler cannot make a context current
for the whole run: ``run()`` returns before the run does, so a context it attached would stay attached in the
caller's context. LlamaIndex agents stream
model replies without asking for usage (``stream_options``): pass ``additional_kwargs={"stream_options":
{"include_usage": True}}`` to the ``OpenAI`` LLM, or run the agent with ``streaming=False``, for tokens and cost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, cast

from agentvitals._records import non_empty_str
from agentvitals.instrumentation._agents import AgentRunEndpoint, scheduled_agent_run_wrapper
from agentvitals.instrumentation._base import Patch, PatchTableInstrumentor
from agentvitals.instrumentation._operations import ToolEndpoint, async_operation_wrapper, sync_operation_wrapper

__all__ = ["LlamaIndexInstrumentor"]


def _tool_name(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    metadata = getattr(instance, "metadata", None)
    return non_empty_str(getattr(metadata, "name", None))


def _tool_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    return {**dict(enumerate(args)), **kwargs} if args else dict(kwargs)


def _agent_name(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    # An AgentWorkflow is named after the agent that takes the first turn; an agent after itself.
    return non_empty_str(getattr(instance, "root_agent", None)) or non_empty_str(getattr(instance, "name", None))


def _run_completion(handler: Any) -> Awaitable[Any]:
    """The workflow handler's result: awaiting it ends when the run does (it may be awaited more than once)."""
    return cast(Awaitable[Any], handler.stop_event_result())


TOOL = ToolEndpoint(_tool_name, arguments=_tool_arguments)
AGENT_RUN = scheduled_agent_run_wrapper(AgentRunEndpoint(_agent_name), _run_completion)


class LlamaIndexInstrumentor(PatchTableInstrumentor):
    name = "llama_index"
    instruments = ("llama-index-core >= 0.12",)
    patches = (
        Patch("llama_index.core.tools.function_tool", "FunctionTool.call", sync_operation_wrapper(TOOL)),
        Patch("llama_index.core.tools.function_tool", "FunctionTool.acall", async_operation_wrapper(TOOL)),
        Patch("llama_index.core.agent.workflow.base_agent", "BaseWorkflowAgent.run", AGENT_RUN),
        Patch("llama_index.core.agent.workflow.multi_agent_workflow", "AgentWorkflow.run", AGENT_RUN),
    )
