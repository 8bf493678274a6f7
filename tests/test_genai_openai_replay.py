"""OpenAI chat completions and embeddings, replayed from real recorded responses through the real ``openai`` SDK
instrumented only by ``agentvitals.init()``: every request/response attribute of the conventions, streams,
errors, content in the conventions' form, in both generations of names."""

from __future__ import annotations

import gc
import json
from typing import Any

import openai
import pytest
from opentelemetry.trace import StatusCode

from agentvitals.metrics import genai_conventions
from agentvitals.semconv import (
    ERROR_TYPE,
    GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_OUTPUT_TYPE,
    GEN_AI_REQUEST_CHOICE_COUNT,
    GEN_AI_REQUEST_ENCODING_FORMATS,
    GEN_AI_REQUEST_FREQUENCY_PENALTY,
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_PRESENCE_PENALTY,
    GEN_AI_REQUEST_SEED,
    GEN_AI_REQUEST_STOP_SEQUENCES,
    GEN_AI_REQUEST_TEMPERATURE,
    GEN_AI_RESPONSE_FINISH_REASONS,
    GEN_AI_RESPONSE_ID,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_TOOL_DEFINITIONS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    OPENAI_REQUEST_SERVICE_TIER,
    OPENAI_RESPONSE_SERVICE_TIER,
    OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
    SERVER_ADDRESS,
    SERVER_PORT,
    TokenCount,
)
from tests.conftest import Telemetry
from tests.genai_checks import content, durations, names_param, one_duration, telemetry_for, token_total
from tests.genai_replay import recorded_events, recorded_request, recorded_response, replay

API_KEY = "test_openai_api_key"


def client() -> openai.OpenAI:
    return openai.OpenAI(api_key=API_KEY, max_retries=0)


def async_client() -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=API_KEY, max_retries=0)


def chat_span(telemetry: Telemetry) -> Any:
    return telemetry.span("chat ")


# --- request and response attributes ------------------------------------------------------------------
EXTRA_PARAMS = "openai/test_chat_completion_extra_params.yaml"


