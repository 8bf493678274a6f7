"""The one configuration dashboards, recording rules, alerts and the KEDA manifest are generated from."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agentvitals.metrics import LATENCY_THRESHOLD_SECONDS, TASK_DURATION
from agentvitals.monitoring.series import COLLECTOR_SELF_JOB
from agentvitals.semconv import Generation

__all__ = ["MonitoringConfig", "seconds"]

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration: str) -> float:
    """A Prometheus duration of one unit (``30s``, ``5m``, ``1h``) in seconds."""
    match = _DURATION.match(duration)
    if match is None:
        raise ValueError(f"{duration!r} is not a Prometheus duration like 30s, 5m or 1h")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


@dataclass(frozen=True)
class MonitoringConfig:
    """Selectors, thresholds, windows and the GenAI name generation. The defaults are what the committed
    files use.

    Raises ValueError (one message per problem) when a value cannot work, e.g. a latency threshold
    that is not a bucket edge of the task-duration histogram.
    """

    prometheus_uid: str = "prometheus"
    grafana_version: str = "13.2.0"
    """The Grafana the dashboards are written for (``pluginVersion`` of every panel; the compose stack's)."""
    tempo_uid: str = "tempo"
    alertmanager_uid: str = "alertmanager"
    latency_threshold_s: float = LATENCY_THRESHOLD_SECONDS
    """Task p95 above this fires AgentTaskLatencyHigh (scale out and degrade)."""
    hourly_budget_usd: float = 5.0
    """LLM spend per service per hour above which AgentCostBurnHigh fires."""
    slo_success_target: float = 0.99
    """Share of tasks that must succeed; the burn-rate alerts protect it."""
    genai_names: Generation = Generation.CURRENT
    """Which generation of GenAI metric names the application emits (the SDK's default is ``current``)."""
    service_label: str = "job"
    """The label that names a service: the SDK's ``service.name`` after the Collector's translation."""
    service_info_metric: str = "target_info"
    """A series every reporting service has (the Collector exports resource attributes as ``target_info``):
    an alert input missing while this is present means the input was renamed or stopped."""
    fast_window: str = "1m"
    """Window of the figures a person reads during an incident (dashboards): a few scrapes, no more."""
    rate_window: str = "5m"
    """Window of the alerts' recording rules (and of the dashboard figures labelled "(5m)")."""
    births_lookback: str = "1h"
    """A series with no sample this long before a rate's window started from zero inside it (see
    ``counted_rate``): its first sample is counted, not lost to ``rate()``."""
    absent_lookback: str = "6h"
    """An alert input present within this long, now gone while its service still reports, pages."""
    absent_for: str = "10m"
    latency_for: str = "2m"
    keep_firing_for: str = "2m"
    """How long a latency alert keeps firing after recovering: no degraded/normal flapping."""
    slow_for: str = "10m"
    """``for`` of the slower-moving alerts (cost, budgets, GPU, idle ratio, cache collapse)."""
    slo_fast_windows: tuple[str, str] = ("1h", "5m")
    slo_slow_windows: tuple[str, str] = ("6h", "30m")
    cache_baseline_offset: str = "1h"
    """A cache hit ratio below half of what it was this long ago is a collapse."""
    llm_error_ratio: float = 0.05
    budget_exhausted_ratio: float = 0.05
    idle_ratio_high: float = 0.995
    gpu_saturation_percent: float = 95.0
    kv_cache_full_ratio: float = 0.9
    # explain (issue 14): cognitive errors and time parallelism would save
    cognitive_errors_per_task: float = 0.1
    """Cognitive errors (unknown tools, unparseable output, loops, step limits) per task above which
    AgentCognitiveErrorsHigh fires."""
    saveable_time_ratio: float = 0.2
    """Share of task time that running sequential independent calls concurrently would save, above which
    AgentSaveableTimeHigh fires."""
    collector_job: str = "otel-collector"
    collector_self_job: str = COLLECTOR_SELF_JOB
    keda_deployment: str = "support-agent"
    keda_namespace: str = "agents"
    keda_prometheus_url: str = "http://prometheus.monitoring.svc:9090"
    keda_max_replicas: int = 20
    runbook_url: str = "https://github.com/agentvitals/agentvitals/blob/main/README.md#runbook"

    def __post_init__(self) -> None:
        problems = []
        if self.latency_threshold_s not in (TASK_DURATION.buckets or ()):
            problems.append(f"latency_threshold_s={self.latency_threshold_s} must be a bucket edge of "
                            f"{TASK_DURATION.name}: {TASK_DURATION.buckets}")
        for name in ("fast_window", "rate_window", "births_lookback", "absent_lookback", "absent_for", "latency_for",
                     "keep_firing_for", "slow_for", "cache_baseline_offset",
                     *(f"slo_{speed}_windows" for speed in ("fast", "slow"))):
            values = getattr(self, name)
            for value in values if isinstance(values, tuple) else (values,):
                if not _DURATION.match(value):
                    problems.append(f"{name}: {value!r} is not a Prometheus duration like 30s, 5m or 1h")
        if not 0 < self.slo_success_target < 1:
            problems.append(f"slo_success_target must be in (0, 1), got {self.slo_success_target}")
        if not problems and seconds(self.births_lookback) < seconds(self.fast_window):
            problems.append(f"births_lookback ({self.births_lookback}) must not be shorter than fast_window "
                            f"({self.fast_window})")
        for label in (self.service_label, self.service_info_metric):
            if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", label):
                problems.append(f"{label!r} is not a Prometheus label or metric name")
        if self.hourly_budget_usd <= 0:
            problems.append(f"hourly_budget_usd must be positive, got {self.hourly_budget_usd}")
        for uid in (self.prometheus_uid, self.tempo_uid, self.alertmanager_uid):
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", uid):
                problems.append(f"datasource uid {uid!r} must be 1-40 letters, digits, - or _")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def error_budget(self) -> float:
        return 1 - self.slo_success_target
