"""What a span says about the call it traces, whoever made it: ours, a contrib or framework instrumentation
following the GenAI conventions, or OpenInference (Arize's conventions: no ``gen_ai.*`` keys).

Pure functions over span attributes; the accounting processor uses them to attribute every span to its task
and to count each model call and tool call once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.trace import SpanKind

from agentvitals._records import Usage, non_empty_str, token_count
from agentvitals.attributes import COST_AMOUNT, WaitKind
from agentvitals.semconv import (
    DB_QUERY_TEXT,
    DB_SYSTEM_LEGACY,
    DB_SYSTEM_NAME,
    GEN_AI_AGENT_NAME,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_TOOL_NAME,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    HTTP_REQUEST_METHOD,
    LLM_OPERATIONS,
    SERVER_ADDRESS,
    Operation,
)

__all__ = ["agent_name", "call_facts", "is_agent", "is_inference", "is_tool", "llm_http_provider", "wait_kind"]

# OpenInference (openinference-semantic-conventions), read only.
OPENINFERENCE_KIND = "openinference.span.kind"
_OI_MODEL = "llm.model_name"
_OI_PROVIDER = "llm.provider"
_OI_SYSTEM = "llm.system"
_OI_PROMPT_TOKENS = "llm.token_count.prompt"
_OI_COMPLETION_TOKENS = "llm.token_count.completion"
_OI_CACHE_READ = "llm.token_count.prompt_details.cache_read"
_OI_CACHE_WRITE = "llm.token_count.prompt_details.cache_write"
_OI_REASONING = "llm.token_count.completion_details.reasoning"
_OI_TOOL_NAME = "tool.name"
_OI_AGENT_NAME = "agent.name"
_GEN_AI_SYSTEM_DEPRECATED = "gen_ai.system"
_GEN_AI_CACHE_WRITE_LATEST = "gen_ai.usage.cache_write.input_tokens"

# The operations these checks compare with, as plain strings (an enum member's ``.value`` is a Python-level
# property: these checks run for every span).
_INFERENCE_OPERATIONS = frozenset({*LLM_OPERATIONS, Operation.EMBEDDINGS.value})
_TOOL_OPERATION = Operation.EXECUTE_TOOL.value
_AGENT_OPERATIONS = frozenset({Operation.INVOKE_AGENT.value, Operation.INVOKE_WORKFLOW.value})

_OPERATION_KINDS: Mapping[str, WaitKind] = {
    **{op: WaitKind.LLM for op in LLM_OPERATIONS},
    Operation.EMBEDDINGS.value: WaitKind.LLM,
    Operation.EXECUTE_TOOL.value: WaitKind.TOOL,
    Operation.RETRIEVAL.value: WaitKind.RETRIEVAL,
}
_OPENINFERENCE_KINDS: Mapping[str, WaitKind] = {
    "LLM": WaitKind.LLM,
    "EMBEDDING": WaitKind.LLM,
    "TOOL": WaitKind.TOOL,
    "RETRIEVER": WaitKind.RETRIEVAL,
}
_VECTOR_OPERATORS = ("<->", "<=>", "<#>", "<+>")

# The HTTP paths of LLM APIs (OpenAI and compatibles, Anthropic, Gemini, Bedrock runtime).
_LLM_PATHS = re.compile(
    r"(?:/(?:chat/completions|completions|responses|embeddings|messages)"
    r"|:(?:generateContent|streamGenerateContent|embedContent|batchEmbedContents)"
    r"|/model/[^/]+/(?:invoke|invoke-with-response-stream|converse|converse-stream))$"
)
_URL_KEYS = ("url.full", "http.url", "url.path", "http.target")
_PROVIDER_BY_PATH: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/messages$"), "anthropic"),
    (re.compile(r":\w+Content$|:batchEmbedContents$"), "gcp.gemini"),
    (re.compile(r"/model/[^/]+/"), "aws.bedrock"),
)


def _operation(attributes: Mapping[str, Any]) -> str | None:
    operation = attributes.get(GEN_AI_OPERATION_NAME)
    return operation if isinstance(operation, str) else None


def _openinference_kind(attributes: Mapping[str, Any]) -> str | None:
    kind = attributes.get(OPENINFERENCE_KIND)
    return kind.upper() if isinstance(kind, str) else None


def is_inference(attributes: Mapping[str, Any]) -> bool:
    """A model call: chat, text completion, generate_content or embeddings (GenAI or OpenInference)."""
    operation = _operation(attributes)
    if operation is not None:
        return operation in _INFERENCE_OPERATIONS
    return _openinference_kind(attributes) in ("LLM", "EMBEDDING")


def is_tool(attributes: Mapping[str, Any]) -> bool:
    operation = _operation(attributes)
    if operation is not None:
        return operation == _TOOL_OPERATION
    return _openinference_kind(attributes) == "TOOL"


def is_agent(attributes: Mapping[str, Any]) -> bool:
    """An agent (or workflow) run."""
    operation = _operation(attributes)
    if operation is not None:
        return operation in _AGENT_OPERATIONS
    return _openinference_kind(attributes) == "AGENT"


def agent_name(attributes: Mapping[str, Any], span_name: str) -> str:
    return (non_empty_str(attributes.get(GEN_AI_AGENT_NAME)) or non_empty_str(attributes.get(_OI_AGENT_NAME))
            or span_name.removeprefix(Operation.INVOKE_AGENT.value).strip() or "agent")


def tool_name(attributes: Mapping[str, Any]) -> str | None:
    return non_empty_str(attributes.get(GEN_AI_TOOL_NAME)) or non_empty_str(attributes.get(_OI_TOOL_NAME))


def _url(attributes: Mapping[str, Any]) -> str | None:
    for key in _URL_KEYS:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value.split("?", 1)[0]
    return None


def llm_http_provider(attributes: Mapping[str, Any]) -> str | None:
    """For an HTTP client span to a known LLM API path: the provider it most likely is (``openai`` for the
    OpenAI-compatible paths), else ``None``."""
    method = attributes.get(HTTP_REQUEST_METHOD, attributes.get("http.method"))
    if method != "POST":
        return None
    url = _url(attributes)
    if url is None or _LLM_PATHS.search(url) is None:
        return None
    return next((provider for pattern, provider in _PROVIDER_BY_PATH if pattern.search(url)), "openai")


def server_address(attributes: Mapping[str, Any]) -> str | None:
    """The server's host, from the stable or legacy HTTP conventions (or the URL)."""
    named = non_empty_str(attributes.get(SERVER_ADDRESS)) or non_empty_str(attributes.get("net.peer.name"))
    if named is not None:
        return named
    url = next((v for key in ("url.full", "http.url") if isinstance(v := attributes.get(key), str)), None)
    return non_empty_str(urlsplit(url).hostname) if url else None


