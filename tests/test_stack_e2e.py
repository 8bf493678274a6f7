"""End to end with real binaries: instrumented program -> real Collector -> real Prometheus.

Asserts that every metric the name registry predicts exists in Prometheus under exactly the
predicted name and labels, that span metrics exist for tool spans, that traces reach the Tempo
endpoint, and that a latency exemplar carries the trace id of a span the program produced.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from agentvitals.metrics import (
    BUDGET_EXHAUSTED,
    CACHE_REQUESTS,
    COST,
    METRICS,
    OPERATION_DURATION,
    REJECTED_VALUES,
    TASK_DURATION,
    UNPRICED_CALLS,
    Instrument,
    Metric,
)
from agentvitals.monitoring._promql import Selector, counted_rate
from agentvitals.monitoring.series import (
    COLLECTOR_ACCEPTED_SPANS,
    collector_counter,
    prometheus_label,
    prometheus_name,
    series,
)
from agentvitals.semconv import ERROR_TYPE
from tests.fake_llm import FakeLLMServer
from tests.stack import ROOT, Collector, Prometheus, TraceSink, wait_until

pytestmark = pytest.mark.stack

SERVICE = "stack-test-app"
# Labels that only appear on some points (errors); every other registry label must be present.
CONDITIONAL_LABELS = {ERROR_TYPE}


class Run:
    def __init__(self, prometheus: Prometheus, sink: TraceSink) -> None:
        self.prometheus = prometheus
        self.sink = sink


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("stack")
    with TraceSink() as sink:
        collector = Collector(tmp, tempo_endpoint=f"127.0.0.1:{sink.port}")
        with collector.running(), Prometheus(tmp, collector).running() as prometheus, FakeLLMServer() as llm:
            # Prometheus activates targets a few seconds after start; span-metrics exemplars only live
            # for one flush interval, so the program must not run before scraping has begun.
            wait_until(lambda: len(prometheus.query("up == 1")) == 2, timeout=30, what="both scrape targets up")
            program = ROOT / "tests" / "programs" / "instrumented_app.py"
            result = subprocess.run([sys.executable, str(program), collector.otlp_http_url, llm.url],
                                    capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stderr
            assert "cannot export" not in result.stderr, result.stderr
            wait_until(lambda: prometheus.query(f'agentvitals_budget_exhausted_total{{job="{SERVICE}"}}'),
                       timeout=60, what="the program's metrics in Prometheus")
            wait_until(lambda: prometheus.query('traces_span_metrics_calls_total{span_name="execute_tool orders"}'),
                       timeout=60, what="span metrics in Prometheus")
            yield Run(prometheus, sink)


def series_name(metric: Metric) -> str:
    return series(metric, "_bucket") if metric.instrument is Instrument.HISTOGRAM else prometheus_name(metric)


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_every_registry_metric_has_its_predicted_name_and_labels(run: Run, metric: Metric) -> None:
    found = run.prometheus.series(f'{series_name(metric)}{{job="{SERVICE}"}}')
    assert found, f"{series_name(metric)} missing from Prometheus"
    seen_labels = set().union(*(s.keys() for s in found))
    expected = {prometheus_label(label) for label in metric.labels
                if label not in CONDITIONAL_LABELS and label not in metric.conditional_labels}
    assert expected <= seen_labels, f"{metric.name}: missing labels {expected - seen_labels}"
    if metric.instrument is Instrument.HISTOGRAM:
        for suffix in ("_sum", "_count"):
            assert run.prometheus.series(f'{series(metric, suffix)}{{job="{SERVICE}"}}')


def test_duration_buckets_include_the_two_second_edge(run: Run) -> None:
    edges = {s["le"] for s in run.prometheus.series(series(OPERATION_DURATION, "_bucket"))}
    assert "2" in edges or "2.0" in edges


def test_values_match_what_the_program_did(run: Run) -> None:
    def value(expr: str) -> float:
        result = run.prometheus.query(expr)
        assert len(result) == 1, (expr, result)
        return float(result[0]["value"][1])

    job = f'job="{SERVICE}"'
    # 3 tasks x 4 chat calls (an unpriced model; one whose token count is rejected, so unpriced too) + the budget
    # task's single allowed call.
    assert value(f'sum({series(OPERATION_DURATION, "_count")}{{{job},gen_ai_operation_name="chat"}})') == 13
    assert value(f'sum({prometheus_name(UNPRICED_CALLS)}{{{job}}})') == 6
    rejected = f'{prometheus_name(REJECTED_VALUES)}{{{job},agentvitals_rejected_field="usage.input_tokens"}}'
    assert value(f"sum({rejected})") == 3
    assert value(f'sum({series(TASK_DURATION, "_count")}{{{job},agentvitals_task_outcome="success"}})') == 3
    assert value(f'sum({prometheus_name(BUDGET_EXHAUSTED)}{{{job},agentvitals_budget_limit="llm_calls"}})') == 1
    assert value(f'sum({prometheus_name(CACHE_REQUESTS)}{{{job},agentvitals_cache_result="hit"}})') == 3
    priced_chat_cost = (200 * 0.15 + 1000 * 0.075 + 50 * 0.60) / 1e6
    embeddings_cost = 8 * 0.02 / 1e6
    assert value(f'sum({prometheus_name(COST)}{{{job}}})') == pytest.approx(
        7 * priced_chat_cost + 3 * embeddings_cost, rel=1e-9)


def test_counted_rate_counts_what_a_series_counted_before_its_first_sample(run: Run) -> None:
    # The program's calls all happened within the window; rate() would only see what changed after each
    # series' first sample (little or nothing here), the rules' counted_rate sees all ten chat calls.
    chat = Selector(series(OPERATION_DURATION, "_count"), (f'job="{SERVICE}"', 'gen_ai_operation_name="chat"'))
    window, seconds = "10m", 600
    result = run.prometheus.query(f"sum({counted_rate(chat, window, seconds, '1h')}) * {seconds}")
    assert float(result[0]["value"][1]) == pytest.approx(10)


def test_span_metrics_for_tool_spans(run: Run) -> None:
    calls = run.prometheus.query('traces_span_metrics_calls_total{span_name="execute_tool orders"}')
    assert calls and calls[0]["metric"]["gen_ai_tool_name"] == "orders"
    assert calls[0]["metric"]["service_name"] == SERVICE
    assert run.prometheus.series('traces_span_metrics_duration_seconds_bucket{span_name="execute_tool orders"}')
    edges = {s["le"] for s in run.prometheus.series("traces_span_metrics_duration_seconds_bucket")}
    assert "2" in edges or "2.0" in edges


def test_traces_reach_the_tempo_endpoint(run: Run) -> None:
    assert "invoke_agent support" in run.sink.span_names
    assert "chat gpt-4o-mini" in run.sink.span_names


@pytest.mark.parametrize("series", [series(OPERATION_DURATION, "_bucket"),
                                    "traces_span_metrics_duration_seconds_bucket"])
def test_latency_exemplar_carries_a_trace_id_of_the_program(run: Run, series: str) -> None:
    def exemplar_trace_ids() -> set[str]:
        found: list[dict[str, Any]] = run.prometheus.exemplars(series)
        return {e["labels"].get("trace_id", "") for group in found for e in group["exemplars"]} - {""}

    trace_ids = wait_until(exemplar_trace_ids, timeout=30, what=f"exemplars on {series}")
    assert trace_ids & run.sink.trace_ids, (trace_ids, run.sink.trace_ids)


def test_collector_self_metrics_are_scraped(run: Run) -> None:
    # The pipeline's own health is visible: accepted (and, in outages, refused/failed) spans.
    expr = f"sum({collector_counter(COLLECTOR_ACCEPTED_SPANS)})"
    accepted = wait_until(lambda: run.prometheus.query(expr), timeout=30, what="the Collector's own metrics")
    assert float(accepted[0]["value"][1]) > 0
    assert run.prometheus.query('up{job="otel-collector-self"} == 1')
