"""The whole loop with real binaries, and every dashboard and rule query against the data it produced.

One run (≈ 2.5 minutes): the demo's model server and agent (as in docker-compose: separate
processes), the built Collector, Debian's Prometheus evaluating generated rules, Debian's
Alertmanager delivering to the demo's control webhook. The demo's load has a spike: task p95
crosses 2 s, AgentTaskLatencyHigh fires, Alertmanager delivers it, the control service degrades
the router and adds workers, p95 falls, the alert resolves, and after the cool-down the router
returns to normal and the pool to its baseline. Each transition is read back from Prometheus.

The alerting rules here are generated from the same code as the committed ones with windows
shrunk to seconds (a 5-minute window would make the test last half an hour); the committed
recording rules are loaded as they are, for the dashboard and rule queries.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentvitals.control.metrics import CONTROL_ACTION, CONTROL_ACTIONS, CONTROL_RESULT, ROUTER_DEGRADED, WORKERS
from agentvitals.monitoring import CONDITIONAL_PANELS, MonitoringConfig, Rules, build_dashboards, build_rules
from agentvitals.monitoring.series import prometheus_label, prometheus_name
from tests.conftest import subprocess_environ
from tests.stack import ROOT, Alertmanager, Collector, Prometheus, TraceSink, free_port, process, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.slow]

SERVICE = "support-agent"
COOLDOWN_S = 10
LOOP = MonitoringConfig(rate_window="30s", latency_for="10s", keep_firing_for="10s", slow_for="1m",
                        slo_fast_windows=("2m", "30s"), slo_slow_windows=("3m", "1m"), cache_baseline_offset="1m")
COMMITTED = MonitoringConfig()
BIN = Path(sys.executable).parent


@dataclass
class LoopRun:
    prometheus: Prometheus
    started: float
    ended: float
    report: dict[str, Any]

    def range(self, expr: str) -> list[tuple[float, float]]:
        data = self.prometheus.api("query_range", query=expr, start=str(self.started), end=str(self.ended + 5),
                                   step="1")
        points = [(float(t), float(v)) for result in data["result"] for t, v in result["values"]]
        return sorted(points)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopRun]:
    tmp = tmp_path_factory.mktemp("loop")
    secret = tmp / "control-webhook.secret"
    secret.write_text("loop-test-secret-0123456789\n")
    committed = yaml.safe_load((ROOT / "alerts" / "rules" / "agentvitals.rules.yml").read_text())
    recording = tmp / "recording.yml"
    recording_groups = [group for group in committed["groups"] if group["name"].endswith("recording")]
    recording.write_text(yaml.safe_dump({"groups": recording_groups}))
    loop_rules = tmp / "loop.yml"
    loop_rules.write_text(yaml.safe_dump(build_rules(LOOP)))
    model_port, control_port = free_port(), free_port()

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
                    env=subprocess_environ(OTEL_METRIC_EXPORT_INTERVAL="1000", OTEL_BSP_SCHEDULE_DELAY="1000"),
                )
                assert demo.returncode == 0, demo.stderr[-3000:]
                ended = time.time()
                time.sleep(3)  # one more scrape of the last flushed metrics (bounded, not a wait for luck)
                yield LoopRun(prometheus, started, ended, json.loads(report.read_text()))


def first(points: list[tuple[float, float]], predicate: Any, after: float = 0.0) -> float | None:
    return next((t for t, v in points if t >= after and predicate(v)), None)


def test_spike_fires_alert_control_degrades_and_scales_then_restores(run: LoopRun) -> None:
    rules = Rules(LOOP)
    job = f'job="{SERVICE}"'
    p95 = run.range(f"max({rules.task_p[95]}{{{job}}})")
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


def _instantiate(expr: str) -> str:
    return expr.replace("$__rate_interval", "1m").replace('"$service"', '".*"').replace('"$model"', '".*"')


PANELS = [(stem, panel["title"], target["refId"], target["expr"])
          for stem, dashboard in build_dashboards(COMMITTED).items()
          for panel in dashboard["panels"] for target in panel["targets"]]


@pytest.mark.parametrize(("stem", "title", "ref_id", "expr"), PANELS,
                         ids=[f"{stem}:{title}:{ref}" for stem, title, ref, _ in PANELS])
def test_every_dashboard_query_returns_data(run: LoopRun, stem: str, title: str, ref_id: str, expr: str) -> None:
    if title in CONDITIONAL_PANELS:
        # Only has data under its condition: check it had data at some point during the run.
        assert run.range(_instantiate(expr)), f"{title}: {CONDITIONAL_PANELS[title]}"
        return
    assert run.prometheus.query(_instantiate(expr)), f"{stem} / {title} [{ref_id}] returned no data"


def test_every_template_variable_has_values(run: LoopRun) -> None:
    for dashboard in build_dashboards(COMMITTED).values():
        for variable in dashboard["templating"]["list"]:
            metric, label = variable["query"].removeprefix("label_values(").removesuffix(")").split(", ")
            values = {s.get(label) for s in run.prometheus.series(metric)} - {None}
            assert values, variable["name"]


RECORDINGS = [r.record for r in Rules(COMMITTED).recordings]
NEEDS_HISTORY = {"AgentCacheHitRatioCollapsed": "compares with the ratio an hour ago; its 1m-offset twin is checked"}


@pytest.mark.parametrize("record", RECORDINGS)
def test_every_committed_recording_rule_returns_data(run: LoopRun, record: str) -> None:
    assert run.prometheus.query(record), record


@pytest.mark.parametrize("alert", Rules(COMMITTED).alerts, ids=lambda a: f"{a.name}-{a.action}")
def test_every_committed_alert_signal_returns_data(run: LoopRun, alert: Any) -> None:
    signal = alert.signal
    if alert.name in NEEDS_HISTORY:
        signal = next(a.signal for a in Rules(LOOP).alerts if a.name == alert.name)
    assert run.prometheus.query(signal), f"{alert.name}: {signal}"
