"""The metric registry: every metric a process emits after ``agentvitals.init()``, typed once.

The emitters, the dashboard generator and the rule generator all read these definitions, so a name,
a unit or a bucket boundary exists in one place. How a metric is named once it reaches Prometheus is
the monitoring code's concern (:mod:`agentvitals.monitoring`).

GenAI metrics exist in two generations (:class:`~agentvitals.semconv.Generation`): semantic conventions
v1.41 (the default) and semantic-conventions-genai v0.1.0 (behind ``gen_ai_latest_experimental``).
:func:`genai_conventions` returns, per generation, the metrics and keys an emitter, a dashboard or a rule
needs; :func:`metrics_for` every metric a process emits in that generation. Names no convention defines live
under ``agentvitals.*`` and are the same in both.

Labels: the conventions' metrics carry ``gen_ai.operation.name``, ``gen_ai.provider.name``,
``gen_ai.request.model``, ``gen_ai.response.model``, ``server.address``, ``server.port`` and
``openai.response.service_tier`` (the last five only when known: :attr:`Metric.conditional_labels`), plus
``error.type`` on durations and per-call histograms. All are bounded: model names, a deployment's endpoints,
a provider's service tiers. Never labels: response ids, ``openai.response.system_fingerprint`` (a new value
with every backend change), request parameters, content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any, Final

from opentelemetry import metrics as otel_metrics
from opentelemetry.semconv._incubating.metrics.gen_ai_metrics import (
    GEN_AI_CLIENT_OPERATION_DURATION,
    GEN_AI_CLIENT_TOKEN_USAGE,
)
from opentelemetry.semconv.metrics.db_metrics import DB_CLIENT_OPERATION_DURATION

from agentvitals import attributes as av
from agentvitals import semconv
from agentvitals.semconv import GenAIKeys, Generation, TokenCount, genai_keys

__all__ = [
    "AGENT_DURATION",
    "AGENT_DURATION_BUCKETS",
    "BUDGET_EXHAUSTED",
    "CACHE_REQUESTS",
    "CACHE_SAVED",
    "COST",
    "DB_DURATION",
    "DB_DURATION_BUCKETS",
    "DURATION_BUCKETS",
    "EMBEDDINGS_DURATION",
    "EMBEDDINGS_INPUT_TOKENS",
    "GENAI_METRIC_LABELS",
    "GPU_MEMORY_LIMIT",
    "GPU_MEMORY_USAGE",
    "GPU_MEMORY_UTILIZATION",
    "GPU_METRICS",
    "GPU_POWER",
    "GPU_TEMPERATURE",
    "GPU_UTILIZATION",
    "INFERENCE_DURATION",
    "INFERENCE_INPUT_TOKENS",
    "INFERENCE_OUTPUT_TOKENS",
    "INFERENCE_TIME_TO_FIRST_CHUNK",
    "INFERENCE_USAGE",
    "LATENCY_THRESHOLD_SECONDS",
    "METRICS",
    "OPERATION_DURATION",
    "REJECTED_VALUES",
    "RETRIEVAL_DURATION",
    "RETRIEVAL_DURATION_LATEST",
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
    "UNINSTRUMENTED_CALLS",
    "TOOL_DURATION_LATEST",
    "UNPRICED_CALLS",
    "GenAIConventions",
    "Instrument",
    "Metric",
    "TokenSeries",
    "all_metrics",
    "create_instrument",
    "genai_conventions",
    "metrics_for",
    # explain (issue 14)
    "ERRORS",
    "TASK_CRITICAL_PATH",
    "TASK_FINDINGS",
    "TASK_PARALLELIZABLE",
    "TASK_SAVEABLE",
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
    conditional_labels: tuple[str, ...] = ()
    """The labels (a subset of ``labels``) attached only when known: ``gen_ai.response.model`` needs a
    response, ``server.*`` a client with a base URL, ``error.type`` a failure."""


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

AGENT_DURATION_BUCKETS: Final = (0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6)
"""The conventions' advisory edges for ``gen_ai.invoke_agent.duration``, plus the 2 s alert threshold."""

