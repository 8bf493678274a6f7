"""pydantic-ai against the fake backend, over the real openai SDK, with pydantic-ai's own instrumentation on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import agentvitals
from agentvitals.attributes import COST_AMOUNT, TASK_LLM_CALLS, TASK_OUTCOME, TASK_TOOL_CALLS, WaitKind, task_idle_time
from agentvitals.semconv import (
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_NAME,
    GEN_AI_USAGE_INPUT_TOKENS,
)
from tests.conftest import Telemetry
from tests.fake_llm import OPENAI_USAGE, FakeLLMServer
from tests.task_checks import assert_task_accounts_for, llm_spans, task_span

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

USAGE = {"input_tokens": OPENAI_USAGE["prompt_tokens"], "output_tokens": OPENAI_USAGE["completion_tokens"]}


def make_agent(server: FakeLLMServer, script: str, name: str = "forecaster") -> Any:
    import httpx
    from openai import AsyncOpenAI
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    client = AsyncOpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0,
                         default_headers={"x-fake-tools": script})
    agent = Agent(OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(openai_client=client)), name=name)

    @agent.tool_plain
    async def weather(city: str) -> str:
        """The weather in a city."""
        async with httpx.AsyncClient() as http:  # the tool's own HTTP call nests under its span
            await http.post(server.url + "/not-an-llm-path")
        await asyncio.sleep(0.02)
        return f"sunny in {city}"

    return agent


async def test_agent_inside_a_task_parallel_tools(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    agent = make_agent(fake_llm, "weather,weather")
    async with agentvitals.task("pyd"):
        result = await agent.run("What is the weather in Lyon and Paris?")
    assert result.output == "hello"
    span = assert_task_accounts_for(telemetry, fake_llm, "pyd", **USAGE)
    assert span.attributes[TASK_TOOL_CALLS] == 2
    assert span.attributes[task_idle_time(WaitKind.TOOL)] > 0

    # pydantic-ai's agent span is there (a task encloses the run), the tools are ours, under it.
    agent_span = telemetry.span("invoke_agent forecaster")
    assert agent_span.instrumentation_scope.name == "pydantic-ai"
    assert agent_span.parent.span_id == span.context.span_id
    tools = telemetry.spans("execute_tool")
    assert len(tools) == 2 and {s.instrumentation_scope.name for s in tools} == {"agentvitals"}
    assert {s.attributes[GEN_AI_TOOL_CALL_ID] for s in tools} == {"call_0_0", "call_0_1"}
    assert all(s.attributes[GEN_AI_TOOL_NAME] == "weather" and s.parent.span_id == agent_span.context.span_id
               for s in tools)
    assert all(GEN_AI_TOOL_CALL_ARGUMENTS not in s.attributes for s in tools)  # content capture is off
    own_http = [s for s in telemetry.spans("POST") if "/not-an-llm-path" in str(s.attributes.get("http.url"))]
    assert {s.parent.span_id for s in own_http} == {s.context.span_id for s in tools}
    # The two tool calls overlapped (asyncio tasks): the tool idle time is less than their summed durations.
    assert span.attributes[task_idle_time(WaitKind.TOOL)] < sum((s.end_time - s.start_time) / 1e9 for s in tools)


async def test_one_counted_model_call_per_request(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    """Per request: pydantic-ai's chat span (outer, with usage, no cost), ours (inner, priced), then HTTP."""
    agent = make_agent(fake_llm, "weather")
    async with agentvitals.task("pyd-count"):
        await agent.run("What is the weather in Lyon?")
    span = task_span(telemetry, "pyd-count")
    assert span.attributes[TASK_LLM_CALLS] == fake_llm.answered_total() == 2
    chats = llm_spans(telemetry)
    theirs = [s for s in chats if s.instrumentation_scope.name == "pydantic-ai"]
    ours = [s for s in chats if s.instrumentation_scope.name == "agentvitals"]
    assert len(theirs) == len(ours) == 2 and len(chats) == 4
    by_id = {s.context.span_id: s for s in chats}
    for inner in ours:
        outer = by_id[inner.parent.span_id]
        assert outer in theirs and COST_AMOUNT not in outer.attributes and COST_AMOUNT in inner.attributes
        assert outer.attributes[GEN_AI_USAGE_INPUT_TOKENS] == inner.attributes[GEN_AI_USAGE_INPUT_TOKENS]
    # Content capture is off, for pydantic-ai's spans too: its messages keep their shape (roles, part types,
    # tool names) without the text of the prompt, the completion or the tool result.
    for recorded in telemetry.spans():
        text = repr(dict(recorded.attributes))
        assert "weather in Lyon" not in text and "hello" not in text and "sunny" not in text, recorded.name
    assert GEN_AI_INPUT_MESSAGES not in ours[0].attributes and GEN_AI_OUTPUT_MESSAGES not in ours[0].attributes


def test_agent_run_without_a_task_is_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    agent = make_agent(fake_llm, "weather")
    assert agent.run_sync("What is the weather in Lyon?").output == "hello"
    span = assert_task_accounts_for(telemetry, fake_llm, "forecaster", **USAGE)
    assert span.instrumentation_scope.name == "agentvitals"
    assert span.attributes[TASK_OUTCOME] == "success"
    assert span.attributes[TASK_TOOL_CALLS] == 1
    assert [s.parent.span_id for s in telemetry.spans("execute_tool")] == [span.context.span_id]


async def test_concurrent_runs_are_separate_tasks(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    first, second = make_agent(fake_llm, "weather", "first"), make_agent(fake_llm, "weather", "second")
    await asyncio.gather(first.run("Lyon?"), second.run("Paris?"))
    for name in ("first", "second"):
        span = task_span(telemetry, name)
        assert span.attributes[TASK_LLM_CALLS] == 2 and span.attributes[TASK_TOOL_CALLS] == 1
    assert telemetry.ledger.open == {}


async def test_tool_budget_stops_the_tool(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    agent = make_agent(fake_llm, "weather;weather")
    async with agentvitals.task("pyd-budget", budget=agentvitals.Budget(max_tool_calls=1)) as task:
        await agent.run("What is the weather in Lyon, then Paris?")
    assert task.run is not None and task.run.exhausted is not None and task.run.exhausted.limit == "tool_calls"
    span = task_span(telemetry, "pyd-budget")
    assert span.attributes[TASK_OUTCOME] == "budget_exhausted"
    assert span.attributes[TASK_TOOL_CALLS] == 1
    assert len([s for s in telemetry.spans("POST") if "/not-an-llm-path" in str(s.attributes.get("http.url"))]) == 1


def test_uninstrument_switches_pydantic_ai_instrumentation_off(fake_llm: FakeLLMServer) -> None:
    from tests.conftest import make_telemetry

    telemetry = make_telemetry()
    make_agent(fake_llm, "weather").run_sync("Lyon?")
    agentvitals.shutdown()
    telemetry.exporter.clear()
    make_agent(fake_llm, "weather").run_sync("Lyon?")
    assert telemetry.exporter.get_finished_spans() == ()
