"""The OpenTelemetry semantic-convention keys agentvitals emits and reads, taken from their source.

Keys come from ``opentelemetry-semantic-conventions``: the stable ones (``error.type``, ``server.*``,
``db.*``, ``http.*``, ``url.*``) from ``opentelemetry.semconv.attributes``; the GenAI and hardware ones,
still at Development stability, from the package's incubating namespace, which is where that package
publishes them (``opentelemetry.semconv._incubating``: the documented home of incubating conventions, as
the contrib GenAI instrumentations use it). A string is written here only for a name the oldest package
we support (0.58b0, with opentelemetry-sdk 1.37) lacks; each says when the package gained it.

GenAI names are those of semantic conventions v1.41, the default every backend reads today.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from opentelemetry.semconv._incubating.attributes import db_attributes as incubating_db
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_AGENT_NAME,
    GEN_AI_DATA_SOURCE_ID,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OPERATION_NAME,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_STREAM,
    GEN_AI_REQUEST_TEMPERATURE,
    GEN_AI_REQUEST_TOP_P,
    GEN_AI_RESPONSE_FINISH_REASONS,
    GEN_AI_RESPONSE_ID,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_RETRIEVAL_QUERY_TEXT,
    GEN_AI_TOKEN_TYPE,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_CALL_RESULT,
    GEN_AI_TOOL_NAME,
    GEN_AI_TOOL_TYPE,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
)
from opentelemetry.semconv._incubating.attributes.hw_attributes import HW_GPU_TASK, HW_ID, HW_NAME, HW_TYPE, HW_VENDOR
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
    "GEN_AI_DATA_SOURCE_ID",
    "GEN_AI_INPUT_MESSAGES",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_OUTPUT_MESSAGES",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_MAX_TOKENS",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_REQUEST_STREAM",
    "GEN_AI_REQUEST_TEMPERATURE",
    "GEN_AI_REQUEST_TOP_P",
    "GEN_AI_RESPONSE_FINISH_REASONS",
    "GEN_AI_RESPONSE_ID",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK",
    "GEN_AI_RETRIEVAL_QUERY_TEXT",
    "GEN_AI_TOKEN_TYPE",
    "GEN_AI_TOOL_CALL_ARGUMENTS",
    "GEN_AI_TOOL_CALL_ID",
    "GEN_AI_TOOL_CALL_RESULT",
    "GEN_AI_TOOL_NAME",
    "GEN_AI_TOOL_TYPE",
    "GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS",
    "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "GEN_AI_USAGE_REASONING_OUTPUT_TOKENS",
    "HTTP_REQUEST_METHOD",
    "HW_GPU_TASK",
    "HW_ID",
    "HW_NAME",
    "HW_TYPE",
    "HW_VENDOR",
    "LLM_OPERATIONS",
    "Operation",
    "SCHEMA_URL",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "span_name",
]

SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.41.0"
"""The schema of the conventions we emit (tracer and meter ``schema_url``)."""

GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final[str] = getattr(
    gen_ai, "GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK", "gen_ai.response.time_to_first_chunk"
)
"""In the package since 0.63b0."""

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
