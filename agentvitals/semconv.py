"""The OpenTelemetry semantic-convention keys agentvitals emits and reads, taken from their source.

Keys come from ``opentelemetry-semantic-conventions``: the stable ones (``error.type``, ``server.*``,
``db.*``, ``http.*``, ``url.*``) from ``opentelemetry.semconv.attributes``; the GenAI and hardware ones,
still at Development stability, from the package's incubating namespace, which is where that package
publishes them (``opentelemetry.semconv._incubating``: the documented home of incubating conventions, as
the contrib GenAI instrumentations use it). A string is written here only for a name the oldest package
we support (0.65b0, with opentelemetry-sdk 1.44) lacks.

GenAI names are those of semantic conventions v1.41, the default every backend reads today. The few keys
that semantic-conventions-genai v0.1.0 renamed are told apart by :class:`GenAIKeys` (one per
:class:`Generation`); :func:`generation_from_opt_in` reads the standard switch that selects the newer ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Final

from opentelemetry.semconv._incubating.attributes import db_attributes as incubating_db
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_AGENT_NAME,
    GEN_AI_CONVERSATION_ID,
    GEN_AI_DATA_SOURCE_ID,
    GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OPERATION_NAME,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_OUTPUT_TYPE,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_CHOICE_COUNT,
    GEN_AI_REQUEST_ENCODING_FORMATS,
    GEN_AI_REQUEST_FREQUENCY_PENALTY,
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_PRESENCE_PENALTY,
    GEN_AI_REQUEST_SEED,
    GEN_AI_REQUEST_STOP_SEQUENCES,
    GEN_AI_REQUEST_STREAM,
    GEN_AI_REQUEST_TEMPERATURE,
    GEN_AI_REQUEST_TOP_K,
    GEN_AI_REQUEST_TOP_P,
    GEN_AI_RESPONSE_FINISH_REASONS,
    GEN_AI_RESPONSE_ID,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_RETRIEVAL_QUERY_TEXT,
    GEN_AI_SYSTEM_INSTRUCTIONS,
    GEN_AI_TOKEN_TYPE,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_CALL_RESULT,
    GEN_AI_TOOL_DEFINITIONS,
    GEN_AI_TOOL_NAME,
    GEN_AI_TOOL_TYPE,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    GEN_AI_WORKFLOW_NAME,
)
from opentelemetry.semconv._incubating.attributes.hw_attributes import HW_GPU_TASK, HW_ID, HW_NAME, HW_TYPE, HW_VENDOR
from opentelemetry.semconv._incubating.attributes.openai_attributes import (
    OPENAI_REQUEST_SERVICE_TIER,
    OPENAI_RESPONSE_SERVICE_TIER,
    OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
)
from opentelemetry.semconv.attributes.db_attributes import DB_OPERATION_NAME, DB_QUERY_TEXT, DB_SYSTEM_NAME
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import HTTP_REQUEST_METHOD
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT

__all__ = [
    "DB_OPERATION_NAME",
    "DB_QUERY_TEXT",
    "DB_SYSTEM_LEGACY",
    "DB_SYSTEM_NAME",
    "ERROR_TYPE",
    "GEN_AI_AGENT_NAME",
    "GEN_AI_CONVERSATION_ID",
    "GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS",
    "GEN_AI_DATA_SOURCE_ID",
    "GEN_AI_EMBEDDINGS_DIMENSION_COUNT",
    "GEN_AI_INPUT_MESSAGES",
    "GEN_AI_LATEST_EXPERIMENTAL",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_OUTPUT_MESSAGES",
    "GEN_AI_OUTPUT_TYPE",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_CHOICE_COUNT",
    "GEN_AI_REQUEST_ENCODING_FORMATS",
    "GEN_AI_REQUEST_FREQUENCY_PENALTY",
    "GEN_AI_REQUEST_MAX_TOKENS",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_REQUEST_PRESENCE_PENALTY",
    "GEN_AI_REQUEST_SEED",
    "GEN_AI_REQUEST_STOP_SEQUENCES",
    "GEN_AI_REQUEST_STREAM",
    "GEN_AI_REQUEST_TEMPERATURE",
    "GEN_AI_REQUEST_TOP_K",
    "GEN_AI_REQUEST_TOP_P",
    "GEN_AI_RESPONSE_FINISH_REASONS",
    "GEN_AI_RESPONSE_ID",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK",
    "GEN_AI_RETRIEVAL_QUERY_TEXT",
    "GEN_AI_RETRIEVAL_TOP_K",
    "GEN_AI_SYSTEM_INSTRUCTIONS",
    "GEN_AI_TOKEN_MODALITY",
    "GEN_AI_TOKEN_TYPE",
    "GEN_AI_TOOL_CALL_ARGUMENTS",
    "GEN_AI_TOOL_CALL_ID",
    "GEN_AI_TOOL_CALL_RESULT",
    "GEN_AI_TOOL_DEFINITIONS",
    "GEN_AI_TOOL_NAME",
    "GEN_AI_TOOL_TYPE",
    "GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS",
    "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS",
    "GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "GEN_AI_USAGE_REASONING_OUTPUT_TOKENS",
    "GEN_AI_WORKFLOW_NAME",
    "GenAIKeys",
    "Generation",
    "HTTP_REQUEST_METHOD",
    "HW_GPU_TASK",
    "HW_ID",
    "HW_NAME",
    "HW_TYPE",
    "HW_VENDOR",
    "LATEST_SCHEMA_URL",
    "LLM_OPERATIONS",
    "OPENAI_REQUEST_SERVICE_TIER",
    "OPENAI_RESPONSE_SERVICE_TIER",
    "OPENAI_RESPONSE_SYSTEM_FINGERPRINT",
    "Operation",
    "SCHEMA_URL",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "TokenCount",
    "TokenModality",
    "genai_keys",
    "generation_from_opt_in",
    "span_name",
]

SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.41.0"
"""The schema of the conventions we emit by default (tracer and meter ``schema_url``)."""
LATEST_SCHEMA_URL: Final = "https://opentelemetry.io/schemas/gen-ai/0.1.0"
"""The schema of semantic-conventions-genai v0.1.0, emitted behind ``gen_ai_latest_experimental``
(the repository publishes its releases as ``/schemas/gen-ai/X.Y.Z``)."""

# --- names semantic-conventions-genai v0.1.0 added; no opentelemetry-semantic-conventions release has them --
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
"""v0.1.0's name (PR #440) for v1.41's ``gen_ai.usage.cache_creation.input_tokens``."""
GEN_AI_TOKEN_MODALITY: Final = "gen_ai.token.modality"
"""v0.1.0: the modality (a :class:`TokenModality`) of the tokens a usage counter counts (PR #374)."""
GEN_AI_RETRIEVAL_TOP_K: Final = "gen_ai.retrieval.top_k"
"""v0.1.0: how many documents a retrieval asked for."""
GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS: Final = "gen_ai.client.inference.operation.details"
"""The event carrying an inference's content (v1.41 and v0.1.0; the package publishes no event names)."""

GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK

DB_SYSTEM_LEGACY: Final[str] = incubating_db.DB_SYSTEM
"""``db.system``, the pre-stable key some contrib instrumentations still emit; read, never written."""


class Operation(str, Enum):
    """Values of ``gen_ai.operation.name`` we emit or recognise.

    The package's ``GenAiOperationNameValues`` lacks ``retrieval`` and ``invoke_workflow`` in the oldest
    version we support, so the values are listed here.
    """

    CHAT = "chat"
    GENERATE_CONTENT = "generate_content"
    TEXT_COMPLETION = "text_completion"
    EMBEDDINGS = "embeddings"
    EXECUTE_TOOL = "execute_tool"
    RETRIEVAL = "retrieval"
    INVOKE_AGENT = "invoke_agent"
    INVOKE_WORKFLOW = "invoke_workflow"


LLM_OPERATIONS: Final = frozenset({Operation.CHAT.value, Operation.TEXT_COMPLETION.value,
                                   Operation.GENERATE_CONTENT.value})
"""Operations that are model inference (they carry tokens and cost)."""


def span_name(operation: str, target: str | None) -> str:
    """``{gen_ai.operation.name} {target}``, or the operation alone when the target is unknown."""
    return f"{operation} {target}" if target else operation


# --- the two generations of GenAI names ------------------------------------------------------------------
GEN_AI_LATEST_EXPERIMENTAL: Final = "gen_ai_latest_experimental"
"""The ``OTEL_SEMCONV_STABILITY_OPT_IN`` value that selects the latest GenAI conventions."""


class Generation(str, Enum):
    """Which generation of GenAI names a process emits (spans and metrics alike)."""

    CURRENT = "current"
    """Semantic conventions v1.41: the default, what Grafana, vendors and other tools read today."""
    LATEST = "latest"
    """semantic-conventions-genai v0.1.0, behind ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``."""


def generation_from_opt_in(value: str | None) -> Generation:
    """The generation an ``OTEL_SEMCONV_STABILITY_OPT_IN`` value selects: a comma-separated list, each item
    stripped and compared exactly, as OpenTelemetry Python reads it (``database,gen_ai_latest_experimental``
    selects the latest GenAI names; anything else keeps the default)."""
    items = {item.strip() for item in (value or "").split(",")}
    return Generation.LATEST if GEN_AI_LATEST_EXPERIMENTAL in items else Generation.CURRENT


class TokenCount(str, Enum):
    """The token counts of one call, in the inclusive convention: cache reads and writes are part of
    ``input``, reasoning is part of ``output``."""

    INPUT = "input"
    OUTPUT = "output"
    CACHE_READ = "cache_read"
    CACHE_WRITE = "cache_write"
    REASONING = "reasoning"


class TokenModality(str, Enum):
    """Values of ``gen_ai.token.modality`` (v0.1.0). A provider that does not break usage down by modality
    is counted as ``unknown``, as the conventions ask."""

    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    UNKNOWN = "unknown"


_CURRENT_USAGE: Final[Mapping[TokenCount, str]] = MappingProxyType({
    TokenCount.INPUT: GEN_AI_USAGE_INPUT_TOKENS,
    TokenCount.OUTPUT: GEN_AI_USAGE_OUTPUT_TOKENS,
    TokenCount.CACHE_READ: GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    TokenCount.CACHE_WRITE: GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    TokenCount.REASONING: GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
})


@dataclass(frozen=True)
class GenAIKeys:
    """The span attribute keys and operation values that differ between the generations.

    Everything not here is spelled the same in both; take it from the module constants.
    """

    generation: Generation
    schema_url: str
    usage: Mapping[TokenCount, str]
    """The span attribute of each token count (``cache_write``: ``cache_creation`` in v1.41)."""
    workflow_name: str
    """The attribute naming a workflow: ``gen_ai.workflow.name`` (v1.41), ``gen_ai.agent.name`` (v0.1.0,
    where a workflow is an ``invoke_agent`` span with operation ``invoke_workflow``)."""
    retrieval_top_k: str | None
    """``gen_ai.retrieval.top_k`` (v0.1.0); v1.41 defines none (agentvitals records its own key then)."""

    def workflow_attributes(self, name: str) -> dict[str, str]:
        """The attributes of a workflow's span (its name is ``span_name(Operation.INVOKE_WORKFLOW, name)``
        in both generations)."""
        return {GEN_AI_OPERATION_NAME: Operation.INVOKE_WORKFLOW.value, self.workflow_name: name}


_KEYS: Final[Mapping[Generation, GenAIKeys]] = MappingProxyType({
    Generation.CURRENT: GenAIKeys(Generation.CURRENT, SCHEMA_URL, _CURRENT_USAGE, GEN_AI_WORKFLOW_NAME, None),
    Generation.LATEST: GenAIKeys(
        Generation.LATEST,
        LATEST_SCHEMA_URL,
        MappingProxyType({**_CURRENT_USAGE, TokenCount.CACHE_WRITE: GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS}),
        GEN_AI_AGENT_NAME,
        GEN_AI_RETRIEVAL_TOP_K,
    ),
})


def genai_keys(generation: Generation | str) -> GenAIKeys:
    """The keys of one generation, by :class:`Generation` or its name (``current``/``latest``)."""
    return _KEYS[Generation(generation)]
