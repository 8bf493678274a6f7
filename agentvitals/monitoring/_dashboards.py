"""Grafana dashboards, generated with grafanalib from the name registry and the shared rules.

Only modern panel types (timeseries, stat, gauge, bar gauge, table); datasources are object
references to the provisioned uids; every target has an explicit refId; latency panels carry
exemplars that link to the Tempo datasource. grafanalib stays behind the helpers in this module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grafanalib import core as g

from agentvitals.attributes import BUDGET_LIMIT, CACHE_NAME, CACHE_RESULT, TASK_OUTCOME, TOKEN_TYPE, WAIT_KIND
from agentvitals.control.metrics import QUEUE_DEPTH, ROUTER_DEGRADED, WORKERS, WORKERS_BUSY
from agentvitals.metrics import (
    BUDGET_EXHAUSTED,
    CACHE_REQUESTS,
    COST,
    DB_DURATION,
    GPU_MEMORY_LIMIT,
    GPU_MEMORY_USAGE,
    OPERATION_DURATION,
    RETRIEVAL_DURATION,
    TASK_ACTIVE,
    TASK_COST,
    TASK_DURATION,
    TASK_IDLE,
    TIME_TO_FIRST_CHUNK,
    TOKEN_USAGE,
    TOKENS,
    TOOL_DURATION,
    UNPRICED_CALLS,
)
from agentvitals.monitoring._config import MonitoringConfig
from agentvitals.monitoring._rules import MODEL, SERVICE, Rules, eq, gpu_utilization_percent, ratio
from agentvitals.monitoring.series import (
    GPU_MEMORY_FREE_MIB,
    GPU_MEMORY_USED_MIB,
    MODEL_NAME_LABEL,
    MODEL_SERVER_KV_CACHE_USAGE,
    MODEL_SERVER_PREFIX_CACHE_HITS,
    MODEL_SERVER_PREFIX_CACHE_QUERIES,
    MODEL_SERVER_RUNNING,
    MODEL_SERVER_WAITING,
    SPAN_METRICS_CALLS,
    prometheus_name,
    series,
)
from agentvitals.monitoring.series import prometheus_label as label
from agentvitals.semconv import (
    DB_OPERATION_NAME,
    ERROR_TYPE,
    GEN_AI_DATA_SOURCE_ID,
    GEN_AI_OPERATION_NAME,
    GEN_AI_TOKEN_TYPE,
    GEN_AI_TOOL_NAME,
    HW_ID,
)

__all__ = ["CONDITIONAL_PANELS", "build_dashboards"]

RATE = "$__rate_interval"
SERVICE_MATCH = f'{SERVICE}=~"$service"'
MODEL_MATCH = f'{MODEL}=~"$model"'

CONDITIONAL_PANELS = {
    "Firing alerts": "ALERTS only has series while an alert fires (the control-loop test makes one fire).",
}
"""Panels that only show data under a condition, by title, with why (the query test lists them)."""


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    exemplar: bool = False
    instant: bool = False


@dataclass
class _Builder:
    """Lays panels out on a 24-column grid and numbers their refIds."""

    config: MonitoringConfig
    panels: list[Any] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _row_height: int = 0

    @property
    def datasource(self) -> dict[str, str]:
        return _prometheus(self.config)

    def _place(self, width: int, height: int) -> g.GridPos:
        if self._x + width > 24:
            self._x, self._y, self._row_height = 0, self._y + self._row_height, 0
        position = g.GridPos(h=height, w=width, x=self._x, y=self._y)
        self._x += width
        self._row_height = max(self._row_height, height)
        return position

    def _targets(self, queries: Sequence[Query]) -> list[dict[str, Any]]:
        targets = []
        for index, query in enumerate(queries):
            target: dict[str, Any] = {
                "datasource": self.datasource,
                "expr": query.expr,
                "legendFormat": query.legend,
                "refId": chr(ord("A") + index),
                "range": not query.instant,
                "instant": query.instant,
            }
            if query.exemplar:
                target["exemplar"] = True
            targets.append(target)
        return targets

    def timeseries(self, title: str, queries: Sequence[Query], *, unit: str = "", width: int = 12,
                   height: int = 8, stacked: bool = False, threshold: float | None = None,
                   description: str = "") -> None:
        panel = g.TimeSeries(
            title=title, description=description or None, dataSource=self.datasource,
            targets=self._targets(queries), gridPos=self._place(width, height), unit=unit,
            fillOpacity=30 if stacked else 10, stacking={"mode": "normal"} if stacked else {},
            legendDisplayMode="table" if len(queries) > 2 else "list", legendCalcs=["mean", "max"],
            tooltipMode="multi", thresholdsStyleMode="line" if threshold is not None else "off",
        )
        if threshold is not None:
            panel.thresholds = [{"color": "green", "value": None}, {"color": "red", "value": threshold}]
        self.panels.append(panel)

    def stat(self, title: str, query: Query, *, unit: str = "", width: int = 6, height: int = 4,
             thresholds: Sequence[tuple[str, float | None]] = (("green", None),),
             mappings: Sequence[dict[str, Any]] = (), description: str = "") -> None:
        self.panels.append(g.Stat(
            title=title, description=description or None, dataSource=self.datasource,
            targets=self._targets([query]), gridPos=self._place(width, height), format=unit,
            reduceCalc="lastNotNull", graphMode="area",
            thresholds=[{"color": color, "value": value} for color, value in thresholds],
            mappings=list(mappings),
        ))

    def gauge(self, title: str, query: Query, *, unit: str = "percentunit", width: int = 6, height: int = 6,
              max_value: float = 1.0, description: str = "") -> None:
        self.panels.append(g.GaugePanel(
            title=title, description=description or None, dataSource=self.datasource,
            targets=self._targets([query]), gridPos=self._place(width, height), format=unit,
            min=0, max=max_value, calc="lastNotNull",
            thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 0.8 * max_value},
                        {"color": "red", "value": 0.95 * max_value}],
        ))

    def bars(self, title: str, query: Query, *, unit: str = "", width: int = 12, height: int = 8,
             description: str = "") -> None:
        self.panels.append(g.BarGauge(
            title=title, description=description or None, dataSource=self.datasource,
            targets=self._targets([query]), gridPos=self._place(width, height), format=unit,
            calc="lastNotNull", orientation="horizontal", displayMode="gradient", max=None, min=0,
            thresholds=[{"color": "green", "value": None}],
        ))

    def table(self, title: str, query: Query, *, width: int = 12, height: int = 8, description: str = "") -> None:
        self.panels.append(g.Table(
            title=title, description=description or None, dataSource=self.datasource,
            targets=self._targets([Query(query.expr, query.legend, instant=True)]),
            gridPos=self._place(width, height),
            transformations=[{"id": "labelsToFields", "options": {}}],
        ))


def _prometheus(config: MonitoringConfig) -> dict[str, str]:
    return {"type": "prometheus", "uid": config.prometheus_uid}


def _templating(config: MonitoringConfig, with_model: bool) -> g.Templating:
    datasource = _prometheus(config)
    variables = [
        g.Template(name="service", label="Service", dataSource=datasource, type="query",
                   query=f"label_values({series(TASK_DURATION, '_count')}, {SERVICE})",
                   includeAll=True, multi=True, default="$__all", refresh=2, allValue=".*"),
    ]
    if with_model:
        variables.append(g.Template(
            name="model", label="Model", dataSource=datasource, type="query",
            query=f"label_values({series(OPERATION_DURATION, '_count')}, {MODEL})",
            includeAll=True, multi=True, default="$__all", refresh=2, allValue=".*"))
    return g.Templating(list=variables)


def _dashboard(config: MonitoringConfig, uid: str, title: str, description: str, builder: _Builder,
               with_model: bool = False) -> dict[str, Any]:
    dashboard = g.Dashboard(
        title=title, uid=uid, description=description, tags=["agentvitals", "generated"],
        timezone="browser", refresh="10s", time=g.Time("now-30m", "now"),
        templating=_templating(config, with_model), panels=builder.panels,
        links=[g.DashboardLink(title="agentvitals", type="dashboards", tags=["agentvitals"], asDropdown=True)],
    ).auto_panel_ids()
    data: dict[str, Any] = json.loads(json.dumps(dashboard.to_json_data(), default=_json_data))
    if not data.get("rows"):
        data.pop("rows", None)  # grafanalib's legacy row list; panels carry gridPos instead
    return data


def _json_data(value: Any) -> Any:
    """grafanalib objects serialise through their public ``to_json_data()``."""
    return value.to_json_data()


def _quantile(q: float, series: str, by: str, matchers: str) -> str:
    return f"histogram_quantile({q}, sum by (le{', ' + by if by else ''}) (rate({series}{{{matchers}}}[{RATE}])))"


def overview(config: MonitoringConfig, rules: Rules) -> dict[str, Any]:
    b = _Builder(config)
    task = TASK_DURATION
    threshold = config.latency_threshold_s
    b.stat("Tasks / s", Query(f"sum({rules.tasks}{{{SERVICE_MATCH}}})"), unit="reqps")
    b.stat("Success rate", Query(f"min({rules.success_ratio}{{{SERVICE_MATCH}}})"), unit="percentunit",
           thresholds=(("red", None), ("orange", 0.95), ("green", config.slo_success_target)))
    b.stat("Task p95", Query(f"max({rules.task_p[95]}{{{SERVICE_MATCH}}})"), unit="s",
           thresholds=(("green", None), ("red", threshold)))
    b.stat("Router mode", Query(f"max({prometheus_name(ROUTER_DEGRADED)}{{{SERVICE_MATCH}}})"),
           thresholds=(("green", None), ("orange", 1)),
           mappings=[{"type": "value", "options": {"0": {"text": "normal"}, "1": {"text": "DEGRADED"}}}],
           description="Set by the control loop: degraded routes to the small model with fewer tokens.")
    b.timeseries(
        "Task latency p50 / p95 / p99",
        [Query(_quantile(q, series(task, "_bucket"), SERVICE, SERVICE_MATCH), f"p{round(q * 100)} {{{{job}}}}",
               exemplar=True) for q in (0.5, 0.95, 0.99)],
        unit="s", threshold=threshold,
        description=f"Task wall time. The red line is the {threshold:g}s alert threshold; dots are exemplars: "
                    "click one to open its trace in Tempo.")
    b.timeseries("Tasks / s by outcome",
                 [Query(f"sum by ({label(TASK_OUTCOME)}) ({rules.tasks_by_outcome}{{{SERVICE_MATCH}}})",
                        f"{{{{{label(TASK_OUTCOME)}}}}}")], unit="reqps", stacked=True)
    wait_kind = label(WAIT_KIND)
    b.timeseries(
        "Where task time goes: active vs idle (by what it waits on)",
        [Query(f"sum(rate({prometheus_name(TASK_ACTIVE)}{{{SERVICE_MATCH}}}[{RATE}]))", "active (own compute)"),
         Query(f"sum by ({wait_kind}) (rate({prometheus_name(TASK_IDLE)}{{{SERVICE_MATCH}}}[{RATE}]))",
               f"idle: {{{{{wait_kind}}}}}")],
        unit="s", stacked=True, width=16,
        description="Seconds of task time per second. Idle is the union of a task's waits (parallel calls count "
                    "once); overlapping kinds share the time.")
    b.stat("Idle ratio", Query(f"max({rules.idle_ratio}{{{SERVICE_MATCH}}})"), unit="percentunit", width=4)
    b.stat("Parallelism achieved", Query(f"max({rules.parallelism}{{{SERVICE_MATCH}}})"), unit="x", width=4,
           description="Summed duration of waits / idle time: 1.0 means every wait was sequential.")
    b.timeseries("Cost per task and per successful task",
                 [Query(f"max({rules.cost_per_task}{{{SERVICE_MATCH}}})", "per task"),
                  Query(f"max({rules.cost_per_success}{{{SERVICE_MATCH}}})", "per successful task")],
                 unit="currencyUSD")
    b.timeseries("Workers and queue",
                 [Query(f"sum({prometheus_name(WORKERS)}{{{SERVICE_MATCH}}})", "workers"),
                  Query(f"sum({prometheus_name(WORKERS_BUSY)}{{{SERVICE_MATCH}}})", "busy"),
                  Query(f"sum({prometheus_name(QUEUE_DEPTH)}{{{SERVICE_MATCH}}})", "queued tasks")],
                 description="The worker pool the control loop scales out on AgentTaskLatencyHigh.")
    b.timeseries("Router mode over time",
                 [Query(f"max({prometheus_name(ROUTER_DEGRADED)}{{{SERVICE_MATCH}}})", "degraded")], width=12)
    b.table("Firing alerts", Query('sum by (alertname, action, severity) (ALERTS{alertstate="firing"})'),
            description="Alerts firing now, with the action each requests from the control loop.")
    return _dashboard(config, "agentvitals-overview", "agentvitals / Overview",
                      "Tasks, latency, where the time goes, cost, and the control loop acting.", b)


def llm(config: MonitoringConfig, rules: Rules) -> dict[str, Any]:
    b = _Builder(config)
    duration = OPERATION_DURATION
    matches = f"{SERVICE_MATCH}, {MODEL_MATCH}"
    chat = f'{matches}, {eq(label(GEN_AI_OPERATION_NAME), "chat")}'
    for q in (0.95, 0.99):
        b.timeseries(f"LLM call p{round(q * 100)} by model",
                     [Query(_quantile(q, series(duration, "_bucket"), MODEL, chat), f"{{{{{MODEL}}}}}", exemplar=True)],
                     unit="s", threshold=config.latency_threshold_s)
    b.timeseries("Time to first chunk p95 by model (streams)",
                 [Query(_quantile(0.95, series(TIME_TO_FIRST_CHUNK, "_bucket"), MODEL, matches),
                        f"{{{{{MODEL}}}}}", exemplar=True)], unit="s")
    token_type, usage_type = label(TOKEN_TYPE), label(GEN_AI_TOKEN_TYPE)
    b.timeseries("Tokens / s by type",
                 [Query(f"sum by ({usage_type}) (rate({series(TOKEN_USAGE, '_sum')}{{{matches}}}[{RATE}]))",
                        f"{{{{{usage_type}}}}}"),
                  Query(f"sum by ({token_type}) (rate({prometheus_name(TOKENS)}{{{matches}}}[{RATE}]))",
                        f"{{{{{token_type}}}}}")], unit="short",
                 description="Input and output tokens; of those, cached input (read, written) and reasoning output.")
    b.timeseries("LLM spend by model ($/h)",
                 [Query(f"sum by ({MODEL}) (rate({prometheus_name(COST)}{{{matches}}}[{RATE}])) * 3600",
                        f"{{{{{MODEL}}}}}")], unit="currencyUSD", stacked=True)
    b.timeseries("Prompt-cache hit ratio (cached / all input tokens)",
                 [Query(f"max({rules.prompt_cache_ratio}{{{SERVICE_MATCH}}})", "{{job}}")], unit="percentunit")
    b.timeseries("Unpriced calls / s by model",
                 [Query(f"sum by ({MODEL}) (rate({prometheus_name(UNPRICED_CALLS)}{{{matches}}}[{RATE}]))",
                        f"{{{{{MODEL}}}}}")], unit="reqps",
                 description="Calls whose model has no price (or no usage): their cost is unknown, not zero. "
                             "Add the price with init(pricing=...).")
    b.timeseries("LLM calls / s by model",
                 [Query(f"sum by ({MODEL}) (rate({series(duration, '_count')}{{{matches}}}[{RATE}]))",
                        f"{{{{{MODEL}}}}}")], unit="reqps")
    errored = f'{matches}, {label(ERROR_TYPE)}!=""'
    b.timeseries("LLM error ratio by model",
                 [Query(ratio(f"rate({series(duration, '_count')}{{{errored}}}[{RATE}])",
                               f"rate({series(duration, '_count')}{{{matches}}}[{RATE}])", MODEL),
                        f"{{{{{MODEL}}}}}")], unit="percentunit")
    return _dashboard(config, "agentvitals-llm", "agentvitals / LLM",
                      "Per-model latency, time to first chunk, tokens, cost and prompt caching.", b, with_model=True)


def tools(config: MonitoringConfig, rules: Rules) -> dict[str, Any]:
    b = _Builder(config)
    tool = TOOL_DURATION
    tool_name = label(GEN_AI_TOOL_NAME)
    source = label(GEN_AI_DATA_SOURCE_ID)
    for q in (0.95, 0.99):
        b.timeseries(f"Tool p{round(q * 100)} by tool",
                     [Query(_quantile(q, series(tool, "_bucket"), tool_name, SERVICE_MATCH), f"{{{{{tool_name}}}}}",
                            exemplar=True)], unit="s")
    b.timeseries("Tool calls / s by tool",
                 [Query(f"sum by ({tool_name}) (rate({series(tool, '_count')}{{{SERVICE_MATCH}}}[{RATE}]))",
                        f"{{{{{tool_name}}}}}")], unit="reqps", stacked=True)
    b.timeseries("Tool error ratio by tool",
                 [Query(ratio(f'rate({series(tool, "_count")}{{{SERVICE_MATCH}, {label(ERROR_TYPE)}!=""}}'
                               f"[{RATE}])",
                               f"rate({series(tool, '_count')}{{{SERVICE_MATCH}}}[{RATE}])", tool_name),
                        f"{{{{{tool_name}}}}}")], unit="percentunit")
    b.timeseries("Retrieval p95 / p99 by source",
                 [Query(_quantile(q, series(RETRIEVAL_DURATION, "_bucket"), source, SERVICE_MATCH),
                        f"p{round(q * 100)} {{{{{source}}}}}", exemplar=True) for q in (0.95, 0.99)], unit="s")
    db = DB_DURATION
    operation = label(DB_OPERATION_NAME)
    b.timeseries("Database p95 / p99 by operation",
                 [Query(_quantile(q, series(db, "_bucket"), operation, SERVICE_MATCH),
                        f"p{round(q * 100)} {{{{{operation}}}}}", exemplar=True) for q in (0.95, 0.99)], unit="s")
    b.timeseries("Database operations / s",
                 [Query(f"sum by ({operation}) (rate({series(db, '_count')}{{{SERVICE_MATCH}}}[{RATE}]))",
                        f"{{{{{operation}}}}}")], unit="ops", stacked=True)
    b.timeseries("Parallelism achieved",
                 [Query(f"max({rules.parallelism}{{{SERVICE_MATCH}}})", "{{job}}")], unit="x",
                 description="Summed duration of waits / idle time. Independent tool calls run in parallel raise it.")
    b.timeseries("Span calls / s from the Collector's span metrics",
                 [Query(f'sum by (span_name) (rate({SPAN_METRICS_CALLS}{{service_name=~"$service", '
                        f'span_name=~"execute_tool .*|retrieval .*"}}[{RATE}]))', "{{span_name}}")],
                 unit="reqps", description="Derived from traces by the Collector (sampled traces only).")
    return _dashboard(config, "agentvitals-tools", "agentvitals / Tools, retrieval and DB",
                      "Latency percentiles, errors and calls of tools, retrievals and database operations.", b)


def gpu_and_cache(config: MonitoringConfig, rules: Rules) -> dict[str, Any]:
    b = _Builder(config)
    b.timeseries("GPU utilization", [Query(gpu_utilization_percent(), "GPU {{gpu}}")], unit="percent",
                 threshold=config.gpu_saturation_percent,
                 description="From the model server's dcgm-exporter, or from the SDK's NVML gauges (hw.gpu.*).")
    used, free = GPU_MEMORY_USED_MIB, GPU_MEMORY_FREE_MIB
    hw_id = label(HW_ID)
    nvml_memory = (f"sum by ({hw_id}) ({prometheus_name(GPU_MEMORY_USAGE)}) / "
                   f"sum by ({hw_id}) ({prometheus_name(GPU_MEMORY_LIMIT)})")
    b.timeseries("GPU memory used",
                 [Query(f"sum by (gpu) ({used}) / sum by (gpu) ({used} + {free})\nor\n"
                        f'label_replace({nvml_memory}, "gpu", "$1", "{hw_id}", "(.+)")', "GPU {{gpu}}")],
                 unit="percentunit")
    model = MODEL_NAME_LABEL
    b.timeseries("KV-cache usage by model",
                 [Query(f"max by ({model}) ({MODEL_SERVER_KV_CACHE_USAGE})", f"{{{{{model}}}}}")],
                 unit="percentunit", threshold=config.kv_cache_full_ratio)
    b.timeseries("Model server queue: waiting and running requests",
                 [Query(f"sum by ({model}) ({MODEL_SERVER_WAITING})", f"waiting {{{{{model}}}}}"),
                  Query(f"sum by ({model}) ({MODEL_SERVER_RUNNING})", f"running {{{{{model}}}}}")])
    b.timeseries("Application cache hit ratio",
                 [Query(f"max({rules.cache_ratio}{{{SERVICE_MATCH}}})", "{{job}}")], unit="percentunit")
    b.timeseries("Model server prefix-cache hit ratio",
                 [Query(ratio(f"rate({MODEL_SERVER_PREFIX_CACHE_HITS}[{RATE}])",
                               f"rate({MODEL_SERVER_PREFIX_CACHE_QUERIES}[{RATE}])", model),
                        f"{{{{{model}}}}}")], unit="percentunit")
    b.gauge("KV cache, fullest model", Query(f"max({MODEL_SERVER_KV_CACHE_USAGE})"))
    b.gauge("GPU utilization, busiest GPU", Query(f"max({gpu_utilization_percent()})"), unit="percent",
            max_value=100)
    b.bars("Application cache look-ups / s by cache and result",
           Query(f"sum by ({label(CACHE_NAME)}, {label(CACHE_RESULT)}) "
                 f"(rate({prometheus_name(CACHE_REQUESTS)}{{{SERVICE_MATCH}}}[{RATE}]))",
                 f"{{{{{label(CACHE_NAME)}}}}} {{{{{label(CACHE_RESULT)}}}}}"), unit="reqps")
    return _dashboard(config, "agentvitals-gpu-cache", "agentvitals / GPU and cache",
                      "Model-server GPU, KV cache and queue; application and prompt cache hit ratios.", b)


def cost(config: MonitoringConfig, rules: Rules) -> dict[str, Any]:
    b = _Builder(config)
    b.stat("LLM spend ($/h)", Query(f"sum({rules.cost_rate}{{{SERVICE_MATCH}}}) * 3600"), unit="currencyUSD",
           thresholds=(("green", None), ("red", config.hourly_budget_usd)))
    b.stat("Budget used (spend / hourly budget)",
           Query(f"sum({rules.cost_rate}{{{SERVICE_MATCH}}}) * 3600 / {config.hourly_budget_usd:g}"),
           unit="percentunit", thresholds=(("green", None), ("orange", 0.8), ("red", 1)))
    b.stat("Cost per task", Query(f"max({rules.cost_per_task}{{{SERVICE_MATCH}}})"), unit="currencyUSD")
    b.stat("Cost per successful task", Query(f"max({rules.cost_per_success}{{{SERVICE_MATCH}}})"),
           unit="currencyUSD")
    b.timeseries("Spend by model ($/h)",
                 [Query(f"sum by ({MODEL}) (rate({prometheus_name(COST)}{{{SERVICE_MATCH}}}[{RATE}])) * 3600",
                        f"{{{{{MODEL}}}}}")], unit="currencyUSD", stacked=True)
    b.timeseries("Task cost by outcome ($/h)",
                 [Query(f"sum by ({label(TASK_OUTCOME)}) (rate({prometheus_name(TASK_COST)}{{{SERVICE_MATCH}}}"
                        f"[{RATE}])) * 3600", f"{{{{{label(TASK_OUTCOME)}}}}}")], unit="currencyUSD",
                 stacked=True, description="What failed and budget-exhausted tasks cost too.")
    b.timeseries("Budget exhaustions / s by limit",
                 [Query(f"sum by ({label(BUDGET_LIMIT)}) (rate({prometheus_name(BUDGET_EXHAUSTED)}"
                        f"{{{SERVICE_MATCH}}}[{RATE}]))", f"{{{{{label(BUDGET_LIMIT)}}}}}")], unit="reqps")
    return _dashboard(config, "agentvitals-cost", "agentvitals / Cost",
                      "LLM spend against the hourly budget, cost per task and per successful task.", b)


def build_dashboards(config: MonitoringConfig) -> dict[str, dict[str, Any]]:
    """Dashboard JSON by file stem."""
    rules = Rules(config)
    return {
        "overview": overview(config, rules),
        "llm": llm(config, rules),
        "tools": tools(config, rules),
        "gpu-cache": gpu_and_cache(config, rules),
        "cost": cost(config, rules),
    }
