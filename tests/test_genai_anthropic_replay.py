"""Anthropic messages, replayed from real recorded responses through the real ``anthropic`` SDK instrumented only
by ``agentvitals.init()``: request/response attributes, finish reasons mapped to the conventions' values,
streams (``create(stream=True)`` and ``messages.stream()``), the caller's errors, content as parts, both
generations of names."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
from opentelemetry.trace import StatusCode

from agentvitals.metrics import genai_conventions
from agentvitals.semconv import (
    ERROR_TYPE,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_STOP_SEQUENCES,
    GEN_AI_REQUEST_TEMPERATURE,
    GEN_AI_REQUEST_TOP_K,
    GEN_AI_REQUEST_TOP_P,
    GEN_AI_RESPONSE_FINISH_REASONS,
    GEN_AI_RESPONSE_ID,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_SYSTEM_INSTRUCTIONS,
    GEN_AI_TOOL_DEFINITIONS,
    GEN_AI_USAGE_INPUT_TOKENS,
    SERVER_ADDRESS,
    SERVER_PORT,
    TokenCount,
    genai_keys,
)
from tests.conftest import Telemetry
from tests.genai_checks import content, durations, one_duration, token_total
from tests.genai_replay import recorded_events, recorded_request, recorded_response, replay


def client() -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test_anthropic_api_key", max_retries=0)


def async_client() -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key="test_anthropic_api_key", max_retries=0)


def chat_span(telemetry: Telemetry) -> Any:
    return telemetry.span("chat ")


def stream_request(cassette: str) -> dict[str, Any]:
    """The recorded request as ``messages.stream()`` takes it (the helper sets ``stream`` itself)."""
    request = recorded_request(cassette)
    request.pop("stream", None)
    return request


ALL_PARAMS = "anthropic/test_sync_messages_create_with_all_params.yaml"
SAMPLING = ("temperature", "top_k", "top_p")


def all_params_request() -> dict[str, Any]:
    """The recorded request; anthropic 2.x takes the sampling parameters through ``extra_body`` only, which
    puts them in the request body as the recording has them."""
    request = recorded_request(ALL_PARAMS)
    request["extra_body"] = {name: request.pop(name) for name in SAMPLING}
    return request


def test_request_attributes_and_mapped_finish_reason(otel: Telemetry, names: str) -> None:
    with replay.use_cassette(ALL_PARAMS) as cassette:
        client().messages.create(**all_params_request())
    assert json.loads(cassette.requests[0].body) == recorded_request(ALL_PARAMS)  # sent as recorded
    recorded = recorded_response(ALL_PARAMS)
    attributes = chat_span(otel).attributes
    assert attributes[GEN_AI_REQUEST_TOP_K] == 40
    assert attributes[GEN_AI_REQUEST_TOP_P] == 0.9
    assert attributes[GEN_AI_REQUEST_TEMPERATURE] == 0.7
    assert attributes[GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert attributes[GEN_AI_REQUEST_STOP_SEQUENCES] == ("STOP",)
    assert recorded["stop_reason"] == "end_turn"
    assert attributes[GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attributes[GEN_AI_RESPONSE_ID] == recorded["id"]
    assert attributes[SERVER_ADDRESS] == "api.anthropic.com" and attributes[SERVER_PORT] == 443
    labels = one_duration(otel, names)
    assert labels[GEN_AI_RESPONSE_MODEL] == recorded["model"] and labels[SERVER_ADDRESS] == "api.anthropic.com"


async def test_async_messages(otel: Telemetry, names: str) -> None:
    with replay.use_cassette(ALL_PARAMS):
        await async_client().messages.create(**all_params_request())
    assert chat_span(otel).attributes[GEN_AI_REQUEST_TOP_K] == 40
    assert token_total(otel, names, TokenCount.OUTPUT) == recorded_response(ALL_PARAMS)["usage"]["output_tokens"]


def test_tool_use_finish_reason_and_parts(capturing: Telemetry) -> None:
    cassette = "anthropic/test_sync_messages_create_captures_tool_use_content.yaml"
    request = recorded_request(cassette)
    with replay.use_cassette(cassette):
        client().messages.create(**request)
    span = chat_span(capturing)
    block = recorded_response(cassette)["content"][0]
    assert span.attributes[GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_call",)
    assert content(span, GEN_AI_OUTPUT_MESSAGES) == [{
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": block["id"], "name": block["name"], "arguments": block["input"]}],
        "finish_reason": "tool_call",
    }]
    tool = request["tools"][0]
    assert content(span, GEN_AI_TOOL_DEFINITIONS) == [{"type": "function", "name": tool["name"],
                                                       "description": tool["description"],
                                                       "parameters": tool["input_schema"]}]


def test_tool_results_and_system_instructions_are_parts(capturing: Telemetry) -> None:
    # A follow-up turn with the tool's result, and a system prompt (parameters the recording lacks: replay
    # ignores the body, the recorded answer still comes back).
    cassette = "anthropic/test_sync_messages_create_captures_content.yaml"
    messages = [
        {"role": "user", "content": "What is the weather in SF?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                           "input": {"city": "San Francisco"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "rainy, 57°F"}]},
    ]
    with replay.use_cassette(cassette):
        client().messages.create(model="claude-sonnet-4-20250514", max_tokens=100, messages=messages,
                                 system=[{"type": "text", "text": "Answer briefly."}])
    span = chat_span(capturing)
    assert content(span, GEN_AI_SYSTEM_INSTRUCTIONS) == [{"type": "text", "content": "Answer briefly."}]
    assert content(span, GEN_AI_INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": "What is the weather in SF?"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "toolu_1", "name": "get_weather",
                                         "arguments": {"city": "San Francisco"}}]},
        {"role": "user", "parts": [{"type": "tool_call_response", "id": "toolu_1", "response": "rainy, 57°F"}]},
    ]


def test_thinking_is_a_reasoning_part(capturing: Telemetry) -> None:
    cassette = "anthropic/test_sync_messages_create_captures_thinking_content.yaml"
    with replay.use_cassette(cassette):
        client().messages.create(**recorded_request(cassette))
    (message,) = content(chat_span(capturing), GEN_AI_OUTPUT_MESSAGES)
    kinds = [part["type"] for part in message["parts"]]
    assert kinds == [block["type"].replace("thinking", "reasoning")
                     for block in recorded_response(cassette)["content"]]
    assert message["parts"][0]["content"].startswith(recorded_response(cassette)["content"][0]["thinking"][:100])


CACHE = "anthropic/test_sync_messages_create_aggregates_cache_tokens.yaml"


def test_cache_tokens_under_each_generations_key(otel: Telemetry, names: str) -> None:
    with replay.use_cassette(CACHE):
        client().messages.create(**recorded_request(CACHE))
    usage = recorded_response(CACHE)["usage"]
    attributes = chat_span(otel).attributes
    keys = genai_keys(names)
    assert attributes[keys.usage[TokenCount.CACHE_READ]] == usage["cache_read_input_tokens"]
    assert attributes[keys.usage[TokenCount.CACHE_WRITE]] == usage["cache_creation_input_tokens"]
    other = genai_keys("current" if names == "latest" else "latest").usage[TokenCount.CACHE_WRITE]
    assert other not in attributes
    total_input = usage["input_tokens"] + usage["cache_read_input_tokens"] + usage["cache_creation_input_tokens"]
    assert attributes[GEN_AI_USAGE_INPUT_TOKENS] == total_input  # inclusive, as the conventions count
    assert token_total(otel, names, TokenCount.INPUT) == total_input
    for count, key in ((TokenCount.CACHE_READ, "cache_read_input_tokens"),
                       (TokenCount.CACHE_WRITE, "cache_creation_input_tokens")):
        assert token_total(otel, names, count) == usage[key]


# --- streams -------------------------------------------------------------------------------------------
STREAMED = "anthropic/test_sync_messages_create_streaming_captures_content.yaml"


def streamed_text(cassette: str) -> str:
    return "".join(e["delta"].get("text", "") for e in recorded_events(cassette) if e["type"] == "content_block_delta")


def test_stream_content_and_finish_reason(capturing: Telemetry, names: str) -> None:
    with replay.use_cassette(STREAMED):
        for _ in client().messages.create(**recorded_request(STREAMED)):
            pass
    span = chat_span(capturing)
    assert span.attributes[GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert content(span, GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": streamed_text(STREAMED)}], "finish_reason": "stop"}
    ]
    assert len(capturing.points(genai_conventions(names).time_to_first_chunk.name)) == 1


def test_raw_response_stream_has_response_attributes_and_usage(otel: Telemetry, names: str) -> None:
    with replay.use_cassette(STREAMED):
        raw = client().messages.with_raw_response.create(**recorded_request(STREAMED))
        assert raw.http_response.status_code == 200  # still the SDK's raw response
        events = list(raw.parse())
    assert events[-1].type == "message_stop"
    started = next(e for e in recorded_events(STREAMED) if e["type"] == "message_start")["message"]
    delta = next(e for e in recorded_events(STREAMED) if e["type"] == "message_delta")
    attributes = chat_span(otel).attributes
    assert attributes[GEN_AI_RESPONSE_ID] == started["id"]
    assert attributes[GEN_AI_RESPONSE_MODEL] == started["model"]
    assert attributes[GEN_AI_USAGE_INPUT_TOKENS] == started["usage"]["input_tokens"]
    assert attributes[GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert token_total(otel, names, TokenCount.OUTPUT) == delta["usage"]["output_tokens"]


async def test_caller_raising_mid_async_stream_marks_the_span_failed(otel: Telemetry) -> None:
    cassette = "anthropic/test_sync_messages_create_streaming_user_exception.yaml"
    with replay.use_cassette(cassette), pytest.raises(CallerError):
        stream = await async_client().messages.create(**recorded_request(cassette))
        async with stream:
            async for _ in stream:
                raise CallerError
    assert chat_span(otel).attributes[ERROR_TYPE] == "CallerError"


def test_stream_helper(capturing: Telemetry) -> None:
    cassette = "anthropic/test_sync_messages_stream_captures_content.yaml"
    with replay.use_cassette(cassette):
        with client().messages.stream(**stream_request(cassette)) as stream:
            text = "".join(stream.text_stream)
    assert text == streamed_text(cassette)
    (message,) = content(chat_span(capturing), GEN_AI_OUTPUT_MESSAGES)
    assert message == {"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": "stop"}


class CallerError(Exception):
    pass


def test_caller_raising_mid_stream_marks_the_span_failed(otel: Telemetry, names: str) -> None:
    cassette = "anthropic/test_sync_messages_create_streaming_user_exception.yaml"
    error = CallerError("the caller's own failure")
    with replay.use_cassette(cassette), pytest.raises(CallerError) as raised:
        with client().messages.create(**recorded_request(cassette)) as stream:
            for _ in stream:
                raise error
    assert raised.value is error
    span = chat_span(otel)
    assert span.attributes[ERROR_TYPE] == "CallerError" and span.status.status_code is StatusCode.ERROR
    assert [p.attributes[ERROR_TYPE] for p in durations(otel, names)] == ["CallerError"]


def test_caller_raising_inside_the_stream_helper_marks_the_span_failed(otel: Telemetry) -> None:
    cassette = "anthropic/test_sync_messages_stream_user_exception.yaml"
    with replay.use_cassette(cassette), pytest.raises(CallerError):
        with client().messages.stream(**stream_request(cassette)) as stream:
            for _ in stream.text_stream:
                raise CallerError
    assert chat_span(otel).attributes[ERROR_TYPE] == "CallerError"
    assert otel.ledger.open == {}


async def test_caller_raising_inside_the_async_stream_helper_marks_the_span_failed(otel: Telemetry) -> None:
    cassette = "anthropic/test_sync_messages_stream_user_exception.yaml"
    with replay.use_cassette(cassette), pytest.raises(CallerError):
        async with async_client().messages.stream(**stream_request(cassette)) as stream:
            async for _ in stream.text_stream:
                raise CallerError
    assert chat_span(otel).attributes[ERROR_TYPE] == "CallerError"


def test_stream_helper_closed_early_is_not_a_failure(otel: Telemetry) -> None:
    cassette = "anthropic/test_sync_messages_stream_closed_early_by_caller.yaml"
    with replay.use_cassette(cassette):
        with client().messages.stream(**stream_request(cassette)) as stream:
            for _ in stream:
                break
    span = chat_span(otel)
    assert span.end_time is not None and ERROR_TYPE not in span.attributes


def test_streamed_cache_tokens(otel: Telemetry, names: str) -> None:
    cassette = "anthropic/test_sync_messages_create_streaming_aggregates_cache_tokens.yaml"
    with replay.use_cassette(cassette):
        for _ in client().messages.create(**recorded_request(cassette)):
            pass
    start = next(e for e in recorded_events(cassette) if e["type"] == "message_start")["message"]["usage"]
    attributes = chat_span(otel).attributes
    assert attributes[genai_keys(names).usage[TokenCount.CACHE_READ]] == start["cache_read_input_tokens"]
    assert attributes[genai_keys(names).usage[TokenCount.CACHE_WRITE]] == start["cache_creation_input_tokens"]


# --- errors ----------------------------------------------------------------------------------------------
def test_api_error(otel: Telemetry, names: str) -> None:
    cassette = "anthropic/test_sync_messages_create_api_error.yaml"
    with replay.use_cassette(cassette), pytest.raises(anthropic.NotFoundError):
        client().messages.create(**recorded_request(cassette))
    assert chat_span(otel).attributes[ERROR_TYPE] == "NotFoundError"
    assert one_duration(otel, names)[ERROR_TYPE] == "NotFoundError"


def test_stream_helper_api_error(otel: Telemetry) -> None:
    cassette = "anthropic/test_sync_messages_stream_api_error.yaml"
    with replay.use_cassette(cassette), pytest.raises(anthropic.NotFoundError):
        with client().messages.stream(**stream_request(cassette)):
            pass
    assert chat_span(otel).attributes[ERROR_TYPE] == "NotFoundError"
