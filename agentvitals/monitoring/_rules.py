"""Recording rules and alerts, from the name registry and one :class:`MonitoringConfig`.

Recording rules follow ``level:metric:operations`` and are shared by the dashboards and the alerts,
so a panel and the alert about it cannot drift apart. They exist at two windows: the fast one
(``fast_window``, 1m) the dashboards read during an incident, and the alerts' (``rate_window``, 5m).
Counts are taken with :func:`counted_rate`, so the first event of a new series is not lost.

Every alert names the actions it requests in its ``action`` label (``scale_out``, ``degrade`` or ``page``;
comma-separated when several); Alertmanager routes on it (one receiver per action). Alert names are unique.
Every alert on an application metric has a ``...NoData`` partner that pages when the metric it reads
disappears while its service still reports (a rename, an instrumentation that stopped), so an alert cannot
go quiet by losing its input.
The service is the ``job`` label (the SDK's ``service.name`` after the Collector's translation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from agentvitals.attributes import (
    BUDGET_LIMIT,
    CACHE_NAME,
    CACHE_RESULT,
    ERROR_CAUSE,
    ERROR_CLASS,
    TASK_OUTCOME,
    WAIT_KIND,
    Outcome,
)
from agentvitals.metrics import (
    BUDGET_EXHAUSTED,
    CACHE_REQUESTS,
    CACHE_SAVED,
    COST,
    DB_DURATION,
    ERRORS,
    GPU_UTILIZATION,
    TASK_ACTIVE,
    TASK_CHILD,
    TASK_COST,
    TASK_DURATION,
    TASK_IDLE,
    TASK_SAVEABLE,
    UNPRICED_CALLS,
)
from agentvitals.monitoring._config import MonitoringConfig, seconds
from agentvitals.monitoring._genai import GenAISeries, genai_series
from agentvitals.monitoring._promql import (
    Selector,
    aggregate,
    counted_rate,
    eq,
    ne,
    quantile,
    ratio,
    with_label,
)
from agentvitals.monitoring.series import (
    COLLECTOR_REFUSED_METRIC_POINTS,
    COLLECTOR_REFUSED_SPANS,
    COLLECTOR_SEND_FAILED_METRIC_POINTS,
    COLLECTOR_SEND_FAILED_SPANS,
    GPU_UTIL_PERCENT,
    MODEL_NAME_LABEL,
    MODEL_SERVER_KV_CACHE_USAGE,
    collector_counter,
    prometheus_label,
    prometheus_name,
    series,
)
from agentvitals.semconv import (
    DB_OPERATION_NAME,
    ERROR_TYPE,
    GEN_AI_DATA_SOURCE_ID,
    GEN_AI_OPERATION_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_TOOL_NAME,
    HW_GPU_TASK,
    HW_ID,
    HW_NAME,
    TokenCount,
)

__all__ = ["Alert", "BreakdownRules", "Recording", "Rules", "WindowRules", "build_rules", "gpu_utilization_percent"]

OUTCOME = prometheus_label(TASK_OUTCOME)
MODEL = prometheus_label(GEN_AI_REQUEST_MODEL)
OPERATION = prometheus_label(GEN_AI_OPERATION_NAME)
ERROR_CLASS_LABEL = prometheus_label(ERROR_CLASS)
TOOL = prometheus_label(GEN_AI_TOOL_NAME)
SOURCE = prometheus_label(GEN_AI_DATA_SOURCE_ID)
DB_OPERATION = prometheus_label(DB_OPERATION_NAME)
WAIT = prometheus_label(WAIT_KIND)
LIMIT = prometheus_label(BUDGET_LIMIT)
CACHE = prometheus_label(CACHE_NAME)
RESULT = prometheus_label(CACHE_RESULT)
ERRORED = ne(prometheus_label(ERROR_TYPE), "")
TOKEN_TYPE_LABEL = "token_type"
"""The label the token-rate rule gives each token type (one name for both GenAI generations)."""
INPUT_LABEL = "input"
"""The label of a ``...NoData`` alert naming the series that disappeared."""


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
    inputs: tuple[str, ...] = ()
    """Application series the signal reads; each gets watched by the alert's ``...NoData`` partner."""
    runbook: str = ""
    """The runbook section (README anchor ``runbook-<runbook>``); default: the alert name in lower case."""
    service_label: str = "job"

    @property
    def expr(self) -> str:
        # Comparisons bind tighter than "or"/"and": a union must be parenthesised before comparing, and
        # both windows of a burn-rate alert compared on their own.
        signal = f"(\n{self.signal}\n)" if "\nor\n" in self.signal else self.signal
        expr = f"{signal} {self.condition}".strip()
        if self.and_signal is not None:
            expr += f"\nand on ({self.service_label})\n{self.and_signal} {self.condition}"
        return expr

    @property
    def runbook_anchor(self) -> str:
        return f"runbook-{self.runbook or self.name.lower()}"


