"""Tools, retrieval and the database: latency percentiles, calls, errors, and the parallelism achieved; the
findings of the task analysis (``agentvitals explain``) by kind and errors by class and cause."""

from __future__ import annotations

from typing import Any

from agentvitals.metrics import DB_DURATION
from agentvitals.monitoring._config import MonitoringConfig
from agentvitals.monitoring._dashboards._common import PER_SECOND, RATE, TIMES, Page
from agentvitals.monitoring._grafana import Query, timeseries
from agentvitals.monitoring._promql import Selector, aggregate, legend, matches, quantile, rate, share
from agentvitals.monitoring._rules import (
    DB_OPERATION,
    ERROR_CAUSE_LABEL,
    ERROR_CLASS_LABEL,
    FINDING,
    SOURCE,
    TOOL,
    Rules,
)
from agentvitals.monitoring.series import SPAN_METRICS_CALLS, series

__all__ = ["tools"]


def tools(config: MonitoringConfig, rules: Rules) -> dict[str, Any]:
    page = Page(config, rules)
    by = rules.breakdown
    w = config.fast_window
    tool_buckets = page.pick(series(rules.llm.tool_duration, "_bucket"))

    page.board.row(8, *(
        timeseries(f"Tool p{round(q * 100)} by tool",
                   [Query(quantile(q, tool_buckets, RATE, (TOOL,)), legend(TOOL), exemplar=True)], width=12, unit="s")
        for q in (0.95, 0.99)
    ))
    page.board.row(
        8,
        timeseries(f"Tool calls / s by tool ({w})",
                   [Query(aggregate("sum", page.pick(by.tool_calls), (TOOL,)), legend(TOOL))],
                   width=12, unit=PER_SECOND, stacked=True),
        timeseries(f"Tool error ratio by tool ({w})",
                   [Query(aggregate("max", page.pick(by.tool_error_ratio), (TOOL,)), legend(TOOL))],
                   width=12, unit="percentunit", max_value=1),
    )
    retrieval_buckets = page.pick(series(rules.llm.retrieval_duration, "_bucket"))
    page.board.row(
        8,
        timeseries("Retrieval p95 / p99 by source",
                   [Query(quantile(q, retrieval_buckets, RATE, (SOURCE,)), legend(SOURCE, prefix=f"p{round(q * 100)}"),
                          exemplar=True) for q in (0.95, 0.99)], width=12, unit="s"),
        timeseries(f"Retrievals / s by source ({w})",
                   [Query(aggregate("sum", page.pick(by.retrievals), (SOURCE,)), legend(SOURCE))],
                   width=12, unit=PER_SECOND, stacked=True),
    )
    db_buckets = page.pick(series(DB_DURATION, "_bucket"))
    page.board.row(
        8,
        timeseries("Database p95 / p99 by operation",
                   [Query(quantile(q, db_buckets, RATE, (DB_OPERATION,)),
                          legend(DB_OPERATION, prefix=f"p{round(q * 100)}"), exemplar=True) for q in (0.95, 0.99)],
                   width=12, unit="s",
                   description="Buckets from 0.5 ms: a local query takes well under the LLM buckets' 10 ms edge."),
        timeseries(f"Database operations / s ({w})",
                   [Query(aggregate("sum", page.pick(by.db_operations), (DB_OPERATION,)), legend(DB_OPERATION))],
                   width=12, unit="ops", stacked=True),
    )
    spans = Selector(SPAN_METRICS_CALLS, (matches("service_name", "$service"),
                                          matches("span_name", "execute_tool .*|retrieval .*")))
    page.board.row(
        8,
        timeseries(f"Parallelism achieved ({w})",
                   [Query(aggregate("max", page.pick(rules.fast.parallelism), (page.service,)),
                          legend(page.service))], width=12, unit=TIMES, min_value=None,
                   description="Summed duration of waits / idle time. Independent tool calls run in parallel "
                               "raise it."),
        timeseries("Span calls / s from the Collector's span metrics",
                   [Query(aggregate("sum", rate(spans, RATE), ("span_name",)), legend("span_name"))],
                   width=12, unit=PER_SECOND,
                   description="Derived from traces by the Collector (sampled traces only)."),
    )
    errors_by = (ERROR_CLASS_LABEL, ERROR_CAUSE_LABEL)
    page.board.row(
        8,
        timeseries(f"Findings per task by kind ({w})",
                   [Query(share(aggregate("sum", page.pick(by.findings), (FINDING,)),
                                aggregate("sum", page.pick(rules.fast.tasks))), legend(FINDING))],
                   width=12, unit="short", no_value="no findings",
                   description="What the analysis at task end found (slow LLM or tool calls, many calls, expensive "
                               "calls, prompt-heavy calls, independent calls made one after another, a tool called "
                               "again with the same arguments), per task: 0.3 is three findings of that kind in ten "
                               "tasks (a task can have one per model or tool). agentvitals explain shows them for "
                               "one task."),
        timeseries(f"Errors / s by class and cause ({w})",
                   [Query(aggregate("sum", page.pick(rules.fast.errors_by_cause), errors_by), legend(*errors_by))],
                   width=12, unit=PER_SECOND, stacked=True, no_value="no errors",
                   description="LLM, tool and task errors, each counted once where it first surfaced, and the "
                               "cognitive errors the application reported: system (timeouts, rate limits, 5xx) or "
                               "cognitive (unknown tools, output that does not parse, loops, step limits)."),
    )
    return page.render("agentvitals-tools", "agentvitals / Tools, retrieval and DB",
                       "Latency percentiles, errors and calls of tools, retrievals and database operations; "
                       "findings and errors of the tasks that make them.")