def wait_kind(attributes: Mapping[str, Any] | None, kind: SpanKind) -> WaitKind | None:
    """The kind of wait a span is, or ``None`` when it is the task's own work."""
    attributes = attributes or {}
    operation = _operation(attributes)
    if operation is not None:
        return _OPERATION_KINDS.get(operation)
    openinference = _openinference_kind(attributes)
    if openinference is not None:
        return _OPENINFERENCE_KINDS.get(openinference)
    if DB_SYSTEM_NAME in attributes or DB_SYSTEM_LEGACY in attributes:
        query = attributes.get(DB_QUERY_TEXT) or attributes.get("db.statement") or ""
        # pgvector's distance operators: a nearest-neighbour search is a retrieval, whatever stores it.
        if isinstance(query, str) and any(operator in query for operator in _VECTOR_OPERATORS):
            return WaitKind.RETRIEVAL
        return WaitKind.DB
    if kind is SpanKind.CLIENT:
        if HTTP_REQUEST_METHOD in attributes or "http.method" in attributes:
            return WaitKind.LLM if llm_http_provider(attributes) is not None else WaitKind.HTTP
        return WaitKind.OTHER
    return None


def _count(attributes: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = token_count(attributes.get(key))  # a foreign span is provider data too: bounded
        if value is not None:
            return value
    return None


class CallFacts:
    """What an inference span reports: provider, models, usage, cost (ours: an amount on the span)."""

    __slots__ = ("provider", "operation", "request_model", "response_model", "usage", "cost_usd")

    def __init__(self, attributes: Mapping[str, Any]) -> None:
        self.provider = (non_empty_str(attributes.get(GEN_AI_PROVIDER_NAME))
                         or non_empty_str(attributes.get(_GEN_AI_SYSTEM_DEPRECATED))
                         or non_empty_str(attributes.get(_OI_PROVIDER))
                         or non_empty_str(attributes.get(_OI_SYSTEM)) or "unknown")
        self.operation = _operation(attributes) or (
            Operation.EMBEDDINGS.value if _openinference_kind(attributes) == "EMBEDDING" else Operation.CHAT.value)
        self.request_model = non_empty_str(attributes.get(GEN_AI_REQUEST_MODEL)) or non_empty_str(
            attributes.get(_OI_MODEL))
        self.response_model = non_empty_str(attributes.get(GEN_AI_RESPONSE_MODEL))
        input_tokens = _count(attributes, GEN_AI_USAGE_INPUT_TOKENS, _OI_PROMPT_TOKENS)
        output_tokens = _count(attributes, GEN_AI_USAGE_OUTPUT_TOKENS, _OI_COMPLETION_TOKENS)
        self.usage = None if input_tokens is None and output_tokens is None else Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=_count(attributes, GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, _OI_CACHE_READ),
            cache_write_tokens=_count(attributes, GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
                                      _GEN_AI_CACHE_WRITE_LATEST, _OI_CACHE_WRITE),
            reasoning_tokens=_count(attributes, GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, _OI_REASONING),
        )
        cost = attributes.get(COST_AMOUNT)
        self.cost_usd = float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None

    @property
    def model(self) -> str | None:
        return self.response_model or self.request_model


def call_facts(attributes: Mapping[str, Any]) -> CallFacts:
    return CallFacts(attributes)
