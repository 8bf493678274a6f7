"""Every replica obeys the alert: agent processes each with its own ModelRouter on Alertmanager pull, with real
Prometheus 2.42 and Alertmanager 0.25 (Debian) and the built Collector. And A/B variants, measured the same way.

Three replicas (``tests/programs/router_replica.py``) export metrics through the Collector into Prometheus,
which evaluates the generated latency alert (windows shrunk to seconds) and sends it to Alertmanager, which
every replica polls. A spike makes the large model slow: task p95 crosses 2 s, AgentTaskLatencyHigh fires,
every replica degrades (standard calls to the small model; critical ones stay on the large model), a
replica started during the incident comes up degraded, and after the spike, the resolve and the cool-down
all return to normal. Then with Alertmanager stopped mid-incident the replicas hold degraded mode for the
hold time and return to normal. Each transition is read back from Prometheus (the router's mode gauge,
``agentvitals_router_degraded``, one series per replica: ``instance`` = ``service.instance.id``).

Timing bounds name their parts: the brief's "one poll interval plus Alertmanager's group wait", plus the
metric pipeline that makes a switch visible in Prometheus (the replica's 0.5 s export, the Collector's
200 ms batch, the 1 s scrape), plus 3 s for scheduling on a loaded machine.

Variants: 2,000 simulated tasks with a 10% candidate share (``tests/programs/variant_tasks.py``) through the
Collector into Prometheus; the split, cost per task and success rate by variant, queried in PromQL, equal what
the tasks recorded on their spans.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentvitals.attributes import TASK_MODE, TASK_OUTCOME, TASK_VARIANT
from agentvitals.control.metrics import (
    ROUTER_DECISIONS,
    ROUTER_DEGRADED,
    ROUTER_POLL_FAILURES,
    ROUTER_PRIORITY,
    ROUTER_SWITCH_REASON,
    ROUTER_SWITCHES,
)
from agentvitals.metrics import TASK_COST, TASK_DURATION
from agentvitals.monitoring import MonitoringConfig, build_rules
from agentvitals.monitoring.series import prometheus_label, prometheus_name, series
from agentvitals.semconv import GEN_AI_REQUEST_MODEL
from tests.conftest import subprocess_environ
from tests.stack import ROOT, Alertmanager, Collector, Prometheus, free_port, http_get, process, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.slow]

SERVICE = "support-agent"
ALERT = "AgentTaskLatencyHigh"
POLL_S, COOLDOWN_S, HOLD_S = 1.0, 6.0, 8.0
POLL_MAX_S = POLL_S * 1.1  # the source's jitter
GROUP_WAIT_S = 1.0  # tests.stack.Alertmanager sets every route's group_wait to 1 s
PIPELINE_S = 0.5 + 0.2 + 1.0  # export interval + Collector batch + scrape interval
SCHEDULING_S = 3.0
RULES = MonitoringConfig(rate_window="10s", latency_for="2s", keep_firing_for="2s")
GAUGE = prometheus_name(ROUTER_DEGRADED)
PROGRAM = ROOT / "tests" / "programs" / "router_replica.py"


class AlertWatch:
    """Asks Alertmanager every 0.1 s whether the latency alert is active; keeps when that changed."""

    def __init__(self, url: str) -> None:
        query = urllib.parse.urlencode({"active": "true", "silenced": "false", "inhibited": "false",
                                        "filter": f'alertname="{ALERT}"'})
        self._url = f"{url}/api/v2/alerts?{query}"
        self.changes: list[tuple[float, bool]] = []
        self.seen_present: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            try:
                status, body = http_get(self._url, timeout=2)
                present = status == 200 and bool(json.loads(body))
            except Exception:  # Alertmanager stopped: nothing to watch
                continue
            now = time.time()
            if present:
                self.seen_present.append(now)
            if not self.changes or self.changes[-1][1] != present:
                self.changes.append((now, present))

    def first(self, present: bool, after: float) -> float | None:
        return next((t for t, p in self.changes if p is present and t >= after), None)

    def last_seen_present(self, before: float) -> float:
        """The last time the alert was seen active before ``before``."""
        return max(t for t in self.seen_present if t < before)

    def __enter__(self) -> AlertWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)


@dataclass
class Stack:
    tmp: Path
    prometheus: Prometheus
    alertmanager: Alertmanager
    watch: AlertWatch
    collector: Collector
    stop_alertmanager: Callable[[], None]
    replicas: list[str] = field(default_factory=list)

    @property
    def spike_file(self) -> Path:
        return self.tmp / "spike"

    def spike(self, on: bool) -> None:
        if on:
            self.spike_file.touch()
        else:
            self.spike_file.unlink(missing_ok=True)

    @contextmanager
    def replica(self, instance: str) -> Iterator[str]:
        """A replica process, once it printed ``ready <mode>``; yields that mode."""
        log = self.tmp / f"{instance}.log"
        args = [sys.executable, str(PROGRAM), self.collector.otlp_http_url, self.alertmanager.url, instance,
                str(self.spike_file), str(POLL_S), str(COOLDOWN_S), str(HOLD_S)]
        with process(args, env={"OTEL_TRACES_EXPORTER": "none"}, log=log) as proc:
            line = wait_until(lambda: proc.poll() is None and next(
                (text for text in log.read_text().splitlines() if text.startswith("ready ")), None),
                timeout=30, what=f"{instance} to be ready (log: {log})")
            yield line.split()[1]

    # --- reading Prometheus -----------------------------------------------------------------------------------
    def samples(self, instance: str, since: float) -> list[tuple[float, float]]:
        """The raw samples of one replica's mode gauge scraped since ``since``."""
        window = int(time.time() - since) + 2
        found = self.prometheus.query(f'{GAUGE}{{job="{SERVICE}", instance="{instance}"}}[{window}s]')
        return sorted((float(t), float(v)) for result in found for t, v in result["values"] if float(t) >= since)

    def latest(self, instance: str) -> float | None:
        found = self.prometheus.query(f'{GAUGE}{{job="{SERVICE}", instance="{instance}"}}')
        return float(found[0]["value"][1]) if found else None

    def all_in(self, value: float, instances: list[str]) -> bool:
        return all(self.latest(instance) == value for instance in instances)

    def by_instance(self, expr: str, *labels: str) -> dict[tuple[str, ...], float]:
        return {tuple(r["metric"].get(label, "") for label in ("instance", *labels)): float(r["value"][1])
                for r in self.prometheus.query(expr)}


