"""The metric registry: every metric a process emits after ``agentvitals.init()``, typed once.

The emitters, the dashboard generator and the rule generator all read these definitions, so a name,
a unit or a bucket boundary exists in one place. How a metric is named once it reaches Prometheus is
the monitoring code's concern (:mod:`agentvitals.monitoring`).

GenAI metrics follow semantic conventions v1.41; names no convention defines live under ``agentvitals.*``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from opentelemetry import metrics as otel_metrics
from opentelemetry.semconv._incubating.metrics.gen_ai_metrics import (
    GEN_AI_CLIENT_OPERATION_DURATION,
    GEN_AI_CLIENT_TOKEN_USAGE,
)
from opentelemetry.semconv.metrics.db_metrics import DB_CLIENT_OPERATION_DURATION

from agentvitals import attributes as av
from agentvitals import semconv

__all__ = [
    "BUDGET_EXHAUSTED",
    "CACHE_REQUESTS",
    "CACHE_SAVED",
    "COST",
    "DB_DURATION",
    "DB_DURATION_BUCKETS",
    "DURATION_BUCKETS",
    "GPU_MEMORY_LIMIT",
    "GPU_MEMORY_USAGE",
    "GPU_MEMORY_UTILIZATION",
    "GPU_METRICS",
    "GPU_POWER",
    "GPU_TEMPERATURE",
    "GPU_UTILIZATION",
    "LATENCY_THRESHOLD_SECONDS",
    "METRICS",
    "OPERATION_DURATION",
    "REJECTED_VALUES",
    "RETRIEVAL_DURATION",
    "TASK_ACTIVE",
    "TASK_CHILD",
    "TASK_COST",
    "TASK_DURATION",
    "TASK_DURATION_BUCKETS",
    "TASK_IDLE",
    "TELEMETRY_DROPPED",
    "TIME_TO_FIRST_CHUNK",
    "TOKENS",
    "TOKEN_BUCKETS",
    "TOKEN_USAGE",
    "TOOL_DURATION",
    "UNPRICED_CALLS",
    "Instrument",
    "Metric",
    "create_instrument",
]


class Instrument(str, Enum):
    HISTOGRAM = "histogram"
    COUNTER = "counter"
    UP_DOWN_COUNTER = "updowncounter"
    GAUGE = "gauge"


@dataclass(frozen=True)
class Metric:
    """One metric: its OpenTelemetry name, instrument, unit, labels and (for histograms) buckets.

    ``labels`` is the complete, bounded set of attribute keys the emitter may attach.
    """

    name: str
    instrument: Instrument
    unit: str
    description: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None
    emitter: str = "agentvitals"
    """``agentvitals`` (our instruments) or ``contrib`` (an instrumentation init() enables; we set its buckets)."""


Callback = Callable[[otel_metrics.CallbackOptions], Iterable[otel_metrics.Observation]]


def create_instrument(meter: otel_metrics.Meter, metric: Metric, callbacks: Sequence[Callback] | None = None) -> Any:
    """The API instrument for a registry metric: name, unit, description and advisory buckets come from the
    registry. With ``callbacks``, the observable kind of the metric's instrument; else the synchronous one."""
    common: dict[str, Any] = {"unit": metric.unit, "description": metric.description}
    kind = metric.instrument
    if callbacks is not None:
        if kind is Instrument.GAUGE:
            return meter.create_observable_gauge(metric.name, list(callbacks), **common)
        if kind is Instrument.COUNTER:
            return meter.create_observable_counter(metric.name, list(callbacks), **common)
        if kind is Instrument.UP_DOWN_COUNTER:
            return meter.create_observable_up_down_counter(metric.name, list(callbacks), **common)
        raise ValueError(f"{metric.name}: a {kind.value} cannot be observed")
    if kind is Instrument.HISTOGRAM:
        return meter.create_histogram(metric.name, explicit_bucket_boundaries_advisory=list(metric.buckets or ()),
                                      **common)
    if kind is Instrument.COUNTER:
        return meter.create_counter(metric.name, **common)
    if kind is Instrument.UP_DOWN_COUNTER:
        return meter.create_up_down_counter(metric.name, **common)
    raise ValueError(f"{metric.name}: a {kind.value} is observed: pass callbacks")


# Semconv advisory boundaries for operation duration, plus 2.0: the task/LLM latency alert threshold
# must be a bucket edge, or "share of calls above 2 s" cannot be computed exactly.
LATENCY_THRESHOLD_SECONDS: Final = 2.0
DURATION_BUCKETS: Final = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.0, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS: Final = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
TASK_DURATION_BUCKETS: Final = (
    0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0
)
DB_DURATION_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0
)
"""The stable DB conventions' advisory edges (0.001 … 10 s), finer below 10 ms (a local query takes well
under the GenAI buckets' lowest edge), plus the 2 s alert threshold."""