_LLM_LABELS = (semconv.GEN_AI_OPERATION_NAME, semconv.GEN_AI_PROVIDER_NAME, semconv.GEN_AI_REQUEST_MODEL)
"""Labels of our own LLM metrics (cost, unpriced calls, extra token counts)."""
_GENAI_CONDITIONAL = (semconv.GEN_AI_RESPONSE_MODEL, semconv.SERVER_ADDRESS, semconv.SERVER_PORT,
                      semconv.OPENAI_RESPONSE_SERVICE_TIER)
GENAI_METRIC_LABELS: Final = (*_LLM_LABELS, *_GENAI_CONDITIONAL)
"""The attributes the conventions list for their client metrics, as we attach them (``openai.response.service_tier``
is the conventions' OpenAI refinement: on OpenAI calls only)."""


def _genai(name: str, instrument: Instrument, unit: str, description: str, extra: tuple[str, ...] = (),
           buckets: tuple[float, ...] | None = None) -> Metric:
    """A GenAI client metric: the conventions' common labels plus ``extra``."""
    conditional = (*_GENAI_CONDITIONAL, *(label for label in extra if label == semconv.ERROR_TYPE))
    return Metric(name, instrument, unit, description, (*GENAI_METRIC_LABELS, *extra), buckets,
                  conditional_labels=conditional)


# --- GenAI client metrics (semantic conventions v1.41, the default) ------------------------------------
OPERATION_DURATION: Final = _genai(
    GEN_AI_CLIENT_OPERATION_DURATION, Instrument.HISTOGRAM, "s", "GenAI operation duration.",
    (semconv.ERROR_TYPE,), DURATION_BUCKETS,
)
TOKEN_USAGE: Final = _genai(
    GEN_AI_CLIENT_TOKEN_USAGE, Instrument.HISTOGRAM, "{token}", "Measures number of input and output tokens used.",
    (semconv.GEN_AI_TOKEN_TYPE,), TOKEN_BUCKETS,
)
TIME_TO_FIRST_CHUNK: Final = _genai(
    "gen_ai.client.operation.time_to_first_chunk",  # in opentelemetry-semantic-conventions since 0.63b0
    Instrument.HISTOGRAM, "s", "Time from the request to the first chunk of a streamed response.",
    buckets=DURATION_BUCKETS,
)