def latency_rules(tmp: Path) -> Path:
    """The generated recording rules and the latency alert, windows in seconds."""
    rules = build_rules(RULES)
    for group in rules["groups"]:  # type: ignore[attr-defined]
        group["rules"] = [rule for rule in group["rules"] if rule.get("alert", ALERT) == ALERT]
    path = tmp / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("router")
    secret = tmp / "control-webhook.secret"
    secret.write_text("router-test-secret-0123456789\n")
    with ExitStack() as stack:
        collector = stack.enter_context(Collector(tmp).running())
        # Webhooks go nowhere here: every replica pulls (deliveries fail and are retried; harmless).
        alertmanager = Alertmanager(tmp, f"http://127.0.0.1:{free_port()}", secret)
        alertmanager_stack = stack.enter_context(ExitStack())
        alertmanager_stack.enter_context(alertmanager.running())
        prometheus = Prometheus(tmp, collector, rule_files=[latency_rules(tmp)], alertmanager=alertmanager.address)
        stack.enter_context(prometheus.running())
        watch = stack.enter_context(AlertWatch(alertmanager.url))
        built = Stack(tmp, prometheus, alertmanager, watch, collector, alertmanager_stack.close)
        for number in (1, 2, 3):
            mode = stack.enter_context(built.replica(f"replica-{number}"))
            assert mode == "normal"
            built.replicas.append(f"replica-{number}")
        wait_until(lambda: built.all_in(0, built.replicas), timeout=30, what="every replica's mode gauge")
        yield built
        built.spike(False)


def first(points: list[tuple[float, float]], value: float, after: float = 0.0) -> float | None:
    return next((t for t, v in points if t >= after and v == value), None)


def changes(points: list[tuple[float, float]]) -> list[float]:
    """The sequence of values with repeats collapsed: [0, 1, 0] is one degraded period."""
    values: list[float] = []
    for _, v in points:
        if not values or values[-1] != v:
            values.append(v)
    return values


