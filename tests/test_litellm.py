"""The real ``litellm`` against the local fake backend: ``openai/…`` routes (litellm drives the openai SDK),
``anthropic/…`` routes (its own httpx client), ``gemini/…``; one LLM span and one cost per call, whichever
instrumentation could also see it."""

from __future__ import annotations

import json
from typing import Any

import litellm
import pytest
import wrapt

import agentvitals
from agentvitals.attributes import BUDGET_LIMIT, COST_AMOUNT, COST_PRICED, COST_SOURCE, USAGE_REPORTED
from agentvitals.instrumentation.litellm import LiteLLMInstrumentor, semconv_provider
from agentvitals.metrics import COST
from agentvitals.semconv import (
    ERROR_TYPE,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_TEMPERATURE,
    GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    SERVER_ADDRESS,
)
from tests.conftest import Telemetry, make_telemetry
from tests.fake_llm import FakeLLMServer
from tests.task_checks import assert_task_accounts_for, llm_spans
from tests.test_anthropic import EXPECTED_COST as ANTHROPIC_COST
from tests.test_openai import EXPECTED_COST as OPENAI_COST

MESSAGES = [{"role": "user", "content": "hi"}]
GEMINI_COST = (200 * 0.30 + 1000 * 0.03 + 50 * 2.50) / 1e6  # gemini-2.5-flash; thinking billed as output


class Route:
    """A litellm model string, where the fake serves it, and what the backend sends back."""

    def __init__(self, model: str, provider: str, path: str, tokens: tuple[int, int], cost: float) -> None:
        self.model, self.provider, self.path, self.tokens, self.cost = model, provider, path, tokens, cost

    def kwargs(self, server: FakeLLMServer, mode: str = "ok") -> dict[str, Any]:
        base = server.url + "/v1" if self.provider == "openai" else server.url
        return {"api_base": base, "api_key": "sk-test", "num_retries": 0, "max_retries": 0,
                "extra_headers": {"x-fake": mode}}


OPENAI = Route("openai/gpt-4o-mini", "openai", "/v1/chat/completions", (1200, 50), OPENAI_COST)
ANTHROPIC = Route("anthropic/claude-opus-4-5", "anthropic", "/v1/messages", (1300, 40), ANTHROPIC_COST)
ROUTES = [pytest.param(OPENAI, id="openai"), pytest.param(ANTHROPIC, id="anthropic")]


