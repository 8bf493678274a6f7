"""The Overview: the first minute of an incident.

Top row: the figures now (one-minute rules). Second row, above the fold: the control loop — router
mode as a state timeline, the worker pool, the alerts firing. Then where task time goes (the share of
wall time by kind), latency and outcomes, cost; last, why tasks take their time and fail (the task analysis
``agentvitals explain`` does on every task): the critical path by kind, the time concurrency would save,
errors by class. Figures over the alerts' longer window say "(5m)".
"""

from __future__ import annotations

from typing import Any

from agentvitals.attributes import TASK_OUTCOME, WAIT_KIND
from agentvitals.control.metrics import QUEUE_DEPTH, ROUTER_DEGRADED, WORKERS, WORKERS_BUSY
from agentvitals.metrics import TASK_DURATION
from agentvitals.monitoring._config import MonitoringConfig
from agentvitals.monitoring._dashboards._common import FIRING_ALERTS, RATE, TASKS_PER_SECOND, TIMES, Page
from agentvitals.monitoring._grafana import Query, stat, state_timeline, table, timeseries, value_text
from agentvitals.monitoring._promql import aggregate, legend, quantile, share
from agentvitals.monitoring._rules import CRITICAL_PATH, ERROR_CLASS_LABEL, Rules
from agentvitals.monitoring.series import prometheus_label, prometheus_name, series

__all__ = ["overview"]

OUTCOME = prometheus_label(TASK_OUTCOME)
WAIT = prometheus_label(WAIT_KIND)


