"""The name registry: semconv names match OpenTelemetry's constants; Prometheus names are derived once."""

from __future__ import annotations

import pytest
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import error_attributes, server_attributes

from agentvitals import names
from agentvitals.names import Instrument, Metric, prometheus_name


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (names.GEN_AI_OPERATION_NAME, gen_ai.GEN_AI_OPERATION_NAME),
        (names.GEN_AI_PROVIDER_NAME, gen_ai.GEN_AI_PROVIDER_NAME),
        (names.GEN_AI_REQUEST_MODEL, gen_ai.GEN_AI_REQUEST_MODEL),
        (names.GEN_AI_RESPONSE_MODEL, gen_ai.GEN_AI_RESPONSE_MODEL),
        (names.GEN_AI_USAGE_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_INPUT_TOKENS),
        (names.GEN_AI_USAGE_OUTPUT_TOKENS, gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS),
        (names.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
        (names.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
        (names.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
        (names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK),
        (names.GEN_AI_TOOL_NAME, gen_ai.GEN_AI_TOOL_NAME),
        (names.GEN_AI_DATA_SOURCE_ID, gen_ai.GEN_AI_DATA_SOURCE_ID),
        (names.GEN_AI_TOKEN_TYPE, gen_ai.GEN_AI_TOKEN_TYPE),
        (names.ERROR_TYPE, error_attributes.ERROR_TYPE),
        (names.SERVER_ADDRESS, server_attributes.SERVER_ADDRESS),
    ],
)
def test_semconv_names_match_opentelemetry(ours: str, theirs: str) -> None:
    assert ours == theirs


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        (names.OPERATION_DURATION, "gen_ai_client_operation_duration_seconds"),
        (names.TOKEN_USAGE, "gen_ai_client_token_usage"),
        (names.COST, "agentvitals_cost_usd_total"),
        (names.TASK_ACTIVE, "agentvitals_task_active_time_seconds_total"),
        (Metric("hw.gpu.memory.usage", Instrument.UP_DOWN_COUNTER, "By", ""), "hw_gpu_memory_usage_bytes"),
        (Metric("hw.gpu.utilization", Instrument.GAUGE, "1", ""), "hw_gpu_utilization_ratio"),
        (Metric("agent.cost", Instrument.COUNTER, "USD", ""), "agent_cost_USD_total"),
        (Metric("x.rate", Instrument.GAUGE, "By/s", ""), "x_rate_bytes_per_second"),
    ],
)
def test_prometheus_name(metric: Metric, expected: str) -> None:
    assert prometheus_name(metric) == expected


def test_histogram_series_need_a_suffix() -> None:
    assert names.OPERATION_DURATION.series("_bucket") == "gen_ai_client_operation_duration_seconds_bucket"
    with pytest.raises(ValueError):
        names.OPERATION_DURATION.series()


def test_every_latency_histogram_has_the_alert_threshold_as_a_bucket_edge() -> None:
    for metric in names.METRICS:
        if metric.instrument is Instrument.HISTOGRAM and metric.unit == "s":
            assert names.LATENCY_THRESHOLD_SECONDS in (metric.buckets or ()), metric.name


def test_metric_names_are_unique_and_labels_bounded() -> None:
    assert len({m.name for m in names.METRICS}) == len(names.METRICS)
    forbidden = {names.TASK_ID, names.GEN_AI_RESPONSE_ID, names.GEN_AI_TOOL_CALL_ID}
    for metric in names.METRICS:
        assert not forbidden & set(metric.labels), metric.name
