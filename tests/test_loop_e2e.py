"""The whole loop with real binaries, and every dashboard and rule query against the data it produced.

One run per generation of GenAI metric names (≈ 2.5 minutes each): the demo's model server and agent
(as in docker-compose: separate processes), the built Collector, Debian's Prometheus evaluating generated
rules, Debian's Alertmanager delivering to the demo's control webhook. The demo's load has a spike: task p95
crosses 2 s, AgentTaskLatencyHigh fires, Alertmanager delivers it, the control service degrades the router
and adds workers, p95 falls, the alert resolves, and after the cool-down the router returns to normal and
the pool to its baseline. Each transition is read back from Prometheus, and so is what the Overview shows
of it, with the Overview's own queries.

The alerting rules here are generated from the same code as the committed ones with windows shrunk to
seconds (a 5-minute window would make the test last half an hour); the committed recording rules (for the
current names; generated ones for the latest) are loaded as they are, for the dashboard and rule queries.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentvitals.control.metrics import CONTROL_ACTION, CONTROL_ACTIONS, CONTROL_RESULT, ROUTER_DEGRADED, WORKERS
from agentvitals.monitoring import CONDITIONAL_PANELS, MonitoringConfig, Rules, build_dashboards, build_rules
from agentvitals.monitoring.series import prometheus_label, prometheus_name
from agentvitals.semconv import GEN_AI_LATEST_EXPERIMENTAL, Generation
from tests.conftest import subprocess_environ
from tests.stack import ROOT, Alertmanager, Collector, Prometheus, TraceSink, free_port, process, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.slow]

SERVICE = "support-agent"
COOLDOWN_S = 10
LOOP = MonitoringConfig(fast_window="10s", rate_window="30s", latency_for="10s", keep_firing_for="10s",
                        slow_for="1m", slo_fast_windows=("2m", "30s"), slo_slow_windows=("3m", "1m"),
                        cache_baseline_offset="1m")
BIN = Path(sys.executable).parent


def committed(generation: Generation) -> MonitoringConfig:
    return MonitoringConfig(genai_names=generation)


def loop(generation: Generation) -> MonitoringConfig:
    return replace(LOOP, genai_names=generation)


@dataclass
class LoopRun:
    generation: Generation
    prometheus: Prometheus
    started: float
    ended: float
    report: dict[str, Any]

    def range(self, expr: str) -> list[tuple[float, float]]:
        return sorted(point for _, points in self.range_by_series(expr) for point in points)

    def range_by_series(self, expr: str) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        data = self.prometheus.api("query_range", query=expr, start=str(self.started), end=str(self.ended + 5),
                                   step="1")
        return [(result["metric"], [(float(t), float(v)) for t, v in result["values"]])
                for result in data["result"]]

    def phase(self, name: str) -> tuple[float, float]:
        found = next(p for p in self.report["phases"] if p["name"] == name)
        return found["start"], found["end"]


@pytest.fixture(scope="module", params=list(Generation), ids=lambda g: f"{g.value}-names")
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopRun]:
    generation: Generation = request.param
    tmp = tmp_path_factory.mktemp(f"loop-{generation.value}")
    secret = tmp / "control-webhook.secret"
    secret.write_text("loop-test-secret-0123456789\n")
    if generation is Generation.CURRENT:  # the committed file, as users load it
        rules = yaml.safe_load((ROOT / "alerts" / "rules" / "agentvitals.rules.yml").read_text())
    else:
        rules = build_rules(committed(generation))
    recording = tmp / "recording.yml"
    recording_groups = [group for group in rules["groups"] if group["name"].endswith("recording")]
    recording.write_text(yaml.safe_dump({"groups": recording_groups}))
    loop_rules = tmp / "loop.yml"
    loop_rules.write_text(yaml.safe_dump(build_rules(loop(generation))))
    model_port, control_port = free_port(), free_port()
    names = {"OTEL_SEMCONV_STABILITY_OPT_IN": GEN_AI_LATEST_EXPERIMENTAL} if generation is Generation.LATEST else {}

    with TraceSink() as sink, process([str(BIN / "agentvitals"), "serve-model", "--port", str(model_port)],
                                      log=tmp / "model-server.log"):
        collector = Collector(tmp, tempo_endpoint=f"127.0.0.1:{sink.port}")
        alertmanager = Alertmanager(tmp, f"http://127.0.0.1:{control_port}", secret)
        with collector.running(), alertmanager.running():
            prometheus = Prometheus(tmp, collector, rule_files=[recording, loop_rules],
                                    alertmanager=alertmanager.address, model_server=f"127.0.0.1:{model_port}")
            with prometheus.running():
                wait_until(lambda: len(prometheus.query("up == 1")) == 3, timeout=30, what="all scrape targets up")
                started = time.time()
                report = tmp / "report.json"
                demo = subprocess.run(
                    [str(BIN / "agentvitals"), "demo", "--phases", "steady:20,spike:40,recovery:75", "--seed", "3",
                     "--model-url", f"http://127.0.0.1:{model_port}", "--otlp-endpoint", collector.otlp_http_url,
                     "--control-port", str(control_port), "--control-secret-file", str(secret),
                     "--control-cooldown", str(COOLDOWN_S), "--metrics-port", "0", "--no-progress",
                     "--service-name", SERVICE, "--report-json", str(report)],
                    capture_output=True, text=True, timeout=600,
                    env=subprocess_environ(OTEL_METRIC_EXPORT_INTERVAL="1000", OTEL_BSP_SCHEDULE_DELAY="1000",
                                           **names),
                )
                assert demo.returncode == 0, demo.stderr[-3000:]
                ended = time.time()
                time.sleep(3)  # one more scrape of the last flushed metrics (bounded, not a wait for luck)
                yield LoopRun(generation, prometheus, started, ended, json.loads(report.read_text()))


def first(points: list[tuple[float, float]], predicate: Any, after: float = 0.0) -> float | None:
    return next((t for t, v in points if t >= after and predicate(v)), None)


def test_spike_fires_alert_control_degrades_and_scales_then_restores(run: LoopRun) -> None:
    rules = Rules(loop(run.generation))
    job = f'job="{SERVICE}"'
    p95 = run.range(f"max({rules.slow.task_p[95]}{{{job}}})")
    firing = run.range('max(ALERTS{alertname="AgentTaskLatencyHigh", alertstate="firing", action=~".*degrade.*"})')
    degraded = run.range(f"max({prometheus_name(ROUTER_DEGRADED)}{{{job}}})")
    workers = run.range(f"max({prometheus_name(WORKERS)}{{{job}}})")
    assert firing, "AgentTaskLatencyHigh never fired"

    fired_at, resolved_at = firing[0][0], firing[-1][0]
    degraded_at = first(degraded, lambda v: v == 1)
    assert degraded_at is not None and fired_at <= degraded_at <= fired_at + 15  # Alertmanager delivered it
    assert max(v for t, v in p95 if t <= fired_at) > LOOP.latency_threshold_s  # it fired for a reason
    scaled_at = first(workers, lambda v: v > 12)
    assert scaled_at is not None and scaled_at <= fired_at + 15
    assert max(v for _, v in workers) == 12 + 4  # one step, within max workers

    assert min(v for t, v in p95 if degraded_at < t <= resolved_at) < LOOP.latency_threshold_s  # p95 fell
    normal_at = first(degraded, lambda v: v == 0, after=degraded_at)
    assert normal_at is not None and normal_at >= resolved_at + COOLDOWN_S - 2  # only after the cool-down
    assert degraded[-1][1] == 0 and workers[-1][1] == 12  # back to normal, back to the baseline
    flips = sum(1 for (_, a), (_, b) in zip(degraded, degraded[1:], strict=False) if a != b)
    assert flips == 2  # on once, off once: no flapping

    applied = run.prometheus.query(f'sum by ({prometheus_label(CONTROL_RESULT)}) '
                                   f'({prometheus_name(CONTROL_ACTIONS)}{{{prometheus_label(CONTROL_ACTION)}'
                                   f'="degrade"}})')
    assert {r["metric"]["agentvitals_control_result"]: float(r["value"][1]) for r in applied}.get("applied", 0) >= 2
    assert run.report["degraded_periods"] and run.report["workers_max"] == 16


def _instantiate(expr: str, window: str = "1m") -> str:
    """A panel query as Grafana sends it: its variables substituted (every service and model; ``window``
    for Grafana's rate interval and step, which here only need to span a few scrapes)."""
    return (expr.replace("$__rate_interval", window).replace("$__interval", window)
            .replace('"$service"', '".*"').replace('"$model"', '".*"'))


def _panel_queries(config: MonitoringConfig) -> dict[tuple[str, str, str], str]:
    return {(stem, panel["title"], target["refId"]): target["expr"]
            for stem, dashboard in build_dashboards(config).items()
            for panel in dashboard["panels"] for target in panel["targets"]}


PANELS = list(_panel_queries(committed(Generation.CURRENT)))
"""(dashboard, panel title, refId): the same panels for both generations, with different queries."""


def _overview_query(config: MonitoringConfig, title_start: str, ref_id: str = "A") -> str:
    overview = build_dashboards(config)["overview"]
    panel = next(p for p in overview["panels"] if p["title"].startswith(title_start))
    return next(t["expr"] for t in panel["targets"] if t["refId"] == ref_id)


def _finite(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(t, v) for t, v in points if math.isfinite(v)]


def test_overview_follows_the_spike(run: LoopRun) -> None:
    """What a person sees on the Overview during the spike, read with the Overview's own queries.

    Grafana's ``$__rate_interval`` is four scrape intervals or more; the loop's rules use a 10 s window,
    so the panels are evaluated at it too (this Prometheus scrapes every second)."""
    config = loop(run.generation)
    window = config.fast_window
    spike_start, spike_end = run.phase("spike")
    steady_start, _ = run.phase("steady")
    _, recovery_end = run.phase("recovery")
    threshold = config.latency_threshold_s

    by_time: dict[float, float] = {}
    for _, points in run.range_by_series(_instantiate(_overview_query(config, "Tasks / s by outcome"), window)):
        for t, v in points:
            by_time[t] = by_time.get(t, 0.0) + v  # the stacked total
    peak_at = max(by_time, key=lambda t: by_time[t])
    assert spike_start <= peak_at <= spike_end, (peak_at - spike_start, spike_end - spike_start)

    p95 = _finite(run.range(_instantiate(_overview_query(config, "Task latency", "B"), window)))
    assert max(v for t, v in p95 if spike_start <= t <= spike_end) > threshold
    at_end = [v for t, v in p95 if t <= recovery_end][-1]
    assert at_end < threshold, at_end

    cost = _finite(run.range(_instantiate(_overview_query(config, "Cost per task"), window)))
    degraded = [v for t, v in cost if any(start <= t <= end for start, end in run.report["degraded_periods"])]
    normal = [v for t, v in cost if steady_start + 10 <= t <= spike_start]  # steady load, normal mode
    assert degraded and normal
    assert statistics.median(degraded) < 0.5 * statistics.median(normal), (degraded, normal)


@pytest.mark.parametrize(("stem", "title", "ref_id"), PANELS, ids=[":".join(key) for key in PANELS])
def test_every_dashboard_query_returns_data(run: LoopRun, stem: str, title: str, ref_id: str) -> None:
    expr = _instantiate(_panel_queries(committed(run.generation))[(stem, title, ref_id)])
    if title in CONDITIONAL_PANELS:
        # Only has data under its condition: check it had data at some point during the run.
        assert run.range(expr), f"{title}: {CONDITIONAL_PANELS[title]}"
        return
    assert run.prometheus.query(expr), f"{stem} / {title} [{ref_id}] returned no data: {expr}"


def test_every_template_variable_has_values(run: LoopRun) -> None:
    for dashboard in build_dashboards(committed(run.generation)).values():
        for variable in dashboard["templating"]["list"]:
            metric, label = variable["query"].removeprefix("label_values(").removesuffix(")").split(", ")
            values = {s.get(label) for s in run.prometheus.series(metric)} - {None}
            assert values, variable["name"]


RECORDINGS = [r.record for r in Rules(committed(Generation.CURRENT)).recordings]
ALERTS = [(a.name, a.action) for a in Rules(committed(Generation.CURRENT)).alerts if not a.name.endswith("NoData")]
NEEDS_HISTORY = {"AgentCacheHitRatioCollapsed": "compares with the ratio an hour ago; its 1m-offset twin is checked"}


@pytest.mark.parametrize("record", RECORDINGS)
def test_every_committed_recording_rule_returns_data(run: LoopRun, record: str) -> None:
    assert run.prometheus.query(record), record


@pytest.mark.parametrize(("name", "action"), ALERTS, ids=[f"{name}-{action}" for name, action in ALERTS])
def test_every_alert_signal_returns_data(run: LoopRun, name: str, action: str) -> None:
    config = loop(run.generation) if name in NEEDS_HISTORY else committed(run.generation)
    signal = next(a.signal for a in Rules(config).alerts if (a.name, a.action) == (name, action))
    assert run.prometheus.query(signal), f"{name}: {signal}"


def test_every_alert_input_exists_and_the_other_generations_would_be_missed(run: LoopRun) -> None:
    """The ...NoData partners watch real series: every input of every alert exists. The rules for the other
    generation of names would find theirs missing while the service reports — what their partners page on
    (once the series had been there: a rename)."""
    rules = Rules(committed(run.generation))
    for alert in rules.alerts:
        for name in alert.inputs:
            assert run.prometheus.query(f'{name}{{job="{SERVICE}"}}'), f"{alert.name}: {name}"
    other = next(g for g in Generation if g is not run.generation)
    config = committed(other)
    mine = {name for alert in rules.alerts for name in alert.inputs}
    renamed = {name for alert in Rules(config).alerts for name in alert.inputs} - mine
    assert renamed  # the LLM calls' durations
    for name in renamed:
        missing = run.prometheus.query(f"group by (job) ({config.service_info_metric}{{job=\"{SERVICE}\"}})"
                                       f" unless group by (job) ({name})")
        assert missing == [{"metric": {"job": SERVICE}, "value": missing[0]["value"]}], name