def gpu_utilization_percent() -> str:
    """Per-GPU utilisation in percent, from dcgm-exporter or from the SDK's NVML gauges (labelled ``gpu``)."""
    hw_id = prometheus_label(HW_ID)
    nvml = Selector(prometheus_name(GPU_UTILIZATION), (eq(prometheus_label(HW_GPU_TASK), "general"),))
    per_gpu = aggregate("max", nvml, (hw_id, prometheus_label(HW_NAME)))
    return (f"{aggregate('avg', GPU_UTIL_PERCENT, ('gpu', 'modelName'))}\nor\n"
            f'label_replace({per_gpu} * 100, "gpu", "$1", "{hw_id}", "(.+)")')


class _Namer:
    """Rule names and ``counted_rate`` for one window."""

    def __init__(self, config: MonitoringConfig, window: str) -> None:
        self.config = config
        self.window = window
        self.service = config.service_label

    def name(self, level: str, metric: str, operation: str) -> str:
        level = "_".join((self.service, level)) if level else self.service
        return f"{level}:{metric}:{operation}{self.window}"

    def rate(self, selector: Selector) -> str:
        c = self.config
        return counted_rate(selector, self.window, seconds(self.window), c.births_lookback)

    def sum_rate(self, selector: Selector, *by: str) -> str:
        return aggregate("sum", self.rate(selector), (self.service, *by))

    def rates(self, selectors: Sequence[Selector], *by: str) -> str:
        """The rates of several metrics that count different operations (v0.1.0's inference and embeddings
        durations), each summed by operation too, so that "or" cannot drop one's series for the other's."""
        if len(selectors) == 1:
            return self.rate(selectors[0])
        return "\nor\n".join(aggregate("sum", self.rate(selector), (self.service, *by, OPERATION))
                              for selector in selectors)

    def sum_rates(self, selectors: Sequence[Selector], *by: str) -> str:
        return aggregate("sum", self.rates(selectors, *by), (self.service, *by))


def _metric(name: str) -> str:
    """A rule's metric part: the counter's name without ``_total`` (dropped after ``rate()``)."""
    return name.removesuffix("_total")


