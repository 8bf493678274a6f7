"""Cost: LLM spend against the hourly budget, cost per task and per successful task, what caching saved."""

from __future__ import annotations

from typing import Any

from agentvitals.attributes import BUDGET_LIMIT, TASK_OUTCOME
from agentvitals.monitoring._config import MonitoringConfig
from agentvitals.monitoring._dashboards._common import TASKS_PER_SECOND, Page
from agentvitals.monitoring._grafana import Query, stat, timeseries
from agentvitals.monitoring._promql import aggregate, legend
from agentvitals.monitoring._rules import CACHE, MODEL, Rules
from agentvitals.monitoring.series import prometheus_label

__all__ = ["cost"]


def cost(config: MonitoringConfig, rules: Rules) -> dict[str, Any]:
    page = Page(config, rules)
    now, alerting, by = rules.fast, rules.slow, rules.breakdown
    w, alert_window = config.fast_window, config.rate_window
    budget = config.hourly_budget_usd
    hourly = f"{aggregate('sum', page.pick(alerting.cost_rate))} * 3600"

    page.board.row(
        4,
        stat(f"LLM spend ($/h, {w})", Query(f"{aggregate('sum', page.pick(now.cost_rate))} * 3600"), width=6,
             unit="currencyUSD", decimals=2, thresholds=(("green", None), ("red", budget))),
        stat(f"Budget used ({alert_window}, as the alert)", Query(f"{hourly} / {budget:g}"), width=6,
             unit="percentunit", decimals=0, thresholds=(("green", None), ("orange", 0.8), ("red", 1)),
             description=f"Spend over {alert_window} / the ${budget:g}/h budget: AgentCostBurnHigh fires above "
                         "100% (and degrades the router)."),
        stat(f"Cost per task ({w})", Query(aggregate("max", page.pick(now.cost_per_task))), width=6,
             unit="currencyUSD", decimals=5),
        stat(f"Cost per successful task ({w})", Query(aggregate("max", page.pick(now.cost_per_success))), width=6,
             unit="currencyUSD", decimals=5),
    )
    outcome = prometheus_label(TASK_OUTCOME)
    page.board.row(
        8,
        timeseries(f"Spend by model ($/h, {w})",
                   [Query(f"{aggregate('sum', page.pick(by.cost), (MODEL,))} * 3600", legend(MODEL))],
                   width=12, unit="currencyUSD", stacked=True),
        timeseries(f"Task cost by outcome ($/h, {w})",
                   [Query(f"{aggregate('sum', page.pick(by.tasks_cost_by_outcome), (outcome,))} * 3600",
                          legend(outcome))], width=12, unit="currencyUSD", stacked=True,
                   description="What failed and budget-exhausted tasks cost too."),
    )
    limit = prometheus_label(BUDGET_LIMIT)
    page.board.row(
        8,
        timeseries(f"Budget exhaustions / s by limit ({w})",
                   [Query(aggregate("sum", page.pick(by.budget_exhausted), (limit,)), legend(limit))],
                   width=12, unit=TASKS_PER_SECOND),
        timeseries(f"Spend avoided by cache hits ($/h, {w})",
                   [Query(f"{aggregate('sum', page.pick(by.cache_saved), (CACHE,))} * 3600", legend(CACHE))],
                   width=12, unit="currencyUSD", stacked=True,
                   description="The recorded cost of producing each value served from a cache instead."),
    )
    return page.render("agentvitals-cost", "agentvitals / Cost",
                       "LLM spend against the hourly budget, cost per task and per successful task.")
