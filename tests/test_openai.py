"""The real ``openai`` SDK (3.x, on httpx2) against a local fake server: chat completions, embeddings and the
Responses API; spans, tokens, cost, task accounting; the opt-in stream usage."""

from __future__ import annotations

import gc
import json

import openai
import pytest
import wrapt
from opentelemetry.trace import SpanKind, StatusCode

import agentvitals
from agentvitals.attributes import (
    COST_AMOUNT,
    COST_CURRENCY,
    COST_PRICED,
    COST_SOURCE,
    RESPONSE_REJECTED,
    USAGE_REPORTED,
)
from agentvitals.metrics import COST, OPERATION_DURATION, TIME_TO_FIRST_CHUNK, TOKEN_USAGE, TOKENS, UNPRICED_CALLS
from agentvitals.semconv import (
    ERROR_TYPE,
    GEN_AI_CONVERSATION_ID,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OPERATION_NAME,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_OUTPUT_TYPE,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_STREAM,
    GEN_AI_REQUEST_TEMPERATURE,
    GEN_AI_REQUEST_TOP_P,
    GEN_AI_RESPONSE_FINISH_REASONS,
    GEN_AI_RESPONSE_ID,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    GEN_AI_SYSTEM_INSTRUCTIONS,
    GEN_AI_TOOL_DEFINITIONS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    OPENAI_REQUEST_SERVICE_TIER,
    SERVER_ADDRESS,
    SERVER_PORT,
)
from tests.conftest import Telemetry, make_telemetry
from tests.fake_llm import FakeLLMServer
from tests.task_checks import assert_task_accounts_for

MESSAGES = [{"role": "user", "content": "hi"}]
# gpt-4o-mini: input 0.15, cache read 0.075, output 0.60 USD per 1M tokens. Usage: 1200 input of which
# 1000 cached, 50 output: (200 * 0.15 + 1000 * 0.075 + 50 * 0.60) / 1e6.
EXPECTED_COST = (200 * 0.15 + 1000 * 0.075 + 50 * 0.60) / 1e6


def client(server: FakeLLMServer, mode: str = "ok") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test-secret", max_retries=0,
                         default_headers={"x-fake": mode})


def async_client(server: FakeLLMServer, mode: str = "ok") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="sk-test-secret", max_retries=0,
                              default_headers={"x-fake": mode})


