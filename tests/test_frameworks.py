"""Framework tools and retrievers: LangChain and LangGraph (with the real openai SDK underneath) and MCP."""

from __future__ import annotations

from typing import Any

import pytest

import agentvitals
from agentvitals.attributes import (
    COST_AMOUNT,
    RETRIEVAL_RESULT_COUNT,
    TASK_OUTCOME,
    TASK_TOOL_CALLS,
    WaitKind,
    task_idle_time,
)
from agentvitals.metrics import COST
from agentvitals.semconv import (
    GEN_AI_OPERATION_NAME,
    GEN_AI_RETRIEVAL_QUERY_TEXT,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_TYPE,
)
from tests.conftest import Telemetry
from tests.fake_llm import OPENAI_USAGE, FakeLLMServer
from tests.task_checks import assert_task_accounts_for
from tests.test_openai import EXPECTED_COST

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_langchain_tool_and_retriever(telemetry: Telemetry) -> None:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.tools import tool

    @tool
    def order_status(order_id: int) -> str:
        """Look up an order's status."""
        return f"order {order_id}: shipped"

    class PolicyRetriever(BaseRetriever):
        def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun
                                    ) -> list[Document]:
            return [Document(page_content="refunds within 10 days"), Document(page_content="returns 30 days")]

    with agentvitals.task("lc", budget=agentvitals.Budget(max_tool_calls=1)) as task:
        assert order_status.invoke({"order_id": 7}) == "order 7: shipped"
        assert len(PolicyRetriever().invoke("refund policy")) == 2
        order_status.invoke({"order_id": 8})  # over the tool budget: the task ends here
    tool_span = telemetry.span("execute_tool order_status")
    assert tool_span.attributes[GEN_AI_TOOL_TYPE] == "function"
    assert GEN_AI_TOOL_CALL_ARGUMENTS not in tool_span.attributes  # content capture is off
    retrieval = telemetry.span("retrieval PolicyRetriever")
    assert retrieval.attributes[RETRIEVAL_RESULT_COUNT] == 2
    assert GEN_AI_RETRIEVAL_QUERY_TEXT not in retrieval.attributes
    assert task.run is not None and task.run.exhausted is not None and task.run.exhausted.limit == "tool_calls"


async def test_langchain_async_tool(telemetry: Telemetry) -> None:
    from langchain_core.tools import tool

    @tool
    async def weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    async with agentvitals.task("lc-async"):
        assert await weather.ainvoke({"city": "Lyon"}) == "sunny in Lyon"
    assert telemetry.span("execute_tool weather").parent.span_id == telemetry.span(
        "invoke_agent lc-async").context.span_id


def test_langchain_over_openai_is_one_llm_span_and_one_cost(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    from langchain_openai import ChatOpenAI

    for include_response_headers in (False, True):  # the second path goes through with_raw_response
        model = ChatOpenAI(model="gpt-4o-mini", base_url=fake_llm.url + "/v1", api_key="sk-test", max_retries=0,
                           include_response_headers=include_response_headers)
        assert model.invoke("hi").content == "hello"
    llm_spans = [s for s in telemetry.spans() if s.attributes.get(GEN_AI_OPERATION_NAME) == "chat"]
    assert [s.name for s in llm_spans] == ["chat gpt-4o-mini", "chat gpt-4o-mini"]
    assert all(s.attributes[COST_AMOUNT] == pytest.approx(EXPECTED_COST) for s in llm_spans)
    assert telemetry.total(COST.name) == pytest.approx(2 * EXPECTED_COST)


async def test_mcp_client_tool_call(telemetry: Telemetry) -> None:
    from mcp import Client
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("calculator")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    async with agentvitals.task("mcp-task"), Client(server) as client:
        result = await client.call_tool("add", {"a": 2, "b": 3})
    assert "5" in str(result)
    span = telemetry.span("execute_tool add")  # exactly one, although Client goes through ClientSession
    assert span.attributes[GEN_AI_TOOL_TYPE] == "extension"
    assert span.attributes["mcp.method.name"] == "tools/call"
    task = telemetry.span("invoke_agent mcp-task")
    assert task.attributes[TASK_TOOL_CALLS] == 1
    assert task.attributes[task_idle_time(WaitKind.TOOL)] > 0


def make_graph_agent(server: FakeLLMServer, script: str) -> Any:
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from langgraph.prebuilt import create_react_agent

    @tool
    def weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    model = ChatOpenAI(model="gpt-4o-mini", base_url=server.url + "/v1", api_key="sk-test", max_retries=0,
                       default_headers={"x-fake-tools": script})
    return create_react_agent(model, [weather], name="forecaster")


def test_langgraph_agent_inside_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with agentvitals.task("lg"):
        result = make_graph_agent(fake_llm, "weather,weather").invoke({"messages": [("user", "Lyon and Paris?")]})
    assert result["messages"][-1].content == "hello"
    span = assert_task_accounts_for(telemetry, fake_llm, "lg", input_tokens=OPENAI_USAGE["prompt_tokens"],
                                    output_tokens=OPENAI_USAGE["completion_tokens"])
    assert span.attributes[TASK_TOOL_CALLS] == 2
    assert len(telemetry.spans("execute_tool weather")) == 2
    assert telemetry.spans("invoke_agent forecaster") == []  # the enclosing task is the run's task


async def test_langgraph_run_without_a_task_is_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    agent = make_graph_agent(fake_llm, "weather")
    chunks = [chunk async for chunk in agent.astream({"messages": [("user", "Lyon?")]})]
    assert chunks
    span = assert_task_accounts_for(telemetry, fake_llm, "forecaster", input_tokens=OPENAI_USAGE["prompt_tokens"],
                                    output_tokens=OPENAI_USAGE["completion_tokens"])
    assert span.attributes[TASK_OUTCOME] == "success" and span.attributes[TASK_TOOL_CALLS] == 1
    assert telemetry.span("execute_tool weather").parent.span_id == span.context.span_id
    assert agentvitals.current_task() is None


async def test_mcp_call_inside_a_tool_is_that_tool_call(telemetry: Telemetry) -> None:
    """A framework tool whose body calls an MCP server (an MCP tool adapter does just that) is one tool call."""
    from langchain_core.tools import tool
    from mcp import Client
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("calculator")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @tool
    async def calculator(a: int, b: int) -> str:
        """Add two numbers on the calculator server."""
        async with Client(server) as client:
            return str(await client.call_tool("add", {"a": a, "b": b}))

    async with agentvitals.task("mcp-in-tool"):
        assert "5" in await calculator.ainvoke({"a": 2, "b": 3})
    assert [s.name for s in telemetry.spans("execute_tool")] == ["execute_tool calculator"]
    assert telemetry.span("invoke_agent mcp-in-tool").attributes[TASK_TOOL_CALLS] == 1
