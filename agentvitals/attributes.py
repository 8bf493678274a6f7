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
    "TASK_NAME",
    "TASK_OUTCOME",
    "TASK_OUTPUT_TOKENS",
    "TASK_TOOL_CALLS",
    "TASK_UNPRICED_CALLS",
    "TASK_WALL_TIME",
    "TELEMETRY_SIGNAL",
    "TOKEN_TYPE",
    "USAGE_REPORTED",
    "WAIT_KIND",
    "Outcome",
    "TokenType",
    "WaitKind",
    "task_idle_time",
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