def overview(config: MonitoringConfig, rules: Rules) -> dict[str, Any]:
    page = Page(config, rules)
    now, alerting = rules.fast, rules.slow
    s = page.service
    w = config.fast_window
    threshold = config.latency_threshold_s

    page.board.row(
        4,
        stat(f"Tasks / s ({w})", Query(aggregate("sum", page.pick(now.tasks))), width=4, unit=TASKS_PER_SECOND,
             decimals=2),
        stat(f"Success rate ({w})", Query(aggregate("min", page.pick(now.success_ratio))), width=4,
             unit="percentunit", decimals=1,
             thresholds=(("red", None), ("orange", 0.95), ("green", config.slo_success_target)),
             description="Lowest of the selected services."),
        stat(f"Task p95 ({w})", Query(aggregate("max", page.pick(now.task_p[95]))), width=4, unit="s",
             thresholds=(("green", None), ("red", threshold)),
             description=f"Highest of the selected services. The latency alert compares the {config.rate_window} "
                         f"p95 with {threshold:g}s."),
        stat(f"Cost per task ({w})", Query(aggregate("max", page.pick(now.cost_per_task))), width=4,
             unit="currencyUSD", decimals=5),
        stat(f"Idle share of task time ({w})", Query(aggregate("max", page.pick(now.idle_ratio))), width=4,
             unit="percentunit", decimals=1,
             description="Task time spent waiting on LLMs, tools, retrieval, the database or HTTP."),
        stat(f"Parallelism achieved ({w})", Query(aggregate("max", page.pick(now.parallelism))), width=4,
             unit=TIMES, decimals=2,
             description="Summed duration of waits / idle time: 1.0 means every wait was sequential."),
    )

    router = prometheus_name(ROUTER_DEGRADED)
    page.board.row(
        8,
        state_timeline("Router mode", [Query(aggregate("max", page.pick(router), (s,)), legend(s))], width=8,
                       mappings=value_text({"0": ("normal", "green"), "1": ("degraded", "orange")}),
                       description="Set by the control loop: degraded routes to the small model with fewer tokens."),
        timeseries("Workers, busy and queued",
                   [Query(aggregate("sum", page.pick(prometheus_name(WORKERS))), "workers"),
                    Query(aggregate("sum", page.pick(prometheus_name(WORKERS_BUSY))), "busy"),
                    Query(aggregate("sum", page.pick(prometheus_name(QUEUE_DEPTH))), "queued tasks")],
                   width=8, unit="short", legend_calcs=("max", "lastNotNull"),
                   description="The worker pool the control loop scales out on AgentTaskLatencyHigh."),
        table("Firing alerts", Query(aggregate("sum", FIRING_ALERTS, ("alertname", "action", "severity"))),
              width=8, renamed={"Value": "instances"}, sort_by="alertname", no_value="no alert firing",
              description="Alerts firing now, with the action each requests from the control loop. Every "
                          "dashboard marks the time an alert fired (annotation \"Firing alerts\")."),
    )

    wall = aggregate("sum", page.pick(now.wall_rate))
    page.board.row(
        9,
        timeseries(
            f"Where task time goes: share of task wall time ({w})",
            [Query(f"{aggregate('sum', page.pick(now.active_rate))}\n/\n{wall}", "active (own compute)"),
             Query(f"{aggregate('sum', page.pick(now.idle_rate), (WAIT,))}\n/ on () group_left\n{wall}",
                   legend(WAIT, prefix="waiting:"))],
            width=24, unit="percentunit", stacked=True, max_value=1, legend_calcs=("mean", "lastNotNull"),
            description="Of every second of task wall time: the task's own compute, and waiting by what it waits "
                        "on. Parallel waits count once (split among their kinds), so the stack sums to 100%."),
    )

    buckets = page.pick(series(TASK_DURATION, "_bucket"))
    page.board.row(
        8,
        timeseries("Task latency p50 / p95 / p99",
                   [Query(quantile(q, buckets, RATE, (s,)), legend(s, prefix=f"p{round(q * 100)}"), exemplar=True)
                    for q in (0.5, 0.95, 0.99)],
                   width=12, unit="s", threshold=threshold,
                   description=f"Task wall time. The dashed line is the {threshold:g}s alert threshold; dots are "
                               "exemplars: click one to open its trace in Tempo."),
        timeseries(f"Tasks / s by outcome ({w})",
                   [Query(aggregate("sum", page.pick(now.tasks_by_outcome), (OUTCOME,)), legend(OUTCOME))],
                   width=12, unit=TASKS_PER_SECOND, stacked=True),
    )
    page.board.row(
        8,
        timeseries(f"Cost per task and per successful task ({w})",
                   [Query(aggregate("max", page.pick(now.cost_per_task), (s,)), legend(s, prefix="per task")),
                    Query(aggregate("max", page.pick(now.cost_per_success), (s,)),
                          legend(s, prefix="per successful task"))],
                   width=12, unit="currencyUSD",
                   description="Falls while the router is degraded: the small model is cheaper."),
        timeseries("Task success rate",
                   [Query(aggregate("min", page.pick(now.success_ratio), (s,)), legend(s, prefix=f"({w})")),
                    Query(aggregate("min", page.pick(alerting.success_ratio), (s,)),
                          legend(s, prefix=f"({config.rate_window})"))],
                   width=12, unit="percentunit", max_value=1, min_value=None, legend_calcs=("min", "lastNotNull")),
    )

    by = rules.breakdown
    critical_path = page.pick(by.critical_path)
    page.board.row(
        8,
        timeseries(f"Critical path by kind: share of task time ({w})",
                   [Query(share(aggregate("sum", critical_path, (CRITICAL_PATH,)), aggregate("sum", critical_path)),
                          legend(CRITICAL_PATH))],
                   width=12, unit="percentunit", stacked=True, max_value=1, legend_calcs=("mean", "lastNotNull"),
                   description="The chain of calls and own compute that decided each task's wall time, by what it "
                               "was: shortening anything else does not make tasks faster. Of the analysed tasks' "
                               "wall time, so the stack sums to 100%."),
        timeseries(f"Saveable share of task time ({w})",
                   [Query(aggregate("max", page.pick(now.saveable_ratio), (s,)), legend(s))],
                   width=6, unit="percentunit", threshold=config.saveable_time_ratio,
                   description="Time that running independent calls concurrently, instead of one after another, "
                               f"would save, of task wall time. The dashed line is where AgentSaveableTimeHigh "
                               f"fires (on the {config.rate_window} share); agentvitals explain shows which calls."),
        timeseries(f"Errors per task by class ({w})",
                   [Query(aggregate("max", page.pick(by.errors_per_task), (s, ERROR_CLASS_LABEL)),
                          legend(ERROR_CLASS_LABEL, s))],
                   width=6, unit="short", stacked=True, legend_calcs=("mean", "lastNotNull"),
                   description="system: the infrastructure failed (timeouts, rate limits, 5xx). cognitive: the "
                               "model or the agent did (unknown tools, output that does not parse, loops); "
                               f"AgentCognitiveErrorsHigh fires above {config.cognitive_errors_per_task:g} per task "
                               f"({config.rate_window}). By cause: the Tools dashboard."),
    )
    return page.render("agentvitals-overview", "agentvitals / Overview",
                       "Tasks, latency, where the time goes, cost, and the control loop acting.")
