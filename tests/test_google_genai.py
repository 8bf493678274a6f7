"""The real ``google-genai`` SDK against the local fake Gemini backend: generate (plain and streamed) and embed,
sync (httpx2) and async over both of ``client.aio``'s transports (aiohttp, which it picks when installed, and
httpx2); Vertex clients are ``gcp.vertex_ai``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import httpx2
import pytest
import wrapt
from google import genai
from google.genai import errors, types

import agentvitals
from agentvitals._messages import OutputBuffer
from agentvitals._records import LLMResponse
from agentvitals.attributes import COST_AMOUNT, COST_PRICED, RESPONSE_REJECTED, USAGE_REPORTED
from agentvitals.instrumentation.google_genai import GENERATE, GENERATE_STREAM, finish_reason
from agentvitals.metrics import COST
from agentvitals.semconv import (
    ERROR_TYPE,
    GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OPERATION_NAME,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_OUTPUT_TYPE,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_CHOICE_COUNT,
    GEN_AI_REQUEST_FREQUENCY_PENALTY,
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_PRESENCE_PENALTY,
    GEN_AI_REQUEST_SEED,
    GEN_AI_REQUEST_STOP_SEQUENCES,
    GEN_AI_REQUEST_STREAM,
    GEN_AI_REQUEST_TEMPERATURE,
    GEN_AI_REQUEST_TOP_K,
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
)
from tests.conftest import Telemetry, make_telemetry
from tests.fake_llm import FakeLLMServer
from tests.task_checks import assert_task_accounts_for, llm_spans

MODEL = "gemini-2.5-flash"
# gemini-2.5-flash: input 0.30, cache read 0.03, output 2.50 USD per 1M tokens. The fake sends 1200 prompt tokens
# (1000 cached), 40 candidate and 10 thought tokens: thoughts are billed as output.
EXPECTED_COST = (200 * 0.30 + 1000 * 0.03 + 50 * 2.50) / 1e6
CONFIG = types.GenerateContentConfig(max_output_tokens=64, temperature=0.2, top_p=0.9)


def client(server: FakeLLMServer, mode: str = "ok", **options: object) -> genai.Client:
    """Hold on to it while calling: a collected Client closes its HTTP client (``client(...).models.x()`` fails)."""
    return genai.Client(api_key="test-key", http_options=types.HttpOptions(
        base_url=server.url, headers={"x-fake": mode}, **options))  # type: ignore[arg-type]


@asynccontextmanager
async def async_models(server: FakeLLMServer, transport: str) -> AsyncIterator[genai.client.AsyncClient]:
    """``client.aio`` over aiohttp (a session we pass, so the transport is certain) or httpx2."""
    if transport == "aiohttp":
        async with aiohttp.ClientSession() as session:
            gemini = client(server, aiohttp_client=session)
            yield gemini.aio
    else:
        async with httpx2.AsyncClient() as http:
            gemini = client(server, httpx_async_client=http)
            yield gemini.aio


TRANSPORTS = ["aiohttp", "httpx2"]


def assert_one_generation(telemetry: Telemetry, server: FakeLLMServer, *, stream: bool = False,
                          path: str = f"/v1beta/models/{MODEL}:generateContent") -> None:
    spans = llm_spans(telemetry)
    assert [s.name for s in spans] == [f"generate_content {MODEL}"]
    attributes = spans[0].attributes
    assert attributes[GEN_AI_OPERATION_NAME] == "generate_content"
    assert attributes[GEN_AI_PROVIDER_NAME] == "gcp.gemini"
    assert attributes[GEN_AI_REQUEST_MODEL] == MODEL
    assert attributes[GEN_AI_RESPONSE_MODEL] == MODEL
    assert attributes[GEN_AI_RESPONSE_ID] == "gemini-resp-1"
    assert attributes[GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attributes[GEN_AI_USAGE_INPUT_TOKENS] == 1200
    assert attributes[GEN_AI_USAGE_OUTPUT_TOKENS] == 50
    assert attributes[GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1000
    assert attributes[GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 10
    assert attributes[COST_AMOUNT] == pytest.approx(EXPECTED_COST)
    assert (GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in attributes) is stream
    assert (attributes.get(GEN_AI_REQUEST_STREAM) is True) is stream
    assert GEN_AI_INPUT_MESSAGES not in attributes
    assert telemetry.total(COST.name) == pytest.approx(EXPECTED_COST)
    if stream:
        path = path.replace(":generateContent", ":streamGenerateContent")
    assert {p.replace("/v1/", "/v1beta/"): n for p, n in server.answered.items()} == {path: 1}
    assert_task_accounts_for(telemetry, server, "agent", input_tokens=1200, output_tokens=50)


def test_generate_content_in_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with agentvitals.task("agent"):
        gemini = client(fake_llm)
        response = gemini.models.generate_content(model=MODEL, contents="hi", config=CONFIG)
    assert response.text == "hello"
    assert_one_generation(telemetry, fake_llm)
    llm = telemetry.span("generate_content ")
    assert llm.attributes[GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert llm.attributes[GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert llm.attributes[GEN_AI_REQUEST_TOP_P] == 0.9
    assert telemetry.span("POST").parent.span_id == llm.context.span_id


def test_generate_content_stream_in_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with agentvitals.task("agent"):
        gemini = client(fake_llm)
        chunks = gemini.models.generate_content_stream(model=MODEL, contents="hi")
        text = "".join(chunk.text or "" for chunk in chunks)
    assert text == "abcde"
    assert_one_generation(telemetry, fake_llm, stream=True)
    # The SDK sends the request on the first read: it still nests under the LLM span.
    assert telemetry.span("POST").parent.span_id == telemetry.span("generate_content ").context.span_id


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_async_generate_content_in_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer,
                                                transport: str) -> None:
    async with async_models(fake_llm, transport) as aio, agentvitals.task("agent"):
        response = await aio.models.generate_content(model=MODEL, contents="hi", config=CONFIG)
    assert response.text == "hello"
    assert_one_generation(telemetry, fake_llm)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_async_generate_content_stream_in_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer,
                                                       transport: str) -> None:
    async with async_models(fake_llm, transport) as aio, agentvitals.task("agent"):
        stream = await aio.models.generate_content_stream(model=MODEL, contents="hi")
        text = "".join([chunk.text or "" async for chunk in stream])
    assert text == "abcde"
    assert_one_generation(telemetry, fake_llm, stream=True)


@pytest.mark.parametrize(("mime_type", "output_type"),
                         [("application/json", "json"), ("text/plain", "text"), ("text/x.enum", "text"),
                          ("image/png", None)])
def test_every_config_field_is_a_request_attribute(telemetry: Telemetry, fake_llm: FakeLLMServer, mime_type: str,
                                                   output_type: str | None) -> None:
    config = types.GenerateContentConfig(
        max_output_tokens=64, temperature=0.2, top_p=0.9, top_k=40, stop_sequences=["END"], candidate_count=2,
        seed=7, presence_penalty=0.5, frequency_penalty=-0.5, response_mime_type=mime_type)
    gemini = client(fake_llm)
    gemini.models.generate_content(model=MODEL, contents="hi", config=config)
    attributes = telemetry.span("generate_content ").attributes
    assert {key: attributes.get(key) for key in (
        GEN_AI_REQUEST_TOP_K, GEN_AI_REQUEST_STOP_SEQUENCES, GEN_AI_REQUEST_CHOICE_COUNT, GEN_AI_REQUEST_SEED,
        GEN_AI_REQUEST_PRESENCE_PENALTY, GEN_AI_REQUEST_FREQUENCY_PENALTY, GEN_AI_OUTPUT_TYPE)} == {
        GEN_AI_REQUEST_TOP_K: 40, GEN_AI_REQUEST_STOP_SEQUENCES: ("END",), GEN_AI_REQUEST_CHOICE_COUNT: 2,
        GEN_AI_REQUEST_SEED: 7, GEN_AI_REQUEST_PRESENCE_PENALTY: 0.5, GEN_AI_REQUEST_FREQUENCY_PENALTY: -0.5,
        GEN_AI_OUTPUT_TYPE: output_type}


@pytest.mark.parametrize("config", [types.EmbedContentConfig(output_dimensionality=256),
                                    {"output_dimensionality": 256}], ids=["model", "dict"])
def test_embed_content_dimension_count(telemetry: Telemetry, fake_llm: FakeLLMServer, config: object) -> None:
    gemini = client(fake_llm)
    gemini.models.embed_content(model="gemini-embedding-001", contents=["a"], config=config)  # type: ignore[arg-type]
    attributes = telemetry.span("embeddings ").attributes
    assert attributes[GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 256
    assert GEN_AI_REQUEST_TEMPERATURE not in attributes


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_embed_content_in_a_task(telemetry: Telemetry, fake_llm: FakeLLMServer, is_async: bool) -> None:
    gemini = client(fake_llm)
    models = gemini.aio.models if is_async else gemini.models
    async with agentvitals.task("agent"):
        result = models.embed_content(model="gemini-embedding-001", contents=["a", "b"])
        if is_async:
            result = await result
    assert len(result.embeddings) == 2
    span = telemetry.span("embeddings gemini-embedding-001")
    assert span.attributes[GEN_AI_PROVIDER_NAME] == "gcp.gemini"
    assert span.attributes[GEN_AI_USAGE_INPUT_TOKENS] == 8
    assert span.attributes[COST_AMOUNT] == pytest.approx(8 * 0.15 / 1e6)
    assert_task_accounts_for(telemetry, fake_llm, "agent", input_tokens=8, output_tokens=0)


def test_vertex_client_is_gcp_vertex_ai(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    vertex = genai.Client(vertexai=True, api_key="test-key", http_options=types.HttpOptions(base_url=fake_llm.url))
    vertex.models.generate_content(model=MODEL, contents="hi")
    span = telemetry.span("generate_content ")
    assert span.attributes[GEN_AI_PROVIDER_NAME] == "gcp.vertex_ai"
    assert span.attributes[COST_AMOUNT] == pytest.approx(EXPECTED_COST)


def test_error_reraised_unchanged(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    gemini = client(fake_llm, "error_500")
    with pytest.raises(errors.ServerError):
        gemini.models.generate_content(model=MODEL, contents="hi")
    span = telemetry.span("generate_content ")
    assert span.attributes[ERROR_TYPE] == "ServerError"
    assert telemetry.total(COST.name) == 0


@pytest.mark.parametrize("mode", ["no_usage", "wrong_types"])
def test_missing_or_malformed_usage_is_absent_and_unpriced(telemetry: Telemetry, fake_llm: FakeLLMServer,
                                                           mode: str) -> None:
    gemini = client(fake_llm, mode)
    gemini.models.generate_content(model=MODEL, contents="hi")
    span = telemetry.span("generate_content ")
    assert span.end_time is not None
    assert GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
    if mode == "wrong_types":  # reported, but not token counts: rejected, never counted
        assert span.attributes[RESPONSE_REJECTED] == ("usage.input_tokens", "usage.output_tokens")
    else:
        assert span.attributes[USAGE_REPORTED] is False
    assert span.attributes[COST_PRICED] is False


def test_hostile_token_counts_are_rejected(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    gemini = client(fake_llm, "huge_usage")
    gemini.models.generate_content(model=MODEL, contents="hi")
    for _ in gemini.models.generate_content_stream(model=MODEL, contents="hi"):
        pass
    spans = telemetry.spans("generate_content ")
    assert len(spans) == 2
    for span in spans:
        assert span.attributes[RESPONSE_REJECTED] == ("usage.input_tokens",)
        assert GEN_AI_USAGE_INPUT_TOKENS not in span.attributes and span.attributes[GEN_AI_USAGE_OUTPUT_TOKENS] == 50
        assert span.attributes[COST_PRICED] is False


def test_stream_read_partly_then_released_ends_the_span(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    gemini = client(fake_llm)
    stream = gemini.models.generate_content_stream(model=MODEL, contents="hi")
    next(iter(stream))
    stream.close()
    span = telemetry.span("generate_content ")
    assert GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in span.attributes
    assert telemetry.ledger.open == {}


def test_content_captured_only_when_on(fake_llm: FakeLLMServer) -> None:
    weather = types.FunctionDeclaration(name="weather", description="The weather in a city.",
                                        parameters_json_schema={"type": "object"})
    config = types.GenerateContentConfig(system_instruction="Be brief.",
                                         tools=[types.Tool(function_declarations=[weather])])
    conversation = [
        types.Content(role="user", parts=[types.Part(text="weather in Lyon?")]),
        types.Content(role="model", parts=[types.Part(function_call=types.FunctionCall(
            id="c1", name="weather", args={"city": "Lyon"}))]),
        types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
            id="c1", name="weather", response={"sky": "clear"}))]),
    ]
    telemetry = make_telemetry(capture_content=True)
    try:
        gemini = client(fake_llm)
        gemini.models.generate_content(model=MODEL, contents="what is 2+2?", config=config)
        for _ in gemini.models.generate_content_stream(model=MODEL, contents=conversation):
            pass
    finally:
        agentvitals.shutdown()
    plain, streamed = telemetry.spans("generate_content ")
    assert json.loads(plain.attributes[GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "what is 2+2?"}]}]
    assert json.loads(plain.attributes[GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(plain.attributes[GEN_AI_TOOL_DEFINITIONS]) == [
        {"type": "function", "name": "weather", "description": "The weather in a city.",
         "parameters": {"type": "object"}}]
    assert json.loads(plain.attributes[GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "hello"}], "finish_reason": "stop"}]
    assert json.loads(streamed.attributes[GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "weather in Lyon?"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "weather",
                                         "arguments": {"city": "Lyon"}}]},
        {"role": "user", "parts": [{"type": "tool_call_response", "id": "c1", "response": {"sky": "clear"}}]}]
    assert json.loads(streamed.attributes[GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "abcde"}], "finish_reason": "stop"}]


def test_thoughts_and_function_calls_in_the_output() -> None:
    thought = types.Part(text="thinking", thought=True)
    call = types.Part(function_call=types.FunctionCall(id="c1", name="weather", args={"city": "Lyon"}))
    result = types.GenerateContentResponse(candidates=[types.Candidate(
        content=types.Content(role="model", parts=[thought, call]), finish_reason=types.FinishReason.MAX_TOKENS)])
    expected = [{"role": "assistant", "finish_reason": "length", "parts": [
        {"type": "reasoning", "content": "thinking"},
        {"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"city": "Lyon"}}]}]

    response = GENERATE.parse_response(result, True)
    assert response.finish_reasons == ("length",) and response.output_messages == expected
    assert GENERATE.parse_response(result, False).output_messages == []
    streamed, output = LLMResponse(), OutputBuffer(True, 100)
    assert GENERATE_STREAM.on_chunk is not None
    GENERATE_STREAM.on_chunk(result, streamed, output)
    assert output.finish_reasons() == ("length",) and output.messages() == expected


@pytest.mark.parametrize(("reason", "expected"), [
    (types.FinishReason.STOP, "stop"), (types.FinishReason.MAX_TOKENS, "length"),
    (types.FinishReason.SAFETY, "content_filter"), (types.FinishReason.OTHER, "error"),
    (types.FinishReason.MALFORMED_FUNCTION_CALL, "malformed_function_call"), (None, None), (7, None),
])
def test_finish_reasons(reason: object, expected: str | None) -> None:
    assert finish_reason(reason) == expected


def test_uninstrumented_after_shutdown(fake_llm: FakeLLMServer) -> None:
    telemetry = make_telemetry()
    agentvitals.shutdown()
    gemini = client(fake_llm)
    gemini.models.generate_content(model=MODEL, contents="hi")
    list(gemini.models.generate_content_stream(model=MODEL, contents="hi"))
    assert telemetry.spans() == []
    assert not isinstance(vars(genai.models.Models)["generate_content"], wrapt.FunctionWrapper)