def assert_extra_params(telemetry: Telemetry, names: str) -> None:
    recorded = recorded_response(EXTRA_PARAMS)
    span = chat_span(telemetry)
    attributes = span.attributes
    assert span.name == "chat gpt-4o-mini"
    assert attributes[GEN_AI_REQUEST_SEED] == 42
    assert attributes[GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert attributes[GEN_AI_REQUEST_TEMPERATURE] == 0.5
    assert attributes[GEN_AI_OUTPUT_TYPE] == "text"
    assert attributes[OPENAI_REQUEST_SERVICE_TIER] == "default"
    assert attributes[OPENAI_RESPONSE_SERVICE_TIER] == recorded["service_tier"]
    assert attributes[OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == recorded["system_fingerprint"]
    assert attributes[GEN_AI_RESPONSE_ID] == recorded["id"]
    assert attributes[GEN_AI_RESPONSE_MODEL] == recorded["model"]
    assert attributes[GEN_AI_USAGE_INPUT_TOKENS] == recorded["usage"]["prompt_tokens"]
    assert attributes[GEN_AI_USAGE_OUTPUT_TOKENS] == recorded["usage"]["completion_tokens"]
    assert attributes[SERVER_ADDRESS] == "api.openai.com" and attributes[SERVER_PORT] == 443
    assert GEN_AI_REQUEST_CHOICE_COUNT not in attributes  # n was not sent
    # The conventions' metric attributes: response model, server, service tier; never the fingerprint.
    labels = one_duration(telemetry, names)
    assert labels[GEN_AI_RESPONSE_MODEL] == recorded["model"]
    assert labels[SERVER_ADDRESS] == "api.openai.com" and labels[SERVER_PORT] == 443
    assert labels[OPENAI_RESPONSE_SERVICE_TIER] == recorded["service_tier"]
    assert OPENAI_RESPONSE_SYSTEM_FINGERPRINT not in labels and GEN_AI_REQUEST_SEED not in labels
    assert token_total(telemetry, names, TokenCount.INPUT) == recorded["usage"]["prompt_tokens"]
    assert token_total(telemetry, names, TokenCount.OUTPUT) == recorded["usage"]["completion_tokens"]


def test_request_and_response_attributes(otel: Telemetry, names: str) -> None:
    with replay.use_cassette(EXTRA_PARAMS):
        client().chat.completions.create(**recorded_request(EXTRA_PARAMS))
    assert_extra_params(otel, names)


async def test_request_and_response_attributes_async(otel: Telemetry, names: str) -> None:
    cassette = "openai/test_async_chat_completion_extra_params.yaml"
    with replay.use_cassette(cassette):
        await async_client().chat.completions.create(**recorded_request(cassette))
    span = chat_span(otel)
    assert span.attributes[GEN_AI_REQUEST_SEED] == 42
    assert span.attributes[OPENAI_RESPONSE_SERVICE_TIER] == recorded_response(cassette)["service_tier"]
    assert one_duration(otel, names)[GEN_AI_RESPONSE_MODEL] == recorded_response(cassette)["model"]


def test_penalties(otel: Telemetry) -> None:
    # The recording did not send penalties; replay ignores the body, so the recorded response still answers.
    with replay.use_cassette(EXTRA_PARAMS):
        client().chat.completions.create(**recorded_request(EXTRA_PARAMS), frequency_penalty=0.25,
                                         presence_penalty=-0.5)
    assert chat_span(otel).attributes[GEN_AI_REQUEST_FREQUENCY_PENALTY] == 0.25
    assert chat_span(otel).attributes[GEN_AI_REQUEST_PRESENCE_PENALTY] == -0.5


def test_stop_sequence_given_as_a_string_is_a_list(otel: Telemetry) -> None:
    cassette = "openai/test_chat_completion_handle_stop_sequences_as_string.yaml"
    assert recorded_request(cassette)["stop"] == "stop"
    with replay.use_cassette(cassette):
        client().chat.completions.create(**recorded_request(cassette))
    assert chat_span(otel).attributes[GEN_AI_REQUEST_STOP_SEQUENCES] == ("stop",)


def test_sdk_sentinels_are_not_recorded(otel: Telemetry) -> None:
    cassette = "openai/test_chat_completion_handles_not_given.yaml"
    with replay.use_cassette(cassette):
        client().chat.completions.create(**recorded_request(cassette), seed=openai.omit, temperature=openai.NOT_GIVEN,
                                         stop=openai.omit, n=openai.NOT_GIVEN, response_format=openai.omit)
    attributes = chat_span(otel).attributes
    for key in (GEN_AI_REQUEST_SEED, GEN_AI_REQUEST_TEMPERATURE, GEN_AI_REQUEST_STOP_SEQUENCES,
                GEN_AI_REQUEST_CHOICE_COUNT, GEN_AI_OUTPUT_TYPE):
        assert key not in attributes


def test_choice_count_only_when_not_one(otel: Telemetry) -> None:
    cassette = "openai/test_chat_completion_n_1_is_not_reported.yaml"
    with replay.use_cassette(cassette):
        client().chat.completions.create(**recorded_request(cassette))
    assert GEN_AI_REQUEST_CHOICE_COUNT not in chat_span(otel).attributes


def test_multiple_choices(capturing: Telemetry) -> None:
    cassette = "openai/test_chat_completion_multiple_choices.yaml"
    with replay.use_cassette(cassette):
        client().chat.completions.create(**recorded_request(cassette))
    span = chat_span(capturing)
    recorded = recorded_response(cassette)
    assert span.attributes[GEN_AI_REQUEST_CHOICE_COUNT] == 2
    assert span.attributes[GEN_AI_RESPONSE_FINISH_REASONS] == tuple(c["finish_reason"] for c in recorded["choices"])
    assert content(span, GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": c["message"]["content"]}],
         "finish_reason": c["finish_reason"]}
        for c in recorded["choices"]
    ]


# --- streams -------------------------------------------------------------------------------------------
MULTI_CHOICE_STREAM = "openai/test_chat_completion_multiple_choices_streaming.yaml"


def expected_choices(cassette: str) -> dict[int, dict[str, Any]]:
    """Each choice's text and finish reason, assembled from the recorded chunks by choice index."""
    choices: dict[int, dict[str, Any]] = {}
    for chunk in recorded_events(cassette):
        for choice in chunk.get("choices") or ():
            state = choices.setdefault(choice["index"], {"text": "", "finish_reason": None})
            state["text"] += choice["delta"].get("content") or ""
            state["finish_reason"] = choice.get("finish_reason") or state["finish_reason"]
    return choices


def assert_choices_kept_apart(telemetry: Telemetry, cassette: str) -> None:
    span = chat_span(telemetry)
    expected = expected_choices(cassette)
    assert len(expected) == 2 and expected[0]["text"] != expected[1]["text"]
    assert content(span, GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": expected[i]["text"]}],
         "finish_reason": expected[i]["finish_reason"]}
        for i in sorted(expected)
    ]
    reasons = tuple(expected[i]["finish_reason"] for i in sorted(expected))
    assert span.attributes[GEN_AI_RESPONSE_FINISH_REASONS] == reasons
    last = recorded_events(cassette)[-1]
    assert span.attributes[GEN_AI_USAGE_INPUT_TOKENS] == last["usage"]["prompt_tokens"]