# --- GenAI client metrics (semantic-conventions-genai v0.1.0, behind gen_ai_latest_experimental) ---------
# No opentelemetry-semantic-conventions release has these names yet: they are written here.
INFERENCE_DURATION: Final = _genai(
    "gen_ai.client.inference.duration", Instrument.HISTOGRAM, "s", "GenAI client inference operation duration.",
    (semconv.ERROR_TYPE,), DURATION_BUCKETS,
)
INFERENCE_TIME_TO_FIRST_CHUNK: Final = _genai(
    "gen_ai.client.inference.time_to_first_chunk", Instrument.HISTOGRAM, "s",
    "Time from the request to the first chunk of a streamed response.", buckets=DURATION_BUCKETS,
)
INFERENCE_USAGE: Final[Mapping[TokenCount, Metric]] = MappingProxyType({
    count: _genai(f"gen_ai.client.inference.usage.{suffix}", Instrument.COUNTER, "{token}", description,
                  (semconv.GEN_AI_TOKEN_MODALITY,))
    for count, suffix, description in (
        (TokenCount.INPUT, "input_tokens", "The number of input (prompt) tokens used, including cached tokens."),
        (TokenCount.OUTPUT, "output_tokens", "The number of output (completion) tokens used, including reasoning "
                                             "tokens."),
        (TokenCount.CACHE_READ, "cache_read.input_tokens", "The number of input tokens served from a "
                                                           "provider-managed cache."),
        (TokenCount.CACHE_WRITE, "cache_write.input_tokens", "The number of input tokens written to a "
                                                             "provider-managed cache."),
        (TokenCount.REASONING, "reasoning.output_tokens", "The number of output tokens used for reasoning."),
    )
})
"""Usage counters, one per token count, by ``gen_ai.token.modality``. Failed calls and calls without usage
add 0 (modality ``unknown``) to the input and output counters, as v0.1.0 asks."""
INFERENCE_INPUT_TOKENS: Final = _genai(
    "gen_ai.client.inference.operation.input_tokens", Instrument.HISTOGRAM, "{token}",
    "The number of input (prompt) tokens used per inference operation.", (semconv.ERROR_TYPE,), TOKEN_BUCKETS,
)
INFERENCE_OUTPUT_TOKENS: Final = _genai(
    "gen_ai.client.inference.operation.output_tokens", Instrument.HISTOGRAM, "{token}",
    "The number of output (completion) tokens used per inference operation.", (semconv.ERROR_TYPE,), TOKEN_BUCKETS,
)
EMBEDDINGS_DURATION: Final = _genai(
    "gen_ai.client.embeddings.duration", Instrument.HISTOGRAM, "s", "GenAI client embeddings operation duration.",
    (semconv.ERROR_TYPE,), DURATION_BUCKETS,
)
EMBEDDINGS_INPUT_TOKENS: Final = _genai(
    "gen_ai.client.embeddings.operation.input_tokens", Instrument.HISTOGRAM, "{token}",
    "The number of input tokens used per embeddings operation.", (semconv.ERROR_TYPE,), TOKEN_BUCKETS,
)
AGENT_DURATION: Final = Metric(
    "gen_ai.invoke_agent.duration",
    Instrument.HISTOGRAM,
    "s",
    "The end-to-end duration of a single agent invocation (an agentvitals task).",
    (semconv.GEN_AI_OPERATION_NAME, semconv.GEN_AI_AGENT_NAME, semconv.ERROR_TYPE),
    AGENT_DURATION_BUCKETS,
    conditional_labels=(semconv.ERROR_TYPE,),
)
TOOL_DURATION_LATEST: Final = Metric(
    "gen_ai.execute_tool.duration",
    Instrument.HISTOGRAM,
    "s",
    "The duration of a single tool execution.",
    (semconv.GEN_AI_TOOL_NAME, semconv.GEN_AI_TOOL_TYPE, semconv.ERROR_TYPE),
    DURATION_BUCKETS,
    conditional_labels=(semconv.ERROR_TYPE,),
)
RETRIEVAL_DURATION_LATEST: Final = Metric(
    "gen_ai.retrieval.duration",
    Instrument.HISTOGRAM,
    "s",
    "Duration of retrievals (queries and additions to a vector store or index).",
    (semconv.GEN_AI_DATA_SOURCE_ID, av.RETRIEVAL_OPERATION, semconv.ERROR_TYPE),
    DURATION_BUCKETS,
    conditional_labels=(semconv.ERROR_TYPE,),
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

UNINSTRUMENTED_CALLS: Final = Metric(
    "agentvitals.llm.uninstrumented_calls",
    Instrument.COUNTER,
    "{call}",
    "HTTP calls to a known LLM API path that no model-call span covered: a coverage gap (no tokens, no cost). "
    "Their time still counts as LLM wait.",
    (semconv.GEN_AI_PROVIDER_NAME, semconv.SERVER_ADDRESS),
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
    conditional_labels=(semconv.ERROR_TYPE,),
)
RETRIEVAL_DURATION: Final = Metric(
    "agentvitals.retrieval.duration",
    Instrument.HISTOGRAM,
    "s",
    "Duration of retrievals (queries and additions to a vector store or index).",
    (semconv.GEN_AI_DATA_SOURCE_ID, av.RETRIEVAL_OPERATION, semconv.ERROR_TYPE),
    DURATION_BUCKETS,
    conditional_labels=(semconv.ERROR_TYPE,),
)

# --- agentvitals: tasks ---------------------------------------------------------------------------------
TASK_DURATION: Final = Metric(
    "agentvitals.task.duration",
    Instrument.HISTOGRAM,
    "s",
    "Wall time of tasks (one agent run each), by outcome, and by the variant and mode the model router served.",
    (av.TASK_NAME, av.TASK_OUTCOME, av.TASK_VARIANT, av.TASK_MODE),
    TASK_DURATION_BUCKETS,
)
TASK_COST: Final = Metric(
    "agentvitals.task.cost.usd",
    Instrument.COUNTER,
    "{USD}",
    "Cost of tasks in US dollars, by outcome and by the router's variant and mode (added when a task ends).",
    (av.TASK_NAME, av.TASK_OUTCOME, av.TASK_VARIANT, av.TASK_MODE),
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

# --- agentvitals: explain — critical path, parallelizable time, findings, errors by class (issue 14) -------
TASK_CRITICAL_PATH: Final = Metric(
    "agentvitals.task.critical_path_time",
    Instrument.COUNTER,
    "s",
    "Task time on the critical path (the chain of calls that determined the wall time), by kind: a wait kind, "
    "or compute for the task's own work. Sums to the tasks' wall time.",
    (av.TASK_NAME, av.CRITICAL_PATH_KIND),
)
TASK_PARALLELIZABLE: Final = Metric(
    "agentvitals.task.parallelizable_time",
    Instrument.COUNTER,
    "s",
    "Summed durations of sequences of independent external calls a task made one after another.",
    (av.TASK_NAME,),
)
TASK_SAVEABLE: Final = Metric(
    "agentvitals.task.saveable_time",
    Instrument.COUNTER,
    "s",
    "Time those sequences would have saved run concurrently (each sequence's durations minus its longest call).",
    (av.TASK_NAME,),
)
TASK_FINDINGS: Final = Metric(
    "agentvitals.task.findings",
    Instrument.COUNTER,
    "{finding}",
    "Findings at task end (slow LLM or tool, many calls, expensive call, prompt-heavy, parallelizable "
    "sequence, repeated identical tool call), by kind.",
    (av.TASK_NAME, av.FINDING_KIND),
)
ERRORS: Final = Metric(
    "agentvitals.errors",
    Instrument.COUNTER,
    "{error}",
    "LLM, tool and task errors (each counted once, where it first surfaced) and cognitive errors the "
    "application reported, by class (system or cognitive) and cause.",
    (av.ERROR_CLASS, av.ERROR_CAUSE, av.ERROR_SOURCE),
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
    UNINSTRUMENTED_CALLS,
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
    TASK_CRITICAL_PATH,
    TASK_PARALLELIZABLE,
    TASK_SAVEABLE,
    TASK_FINDINGS,
    ERRORS,
)
"""Every metric ``init()`` makes a process emit (its own instruments and the contrib ones it enables), GPUs aside."""


# --- one object per generation of GenAI names -----------------------------------------------------------
@dataclass(frozen=True)
class TokenSeries:
    """Where one token count is recorded: a metric, and the label values that pick the count out of it.

    A histogram's total is its ``_sum``; a counter's is its value.
    """

    metric: Metric
    selector: Mapping[str, str]
    """E.g. ``{gen_ai.token.type: input}`` on v1.41's ``gen_ai.client.token.usage``; empty when the metric
    records only this count."""


@dataclass(frozen=True)
class GenAIConventions:
    """The metric and key names of one generation of GenAI conventions: what an emitter, a dashboard or an
    alert rule needs to know to speak it. Get one with :func:`genai_conventions`."""

    keys: GenAIKeys
    inference_duration: Metric
    """Chat and other inference calls."""
    embeddings_duration: Metric
    time_to_first_chunk: Metric
    tool_duration: Metric
    retrieval_duration: Metric
    agent_duration: Metric | None
    """Recorded for every task (an ``invoke_agent`` span); v1.41 defines no such metric."""
    token_totals: Mapping[TokenCount, TokenSeries]
    """Where each inference token count adds up (for rates, totals and the cache-hit ratio)."""
    token_distribution: Mapping[TokenCount, TokenSeries]
    """The per-call histograms of input and output tokens (for percentiles)."""
    embeddings_input_tokens: TokenSeries
    extra_tokens: Metric | None
    """``agentvitals.llm.tokens``: cache and reasoning counts v1.41 has no metric for; ``None`` in v0.1.0,
    whose usage counters carry them."""
    token_usage: Metric | None
    """v1.41's ``gen_ai.client.token.usage`` (input and output by ``gen_ai.token.type``); removed in v0.1.0."""
    usage_counters: Mapping[TokenCount, Metric]
    """v0.1.0's usage counters (empty in v1.41)."""

    @property
    def generation(self) -> Generation:
        return self.keys.generation

    @property
    def schema_url(self) -> str:
        return self.keys.schema_url

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """Every GenAI metric of this generation, once each."""
        found: dict[str, Metric] = {}
        for metric in (self.inference_duration, self.embeddings_duration, self.time_to_first_chunk,
                       self.tool_duration, self.retrieval_duration, self.agent_duration, self.token_usage,
                       self.extra_tokens, *self.usage_counters.values(),
                       *(series.metric for series in self.token_distribution.values()),
                       self.embeddings_input_tokens.metric):
            if metric is not None:
                found.setdefault(metric.name, metric)
        return tuple(found.values())


_CURRENT_TOTALS: Final[Mapping[TokenCount, TokenSeries]] = MappingProxyType({
    TokenCount.INPUT: TokenSeries(TOKEN_USAGE, {semconv.GEN_AI_TOKEN_TYPE: "input"}),
    TokenCount.OUTPUT: TokenSeries(TOKEN_USAGE, {semconv.GEN_AI_TOKEN_TYPE: "output"}),
    **{count: TokenSeries(TOKENS, {av.TOKEN_TYPE: count.value})
       for count in (TokenCount.CACHE_READ, TokenCount.CACHE_WRITE, TokenCount.REASONING)},
})

_CONVENTIONS: Final[Mapping[Generation, GenAIConventions]] = MappingProxyType({
    Generation.CURRENT: GenAIConventions(
        keys=genai_keys(Generation.CURRENT),
        inference_duration=OPERATION_DURATION,
        embeddings_duration=OPERATION_DURATION,
        time_to_first_chunk=TIME_TO_FIRST_CHUNK,
        tool_duration=TOOL_DURATION,
        retrieval_duration=RETRIEVAL_DURATION,
        agent_duration=None,
        token_totals=_CURRENT_TOTALS,
        token_distribution=MappingProxyType({count: _CURRENT_TOTALS[count]
                                             for count in (TokenCount.INPUT, TokenCount.OUTPUT)}),
        embeddings_input_tokens=TokenSeries(TOKEN_USAGE, {semconv.GEN_AI_TOKEN_TYPE: "input"}),
        extra_tokens=TOKENS,
        token_usage=TOKEN_USAGE,
        usage_counters=MappingProxyType({}),
    ),
    Generation.LATEST: GenAIConventions(
        keys=genai_keys(Generation.LATEST),
        inference_duration=INFERENCE_DURATION,
        embeddings_duration=EMBEDDINGS_DURATION,
        time_to_first_chunk=INFERENCE_TIME_TO_FIRST_CHUNK,
        tool_duration=TOOL_DURATION_LATEST,
        retrieval_duration=RETRIEVAL_DURATION_LATEST,
        agent_duration=AGENT_DURATION,
        token_totals=MappingProxyType({count: TokenSeries(metric, {}) for count, metric in INFERENCE_USAGE.items()}),
        token_distribution=MappingProxyType({TokenCount.INPUT: TokenSeries(INFERENCE_INPUT_TOKENS, {}),
                                             TokenCount.OUTPUT: TokenSeries(INFERENCE_OUTPUT_TOKENS, {})}),
        embeddings_input_tokens=TokenSeries(EMBEDDINGS_INPUT_TOKENS, {}),
        extra_tokens=None,
        token_usage=None,
        usage_counters=INFERENCE_USAGE,
    ),
})


def genai_conventions(generation: Generation | str = Generation.CURRENT) -> GenAIConventions:
    """The GenAI metric and key names of one generation, by :class:`~agentvitals.semconv.Generation` or its
    name (``current``: v1.41, the default; ``latest``: semantic-conventions-genai v0.1.0)."""
    return _CONVENTIONS[Generation(generation)]


_GENERATION_SPECIFIC: Final = frozenset(
    metric.name for conventions in _CONVENTIONS.values() for metric in conventions.metrics
)


def metrics_for(generation: Generation | str) -> tuple[Metric, ...]:
    """Every metric ``init()`` makes a process emit with this generation of GenAI names, GPUs aside
    (``current``: :data:`METRICS`): the generation's GenAI metrics, then those the generations share."""
    if Generation(generation) is Generation.CURRENT:
        return METRICS
    shared = tuple(metric for metric in METRICS if metric.name not in _GENERATION_SPECIFIC)
    return (*genai_conventions(generation).metrics, *shared)


def all_metrics() -> tuple[Metric, ...]:
    """Every metric either generation may emit, once each (bucket views cover both)."""
    found: dict[str, Metric] = {}
    for generation in Generation:
        for metric in metrics_for(generation):
            found.setdefault(metric.name, metric)
    return tuple(found.values())
