"""LlamaIndex agents against the fake backend, over the real openai SDK (2.x: llama-index-llms-openai pins it)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

import agentvitals
from agentvitals.attributes import (
    TASK_COST_AMOUNT,
    TASK_LLM_CALLS,
    TASK_OUTCOME,
    TASK_TOOL_CALLS,
    WaitKind,
    task_idle_time,
)
from agentvitals.metrics import COST
from agentvitals.semconv import GEN_AI_TOOL_CALL_ARGUMENTS, GEN_AI_TOOL_NAME
from tests.conftest import Telemetry
from tests.fake_llm import OPENAI_USAGE, FakeLLMServer
from tests.task_checks import assert_task_accounts_for, task_span

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

USAGE = {"input_tokens": OPENAI_USAGE["prompt_tokens"], "output_tokens": OPENAI_USAGE["completion_tokens"]}


def make_agent(server: FakeLLMServer, script: str, *, streaming: bool = False, name: str = "forecaster") -> Any:
    import httpx
    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index.core.tools import FunctionTool
    from llama_index.llms.openai import OpenAI

    async def weather(city: str) -> str:
        """The weather in a city."""
        async with httpx.AsyncClient() as http:  # the tool's own HTTP call nests under its span
            await http.post(server.url + "/not-an-llm-path")
        await asyncio.sleep(0.02)
        return f"sunny in {city}"

    # LlamaIndex streams without asking for usage: the documented way to get tokens and cost from a stream.
    extra = {"stream_options": {"include_usage": True}} if streaming else {}
    llm = OpenAI(model="gpt-4o-mini", api_base=server.url + "/v1", api_key="sk-test", max_retries=0,
                 default_headers={"x-fake-tools": script}, additional_kwargs=extra)
    return FunctionAgent(name=name, description="Weather.", tools=[FunctionTool.from_defaults(weather)], llm=llm,
                         streaming=streaming)


async def run_ended(telemetry: Telemetry, name: str, timeout: float = 10.0) -> None:
    """A run's task ends when the run does, seen from the event loop: poll until its span is exported."""
    deadline = time.monotonic() + timeout
    while not telemetry.spans(f"invoke_agent {name}"):
        assert time.monotonic() < deadline, f"the task of agent {name!r} did not end"
        await asyncio.sleep(0.01)


def own_http(telemetry: Telemetry) -> list[Any]:
    return [s for s in telemetry.spans("POST") if "/not-an-llm-path" in str(s.attributes.get("http.url"))]