class WindowRules:
    """The per-service rules at one window: what the Overview shows and the alerts compare."""

    def __init__(self, config: MonitoringConfig, window: str, llm: GenAISeries) -> None:
        n = _Namer(config, window)
        s = n.service
        self.window = window
        count = Selector(series(TASK_DURATION, "_count"))
        task = prometheus_name(TASK_DURATION)
        success = eq(OUTCOME, Outcome.SUCCESS.value)

        self.tasks_by_outcome = n.name("outcome", "agentvitals_tasks", "rate")
        self.tasks = n.name("", "agentvitals_tasks", "rate")
        self.task_p = {q: n.name("", task, f"p{q}_") for q in (50, 95, 99)}
        self.success_ratio = n.name("", "agentvitals_task_successes_per_task", "ratio_rate")
        self.task_cost_rate = n.name("", _metric(prometheus_name(TASK_COST)), "rate")
        self.cost_per_task = n.name("", "agentvitals_task_cost_usd_per_task", "ratio_rate")
        self.cost_per_success = n.name("", "agentvitals_task_cost_usd_per_successful_task", "ratio_rate")
        self.cost_rate = n.name("", _metric(prometheus_name(COST)), "rate")
        self.wall_rate = n.name("", series(TASK_DURATION, "_sum"), "rate")
        self.active_rate = n.name("", _metric(prometheus_name(TASK_ACTIVE)), "rate")
        self.idle_rate = n.name("kind", _metric(prometheus_name(TASK_IDLE)), "rate")
        self.child_rate = n.name("", _metric(prometheus_name(TASK_CHILD)), "rate")
        self.idle_ratio = n.name("", "agentvitals_task_idle_per_wall_time", "ratio_rate")
        self.parallelism = n.name("", "agentvitals_task_child_per_idle_time", "ratio_rate")
        self.llm_calls = n.name("", "gen_ai_calls", "rate")
        self.llm_error_ratio = n.name("", "gen_ai_call_errors_per_call", "ratio_rate")
        self.prompt_cache_ratio = n.name("", "gen_ai_cache_read_per_input_tokens", "ratio_rate")
        self.cache_requests = n.name("", _metric(prometheus_name(CACHE_REQUESTS)), "rate")
        self.cache_ratio = n.name("", "agentvitals_cache_hits_per_request", "ratio_rate")
        self.budget_ratio = n.name("", "agentvitals_budget_exhausted_per_task", "ratio_rate")
        # Task analysis (agentvitals explain): errors by class and cause, and the time parallelism would save.
        self.errors_by_cause = n.name("class_cause", _metric(prometheus_name(ERRORS)), "rate")
        self.cognitive_ratio = n.name("", "agentvitals_cognitive_errors_per_task", "ratio_rate")
        self.saveable_rate = n.name("", _metric(prometheus_name(TASK_SAVEABLE)), "rate")
        self.saveable_ratio = n.name("", "agentvitals_task_saveable_per_wall_time", "ratio_rate")

        by_outcome = Selector(self.tasks_by_outcome)
        calls = [Selector(series(metric, "_count")) for metric in llm.call_durations]
        cache = Selector(prometheus_name(CACHE_REQUESTS))
        errors = Selector(prometheus_name(ERRORS))
        self.recordings: list[Recording] = [
            Recording(self.tasks_by_outcome, n.sum_rate(count, OUTCOME)),
            Recording(self.tasks, aggregate("sum", self.tasks_by_outcome, (s,))),
            *(Recording(self.task_p[q], quantile(q / 100, Selector(series(TASK_DURATION, "_bucket")), window, (s,)))
              for q in (50, 95, 99)),
            Recording(self.success_ratio, ratio(str(by_outcome.where(success)), self.tasks_by_outcome, (s,))),
            Recording(self.task_cost_rate, n.sum_rate(Selector(prometheus_name(TASK_COST)))),
            Recording(self.cost_per_task, ratio(self.task_cost_rate, self.tasks, (s,))),
            Recording(self.cost_per_success, ratio(self.task_cost_rate, str(by_outcome.where(success)), (s,))),
            Recording(self.cost_rate, n.sum_rate(Selector(prometheus_name(COST)))),
            Recording(self.wall_rate, n.sum_rate(Selector(series(TASK_DURATION, "_sum")))),
            Recording(self.active_rate, n.sum_rate(Selector(prometheus_name(TASK_ACTIVE)))),
            Recording(self.idle_rate, n.sum_rate(Selector(prometheus_name(TASK_IDLE)), WAIT)),
            Recording(self.child_rate, n.sum_rate(Selector(prometheus_name(TASK_CHILD)))),
            Recording(self.idle_ratio, ratio(self.idle_rate, self.wall_rate, (s,))),
            Recording(self.parallelism, ratio(self.child_rate, self.idle_rate, (s,))),
            Recording(self.llm_calls, n.sum_rates(calls)),
            Recording(self.llm_error_ratio, ratio(n.rates([c.where(ERRORED) for c in calls]), self.llm_calls, (s,))),
            Recording(self.prompt_cache_ratio, ratio(n.rate(llm.token_series(TokenCount.CACHE_READ)),
                                                     n.rate(llm.token_series(TokenCount.INPUT)), (s,))),
            Recording(self.cache_requests, n.sum_rate(cache)),
            Recording(self.cache_ratio, ratio(n.rate(cache.where(eq(RESULT, "hit"))), self.cache_requests, (s,))),
            Recording(self.budget_ratio, ratio(n.rate(Selector(prometheus_name(BUDGET_EXHAUSTED))), self.tasks, (s,))),
            Recording(self.errors_by_cause, n.sum_rate(errors, ERROR_CLASS_LABEL, prometheus_label(ERROR_CAUSE))),
            Recording(self.cognitive_ratio, ratio(n.rate(errors.where(eq(ERROR_CLASS_LABEL, "cognitive"))),
                                                  self.tasks, (s,))),
            Recording(self.saveable_rate, n.sum_rate(Selector(prometheus_name(TASK_SAVEABLE)))),
            Recording(self.saveable_ratio, ratio(self.saveable_rate, self.wall_rate, (s,))),
        ]


