"""The name registry: every span name, attribute key, metric, unit and bucket boundary agentvitals emits.

The emitters (``agentvitals._telemetry``), the dashboard generator and the rule generator all import
from here, so a metric name is typed exactly once. :func:`prometheus_name` derives the name a metric
has in Prometheus after the Collector's default translation (``UnderscoreEscapingWithSuffixes``);
the stack tests check every derived name against a real Prometheus.

GenAI names follow semantic conventions v1.41 (the default every backend reads today). Names that
no convention defines (cost, tasks, active/idle time, caches, budgets) live under ``agentvitals.*``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.41.0"
INSTRUMENTATION_SCOPE: Final = "agentvitals"

# --- GenAI semantic conventions (v1.41) ------------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
"""All input tokens, cached ones included (the v1.41 note: "SHOULD include all types of input tokens")."""
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
GEN_AI_DATA_SOURCE_ID: Final = "gen_ai.data_source.id"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_RETRIEVAL_QUERY_TEXT: Final = "gen_ai.retrieval.query.text"
ERROR_TYPE: Final = "error.type"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
HTTP_REQUEST_METHOD: Final = "http.request.method"
DB_SYSTEM_NAME: Final = "db.system.name"
DB_SYSTEM_LEGACY: Final = "db.system"
"""Pre-stable DB conventions; some contrib instrumentors still emit it."""
DB_OPERATION_NAME: Final = "db.operation.name"
DB_QUERY_TEXT: Final = "db.query.text"


class Operation(str, Enum):
    """Values of ``gen_ai.operation.name`` we emit."""

    CHAT = "chat"
    TEXT_COMPLETION = "text_completion"
    EMBEDDINGS = "embeddings"
    EXECUTE_TOOL = "execute_tool"
    RETRIEVAL = "retrieval"
    INVOKE_AGENT = "invoke_agent"


LLM_OPERATIONS: Final = frozenset({Operation.CHAT.value, Operation.TEXT_COMPLETION.value, "generate_content"})
"""Operations that are model inference (they carry tokens and cost)."""


def span_name(operation: str, target: str | None) -> str:
    """``{gen_ai.operation.name} {target}``, or the operation alone when the target is unknown."""
    return f"{operation} {target}" if target else operation


# --- agentvitals attributes (our namespace; cost shaped like semantic-conventions-genai PR #443) -------
COST_AMOUNT: Final = "agentvitals.usage.cost.amount"
COST_CURRENCY: Final = "agentvitals.usage.cost.currency"
COST_SOURCE: Final = "agentvitals.usage.cost.source"
"""``local`` (computed from the price table) or ``provider`` (returned by the provider)."""
COST_PRICED: Final = "agentvitals.usage.cost.priced"
"""``False`` when no price matched: the amount is absent, never 0."""
COST_PRICE_TABLE_VERSION: Final = "agentvitals.usage.cost.price_table_version"
USAGE_REPORTED: Final = "agentvitals.usage.reported"
"""``False`` when the provider returned no usage: token attributes are then absent, not 0."""
RESPONSE_PARSE_ERROR: Final = "agentvitals.response.parse_error"
"""``True`` when the provider's response could not be read (the call itself is unaffected)."""

TASK_NAME: Final = "agentvitals.task.name"
TASK_ID: Final = "agentvitals.task.id"
TASK_OUTCOME: Final = "agentvitals.task.outcome"
TASK_COST_AMOUNT: Final = "agentvitals.task.cost.amount"
TASK_UNPRICED_CALLS: Final = "agentvitals.task.unpriced_calls"
TASK_INPUT_TOKENS: Final = "agentvitals.task.input_tokens"
TASK_OUTPUT_TOKENS: Final = "agentvitals.task.output_tokens"
TASK_LLM_CALLS: Final = "agentvitals.task.llm_calls"
TASK_TOOL_CALLS: Final = "agentvitals.task.tool_calls"
TASK_WALL_TIME: Final = "agentvitals.task.wall_time"
TASK_ACTIVE_TIME: Final = "agentvitals.task.active_time"
TASK_IDLE_TIME: Final = "agentvitals.task.idle_time"
TASK_CHILD_TIME: Final = "agentvitals.task.child_time"
"""Sum of the durations of the task's outermost waits; child_time / idle_time is the parallelism achieved."""
TASK_CPU_TIME: Final = "agentvitals.task.cpu_time"
TASK_IDLE_TIME_PREFIX: Final = "agentvitals.task.idle_time."
"""Followed by a :class:`WaitKind` value: the idle time attributed to that kind of wait."""
BUDGET_LIMIT: Final = "agentvitals.budget.limit"
WAIT_KIND: Final = "agentvitals.wait.kind"
TOKEN_TYPE: Final = "agentvitals.token.type"
CACHE_NAME: Final = "agentvitals.cache.name"
CACHE_RESULT: Final = "agentvitals.cache.result"
ROUTER_MODE: Final = "agentvitals.router.mode"
CONTROL_ACTION: Final = "agentvitals.control.action"
CONTROL_RESULT: Final = "agentvitals.control.result"
RETRIEVAL_TOP_K: Final = "agentvitals.retrieval.top_k"
RETRIEVAL_RESULT_COUNT: Final = "agentvitals.retrieval.result_count"
RETRIEVAL_OPERATION: Final = "agentvitals.retrieval.operation"
"""``query`` (a search) or ``add`` (indexing: add/upsert), both waits on the store."""


