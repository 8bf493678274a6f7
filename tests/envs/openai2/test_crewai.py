"""CrewAI against the fake backend, over the real openai SDK (2.x: crewai pins it), its telemetry off."""

from __future__ import annotations

import os
from typing import Any

import pytest

# CrewAI's own telemetry goes to CrewAI's servers: never from the tests (read when crewai is imported).
os.environ["CREWAI_DISABLE_TELEMETRY"] = "true"
os.environ["CREWAI_TRACING_ENABLED"] = "false"

import agentvitals  # noqa: E402
from agentvitals.attributes import TASK_OUTCOME, TASK_TOOL_CALLS, WaitKind, task_idle_time  # noqa: E402
from agentvitals.semconv import GEN_AI_TOOL_CALL_ARGUMENTS, GEN_AI_TOOL_NAME  # noqa: E402
from tests.conftest import Telemetry  # noqa: E402
from tests.fake_llm import OPENAI_USAGE, FakeLLMServer  # noqa: E402
from tests.task_checks import assert_task_accounts_for, task_span  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

USAGE = {"input_tokens": OPENAI_USAGE["prompt_tokens"], "output_tokens": OPENAI_USAGE["completion_tokens"]}


def make_crew(server: FakeLLMServer, script: str) -> Any:
    import httpx
    from crewai import LLM, Agent, Crew, Task
    from crewai.tools import tool

    @tool("weather")
    def weather(city: str) -> str:
        """The weather in a city."""
        httpx.post(server.url + "/not-an-llm-path")  # the tool's own HTTP call nests under its span
        return f"sunny in {city}"

    llm = LLM(model="gpt-4o-mini", base_url=server.url + "/v1", api_key="sk-test", max_retries=0,
              default_headers={"x-fake-tools": script})
    agent = Agent(role="forecaster", goal="Tell the weather.", backstory="A meteorologist.", tools=[weather],
                  llm=llm, verbose=False, max_iter=4)
    task = Task(description="What is the weather in Lyon?", expected_output="One sentence.", agent=agent)
    return Crew(agents=[agent], tasks=[task], name="weather-crew", verbose=False)


def own_http(telemetry: Telemetry) -> list[Any]:
    return [s for s in telemetry.spans("POST") if "/not-an-llm-path" in str(s.attributes.get("http.url"))]


def test_crew_inside_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with agentvitals.task("crew"):
        result = make_crew(fake_llm, "weather,weather").kickoff()
    assert str(result) == "hello"
    span = assert_task_accounts_for(telemetry, fake_llm, "crew", **USAGE)
    assert span.attributes[TASK_TOOL_CALLS] == 2
    assert span.attributes[task_idle_time(WaitKind.TOOL)] > 0
    tools = telemetry.spans("execute_tool")
    assert [s.attributes[GEN_AI_TOOL_NAME] for s in tools] == ["weather", "weather"]
    assert all(s.parent.span_id == span.context.span_id for s in tools)
    assert all(GEN_AI_TOOL_CALL_ARGUMENTS not in s.attributes for s in tools)
    assert {s.parent.span_id for s in own_http(telemetry)} == {s.context.span_id for s in tools}
    assert telemetry.spans("invoke_agent weather-crew") == []


def test_kickoff_without_a_task_is_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    assert str(make_crew(fake_llm, "weather").kickoff()) == "hello"
    span = assert_task_accounts_for(telemetry, fake_llm, "weather-crew", **USAGE)
    assert span.attributes[TASK_OUTCOME] == "success"
    assert span.attributes[TASK_TOOL_CALLS] == 1


async def test_async_kickoff_is_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    assert str(await make_crew(fake_llm, "weather").kickoff_async()) == "hello"
    span = assert_task_accounts_for(telemetry, fake_llm, "weather-crew", **USAGE)
    assert span.attributes[TASK_TOOL_CALLS] == 1


async def test_native_async_kickoff_is_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    assert str(await make_crew(fake_llm, "weather").akickoff()) == "hello"
    span = assert_task_accounts_for(telemetry, fake_llm, "weather-crew", **USAGE)
    assert span.attributes[TASK_TOOL_CALLS] == 1
    assert telemetry.span("execute_tool weather").parent.span_id == span.context.span_id


def test_failed_kickoff_is_a_failed_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    from crewai import LLM

    crew = make_crew(fake_llm, "weather")
    crew.agents[0].llm = LLM(model="gpt-4o-mini", base_url=fake_llm.url + "/v1", api_key="sk-test", max_retries=0,
                             default_headers={"x-fake": "error_500"})
    with pytest.raises(Exception):  # noqa: B017 - whatever CrewAI makes of the provider's 500
        crew.kickoff()
    assert task_span(telemetry, "weather-crew").attributes[TASK_OUTCOME] == "error"


def test_tool_budget_blocks_the_call_and_ends_the_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with agentvitals.task("crew-budget", budget=agentvitals.Budget(max_tool_calls=1)) as task:
        make_crew(fake_llm, "weather;weather").kickoff()
    assert task.run is not None and task.run.exhausted is not None and task.run.exhausted.limit == "tool_calls"
    span = task_span(telemetry, "crew-budget")
    assert span.attributes[TASK_OUTCOME] == "budget_exhausted"
    assert span.attributes[TASK_TOOL_CALLS] == 1
    assert len(own_http(telemetry)) == 1  # the second call was blocked before it ran
    assert fake_llm.answered_total() == 2  # the model was not asked a third time


def test_uninstrument_unregisters_the_hooks(fake_llm: FakeLLMServer) -> None:
    from crewai.hooks import get_after_tool_call_hooks, get_before_tool_call_hooks

    from tests.conftest import make_telemetry

    before = len(get_before_tool_call_hooks()), len(get_after_tool_call_hooks())
    make_telemetry()
    assert (len(get_before_tool_call_hooks()), len(get_after_tool_call_hooks())) == (before[0] + 1, before[1] + 1)
    agentvitals.shutdown()
    assert (len(get_before_tool_call_hooks()), len(get_after_tool_call_hooks())) == before