class BreakdownRules:
    """Per model, tool, source, operation, cache and limit: what the detail dashboards plot (fast window)."""

    def __init__(self, config: MonitoringConfig, window: str, llm: GenAISeries) -> None:
        n = _Namer(config, window)
        s = n.service
        calls = [Selector(series(metric, "_count")) for metric in llm.call_durations]
        tool_count = Selector(series(llm.tool_duration, "_count"))

        self.tasks_cost_by_outcome = n.name("outcome", _metric(prometheus_name(TASK_COST)), "rate")
        self.llm_calls = n.name("model", "gen_ai_calls", "rate")
        self.llm_errors = n.name("model", "gen_ai_call_errors", "rate")
        self.llm_error_ratio = n.name("model", "gen_ai_call_errors_per_call", "ratio_rate")
        self.tokens = n.name("model_type", "gen_ai_tokens", "rate")
        self.cost = n.name("model", _metric(prometheus_name(COST)), "rate")
        self.unpriced = n.name("model", _metric(prometheus_name(UNPRICED_CALLS)), "rate")
        self.tool_calls = n.name("tool", "agentvitals_tool_calls", "rate")
        self.tool_errors = n.name("tool", "agentvitals_tool_errors", "rate")
        self.tool_error_ratio = n.name("tool", "agentvitals_tool_errors_per_call", "ratio_rate")
        self.retrievals = n.name("source", "agentvitals_retrievals", "rate")
        self.db_operations = n.name("operation", "db_client_operations", "rate")
        self.cache_requests = n.name("cache_result", _metric(prometheus_name(CACHE_REQUESTS)), "rate")
        self.budget_exhausted = n.name("limit", _metric(prometheus_name(BUDGET_EXHAUSTED)), "rate")
        self.cache_saved = n.name("cache", _metric(prometheus_name(CACHE_SAVED)), "rate")

        # One rule for every token type: each type's series (a histogram's sum, a counter) gets the
        # type as a label, so panels need not know which generation of names holds which type.
        tokens = "\nor\n".join(
            with_label(aggregate("sum", n.rate(selector), (s, MODEL)), TOKEN_TYPE_LABEL, token_type)
            for token_type, selector in llm.tokens
        )
        self.recordings: list[Recording] = [
            Recording(self.tasks_cost_by_outcome, n.sum_rate(Selector(prometheus_name(TASK_COST)), OUTCOME)),
            Recording(self.llm_calls, n.sum_rates(calls, MODEL)),
            # No errors yet is 0 errors/s, not no data.
            Recording(self.llm_errors, f"{n.sum_rates([c.where(ERRORED) for c in calls], MODEL)}\nor\n"
                                       f"{self.llm_calls} * 0"),
            Recording(self.llm_error_ratio, ratio(self.llm_errors, self.llm_calls, (s, MODEL))),
            Recording(self.tokens, tokens),
            Recording(self.cost, n.sum_rate(Selector(prometheus_name(COST)), MODEL)),
            Recording(self.unpriced, n.sum_rate(Selector(prometheus_name(UNPRICED_CALLS)), MODEL)),
            Recording(self.tool_calls, n.sum_rate(tool_count, TOOL)),
            Recording(self.tool_errors, f"{n.sum_rate(tool_count.where(ERRORED), TOOL)}\nor\n{self.tool_calls} * 0"),
            Recording(self.tool_error_ratio, ratio(self.tool_errors, self.tool_calls, (s, TOOL))),
            Recording(self.retrievals, n.sum_rate(Selector(series(llm.retrieval_duration, "_count")), SOURCE)),
            Recording(self.db_operations, n.sum_rate(Selector(series(DB_DURATION, "_count")), DB_OPERATION)),
            Recording(self.cache_requests, n.sum_rate(Selector(prometheus_name(CACHE_REQUESTS)), CACHE, RESULT)),
            Recording(self.budget_exhausted, n.sum_rate(Selector(prometheus_name(BUDGET_EXHAUSTED)), LIMIT)),
            Recording(self.cache_saved, n.sum_rate(Selector(prometheus_name(CACHE_SAVED)), CACHE)),
        ]