class Outcome(str, Enum):
    """How a task ended. Bounded: it is a metric label."""

    SUCCESS = "success"
    ERROR = "error"
    BUDGET_EXHAUSTED = "budget_exhausted"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


class WaitKind(str, Enum):
    """What a task waits on while it is idle. Bounded: it is a metric label."""

    LLM = "llm"
    TOOL = "tool"
    RETRIEVAL = "retrieval"
    DB = "db"
    HTTP = "http"
    OTHER = "other"


class TokenType(str, Enum):
    """Values of ``agentvitals.token.type`` on the token counter (inclusive convention: cache ⊂ input,
    reasoning ⊂ output). Input and output totals are the ``gen_ai.client.token.usage`` histogram's sum."""

    CACHE_READ = "cache_read"
    CACHE_WRITE = "cache_write"
    REASONING = "reasoning"


# --- metrics --------------------------------------------------------------------------------------
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

    @property
    def prometheus(self) -> str:
        """The series base name in Prometheus (see :func:`prometheus_name`)."""
        return prometheus_name(self)

    def series(self, suffix: str = "") -> str:
        """A concrete series name: ``_bucket``/``_sum``/``_count`` for histograms, the base otherwise."""
        if self.instrument is Instrument.HISTOGRAM and suffix not in ("_bucket", "_sum", "_count"):
            raise ValueError(f"histogram {self.name} needs a _bucket/_sum/_count suffix, got {suffix!r}")
        return self.prometheus + suffix


# Semconv advisory boundaries for operation duration, plus 2.0: the task/LLM latency alert threshold
# must be a bucket edge, or "share of calls above 2 s" cannot be computed exactly.
LATENCY_THRESHOLD_SECONDS: Final = 2.0
DURATION_BUCKETS: Final = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.0, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS: Final = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
TASK_DURATION_BUCKETS: Final = (
    0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0
)

_LLM_LABELS = (GEN_AI_OPERATION_NAME, GEN_AI_PROVIDER_NAME, GEN_AI_REQUEST_MODEL)

