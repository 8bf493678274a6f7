"""The registry knows both generations of GenAI names: v1.41 (default) and semantic-conventions-genai v0.1.0."""

from __future__ import annotations

import re

import pytest
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.attributes import openai_attributes

from agentvitals import semconv
from agentvitals.attributes import TASK_ID
from agentvitals.metrics import (
    LATENCY_THRESHOLD_SECONDS,
    METRICS,
    Instrument,
    all_metrics,
    genai_conventions,
    metrics_for,
)
from agentvitals.monitoring import MonitoringConfig, Rules
from agentvitals.monitoring.series import prometheus_name
from agentvitals.semconv import Generation, TokenCount, genai_keys, generation_from_opt_in


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, Generation.CURRENT),
        ("", Generation.CURRENT),
        ("gen_ai_latest_experimental", Generation.LATEST),
        ("database, gen_ai_latest_experimental", Generation.LATEST),  # items are stripped
        ("http/dup,gen_ai_latest_experimental,database", Generation.LATEST),
        ("gen_ai", Generation.CURRENT),
        ("GEN_AI_LATEST_EXPERIMENTAL", Generation.CURRENT),  # compared exactly, as OpenTelemetry Python does
        ("gen_ai_latest_experimental_v2", Generation.CURRENT),
    ],
)
def test_the_standard_switch_is_read_as_a_comma_list(value: str | None, expected: Generation) -> None:
    assert generation_from_opt_in(value) is expected


def test_keys_that_differ_between_generations() -> None:
    current, latest = genai_keys("current"), genai_keys(Generation.LATEST)
    assert current.usage[TokenCount.CACHE_WRITE] == gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
    assert latest.usage[TokenCount.CACHE_WRITE] == "gen_ai.usage.cache_write.input_tokens"
    for count in (TokenCount.INPUT, TokenCount.OUTPUT, TokenCount.CACHE_READ, TokenCount.REASONING):
        assert current.usage[count] == latest.usage[count]
    assert current.workflow_attributes("triage") == {"gen_ai.operation.name": "invoke_workflow",
                                                     "gen_ai.workflow.name": "triage"}
    assert latest.workflow_attributes("triage") == {"gen_ai.operation.name": "invoke_workflow",
                                                    "gen_ai.agent.name": "triage"}
    assert (current.schema_url, latest.schema_url) == (semconv.SCHEMA_URL, semconv.LATEST_SCHEMA_URL)
    assert latest.retrieval_top_k == "gen_ai.retrieval.top_k" and current.retrieval_top_k is None


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (semconv.GEN_AI_REQUEST_SEED, gen_ai.GEN_AI_REQUEST_SEED),
        (semconv.GEN_AI_REQUEST_STOP_SEQUENCES, gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES),
        (semconv.GEN_AI_REQUEST_CHOICE_COUNT, gen_ai.GEN_AI_REQUEST_CHOICE_COUNT),
        (semconv.GEN_AI_OUTPUT_TYPE, gen_ai.GEN_AI_OUTPUT_TYPE),
        (semconv.GEN_AI_REQUEST_ENCODING_FORMATS, gen_ai.GEN_AI_REQUEST_ENCODING_FORMATS),
        (semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT),
        (semconv.GEN_AI_REQUEST_TOP_K, gen_ai.GEN_AI_REQUEST_TOP_K),
        (semconv.GEN_AI_SYSTEM_INSTRUCTIONS, gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS),
        (semconv.GEN_AI_CONVERSATION_ID, gen_ai.GEN_AI_CONVERSATION_ID),
        (semconv.OPENAI_REQUEST_SERVICE_TIER, openai_attributes.OPENAI_REQUEST_SERVICE_TIER),
        (semconv.OPENAI_RESPONSE_SERVICE_TIER, openai_attributes.OPENAI_RESPONSE_SERVICE_TIER),
        (semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT, openai_attributes.OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
    ],
)
def test_request_and_response_keys_come_from_opentelemetry(ours: str, theirs: str) -> None:
    assert ours == theirs


def test_current_generation_is_todays_registry() -> None:
    conventions = genai_conventions()
    assert conventions.generation is Generation.CURRENT
    assert metrics_for("current") == METRICS
    assert conventions.inference_duration.name == "gen_ai.client.operation.duration"
    assert conventions.embeddings_duration is conventions.inference_duration
    assert conventions.token_totals[TokenCount.INPUT].selector == {"gen_ai.token.type": "input"}
    assert conventions.token_totals[TokenCount.CACHE_WRITE].metric.name == "agentvitals.llm.tokens"
    assert set(m.name for m in conventions.metrics) <= {m.name for m in METRICS}


