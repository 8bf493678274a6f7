"""LLM calls per model: latency, time to first chunk, tokens, spend, prompt caching, errors.

Every series comes from the generation of GenAI names the rules were generated for (``Rules.llm``).
"""

from __future__ import annotations

from typing import Any

from agentvitals.monitoring._config import MonitoringConfig
from agentvitals.monitoring._dashboards._common import PER_SECOND, RATE, Page
from agentvitals.monitoring._grafana import Query, timeseries
from agentvitals.monitoring._promql import aggregate, eq, legend, quantile
from agentvitals.monitoring._rules import MODEL, TOKEN_TYPE_LABEL, Rules
from agentvitals.monitoring.series import prometheus_label, series
from agentvitals.semconv import GEN_AI_OPERATION_NAME

__all__ = ["llm"]


def llm(config: MonitoringConfig, rules: Rules) -> dict[str, Any]:
    page = Page(config, rules)
    by_model = rules.breakdown
    w = config.fast_window
    chat = eq(prometheus_label(GEN_AI_OPERATION_NAME), "chat")
    durations = page.pick(series(rules.llm.inference_duration, "_bucket"), page.of_model, chat)

    page.board.row(8, *(
        timeseries(f"LLM call p{round(q * 100)} by model (chat)",
                   [Query(quantile(q, durations, RATE, (MODEL,)), legend(MODEL), exemplar=True)], width=12, unit="s")
        for q in (0.95, 0.99)
    ))
    first_chunk = page.pick(series(rules.llm.time_to_first_chunk, "_bucket"), page.of_model)
    page.board.row(
        8,
        timeseries("Time to first chunk p95 by model (streams)",
                   [Query(quantile(0.95, first_chunk, RATE, (MODEL,)), legend(MODEL), exemplar=True)],
                   width=12, unit="s"),
        timeseries(f"LLM calls / s by model ({w})",
                   [Query(aggregate("sum", page.pick(by_model.llm_calls, page.of_model), (MODEL,)), legend(MODEL))],
                   width=12, unit=PER_SECOND, stacked=True),
    )
    page.board.row(
        8,
        timeseries(f"Tokens / s by type ({w})",
                   [Query(aggregate("sum", page.pick(by_model.tokens, page.of_model), (TOKEN_TYPE_LABEL,)),
                          legend(TOKEN_TYPE_LABEL))],
                   width=12, unit="short",
                   description="Input and output tokens; of those, cached input (read, written) and reasoning "
                               "output."),
        timeseries(f"LLM spend by model ($/h, {w})",
                   [Query(f"{aggregate('sum', page.pick(by_model.cost, page.of_model), (MODEL,))} * 3600",
                          legend(MODEL))], width=12, unit="currencyUSD", stacked=True),
    )
    page.board.row(
        8,
        timeseries(f"Prompt-cache hit ratio ({w})",
                   [Query(aggregate("max", page.pick(rules.fast.prompt_cache_ratio), (page.service,)),
                          legend(page.service))], width=8, unit="percentunit", max_value=1,
                   description="Cached input tokens / all input tokens."),
        timeseries(f"Unpriced calls / s by model ({w})",
                   [Query(aggregate("sum", page.pick(by_model.unpriced, page.of_model), (MODEL,)), legend(MODEL))],
                   width=8, unit=PER_SECOND,
                   description="Calls whose model has no price (or no usage): their cost is unknown, not zero. "
                               "Add the price with init(pricing=...)."),
        timeseries(f"LLM error ratio by model ({w})",
                   [Query(aggregate("max", page.pick(by_model.llm_error_ratio, page.of_model), (MODEL,)),
                          legend(MODEL))], width=8, unit="percentunit", max_value=1),
    )
    return page.render("agentvitals-llm", "agentvitals / LLM",
                       "Per-model latency, time to first chunk, tokens, cost and prompt caching.", with_model=True)
