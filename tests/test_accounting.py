"""Accounting from spans, whoever made them: each model call and tool call counted once in its task, other
instrumentations' model calls priced, their agent runs made tasks, LLM calls over plain HTTP booked as LLM waits.

Other instrumentations are stood in for by spans shaped like theirs (scope, kind, attributes), made on the
same provider: pydantic-ai's GenAI-convention spans and OpenInference's."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

import agentvitals
from agentvitals.attributes import (
    TASK_COST_AMOUNT,
    TASK_INPUT_TOKENS,
    TASK_LLM_CALLS,
    TASK_NAME,
    TASK_OUTCOME,
    TASK_OUTPUT_TOKENS,
    TASK_TOOL_CALLS,
    WaitKind,
    task_idle_time,
)
from agentvitals.metrics import COST, UNINSTRUMENTED_CALLS
from agentvitals.semconv import (
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_TOOL_NAME,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
)
from tests.conftest import Telemetry
from tests.fake_llm import FakeLLMServer
from tests.programs import run_own_export
from tests.test_openai import EXPECTED_COST, MESSAGES, client

# gpt-4o-mini at 0.15 / 0.60 USD per 1M tokens: 1000 input, 100 output.
FOREIGN_USAGE = {GEN_AI_USAGE_INPUT_TOKENS: 1000, GEN_AI_USAGE_OUTPUT_TOKENS: 100}
FOREIGN_COST = (1000 * 0.15 + 100 * 0.60) / 1e6


def chat_attributes(**usage: int) -> dict[str, Any]:
    return {GEN_AI_OPERATION_NAME: "chat", GEN_AI_PROVIDER_NAME: "openai", GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
            **usage}


def task_span(telemetry: Telemetry, name: str) -> ReadableSpan:
    return telemetry.span(f"invoke_agent {name}")


def test_framework_chat_span_around_our_sdk_span_is_one_call_with_our_cost(
        telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    framework = telemetry.tracer_provider.get_tracer("pydantic-ai")
    with agentvitals.task("wrapped"):
        with framework.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as outer:
            client(fake_llm).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            outer.set_attributes(chat_attributes(**FOREIGN_USAGE))  # its own view of the same call
    task = task_span(telemetry, "wrapped").attributes
    assert task[TASK_LLM_CALLS] == 1
    assert task[TASK_INPUT_TOKENS] == 1200 and task[TASK_OUTPUT_TOKENS] == 50  # ours: the SDK's usage
    assert task[TASK_COST_AMOUNT] == pytest.approx(EXPECTED_COST)
    assert telemetry.total(COST.name) == pytest.approx(EXPECTED_COST)  # not the framework's call again
    assert task[task_idle_time(WaitKind.LLM)] > 0 and task_idle_time(WaitKind.HTTP) not in task


def test_a_model_call_only_another_instrumentation_traced_is_counted_and_priced(telemetry: Telemetry) -> None:
    framework = telemetry.tracer_provider.get_tracer("pydantic-ai")
    with agentvitals.task("foreign-only"):
        with framework.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT,
                                             attributes=chat_attributes(**FOREIGN_USAGE)):
            pass
    task = task_span(telemetry, "foreign-only").attributes
    assert task[TASK_LLM_CALLS] == 1
    assert (task[TASK_INPUT_TOKENS], task[TASK_OUTPUT_TOKENS]) == (1000, 100)
    assert task[TASK_COST_AMOUNT] == pytest.approx(FOREIGN_COST)
    assert telemetry.total(COST.name, gen_ai__request__model="gpt-4o-mini") == pytest.approx(FOREIGN_COST)
    assert task[task_idle_time(WaitKind.LLM)] > 0


def test_nested_instrumentations_without_ours_count_the_innermost_usage_once(telemetry: Telemetry) -> None:
    framework = telemetry.tracer_provider.get_tracer("some-framework")
    openinference = telemetry.tracer_provider.get_tracer("openinference.instrumentation.openai")
    with agentvitals.task("stacked"):
        # The outer layer ends before usage is known (as OpenInference's LlamaIndex spans do); the inner has it.
        with framework.start_as_current_span("chat", kind=SpanKind.CLIENT, attributes=chat_attributes()):
            with openinference.start_as_current_span("ChatCompletion", attributes={
                    "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
                    "llm.token_count.prompt": 1000, "llm.token_count.completion": 100}):
                pass
    task = task_span(telemetry, "stacked").attributes
    assert task[TASK_LLM_CALLS] == 1
    assert task[TASK_COST_AMOUNT] == pytest.approx(FOREIGN_COST)
    assert telemetry.total(COST.name) == pytest.approx(FOREIGN_COST)


def test_other_instrumentations_tool_spans_count_once_and_against_the_budget(telemetry: Telemetry) -> None:
    framework = telemetry.tracer_provider.get_tracer("pydantic-ai")
    tool = {GEN_AI_OPERATION_NAME: "execute_tool", GEN_AI_TOOL_NAME: "lookup"}
    with agentvitals.task("tools", budget=agentvitals.Budget(max_tool_calls=1)):
        with framework.start_as_current_span("execute_tool lookup", attributes=tool):
            with agentvitals.tool("lookup"):  # the application's own span inside the framework's: one call
                pass
        with framework.start_as_current_span("execute_tool lookup", attributes=tool):
            pass  # a second tool call, over the budget: the framework cannot be refused, the task is marked
        with agentvitals.tool("after"):  # ours is refused
            pass
    task = task_span(telemetry, "tools").attributes
    assert task[TASK_TOOL_CALLS] == 2
    assert task[TASK_OUTCOME] == "budget_exhausted"
    assert task[task_idle_time(WaitKind.TOOL)] > 0
    assert not telemetry.spans("execute_tool after")


def test_an_agent_run_no_task_encloses_becomes_a_task() -> None:
    exported = run_own_export("foreign-agent")
    span = next(s for s in exported["spans"] if s["name"] == "invoke_agent support")["attributes"]
    assert span[TASK_OUTCOME] == "error"
    assert span[TASK_LLM_CALLS] == 1 and span[TASK_TOOL_CALLS] == 1
    assert span[TASK_COST_AMOUNT] == pytest.approx(FOREIGN_COST)
    assert [(p["attributes"][TASK_NAME], p["attributes"][TASK_OUTCOME], p["count"])
            for p in exported["task_durations"]] == [("support", "error", 1)]


def test_plain_http_to_an_llm_api_is_an_llm_wait_and_a_counted_gap(telemetry: Telemetry,
                                                                    fake_llm: FakeLLMServer) -> None:
    with agentvitals.task("raw-http"):
        httpx.post(fake_llm.url + "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": MESSAGES})
    task = task_span(telemetry, "raw-http").attributes
    assert task[task_idle_time(WaitKind.LLM)] > 0 and task_idle_time(WaitKind.HTTP) not in task
    assert telemetry.total(UNINSTRUMENTED_CALLS.name, gen_ai__provider__name="openai") == 1


def test_the_sdks_own_http_call_is_not_a_gap(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with agentvitals.task("sdk"):
        client(fake_llm).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert telemetry.total(UNINSTRUMENTED_CALLS.name) == 0
    assert task_span(telemetry, "sdk").attributes[TASK_LLM_CALLS] == 1


# HTTP client spans as other HTTP instrumentations make them: requests/urllib3 (old conventions, full URL),
# aiohttp (stable conventions), and one that records only the path.
HTTP_SHAPES = {
    "requests-legacy": lambda url: {"http.method": "POST", "http.url": url},
    "aiohttp-stable": lambda url: {"http.request.method": "POST", "url.full": url, "server.address": "127.0.0.1"},
    "path-only": lambda url: {"http.request.method": "POST", "url.path": url.split("127.0.0.1:1", 1)[1]},
}


@pytest.mark.parametrize("shape", sorted(HTTP_SHAPES))
@pytest.mark.parametrize(("path", "provider"), [
    ("/v1/messages", "anthropic"),
    ("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "gcp.gemini"),
    ("/v1/responses", "openai"),
])
def test_any_http_instrumentations_call_to_an_llm_api_is_an_llm_wait(telemetry: Telemetry, shape: str, path: str,
                                                                     provider: str) -> None:
    http = telemetry.tracer_provider.get_tracer(f"opentelemetry.instrumentation.{shape}")
    with agentvitals.task("other-http"):
        with http.start_as_current_span("POST", kind=SpanKind.CLIENT,
                                        attributes=HTTP_SHAPES[shape](f"http://127.0.0.1:1{path}")):
            pass
        with http.start_as_current_span("POST", kind=SpanKind.CLIENT,
                                        attributes=HTTP_SHAPES[shape]("http://127.0.0.1:1/v1/orders")):
            pass  # not an LLM API: an http wait
    task = task_span(telemetry, "other-http").attributes
    assert task[task_idle_time(WaitKind.LLM)] > 0 and task[task_idle_time(WaitKind.HTTP)] > 0
    assert telemetry.total(UNINSTRUMENTED_CALLS.name, gen_ai__provider__name=provider) == 1
    assert telemetry.total(UNINSTRUMENTED_CALLS.name) == 1


def test_a_span_with_an_explicit_parent_started_inside_our_tool_is_inside_its_wait(telemetry: Telemetry,
                                                                                   fake_llm: FakeLLMServer) -> None:
    """OpenInference's LlamaIndex spans take their parent from LlamaIndex's span tree, not the current context:
    its tool span is a sibling of ours though it runs inside it, and the tool's HTTP call is still tool time."""
    from opentelemetry import context as otel_context
    from opentelemetry import trace

    openinference = telemetry.tracer_provider.get_tracer("openinference.instrumentation.llama_index")
    with agentvitals.task("explicit-parent"):
        outside_the_tool = otel_context.get_current()
        with agentvitals.tool("weather"):
            span = openinference.start_span("FunctionTool.acall", context=outside_the_tool)
            token = otel_context.attach(trace.set_span_in_context(span))
            try:
                httpx.post(fake_llm.url + "/not-an-llm-path")
            finally:
                otel_context.detach(token)
                span.set_attribute("openinference.span.kind", "TOOL")  # as OpenInference does, at the end
                span.end()
    task_root = task_span(telemetry, "explicit-parent")
    assert telemetry.span("FunctionTool.acall").parent.span_id == task_root.context.span_id  # not under our tool
    task = task_root.attributes
    assert task[TASK_TOOL_CALLS] == 1
    assert task[task_idle_time(WaitKind.TOOL)] > 0 and task_idle_time(WaitKind.HTTP) not in task