def test_stream_with_two_choices_keeps_them_apart(capturing: Telemetry) -> None:
    with replay.use_cassette(MULTI_CHOICE_STREAM):
        for _ in client().chat.completions.create(**recorded_request(MULTI_CHOICE_STREAM)):
            pass
    assert_choices_kept_apart(capturing, MULTI_CHOICE_STREAM)


async def test_async_stream_with_two_choices_keeps_them_apart(capturing: Telemetry) -> None:
    cassette = "openai/test_async_chat_completion_multiple_choices_streaming.yaml"
    with replay.use_cassette(cassette):
        stream = await async_client().chat.completions.create(**recorded_request(cassette))
        async for _ in stream:
            pass
    assert_choices_kept_apart(capturing, cassette)


RAW_STREAM = "openai/test_chat_completion_with_raw_response_streaming.yaml"


def test_raw_response_stream_has_response_attributes_and_usage(otel: Telemetry, names: str) -> None:
    with replay.use_cassette(RAW_STREAM):
        raw = client().chat.completions.with_raw_response.create(**recorded_request(RAW_STREAM))
        assert raw.http_response.status_code == 200  # still the SDK's raw response
        chunks = list(raw.parse())
    last = recorded_events(RAW_STREAM)[-1]
    assert chunks[-1].usage is not None
    attributes = chat_span(otel).attributes
    assert attributes[GEN_AI_RESPONSE_ID] == last["id"]
    assert attributes[GEN_AI_RESPONSE_MODEL] == last["model"]
    assert attributes[GEN_AI_USAGE_INPUT_TOKENS] == last["usage"]["prompt_tokens"]
    assert attributes[GEN_AI_USAGE_OUTPUT_TOKENS] == last["usage"]["completion_tokens"]
    assert attributes[OPENAI_RESPONSE_SERVICE_TIER] == "default"
    assert attributes[GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert token_total(otel, names, TokenCount.INPUT) == last["usage"]["prompt_tokens"]
    assert len(otel.points(genai_conventions(names).time_to_first_chunk.name)) == 1


def test_raw_response_stream_never_parsed_still_ends_its_span(otel: Telemetry) -> None:
    with replay.use_cassette(RAW_STREAM):
        raw = client().chat.completions.with_raw_response.create(**recorded_request(RAW_STREAM))
    del raw
    gc.collect()
    assert chat_span(otel).end_time is not None
    assert otel.ledger.open == {}


async def test_async_raw_response(otel: Telemetry) -> None:
    cassette = "openai/test_async_chat_completion_with_raw_response.yaml"
    with replay.use_cassette(cassette):
        raw = await async_client().chat.completions.with_raw_response.create(**recorded_request(cassette))
    assert raw.parse().id == recorded_response(cassette)["id"]
    assert chat_span(otel).attributes[GEN_AI_RESPONSE_ID] == recorded_response(cassette)["id"]


CONTEXT_STREAM = "openai/test_chat_completion_with_context_manager_streaming.yaml"


class CallerError(Exception):
    pass


def test_caller_raising_mid_stream_marks_the_span_failed(otel: Telemetry, names: str) -> None:
    error = CallerError("the caller's own failure")
    with replay.use_cassette(CONTEXT_STREAM), pytest.raises(CallerError) as raised:
        with client().chat.completions.create(**recorded_request(CONTEXT_STREAM)) as stream:
            for _ in stream:
                raise error
    assert raised.value is error  # propagated unchanged
    span = chat_span(otel)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[ERROR_TYPE] == "CallerError"
    assert [p.attributes[ERROR_TYPE] for p in durations(otel, names)] == ["CallerError"]


async def test_caller_raising_mid_async_stream_marks_the_span_failed(otel: Telemetry) -> None:
    cassette = "openai/test_async_chat_completion_streaming.yaml"
    with replay.use_cassette(cassette), pytest.raises(CallerError):
        stream = await async_client().chat.completions.create(**recorded_request(cassette))
        async with stream:
            async for _ in stream:
                raise CallerError
    assert chat_span(otel).attributes[ERROR_TYPE] == "CallerError"


def test_stream_closed_early_ends_the_span_unfailed(otel: Telemetry) -> None:
    with replay.use_cassette(CONTEXT_STREAM):
        with client().chat.completions.create(**recorded_request(CONTEXT_STREAM)) as stream:
            next(iter(stream))
    span = chat_span(otel)
    assert ERROR_TYPE not in span.attributes and span.status.status_code is not StatusCode.ERROR


# --- errors ----------------------------------------------------------------------------------------------
def test_api_error(otel: Telemetry, names: str) -> None:
    cassette = "openai/test_chat_completion_404.yaml"
    with replay.use_cassette(cassette), pytest.raises(openai.NotFoundError):
        client().chat.completions.create(**recorded_request(cassette))
    span = chat_span(otel)
    assert span.attributes[ERROR_TYPE] == "NotFoundError"
    labels = one_duration(otel, names)
    assert labels[ERROR_TYPE] == "NotFoundError" and GEN_AI_RESPONSE_MODEL not in labels
    conventions = genai_conventions(names)
    if names == "latest":  # counters count every call (0 when it failed); per-call histograms skip failures
        for count in (TokenCount.INPUT, TokenCount.OUTPUT):
            points = otel.points(conventions.usage_counters[count].name)
            assert [(p.value, p.attributes["gen_ai.token.modality"]) for p in points] == [(0, "unknown")]
            assert ERROR_TYPE not in points[0].attributes
        assert otel.points(conventions.token_distribution[TokenCount.INPUT].metric.name) == []
    else:
        assert otel.points(conventions.token_usage.name) == []  # type: ignore[union-attr]


# --- content (capture on) ----------------------------------------------------------------------------
def test_input_and_output_messages(capturing: Telemetry) -> None:
    cassette = "openai/test_chat_completion_with_content.yaml"
    request = recorded_request(cassette)
    with replay.use_cassette(cassette):
        client().chat.completions.create(**request)
    span = chat_span(capturing)
    assert content(span, GEN_AI_INPUT_MESSAGES) == [
        {"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]} for m in request["messages"]
    ]
    choice = recorded_response(cassette)["choices"][0]
    assert content(span, GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": choice["message"]["content"]}],
         "finish_reason": choice["finish_reason"]}
    ]


TOOL_CALLS = "openai/test_chat_completion_tool_calls_with_content.yaml"


def test_tool_calls_and_results_are_parts(capturing: Telemetry) -> None:
    first, second = recorded_request(TOOL_CALLS, 0), recorded_request(TOOL_CALLS, 1)
    with replay.use_cassette(TOOL_CALLS):
        client().chat.completions.create(**first)
        client().chat.completions.create(**second)
    asked, answered = capturing.spans("chat ")
    calls = recorded_response(TOOL_CALLS, 0)["choices"][0]["message"]["tool_calls"]
    expected_calls = [{"type": "tool_call", "id": c["id"], "name": c["function"]["name"],
                       "arguments": json.loads(c["function"]["arguments"])} for c in calls]
    output = content(asked, GEN_AI_OUTPUT_MESSAGES)
    assert output == [{"role": "assistant", "parts": expected_calls, "finish_reason": "tool_calls"}]
    assert content(asked, GEN_AI_TOOL_DEFINITIONS)[0]["name"] == first["tools"][0]["function"]["name"]
    history = content(answered, GEN_AI_INPUT_MESSAGES)
    assert [m["role"] for m in history] == [m["role"] for m in second["messages"]]
    assistant = next(m for m in history if m["role"] == "assistant")
    assert [p for p in assistant["parts"] if p["type"] == "tool_call"] == expected_calls
    results = [m["parts"][0] for m in history if m["role"] == "tool"]
    assert [(p["type"], p["id"]) for p in results] == [("tool_call_response", c["id"]) for c in calls]
    assert [p["response"] for p in results] == [m["content"] for m in second["messages"] if m["role"] == "tool"]


def test_streamed_tool_calls_are_reassembled(capturing: Telemetry) -> None:
    cassette = "openai/test_chat_completion_multiple_tools_streaming_with_content.yaml"
    with replay.use_cassette(cassette):
        for _ in client().chat.completions.create(**recorded_request(cassette)):
            pass
    calls: dict[int, dict[str, Any]] = {}
    for chunk in recorded_events(cassette):
        for choice in chunk.get("choices") or ():
            for call in choice["delta"].get("tool_calls") or ():
                state = calls.setdefault(call["index"], {"id": None, "name": None, "arguments": ""})
                state["id"] = call.get("id") or state["id"]
                state["name"] = (call.get("function") or {}).get("name") or state["name"]
                state["arguments"] += (call.get("function") or {}).get("arguments") or ""
    assert len(calls) == 2
    (message,) = content(chat_span(capturing), GEN_AI_OUTPUT_MESSAGES)
    assert message["finish_reason"] == "tool_calls"
    assert [p for p in message["parts"] if p["type"] == "tool_call"] == [
        {"type": "tool_call", "id": c["id"], "name": c["name"], "arguments": json.loads(c["arguments"])}
        for _, c in sorted(calls.items())
    ]


@names_param
def test_content_is_bounded_and_stays_valid_json(names: str) -> None:
    for telemetry in telemetry_for(names, capture=True, content_max_length=120):
        with replay.use_cassette(TOOL_CALLS):
            client().chat.completions.create(**recorded_request(TOOL_CALLS, 1))
        span = chat_span(telemetry)
        for key in (GEN_AI_INPUT_MESSAGES, GEN_AI_OUTPUT_MESSAGES):
            assert len(span.attributes[key]) <= 120
            assert isinstance(content(span, key), list)  # parses: still JSON


def test_no_content_without_capture(otel: Telemetry) -> None:
    with replay.use_cassette(TOOL_CALLS):
        client().chat.completions.create(**recorded_request(TOOL_CALLS, 0))
    attributes = chat_span(otel).attributes
    assert not {GEN_AI_INPUT_MESSAGES, GEN_AI_OUTPUT_MESSAGES, GEN_AI_TOOL_DEFINITIONS} & set(attributes)


# --- embeddings ------------------------------------------------------------------------------------------
def test_embeddings_dimensions(otel: Telemetry, names: str) -> None:
    cassette = "openai/test_embeddings_with_dimensions.yaml"
    with replay.use_cassette(cassette):
        client().embeddings.create(**recorded_request(cassette))
    span = otel.span("embeddings ")
    assert span.attributes[GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 512
    assert span.attributes[GEN_AI_USAGE_INPUT_TOKENS] == recorded_response(cassette)["usage"]["prompt_tokens"]
    assert one_duration(otel, names, "embeddings")[GEN_AI_RESPONSE_MODEL] == recorded_response(cassette)["model"]
    series = genai_conventions(names).embeddings_input_tokens
    sums = [p.sum for p in otel.points(series.metric.name) if p.attributes["gen_ai.operation.name"] == "embeddings"]
    assert sums == [recorded_response(cassette)["usage"]["prompt_tokens"]]


async def test_async_embeddings_encoding_format(otel: Telemetry) -> None:
    cassette = "openai/test_async_embeddings_with_encoding_format.yaml"
    with replay.use_cassette(cassette):
        await async_client().embeddings.create(**recorded_request(cassette))
    assert otel.span("embeddings ").attributes[GEN_AI_REQUEST_ENCODING_FORMATS] == ("base64",)


def test_embeddings_error(otel: Telemetry, names: str) -> None:
    cassette = "openai/test_embeddings_model_not_found.yaml"
    with replay.use_cassette(cassette), pytest.raises(openai.NotFoundError):
        client().embeddings.create(**recorded_request(cassette))
    assert otel.span("embeddings ").attributes[ERROR_TYPE] == "NotFoundError"
    assert one_duration(otel, names, "embeddings")[ERROR_TYPE] == "NotFoundError"