def test_every_replica_degrades_on_the_alert_critical_calls_keep_the_strong_model_and_all_recover(
        stack: Stack) -> None:
    started = time.time()
    stack.spike(True)
    wait_until(lambda: stack.watch.first(True, started), timeout=120, what=f"{ALERT} to reach Alertmanager")
    in_alertmanager = stack.watch.first(True, started)
    assert in_alertmanager is not None
    wait_until(lambda: stack.all_in(1, stack.replicas), timeout=30, what="every replica to degrade")
    bound = POLL_MAX_S + GROUP_WAIT_S + PIPELINE_S + SCHEDULING_S
    for instance in stack.replicas:
        degraded_at = first(stack.samples(instance, started), 1)
        assert degraded_at is not None and degraded_at <= in_alertmanager + bound, (instance, in_alertmanager)
        print(f"{instance}: degraded (as scraped) {degraded_at - in_alertmanager:+.2f}s after the alert reached "
              f"Alertmanager (bound {bound:.1f}s)")

    # Critical calls stay on the large model while standard ones go to the small one, on every replica.
    critical = f'{prometheus_name(ROUTER_DECISIONS)}{{job="{SERVICE}", {prometheus_label(ROUTER_PRIORITY)}="critical"}}'
    model = prometheus_label(GEN_AI_REQUEST_MODEL)
    at_switch = stack.by_instance(f"sum by (instance, {model}) ({critical})", model)
    wait_until(lambda: all(stack.by_instance(f"sum by (instance, {model}) ({critical})", model).get((i, "large"), 0)
                           > at_switch.get((i, "large"), 0) for i in stack.replicas),
               timeout=30, what="critical calls during the incident")
    standard = f'{prometheus_name(ROUTER_DECISIONS)}{{job="{SERVICE}", {prometheus_label(ROUTER_PRIORITY)}="standard"}}'
    wait_until(lambda: {i for (i, m) in stack.by_instance(f"sum by (instance, {model}) ({standard})", model)
                        if m == "small"} >= set(stack.replicas), timeout=30, what="standard calls on the small model")

    # A replica started during the incident comes up degraded: its first exported mode is degraded.
    with stack.replica("replica-4") as mode_when_ready:
        assert mode_when_ready == "degraded"
        wait_until(lambda: stack.samples("replica-4", started), timeout=30, what="replica-4's mode gauge")
        assert changes(stack.samples("replica-4", started)) == [1]
        replicas = [*stack.replicas, "replica-4"]

        stack.spike(False)
        wait_until(lambda: stack.watch.first(False, in_alertmanager), timeout=120, what=f"{ALERT} to resolve")
        gone = stack.watch.first(False, in_alertmanager)
        assert gone is not None
        last_present = stack.watch.last_seen_present(gone)
        wait_until(lambda: stack.all_in(0, replicas), timeout=COOLDOWN_S + 30, what="every replica back to normal")
        for instance in replicas:
            points = stack.samples(instance, started)
            normal_at = first(points, 0, after=first(points, 1) or started)
            assert normal_at is not None
            # Not before the cool-down after the resolve; within a poll, the cool-down and the pipeline after it.
            assert last_present + COOLDOWN_S <= normal_at <= gone + POLL_MAX_S + COOLDOWN_S + PIPELINE_S + SCHEDULING_S
            print(f"{instance}: normal (as scraped) {normal_at - gone:+.2f}s after the resolve left Alertmanager "
                  f"(cool-down {COOLDOWN_S:g}s)")
            assert changes(points) == ([1, 0] if instance == "replica-4" else [0, 1, 0])  # no flapping
        # "Throughout": over the whole incident no replica served a critical call the small model.
        critical_models = stack.by_instance(f"sum by (instance, {model}) ({critical})", model)
        assert {m for (_, m) in critical_models} == {"large"}, critical_models
        assert {i for (i, _) in critical_models} >= set(replicas), critical_models

    # Tasks carry the mode they were served: cost, success and latency split by mode in PromQL.
    by_mode = stack.by_instance(f'sum by (instance, {prometheus_label(TASK_MODE)}) '
                                f'({series(TASK_DURATION, "_count")}{{job="{SERVICE}"}})', prometheus_label(TASK_MODE))
    assert all(by_mode.get((i, "degraded"), 0) > 0 and by_mode.get((i, "normal"), 0) > 0 for i in stack.replicas)
    switches = stack.by_instance(f'sum by (instance, {prometheus_label(ROUTER_SWITCH_REASON)}) '
                                 f'({prometheus_name(ROUTER_SWITCHES)}{{job="{SERVICE}"}})',
                                 prometheus_label(ROUTER_SWITCH_REASON))
    assert all(switches.get((i, "alertmanager")) == 2 for i in stack.replicas), switches


