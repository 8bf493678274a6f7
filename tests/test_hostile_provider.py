"""Hostile provider data is validated once, at the record boundary: finish reasons stay bounded and linear;
token counts and costs that are not finite non-negative numbers in a sane range are rejected, the call marked,
counted and logged once, and nothing of them reaches counters, task totals or budgets."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentvitals
import agentvitals._lifecycle
from agentvitals._messages import OutputBuffer
from agentvitals._records import MAX_FINISH_REASONS, MAX_TOKENS, Usage, cost_usd, token_count
from agentvitals.attributes import COST_AMOUNT, COST_PRICED, COST_SOURCE, REJECTED_FIELD, RESPONSE_REJECTED
from agentvitals.instrumentation._streams import StreamRecorder
from agentvitals.instrumentation.openai import CHAT
from agentvitals.metrics import COST, REJECTED_VALUES, TASK_COST, TOKEN_USAGE
from agentvitals.semconv import GEN_AI_RESPONSE_FINISH_REASONS, GEN_AI_USAGE_INPUT_TOKENS, GEN_AI_USAGE_OUTPUT_TOKENS
from tests.conftest import Telemetry
from tests.fake_llm import OPENAI_USAGE, FakeLLMServer
from tests.stack import OtlpHttpSink

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def fresh_rejection_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agentvitals._lifecycle, "_rejection_logged", False)


def client(server: FakeLLMServer, mode: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0,
                         default_headers={"x-fake": mode})


# --- the validators ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "count"), [
    (0, 0), (1200, 1200), (MAX_TOKENS, MAX_TOKENS), (12.0, 12),
    (MAX_TOKENS + 1, None), (2**70, None), (-3, None), (1.5, None), (math.inf, None), (math.nan, None),
    (True, None), ("100", None), (None, None),
])
def test_token_counts_are_integers_in_a_sane_range(value: object, count: int | None) -> None:
    assert token_count(value) == count


@pytest.mark.parametrize(("value", "cost"), [
    (0, 0.0), (0.0125, 0.0125), (3, 3.0), (math.inf, None), (-math.inf, None), (math.nan, None), (-0.01, None),
    (True, None), ("0.01", None),
])
def test_costs_are_finite_and_non_negative(value: object, cost: float | None) -> None:
    assert cost_usd(value) == cost


def test_usage_names_what_it_rejected_and_keeps_the_rest() -> None:
    usage = Usage.of(input_tokens=2**70, output_tokens=50, cache_read_tokens=-1, reasoning_tokens=None)
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.reasoning_tokens) == (
        None, 50, None, None)
    assert usage.rejected == ("usage.input_tokens", "usage.cache_read_tokens")


def test_finish_reasons_are_one_per_choice_and_bounded() -> None:
    for capture in (False, True):
        output = OutputBuffer(capture, limit=100)
        for _ in range(1000):
            output.finish(0, "stop")
        assert output.finish_reasons() == ("stop",)
        output.finish(0, "length")
        assert output.finish_reasons() == ("length",)
        for index in (*range(1000), 2**70, -1, "7", None):
            output.finish(index, "x" * 10_000)
            output.add_text(index, "text")
            output.add_tool_call(index, index, name="n", arguments="{}")
        reasons = output.finish_reasons()
        assert len(reasons) == MAX_FINISH_REASONS and all(len(reason) == 64 for reason in reasons)
        assert len(output.messages()) == (MAX_FINISH_REASONS if capture else 0)


# --- a stream that repeats finish_reason on every chunk ---------------------------------------------------
def chunks(count: int, *, hostile: bool) -> list[Any]:
    def choice(reason: str | None) -> Any:
        return SimpleNamespace(index=0, finish_reason=reason, delta=SimpleNamespace(content="a"))

    body = [SimpleNamespace(model="m", id="c", usage=None, choices=[choice("stop" if hostile else None)])
            for _ in range(count)]
    return [*body, SimpleNamespace(model="m", id="c", usage=None, choices=[choice("stop")])]


def recorder_cpu_seconds(stream: list[Any], telemetry: Telemetry) -> float:
    """Thread CPU time our per-chunk work takes over ``stream`` (the chunks are built beforehand)."""
    from agentvitals._handler import current
    from agentvitals._lifecycle import start_llm

    invocation = start_llm(current(), provider="openai", operation="chat", model="m")
    assert CHAT.on_chunk is not None
    recorder = StreamRecorder(invocation, CHAT.on_chunk)
    started = time.thread_time()
    for chunk in stream:
        recorder.on_chunk(chunk)
    spent = time.thread_time() - started
    recorder.finish()
    return spent


def test_a_stream_repeating_its_finish_reason_costs_what_a_normal_one_does(telemetry: Telemetry) -> None:
    count = 40_000
    normal, hostile = chunks(count, hostile=False), chunks(count, hostile=True)
    # Interleaved and repeated, the smallest of each: CPU time of this thread only, compared in this run.
    normal_cpu = min(recorder_cpu_seconds(normal, telemetry) for _ in range(3))
    hostile_cpu = min(recorder_cpu_seconds(hostile, telemetry) for _ in range(3))
    # Linear: a constant factor more work per chunk (~4x here). Quadratic (40k appends to a growing tuple) was ~400x.
    assert hostile_cpu < 20 * normal_cpu, (hostile_cpu, normal_cpu)
    spans = telemetry.spans("chat ")
    assert spans and all(span.attributes[GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",) for span in spans)


def test_a_real_hostile_stream_ends_with_one_finish_reason(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    stream = client(fake_llm, "repeat_finish").chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, extra_headers={"x-fake-chunks": "300"})
    assert sum(1 for _ in stream) == 302
    assert telemetry.span("chat ").attributes[GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


# --- token counts of 2^70, a cost of Infinity -----------------------------------------------------------------
@pytest.fixture
def exporting() -> Iterator[OtlpHttpSink]:
    """init() exporting to a real OTLP receiver: the encoders see what we record."""
    with OtlpHttpSink() as sink:
        agentvitals.init("hostile", endpoint=sink.url, instrumentations=["openai"], metric_export_interval=3600)
        yield sink
        agentvitals.shutdown(timeout_s=10)


def exported_points(sink: OtlpHttpSink, metric: str) -> list[Any]:
    points = []
    for request in sink.received:
        for resource_metrics in getattr(request, "resource_metrics", ()):
            for scope_metrics in resource_metrics.scope_metrics:
                for found in scope_metrics.metrics:
                    if found.name == metric:
                        data = getattr(found, found.WhichOneof("data"))
                        points.extend(data.data_points)
    return points


def exported_spans(sink: OtlpHttpSink) -> list[Any]:
    return [span for request in sink.received for rs in getattr(request, "resource_spans", ())
            for ss in rs.scope_spans for span in ss.spans]


def attributes_of(item: Any) -> dict[str, Any]:
    def value(v: Any) -> Any:
        kind = v.WhichOneof("value")
        return tuple(value(x) for x in v.array_value.values) if kind == "array_value" else getattr(v, kind)

    return {a.key: value(a.value) for a in item.attributes}


def test_token_counts_beyond_any_model_are_rejected_and_the_metric_export_still_works(
        exporting: OtlpHttpSink, fake_llm: FakeLLMServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="agentvitals"):
        with agentvitals.task("hostile") as task:
            for _ in range(2):
                client(fake_llm, "huge_usage").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        run = task.run
        assert agentvitals.force_flush(timeout_s=10)
    assert agentvitals.export_stats()["failed_metric_exports"] == 0  # 2^70 did not break the export

    llm_spans = [attributes_of(s) for s in exported_spans(exporting) if s.name.startswith("chat ")]
    assert len(llm_spans) == 2
    for attributes in llm_spans:
        assert attributes[RESPONSE_REJECTED] == ("usage.input_tokens",)
        assert GEN_AI_USAGE_INPUT_TOKENS not in attributes and attributes[GEN_AI_USAGE_OUTPUT_TOKENS] == 50
        assert attributes[COST_PRICED] is False and COST_AMOUNT not in attributes  # partial usage: unpriced
    assert run is not None and run.input_tokens == 0 and run.output_tokens == 100 and run.cost_usd == 0
    rejected = [(attributes_of(p)[REJECTED_FIELD], p.as_int) for p in exported_points(exporting, REJECTED_VALUES.name)]
    assert rejected == [("usage.input_tokens", 2)]
    assert max(p.max for p in exported_points(exporting, TOKEN_USAGE.name)) <= MAX_TOKENS
    assert [r.getMessage() for r in caplog.records if "invalid" in r.getMessage()] == [
        "agentvitals: openai (model gpt-4o-mini) reported invalid usage.input_tokens; left out of tokens, cost and "
        "budgets (the span is marked agentvitals.response.rejected, the metric agentvitals.llm.rejected_values "
        "counts them; said once)"]


def test_an_infinite_gateway_cost_is_rejected_and_budgets_stay_sane(
        exporting: OtlpHttpSink, fake_llm: FakeLLMServer) -> None:
    budget = agentvitals.Budget(max_cost_usd=1.0)
    with agentvitals.task("gateway", budget=budget, raise_on_budget=True) as task:
        for stream in (False, True, False):  # plain and streamed; the budget is checked before each call
            result = client(fake_llm, "infinite_cost").chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=stream,
                **({"stream_options": {"include_usage": True}} if stream else {}))
            if stream:
                for _ in result:  # type: ignore[union-attr]
                    pass
    assert task.outcome is None and task.run is not None and task.run.exhausted is None
    assert agentvitals.force_flush(timeout_s=10)
    for span in (s for s in exported_spans(exporting) if s.name.startswith("chat ")):
        attributes = attributes_of(span)
        assert attributes[RESPONSE_REJECTED] == ("provider_cost",)
        assert attributes[COST_SOURCE] == "local" and 0 < attributes[COST_AMOUNT] < 1  # priced from our table
    costs = [p.as_double for p in exported_points(exporting, COST.name)]
    task_costs = [p.as_double for p in exported_points(exporting, TASK_COST.name)]
    assert costs and task_costs and all(math.isfinite(c) and 0 < c < 1 for c in costs + task_costs)


def test_a_manual_llm_call_with_invalid_values_is_marked_too() -> None:
    exporter = InMemorySpanExporter()
    agentvitals.init("manual", endpoint=False, span_exporter=exporter, instrumentations=[])
    try:
        with agentvitals.task("t") as task, agentvitals.llm_call("openai", "gpt-4o-mini") as call:
            call.record(input_tokens=-5, output_tokens=10, cost_usd=float("nan"))
        assert agentvitals.force_flush(timeout_s=10)
    finally:
        agentvitals.shutdown()
    span = next(s for s in exporter.get_finished_spans() if s.name.startswith("chat "))
    assert span.attributes[RESPONSE_REJECTED] == ("provider_cost", "usage.input_tokens")
    assert call.cost_usd is None and task.run is not None and task.run.unpriced_calls == 1


def test_openai_usage_shapes_still_read_as_before() -> None:
    from agentvitals.instrumentation._openai_format import chat_usage as _usage

    raw = SimpleNamespace(**{**OPENAI_USAGE, "prompt_tokens_details": SimpleNamespace(cached_tokens=1000),
                             "completion_tokens_details": SimpleNamespace(reasoning_tokens=10)})
    assert _usage(raw) == Usage(1200, 50, cache_read_tokens=1000, reasoning_tokens=10)
    assert _usage(SimpleNamespace()) is None
