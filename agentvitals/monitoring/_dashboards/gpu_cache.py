"""The model server's GPU, KV cache and queue; application and prompt/prefix cache hit ratios."""

from __future__ import annotations

from typing import Any

from agentvitals.metrics import GPU_MEMORY_LIMIT, GPU_MEMORY_USAGE
from agentvitals.monitoring._config import MonitoringConfig
from agentvitals.monitoring._dashboards._common import PER_SECOND, RATE, Page
from agentvitals.monitoring._grafana import Query, bar_gauge, gauge, timeseries
from agentvitals.monitoring._promql import Selector, aggregate, legend, rate, ratio
from agentvitals.monitoring._rules import CACHE, RESULT, Rules, gpu_utilization_percent
from agentvitals.monitoring.series import (
    GPU_MEMORY_FREE_MIB,
    GPU_MEMORY_USED_MIB,
    MODEL_NAME_LABEL,
    MODEL_SERVER_KV_CACHE_USAGE,
    MODEL_SERVER_PREFIX_CACHE_HITS,
    MODEL_SERVER_PREFIX_CACHE_QUERIES,
    MODEL_SERVER_RUNNING,
    MODEL_SERVER_WAITING,
    prometheus_label,
    prometheus_name,
)
from agentvitals.semconv import HW_ID

__all__ = ["gpu_and_cache"]

STEP = "$__interval"
"""Grafana's step: a gauge's peak within each step, not the value at its end, is what a queue chart needs."""


def gpu_and_cache(config: MonitoringConfig, rules: Rules) -> dict[str, Any]:
    page = Page(config, rules)
    model = MODEL_NAME_LABEL
    hw_id = prometheus_label(HW_ID)
    gpu = legend("gpu", prefix="GPU")

    used, free = GPU_MEMORY_USED_MIB, GPU_MEMORY_FREE_MIB
    dcgm_memory = f"{aggregate('sum', used, ('gpu',))} / {aggregate('sum', f'{used} + {free}', ('gpu',))}"
    nvml_memory = (f"{aggregate('sum', prometheus_name(GPU_MEMORY_USAGE), (hw_id,))} / "
                   f"{aggregate('sum', prometheus_name(GPU_MEMORY_LIMIT), (hw_id,))}")
    page.board.row(
        8,
        timeseries("GPU utilization", [Query(gpu_utilization_percent(), gpu)], width=12, unit="percent",
                   max_value=100, threshold=config.gpu_saturation_percent,
                   description="From the model server's dcgm-exporter, or from the SDK's NVML gauges (hw.gpu.*). "
                               "The dashed line is the GPU-saturation alert threshold."),
        timeseries("GPU memory used",
                   [Query(f'{dcgm_memory}\nor\nlabel_replace({nvml_memory}, "gpu", "$1", "{hw_id}", "(.+)")', gpu)],
                   width=12, unit="percentunit", max_value=1),
    )
    page.board.row(
        8,
        timeseries("KV-cache usage by model",
                   [Query(aggregate("max", MODEL_SERVER_KV_CACHE_USAGE, (model,)), legend(model))],
                   width=12, unit="percentunit", max_value=1, threshold=config.kv_cache_full_ratio,
                   description="The dashed line is the KV-cache-near-full alert threshold."),
        timeseries("Model server queue: waiting and running requests (peak per step)",
                   [Query(aggregate("sum", f"max_over_time({MODEL_SERVER_WAITING}[{STEP}])", (model,)),
                          legend(model, prefix="waiting")),
                    Query(aggregate("sum", f"max_over_time({MODEL_SERVER_RUNNING}[{STEP}])", (model,)),
                          legend(model, prefix="running"))],
                   width=12, unit="short",
                   description="The highest value scraped within each point's step: a queue that builds and "
                               "drains between two points still shows."),
    )
    by = rules.breakdown
    prefix_hits = rate(Selector(MODEL_SERVER_PREFIX_CACHE_HITS), RATE)
    prefix_queries = rate(Selector(MODEL_SERVER_PREFIX_CACHE_QUERIES), RATE)
    page.board.row(
        8,
        timeseries(f"Application cache hit ratio ({config.fast_window})",
                   [Query(aggregate("max", page.pick(rules.fast.cache_ratio), (page.service,)),
                          legend(page.service))], width=8, unit="percentunit", max_value=1),
        timeseries("Model server prefix-cache hit ratio",
                   [Query(ratio(prefix_hits, prefix_queries, (model,)), legend(model))], width=8,
                   unit="percentunit", max_value=1),
        bar_gauge(f"Application cache look-ups / s ({config.fast_window})",
                  Query(aggregate("sum", page.pick(by.cache_requests), (CACHE, RESULT)), legend(CACHE, RESULT)),
                  width=8, unit=PER_SECOND),
    )
    page.board.row(
        6,
        gauge("KV cache, fullest model", Query(aggregate("max", MODEL_SERVER_KV_CACHE_USAGE)), width=12),
        gauge("GPU utilization, busiest GPU", Query(aggregate("max", gpu_utilization_percent())), width=12,
              unit="percent", max_value=100),
    )
    return page.render("agentvitals-gpu-cache", "agentvitals / GPU and cache",
                       "Model-server GPU, KV cache and queue; application and prompt cache hit ratios.")
