"""The shared mapping layer: bounded structured content, request fields, per-choice stream buffers, and the
generation switch as init() and the environment set it (tasks, tools, retrievals included)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

import agentvitals
from agentvitals._messages import TRUNCATED, OutputBuffer, bounded_json, message, text, tool_call
from agentvitals.attributes import RETRIEVAL_TOP_K
from agentvitals.instrumentation._request_fields import (
    CHOICE_COUNT,
    CONVERSATION_ID,
    INTEGER,
    OUTPUT_TYPE,
    TEXT_LIST,
    Field,
    request_attributes,
)
from agentvitals.instrumentation.anthropic import finish_reason
from agentvitals.metrics import (
    AGENT_DURATION,
    OPERATION_DURATION,
    RETRIEVAL_DURATION_LATEST,
    TOOL_DURATION,
    TOOL_DURATION_LATEST,
    genai_conventions,
)
from agentvitals.semconv import (
    ERROR_TYPE,
    GEN_AI_AGENT_NAME,
    GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OPERATION_NAME,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_RETRIEVAL_TOP_K,
    GEN_AI_TOOL_TYPE,
    LATEST_SCHEMA_URL,
    SCHEMA_URL,
)
from tests.conftest import Telemetry, make_telemetry
from tests.fake_llm import FakeLLMServer
from tests.genai_checks import telemetry_for


# --- bounded content ------------------------------------------------------------------------------------
def test_content_that_fits_is_plain_json() -> None:
    messages = [message("user", [text("hi")])]
    assert json.loads(bounded_json(messages, 1000)) == messages


@pytest.mark.parametrize("limit", [20, 90, 150, 400])
def test_long_content_is_cut_evenly_and_stays_valid_json(limit: int) -> None:
    messages = [message("user", [text("a" * 500)]),
                message("assistant", [text("b" * 40), tool_call("call_1", "lookup", '{"x": 1}')])]
    encoded = bounded_json(messages, limit)
    assert len(encoded) <= limit
    decoded = json.loads(encoded)
    if limit < 80:  # not even one message fits: an empty list, still JSON
        assert decoded == []
        return
    assert decoded[0]["role"] == "user"
    first = decoded[0]["parts"][0]["content"]
    assert first.endswith(TRUNCATED) and set(first[: -len(TRUNCATED)]) <= {"a"}
    for item in decoded:  # structure is never cut
        assert item["role"] in ("user", "assistant")
        assert all(part["type"] in ("text", "tool_call") for part in item["parts"])
    if len(decoded) == 2:
        assert decoded[1]["parts"][1]["name"] == "lookup" and decoded[1]["parts"][1]["id"] == "call_1"


def test_structure_too_long_drops_trailing_messages_not_validity() -> None:
    messages = [message("user", [text(str(i))]) for i in range(50)]
    encoded = bounded_json(messages, 200)
    decoded = json.loads(encoded)
    assert len(encoded) <= 200 and 0 < len(decoded) < 50
    assert decoded == messages[: len(decoded)]  # the first ones, untouched
    assert bounded_json(messages, 5) == "[]"


def test_values_json_cannot_encode_are_written_as_text() -> None:
    assert json.loads(bounded_json([{"role": "user", "parts": [{"type": "x", "value": object}]}], 500))


# --- request fields -------------------------------------------------------------------------------------
FIELDS = (
    Field.of("stop", ("stop", "stop_sequences"), TEXT_LIST),
    Field.of("n", "n", CHOICE_COUNT),
    Field.of("seed", "seed", INTEGER),
    Field.of("type", "response_format", OUTPUT_TYPE),
    Field.of("conversation", "conversation", CONVERSATION_ID),
)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"stop": "END"}, {"stop": ["END"]}),
        ({"stop_sequences": ["a", "b"]}, {"stop": ["a", "b"]}),
        ({"stop": [1, 2]}, {}),  # not strings: skipped, not guessed
        ({"n": 1}, {}),
        ({"n": 3}, {"n": 3}),
        ({"n": True}, {}),
        ({"seed": 7.5}, {}),
        ({"response_format": {"type": "json_schema", "json_schema": {}}}, {"type": "json"}),
        ({"response_format": {"type": "json_object"}}, {"type": "json"}),
        ({"response_format": {"type": "text"}}, {"type": "text"}),
        ({"response_format": dict}, {"type": "json"}),  # a schema class, as .parse() takes it
        ({"extra_body": {"seed": 3, "stop": "x"}}, {"seed": 3, "stop": ["x"]}),
        ({"seed": 1, "extra_body": {"seed": 3}}, {"seed": 1}),  # a direct argument wins
        ({"conversation": "conv_1"}, {"conversation": "conv_1"}),
        ({"conversation": {"id": "conv_2"}}, {"conversation": "conv_2"}),
        ({"conversation": {"id": ""}}, {}),
    ],
)
def test_request_fields(kwargs: dict[str, object], expected: dict[str, object]) -> None:
    assert request_attributes(kwargs, FIELDS) == expected


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_call"),
     ("refusal", "content_filter"), ("pause_turn", "pause_turn"), (None, None), (3, None)],
)
def test_anthropic_finish_reasons(stop_reason: object, expected: str | None) -> None:
    assert finish_reason(stop_reason) == expected


# --- streamed output ------------------------------------------------------------------------------------
def test_output_buffer_keeps_choices_apart_and_in_order() -> None:
    buffer = OutputBuffer(capture=True, limit=100)
    for index, word in ((1, "I'm"), (0, "I'm"), (1, " unable"), (0, " sorry")):
        buffer.add_text(index, word)
    buffer.add_tool_call(0, 0, call_id="c1", name="lookup", arguments='{"id"')
    buffer.add_tool_call(0, 0, arguments=': 7}')
    buffer.finish(1, "length")
    buffer.finish(0, "stop")
    assert buffer.finish_reasons() == ("stop", "length")
    assert buffer.messages() == [
        {"role": "assistant", "parts": [{"type": "text", "content": "I'm sorry"},
                                        {"type": "tool_call", "id": "c1", "name": "lookup", "arguments": {"id": 7}}],
         "finish_reason": "stop"},
        {"role": "assistant", "parts": [{"type": "text", "content": "I'm unable"}], "finish_reason": "length"},
    ]


def test_output_buffer_memory_is_bounded_and_off_without_capture() -> None:
    buffer = OutputBuffer(capture=True, limit=10)
    for _ in range(10_000):
        buffer.add_text(0, "abcdef")
    assert len(buffer.messages()[0]["parts"][0]["content"]) <= 16
    silent = OutputBuffer(capture=False, limit=10)
    silent.add_text(0, "secret")
    silent.finish(0, "stop")
    assert silent.messages() == [] and silent.finish_reasons() == ("stop",)


# --- the switch -------------------------------------------------------------------------------------------
@pytest.fixture
def latest() -> Iterator[Telemetry]:
    yield from telemetry_for("latest")


def test_environment_switch_selects_the_latest_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "database, gen_ai_latest_experimental")
    telemetry = make_telemetry()
    try:
        with agentvitals.llm_call("openai", "gpt-4o-mini") as call:
            call.record(input_tokens=3, output_tokens=2)
        assert telemetry.points(genai_conventions("latest").inference_duration.name)
        assert telemetry.points(OPERATION_DURATION.name) == []
        assert telemetry.span("chat ").instrumentation_scope.schema_url == LATEST_SCHEMA_URL
    finally:
        agentvitals.shutdown()


def test_init_argument_beats_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    telemetry = make_telemetry(genai_names="current")
    try:
        with agentvitals.llm_call("openai", "gpt-4o-mini") as call:
            call.record(input_tokens=3, output_tokens=2)
        assert telemetry.points(OPERATION_DURATION.name)
        assert telemetry.span("chat ").instrumentation_scope.schema_url == SCHEMA_URL
    finally:
        agentvitals.shutdown()


def test_a_bad_generation_name_is_a_clear_error() -> None:
    with pytest.raises(agentvitals.ConfigError, match="genai_names must be one of 'current', 'latest'"):
        agentvitals.init(endpoint=False, genai_names="v2")


def test_latest_names_for_tasks_tools_and_retrievals(latest: Telemetry) -> None:
    with agentvitals.task("triage"):
        with agentvitals.tool("lookup", tool_type="extension"):
            pass
        with agentvitals.retrieval("kb", top_k=4):
            pass
    with pytest.raises(RuntimeError), agentvitals.task("broken"):
        raise RuntimeError("boom")
    tools = latest.points(TOOL_DURATION_LATEST.name)
    assert [dict(p.attributes) for p in tools] == [{"gen_ai.tool.name": "lookup", GEN_AI_TOOL_TYPE: "extension"}]
    assert latest.points(TOOL_DURATION.name) == []
    assert latest.points(RETRIEVAL_DURATION_LATEST.name)
    retrieval = latest.span("retrieval kb")
    assert retrieval.attributes[GEN_AI_RETRIEVAL_TOP_K] == 4 and retrieval.attributes[RETRIEVAL_TOP_K] == 4
    agents = {p.attributes[GEN_AI_AGENT_NAME]: dict(p.attributes) for p in latest.points(AGENT_DURATION.name)}
    assert agents["triage"] == {GEN_AI_OPERATION_NAME: "invoke_agent", GEN_AI_AGENT_NAME: "triage"}
    assert agents["broken"][ERROR_TYPE] == "RuntimeError"


def test_latest_counters_count_calls_without_usage_as_zero(latest: Telemetry) -> None:
    with agentvitals.llm_call("openai", "gpt-4o-mini"):
        pass  # no usage reported
    conventions = genai_conventions("latest")
    for count, counter in conventions.usage_counters.items():
        values = [p.value for p in latest.points(counter.name)]
        assert values == ([0] if count.value in ("input", "output") else []), counter.name
    for series in conventions.token_distribution.values():
        assert latest.points(series.metric.name) == []  # never invented for a percentile


def test_current_names_stay_the_default(telemetry: Telemetry) -> None:
    with agentvitals.task("triage"), agentvitals.tool("lookup"):
        pass
    assert [dict(p.attributes) for p in telemetry.points(TOOL_DURATION.name)] == [{"gen_ai.tool.name": "lookup"}]
    assert telemetry.points(AGENT_DURATION.name) == []
    assert GEN_AI_RETRIEVAL_TOP_K not in telemetry.span("execute_tool lookup").attributes


# --- where content goes ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "on_span", "on_event"),
    [("span_only", True, False), ("event_only", False, True), ("span_and_event", True, True),
     ("no_content", False, False)],
)
def test_content_mode_from_the_environment(monkeypatch: pytest.MonkeyPatch, fake_llm: FakeLLMServer, mode: str,
                                           on_span: bool, on_event: bool) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", mode)
    telemetry = make_telemetry(capture_content=None)
    try:
        openai.OpenAI(base_url=fake_llm.url + "/v1", api_key="sk-test", max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        span = telemetry.span("chat ")
        for key in (GEN_AI_INPUT_MESSAGES, GEN_AI_OUTPUT_MESSAGES):
            assert (key in span.attributes) is on_span
        events = [e for e in span.events if e.name == GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS]
        assert len(events) == int(on_event)
        if on_event:
            details = events[0].attributes
            assert json.loads(details[GEN_AI_INPUT_MESSAGES]) == [
                {"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
            assert json.loads(details[GEN_AI_OUTPUT_MESSAGES])[0]["parts"] == [{"type": "text", "content": "hello"}]
    finally:
        agentvitals.shutdown()
