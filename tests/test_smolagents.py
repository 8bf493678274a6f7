"""smolagents against the fake backend: a ToolCallingAgent over the real openai SDK (OpenAIServerModel)."""

from __future__ import annotations

from typing import Any

import pytest

import agentvitals
from agentvitals.attributes import TASK_OUTCOME, TASK_TOOL_CALLS, WaitKind, task_idle_time
from agentvitals.semconv import GEN_AI_TOOL_CALL_ARGUMENTS, GEN_AI_TOOL_NAME
from tests.conftest import Telemetry
from tests.fake_llm import OPENAI_USAGE, FakeLLMServer
from tests.task_checks import assert_task_accounts_for, task_span

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def make_agent(server: FakeLLMServer, script: str, *, stream: bool = False) -> Any:
    from smolagents import OpenAIServerModel, ToolCallingAgent, tool

    @tool
    def weather(city: str) -> str:
        """The weather in a city.

        Args:
            city: The city.
        """
        import httpx  # the tool's own HTTP call nests under its span

        httpx.post(server.url + "/not-an-llm-path")
        return f"sunny in {city}"

    model = OpenAIServerModel("gpt-4o-mini", api_base=server.url + "/v1", api_key="sk-test",
                              client_kwargs={"default_headers": {"x-fake-tools": script}, "max_retries": 0})
    return ToolCallingAgent(tools=[weather], model=model, name="forecaster", max_steps=4, stream_outputs=stream,
                            verbosity_level=0)


def test_tool_calling_agent_inside_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    agent = make_agent(fake_llm, "weather,weather;final_answer")
    with agentvitals.task("smol"):
        agent.run("What is the weather in Lyon and Paris?")
    span = assert_task_accounts_for(telemetry, fake_llm, "smol", input_tokens=OPENAI_USAGE["prompt_tokens"],
                                    output_tokens=OPENAI_USAGE["completion_tokens"])
    assert span.attributes[TASK_TOOL_CALLS] == 2  # two parallel weather calls; final_answer is no tool call
    assert span.attributes[task_idle_time(WaitKind.TOOL)] > 0
    tools = telemetry.spans("execute_tool")
    assert [s.attributes[GEN_AI_TOOL_NAME] for s in tools] == ["weather", "weather"]
    assert all(s.parent.span_id == span.context.span_id for s in tools)  # run on smolagents' thread pool
    assert all(GEN_AI_TOOL_CALL_ARGUMENTS not in s.attributes for s in tools)
    tool_ids = {s.context.span_id for s in tools}
    own_http = [s for s in telemetry.spans("POST") if "/not-an-llm-path" in str(s.attributes.get("http.url"))]
    assert len(own_http) == 2 and {s.parent.span_id for s in own_http} == tool_ids
    assert telemetry.spans("invoke_agent forecaster") == []  # the enclosing task is the run's task


def test_agent_run_without_a_task_is_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    agent = make_agent(fake_llm, "weather;final_answer")
    agent.run("What is the weather in Lyon?")
    span = assert_task_accounts_for(telemetry, fake_llm, "forecaster", input_tokens=OPENAI_USAGE["prompt_tokens"],
                                    output_tokens=OPENAI_USAGE["completion_tokens"])
    assert span.attributes[TASK_OUTCOME] == "success"
    assert span.attributes[TASK_TOOL_CALLS] == 1


def test_streamed_run_is_one_task_over_the_whole_iteration(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    agent = make_agent(fake_llm, "weather;final_answer")
    steps = list(agent.run("What is the weather in Lyon?", stream=True))
    assert steps
    span = assert_task_accounts_for(telemetry, fake_llm, "forecaster", input_tokens=OPENAI_USAGE["prompt_tokens"],
                                    output_tokens=OPENAI_USAGE["completion_tokens"])
    assert span.attributes[TASK_TOOL_CALLS] == 1


def test_tool_budget_ends_the_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    agent = make_agent(fake_llm, "weather,weather;final_answer")
    with agentvitals.task("smol-budget", budget=agentvitals.Budget(max_tool_calls=1)) as task:
        agent.run("What is the weather in Lyon and Paris?")
    assert task.run is not None and task.run.exhausted is not None and task.run.exhausted.limit == "tool_calls"
    span = task_span(telemetry, "smol-budget")
    assert span.attributes[TASK_OUTCOME] == "budget_exhausted"
    assert span.attributes[TASK_TOOL_CALLS] == 1
    assert fake_llm.answered_total() == 1  # the model was not asked again after the budget ran out
