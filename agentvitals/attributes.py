"""agentvitals' own attribute keys and label values: what no semantic convention defines yet.

Everything here lives under ``agentvitals.*``; OpenTelemetry-owned keys come from
:mod:`agentvitals.semconv`. Cost is shaped like the open GenAI proposal (semantic-conventions-genai
PR #443: amount, currency, source) in our namespace until it merges.

Keys marked *label* are also metric attributes and take a bounded set of values.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

__all__ = [
    "BUDGET_LIMIT",
    "CACHE_NAME",
    "CACHE_RESULT",
    "COST_AMOUNT",
    "COST_CURRENCY",
    "COST_PRICED",
    "COST_SOURCE",
    "INSTRUMENTATION_SCOPE",
    "REJECTED_FIELD",
    "RESPONSE_PARSE_ERROR",
    "RESPONSE_REJECTED",
    "RETRIEVAL_OPERATION",
    "RETRIEVAL_RESULT_COUNT",
    "RETRIEVAL_TOP_K",
    "TASK_ACTIVE_TIME",
    "TASK_CHILD_TIME",
    "TASK_COST_AMOUNT",
    "TASK_CPU_TIME",
    "TASK_ID",
    "TASK_IDLE_TIME",
    "TASK_INPUT_TOKENS",
    "TASK_LLM_CALLS",
    "TASK_MODE",
    "TASK_NAME",
    "TASK_OUTCOME",
    "TASK_OUTPUT_TOKENS",
    "TASK_TOOL_CALLS",
    "TASK_UNPRICED_CALLS",
    "TASK_VARIANT",
    "TASK_WALL_TIME",
    "TELEMETRY_SIGNAL",
    "TOKEN_TYPE",
    "USAGE_REPORTED",
    "WAIT_KIND",
    "Outcome",
    "TokenType",
    "WaitKind",
    "task_idle_time",
    # explain (issue 14)
    "BUDGET_MAX_COST",
    "BUDGET_MAX_LLM_CALLS",
    "BUDGET_MAX_TOOL_CALLS",
    "BUDGET_MAX_WALL_TIME",
    "COGNITIVE_ERROR_EVENT",
    "CRITICAL_PATH_KIND",
    "ERROR_CAUSE",
    "ERROR_CLASS",
    "ERROR_DETAIL",
    "ERROR_SOURCE",
    "FINDING_KIND",
    "TASK_COGNITIVE_ERRORS",
    "TASK_CRITICAL_PATH_TIME",
    "TASK_FINDINGS",
    "TASK_FINDINGS_COUNT",
    "TASK_PARALLELIZABLE_TIME",
    "TASK_SAVEABLE_TIME",
    "TASK_SPANS_TRUNCATED",
    "TASK_SYSTEM_ERRORS",
    "TOOL_ARGUMENTS_HASH",
    "task_critical_path_time",
]

INSTRUMENTATION_SCOPE: Final = "agentvitals"
"""The tracer and meter name of every span and metric we emit."""

# --- LLM calls ---------------------------------------------------------------------------------------
COST_AMOUNT: Final = "agentvitals.usage.cost.amount"
COST_CURRENCY: Final = "agentvitals.usage.cost.currency"
COST_SOURCE: Final = "agentvitals.usage.cost.source"
"""``local`` (computed from the price table) or ``provider`` (returned by the provider or a gateway)."""
COST_PRICED: Final = "agentvitals.usage.cost.priced"
"""``False`` when no price matched: the amount is absent, never 0."""
USAGE_REPORTED: Final = "agentvitals.usage.reported"
"""``False`` when the provider returned no usage: token attributes are then absent, not 0."""
RESPONSE_PARSE_ERROR: Final = "agentvitals.response.parse_error"
"""``True`` when the provider's response could not be read (the call itself is unaffected)."""
TOKEN_TYPE: Final = "agentvitals.token.type"
"""*label*: a :class:`TokenType`."""

# --- invalid provider data (issue 17.5) -----------------------------------------------------------------
RESPONSE_REJECTED: Final = "agentvitals.response.rejected"
"""The response fields whose values were rejected as invalid (string array: ``usage.input_tokens``,
``provider_cost``, ...): a token count that is not an integer in 0..1e9, a cost that is not finite and
non-negative. They are absent from the span, the metrics and the task's totals; the call is unpriced unless
the provider's own cost was valid."""
REJECTED_FIELD: Final = "agentvitals.rejected.field"
"""*label*: one field of :data:`RESPONSE_REJECTED` (a bounded set)."""

# --- tasks (one agent run each) -------------------------------------------------------------------------
TASK_NAME: Final = "agentvitals.task.name"
"""*label*: low-cardinality task name."""
TASK_ID: Final = "agentvitals.task.id"
TASK_OUTCOME: Final = "agentvitals.task.outcome"
"""*label*: an :class:`Outcome`."""
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
BUDGET_LIMIT: Final = "agentvitals.budget.limit"
"""*label*: which limit ran out (``cost``, ``llm_calls``, ``tool_calls``, ``wall_time``)."""
WAIT_KIND: Final = "agentvitals.wait.kind"
"""*label*: a :class:`WaitKind`."""