_LLM_LABELS = (semconv.GEN_AI_OPERATION_NAME, semconv.GEN_AI_PROVIDER_NAME, semconv.GEN_AI_REQUEST_MODEL)

# --- GenAI client metrics (semantic conventions v1.41) ------------------------------------------------
OPERATION_DURATION: Final = Metric(
    GEN_AI_CLIENT_OPERATION_DURATION,
    Instrument.HISTOGRAM,
    "s",
    "GenAI operation duration.",
    (*_LLM_LABELS, semconv.ERROR_TYPE),
    DURATION_BUCKETS,
)
TOKEN_USAGE: Final = Metric(
    GEN_AI_CLIENT_TOKEN_USAGE,
    Instrument.HISTOGRAM,
    "{token}",
    "Measures number of input and output tokens used.",
    (*_LLM_LABELS, semconv.GEN_AI_TOKEN_TYPE),
    TOKEN_BUCKETS,
)
TIME_TO_FIRST_CHUNK: Final = Metric(
    "gen_ai.client.operation.time_to_first_chunk",  # in opentelemetry-semantic-conventions since 0.63b0
    Instrument.HISTOGRAM,
    "s",
    "Time from the request to the first chunk of a streamed response.",
    _LLM_LABELS,
    DURATION_BUCKETS,
)

# --- agentvitals: LLM calls ---------------------------------------------------------------------------
TOKENS: Final = Metric(
    "agentvitals.llm.tokens",
    Instrument.COUNTER,
    "{token}",
    "Cached (read, written) input tokens and reasoning output tokens; input and output totals are the sum of "
    "gen_ai.client.token.usage.",
    (*_LLM_LABELS, av.TOKEN_TYPE),
)
COST: Final = Metric(
    "agentvitals.cost.usd",
    Instrument.COUNTER,
    "{USD}",
    "Cost of priced LLM calls in US dollars.",
    _LLM_LABELS,
)
UNPRICED_CALLS: Final = Metric(
    "agentvitals.llm.unpriced_calls",
    Instrument.COUNTER,
    "{call}",
    "LLM calls whose model has no price: their cost is unknown, not zero.",
    _LLM_LABELS,
)

# --- invalid provider data (issue 17.5) -----------------------------------------------------------------
REJECTED_VALUES: Final = Metric(
    "agentvitals.llm.rejected_values",
    Instrument.COUNTER,
    "{value}",
    "Values an LLM provider or gateway reported that are not valid (a token count outside 0..1e9, a cost that "
    "is not finite and non-negative), by field: left out of tokens, cost and budgets.",
    (*_LLM_LABELS, av.REJECTED_FIELD),
)

# --- agentvitals: tools and retrievals ---------------------------------------------------------------
TOOL_DURATION: Final = Metric(
    "agentvitals.tool.duration",
    Instrument.HISTOGRAM,
    "s",
    "Duration of tool executions.",
    (semconv.GEN_AI_TOOL_NAME, semconv.ERROR_TYPE),
    DURATION_BUCKETS,
)
RETRIEVAL_DURATION: Final = Metric(
    "agentvitals.retrieval.duration",
    Instrument.HISTOGRAM,
    "s",
    "Duration of retrievals (queries and additions to a vector store or index).",
    (semconv.GEN_AI_DATA_SOURCE_ID, av.RETRIEVAL_OPERATION, semconv.ERROR_TYPE),
    DURATION_BUCKETS,
)

# --- agentvitals: tasks ---------------------------------------------------------------------------------
TASK_DURATION: Final = Metric(
    "agentvitals.task.duration",
    Instrument.HISTOGRAM,
    "s",
    "Wall time of tasks (one agent run each), by outcome.",
    (av.TASK_NAME, av.TASK_OUTCOME),
    TASK_DURATION_BUCKETS,
)
TASK_COST: Final = Metric(
    "agentvitals.task.cost.usd",
    Instrument.COUNTER,
    "{USD}",
    "Cost of tasks in US dollars, by outcome (added when a task ends).",
    (av.TASK_NAME, av.TASK_OUTCOME),
)
TASK_ACTIVE: Final = Metric(
    "agentvitals.task.active_time",
    Instrument.COUNTER,
    "s",
    "Task time spent in the task's own compute (wall time minus idle time).",
    (av.TASK_NAME,),
)
TASK_IDLE: Final = Metric(
    "agentvitals.task.idle_time",
    Instrument.COUNTER,
    "s",
    "Task time spent waiting on external calls; overlapping waits are counted once, split among their kinds.",
    (av.TASK_NAME, av.WAIT_KIND),
)
TASK_CHILD: Final = Metric(
    "agentvitals.task.child_time",
    Instrument.COUNTER,
    "s",
    "Summed durations of the task's outermost waits; divided by idle time it is the parallelism achieved.",
    (av.TASK_NAME,),
)
BUDGET_EXHAUSTED: Final = Metric(
    "agentvitals.budget.exhausted",
    Instrument.COUNTER,
    "{task}",
    "Tasks stopped because a budget limit was reached.",
    (av.TASK_NAME, av.BUDGET_LIMIT),
)

