"""The real ``anthropic`` SDK (2.x, native OpenTelemetry tracing on by default) against a local fake."""

from __future__ import annotations

import anthropic
import pytest

from agentvitals.attributes import COST_AMOUNT, TASK_COST_AMOUNT, TASK_LLM_CALLS
from agentvitals.metrics import COST
from agentvitals.semconv import (
    ERROR_TYPE,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_RESPONSE_FINISH_REASONS,
    GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
)
from tests.conftest import Telemetry
from tests.fake_llm import FakeLLMServer
from tests.programs import run_own_export

MESSAGES = [{"role": "user", "content": "hi"}]
MODEL = "claude-opus-4-5"
# Anthropic reports input 100 *plus* 1000 cache reads and 200 cache writes (additive).
# Opus 4.5: input 5.00, cache read 0.50, cache write 6.25, output 25.00 USD per 1M tokens.
EXPECTED_COST = (100 * 5.00 + 1000 * 0.50 + 200 * 6.25 + 40 * 25.00) / 1e6


def native_option(telemetry: Telemetry, native: bool) -> dict[str, object] | bool:
    # Native spans go to the test's provider (not the global one), so a second span would be seen.
    return {"tracer_provider": telemetry.tracer_provider} if native else False


def client(
    server: FakeLLMServer, telemetry: Telemetry, *, native: bool = True, mode: str = "ok"
) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test-secret", max_retries=0,
                               default_headers={"x-fake": mode}, open_telemetry=native_option(telemetry, native))


def async_client(server: FakeLLMServer, telemetry: Telemetry) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=server.url, api_key="sk-ant-test", max_retries=0,
                                    open_telemetry=native_option(telemetry, True))


def assert_one_priced_llm_span(telemetry: Telemetry) -> None:
    """One priced LLM span, ours. The SDK's native span, when on, is another layer inside ours (this provider is
    the application's, so both are exported: init()'s own export leaves it out, see the test below)."""
    llm_spans = [s for s in telemetry.spans() if s.attributes.get(GEN_AI_OPERATION_NAME) == "chat"]
    ours = [s for s in llm_spans if s.name.startswith("chat ")]
    assert [s.name for s in ours] == [f"chat {MODEL}"]
    for native in set(llm_spans) - set(ours):
        assert native.parent is not None and native.parent.span_id == ours[0].context.span_id
        assert COST_AMOUNT not in native.attributes
    attributes = ours[0].attributes
    assert attributes[GEN_AI_PROVIDER_NAME] == "anthropic"
    assert attributes[GEN_AI_USAGE_INPUT_TOKENS] == 1300  # inclusive, as semconv asks
    assert attributes[GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1000
    assert attributes[GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 200
    assert attributes[GEN_AI_USAGE_OUTPUT_TOKENS] == 40
    assert attributes[COST_AMOUNT] == pytest.approx(EXPECTED_COST)
    assert telemetry.total(COST.name) == pytest.approx(EXPECTED_COST)


@pytest.mark.parametrize("native", [True, False], ids=["native-tracing-on", "native-tracing-off"])
def test_exactly_one_llm_span_and_one_cost(telemetry: Telemetry, fake_llm: FakeLLMServer, native: bool) -> None:
    message = client(fake_llm, telemetry, native=native).messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    assert message.content[0].text == "hello"
    assert_one_priced_llm_span(telemetry)


def test_inits_own_export_has_one_llm_span_per_call_and_the_task_counts_one(fake_llm: FakeLLMServer) -> None:
    exported = run_own_export("anthropic", fake_llm.url)
    spans = {s["name"]: s for s in exported["spans"]}
    assert not [name for name in spans if name.startswith("anthropic.messages")]  # the native layer, left out
    llm, http = spans[f"chat {MODEL}"], spans["POST"]
    assert http["parent"] == llm["span_id"]  # attached to ours
    task = spans["invoke_agent ask"]["attributes"]
    assert task[TASK_LLM_CALLS] == 1 and task[TASK_COST_AMOUNT] == pytest.approx(EXPECTED_COST)


def test_native_span_kept_for_calls_we_do_not_instrument(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    # count_tokens is not an LLM call we instrument: the SDK's own span must survive.
    with pytest.raises(anthropic.NotFoundError):
        client(fake_llm, telemetry).messages.count_tokens(model=MODEL, messages=MESSAGES)
    assert [s.name for s in telemetry.spans("anthropic.")] == ["anthropic.messages.count_tokens"]


async def test_async_messages(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    await async_client(fake_llm, telemetry).messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    assert_one_priced_llm_span(telemetry)


@pytest.mark.parametrize("native", [True, False], ids=["native-tracing-on", "native-tracing-off"])
def test_stream(telemetry: Telemetry, fake_llm: FakeLLMServer, native: bool) -> None:
    stream = client(fake_llm, telemetry, native=native).messages.create(
        model=MODEL, max_tokens=64, messages=MESSAGES, stream=True
    )
    kinds = [event.type for event in stream]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert_one_priced_llm_span(telemetry)
    span = telemetry.span("chat ")
    assert span.attributes[GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)  # end_turn, as the conventions map it
    assert GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in span.attributes


async def test_async_stream(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    stream = await async_client(fake_llm, telemetry).messages.create(
        model=MODEL, max_tokens=64, messages=MESSAGES, stream=True
    )
    async for _ in stream:
        pass
    assert_one_priced_llm_span(telemetry)


def test_error_reraised_unchanged(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with pytest.raises(anthropic.InternalServerError):
        client(fake_llm, telemetry, mode="error_500").messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    span = telemetry.span("chat ")
    assert span.attributes[ERROR_TYPE] == "InternalServerError"


@pytest.mark.parametrize("native", [True, False], ids=["native-tracing-on", "native-tracing-off"])
def test_messages_stream_helper(telemetry: Telemetry, fake_llm: FakeLLMServer, native: bool) -> None:
    with client(fake_llm, telemetry, native=native).messages.stream(
        model=MODEL, max_tokens=64, messages=MESSAGES
    ) as stream:
        assert "".join(stream.text_stream) == "abc"
    assert_one_priced_llm_span(telemetry)
    assert telemetry.ledger.open == {}


def test_messages_stream_get_final_message(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    with client(fake_llm, telemetry).messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
        assert stream.get_final_message().usage.output_tokens == 40
    assert_one_priced_llm_span(telemetry)


async def test_async_messages_stream_helper(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    async with async_client(fake_llm, telemetry).messages.stream(
        model=MODEL, max_tokens=64, messages=MESSAGES
    ) as stream:
        message = await stream.get_final_message()
    assert message.content[0].text == "abc"
    assert_one_priced_llm_span(telemetry)
    assert telemetry.ledger.open == {}
