"""What our metrics are called in Prometheus, and the serving stack's series the monitoring reads.

:func:`prometheus_name` derives the series name a registry metric gets after the Collector's default
translation (``UnderscoreEscapingWithSuffixes``, prometheus/otlptranslator); the stack tests check every
derived name against a real Prometheus. The other names here are not ours: a vLLM-compatible model
server's serving metrics, dcgm-exporter's GPU gauges, the Collector's span metrics and its own telemetry.
The demo's fake model server exposes the model-server names as a self-hosted stack does.
"""

from __future__ import annotations

import re
from typing import Final

from agentvitals.metrics import Instrument, Metric

__all__ = [
    "COLLECTOR_ACCEPTED_SPANS",
    "COLLECTOR_REFUSED_METRIC_POINTS",
    "COLLECTOR_REFUSED_SPANS",
    "COLLECTOR_SELF_JOB",
    "COLLECTOR_SEND_FAILED_METRIC_POINTS",
    "COLLECTOR_SEND_FAILED_SPANS",
    "GPU_MEMORY_FREE_MIB",
    "GPU_MEMORY_USED_MIB",
    "GPU_UTIL_PERCENT",
    "MODEL_NAME_LABEL",
    "MODEL_SERVER_E2E",
    "MODEL_SERVER_GENERATION_TOKENS",
    "MODEL_SERVER_KV_CACHE_USAGE",
    "MODEL_SERVER_PREFIX_CACHE_HITS",
    "MODEL_SERVER_PREFIX_CACHE_QUERIES",
    "MODEL_SERVER_PROMPT_TOKENS",
    "MODEL_SERVER_QUEUE_TIME",
    "MODEL_SERVER_RUNNING",
    "MODEL_SERVER_TTFT",
    "MODEL_SERVER_WAITING",
    "SPAN_METRICS_CALLS",
    "collector_counter",
    "prometheus_label",
    "prometheus_name",
    "series",
]

# --- a vLLM-compatible model server (counters with the _total prometheus_client appends) -------------
MODEL_SERVER_RUNNING: Final = "vllm:num_requests_running"
MODEL_SERVER_WAITING: Final = "vllm:num_requests_waiting"
MODEL_SERVER_KV_CACHE_USAGE: Final = "vllm:kv_cache_usage_perc"
MODEL_SERVER_PREFIX_CACHE_QUERIES: Final = "vllm:prefix_cache_queries_total"
MODEL_SERVER_PREFIX_CACHE_HITS: Final = "vllm:prefix_cache_hits_total"
MODEL_SERVER_TTFT: Final = "vllm:time_to_first_token_seconds"
MODEL_SERVER_QUEUE_TIME: Final = "vllm:request_queue_time_seconds"
MODEL_SERVER_E2E: Final = "vllm:e2e_request_latency_seconds"
MODEL_SERVER_PROMPT_TOKENS: Final = "vllm:prompt_tokens_total"
MODEL_SERVER_GENERATION_TOKENS: Final = "vllm:generation_tokens_total"
MODEL_NAME_LABEL: Final = "model_name"

# --- dcgm-exporter --------------------------------------------------------------------------------------
GPU_UTIL_PERCENT: Final = "DCGM_FI_DEV_GPU_UTIL"
GPU_MEMORY_USED_MIB: Final = "DCGM_FI_DEV_FB_USED"
GPU_MEMORY_FREE_MIB: Final = "DCGM_FI_DEV_FB_FREE"

# --- the Collector: span metrics (namespace traces.span.metrics, unit s) and its own telemetry ----------
SPAN_METRICS_CALLS: Final = "traces_span_metrics_calls_total"
COLLECTOR_SELF_JOB: Final = "otel-collector-self"
COLLECTOR_ACCEPTED_SPANS: Final = "otelcol_receiver_accepted_spans"
COLLECTOR_REFUSED_SPANS: Final = "otelcol_receiver_refused_spans"
COLLECTOR_REFUSED_METRIC_POINTS: Final = "otelcol_receiver_refused_metric_points"
COLLECTOR_SEND_FAILED_SPANS: Final = "otelcol_exporter_send_failed_spans"
COLLECTOR_SEND_FAILED_METRIC_POINTS: Final = "otelcol_exporter_send_failed_metric_points"


def collector_counter(name: str, job: str = COLLECTOR_SELF_JOB) -> str:
    """A PromQL selector for a Collector self-metric counter, with or without ``_total``.

    The Collector exposes its counters without the suffix in the text format (what Prometheus 2.42
    stores) and with it under OpenMetrics; matching both keeps one rule valid for either.
    """
    return f'{{__name__=~"{name}(_total)?", job="{job}"}}'


# --- the Collector's translation of OpenTelemetry names --------------------------------------------------
_UNIT_WORDS: Final = {
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "min": "minutes",
    "h": "hours",
    "d": "days",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "%": "percent",
    "Hz": "hertz",
    "W": "watts",
    "J": "joules",
    "V": "volts",
    "A": "amperes",
    "Cel": "celsius",
}
_INVALID = re.compile(r"[^a-zA-Z0-9:]+")


def _escape(name: str) -> str:
    return _INVALID.sub("_", name).strip("_")


def prometheus_label(attribute: str) -> str:
    """The Prometheus label an attribute key becomes (``gen_ai.request.model`` -> ``gen_ai_request_model``)."""
    return _escape(attribute)


def _unit_suffix(unit: str) -> str:
    if not unit or unit.startswith("{") or unit == "1":
        return ""
    main, _, per = unit.partition("/")
    words = [_UNIT_WORDS.get(main, main)]
    if per:
        words.append("per_" + _UNIT_WORDS.get(per, per).rstrip("s") if per in ("s", "min", "h", "d") else "per_" + per)
    return _escape("_".join(words))


def prometheus_name(metric: Metric) -> str:
    """The series base name ``metric`` gets in Prometheus after the Collector's default translation.

    Mirrors prometheus/otlptranslator ``UnderscoreEscapingWithSuffixes``: characters outside
    ``[a-zA-Z0-9:]`` become ``_``; the unit becomes a word suffix (``s`` -> ``seconds``; ``{...}``
    units are dropped; ``1`` adds ``_ratio`` to gauges); monotonic counters end in ``_total``.
    Histograms get ``_bucket``/``_sum``/``_count`` on top (see :func:`series`).
    """
    name = _escape(metric.name)
    suffix = _unit_suffix(metric.unit)
    if suffix and not name.endswith("_" + suffix):
        name = f"{name}_{suffix}"
    if metric.unit == "1" and metric.instrument is Instrument.GAUGE and not name.endswith("_ratio"):
        name += "_ratio"
    if metric.instrument is Instrument.COUNTER and not name.endswith("_total"):
        name += "_total"
    return name


def series(metric: Metric, suffix: str = "") -> str:
    """A concrete series name: ``_bucket``/``_sum``/``_count`` of a histogram, the base name otherwise."""
    if metric.instrument is Instrument.HISTOGRAM and suffix not in ("_bucket", "_sum", "_count"):
        raise ValueError(f"histogram {metric.name} needs a _bucket/_sum/_count suffix, got {suffix!r}")
    return prometheus_name(metric) + suffix