def assert_priced_chat(span: object, *, stream: bool = False, finish: tuple[str, ...] = ("stop",)) -> None:
    attributes = span.attributes  # type: ignore[attr-defined]
    assert span.name == "chat gpt-4o-mini"  # type: ignore[attr-defined]
    assert span.kind is SpanKind.CLIENT  # type: ignore[attr-defined]
    assert attributes[GEN_AI_OPERATION_NAME] == "chat"
    assert attributes[GEN_AI_PROVIDER_NAME] == "openai"
    assert attributes[GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attributes[GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert attributes[GEN_AI_USAGE_INPUT_TOKENS] == 1200
    assert attributes[GEN_AI_USAGE_OUTPUT_TOKENS] == 50
    assert attributes[GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1000
    assert attributes[GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 10
    assert attributes[GEN_AI_RESPONSE_FINISH_REASONS] == finish
    assert attributes[COST_AMOUNT] == pytest.approx(EXPECTED_COST)
    assert attributes[COST_CURRENCY] == "USD"
    assert attributes[COST_SOURCE] == "local"
    assert (GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in attributes) is stream
    assert GEN_AI_INPUT_MESSAGES not in attributes  # content capture is off by default


def test_sync_chat_has_one_llm_span_with_http_child_and_cost(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    response = client(fake_llm).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert response.choices[0].message.content == "hello"
    llm = telemetry.span("chat ")
    assert_priced_chat(llm)
    http = telemetry.span("POST")
    assert http.parent is not None and http.parent.span_id == llm.context.span_id
    assert COST_AMOUNT not in http.attributes
    assert telemetry.total(COST.name) == pytest.approx(EXPECTED_COST)
    assert telemetry.total(TOKENS.name, agentvitals__token__type="cache_read") == 1000
    duration = telemetry.points(OPERATION_DURATION.name)
    assert len(duration) == 1 and duration[0].count == 1
    assert 2.0 in duration[0].explicit_bounds


def test_every_metric_point_of_a_call_has_the_llm_span_as_exemplar(telemetry: Telemetry,
                                                                   fake_llm: FakeLLMServer) -> None:
    stream = client(fake_llm).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    for _ in stream:
        pass
    llm = telemetry.span("chat ").context
    data = telemetry.reader.get_metrics_data()  # one collection: each one hands out the exemplars once
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    for metric in (OPERATION_DURATION, TIME_TO_FIRST_CHUNK, TOKEN_USAGE, TOKENS,
                   COST):
        points = metrics[metric.name].data.data_points
        assert points, metric.name
        for point in points:
            assert [(e.trace_id, e.span_id) for e in point.exemplars] == [(llm.trace_id, llm.span_id)], metric.name


async def test_async_chat(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    await async_client(fake_llm).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert_priced_chat(telemetry.span("chat "))


def test_stream_with_final_usage_chunk(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    stream = client(fake_llm).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)

    assert text == "abcde"
    assert_priced_chat(telemetry.span("chat "), stream=True)
    assert len(telemetry.points(TIME_TO_FIRST_CHUNK.name)) == 1


async def test_async_stream(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    stream = await async_client(fake_llm).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]

    assert len(chunks) == 8
    assert_priced_chat(telemetry.span("chat "), stream=True)


def test_stream_without_usage_is_marked_absent_and_unpriced(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    for _ in client(fake_llm).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
        pass

    span = telemetry.span("chat ")
    assert span.attributes[USAGE_REPORTED] is False
    assert GEN_AI_USAGE_INPUT_TOKENS not in span.attributes  # never invented
    assert span.attributes[COST_PRICED] is False
    assert COST_AMOUNT not in span.attributes
    assert telemetry.total(UNPRICED_CALLS.name) == 1


def test_stream_early_break_then_release_ends_span(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    stream = client(fake_llm).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    for _ in stream:
        break
    assert telemetry.spans("chat ") == []  # still open: the stream is alive
    del stream
    gc.collect()

    span = telemetry.span("chat ")
    assert span.end_time is not None
    assert GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in span.attributes


def test_stream_closed_by_context_manager(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with client(fake_llm).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True) as stream:
        next(iter(stream))
    assert telemetry.span("chat ").end_time is not None


async def test_async_stream_early_break_closed(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    stream = await async_client(fake_llm).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    async for _ in stream:
        break
    await stream.close()
    assert telemetry.span("chat ").end_time is not None


def test_error_response_reraises_the_sdk_exception_unchanged(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with pytest.raises(openai.InternalServerError) as raised:
        client(fake_llm, "error_500").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert raised.value.status_code == 500
    span = telemetry.span("chat ")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[ERROR_TYPE] == "InternalServerError"
    durations = telemetry.points(OPERATION_DURATION.name)
    assert [p.attributes[ERROR_TYPE] for p in durations] == ["InternalServerError"]
    assert telemetry.total(COST.name) == 0 and telemetry.total(UNPRICED_CALLS.name) == 0


def test_missing_usage_yields_closed_span_without_tokens(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    client(fake_llm, "no_usage").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span = telemetry.span("chat ")
    assert span.end_time is not None
    assert span.attributes[USAGE_REPORTED] is False
    assert span.attributes[COST_PRICED] is False


def test_wrong_types_in_response_are_dropped_not_raised(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    client(fake_llm, "wrong_types").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span = telemetry.span("chat ")
    assert span.end_time is not None
    assert GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
    assert GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes


def test_bad_json_yields_closed_span(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with pytest.raises(ValueError) as raised:  # the SDK's own JSONDecodeError, passed through unchanged
        client(fake_llm, "bad_json").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert type(raised.value).__module__ == "json.decoder"
    span = telemetry.span("chat ")
    assert span.end_time is not None
    assert span.attributes[ERROR_TYPE] == "JSONDecodeError"


def test_truncated_stream_closes_span_with_usage_absent(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    # The server cuts the connection mid-event; the SDK ends the stream quietly after the chunks it got.
    stream = client(fake_llm, "truncated").chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert 0 < len(chunks) < 8
    span = telemetry.span("chat ")
    assert span.end_time is not None
    assert span.attributes[USAGE_REPORTED] is False


def test_embeddings(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    client(fake_llm).embeddings.create(model="text-embedding-3-small", input="hello")
    span = telemetry.span("embeddings text-embedding-3-small")
    assert span.attributes[GEN_AI_OPERATION_NAME] == "embeddings"
    assert span.attributes[GEN_AI_USAGE_INPUT_TOKENS] == 8
    assert span.attributes[COST_AMOUNT] == pytest.approx(8 * 0.02 / 1e6)


def test_unknown_model_is_unpriced_and_counted(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    client(fake_llm).chat.completions.create(model="my-finetune", messages=MESSAGES)
    span = telemetry.span("chat my-finetune")
    assert span.attributes[COST_PRICED] is False
    assert COST_AMOUNT not in span.attributes
    assert telemetry.total(UNPRICED_CALLS.name, gen_ai__request__model="my-finetune") == 1
    assert telemetry.total(COST.name) == 0


def test_api_key_never_in_attributes(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    client(fake_llm).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    for span in telemetry.spans():
        assert all("sk-test-secret" not in str(value) for value in span.attributes.values())


def test_raw_response_calls_are_priced_once(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    raw = client(fake_llm).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert raw.parse().choices[0].message.content == "hello"
    assert_priced_chat(telemetry.span("chat "))
    assert telemetry.total(COST.name) == pytest.approx(EXPECTED_COST)


def test_chat_parse_is_priced_once(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    # chat.completions.parse (structured outputs) posts itself rather than through create().
    parsed = client(fake_llm).chat.completions.parse(model="gpt-4o-mini", messages=MESSAGES)
    assert parsed.choices[0].message.content == "hello"
    assert_priced_chat(telemetry.span("chat "))
    assert telemetry.total(COST.name) == pytest.approx(EXPECTED_COST)


# --- the Responses API (openai-agents' default, pydantic-ai's OpenAIResponsesModel) ---------------------
def assert_priced_response(span: object, *, stream: bool = False) -> None:
    """The same attributes as a chat completion (the fake sends the same usage)."""
    assert_priced_chat(span, stream=stream)
    attributes = span.attributes  # type: ignore[attr-defined]
    assert attributes[GEN_AI_RESPONSE_ID] == "resp_1"
    assert attributes[SERVER_ADDRESS] == "127.0.0.1"
    assert isinstance(attributes[SERVER_PORT], int)


def assert_one_response_in_task(telemetry: Telemetry, server: FakeLLMServer, *, stream: bool = False) -> None:
    assert_priced_response(telemetry.span("chat "), stream=stream)
    assert server.answered == {"/v1/responses": 1}
    assert_task_accounts_for(telemetry, server, "agent", input_tokens=1200, output_tokens=50)
    assert telemetry.total(COST.name) == pytest.approx(EXPECTED_COST)


def test_responses_create_in_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with agentvitals.task("agent"):
        response = client(fake_llm).responses.create(
            model="gpt-4o-mini", input="hi", max_output_tokens=64, temperature=0.2, top_p=0.9, service_tier="flex",
            text={"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}}},
            conversation={"id": "conv_123"})
    assert response.output_text == "hello"
    assert_one_response_in_task(telemetry, fake_llm)
    llm = telemetry.span("chat ")
    assert llm.attributes[GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert llm.attributes[GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert llm.attributes[GEN_AI_REQUEST_TOP_P] == 0.9
    assert llm.attributes[OPENAI_REQUEST_SERVICE_TIER] == "flex"
    assert llm.attributes[GEN_AI_OUTPUT_TYPE] == "json"
    assert llm.attributes[GEN_AI_CONVERSATION_ID] == "conv_123"
    assert all(GEN_AI_CONVERSATION_ID not in p.attributes for p in telemetry.points(OPERATION_DURATION.name))
    assert telemetry.span("POST").parent.span_id == llm.context.span_id


async def test_responses_async_create_in_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    async with agentvitals.task("agent"):
        response = await async_client(fake_llm).responses.create(model="gpt-4o-mini", input="hi")
    assert response.output_text == "hello"
    assert_one_response_in_task(telemetry, fake_llm)


def test_responses_stream_in_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with agentvitals.task("agent"):
        stream = client(fake_llm).responses.create(model="gpt-4o-mini", input="hi", stream=True)
        text = "".join(event.delta for event in stream if event.type == "response.output_text.delta")
    assert text == "abcde"
    assert_one_response_in_task(telemetry, fake_llm, stream=True)
    assert telemetry.span("chat ").attributes[GEN_AI_REQUEST_STREAM] is True
    assert len(telemetry.points(TIME_TO_FIRST_CHUNK.name)) == 1


async def test_responses_async_stream_in_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    async with agentvitals.task("agent"):
        stream = await async_client(fake_llm).responses.create(model="gpt-4o-mini", input="hi", stream=True)
        kinds = [event.type async for event in stream]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert_one_response_in_task(telemetry, fake_llm, stream=True)


def test_responses_stream_manager_in_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with agentvitals.task("agent"):
        with client(fake_llm).responses.stream(model="gpt-4o-mini", input="hi") as stream:
            final = stream.get_final_response()
    assert final.output_text == "abcde"
    assert_one_response_in_task(telemetry, fake_llm, stream=True)


async def test_responses_async_stream_manager_in_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    async with agentvitals.task("agent"):
        async with async_client(fake_llm).responses.stream(model="gpt-4o-mini", input="hi") as stream:
            deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]
    assert "".join(deltas) == "abcde"
    assert_one_response_in_task(telemetry, fake_llm, stream=True)


def test_responses_with_raw_response_in_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with agentvitals.task("agent"):
        raw = client(fake_llm).responses.with_raw_response.create(model="gpt-4o-mini", input="hi")
    assert raw.parse().output_text == "hello"
    assert_one_response_in_task(telemetry, fake_llm)


def test_responses_streamed_with_raw_response_in_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with agentvitals.task("agent"):
        raw = client(fake_llm).responses.with_raw_response.create(model="gpt-4o-mini", input="hi", stream=True)
        events = list(raw.parse())
    assert events[-1].type == "response.completed"
    assert_one_response_in_task(telemetry, fake_llm, stream=True)


def test_responses_parse(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    parsed = client(fake_llm).responses.parse(model="gpt-4o-mini", input="hi")
    assert parsed.output_text == "hello"
    assert_priced_response(telemetry.span("chat "))


def test_responses_incomplete_reason_is_the_finish_reason(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    for _ in client(fake_llm, "incomplete").responses.create(model="gpt-4o-mini", input="hi", stream=True):
        pass
    client(fake_llm, "incomplete").responses.create(model="gpt-4o-mini", input="hi")
    spans = telemetry.spans("chat ")
    # max_output_tokens is chat completions' "length"
    assert [s.attributes[GEN_AI_RESPONSE_FINISH_REASONS] for s in spans] == [("length",)] * 2
    assert all(s.attributes[GEN_AI_USAGE_INPUT_TOKENS] == 1200 for s in spans)


def test_responses_function_calls_finish_as_tool_calls(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    tools = [{"type": "function", "name": "weather", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}}, "required": ["city"]}}]
    scripted = openai.OpenAI(base_url=fake_llm.url + "/v1", api_key="sk-test", max_retries=0,
                             default_headers={"x-fake-tools": "weather"})
    response = scripted.responses.create(model="gpt-4o-mini", input="weather?", tools=tools)  # type: ignore[arg-type]
    assert response.output[0].type == "function_call"
    for _ in scripted.responses.create(model="gpt-4o-mini", input="weather?", tools=tools,  # type: ignore[arg-type]
                                       stream=True):
        pass
    assert [s.attributes[GEN_AI_RESPONSE_FINISH_REASONS] for s in telemetry.spans("chat ")] == [("tool_calls",)] * 2


def test_responses_error_reraised_unchanged(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with pytest.raises(openai.InternalServerError):
        client(fake_llm, "error_500").responses.create(model="gpt-4o-mini", input="hi")
    span = telemetry.span("chat ")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[ERROR_TYPE] == "InternalServerError"


@pytest.mark.parametrize("mode", ["no_usage", "wrong_types"])
def test_responses_without_usable_usage_are_closed_and_unpriced(telemetry: Telemetry, fake_llm: FakeLLMServer,
                                                                mode: str) -> None:
    client(fake_llm, mode).responses.create(model="gpt-4o-mini", input="hi")
    span = telemetry.span("chat ")
    assert span.end_time is not None
    assert GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
    if mode == "wrong_types":  # reported, but not token counts: rejected, never counted
        assert span.attributes[RESPONSE_REJECTED] == ("usage.input_tokens", "usage.output_tokens")
    else:
        assert span.attributes[USAGE_REPORTED] is False
    assert span.attributes[COST_PRICED] is False


def test_responses_hostile_token_counts_are_rejected(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    client(fake_llm, "huge_usage").responses.create(model="gpt-4o-mini", input="hi")
    for _ in client(fake_llm, "huge_usage").responses.create(model="gpt-4o-mini", input="hi", stream=True):
        pass
    for span in telemetry.spans("chat "):
        assert span.attributes[RESPONSE_REJECTED] == ("usage.input_tokens",)
        assert GEN_AI_USAGE_INPUT_TOKENS not in span.attributes and span.attributes[GEN_AI_USAGE_OUTPUT_TOKENS] == 50
        assert span.attributes[COST_PRICED] is False


def test_responses_truncated_stream_closes_span_with_usage_absent(telemetry: Telemetry,
                                                                 fake_llm: FakeLLMServer) -> None:
    events = list(client(fake_llm, "truncated").responses.create(model="gpt-4o-mini", input="hi", stream=True))
    assert 0 < len(events) < 13
    span = telemetry.span("chat ")
    assert span.end_time is not None
    assert span.attributes[USAGE_REPORTED] is False


def test_responses_content_captured_only_when_on(fake_llm: FakeLLMServer) -> None:
    tools = [{"type": "function", "name": "add", "description": "Adds.", "parameters": {"type": "object"}},
             {"type": "web_search"}]
    conversation = [{"role": "user", "content": [{"type": "input_text", "text": "and 3+3?"}]},
                    {"type": "function_call", "call_id": "c1", "name": "add", "arguments": '{"a": 3}'},
                    {"type": "function_call_output", "call_id": "c1", "output": "6"}]
    telemetry = make_telemetry(capture_content=True)
    try:
        client(fake_llm).responses.create(model="gpt-4o-mini", input="what is 2+2?", instructions="Be brief.",
                                          tools=tools)  # type: ignore[arg-type]
        for _ in client(fake_llm).responses.create(model="gpt-4o-mini", input=conversation,  # type: ignore[arg-type]
                                                   stream=True):
            pass
    finally:
        agentvitals.shutdown()
    plain, streamed = telemetry.spans("chat ")
    assert json.loads(plain.attributes[GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "what is 2+2?"}]}]
    assert json.loads(plain.attributes[GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(plain.attributes[GEN_AI_TOOL_DEFINITIONS]) == [
        {"type": "function", "name": "add", "description": "Adds.", "parameters": {"type": "object"}},
        {"type": "web_search"}]
    assert json.loads(plain.attributes[GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "hello"}], "finish_reason": "stop"}]
    assert json.loads(streamed.attributes[GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "and 3+3?"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "add", "arguments": {"a": 3}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "6"}]}]
    assert json.loads(streamed.attributes[GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "abcde"}], "finish_reason": "stop"}]


def test_responses_streamed_tool_calls_captured(fake_llm: FakeLLMServer) -> None:
    tools = [{"type": "function", "name": "weather", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}}, "required": ["city"]}}]
    scripted = openai.OpenAI(base_url=fake_llm.url + "/v1", api_key="sk-test", max_retries=0,
                             default_headers={"x-fake-tools": "weather,weather"})
    telemetry = make_telemetry(capture_content=True)
    try:
        for _ in scripted.responses.create(model="gpt-4o-mini", input="weather?", tools=tools,  # type: ignore[arg-type]
                                           stream=True):
            pass
        scripted.responses.create(model="gpt-4o-mini", input="weather?", tools=tools)  # type: ignore[arg-type]
    finally:
        agentvitals.shutdown()
    calls = [{"type": "tool_call", "id": f"call_0_{i}", "name": "weather", "arguments": {"city": "hello"}}
             for i in range(2)]
    for span in telemetry.spans("chat "):
        assert json.loads(span.attributes[GEN_AI_OUTPUT_MESSAGES]) == [
            {"role": "assistant", "parts": calls, "finish_reason": "tool_calls"}]


def test_responses_uninstrumented_after_shutdown(fake_llm: FakeLLMServer) -> None:
    telemetry = make_telemetry()
    agentvitals.shutdown()
    client(fake_llm).responses.create(model="gpt-4o-mini", input="hi")
    for _ in client(fake_llm).responses.create(model="gpt-4o-mini", input="hi", stream=True):
        pass
    assert telemetry.spans() == []
    assert not isinstance(vars(openai.resources.responses.responses.Responses)["create"], wrapt.FunctionWrapper)


# --- opt-in stream usage (init(stream_usage=True)) ---------------------------------------------------
def test_stream_usage_opt_in_prices_a_stream_that_did_not_ask(fake_llm: FakeLLMServer) -> None:
    telemetry = make_telemetry(stream_usage=True)
    try:
        with agentvitals.task("agent"):
            chunks = list(client(fake_llm).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES,
                                                                   stream=True))
    finally:
        agentvitals.shutdown()
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 1200  # the extra final chunk
    assert_priced_chat(telemetry.span("chat "), stream=True)
    assert_task_accounts_for(telemetry, fake_llm, "agent", input_tokens=1200, output_tokens=50)


def test_stream_usage_opt_in_applies_to_raw_response_streams(fake_llm: FakeLLMServer) -> None:
    telemetry = make_telemetry(stream_usage=True)
    try:
        raw = client(fake_llm).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES,
                                                                         stream=True)
        chunks = list(raw.parse())
    finally:
        agentvitals.shutdown()
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 1200
    assert_priced_chat(telemetry.span("chat "), stream=True)


@pytest.mark.parametrize("options", [{"include_usage": False}, {}], ids=["include_usage-false", "empty"])
def test_stream_usage_opt_in_keeps_the_callers_stream_options(fake_llm: FakeLLMServer,
                                                              options: dict[str, bool]) -> None:
    telemetry = make_telemetry(stream_usage=True)
    try:
        chunks = list(client(fake_llm).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True,
                                                               stream_options=options))  # type: ignore[arg-type]
    finally:
        agentvitals.shutdown()
    assert all(chunk.choices for chunk in chunks)  # no usage chunk: the caller's choice stands
    assert telemetry.span("chat ").attributes[USAGE_REPORTED] is False


def test_stream_usage_opt_in_leaves_plain_calls_alone(fake_llm: FakeLLMServer) -> None:
    telemetry = make_telemetry(stream_usage=True)
    try:
        response = client(fake_llm).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        agentvitals.shutdown()
    assert response.choices[0].message.content == "hello"
    assert_priced_chat(telemetry.span("chat "))
