"""LangChain (and LangGraph, which runs LangChain tools): tools and retrievers.

``BaseTool.run``/``arun`` become ``execute_tool {name}`` spans (counted against the task's tool
budget); ``BaseRetriever.invoke``/``ainvoke`` become ``retrieval {retriever}`` spans with the
number of documents returned. LLM calls are deliberately not instrumented here: LangChain's chat
models call the provider SDKs, whose instrumentation makes the one LLM span and the one cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentvitals._records import non_empty_str
from agentvitals.instrumentation._base import Patch, PatchTableInstrumentor
from agentvitals.instrumentation._operations import (
    RetrievalEndpoint,
    ToolEndpoint,
    async_operation_wrapper,
    sync_operation_wrapper,
)

__all__ = ["LangChainInstrumentor"]


def _tool_name(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    return non_empty_str(getattr(instance, "name", None))


def _tool_input(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    return kwargs.get("tool_input", args[0] if args else None)


def _retriever_name(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    return non_empty_str(getattr(instance, "name", None)) or type(instance).__name__


def _query(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    return non_empty_str(kwargs.get("input", args[0] if args else None))


def _documents(result: Any) -> int | None:
    return len(result) if isinstance(result, list) else None


TOOL = ToolEndpoint(_tool_name, arguments=_tool_input)
RETRIEVER = RetrievalEndpoint("langchain", "query", _retriever_name, results=_documents, query_text=_query)


class LangChainInstrumentor(PatchTableInstrumentor):
    name = "langchain"
    instruments = ("langchain-core >= 0.3",)
    patches = (
        Patch("langchain_core.tools.base", "BaseTool.run", sync_operation_wrapper(TOOL)),
        Patch("langchain_core.tools.base", "BaseTool.arun", async_operation_wrapper(TOOL)),
        Patch("langchain_core.retrievers", "BaseRetriever.invoke", sync_operation_wrapper(RETRIEVER)),
        Patch("langchain_core.retrievers", "BaseRetriever.ainvoke", async_operation_wrapper(RETRIEVER)),
    )