class Rules:
    """The recording-rule names and the alerts built on them, for one config."""

    def __init__(self, config: MonitoringConfig) -> None:
        self.config = config
        self.llm = genai_series(config.genai_names)
        self.fast = WindowRules(config, config.fast_window, self.llm)
        self.slow = WindowRules(config, config.rate_window, self.llm)
        self.breakdown = BreakdownRules(config, config.fast_window, self.llm)

        # Failed-task ratios at every window the burn-rate alerts compare.
        n_windows = sorted({*config.slo_fast_windows, *config.slo_slow_windows}, key=seconds)
        count = Selector(series(TASK_DURATION, "_count"))
        self.failure_ratio: dict[str, str] = {}
        failures: list[Recording] = []
        for window in n_windows:
            n = _Namer(config, window)
            name = n.name("", "agentvitals_task_failures_per_task", "ratio_rate")
            self.failure_ratio[window] = name
            failures.append(Recording(name, ratio(n.rate(count.where(ne(OUTCOME, Outcome.SUCCESS.value))),
                                                  n.rate(count), (n.service,))))

        fast_names = {r.record for r in self.fast.recordings}
        self.recordings: list[Recording] = [
            *self.fast.recordings,
            *(r for r in self.slow.recordings if r.record not in fast_names),  # equal windows: once
            *self.breakdown.recordings,
            *failures,
        ]
        # Written with the default service label; another one is substituted in one place.
        service = config.service_label
        alerts = [replace(a, summary=a.summary.replace("$labels.job", f"$labels.{service}"), service_label=service)
                  for a in self._alerts()]
        partners: dict[str, Alert] = {}  # AgentTaskLatencyHigh requests two actions but has one partner
        for alert in alerts:
            partner = self._no_data(alert)
            if partner is not None:
                partners.setdefault(partner.name, partner)
        self.alerts = [*alerts, *partners.values()]

    def _alerts(self) -> list[Alert]:
        c = self.config
        slow = self.slow
        window = c.rate_window
        threshold = c.latency_threshold_s
        task_count = series(TASK_DURATION, "_count")
        # One alert, two actions: the action label lists both, and Alertmanager fans it out to one receiver per
        # action (alerts/alertmanager.yml); the routers' Alertmanager pull matches "degrade" in the list.
        latency = Alert("AgentTaskLatencyHigh", slow.task_p[95], f"> {threshold:g}", c.latency_for, "warning",
                        "scale_out,degrade",
                        f"Task p95 latency of {{{{ $labels.job }}}} is {{{{ $value | humanizeDuration }}}} "
                        f"(threshold {threshold:g}s)",
                        f"Scale out the agent workers and route non-critical calls to the small model: P95 of task "
                        f"wall time over {window} is above {threshold:g}s.",
                        keep_firing_for=c.keep_firing_for, inputs=(task_count,))
        budget = c.error_budget
        fast_long, fast_short = c.slo_fast_windows
        slow_long, slow_short = c.slo_slow_windows
        # One sum per counter: rate() over several names at once would collide once __name__ is dropped.
        collector_errors = "\n+ ".join(
            f"(sum(rate({collector_counter(counter, c.collector_self_job)}[{window}])) or vector(0))"
            for counter in (COLLECTOR_REFUSED_SPANS, COLLECTOR_REFUSED_METRIC_POINTS,
                            COLLECTOR_SEND_FAILED_SPANS, COLLECTOR_SEND_FAILED_METRIC_POINTS)
        )
        kv_cache = aggregate("max", MODEL_SERVER_KV_CACHE_USAGE, (MODEL_NAME_LABEL,))
        return [
            latency,
            Alert("AgentLLMErrorRateHigh", slow.llm_error_ratio, f"> {c.llm_error_ratio:g}", "5m", "critical", "page",
                  "{{ $value | humanizePercentage }} of LLM calls of {{ $labels.job }} fail",
                  f"More than {c.llm_error_ratio:.0%} of LLM calls ended with an error over {window}.",
                  inputs=tuple(series(metric, "_count") for metric in self.llm.call_durations)),
            Alert("AgentCostBurnHigh", f"{slow.cost_rate} * 3600", f"> {c.hourly_budget_usd:g}", c.slow_for,
                  "warning", "degrade",
                  f"{{{{ $labels.job }}}} spends ${{{{ $value | printf \"%.2f\" }}}}/h on LLM calls "
                  f"(budget ${c.hourly_budget_usd:g}/h)",
                  "LLM spend is running above the hourly budget; degraded mode routes to the cheaper model.",
                  inputs=(prometheus_name(COST),)),
            Alert("AgentBudgetExhaustionsHigh", slow.budget_ratio, f"> {c.budget_exhausted_ratio:g}", c.slow_for,
                  "warning", "page",
                  "{{ $value | humanizePercentage }} of tasks of {{ $labels.job }} run out of budget",
                  "Tasks stop with outcome budget_exhausted: budgets too tight, or the agent loops.",
                  inputs=(prometheus_name(BUDGET_EXHAUSTED), task_count)),
            Alert("AgentIdleRatioHigh", slow.idle_ratio, f"> {c.idle_ratio_high:g}", c.slow_for, "info", "page",
                  "Tasks of {{ $labels.job }} spend {{ $value | humanizePercentage }} of their time waiting",
                  "Almost all task time is spent waiting on LLMs, tools, retrieval or the database: a dependency "
                  "is slow, or independent calls are not made in parallel (see parallelism on the dashboard).",
                  inputs=(prometheus_name(TASK_IDLE), series(TASK_DURATION, "_sum"))),
            Alert("AgentCognitiveErrorsHigh", slow.cognitive_ratio, f"> {c.cognitive_errors_per_task:g}", c.slow_for,
                  "warning", "page",
                  "{{ $labels.job }} makes {{ $value | printf \"%.2f\" }} cognitive errors per task",
                  f"More than {c.cognitive_errors_per_task:g} cognitive errors per task over {window} (tools that "
                  "do not exist, output that does not parse, loops, step limits): the model or the prompt went "
                  "wrong, not the infrastructure.",
                  inputs=(task_count,)),
            Alert("AgentSaveableTimeHigh", slow.saveable_ratio, f"> {c.saveable_time_ratio:g}", c.slow_for, "info",
                  "page",
                  "{{ $value | humanizePercentage }} of the task time of {{ $labels.job }} is independent calls "
                  "waiting for each other",
                  f"Running the independent calls tasks make one after another concurrently would save more than "
                  f"{c.saveable_time_ratio:.0%} of task time over {window}: agentvitals explain shows which.",
                  inputs=(prometheus_name(TASK_SAVEABLE), series(TASK_DURATION, "_sum"))),
            Alert("ModelServerGPUSaturated", gpu_utilization_percent(),
                  f"> {c.gpu_saturation_percent:g}", c.slow_for, "warning", "page",
                  "GPU {{ $labels.gpu }} is {{ $value | printf \"%.0f\" }}% busy",
                  "The model server's GPU is saturated: add model-server replicas or move load to a smaller model."),
            Alert("ModelServerKVCacheNearFull", kv_cache, f"> {c.kv_cache_full_ratio:g}", "5m", "warning", "degrade",
                  "KV cache of {{ $labels.model_name }} is {{ $value | humanizePercentage }} full",
                  "Requests will be preempted or queue; degraded mode shortens outputs and moves load to the small "
                  "model."),
            Alert("AgentCacheHitRatioCollapsed",
                  f"{slow.cache_ratio}\n/\n({slow.cache_ratio} offset {c.cache_baseline_offset})",
                  "< 0.5", c.slow_for, "warning", "page",
                  "Cache hit ratio of {{ $labels.job }} fell to {{ $value | humanizePercentage }} of what it was",
                  f"The application cache hit ratio is less than half of its value {c.cache_baseline_offset} ago: "
                  "cost and latency rise with every miss.",
                  inputs=(prometheus_name(CACHE_REQUESTS),)),
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
                  and_signal=self.failure_ratio[fast_short], inputs=(task_count,)),
            Alert("AgentTaskSLOBurnSlow", self.failure_ratio[slow_long],
                  f"> {6 * budget:g}", "15m", "warning", "page",
                  "{{ $labels.job }} burns its task-success error budget 6x too fast",
                  f"Failed tasks over {slow_long} and {slow_short} exceed 6 x the {budget:.1%} error budget.",
                  and_signal=self.failure_ratio[slow_short], inputs=(task_count,)),
        ]

    def _no_data(self, alert: Alert) -> Alert | None:
        """The partner that pages when an input of ``alert`` disappears while its service still reports."""
        if not alert.inputs:
            return None
        c = self.config
        s = c.service_label
        gone = "\nor\n".join(
            with_label(f"{aggregate('group', f'present_over_time({name}[{c.absent_lookback}])', (s,))}\n"
                       f"unless\n{aggregate('group', name, (s,))}", INPUT_LABEL, name)
            for name in alert.inputs
        )
        signal = f"(\n{gone}\n)\nand on ({s})\n{aggregate('group', c.service_info_metric, (s,))}"
        return Alert(
            f"{alert.name}NoData", signal, "", c.absent_for, "warning", "page",
            f"{{{{ $labels.{s} }}}} no longer reports {{{{ $labels.{INPUT_LABEL} }}}}, which {alert.name} reads",
            f"The series was there in the last {c.absent_lookback} and the service still sends telemetry, so "
            f"{alert.name} can no longer fire: a metric was renamed (GenAI semantic-convention names switched with "
            "OTEL_SEMCONV_STABILITY_OPT_IN, an upgrade) or an instrumentation stopped. Regenerate the rules for the "
            "names in use (agentvitals generate --genai-names ...).",
            runbook="alert-inputs-missing", service_label=s,
        )


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
        "runbook_url": f"{config.runbook_url}-{alert.runbook or alert.name.lower()}",
    }
    return rule