def test_latest_generation_names() -> None:
    conventions = genai_conventions("latest")
    names = {m.name for m in metrics_for("latest")}
    assert {
        "gen_ai.client.inference.duration", "gen_ai.client.inference.time_to_first_chunk",
        "gen_ai.client.embeddings.duration", "gen_ai.client.embeddings.operation.input_tokens",
        "gen_ai.client.inference.usage.input_tokens", "gen_ai.client.inference.usage.output_tokens",
        "gen_ai.client.inference.usage.cache_read.input_tokens",
        "gen_ai.client.inference.usage.cache_write.input_tokens",
        "gen_ai.client.inference.usage.reasoning.output_tokens", "gen_ai.client.inference.operation.input_tokens",
        "gen_ai.client.inference.operation.output_tokens", "gen_ai.invoke_agent.duration",
        "gen_ai.execute_tool.duration", "gen_ai.retrieval.duration",
    } <= names
    # Removed or replaced in v0.1.0: never emitted with the latest names.
    assert not names & {"gen_ai.client.token.usage", "gen_ai.client.operation.duration",
                        "gen_ai.client.operation.time_to_first_chunk", "agentvitals.llm.tokens",
                        "agentvitals.tool.duration", "agentvitals.retrieval.duration"}
    assert all(m.instrument is Instrument.COUNTER and semconv.GEN_AI_TOKEN_MODALITY in m.labels
               for m in conventions.usage_counters.values())
    for series in conventions.token_distribution.values():  # percentiles: never split by modality
        assert series.metric.instrument is Instrument.HISTOGRAM
        assert semconv.GEN_AI_TOKEN_MODALITY not in series.metric.labels
    assert {"cost", "task"} <= {m.name.split(".")[1] for m in metrics_for("latest") if m.name.startswith("agentvitals")}


@pytest.mark.parametrize("generation", list(Generation))
def test_genai_metrics_carry_the_conventions_labels_and_bounded_ones_only(generation: Generation) -> None:
    conventions = genai_conventions(generation)
    for metric in (conventions.inference_duration, conventions.time_to_first_chunk,
                   *(s.metric for s in conventions.token_distribution.values())):
        assert {semconv.GEN_AI_RESPONSE_MODEL, semconv.SERVER_ADDRESS, semconv.SERVER_PORT} <= set(metric.labels)
        assert set(metric.conditional_labels) <= set(metric.labels)
    forbidden = {TASK_ID, semconv.GEN_AI_RESPONSE_ID, semconv.GEN_AI_TOOL_CALL_ID,
                 semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT, semconv.GEN_AI_REQUEST_SEED,
                 semconv.GEN_AI_CONVERSATION_ID}
    for metric in metrics_for(generation):
        assert not forbidden & set(metric.labels), metric.name


def test_every_latency_histogram_of_either_generation_has_the_alert_threshold_edge() -> None:
    names = [m.name for m in all_metrics()]
    assert len(names) == len(set(names))
    for metric in all_metrics():
        if metric.instrument is Instrument.HISTOGRAM and metric.unit == "s":
            assert LATENCY_THRESHOLD_SECONDS in (metric.buckets or ()), metric.name


_TOKEN = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_HISTOGRAM_SERIES = re.compile(r"_(?:bucket|count|sum)$")


@pytest.mark.parametrize("generation", list(Generation))
def test_every_alert_on_an_application_metric_has_a_no_data_partner(generation: Generation) -> None:
    """A rename (the other generation of names, an upgrade) must page, not silence the alert: each alert that
    reads a metric agentvitals emits, directly or through recording rules, has a ...NoData partner, and the
    partner watches only series that alert reads. Alerts on the model server's and the Collector's own series
    have none."""
    rules = Rules(MonitoringConfig(genai_names=generation))
    emitted = {prometheus_name(metric) for metric in metrics_for(generation)}
    recordings = {recording.record: recording.expr for recording in rules.recordings}

    def application_series(expr: str, seen: frozenset[str] = frozenset()) -> set[str]:
        found: set[str] = set()
        for token in _TOKEN.findall(expr):
            if token in recordings and token not in seen:
                found |= application_series(recordings[token], seen | {token})
            elif (base := _HISTOGRAM_SERIES.sub("", token)) in emitted or token in emitted:
                found.add(token if token in emitted else base)
        return found

    alerts = {alert.name: alert for alert in rules.alerts}
    watching = 0
    for alert in alerts.values():
        if alert.name.endswith("NoData"):
            continue
        read = application_series(alert.expr)
        assert (f"{alert.name}NoData" in alerts) is bool(read), (alert.name, sorted(read))
        watched = {name if name in emitted else _HISTOGRAM_SERIES.sub("", name) for name in alert.inputs}
        assert watched <= read, (alert.name, sorted(watched - read))
        watching += bool(read)
    assert watching >= 8  # the GenAI, task, cost, budget, idle, error, saving and cache alerts
