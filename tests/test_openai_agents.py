"""openai-agents against the fake backend, over the real openai SDK (chat completions and the Responses API)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agents import set_trace_processors

import agentvitals
from agentvitals.attributes import TASK_OUTCOME, TASK_TOOL_CALLS, WaitKind, task_idle_time
from agentvitals.semconv import GEN_AI_TOOL_NAME
from tests.conftest import Telemetry
from tests.fake_llm import OPENAI_USAGE, RESPONSES_USAGE, FakeLLMServer
from tests.task_checks import assert_task_accounts_for, task_span

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# openai-agents exports its traces to OpenAI by default: not from the tests. agentvitals adds its own processor
# when it instruments openai-agents (at init()), after this.
set_trace_processors([])

CHAT = {"input_tokens": OPENAI_USAGE["prompt_tokens"], "output_tokens": OPENAI_USAGE["completion_tokens"]}
RESPONSES = {"input_tokens": RESPONSES_USAGE["input_tokens"], "output_tokens": RESPONSES_USAGE["output_tokens"]}


def model(server: FakeLLMServer, script: str, api: str = "chat_completions") -> Any:
    from agents import OpenAIChatCompletionsModel, OpenAIResponsesModel
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0,
                         default_headers={"x-fake-tools": script})
    if api == "responses":
        return OpenAIResponsesModel("gpt-4o-mini", openai_client=client)
    return OpenAIChatCompletionsModel("gpt-4o-mini", openai_client=client)


def make_agent(server: FakeLLMServer, script: str, api: str = "chat_completions", name: str = "forecaster") -> Any:
    import httpx
    from agents import Agent, function_tool

    @function_tool
    async def weather(city: str) -> str:
        """The weather in a city."""
        async with httpx.AsyncClient() as http:  # the tool's own HTTP call nests under its span
            await http.post(server.url + "/not-an-llm-path")
        await asyncio.sleep(0.02)
        return f"sunny in {city}"

    return Agent(name=name, instructions="Answer about the weather.", tools=[weather], model=model(server, script, api))


def own_http(telemetry: Telemetry) -> list[Any]:
    return [s for s in telemetry.spans("POST") if "/not-an-llm-path" in str(s.attributes.get("http.url"))]


async def test_agent_inside_a_task_parallel_tools(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    from agents import Runner

    async with agentvitals.task("oa"):
        result = await Runner.run(make_agent(fake_llm, "weather,weather"), "Weather in Lyon and Paris?")
    assert result.final_output == "hello"
    span = assert_task_accounts_for(telemetry, fake_llm, "oa", **CHAT)
    assert span.attributes[TASK_TOOL_CALLS] == 2
    tools = telemetry.spans("execute_tool")
    assert [s.attributes[GEN_AI_TOOL_NAME] for s in tools] == ["weather", "weather"]
    assert all(s.parent.span_id == span.context.span_id for s in tools)
    assert {s.parent.span_id for s in own_http(telemetry)} == {s.context.span_id for s in tools}
    # The two tool calls ran concurrently: the tool wait is shorter than their summed durations.
    assert span.attributes[task_idle_time(WaitKind.TOOL)] < sum((s.end_time - s.start_time) / 1e9 for s in tools)
    assert telemetry.spans("invoke_agent forecaster") == []  # the enclosing task is the run's task


def test_run_without_a_task_is_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    from agents import Runner

    assert Runner.run_sync(make_agent(fake_llm, "weather"), "Weather in Lyon?").final_output == "hello"
    span = assert_task_accounts_for(telemetry, fake_llm, "forecaster", **CHAT)
    assert span.attributes[TASK_OUTCOME] == "success"
    assert span.attributes[TASK_TOOL_CALLS] == 1
    assert [s.parent.span_id for s in telemetry.spans("execute_tool")] == [span.context.span_id]


async def test_handoff_stays_one_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    from agents import Agent, Runner

    specialist = make_agent(fake_llm, "transfer_to_specialist;weather", name="specialist")  # it takes turn 2
    triage = Agent(name="triage", instructions="Hand off.", handoffs=[specialist],
                   model=model(fake_llm, "transfer_to_specialist;weather"))
    assert (await Runner.run(triage, "Weather in Lyon?")).final_output == "hello"
    span = assert_task_accounts_for(telemetry, fake_llm, "triage", **CHAT)
    assert fake_llm.answered_total() == 3  # triage hands off; the specialist calls the tool, then answers
    assert span.attributes[TASK_TOOL_CALLS] == 1  # the handoff is no tool call
    assert telemetry.spans("invoke_agent specialist") == []


async def test_streamed_run(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    from agents import ModelSettings, Runner

    agent = make_agent(fake_llm, "weather")
    # openai-agents asks a chat stream for its usage only from api.openai.com, unless told to.
    agent.model_settings = ModelSettings(include_usage=True)
    result = Runner.run_streamed(agent, "Weather in Lyon?")
    async for _ in result.stream_events():
        pass
    assert result.final_output == "abcde"  # the fake streams these words
    assert fake_llm.answered_total() == 2
    span = assert_task_accounts_for(telemetry, fake_llm, "forecaster", **CHAT)
    assert span.attributes[TASK_TOOL_CALLS] == 1


async def test_tool_budget_ends_the_task_at_the_next_model_call(telemetry: Telemetry,
                                                                 fake_llm: FakeLLMServer) -> None:
    from agents import Runner

    async with agentvitals.task("oa-budget", budget=agentvitals.Budget(max_tool_calls=1)) as task:
        await Runner.run(make_agent(fake_llm, "weather,weather"), "Weather in Lyon and Paris?")
    assert task.run is not None and task.run.exhausted is not None and task.run.exhausted.limit == "tool_calls"
    span = task_span(telemetry, "oa-budget")
    assert span.attributes[TASK_OUTCOME] == "budget_exhausted"
    # A tracing processor sees a tool call as it starts, too late to refuse it: both parallel calls ran.
    assert span.attributes[TASK_TOOL_CALLS] == 2
    assert fake_llm.answered_total() == 1  # the model was not asked again


def test_instrumentation_leaves_openai_agents_tracing_switch_alone(telemetry: Telemetry,
                                                                   fake_llm: FakeLLMServer) -> None:
    """Disabled by the application, openai-agents' tracing stays disabled: no trace, so no export anywhere."""
    from agents import Runner, set_tracing_disabled

    set_tracing_disabled(True)
    try:
        Runner.run_sync(make_agent(fake_llm, "weather"), "Weather in Lyon?")
    finally:
        set_tracing_disabled(False)
    assert telemetry.spans("execute_tool") == [] and telemetry.spans("invoke_agent") == []
    assert len(telemetry.spans("chat")) == 2  # the model calls are still the SDK instrumentation's


@pytest.mark.xfail(strict=True, reason="the Responses API instrumentation is on branch clients (issue 18, item 1)")
async def test_responses_api_agent(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    from agents import Runner

    async with agentvitals.task("oa-responses"):
        result = await Runner.run(make_agent(fake_llm, "weather,weather", "responses"), "Weather in Lyon and Paris?")
    assert result.final_output == "hello"
    span = assert_task_accounts_for(telemetry, fake_llm, "oa-responses", **RESPONSES)
    assert span.attributes[TASK_TOOL_CALLS] == 2


def test_uninstrumented_processor_is_inert_and_reused(fake_llm: FakeLLMServer) -> None:
    from agents import Runner

    from tests.conftest import make_telemetry

    for _ in range(2):  # instrumenting again reuses the one registered processor: one tool span, not two
        telemetry = make_telemetry()
        Runner.run_sync(make_agent(fake_llm, "weather"), "Weather in Lyon?")
        assert len(telemetry.spans("execute_tool")) == 1 and len(telemetry.spans("invoke_agent")) == 1
        agentvitals.shutdown()
    telemetry.exporter.clear()
    Runner.run_sync(make_agent(fake_llm, "weather"), "Weather in Lyon?")
    assert telemetry.exporter.get_finished_spans() == ()
