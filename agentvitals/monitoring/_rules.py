"""Recording rules and alerts, from the name registry and one :class:`MonitoringConfig`.

Recording rules follow ``level:metric:operations`` and are shared by the dashboards and the alerts,
so a panel and the alert about it cannot drift apart. Every alert names the action it requests in
its ``action`` label (``scale_out``, ``degrade`` or ``page``); Alertmanager routes on it.
The service is the ``job`` label (the SDK's ``service.name`` after the Collector's translation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentvitals.attributes import CACHE_RESULT, ERROR_CAUSE, ERROR_CLASS, TASK_OUTCOME, TOKEN_TYPE, Outcome, TokenType
from agentvitals.metrics import (
    BUDGET_EXHAUSTED,
    CACHE_REQUESTS,
    COST,
    ERRORS,
    GPU_UTILIZATION,
    OPERATION_DURATION,
    TASK_CHILD,
    TASK_COST,
    TASK_DURATION,
    TASK_IDLE,
    TASK_SAVEABLE,
    TOKEN_USAGE,
    TOKENS,
)
from agentvitals.monitoring._config import MonitoringConfig, seconds
from agentvitals.monitoring.series import (
    COLLECTOR_REFUSED_METRIC_POINTS,
    COLLECTOR_REFUSED_SPANS,
    COLLECTOR_SEND_FAILED_METRIC_POINTS,
    COLLECTOR_SEND_FAILED_SPANS,
    GPU_UTIL_PERCENT,
    MODEL_NAME_LABEL,
    MODEL_SERVER_KV_CACHE_USAGE,
    collector_counter,
    prometheus_name,
    series,
)
from agentvitals.monitoring.series import prometheus_label as label
from agentvitals.semconv import ERROR_TYPE, GEN_AI_REQUEST_MODEL, GEN_AI_TOKEN_TYPE, HW_GPU_TASK, HW_ID, HW_NAME

__all__ = ["Alert", "Recording", "Rules", "build_rules", "ratio"]

SERVICE = "job"
OUTCOME = label(TASK_OUTCOME)
MODEL = label(GEN_AI_REQUEST_MODEL)


@dataclass(frozen=True)
class Recording:
    record: str
    expr: str


@dataclass(frozen=True)
class Alert:
    name: str
    signal: str
    """The quantity the alert watches (a test runs it against the demo's Prometheus)."""
    condition: str
    """Appended to ``signal`` to make the alert expression, e.g. ``> 2``."""
    for_: str
    severity: str
    action: str
    summary: str
    description: str
    keep_firing_for: str | None = None
    extra_labels: dict[str, str] = field(default_factory=dict)
    and_signal: str | None = None
    """A second quantity that must meet the same condition (multi-window burn rates)."""

    @property
    def expr(self) -> str:
        # Comparisons bind tighter than "or"/"and": a union must be parenthesised before comparing, and
        # both windows of a burn-rate alert compared on their own.
        signal = f"(\n{self.signal}\n)" if "\nor\n" in self.signal else self.signal
        expr = f"{signal} {self.condition}"
        if self.and_signal is not None:
            expr += f"\nand on ({SERVICE})\n{self.and_signal} {self.condition}"
        return expr


def gpu_utilization_percent() -> str:
    """Per-GPU utilisation in percent, from dcgm-exporter or from the SDK's NVML gauges (labelled ``gpu``)."""
    nvml = (f'max by ({label(HW_ID)}, {label(HW_NAME)}) '
            f'({prometheus_name(GPU_UTILIZATION)}{{{label(HW_GPU_TASK)}="general"}}) * 100')
    return (f"avg by (gpu, modelName) ({GPU_UTIL_PERCENT})\nor\n"
            f'label_replace({nvml}, "gpu", "$1", "{label(HW_ID)}", "(.+)")')


def _rate(series: str, window: str, matchers: str = "") -> str:
    return f"rate({series}{{{matchers}}}[{window}])" if matchers else f"rate({series}[{window}])"


def ratio(numerator: str, denominator: str, by: str = SERVICE) -> str:
    """sum(numerator) / sum(denominator) by ``by``. The "or ... * 0" makes a numerator with no series yet
    (no errors so far) give 0, not an empty result."""
    return (f"(sum by ({by}) ({numerator}) or sum by ({by}) ({denominator}) * 0)"
            f"\n/\nsum by ({by}) ({denominator})")


def eq(name: str, value: str) -> str:
    return f'{name}="{value}"'


def ne(name: str, value: str) -> str:
    return f'{name}!="{value}"'


class Rules:
    """The recording-rule names and the expressions built on them, for one config."""

    def __init__(self, config: MonitoringConfig) -> None:
        self.config = config
        w = config.rate_window
        self.window = w
        task = TASK_DURATION
        count, bucket = series(task, "_count"), series(task, "_bucket")
        llm = OPERATION_DURATION
        tokens = prometheus_name(TOKENS)
        token_type = label(TOKEN_TYPE)

        self.tasks_by_outcome = f"{SERVICE}_outcome:agentvitals_tasks:rate{w}"
        self.tasks = f"{SERVICE}:agentvitals_tasks:rate{w}"
        self.task_p = {q: f"{SERVICE}:{prometheus_name(task)}:p{q}_{w}" for q in (50, 95, 99)}
        self.success_ratio = f"{SERVICE}:agentvitals_task_successes_per_task:ratio_rate{w}"
        self.failure_ratio = {
            window: f"{SERVICE}:agentvitals_task_failures_per_task:ratio_rate{window}"
            for window in sorted({w, *config.slo_fast_windows, *config.slo_slow_windows}, key=seconds)
        }
        self.cost_rate = f"{SERVICE}:{prometheus_name(COST).removesuffix('_total')}:rate{w}"
        self.cost_per_task = f"{SERVICE}:agentvitals_task_cost_usd_per_task:ratio_rate{w}"
        self.cost_per_success = f"{SERVICE}:agentvitals_task_cost_usd_per_successful_task:ratio_rate{w}"
        self.idle_ratio = f"{SERVICE}:agentvitals_task_idle_per_wall_time:ratio_rate{w}"
        self.parallelism = f"{SERVICE}:agentvitals_task_child_per_idle_time:ratio_rate{w}"
        self.llm_p = {q: f"{SERVICE}_model:{prometheus_name(llm)}:p{q}_{w}" for q in (95, 99)}
        self.llm_error_ratio = f"{SERVICE}:gen_ai_client_operation_errors_per_operation:ratio_rate{w}"
        self.prompt_cache_ratio = f"{SERVICE}:agentvitals_llm_cache_read_per_input_tokens:ratio_rate{w}"
        self.cache_ratio = f"{SERVICE}:agentvitals_cache_hits_per_request:ratio_rate{w}"
        self.cache_requests = f"{SERVICE}:{prometheus_name(CACHE_REQUESTS).removesuffix('_total')}:rate{w}"
        self.budget_ratio = f"{SERVICE}:agentvitals_budget_exhausted_per_task:ratio_rate{w}"

        success = eq(OUTCOME, Outcome.SUCCESS.value)
        failure = ne(OUTCOME, Outcome.SUCCESS.value)
        errored = ne(label(ERROR_TYPE), "")
        cache_read = eq(token_type, TokenType.CACHE_READ.value)
        all_input = eq(label(GEN_AI_TOKEN_TYPE), "input")
        hit = eq(label(CACHE_RESULT), "hit")

        self.recordings: list[Recording] = [
            Recording(self.tasks_by_outcome, f"sum by ({SERVICE}, {OUTCOME}) ({_rate(count, w)})"),
            Recording(self.tasks, f"sum by ({SERVICE}) ({_rate(count, w)})"),
            *(Recording(self.task_p[q], f"histogram_quantile(0.{q}, sum by ({SERVICE}, le) ({_rate(bucket, w)}))")
              for q in (50, 95, 99)),
            Recording(self.success_ratio, ratio(_rate(count, w, success), _rate(count, w))),
            *(Recording(name, ratio(_rate(count, window, failure), _rate(count, window)))
              for window, name in self.failure_ratio.items()),
            Recording(self.cost_rate, f"sum by ({SERVICE}) ({_rate(prometheus_name(COST), w)})"),
            Recording(self.cost_per_task, ratio(_rate(prometheus_name(TASK_COST), w), _rate(count, w))),
            Recording(self.cost_per_success, ratio(_rate(prometheus_name(TASK_COST), w), _rate(count, w, success))),
            Recording(self.idle_ratio, ratio(_rate(prometheus_name(TASK_IDLE), w), _rate(series(task, "_sum"), w))),
            Recording(self.parallelism,
                      ratio(_rate(prometheus_name(TASK_CHILD), w), _rate(prometheus_name(TASK_IDLE), w))),
            *(Recording(self.llm_p[q], f"histogram_quantile(0.{q}, sum by ({SERVICE}, {MODEL}, le) "
                                       f"({_rate(series(llm, '_bucket'), w)}))") for q in (95, 99)),
            Recording(self.llm_error_ratio, ratio(_rate(series(llm, "_count"), w, errored),
                                                  _rate(series(llm, "_count"), w))),
            Recording(self.prompt_cache_ratio,
                      ratio(_rate(tokens, w, cache_read), _rate(series(TOKEN_USAGE, "_sum"), w, all_input))),
            Recording(self.cache_requests, f"sum by ({SERVICE}) ({_rate(prometheus_name(CACHE_REQUESTS), w)})"),
            Recording(self.cache_ratio, ratio(_rate(prometheus_name(CACHE_REQUESTS), w, hit),
                                              _rate(prometheus_name(CACHE_REQUESTS), w))),
            Recording(self.budget_ratio, ratio(_rate(prometheus_name(BUDGET_EXHAUSTED), w), _rate(count, w))),
        ]
        self._explain_rules()
        self.alerts = self._alerts() + self._explain_alerts()

    # --- explain (issue 14): errors by class, time parallelism would save ------------------------------------
    def _explain_rules(self) -> None:
        w = self.window
        errors, error_class = prometheus_name(ERRORS), label(ERROR_CLASS)
        self.errors_by_cause = f"{SERVICE}_class_cause:{errors.removesuffix('_total')}:rate{w}"
        self.cognitive_ratio = f"{SERVICE}:agentvitals_cognitive_errors_per_task:ratio_rate{w}"
        self.saveable_ratio = f"{SERVICE}:agentvitals_task_saveable_per_wall_time:ratio_rate{w}"
        self.recordings += [
            Recording(self.errors_by_cause,
                      f"sum by ({SERVICE}, {error_class}, {label(ERROR_CAUSE)}) ({_rate(errors, w)})"),
            Recording(self.cognitive_ratio, ratio(_rate(errors, w, eq(error_class, "cognitive")),
                                                  _rate(series(TASK_DURATION, "_count"), w))),
            Recording(self.saveable_ratio, ratio(_rate(prometheus_name(TASK_SAVEABLE), w),
                                                 _rate(series(TASK_DURATION, "_sum"), w))),
        ]

    def _explain_alerts(self) -> list[Alert]:
        c = self.config
        return [
            Alert("AgentCognitiveErrorsHigh", self.cognitive_ratio, f"> {c.cognitive_errors_per_task:g}", c.slow_for,
                  "warning", "page",
                  "{{ $labels.job }} makes {{ $value | printf \"%.2f\" }} cognitive errors per task",
                  f"More than {c.cognitive_errors_per_task:g} cognitive errors per task over {self.window} (tools "
                  "that do not exist, output that does not parse, loops, step limits): the model or the prompt "
                  "went wrong, not the infrastructure."),
            Alert("AgentSaveableTimeHigh", self.saveable_ratio, f"> {c.saveable_time_ratio:g}", c.slow_for, "info",
                  "page",
                  "{{ $value | humanizePercentage }} of the task time of {{ $labels.job }} is independent calls "
                  "waiting for each other",
                  f"Running the independent calls tasks make one after another concurrently would save more than "
                  f"{c.saveable_time_ratio:.0%} of task time over {self.window}: agentvitals explain shows which."),
        ]

    def _alerts(self) -> list[Alert]:
        c = self.config
        threshold = c.latency_threshold_s
        latency = [
            Alert("AgentTaskLatencyHigh", self.task_p[95], f"> {threshold:g}", c.latency_for, "warning", action,
                  f"Task p95 latency of {{{{ $labels.job }}}} is {{{{ $value | humanizeDuration }}}} "
                  f"(threshold {threshold:g}s)",
                  f"{what} P95 of task wall time over {self.window} is above {threshold:g}s.",
                  keep_firing_for=c.keep_firing_for)
            for action, what in (("scale_out", "Scale out the agent workers:"),
                                 ("degrade", "Route to the small model with fewer tokens:"))
        ]
        budget = c.error_budget
        fast_long, fast_short = c.slo_fast_windows
        slow_long, slow_short = c.slo_slow_windows
        # One sum per counter: rate() over several names at once would collide once __name__ is dropped.
        collector_errors = "\n+ ".join(
            f"(sum(rate({collector_counter(counter, c.collector_self_job)}[{self.window}])) or vector(0))"
            for counter in (COLLECTOR_REFUSED_SPANS, COLLECTOR_REFUSED_METRIC_POINTS,
                            COLLECTOR_SEND_FAILED_SPANS, COLLECTOR_SEND_FAILED_METRIC_POINTS)
        )
        return [
            *latency,
            Alert("AgentLLMErrorRateHigh", self.llm_error_ratio, f"> {c.llm_error_ratio:g}", "5m", "critical", "page",
                  "{{ $value | humanizePercentage }} of LLM calls of {{ $labels.job }} fail",
                  f"More than {c.llm_error_ratio:.0%} of LLM calls ended with an error over {self.window}."),
            Alert("AgentCostBurnHigh", f"{self.cost_rate} * 3600", f"> {c.hourly_budget_usd:g}", c.slow_for,
                  "warning", "degrade",
                  f"{{{{ $labels.job }}}} spends ${{{{ $value | printf \"%.2f\" }}}}/h on LLM calls "
                  f"(budget ${c.hourly_budget_usd:g}/h)",
                  "LLM spend is running above the hourly budget; degraded mode routes to the cheaper model."),
            Alert("AgentBudgetExhaustionsHigh", self.budget_ratio, f"> {c.budget_exhausted_ratio:g}", c.slow_for,
                  "warning", "page",
                  "{{ $value | humanizePercentage }} of tasks of {{ $labels.job }} run out of budget",
                  "Tasks stop with outcome budget_exhausted: budgets too tight, or the agent loops."),
            Alert("AgentIdleRatioHigh", self.idle_ratio, f"> {c.idle_ratio_high:g}", c.slow_for, "info", "page",
                  "Tasks of {{ $labels.job }} spend {{ $value | humanizePercentage }} of their time waiting",
                  "Almost all task time is spent waiting on LLMs, tools, retrieval or the database: a dependency "
                  "is slow, or independent calls are not made in parallel (see parallelism on the dashboard)."),
            Alert("ModelServerGPUSaturated", gpu_utilization_percent(),
                  f"> {c.gpu_saturation_percent:g}", c.slow_for, "warning", "page",
                  "GPU {{ $labels.gpu }} is {{ $value | printf \"%.0f\" }}% busy",
                  "The model server's GPU is saturated: add model-server replicas or move load to a smaller model."),
            Alert("ModelServerKVCacheNearFull",
                  f"max by ({MODEL_NAME_LABEL}) ({MODEL_SERVER_KV_CACHE_USAGE})",
                  f"> {c.kv_cache_full_ratio:g}", "5m", "warning", "degrade",
                  "KV cache of {{ $labels.model_name }} is {{ $value | humanizePercentage }} full",
                  "Requests will be preempted or queue; degraded mode shortens outputs and moves load to the small "
                  "model."),
            Alert("AgentCacheHitRatioCollapsed",
                  f"{self.cache_ratio}\n/\n({self.cache_ratio} offset {c.cache_baseline_offset})",
                  "< 0.5", c.slow_for, "warning", "page",
                  "Cache hit ratio of {{ $labels.job }} fell to {{ $value | humanizePercentage }} of what it was",
                  f"The application cache hit ratio is less than half of its value {c.cache_baseline_offset} ago: "
                  "cost and latency rise with every miss."),
            Alert("TelemetryPipelineDroppingData", collector_errors, "> 0", "5m", "critical", "page",
                  "The OpenTelemetry Collector is refusing or failing to send telemetry",
                  "Spans or metric points are refused (memory_limiter) or fail to export: dashboards and alerts "
                  "are working from incomplete data."),
            Alert("TelemetryPipelineDown", f'up{{job="{c.collector_job}"}}', "== 0", "2m", "critical", "page",
                  "Prometheus cannot scrape the OpenTelemetry Collector",
                  "No application metrics are arriving: every other alert is blind."),
            Alert("AgentTaskSLOBurnFast", self.failure_ratio[fast_long],
                  f"> {14.4 * budget:g}", "2m", "critical", "page",
                  "{{ $labels.job }} burns its task-success error budget 14x too fast",
                  f"Failed tasks over {fast_long} and {fast_short} exceed 14.4 x the {budget:.1%} error budget "
                  f"(SLO {c.slo_success_target:.1%}): 2% of a 30-day budget per hour.",
                  and_signal=self.failure_ratio[fast_short]),
            Alert("AgentTaskSLOBurnSlow", self.failure_ratio[slow_long],
                  f"> {6 * budget:g}", "15m", "warning", "page",
                  "{{ $labels.job }} burns its task-success error budget 6x too fast",
                  f"Failed tasks over {slow_long} and {slow_short} exceed 6 x the {budget:.1%} error budget.",
                  and_signal=self.failure_ratio[slow_short]),
        ]


def build_rules(config: MonitoringConfig) -> dict[str, object]:
    """The Prometheus rule file content (one recording group, one alerting group)."""
    rules = Rules(config)
    return {
        "groups": [
            {"name": "agentvitals-recording",
             "rules": [{"record": r.record, "expr": r.expr} for r in rules.recordings]},
            {"name": "agentvitals-alerts",
             "rules": [_alert_rule(alert, config) for alert in rules.alerts]},
        ]
    }


def _alert_rule(alert: Alert, config: MonitoringConfig) -> dict[str, object]:
    rule: dict[str, object] = {"alert": alert.name, "expr": alert.expr, "for": alert.for_}
    if alert.keep_firing_for:
        rule["keep_firing_for"] = alert.keep_firing_for
    rule["labels"] = {"severity": alert.severity, "action": alert.action, **alert.extra_labels}
    rule["annotations"] = {
        "summary": alert.summary,
        "description": alert.description,
        "runbook_url": f"{config.runbook_url}-{alert.name.lower()}",
    }
    return rule