def test_with_alertmanager_stopped_the_replicas_hold_the_mode_then_return_to_normal(stack: Stack) -> None:
    started = time.time()
    stack.spike(True)
    wait_until(lambda: stack.all_in(1, stack.replicas), timeout=120, what="every replica to degrade again")
    stopping = time.time()
    stack.stop_alertmanager()
    wait_until(lambda: stack.all_in(0, stack.replicas), timeout=HOLD_S + 30, what="every replica back to normal")
    # The last answer came at most one poll before Alertmanager stopped; the hold counts from it.
    held_until = stopping + HOLD_S - POLL_MAX_S - 0.5
    for instance in stack.replicas:
        points = stack.samples(instance, started)
        held = [v for t, v in points if stopping <= t <= held_until]
        assert held and set(held) == {1}, (instance, points)
        normal_at = first(points, 0, after=stopping)
        assert normal_at is not None and held_until <= normal_at <= stopping + HOLD_S + PIPELINE_S + SCHEDULING_S
        print(f"{instance}: normal (as scraped) {normal_at - stopping:+.2f}s after Alertmanager stopped "
              f"(hold {HOLD_S:g}s)")
    failures = stack.by_instance(f'sum by (instance) ({prometheus_name(ROUTER_POLL_FAILURES)}{{job="{SERVICE}"}})')
    assert all(failures.get((i,), 0) > 0 for i in stack.replicas), failures
    unreachable = stack.by_instance(
        f'sum by (instance) ({prometheus_name(ROUTER_SWITCHES)}{{job="{SERVICE}", '
        f'{prometheus_label(ROUTER_SWITCH_REASON)}="alertmanager_unreachable"}})')
    assert all(unreachable.get((i,)) == 1 for i in stack.replicas), unreachable
    stack.spike(False)


# --- A/B variants: the split, and cost per task and success rate by variant from Prometheus --------------------
VARIANT_TASKS, CANDIDATE_SHARE = 2000, 0.10


def test_variant_split_and_cost_and_success_by_variant_come_out_of_prometheus(tmp_path: Path) -> None:
    with Collector(tmp_path).running() as collector:
        prometheus = Prometheus(tmp_path, collector)
        with prometheus.running():
            ran = subprocess.run([sys.executable, str(ROOT / "tests" / "programs" / "variant_tasks.py"),
                                  collector.otlp_http_url, str(VARIANT_TASKS), str(CANDIDATE_SHARE), "11"],
                                 capture_output=True, text=True, timeout=300,
                                 env=subprocess_environ(OTEL_TRACES_EXPORTER="none"))
            assert ran.returncode == 0, ran.stderr[-3000:]
            recorded = json.loads(ran.stdout)
            job = 'job="variant-agent"'
            count, cost = f"{series(TASK_DURATION, '_count')}{{{job}}}", f"{prometheus_name(TASK_COST)}{{{job}}}"
            wait_until(lambda: prometheus.query(f"sum({count}) == {VARIANT_TASKS}"), timeout=60,
                       what="every task in Prometheus")
            variant = prometheus_label(TASK_VARIANT)

            def by_variant(expr: str) -> dict[str, float]:
                return {r["metric"][variant]: float(r["value"][1]) for r in prometheus.query(expr)}

            tasks = by_variant(f"sum by ({variant}) ({count})")
            cost_per_task = by_variant(f"sum by ({variant}) ({cost}) / sum by ({variant}) ({count})")
            succeeded = f'{series(TASK_DURATION, "_count")}{{{job}, {prometheus_label(TASK_OUTCOME)}="success"}}'
            success_rate = by_variant(f"sum by ({variant}) ({succeeded}) / sum by ({variant}) ({count})")
            p95 = by_variant(f"histogram_quantile(0.95, sum by ({variant}, le) "
                             f"({series(TASK_DURATION, '_bucket')}{{{job}}}))")

    assert set(tasks) == set(recorded) == {"control", "candidate"}
    assert abs(tasks["candidate"] / VARIANT_TASKS - CANDIDATE_SHARE) <= 0.02, tasks
    for name, seen in recorded.items():
        assert tasks[name] == seen["tasks"]
        assert cost_per_task[name] == pytest.approx(seen["cost"] / seen["tasks"], rel=1e-9)
        assert success_rate[name] == pytest.approx(seen["successes"] / seen["tasks"], rel=1e-12)
    assert cost_per_task["candidate"] > cost_per_task["control"]  # the comparison the experiment is for
    assert set(p95) == {"control", "candidate"}  # latency splits by variant too
    print(f"variants: {tasks}; cost per task {cost_per_task}; success rate {success_rate}")