def assert_one_priced_call(telemetry: Telemetry, server: FakeLLMServer, route: Route, *, stream: bool = False
                           ) -> None:
    spans = llm_spans(telemetry)
    bare_model = route.model.partition("/")[2]
    assert [s.name for s in spans] == [f"chat {bare_model}"]
    attributes = spans[0].attributes
    assert attributes[GEN_AI_PROVIDER_NAME] == route.provider
    assert attributes[GEN_AI_REQUEST_MODEL] == bare_model
    assert attributes[SERVER_ADDRESS] == "127.0.0.1"
    assert attributes[GEN_AI_USAGE_INPUT_TOKENS] == route.tokens[0]
    assert attributes[GEN_AI_USAGE_OUTPUT_TOKENS] == route.tokens[1]
    assert attributes[GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1000
    assert attributes[COST_SOURCE] == "local"  # our table, not litellm's estimate
    assert attributes[COST_AMOUNT] == pytest.approx(route.cost)
    assert (GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in attributes) is stream
    assert telemetry.total(COST.name) == pytest.approx(route.cost)
    assert not telemetry.spans("anthropic.")  # no SDK-native span either
    assert server.answered == {route.path: 1}
    assert_task_accounts_for(telemetry, server, "agent", input_tokens=route.tokens[0], output_tokens=route.tokens[1])


@pytest.mark.parametrize("route", ROUTES)
def test_completion(telemetry: Telemetry, fake_llm: FakeLLMServer, route: Route) -> None:
    with agentvitals.task("agent"):
        response = litellm.completion(model=route.model, messages=MESSAGES, **route.kwargs(fake_llm))
    assert response.choices[0].message.content == "hello"
    assert_one_priced_call(telemetry, fake_llm, route)


def test_completion_with_positional_model_and_messages(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with agentvitals.task("agent"):
        litellm.completion(OPENAI.model, MESSAGES, **OPENAI.kwargs(fake_llm))
    assert_one_priced_call(telemetry, fake_llm, OPENAI)


@pytest.mark.parametrize("route", ROUTES)
async def test_acompletion(telemetry: Telemetry, fake_llm: FakeLLMServer, route: Route) -> None:
    async with agentvitals.task("agent"):
        response = await litellm.acompletion(model=route.model, messages=MESSAGES, **route.kwargs(fake_llm))
    assert response.choices[0].message.content == "hello"
    assert_one_priced_call(telemetry, fake_llm, route)


@pytest.mark.parametrize("route", ROUTES)
def test_stream(telemetry: Telemetry, fake_llm: FakeLLMServer, route: Route) -> None:
    with agentvitals.task("agent"):
        chunks = list(litellm.completion(model=route.model, messages=MESSAGES, stream=True,
                                         stream_options={"include_usage": True}, **route.kwargs(fake_llm)))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) in ("abcde", "abc")
    assert_one_priced_call(telemetry, fake_llm, route, stream=True)


@pytest.mark.parametrize("route", ROUTES)
async def test_astream(telemetry: Telemetry, fake_llm: FakeLLMServer, route: Route) -> None:
    async with agentvitals.task("agent"):
        stream = await litellm.acompletion(model=route.model, messages=MESSAGES, stream=True,
                                           stream_options={"include_usage": True}, **route.kwargs(fake_llm))
        chunks = [chunk async for chunk in stream]
    assert chunks
    assert_one_priced_call(telemetry, fake_llm, route, stream=True)


def test_stream_without_usage_is_unpriced_unless_opted_in(fake_llm: FakeLLMServer) -> None:
    for opt_in in (False, True):
        telemetry = make_telemetry(stream_usage=opt_in)
        try:
            for _ in litellm.completion(model=OPENAI.model, messages=MESSAGES, stream=True, **OPENAI.kwargs(fake_llm)):
                pass
        finally:
            agentvitals.shutdown()
        attributes = telemetry.span("chat ").attributes
        if opt_in:
            assert attributes[GEN_AI_USAGE_INPUT_TOKENS] == 1200
            assert attributes[COST_AMOUNT] == pytest.approx(OPENAI_COST)
        else:
            assert attributes[USAGE_REPORTED] is False
            assert attributes[COST_PRICED] is False


def test_gemini_route_is_gcp_gemini(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with agentvitals.task("agent"):
        litellm.completion(model="gemini/gemini-2.5-flash", messages=MESSAGES, api_base=fake_llm.url, api_key="k",
                           num_retries=0)
    span = telemetry.span("chat gemini-2.5-flash")
    assert span.attributes[GEN_AI_PROVIDER_NAME] == "gcp.gemini"
    assert span.attributes[COST_AMOUNT] == pytest.approx(GEMINI_COST)
    assert_task_accounts_for(telemetry, fake_llm, "agent", input_tokens=1200, output_tokens=50)


def test_gemini_stream_sent_on_first_read_nests_its_http_call(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    # litellm opens Gemini streams lazily (on the first chunk read): the HTTP call must still be inside the LLM span.
    with agentvitals.task("agent"):
        stream = litellm.completion(model="gemini/gemini-2.5-flash", messages=MESSAGES, api_base=fake_llm.url,
                                    api_key="k", num_retries=0, stream=True, stream_options={"include_usage": True})
        assert fake_llm.requests == []  # nothing sent yet
        chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "abcde"
    llm = telemetry.span("chat gemini-2.5-flash")
    assert telemetry.span("POST").parent.span_id == llm.context.span_id
    assert llm.attributes[COST_AMOUNT] == pytest.approx(GEMINI_COST)
    assert_task_accounts_for(telemetry, fake_llm, "agent", input_tokens=1200, output_tokens=50)


@pytest.mark.parametrize("is_async", [False, True], ids=["embedding", "aembedding"])
async def test_embedding_is_one_span_though_litellm_calls_the_openai_sdk(
    telemetry: Telemetry, fake_llm: FakeLLMServer, is_async: bool
) -> None:
    kwargs = {"model": "openai/text-embedding-3-small", "input": ["hi"], **OPENAI.kwargs(fake_llm)}
    async with agentvitals.task("agent"):
        response = await litellm.aembedding(**kwargs) if is_async else litellm.embedding(**kwargs)
    assert response.data[0]["embedding"] == [0.1, 0.2]
    spans = llm_spans(telemetry)
    assert [s.name for s in spans] == ["embeddings text-embedding-3-small"]
    assert spans[0].attributes[GEN_AI_PROVIDER_NAME] == "openai"
    assert spans[0].attributes[COST_AMOUNT] == pytest.approx(8 * 0.02 / 1e6)
    assert fake_llm.answered == {"/v1/embeddings": 1}
    assert_task_accounts_for(telemetry, fake_llm, "agent", input_tokens=8, output_tokens=0)


def test_the_openai_sdk_underneath_stands_aside(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    # With an encoding_format, litellm.embedding calls the openai SDK's embeddings.with_raw_response.create
    # (without one, the client's low-level post). Without litellm's span, our span of that SDK call appears (so
    # the SDK path is really taken); with it, the SDK-level instrumentation stands aside: one span, one cost.
    kwargs = {"model": "openai/text-embedding-3-small", "input": ["hi"], "encoding_format": "float",
              **OPENAI.kwargs(fake_llm)}
    LiteLLMInstrumentor().uninstrument()
    try:
        litellm.embedding(**kwargs)
    finally:
        LiteLLMInstrumentor().instrument(skip_dep_check=True)
    litellm.embedding(**kwargs)
    spans = llm_spans(telemetry)
    assert [s.name for s in spans] == ["embeddings text-embedding-3-small"] * 2
    assert telemetry.total(COST.name) == pytest.approx(2 * 8 * 0.02 / 1e6)  # once per call


def test_error_reraised_unchanged(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with pytest.raises(litellm.InternalServerError):
        litellm.completion(model=OPENAI.model, messages=MESSAGES, **OPENAI.kwargs(fake_llm, "error_500"))
    span = telemetry.span("chat ")
    assert span.attributes[ERROR_TYPE] == "InternalServerError"
    assert telemetry.total(COST.name) == 0


def test_budget_stops_the_call_before_it_is_sent(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with agentvitals.task("agent", budget=agentvitals.Budget(max_llm_calls=1)):
        for _ in range(3):
            litellm.completion(model=OPENAI.model, messages=MESSAGES, **OPENAI.kwargs(fake_llm))
    assert fake_llm.answered_total() == 1
    assert telemetry.span("invoke_agent agent").attributes[BUDGET_LIMIT] == "llm_calls"


def test_request_fields_and_content_as_for_the_openai_sdk(fake_llm: FakeLLMServer) -> None:
    telemetry = make_telemetry(capture_content=True)
    try:
        litellm.completion(model=OPENAI.model, messages=[{"role": "system", "content": "Be brief."}, *MESSAGES],
                           temperature=0.2, max_tokens=64, **OPENAI.kwargs(fake_llm))
    finally:
        agentvitals.shutdown()
    attributes = telemetry.span("chat ").attributes
    assert attributes[GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert attributes[GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert json.loads(attributes[GEN_AI_INPUT_MESSAGES]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    assert json.loads(attributes[GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "hello"}], "finish_reason": "stop"}]


def test_uninstrumented_after_shutdown(fake_llm: FakeLLMServer) -> None:
    telemetry = make_telemetry()
    agentvitals.shutdown()
    litellm.completion(model=OPENAI.model, messages=MESSAGES, **OPENAI.kwargs(fake_llm))
    assert telemetry.spans() == []
    assert not isinstance(litellm.completion, wrapt.FunctionWrapper)


@pytest.mark.parametrize(("litellm_id", "expected"), [
    ("openai", "openai"), ("anthropic", "anthropic"), ("gemini", "gcp.gemini"), ("vertex_ai", "gcp.vertex_ai"),
    ("bedrock", "aws.bedrock"), ("azure", "azure.ai.openai"), ("azure_ai", "azure.ai.inference"),
    ("mistral", "mistral_ai"), ("xai", "x_ai"), ("watsonx", "ibm.watsonx.ai"), ("ollama", "ollama"),
])
def test_semconv_provider_names(litellm_id: str, expected: str) -> None:
    assert semconv_provider(litellm_id) == expected
