"""The Collector tier with real binaries: two agents (collector/agent.yaml), two gateways (collector/gateway.yaml).

Two replicas of an instrumented program (real ``agentvitals.init()``, tasks with tool and LLM spans; some
fail, some are slower than the 2 s latency threshold) each export to their own agent. The agents balance
traces over the gateways by trace id; each gateway computes span metrics, tail-samples, and exports to
its own OTLP/gRPC sink standing in for Tempo. A real Prometheus scrapes agents and gateways through the
committed prometheus.yml jobs. Asserted: every trace is decided on exactly one gateway and arrives there
whole; errors and slow traces are all kept and a share of the rest; task cost and latency in Prometheus,
and span metrics, equal what the replicas recorded although most traces were dropped.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest

from agentvitals.metrics import TASK_COST, TASK_DURATION
from agentvitals.monitoring.series import SPAN_METRICS_CALLS, prometheus_name, series
from agentvitals.semconv import Operation, span_name
from tests.fake_llm import FakeLLMServer
from tests.stack import ROOT, Collector, Prometheus, TraceSink, scraped, wait_until

pytestmark = pytest.mark.stack

SERVICE = "tier-test-app"
TASK_SPAN = span_name(Operation.INVOKE_AGENT.value, "answer")
SHARE_PERCENT = 25  # of the healthy traces; the production default is 10
SLOW_THRESHOLD_S = 2.0  # gateway.yaml's latency policy
JOB = f'job="{SERVICE}"'
DECISIONS = "otelcol_processor_tail_sampling_global_count_traces_sampled_total"


@dataclass
class Tier:
    prometheus: Prometheus
    agents: list[Collector]
    gateways: list[Collector]
    sinks: list[TraceSink]
    replicas: dict[str, dict[str, Any]]  # instance id -> what the replica recorded

    @property
    def tasks(self) -> list[dict[str, Any]]:
        return [task for replica in self.replicas.values() for task in replica["tasks"]]

    @property
    def spans_by_trace(self) -> dict[str, Counter[str]]:
        produced: dict[str, Counter[str]] = {}
        for replica in self.replicas.values():
            for trace_id, span_id in replica["spans"]:
                produced.setdefault(trace_id, Counter())[span_id] += 1
        return produced

    def value(self, expr: str) -> float:
        result = self.prometheus.query(expr)
        assert len(result) == 1, (expr, result)
        return float(result[0]["value"][1])


def run_replicas(agents: list[Collector], llm_url: str) -> dict[str, dict[str, Any]]:
    """One replica per agent, concurrently; every process is ended before this returns."""
    program = ROOT / "tests" / "programs" / "tier_replica.py"
    started: dict[str, subprocess.Popen[str]] = {}
    try:
        for number, agent in enumerate(agents, 1):
            instance = f"replica-{number}"
            started[instance] = subprocess.Popen(
                [sys.executable, str(program), agent.otlp_http_url, llm_url, instance],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        recorded = {}
        for instance, proc in started.items():
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert "cannot export" not in err, err
            recorded[instance] = json.loads(out)
        return recorded
    finally:
        for proc in started.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def gateway_sum(tier: Tier, metric: str, **labels: str) -> list[float]:
    return [scraped(gateway.self_metrics_address, metric, **labels) for gateway in tier.gateways]


@pytest.fixture(scope="module")
def tier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tier]:
    tmp = tmp_path_factory.mktemp("tier")
    with ExitStack() as stack:
        sinks = [stack.enter_context(TraceSink()) for _ in range(2)]
        gateways = [
            Collector(tmp, f"127.0.0.1:{sink.port}", config="gateway.yaml", name=f"gateway-{number}",
                      env={"TAIL_SAMPLING_PERCENTAGE": str(SHARE_PERCENT), "TAIL_SAMPLING_WAIT_AFTER_ROOT": "1s"})
            for number, sink in enumerate(sinks, 1)
        ]
        endpoints = "[" + ", ".join(gateway.otlp_grpc_address for gateway in gateways) + "]"
        agents = [Collector(tmp, config="agent.yaml", name=f"agent-{number}", env={"GATEWAY_ENDPOINTS": endpoints})
                  for number in (1, 2)]
        for collector in (*gateways, *agents):
            stack.enter_context(collector.running())
        prometheus = Prometheus(tmp, targets={
            "otel-collector:8889": [agent.exporter_address for agent in agents],
            "otel-collector:8888": [agent.self_metrics_address for agent in agents],
            "otel-gateway:8889": [gateway.exporter_address for gateway in gateways],
            "otel-gateway:8888": [gateway.self_metrics_address for gateway in gateways],
        })
        stack.enter_context(prometheus.running())
        llm = stack.enter_context(FakeLLMServer())
        wait_until(lambda: len(prometheus.query("up == 1")) == 8, timeout=30, what="all eight scrape targets up")

        replicas = run_replicas(agents, llm.url)
        tier = Tier(prometheus, agents, gateways, sinks, replicas)
        traces = len(tier.spans_by_trace)

        # Every trace decided, then every trace a gateway kept in its sink (a kept trace leaves the
        # processor in one piece, so it arrives in one export request).
        wait_until(lambda: sum(gateway_sum(tier, DECISIONS)) >= traces, timeout=60,
                   what=f"tail-sampling decisions for {traces} traces")
        wait_until(lambda: all(
            len({trace_id for trace_id, _ in sink.spans}) == scraped(gateway.self_metrics_address, DECISIONS,
                                                                     decision="sampled")
            for gateway, sink in zip(gateways, sinks, strict=True)), timeout=30, what="the kept traces in the sinks")
        yield tier


def test_replicas_ran_the_intended_mix(tier: Tier) -> None:
    outcomes = Counter(task["outcome"] for task in tier.tasks)
    assert outcomes == {"success": 2 * (24 + 2), "error": 2 * 4}
    assert sum(task["error"] for task in tier.tasks) == 8
    assert sum(task["wall_time"] > SLOW_THRESHOLD_S for task in tier.tasks) == 4
    assert len(tier.spans_by_trace) == len(tier.tasks)  # one trace per task


def test_each_trace_is_decided_once_on_one_gateway_and_both_gateways_get_traces(tier: Tier) -> None:
    traces = len(tier.spans_by_trace)
    received = gateway_sum(tier, "otelcol_processor_tail_sampling_new_trace_id_received_total")
    # A trace split over the two gateways, or spans arriving after its decision, would count twice.
    assert sum(received) == traces, received
    assert all(count > 0 for count in received), received
    decided = gateway_sum(tier, DECISIONS)
    assert sum(decided) == traces, decided


def test_every_span_of_a_kept_trace_lands_whole_on_exactly_one_gateway(tier: Tier) -> None:
    produced = tier.spans_by_trace
    landed: dict[str, list[int]] = {}
    for number, sink in enumerate(tier.sinks):
        for trace_id in {trace_id for trace_id, _ in sink.spans}:
            landed.setdefault(trace_id, []).append(number)
    assert landed and set(landed) <= set(produced)
    split = {trace_id: where for trace_id, where in landed.items() if len(where) != 1}
    assert not split, split
    for trace_id, (number,) in landed.items():
        received = Counter(span_id for t, span_id in tier.sinks[number].spans if t == trace_id)
        assert received == produced[trace_id], trace_id  # every span, once
    assert {number for (number,) in landed.values()} == {0, 1}


def test_tail_sampling_keeps_every_error_and_slow_trace_and_a_share_of_the_rest(tier: Tier) -> None:
    kept = {trace_id for sink in tier.sinks for trace_id, _ in sink.spans}
    errors = {task["trace_id"] for task in tier.tasks if task["error"]}
    slow = {task["trace_id"] for task in tier.tasks if task["wall_time"] > SLOW_THRESHOLD_S}
    healthy = {task["trace_id"] for task in tier.tasks} - errors - slow
    assert errors and errors <= kept
    assert slow and slow <= kept
    # 25% of 48: keeping none or all of them has a probability below 1e-6.
    assert 0 < len(healthy & kept) < len(healthy), (len(healthy & kept), len(healthy))


def settled(tier: Tier, expr: str, expected: float) -> float:
    """The value of ``expr`` once it reached ``expected``, and its maximum over the following scrapes."""
    wait_until(lambda: tier.value(expr) >= expected - 1e-12, timeout=60, what=f"{expr} to reach {expected}")
    reached = time.time()
    wait_until(lambda: tier.value('min(timestamp(up{job=~"otel-collector|otel-gateway"}))') > reached + 2,
               timeout=30, what="two more scrapes of every agent and gateway")
    return tier.value(f"max_over_time(({expr})[10s:1s])")


def test_task_cost_and_latency_in_prometheus_equal_what_the_replicas_recorded(tier: Tier) -> None:
    tasks = tier.tasks
    count = series(TASK_DURATION, "_count")
    assert settled(tier, f"sum({count}{{{JOB}}})", len(tasks)) == len(tasks)
    for outcome in ("success", "error"):
        expected = sum(task["outcome"] == outcome for task in tasks)
        assert tier.value(f'sum({count}{{{JOB},agentvitals_task_outcome="{outcome}"}})') == expected
    assert tier.value(f'sum({prometheus_name(TASK_COST)}{{{JOB}}})') == pytest.approx(
        sum(task["cost"] for task in tasks), rel=1e-9)
    assert sum(task["cost"] for task in tasks) > 0
    assert tier.value(f'sum({series(TASK_DURATION, "_sum")}{{{JOB}}})') == pytest.approx(
        sum(task["wall_time"] for task in tasks), rel=1e-9)
    within_threshold = tier.value(f'sum({series(TASK_DURATION, "_bucket")}{{{JOB},le=~"2(\\\\.0)?"}})')
    assert within_threshold == sum(task["wall_time"] <= SLOW_THRESHOLD_S for task in tasks)
    # Each replica's series come from the one agent it exports to (one writer per series).
    for instance in tier.replicas:
        assert tier.value(f'count(count by (instance) ({count}{{{JOB},instance="{instance}"}}))') == 1


def test_span_metrics_count_every_task_once_across_the_gateways_although_traces_were_dropped(tier: Tier) -> None:
    calls = f'{SPAN_METRICS_CALLS}{{{JOB},span_name="{TASK_SPAN}"}}'
    assert settled(tier, f"sum({calls})", len(tier.tasks)) == len(tier.tasks)
    errors = f'{SPAN_METRICS_CALLS}{{{JOB},span_name="{TASK_SPAN}",status_code="STATUS_CODE_ERROR"}}'
    assert tier.value(f"sum({errors})") == sum(task["error"] for task in tier.tasks)
    # Each gateway writes its own series (collector_instance_id); together they add up to the totals.
    assert tier.value(f"count(count by (collector_instance_id) ({calls}))") == 2
    kept_task_spans = sum(name == TASK_SPAN for sink in tier.sinks for name in sink.span_names)
    assert kept_task_spans < len(tier.tasks)  # counted from the sampled traces, the totals would be short


def test_application_metrics_reach_prometheus_through_the_agents_only(tier: Tier) -> None:
    cost = prometheus_name(TASK_COST)
    for gateway in tier.gateways:
        assert scraped(gateway.exporter_address, cost) == 0
        assert scraped(gateway.exporter_address, SPAN_METRICS_CALLS) > 0
    for agent, (instance, replica) in zip(tier.agents, tier.replicas.items(), strict=True):
        assert scraped(agent.exporter_address, cost, instance=instance) == pytest.approx(
            sum(task["cost"] for task in replica["tasks"]), rel=1e-9)
        others = [other for other in tier.replicas if other != instance]
        assert all(scraped(agent.exporter_address, cost, instance=other) == 0 for other in others)