async def test_agent_inside_a_task_parallel_tools(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    agent = make_agent(fake_llm, "weather,weather")
    async with agentvitals.task("li"):
        response = await agent.run(user_msg="Weather in Lyon and Paris?")
    assert str(response) == "hello"
    span = assert_task_accounts_for(telemetry, fake_llm, "li", **USAGE)
    assert span.attributes[TASK_TOOL_CALLS] == 2
    tools = telemetry.spans("execute_tool")
    assert [s.attributes[GEN_AI_TOOL_NAME] for s in tools] == ["weather", "weather"]
    assert all(s.parent.span_id == span.context.span_id for s in tools)
    assert all(GEN_AI_TOOL_CALL_ARGUMENTS not in s.attributes for s in tools)
    assert {s.parent.span_id for s in own_http(telemetry)} == {s.context.span_id for s in tools}
    # The two calls ran in parallel workers: the tool wait is shorter than their summed durations.
    assert span.attributes[task_idle_time(WaitKind.TOOL)] < sum((s.end_time - s.start_time) / 1e9 for s in tools)


async def test_run_without_a_task_is_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    handler = make_agent(fake_llm, "weather").run(user_msg="Weather in Lyon?")
    assert str(await handler) == "hello"
    await run_ended(telemetry, "forecaster")
    span = assert_task_accounts_for(telemetry, fake_llm, "forecaster", **USAGE)
    assert span.attributes[TASK_OUTCOME] == "success"
    assert span.attributes[TASK_TOOL_CALLS] == 1
    assert [s.parent.span_id for s in telemetry.spans("execute_tool")] == [span.context.span_id]
    assert agentvitals.current_task() is None  # the caller's context is left as it was


async def test_streamed_agent_with_usage(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    handler = make_agent(fake_llm, "weather", streaming=True).run(user_msg="Weather in Lyon?")
    async for _ in handler.stream_events():
        pass
    await handler
    await run_ended(telemetry, "forecaster")
    span = assert_task_accounts_for(telemetry, fake_llm, "forecaster", **USAGE)
    assert span.attributes[TASK_TOOL_CALLS] == 1


async def test_concurrent_runs_are_separate_tasks(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    first, second = make_agent(fake_llm, "weather", name="first"), make_agent(fake_llm, "weather", name="second")
    await asyncio.gather(first.run(user_msg="Lyon?"), second.run(user_msg="Paris?"))
    for name in ("first", "second"):
        await run_ended(telemetry, name)
        span = task_span(telemetry, name)
        assert span.attributes[TASK_LLM_CALLS] == 2 and span.attributes[TASK_TOOL_CALLS] == 1
    assert telemetry.ledger.open == {}


async def test_tool_budget_stops_the_tool(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    agent = make_agent(fake_llm, "weather;weather")
    async with agentvitals.task("li-budget", budget=agentvitals.Budget(max_tool_calls=1)) as task:
        await agent.run(user_msg="Weather in Lyon, then Paris?")
    assert task.run is not None and task.run.exhausted is not None and task.run.exhausted.limit == "tool_calls"
    span = task_span(telemetry, "li-budget")
    assert span.attributes[TASK_OUTCOME] == "budget_exhausted"
    assert span.attributes[TASK_TOOL_CALLS] == 1
    assert len(own_http(telemetry)) == 1  # the refused call never ran


def test_direct_tool_call(telemetry: Telemetry) -> None:
    from llama_index.core.tools import FunctionTool

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    with agentvitals.task("li-direct"):
        assert FunctionTool.from_defaults(add).call(a=2, b=3).raw_output == 5
    assert task_span(telemetry, "li-direct").attributes[TASK_TOOL_CALLS] == 1
    assert telemetry.span("execute_tool add").attributes[GEN_AI_TOOL_NAME] == "add"


@pytest.mark.parametrize("streaming", [False, True], ids=["chat", "stream"])
async def test_one_counted_model_call_per_request_under_openinference(telemetry: Telemetry, fake_llm: FakeLLMServer,
                                                                      streaming: bool) -> None:
    """OpenInference's LlamaIndex instrumentation on the same provider: its LLM spans (``OpenAI.achat`` around
    ours; ``OpenAI.astream_chat``, ended before the stream is read, with the stream's tokens) and its TOOL spans
    are one more view of the same calls."""
    from openinference.instrumentation.llama_index import LlamaIndexInstrumentor

    openinference = LlamaIndexInstrumentor()
    openinference.instrument(tracer_provider=telemetry.tracer_provider)
    try:
        async with agentvitals.task("li-oi"):
            handler = make_agent(fake_llm, "weather", streaming=streaming).run(user_msg="Weather in Lyon?")
            async for _ in handler.stream_events():
                pass
            await handler
    finally:
        openinference.uninstrument()
    span = assert_task_accounts_for(telemetry, fake_llm, "li-oi", **USAGE)
    assert span.attributes[TASK_TOOL_CALLS] == 1
    foreign_llm = [s for s in telemetry.spans() if s.attributes.get("openinference.span.kind") == "LLM"
                   and s.attributes.get("llm.token_count.prompt") is not None]
    assert len(foreign_llm) == fake_llm.answered_total()  # the second instrumentation was really there
    assert telemetry.total(COST.name) == pytest.approx(span.attributes[TASK_COST_AMOUNT])  # priced once


CONTENT_OFF_APP = """
import asyncio, json, sys
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import agentvitals
from openinference.instrumentation.llama_index import LlamaIndexInstrumentor
sys.path.insert(0, ".")
from tests.envs.openai2.test_llama_index import make_agent
from tests.fake_llm import FakeLLMServer

exporter = InMemorySpanExporter()
agentvitals.init("content-off", endpoint=False, span_exporter=exporter, metric_readers=[])  # content capture off
LlamaIndexInstrumentor().instrument()  # on the global provider init() made, recording content by default


async def main(server):
    await make_agent(server, "weather").run(user_msg="{canary} weather in Lyon?")


with FakeLLMServer() as server:
    asyncio.run(main(server))
agentvitals.force_flush()
print(json.dumps([[s.name, {{k: str(v) for k, v in (s.attributes or {{}}).items()}},
                   [str(e.attributes) for e in s.events]] for s in exporter.get_finished_spans()]))
"""


@pytest.mark.slow
def test_openinference_content_is_not_exported_when_capture_is_off() -> None:
    import subprocess
    import sys

    from tests.conftest import subprocess_environ

    canary = "canary-li-content-4242"
    result = subprocess.run([sys.executable, "-c", CONTENT_OFF_APP.format(canary=canary)], capture_output=True,
                            text=True, timeout=240,
                            env=subprocess_environ(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="false"))
    assert result.returncode == 0, result.stderr
    spans = result.stdout.strip().splitlines()[-1]
    names = [name for name, _, _ in json.loads(spans)]
    assert "OpenAI.achat" in names and "invoke_agent forecaster" in names  # OpenInference's spans and ours
    assert canary not in spans and "sunny in" not in spans  # neither the prompt nor the tool's result
