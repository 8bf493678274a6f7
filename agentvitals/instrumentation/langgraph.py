"""LangGraph: a graph run (an agent built with ``create_agent``/``create_react_agent``, or any compiled graph) is an
agent run, a task of its own when no task encloses it.

``Pregel.stream``/``astream`` is what every run goes through (``invoke``/``ainvoke`` iterate it): the task
stays open while the stream is iterated, its context current only while the graph's own code runs, and is named
after the graph (``name=``; LangGraph's default is ``LangGraph``). A subgraph runs inside its parent's task.
Tools and retrievers are LangChain's (``langchain`` instrumentation), model calls the provider SDKs'.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentvitals._records import non_empty_str
from agentvitals.instrumentation._agents import AgentRunEndpoint, sync_agent_run_wrapper
from agentvitals.instrumentation._base import Patch, PatchTableInstrumentor

__all__ = ["LangGraphInstrumentor"]


def _graph_name(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    return non_empty_str(getattr(instance, "name", None))


GRAPH_RUN = sync_agent_run_wrapper(AgentRunEndpoint(_graph_name))


class LangGraphInstrumentor(PatchTableInstrumentor):
    name = "langgraph"
    instruments = ("langgraph >= 0.3",)
    patches = (
        Patch("langgraph.pregel", "Pregel.stream", GRAPH_RUN),
        Patch("langgraph.pregel", "Pregel.astream", GRAPH_RUN),  # an async generator: returned, then iterated
    )