OPERATION_DURATION: Final = Metric(
    "gen_ai.client.operation.duration",
    Instrument.HISTOGRAM,
    "s",
    "GenAI operation duration.",
    (*_LLM_LABELS, ERROR_TYPE),
    DURATION_BUCKETS,
)
TOKEN_USAGE: Final = Metric(
    "gen_ai.client.token.usage",
    Instrument.HISTOGRAM,
    "{token}",
    "Measures number of input and output tokens used.",
    (*_LLM_LABELS, GEN_AI_TOKEN_TYPE),
    TOKEN_BUCKETS,
)
TIME_TO_FIRST_CHUNK: Final = Metric(
    "gen_ai.client.operation.time_to_first_chunk",
    Instrument.HISTOGRAM,
    "s",
    "Time from the request to the first chunk of a streamed response.",
    _LLM_LABELS,
    DURATION_BUCKETS,
)
TOKENS: Final = Metric(
    "agentvitals.llm.tokens",
    Instrument.COUNTER,
    "{token}",
    "Cached (read, written) input tokens and reasoning output tokens; input and output totals are the sum of "
    "gen_ai.client.token.usage.",
    (*_LLM_LABELS, TOKEN_TYPE),
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
TOOL_DURATION: Final = Metric(
    "agentvitals.tool.duration",
    Instrument.HISTOGRAM,
    "s",
    "Duration of tool executions.",
    (GEN_AI_TOOL_NAME, ERROR_TYPE),
    DURATION_BUCKETS,
)
RETRIEVAL_DURATION: Final = Metric(
    "agentvitals.retrieval.duration",
    Instrument.HISTOGRAM,
    "s",
    "Duration of retrievals (queries and additions to a vector store or index).",
    (GEN_AI_DATA_SOURCE_ID, RETRIEVAL_OPERATION, ERROR_TYPE),
    DURATION_BUCKETS,
)
TASK_DURATION: Final = Metric(
    "agentvitals.task.duration",
    Instrument.HISTOGRAM,
    "s",
    "Wall time of tasks (one agent run each), by outcome.",
    (TASK_NAME, TASK_OUTCOME),
    TASK_DURATION_BUCKETS,
)
TASK_COST: Final = Metric(
    "agentvitals.task.cost.usd",
    Instrument.COUNTER,
    "{USD}",
    "Cost of tasks in US dollars, by outcome (added when a task ends).",
    (TASK_NAME, TASK_OUTCOME),
)
TASK_ACTIVE: Final = Metric(
    "agentvitals.task.active_time",
    Instrument.COUNTER,
    "s",
    "Task time spent in the task's own compute (wall time minus idle time).",
    (TASK_NAME,),
)
TASK_IDLE: Final = Metric(
    "agentvitals.task.idle_time",
    Instrument.COUNTER,
    "s",
    "Task time spent waiting on external calls; overlapping waits are counted once, split among their kinds.",
    (TASK_NAME, WAIT_KIND),
)
TASK_CHILD: Final = Metric(
    "agentvitals.task.child_time",
    Instrument.COUNTER,
    "s",
    "Summed durations of the task's outermost waits; divided by idle time it is the parallelism achieved.",
    (TASK_NAME,),
)
BUDGET_EXHAUSTED: Final = Metric(
    "agentvitals.budget.exhausted",
    Instrument.COUNTER,
    "{task}",
    "Tasks stopped because a budget limit was reached.",
    (TASK_NAME, BUDGET_LIMIT),
)
CACHE_REQUESTS: Final = Metric(
    "agentvitals.cache.requests",
    Instrument.COUNTER,
    "{request}",
    "Application cache look-ups by result (hit or miss).",
    (CACHE_NAME, CACHE_RESULT),
)

CACHE_SAVED: Final = Metric(
    "agentvitals.cache.saved.usd",
    Instrument.COUNTER,
    "{USD}",
    "Estimated LLM spend avoided by cache hits: the recorded cost of producing each hit value.",
    (CACHE_NAME,),
)
TELEMETRY_SIGNAL: Final = "agentvitals.telemetry.signal"
TELEMETRY_DROPPED: Final = Metric(
    "agentvitals.telemetry.dropped",
    Instrument.COUNTER,
    "{item}",
    "Telemetry this process dropped: spans when the export queue was full or an export failed, metric "
    "exports that failed. Exported once the Collector is reachable again.",
    (TELEMETRY_SIGNAL, ERROR_TYPE),
)
DB_DURATION: Final = Metric(
    "db.client.operation.duration",
    Instrument.HISTOGRAM,
    "s",
    "Duration of database client operations (stable DB semantic conventions).",
    (DB_SYSTEM_NAME, DB_OPERATION_NAME),
    DURATION_BUCKETS,
    emitter="contrib",
)

# GPU (hardware semantic conventions, hw.*), from NVML when it loads; absent otherwise.
HW_ID: Final = "hw.id"
HW_NAME: Final = "hw.name"
HW_VENDOR: Final = "hw.vendor"
HW_TYPE: Final = "hw.type"
HW_GPU_TASK: Final = "hw.gpu.task"
_GPU_LABELS = (HW_ID, HW_NAME, HW_VENDOR)
GPU_UTILIZATION: Final = Metric("hw.gpu.utilization", Instrument.GAUGE, "1", "Fraction of time the GPU was busy.",
                                (*_GPU_LABELS, HW_GPU_TASK))
GPU_MEMORY_UTILIZATION: Final = Metric("hw.gpu.memory.utilization", Instrument.GAUGE, "1",
                                       "Fraction of time GPU memory was being read or written.", _GPU_LABELS)
GPU_MEMORY_USAGE: Final = Metric("hw.gpu.memory.usage", Instrument.UP_DOWN_COUNTER, "By", "GPU memory used.",
                                 _GPU_LABELS)
GPU_MEMORY_LIMIT: Final = Metric("hw.gpu.memory.limit", Instrument.UP_DOWN_COUNTER, "By", "GPU memory size.",
                                 _GPU_LABELS)
GPU_POWER: Final = Metric("hw.power", Instrument.GAUGE, "W", "Power drawn by the GPU.", (*_GPU_LABELS, HW_TYPE))
GPU_TEMPERATURE: Final = Metric("hw.temperature", Instrument.GAUGE, "Cel", "GPU temperature.", (*_GPU_LABELS, HW_TYPE))
GPU_METRICS: Final[tuple[Metric, ...]] = (
    GPU_UTILIZATION, GPU_MEMORY_UTILIZATION, GPU_MEMORY_USAGE, GPU_MEMORY_LIMIT, GPU_POWER, GPU_TEMPERATURE
)
"""Observed from NVML by init() on machines with an NVIDIA driver (package nvidia-ml-py)."""

# Emitted by the demo's worker pool and router and by the control service (not by init()):
ROUTER_DEGRADED: Final = Metric(
    "agentvitals.router.degraded",
    Instrument.GAUGE,
    "{mode}",
    "1 while the model router is in degraded mode (smaller model, fewer tokens), else 0.",
)
ROUTER_SWITCHES: Final = Metric(
    "agentvitals.router.switches",
    Instrument.COUNTER,
    "{switch}",
    "Router mode changes, by the mode switched to.",
    (ROUTER_MODE,),
)
WORKERS: Final = Metric(
    "agentvitals.workers.count",
    Instrument.GAUGE,
    "{worker}",
    "Agent workers in the pool (the scale-out target).",
)
WORKERS_BUSY: Final = Metric(
    "agentvitals.workers.busy",
    Instrument.GAUGE,
    "{worker}",
    "Agent workers currently running a task.",
)
QUEUE_DEPTH: Final = Metric(
    "agentvitals.queue.depth",
    Instrument.GAUGE,
    "{task}",
    "Tasks waiting for a free worker.",
)
WORKER_IDLE: Final = Metric(
    "agentvitals.workers.idle_time",
    Instrument.COUNTER,
    "s",
    "Time workers spent waiting for work: worker-level idleness, separate from task idle time.",
)
SHED_TASKS: Final = Metric(
    "agentvitals.tasks.shed",
    Instrument.COUNTER,
    "{task}",
    "Arrivals dropped because the queue was full.",
)
CONTROL_ACTIONS: Final = Metric(
    "agentvitals.control.actions",
    Instrument.COUNTER,
    "{alert}",
    "Alert notifications the control service handled, by requested action and result "
    "(applied, duplicate, stale, ignored).",
    (CONTROL_ACTION, CONTROL_RESULT),
)
LOOP_METRICS: Final[tuple[Metric, ...]] = (
    ROUTER_DEGRADED, ROUTER_SWITCHES, WORKERS, WORKERS_BUSY, QUEUE_DEPTH, WORKER_IDLE, SHED_TASKS, CONTROL_ACTIONS
)
"""Metrics of the worker pool and router (the demo's, or your own through the same names)."""

METRICS: Final[tuple[Metric, ...]] = (
    OPERATION_DURATION,
    TOKEN_USAGE,
    TIME_TO_FIRST_CHUNK,
    TOKENS,
    COST,
    UNPRICED_CALLS,
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
"""Every metric ``init()`` makes a process emit (its own instruments and the contrib ones it enables)."""

# --- The serving stack's metrics (not ours: a vLLM-compatible model server, dcgm-exporter) ---------
# The demo's fake model server exposes these names, as a self-hosted stack does; dashboards and
# rules read them. Counters are listed with the ``_total`` prometheus_client appends.
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
GPU_UTIL_PERCENT: Final = "DCGM_FI_DEV_GPU_UTIL"
GPU_MEMORY_USED_MIB: Final = "DCGM_FI_DEV_FB_USED"
GPU_MEMORY_FREE_MIB: Final = "DCGM_FI_DEV_FB_FREE"
SPAN_METRICS_CALLS: Final = "traces_span_metrics_calls_total"
SPAN_METRICS_DURATION: Final = "traces_span_metrics_duration_seconds"
"""The Collector's span_metrics connector (namespace traces.span.metrics, unit s)."""

# --- The Collector's own telemetry (not emitted by us; used by the pipeline-health rules) ---------
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


# --- Prometheus-side names -----------------------------------------------------------------------
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
    Histograms get ``_bucket``/``_sum``/``_count`` on top (see :meth:`Metric.series`).
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
