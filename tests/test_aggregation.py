"""The in-process metrics path gives readers what the SDK's own instruments would have given them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

import agentvitals
from agentvitals import names
from agentvitals._aggregation import CARDINALITY_LIMIT, InProcessMetrics, supports
from agentvitals._sdk import _views
from agentvitals._telemetry import Telemetry, create_instrument, current

SCOPE = InstrumentationScope(names.INSTRUMENTATION_SCOPE, "test", names.SCHEMA_URL)
LLM = {names.GEN_AI_OPERATION_NAME: "chat", names.GEN_AI_PROVIDER_NAME: "openai",
       names.GEN_AI_REQUEST_MODEL: "gpt-4o-mini"}
tracer = TracerProvider().get_tracer("test")


def in_process() -> tuple[InMemoryMetricReader, Callable[[names.Metric], Any]]:
    reader = InMemoryMetricReader()
    MeterProvider(metric_readers=[reader], views=_views())  # registers the reader
    metrics = InProcessMetrics(SCOPE, Resource.create())
    metrics.attach([reader])
    return reader, metrics.instrument


def through_sdk() -> tuple[InMemoryMetricReader, Callable[[names.Metric], Any]]:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader], views=_views()).get_meter(SCOPE.name, SCOPE.version,
                                                                              SCOPE.schema_url)
    return reader, lambda metric: create_instrument(meter, metric)


def record_workload(instrument: Callable[[names.Metric], Any], span: trace.Span) -> None:
    """Values on, between and beyond bucket bounds, several attribute sets (one in two key orders), errors,
    counters, and measurements inside a sampled span (exemplars)."""
    duration, usage = instrument(names.OPERATION_DURATION), instrument(names.TOKEN_USAGE)
    cost, tokens = instrument(names.COST), instrument(names.TOKENS)
    reordered = dict(reversed(list(LLM.items())))
    for value in (0.0, 0.01, 0.015, 2.0, 2.0000001, 3.5, 100.0):
        duration.record(value, LLM)
        duration.record(value / 2, reordered)
    duration.record(0.5, {**LLM, names.ERROR_TYPE: "TimeoutError"})
    duration.record(-1.0, LLM)  # dropped by both
    with trace.use_span(span):
        duration.record(0.3, LLM)
        usage.record(1200, {**LLM, names.GEN_AI_TOKEN_TYPE: "input"})
        cost.add(0.00042, LLM)
    usage.record(50, {**LLM, names.GEN_AI_TOKEN_TYPE: "output"})
    tokens.add(1000, {**LLM, names.TOKEN_TYPE: "cache_read"})
    cost.add(0.001, reordered)


def points_by_metric(reader: InMemoryMetricReader) -> dict[str, list[dict[str, Any]]]:
    data = reader.get_metrics_data()
    assert data is not None
    found: dict[str, list[dict[str, Any]]] = {}
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                assert metric.data.aggregation_temporality is AggregationTemporality.CUMULATIVE
                found[metric.name] = sorted(
                    ({"attributes": dict(p.attributes),
                      **{k: getattr(p, k) for k in ("value", "count", "sum", "min", "max") if hasattr(p, k)},
                      "buckets": list(getattr(p, "bucket_counts", [])),
                      "bounds": list(getattr(p, "explicit_bounds", [])),
                      "exemplars": sorted((e.value, e.trace_id, e.span_id) for e in p.exemplars)}
                     for p in metric.data.data_points),
                    key=lambda point: sorted(point["attributes"].items()),
                )
    return found


def test_readers_get_the_points_the_sdk_instruments_would_give() -> None:
    ours_reader, ours = in_process()
    sdk_reader, sdk = through_sdk()
    span = tracer.start_span("sampled")
    record_workload(ours, span)
    record_workload(sdk, span)
    expected = points_by_metric(sdk_reader)
    assert set(expected) == {m.name for m in (names.OPERATION_DURATION, names.TOKEN_USAGE, names.COST, names.TOKENS)}
    assert points_by_metric(ours_reader) == expected


def test_bound_llm_metrics_give_the_points_the_sdk_instruments_would_give() -> None:
    """What an LLM call records through its bound series (Telemetry.llm_metrics): the same points in both modes,
    and a recorder that was bound but never used exports no series."""
    sdk_reader = InMemoryMetricReader()
    sdk_telemetry = Telemetry(meter_provider=MeterProvider(metric_readers=[sdk_reader], views=_views()))
    ours_reader = InMemoryMetricReader()
    ours_in_process = InProcessMetrics(SCOPE, Resource.create())
    ours_telemetry = Telemetry(meter_provider=MeterProvider(metric_readers=[ours_reader], views=_views()),
                               in_process=ours_in_process)
    ours_in_process.attach([ours_reader])
    span = tracer.start_span("sampled")
    for telemetry in (sdk_telemetry, ours_telemetry):
        bound = telemetry.llm_metrics("chat", "openai", "gpt-4o-mini")
        assert telemetry.llm_metrics("chat", "openai", "gpt-4o-mini") is bound
        exemplar = telemetry.exemplar(span)
        bound.duration(0.3, exemplar)
        bound.duration(2.0, None)
        bound.input_tokens(1200, exemplar)
        bound.output_tokens(50, exemplar)
        bound.cache_read_tokens(1000, exemplar)
        bound.cost(0.00042, exemplar)
        bound.cost(-1.0, exemplar)  # dropped by both
    expected = points_by_metric(sdk_reader)
    assert set(expected) == {m.name for m in (names.OPERATION_DURATION, names.TOKEN_USAGE, names.COST, names.TOKENS)}
    assert points_by_metric(ours_reader) == expected


def test_each_reader_gets_the_exemplars_sampled_since_its_own_last_collection() -> None:
    first, second = InMemoryMetricReader(), InMemoryMetricReader()
    MeterProvider(metric_readers=[first, second], views=_views())  # registers the readers
    metrics = InProcessMetrics(SCOPE, Resource.create())
    metrics.attach([first, second])
    duration = metrics.instrument(names.OPERATION_DURATION)
    with tracer.start_as_current_span("call") as span:
        duration.record(0.3, LLM)
    context = span.get_span_context()
    expected = [(0.3, context.trace_id, context.span_id)]
    assert points_by_metric(first)[names.OPERATION_DURATION.name][0]["exemplars"] == expected
    assert points_by_metric(second)[names.OPERATION_DURATION.name][0]["exemplars"] == expected  # not taken by first
    duration.record(0.4, LLM)  # no span current: counted, no exemplar
    again = points_by_metric(first)[names.OPERATION_DURATION.name][0]
    assert again["count"] == 2 and again["exemplars"] == []


def test_attribute_sets_beyond_the_cardinality_limit_fold_into_one_overflow_series() -> None:
    reader, instrument = in_process()
    calls = instrument(names.UNPRICED_CALLS)
    for index in range(CARDINALITY_LIMIT + 500):
        calls.add(1, {**LLM, names.GEN_AI_REQUEST_MODEL: f"model-{index}"})
    points = points_by_metric(reader)[names.UNPRICED_CALLS.name]
    overflow = [p for p in points if p["attributes"] == {"otel.metric.overflow": True}]
    assert len(points) == CARDINALITY_LIMIT + 1 and len(overflow) == 1
    assert overflow[0]["value"] == 500 and sum(p["value"] for p in points) == CARDINALITY_LIMIT + 500


def test_unhashable_attribute_values_are_stored_like_the_sdk_stores_them() -> None:
    reader, instrument = in_process()
    calls = instrument(names.UNPRICED_CALLS)
    calls.add(1, {"reasons": ["stop", "length"]})
    calls.add(1, {"reasons": ("stop", "length")})
    calls.add(1, {"nested": [["x"]]})
    points = points_by_metric(reader)[names.UNPRICED_CALLS.name]
    assert [(p["attributes"], p["value"]) for p in points] == [
        ({"nested": "(['x'],)"}, 1), ({"reasons": ("stop", "length")}, 2)]


def test_concurrent_records_are_all_counted() -> None:
    reader, instrument = in_process()
    duration = instrument(names.OPERATION_DURATION)
    threads = [threading.Thread(target=lambda: [duration.record(0.05, LLM) for _ in range(20_000)])
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    point = points_by_metric(reader)[names.OPERATION_DURATION.name][0]
    assert point["count"] == 80_000 and point["buckets"][names.DURATION_BUCKETS.index(0.08)] == 80_000


def test_points_join_the_scope_the_sdk_collected_and_encode_to_otlp() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], views=_views())
    metrics = InProcessMetrics(SCOPE, Resource.create())
    metrics.attach([reader])
    provider.get_meter(SCOPE.name, SCOPE.version, SCOPE.schema_url).create_counter("sdk.side").add(1)
    with tracer.start_as_current_span("call"):
        metrics.instrument(names.OPERATION_DURATION).record(0.2, LLM)
    data = reader.get_metrics_data()
    assert data is not None
    (resource_metrics,) = data.resource_metrics
    (scope_metrics,) = resource_metrics.scope_metrics
    assert {m.name for m in scope_metrics.metrics} == {"sdk.side", names.OPERATION_DURATION.name}
    request = encode_metrics(data)
    (encoded,) = [m for m in request.resource_metrics[0].scope_metrics[0].metrics
                  if m.name == names.OPERATION_DURATION.name]
    assert encoded.histogram.data_points[0].count == 1 and len(encoded.histogram.data_points[0].exemplars) == 1


def test_a_failing_merge_still_delivers_what_the_sdk_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], views=_views())
    metrics = InProcessMetrics(SCOPE, Resource.create())
    metrics.attach([reader])
    provider.get_meter("app").create_counter("app.requests").add(1)
    metrics.instrument(names.COST).add(1.0, LLM)

    def broken(*args: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(metrics, "collect", broken)
    assert set(points_by_metric(reader)) == {"app.requests"}


@pytest.fixture
def shutdown_after() -> Iterator[None]:
    yield
    agentvitals.shutdown()


def test_init_aggregates_in_process_for_default_readers_and_falls_back_for_delta(shutdown_after: None) -> None:
    default = InMemoryMetricReader()
    delta = InMemoryMetricReader(preferred_temporality={Counter: AggregationTemporality.DELTA,
                                                        Histogram: AggregationTemporality.DELTA})
    assert supports([default]) and not supports([default, delta])

    agentvitals.init("aggregation-test", endpoint=False, instrumentations=[], metric_readers=[delta])
    assert type(current().operation_duration).__module__.startswith("opentelemetry.sdk")
    current().cost.add(0.5, LLM)
    data = delta.get_metrics_data()
    assert data is not None
    cost = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
            if m.name == names.COST.name]
    assert cost[0].data.aggregation_temporality is AggregationTemporality.DELTA
    assert cost[0].data.data_points[0].value == 0.5
    agentvitals.shutdown()

    agentvitals.init("aggregation-test", endpoint=False, instrumentations=[], metric_readers=[default])
    assert type(current().operation_duration).__module__ == "agentvitals._aggregation"


def test_a_prometheus_reader_serves_the_in_process_metrics(shutdown_after: None) -> None:
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import REGISTRY, generate_latest

    agentvitals.init("aggregation-test", endpoint=False, instrumentations=[],
                     metric_readers=[PrometheusMetricReader()])
    assert type(current().cost).__module__ == "agentvitals._aggregation"
    with agentvitals.llm_call("openai", "gpt-4o-mini") as call:
        call.record(input_tokens=1000, output_tokens=100)
    exposition = generate_latest(REGISTRY).decode()
    assert 'gen_ai_client_operation_duration_seconds_bucket{' in exposition
    count = next(line for line in exposition.splitlines()
                 if line.startswith("gen_ai_client_operation_duration_seconds_count{"))
    assert 'gen_ai_request_model="gpt-4o-mini"' in count and count.endswith(" 1.0")
    assert any(line.startswith(f"{names.COST.prometheus}{{") for line in exposition.splitlines())
