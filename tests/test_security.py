"""Security hygiene: no secrets, parameters or content in telemetry by default; bounded content and labels."""

from __future__ import annotations

import asyncio
import json
import uuid

import openai
import pytest
from agentvitals.demo.runner import DemoConfig, run_demo
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentvitals
from agentvitals.metrics import COST, METRICS, OPERATION_DURATION, TASK_ACTIVE, TASK_DURATION, TASK_IDLE, TOOL_DURATION
from agentvitals.semconv import (
    DB_SYSTEM_NAME,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_TOOL_CALL_ARGUMENTS,
)
from tests.conftest import Telemetry, make_telemetry
from tests.fake_llm import FakeLLMServer


@pytest.mark.slow
def test_a_full_demo_run_leaks_no_key_header_parameter_or_content(monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20collector-secret-token")
    run = asyncio.run(run_demo(DemoConfig(phases="steady:5", rate=3, seed=4, progress=False,
                                          init_kwargs={"span_exporter": exporter})))
    spans = exporter.get_finished_spans()
    assert run.report.tasks > 5 and spans
    forbidden = [
        "demo-key-not-a-secret",  # the agent's model API key
        "collector-secret-token", "Bearer",  # OTLP export headers
        "Where is my order", "When will order", "refund for order",  # user questions (content capture is off)
        "on its way",  # model answers, also written to the DB as statement parameters
        "You are the planner",  # system prompts
    ]
    for span in spans:
        values = json.dumps({**dict(span.attributes or {}), **dict(span.resource.attributes)}, default=str)
        for needle in forbidden:
            assert needle not in values, f"{needle!r} leaked into span {span.name}"
    parameterised = [s for s in spans if s.attributes.get(DB_SYSTEM_NAME) == "sqlite"
                     and s.name in ("SELECT", "INSERT")]
    assert parameterised and all("?" in s.attributes["db.query.text"] for s in parameterised)  # values not inlined


def test_content_capture_is_off_by_default_and_bounded_when_on(fake_llm: FakeLLMServer) -> None:
    long_prompt = "x" * 10_000

    def call() -> None:
        client = openai.OpenAI(base_url=fake_llm.url + "/v1", api_key="sk-test", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": long_prompt}])

    off = make_telemetry()
    try:
        call()
        assert GEN_AI_INPUT_MESSAGES not in off.span("chat ").attributes
        assert GEN_AI_OUTPUT_MESSAGES not in off.span("chat ").attributes
    finally:
        agentvitals.shutdown()

    on = make_telemetry(capture_content=True, content_max_length=200)
    try:
        call()
        with agentvitals.task("t"), agentvitals.tool("t", arguments={"query": long_prompt}):
            pass
        captured = on.span("chat ").attributes[GEN_AI_INPUT_MESSAGES]
        assert captured.startswith('[{"role": "user"') and len(captured) <= 200 + len("…[truncated]")
        assert json.loads(on.span("chat ").attributes[GEN_AI_OUTPUT_MESSAGES]) == [  # the conventions' form
            {"role": "assistant", "parts": [{"type": "text", "content": "hello"}], "finish_reason": "stop"}]
        assert len(on.span("execute_tool").attributes[GEN_AI_TOOL_CALL_ARGUMENTS]) <= 200 + len("…[truncated]")
    finally:
        agentvitals.shutdown()


def test_metric_series_stay_bounded_with_10000_distinct_ids_and_arguments(telemetry: Telemetry) -> None:
    for index in range(10_000):
        task_id = uuid.uuid4().hex
        with agentvitals.task("support", attributes={"app.request.id": task_id}):
            with agentvitals.tool("lookup", arguments={"order": index, "request": task_id}):
                pass
            with agentvitals.llm_call("openai", "gpt-4o-mini") as call:
                call.record(input_tokens=index, output_tokens=1)
    series = {
        metric: len(telemetry.points(metric))
        for metric in (TASK_DURATION.name, TOOL_DURATION.name, OPERATION_DURATION.name,
                       COST.name, TASK_ACTIVE.name, TASK_IDLE.name)
    }
    assert max(series.values()) <= 2, series  # one label set each (idle: one per wait kind)
    for metric in METRICS:
        for point in telemetry.points(metric.name):
            assert set(point.attributes) <= set(metric.labels), (metric.name, set(point.attributes))
