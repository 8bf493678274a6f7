"""The name registry: semconv names match OpenTelemetry's constants; Prometheus names are derived once."""

from __future__ import annotations

import pytest
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import error_attributes, server_attributes

from agentvitals.attributes import TASK_ID
from agentvitals.metrics import (
    COST,
    LATENCY_THRESHOLD_SECONDS,
    METRICS,
    OPERATION_DURATION,
    TASK_ACTIVE,
    TOKEN_USAGE,
    Instrument,
    Metric,
)
from agentvitals.monitoring.series import prometheus_name, series
from agentvitals.semconv import (
    ERROR_TYPE,
    GEN_AI_DATA_SOURCE_ID,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_ID,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    GEN_AI_TOKEN_TYPE,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_NAME,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    SERVER_ADDRESS,
)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (GEN_AI_OPERATION_NAME, gen_ai.GEN_AI_OPERATION_NAME),
        (GEN_AI_PROVIDER_NAME, gen_ai.GEN_AI_PROVIDER_NAME),
        (GEN_AI_REQUEST_MODEL, gen_ai.GEN_AI_REQUEST_MODEL),
        (GEN_AI_RESPONSE_MODEL, gen_ai.GEN_AI_RESPONSE_MODEL),
        (GEN_AI_USAGE_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_INPUT_TOKENS),
        (GEN_AI_USAGE_OUTPUT_TOKENS, gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS),
        (GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
        (GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
        (GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
        (GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK),
        (GEN_AI_TOOL_NAME, gen_ai.GEN_AI_TOOL_NAME),
        (GEN_AI_DATA_SOURCE_ID, gen_ai.GEN_AI_DATA_SOURCE_ID),
        (GEN_AI_TOKEN_TYPE, gen_ai.GEN_AI_TOKEN_TYPE),
        (ERROR_TYPE, error_attributes.ERROR_TYPE),
        (SERVER_ADDRESS, server_attributes.SERVER_ADDRESS),
    ],
)
def test_semconv_names_match_opentelemetry(ours: str, theirs: str) -> None:
    assert ours == theirs


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        (OPERATION_DURATION, "gen_ai_client_operation_duration_seconds"),
        (TOKEN_USAGE, "gen_ai_client_token_usage"),
        (COST, "agentvitals_cost_usd_total"),
        (TASK_ACTIVE, "agentvitals_task_active_time_seconds_total"),
        (Metric("hw.gpu.memory.usage", Instrument.UP_DOWN_COUNTER, "By", ""), "hw_gpu_memory_usage_bytes"),
        (Metric("hw.gpu.utilization", Instrument.GAUGE, "1", ""), "hw_gpu_utilization_ratio"),
        (Metric("agent.cost", Instrument.COUNTER, "USD", ""), "agent_cost_USD_total"),
        (Metric("x.rate", Instrument.GAUGE, "By/s", ""), "x_rate_bytes_per_second"),
    ],
)
def test_prometheus_name(metric: Metric, expected: str) -> None:
    assert prometheus_name(metric) == expected


def test_histogram_series_need_a_suffix() -> None:
    assert series(OPERATION_DURATION, "_bucket") == "gen_ai_client_operation_duration_seconds_bucket"
    with pytest.raises(ValueError):
        series(OPERATION_DURATION, )


def test_every_latency_histogram_has_the_alert_threshold_as_a_bucket_edge() -> None:
    for metric in METRICS:
        if metric.instrument is Instrument.HISTOGRAM and metric.unit == "s":
            assert LATENCY_THRESHOLD_SECONDS in (metric.buckets or ()), metric.name


def test_metric_names_are_unique_and_labels_bounded() -> None:
    assert len({m.name for m in METRICS}) == len(METRICS)
    forbidden = {TASK_ID, GEN_AI_RESPONSE_ID, GEN_AI_TOOL_CALL_ID}
    for metric in METRICS:
        assert not forbidden & set(metric.labels), metric.name
