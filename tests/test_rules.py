"""The committed Prometheus rules: `promtool check rules`, and `promtool test rules` cases that show
each alert firing on its symptom and staying quiet without it. Input series are named from the
registry, so a renamed metric breaks these tests rather than the alerts in production."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentvitals.attributes import TASK_OUTCOME
from agentvitals.metrics import (
    BUDGET_EXHAUSTED,
    CACHE_REQUESTS,
    COST,
    ERRORS,
    OPERATION_DURATION,
    TASK_DURATION,
    TASK_IDLE,
    TASK_SAVEABLE,
)
from agentvitals.monitoring import MonitoringConfig, Rules
from agentvitals.monitoring.series import (
    COLLECTOR_REFUSED_SPANS,
    COLLECTOR_SELF_JOB,
    GPU_UTIL_PERCENT,
    MODEL_SERVER_KV_CACHE_USAGE,
    prometheus_label,
    prometheus_name,
)
from agentvitals.monitoring.series import (
    series as prom_series,
)
from tests.stack import ROOT, require_binary

pytestmark = pytest.mark.stack

RULES = ROOT / "alerts" / "rules" / "agentvitals.rules.yml"
JOB = "support-agent"
CONFIG = MonitoringConfig()
RUNBOOK = CONFIG.runbook_url


def input_series(name: str, values: str, **labels: str) -> dict[str, str]:
    rendered = ", ".join(f'{key}="{value}"' for key, value in {"job": JOB, **labels}.items())
    return {"series": f"{name}{{{rendered}}}", "values": values}


def task_histogram(per_minute: dict[float, int], total: int, **labels: str) -> list[dict[str, str]]:
    """Cumulative bucket counters growing by ``per_minute[le]`` (counts at or below ``le``) each minute."""
    bucket = prom_series(TASK_DURATION, "_bucket")
    out, cumulative = [], 0
    for edge in TASK_DURATION.buckets or ():
        cumulative = per_minute.get(edge, cumulative)
        out.append(input_series(bucket, f"0+{cumulative}x30", le=f"{edge:g}", **labels))
    out.append(input_series(bucket, f"0+{total}x30", le="+Inf", **labels))
    out.append(input_series(prom_series(TASK_DURATION, "_count"), f"0+{total}x30", **labels))
    return out


def alert(name: str, labels: dict[str, str], summary: str, description: str, runbook: str = "") -> dict[str, Any]:
    return {"exp_labels": labels,
            "exp_annotations": {"summary": summary, "description": description,
                                "runbook_url": f"{RUNBOOK}-{runbook or name.lower()}"}}


def case(name: str, eval_time: str, inputs: list[dict[str, str]], expected: list[dict[str, Any]]) -> dict[str, Any]:
    return {"interval": "1m", "input_series": inputs,
            "alert_rule_test": [{"eval_time": eval_time, "alertname": name, "exp_alerts": expected}]}


LATENCY_DESCRIPTION = ("Scale out the agent workers and route non-critical calls to the small model: P95 of task "
                       "wall time over 5m is above 2s.")
COUNT = prom_series(TASK_DURATION, "_count")
OUTCOME = prometheus_label(TASK_OUTCOME)

CASES: dict[str, dict[str, Any]] = {
    # p95 lands exactly on 3s: nothing at or below 2s, 95 of 100 at or below 3s.
    "AgentTaskLatencyHigh fires once, requesting both actions, when task p95 stays above 2s": case(
        "AgentTaskLatencyHigh", "10m", task_histogram({2.0: 0, 3.0: 95, 5.0: 100}, 100),
        [alert("AgentTaskLatencyHigh", {"job": JOB, "severity": "warning", "action": "scale_out,degrade"},
               "Task p95 latency of support-agent is 3s (threshold 2s)", LATENCY_DESCRIPTION)]),
    "AgentTaskLatencyHigh stays quiet when tasks finish within a second": case(
        "AgentTaskLatencyHigh", "10m", task_histogram({1.0: 100}, 100), []),
    "AgentLLMErrorRateHigh fires when 10% of LLM calls fail": case(
        "AgentLLMErrorRateHigh", "15m",
        [input_series(prom_series(OPERATION_DURATION, "_count"), "0+6x30", error_type="InternalServerError"),
         input_series(prom_series(OPERATION_DURATION, "_count"), "0+54x30")],
        [alert("AgentLLMErrorRateHigh", {"job": JOB, "severity": "critical", "action": "page"},
               "10% of LLM calls of support-agent fail",
               "More than 5% of LLM calls ended with an error over 5m.")]),
    "AgentLLMErrorRateHigh stays quiet at 1% errors": case(
        "AgentLLMErrorRateHigh", "15m",
        [input_series(prom_series(OPERATION_DURATION, "_count"), "0+1x30", error_type="APITimeoutError"),
         input_series(prom_series(OPERATION_DURATION, "_count"), "0+99x30")], []),
    "AgentCostBurnHigh fires at $7.20/h against a $5/h budget": case(
        "AgentCostBurnHigh", "20m", [input_series(prometheus_name(COST), "0+0.12x30")],
        [alert("AgentCostBurnHigh", {"job": JOB, "severity": "warning", "action": "degrade"},
               "support-agent spends $7.20/h on LLM calls (budget $5/h)",
               "LLM spend is running above the hourly budget; degraded mode routes to the cheaper model.")]),
    "AgentCostBurnHigh stays quiet at $3.60/h": case(
        "AgentCostBurnHigh", "20m", [input_series(prometheus_name(COST), "0+0.06x30")], []),
    "AgentBudgetExhaustionsHigh fires when 10% of tasks exhaust their budget": case(
        "AgentBudgetExhaustionsHigh", "20m",
        [input_series(prometheus_name(BUDGET_EXHAUSTED), "0+6x30"), input_series(COUNT, "0+60x30")],
        [alert("AgentBudgetExhaustionsHigh", {"job": JOB, "severity": "warning", "action": "page"},
               "10% of tasks of support-agent run out of budget",
               "Tasks stop with outcome budget_exhausted: budgets too tight, or the agent loops.")]),
    "AgentBudgetExhaustionsHigh stays quiet at 1 in 60": case(
        "AgentBudgetExhaustionsHigh", "20m",
        [input_series(prometheus_name(BUDGET_EXHAUSTED), "0+1x30"), input_series(COUNT, "0+60x30")], []),
    "AgentIdleRatioHigh fires when tasks wait 99.8% of the time": case(
        "AgentIdleRatioHigh", "20m",
        [input_series(prometheus_name(TASK_IDLE), "0+59.88x30", agentvitals_wait_kind="llm"),
         input_series(prom_series(TASK_DURATION, "_sum"), "0+60x30")],
        [alert("AgentIdleRatioHigh", {"job": JOB, "severity": "info", "action": "page"},
               "Tasks of support-agent spend 99.8% of their time waiting",
               "Almost all task time is spent waiting on LLMs, tools, retrieval or the database: a dependency is "
               "slow, or independent calls are not made in parallel (see parallelism on the dashboard).")]),
    "AgentIdleRatioHigh stays quiet at half idle": case(
        "AgentIdleRatioHigh", "20m",
        [input_series(prometheus_name(TASK_IDLE), "0+30x30", agentvitals_wait_kind="tool"),
         input_series(prom_series(TASK_DURATION, "_sum"), "0+60x30")], []),
    "ModelServerGPUSaturated fires on a GPU 98% busy for 10 minutes": case(
        "ModelServerGPUSaturated", "15m",
        [{"series": f'{GPU_UTIL_PERCENT}{{gpu="0", modelName="H100"}}', "values": "98x30"}],
        [alert("ModelServerGPUSaturated", {"gpu": "0", "modelName": "H100", "severity": "warning", "action": "page"},
               "GPU 0 is 98% busy",
               "The model server's GPU is saturated: add model-server replicas or move load to a smaller model.")]),
    "ModelServerGPUSaturated stays quiet at 60%": case(
        "ModelServerGPUSaturated", "15m",
        [{"series": f'{GPU_UTIL_PERCENT}{{gpu="0", modelName="H100"}}', "values": "60x30"}], []),
    "ModelServerKVCacheNearFull fires at 95% KV-cache usage": case(
        "ModelServerKVCacheNearFull", "10m",
        [{"series": f'{MODEL_SERVER_KV_CACHE_USAGE}{{model_name="demo-large"}}', "values": "0.95x30"}],
        [alert("ModelServerKVCacheNearFull", {"model_name": "demo-large", "severity": "warning",
                                              "action": "degrade"},
               "KV cache of demo-large is 95% full",
               "Requests will be preempted or queue; degraded mode shortens outputs and moves load to the small "
               "model.")]),
    "ModelServerKVCacheNearFull stays quiet at half full": case(
        "ModelServerKVCacheNearFull", "10m",
        [{"series": f'{MODEL_SERVER_KV_CACHE_USAGE}{{model_name="demo-large"}}', "values": "0.5x30"}], []),
    # Hit ratio 50% for an hour, then 5 in 60: a sixth of what it was an hour earlier.
    "AgentCacheHitRatioCollapsed fires when the hit ratio falls to a sixth of last hour's": case(
        "AgentCacheHitRatioCollapsed", "80m",
        [input_series(prometheus_name(CACHE_REQUESTS), "0+30x60 1805+5x30", agentvitals_cache_name="semantic",
                agentvitals_cache_result="hit"),
         input_series(prometheus_name(CACHE_REQUESTS), "0+30x60 1855+55x30", agentvitals_cache_name="semantic",
                agentvitals_cache_result="miss")],
        [alert("AgentCacheHitRatioCollapsed", {"job": JOB, "severity": "warning", "action": "page"},
               "Cache hit ratio of support-agent fell to 16.67% of what it was",
               "The application cache hit ratio is less than half of its value 1h ago: cost and latency rise "
               "with every miss.")]),
    "AgentCacheHitRatioCollapsed stays quiet while the ratio holds": case(
        "AgentCacheHitRatioCollapsed", "80m",
        [input_series(prometheus_name(CACHE_REQUESTS), "0+30x90", agentvitals_cache_name="semantic",
                agentvitals_cache_result="hit"),
         input_series(prometheus_name(CACHE_REQUESTS), "0+30x90", agentvitals_cache_name="semantic",
                agentvitals_cache_result="miss")], []),
    "TelemetryPipelineDroppingData fires when the Collector refuses spans": case(
        "TelemetryPipelineDroppingData", "10m",
        [{"series": f'{COLLECTOR_REFUSED_SPANS}{{job="{COLLECTOR_SELF_JOB}"}}', "values": "0+60x20"}],
        [alert("TelemetryPipelineDroppingData", {"severity": "critical", "action": "page"},
               "The OpenTelemetry Collector is refusing or failing to send telemetry",
               "Spans or metric points are refused (memory_limiter) or fail to export: dashboards and alerts are "
               "working from incomplete data.")]),
    "TelemetryPipelineDroppingData stays quiet while nothing is refused": case(
        "TelemetryPipelineDroppingData", "10m",
        [{"series": f'{COLLECTOR_REFUSED_SPANS}_total{{job="{COLLECTOR_SELF_JOB}"}}', "values": "0x20"}],
        []),
    "TelemetryPipelineDown fires when the Collector cannot be scraped": case(
        "TelemetryPipelineDown", "5m", [{"series": 'up{job="otel-collector", instance="c:8889"}', "values": "0x10"}],
        [alert("TelemetryPipelineDown", {"job": "otel-collector", "instance": "c:8889", "severity": "critical",
                                         "action": "page"},
               "Prometheus cannot scrape the OpenTelemetry Collector",
               "No application metrics are arriving: every other alert is blind.")]),
    "TelemetryPipelineDown ignores a single failed scrape": case(
        "TelemetryPipelineDown", "5m",
        [{"series": 'up{job="otel-collector", instance="c:8889"}', "values": "1 1 0 1 1 1 1 1"}], []),
    "AgentTaskSLOBurnFast fires when 20% of tasks fail": case(
        "AgentTaskSLOBurnFast", "70m",
        [input_series(COUNT, "0+12x80", **{OUTCOME: "error"}), input_series(COUNT, "0+48x80", **{OUTCOME: "success"})],
        [alert("AgentTaskSLOBurnFast", {"job": JOB, "severity": "critical", "action": "page"},
               "support-agent burns its task-success error budget 14x too fast",
               "Failed tasks over 1h and 5m exceed 14.4 x the 1.0% error budget (SLO 99.0%): 2% of a 30-day "
               "budget per hour.")]),
    "AgentTaskSLOBurnSlow fires when 10% of tasks fail for long": case(
        "AgentTaskSLOBurnSlow", "70m",
        [input_series(COUNT, "0+6x80", **{OUTCOME: "timeout"}), input_series(COUNT, "0+54x80", **{OUTCOME: "success"})],
        [alert("AgentTaskSLOBurnSlow", {"job": JOB, "severity": "warning", "action": "page"},
               "support-agent burns its task-success error budget 6x too fast",
               "Failed tasks over 6h and 30m exceed 6 x the 1.0% error budget.")]),
    "AgentTaskSLOBurnFast stays quiet at 5% failures": case(
        "AgentTaskSLOBurnFast", "70m",
        [input_series(COUNT, "0+3x80", **{OUTCOME: "error"}),
         input_series(COUNT, "0+57x80", **{OUTCOME: "success"})], []),
    # 12 of 60 tasks fail in the last 8 minutes only: the 5m window burns, the 1h window stays under 4%.
    "AgentTaskSLOBurnFast stays quiet when only the short window burns": case(
        "AgentTaskSLOBurnFast", "75m",
        [input_series(COUNT, "0x66 12+12x9", **{OUTCOME: "error"}),
         input_series(COUNT, "0+48x76", **{OUTCOME: "success"})], []),
    "AgentTaskSLOBurnSlow stays quiet at 2% failures": case(
        "AgentTaskSLOBurnSlow", "70m",
        [input_series(COUNT, "0+1x80", **{OUTCOME: "error"}),
         input_series(COUNT, "0+49x80", **{OUTCOME: "success"})], []),
    # --- explain (issue 14) -------------------------------------------------------------------------------------
    "AgentCognitiveErrorsHigh fires at 0.2 cognitive errors per task": case(
        "AgentCognitiveErrorsHigh", "20m",
        [input_series(prometheus_name(ERRORS), "0+12x30", agentvitals_error_class="cognitive",
                      agentvitals_error_cause="tool_not_found", agentvitals_error_source="application"),
         input_series(prometheus_name(ERRORS), "0+30x30", agentvitals_error_class="system",
                      agentvitals_error_cause="timeout", agentvitals_error_source="tool"),
         input_series(COUNT, "0+60x30")],
        [alert("AgentCognitiveErrorsHigh", {"job": JOB, "severity": "warning", "action": "page"},
               "support-agent makes 0.20 cognitive errors per task",
               "More than 0.1 cognitive errors per task over 5m (tools that do not exist, output that does not "
               "parse, loops, step limits): the model or the prompt went wrong, not the infrastructure.")]),
    # Many system errors, few cognitive ones: the infrastructure's problem, not this alert's.
    "AgentCognitiveErrorsHigh stays quiet at 0.05 per task, whatever the system errors": case(
        "AgentCognitiveErrorsHigh", "20m",
        [input_series(prometheus_name(ERRORS), "0+3x30", agentvitals_error_class="cognitive",
                      agentvitals_error_cause="output_parse", agentvitals_error_source="task"),
         input_series(prometheus_name(ERRORS), "0+60x30", agentvitals_error_class="system",
                      agentvitals_error_cause="rate_limit", agentvitals_error_source="llm"),
         input_series(COUNT, "0+60x30")], []),
    "AgentSaveableTimeHigh fires when 30% of task time could be saved": case(
        "AgentSaveableTimeHigh", "20m",
        [input_series(prometheus_name(TASK_SAVEABLE), "0+18x30", agentvitals_task_name="support"),
         input_series(prom_series(TASK_DURATION, "_sum"), "0+60x30")],
        [alert("AgentSaveableTimeHigh", {"job": JOB, "severity": "info", "action": "page"},
               "30% of the task time of support-agent is independent calls waiting for each other",
               "Running the independent calls tasks make one after another concurrently would save more than 20% "
               "of task time over 5m: agentvitals explain shows which.")]),
    "AgentSaveableTimeHigh stays quiet at 10%": case(
        "AgentSaveableTimeHigh", "20m",
        [input_series(prometheus_name(TASK_SAVEABLE), "0+6x30", agentvitals_task_name="support"),
         input_series(prom_series(TASK_DURATION, "_sum"), "0+60x30")], []),
}


def _no_data_cases() -> dict[str, dict[str, Any]]:
    """For each ...NoData partner: it fires when one of its inputs disappears while the service still sends
    telemetry (a renamed metric), and stays quiet while the input keeps coming."""
    cases = {}
    info = input_series(CONFIG.service_info_metric, "1x130", instance="a")
    for partner in (a for a in Rules(CONFIG).alerts if a.name.endswith("NoData")):
        watched = next(a for a in Rules(CONFIG).alerts if f"{a.name}NoData" == partner.name)
        gone, *kept = watched.inputs
        kept_series = [input_series(name, "0+1x130", instance="a") for name in kept]
        cases[f"{partner.name} fires when {gone} disappears while the service still reports"] = case(
            partner.name, "100m", [info, input_series(gone, "0+1x60", instance="a"), *kept_series],
            [alert(partner.name, {"job": JOB, "input": gone, "severity": "warning", "action": "page"},
                   f"{JOB} no longer reports {gone}, which {watched.name} reads", partner.description,
                   runbook=partner.runbook)])
        cases[f"{partner.name} stays quiet while {gone} keeps coming"] = case(
            partner.name, "100m", [info, input_series(gone, "0+1x130", instance="a"), *kept_series], [])
    return cases


CASES.update(_no_data_cases())
CASES["AgentTaskLatencyHighNoData stays quiet when the whole service is gone"] = case(
    "AgentTaskLatencyHighNoData", "100m", [input_series(COUNT, "0+1x60", instance="a")], [])

# Counting with counted_rate: a series' first sample is counted, a series that only paused is not counted again.
TASKS_1M = Rules(CONFIG).fast.tasks_by_outcome
RATE_CASES: dict[str, dict[str, Any]] = {
    "the first task of a new outcome is counted, not lost to rate()": {
        "interval": "1m",
        "input_series": [input_series(COUNT, "_x10 1x10", **{OUTCOME: "error"})],
        "promql_expr_test": [
            {"expr": TASKS_1M, "eval_time": "10m",
             "exp_samples": [{"labels": f'{TASKS_1M}{{job="{JOB}", {OUTCOME}="error"}}', "value": 1 / 60}]},
            {"expr": TASKS_1M, "eval_time": "15m",  # nothing since: zero, not the first one again
             "exp_samples": [{"labels": f'{TASKS_1M}{{job="{JOB}", {OUTCOME}="error"}}', "value": 0}]},
        ],
    },
    "a series back after a gap (a Collector restart) is not counted again from zero": {
        "interval": "1m",
        "input_series": [input_series(COUNT, "50x10 _x7 50x10", **{OUTCOME: "success"})],
        "promql_expr_test": [
            {"expr": TASKS_1M, "eval_time": "19m",
             "exp_samples": [{"labels": f'{TASKS_1M}{{job="{JOB}", {OUTCOME}="success"}}', "value": 0}]},
        ],
    },
}


def test_rules_pass_promtool_check() -> None:
    promtool = require_binary("promtool")
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
              if "alert" in rule}
    tested = {test["alert_rule_test"][0]["alertname"] for test in CASES.values()}
    assert alerts == tested
    for name in alerts:
        outcomes = {bool(t["alert_rule_test"][0]["exp_alerts"]) for t in CASES.values()
                    if t["alert_rule_test"][0]["alertname"] == name}
        assert outcomes == {True, False}, name


def test_alert_names_are_unique_and_actions_are_known() -> None:
    from agentvitals.control import ACTIONS
    from agentvitals.control._webhook import requested_actions

    groups = yaml.safe_load(RULES.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"] if "alert" in rule]
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), sorted(name for name in names if names.count(name) > 1)
    for rule in rules:
        actions = requested_actions(rule["labels"]["action"])
        assert actions and set(actions) <= set(ACTIONS), (rule["alert"], rule["labels"]["action"])
    latency = next(rule for rule in rules if rule["alert"] == "AgentTaskLatencyHigh")
    assert requested_actions(latency["labels"]["action"]) == ["scale_out", "degrade"]


@pytest.mark.parametrize("title", [*CASES, *RATE_CASES])
def test_promtool_rule_case(title: str, tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    test_file = tmp_path / "test.yml"
    test_file.write_text(yaml.safe_dump({
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [CASES.get(title) or RATE_CASES[title]],
    }))
    result = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