# --- agentvitals: application caches ----------------------------------------------------------------
CACHE_REQUESTS: Final = Metric(
    "agentvitals.cache.requests",
    Instrument.COUNTER,
    "{request}",
    "Application cache look-ups by result (hit or miss).",
    (av.CACHE_NAME, av.CACHE_RESULT),
)
CACHE_SAVED: Final = Metric(
    "agentvitals.cache.saved.usd",
    Instrument.COUNTER,
    "{USD}",
    "Estimated LLM spend avoided by cache hits: the recorded cost of producing each hit value.",
    (av.CACHE_NAME,),
)

# --- agentvitals: the pipeline itself ---------------------------------------------------------------
TELEMETRY_DROPPED: Final = Metric(
    "agentvitals.telemetry.dropped",
    Instrument.COUNTER,
    "{item}",
    "Telemetry this process dropped: spans when the export queue was full, an export failed or the exit "
    "deadline passed; metric exports that failed. Exported once the Collector is reachable again.",
    (av.TELEMETRY_SIGNAL, semconv.ERROR_TYPE),
)

# --- contrib instrumentations init() enables (we set their buckets) -------------------------------------
DB_DURATION: Final = Metric(
    DB_CLIENT_OPERATION_DURATION,
    Instrument.HISTOGRAM,
    "s",
    "Duration of database client operations (stable DB semantic conventions).",
    (semconv.DB_SYSTEM_NAME, semconv.DB_OPERATION_NAME),
    DB_DURATION_BUCKETS,
    emitter="contrib",
)

# --- GPUs (hardware semantic conventions, hw.*), from NVML when it loads; absent otherwise ------------------
_GPU_LABELS = (semconv.HW_ID, semconv.HW_NAME, semconv.HW_VENDOR)
GPU_UTILIZATION: Final = Metric("hw.gpu.utilization", Instrument.GAUGE, "1", "Fraction of time the GPU was busy.",
                                (*_GPU_LABELS, semconv.HW_GPU_TASK))
GPU_MEMORY_UTILIZATION: Final = Metric("hw.gpu.memory.utilization", Instrument.GAUGE, "1",
                                       "Fraction of time GPU memory was being read or written.", _GPU_LABELS)
GPU_MEMORY_USAGE: Final = Metric("hw.gpu.memory.usage", Instrument.UP_DOWN_COUNTER, "By", "GPU memory used.",
                                 _GPU_LABELS)
GPU_MEMORY_LIMIT: Final = Metric("hw.gpu.memory.limit", Instrument.UP_DOWN_COUNTER, "By", "GPU memory size.",
                                 _GPU_LABELS)
GPU_POWER: Final = Metric("hw.power", Instrument.GAUGE, "W", "Power drawn by the GPU.",
                          (*_GPU_LABELS, semconv.HW_TYPE))
GPU_TEMPERATURE: Final = Metric("hw.temperature", Instrument.GAUGE, "Cel", "GPU temperature.",
                                (*_GPU_LABELS, semconv.HW_TYPE))
GPU_METRICS: Final[tuple[Metric, ...]] = (
    GPU_UTILIZATION, GPU_MEMORY_UTILIZATION, GPU_MEMORY_USAGE, GPU_MEMORY_LIMIT, GPU_POWER, GPU_TEMPERATURE
)
"""Observed from NVML by init() on machines with an NVIDIA driver (package nvidia-ml-py)."""

METRICS: Final[tuple[Metric, ...]] = (
    OPERATION_DURATION,
    TOKEN_USAGE,
    TIME_TO_FIRST_CHUNK,
    TOKENS,
    COST,
    UNPRICED_CALLS,
    REJECTED_VALUES,
    TOOL_DURATION,
    RETRIEVAL_DURATION,
    TASK_DURATION,
    TASK_COST,
    TASK_ACTIVE,
    TASK_IDLE,
    TASK_CHILD,
    BUDGET_EXHAUSTED,
    CACHE_REQUESTS,
    CACHE_SAVED,
    TELEMETRY_DROPPED,
    DB_DURATION,
)
"""Every metric ``init()`` makes a process emit (its own instruments and the contrib ones it enables), GPUs aside."""
