"""Routing: what the model router did and what it cost — the mode over time, the traffic split, and cost per
task, success rate and p95 side by side for each mode (normal vs degraded) and each A/B variant; the router's
decisions by route, priority, variant and mode, and its admission answers.

Its own dashboard rather than a row of Cost: comparing a variant with control (or degraded with normal) needs
its cost, success and latency on the same split, next to the decisions that made the split.
Tasks that made no choice through a router carry neither label and are left out here (the Overview counts them).
"""

from __future__ import annotations

from typing import Any

from agentvitals.attributes import Outcome
from agentvitals.control.metrics import ROUTER_DEGRADED
from agentvitals.metrics import TASK_DURATION
from agentvitals.monitoring._config import MonitoringConfig
from agentvitals.monitoring._dashboards._common import PER_SECOND, RATE, TASKS_PER_SECOND, Page
from agentvitals.monitoring._grafana import PanelSpec, Query, state_timeline, timeseries, value_text
from agentvitals.monitoring._promql import aggregate, eq, legend, ne, quantile, ratio
from agentvitals.monitoring._rules import (
    ADMISSION,
    MODE,
    OUTCOME,
    PRIORITY,
    ROUTE,
    ROUTED_MODE,
    ROUTED_VARIANT,
    ROUTER,
    SWITCH_REASON,
    VARIANT,
    Rules,
)
from agentvitals.monitoring.series import prometheus_name, series

__all__ = ["routing"]


def _by(page: Page, label: str, what: str) -> list[PanelSpec]:
    """Cost per task, success rate and task p95 for each value of ``label`` (the mode or the variant)."""
    by = page.rules.breakdown
    w = page.config.fast_window
    served = ne(label, "")
    tasks = page.pick(by.routed_tasks, served)
    cost = page.pick(by.routed_cost, served)
    success = str(tasks.where(eq(OUTCOME, Outcome.SUCCESS.value)))
    buckets = page.pick(series(TASK_DURATION, "_bucket"), served)
    return [
        timeseries(f"Cost per task by {what} ({w})", [Query(ratio(str(cost), str(tasks), (label,)), legend(label))],
                   width=8, unit="currencyUSD"),
        timeseries(f"Success rate by {what} ({w})", [Query(ratio(success, str(tasks), (label,)), legend(label))],
                   width=8, unit="percentunit", max_value=1, min_value=None, legend_calcs=("min", "lastNotNull")),
        timeseries(f"Task p95 by {what}",
                   [Query(quantile(0.95, buckets, RATE, (label,)), legend(label), exemplar=True)], width=8, unit="s",
                   description="Task wall time; dots are exemplars: click one to open its trace in Tempo."),
    ]


def routing(config: MonitoringConfig, rules: Rules) -> dict[str, Any]:
    page = Page(config, rules)
    by = rules.breakdown
    s = page.service
    w = config.fast_window
    served = ne(MODE, "")

    page.board.row(
        8,
        state_timeline("Router mode by router",
                       [Query(aggregate("max", page.pick(prometheus_name(ROUTER_DEGRADED)), (s, ROUTER)),
                              legend(s, ROUTER))], width=8,
                       mappings=value_text({"0": ("normal", "green"), "1": ("degraded", "orange")}),
                       description="Set by the control loop (webhook), Alertmanager (pull) or an operator (force)."),
        timeseries("Mode switches in the last minute by mode and reason",
                   [Query(f"{aggregate('sum', page.pick(by.router_switches), (ROUTER, ROUTED_MODE, SWITCH_REASON))}"
                          " * 60", legend(ROUTER, ROUTED_MODE, SWITCH_REASON))],
                   width=8, unit="short", bars=True, no_value="no switches", legend_calcs=("max",),
                   description="alertmanager: a degrade alert became active, or the last one's cool-down ended; "
                               "webhook: the control service; force / force_expired: an operator; "
                               "alertmanager_unreachable: no answer for the hold time."),
        timeseries(f"Tasks / s by variant and mode ({w})",
                   [Query(aggregate("sum", page.pick(by.routed_tasks, served), (VARIANT, MODE)),
                          legend(VARIANT, MODE))],
                   width=8, unit=TASKS_PER_SECOND, stacked=True,
                   description="Tasks that made a choice through a router, by the variant and the mode they were "
                               "served (degraded when any of their choices was a degraded one)."),
    )
    page.board.row(8, *_by(page, MODE, "mode"))
    page.board.row(8, *_by(page, VARIANT, "variant"))
    decisions = (ROUTE, PRIORITY, ROUTED_VARIANT, ROUTED_MODE)
    page.board.row(
        8,
        timeseries(f"Router decisions / s by route, priority, variant and mode ({w})",
                   [Query(aggregate("sum", page.pick(by.router_decisions), decisions), legend(*decisions))],
                   width=12, unit=PER_SECOND, stacked=True,
                   description="Every choose(): in degraded mode standard and background calls get the route's "
                               "degraded choice, critical ones keep the normal choice."),
        timeseries(f"Admissions / s by priority and answer ({w})",
                   [Query(aggregate("sum", page.pick(by.router_admissions), (PRIORITY, ADMISSION)),
                          legend(PRIORITY, ADMISSION))],
                   width=12, unit=PER_SECOND, stacked=True, no_value="no admission checks",
                   description="ModelRouter.admit(): in degraded mode background work is deferred or shed."),
    )
    return page.render("agentvitals-routing", "agentvitals / Routing",
                       "The model router: mode, decisions and admissions; cost per task, success rate and p95 by "
                       "mode and by A/B variant.")