# --- model routing (agentvitals.ModelRouter): set on a task by the router's choices ----------------------
TASK_VARIANT: Final = "agentvitals.task.variant"
"""*label*: the A/B variant the task was served: ``control`` or a variant name a router was configured with
(at most :data:`agentvitals.routing.MAX_VARIANT_NAMES` per process). Absent when no route with variants was used."""
TASK_MODE: Final = "agentvitals.task.mode"
"""*label*: ``degraded`` when any model choice of the task was a route's degraded choice, else ``normal``.
Absent when the task made no choice through a router."""


def task_idle_time(kind: WaitKind | str) -> str:
    """The task span attribute holding the idle time attributed to one kind of wait."""
    return f"{TASK_IDLE_TIME}.{WaitKind(kind).value}"


# --- retrievals and caches -------------------------------------------------------------------------------
RETRIEVAL_TOP_K: Final = "agentvitals.retrieval.top_k"
RETRIEVAL_RESULT_COUNT: Final = "agentvitals.retrieval.result_count"
RETRIEVAL_OPERATION: Final = "agentvitals.retrieval.operation"
"""*label*: ``query`` (a search) or ``add`` (indexing: add/upsert), both waits on the store."""
CACHE_NAME: Final = "agentvitals.cache.name"
"""*label*: the application cache's name."""
CACHE_RESULT: Final = "agentvitals.cache.result"
"""*label*: ``hit`` or ``miss``."""

# --- the pipeline itself ------------------------------------------------------------------------------
TELEMETRY_SIGNAL: Final = "agentvitals.telemetry.signal"
"""*label*: ``spans`` or ``metrics``."""


# --- explain: critical path, parallelizable time, findings, errors by class (issue 14) ---------------------
TASK_CRITICAL_PATH_TIME: Final = "agentvitals.task.critical_path_time"
"""Prefix: ``agentvitals.task.critical_path_time.<kind>`` holds the seconds of the task's critical path (the
chain of spans and own-work gaps that determined its wall time) spent in one :data:`CRITICAL_PATH_KIND`."""
CRITICAL_PATH_KIND: Final = "agentvitals.critical_path.kind"
"""*label*: a :class:`WaitKind` value, or ``compute`` for the task's own work on the critical path."""
TASK_PARALLELIZABLE_TIME: Final = "agentvitals.task.parallelizable_time"
"""Seconds spent in sequences of independent external calls made one after another (summed durations)."""
TASK_SAVEABLE_TIME: Final = "agentvitals.task.saveable_time"
"""Seconds those sequences would have saved run concurrently (their durations minus their longest member)."""
TASK_FINDINGS: Final = "agentvitals.task.findings"
"""A small JSON list of the task's top findings: ``[{kind, subject, value, threshold, suggestion}, ...]``."""
TASK_FINDINGS_COUNT: Final = "agentvitals.task.findings.count"
TASK_SPANS_TRUNCATED: Final = "agentvitals.task.spans_truncated"
"""``True`` when the task had more descendant spans than the per-task summary keeps: its analysis is partial."""
TASK_COGNITIVE_ERRORS: Final = "agentvitals.task.errors.cognitive"
TASK_SYSTEM_ERRORS: Final = "agentvitals.task.errors.system"
FINDING_KIND: Final = "agentvitals.finding.kind"
"""*label*: a finding kind (``slow_llm``, ``slow_tool``, ``many_calls``, ``expensive_call``, ``prompt_heavy``,
``parallelizable``, ``repeated_tool_call``)."""
ERROR_CLASS: Final = "agentvitals.error.class"
"""*label*: ``system`` (the infrastructure failed) or ``cognitive`` (the model or the agent's reasoning did)."""
ERROR_CAUSE: Final = "agentvitals.error.cause"
"""*label*: a bounded cause (``timeout``, ``rate_limit``, ``tool_not_found``, ``output_parse``, ...)."""
ERROR_SOURCE: Final = "agentvitals.error.source"
"""*label*: where the error surfaced: ``llm``, ``tool``, ``task`` or ``application`` (reported through
``agentvitals.cognitive_error``)."""
ERROR_DETAIL: Final = "agentvitals.error.detail"
"""Free text an application gave with a cognitive error; recorded only with content capture on."""
COGNITIVE_ERROR_EVENT: Final = "agentvitals.cognitive_error"
"""The span event ``agentvitals.cognitive_error(...)`` adds to the current span."""
TOOL_ARGUMENTS_HASH: Final = "agentvitals.tool.arguments_hash"
"""A keyed hash of a tool call's arguments (never the arguments): equal within one process for equal
arguments, so repeated identical calls are visible with content capture off."""
BUDGET_MAX_COST: Final = "agentvitals.budget.max_cost_usd"
BUDGET_MAX_LLM_CALLS: Final = "agentvitals.budget.max_llm_calls"
BUDGET_MAX_TOOL_CALLS: Final = "agentvitals.budget.max_tool_calls"
BUDGET_MAX_WALL_TIME: Final = "agentvitals.budget.max_wall_time"
"""A task's budget limits, on its span when it has a budget (seconds for the wall time)."""


def task_critical_path_time(kind: str) -> str:
    """The task span attribute holding the critical-path seconds of one kind (a wait kind or ``compute``)."""
    return f"{TASK_CRITICAL_PATH_TIME}.{kind}"


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
