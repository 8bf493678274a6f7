"""The OpenAI wire format mapped once onto the conventions: request fields, content, responses, stream chunks.

Used by the ``openai`` SDK's chat completions and embeddings, and by every client that speaks the same
format (whose endpoints reuse these functions rather than copying them).

Usage convention: ``prompt_tokens`` already includes ``prompt_tokens_details.cached_tokens`` (inclusive,
like semconv); ``completion_tokens`` includes ``reasoning_tokens``. OpenAI reports no cache writes. A gateway
that returns ``usage.cost`` (e.g. OpenRouter) is passed through as ``source=provider``. Streams carry usage
in their last chunk when the caller asked for ``stream_options={"include_usage": True}``; we never inject
it, so without it usage is reported absent rather than estimated.

Finish reasons are OpenAI's own values (``stop``, ``length``, ``tool_calls``, ``content_filter``), as the
conventions' OpenAI instrumentation reports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentvitals import _messages as content
from agentvitals._messages import OutputBuffer, Part
from agentvitals._records import LLMResponse, Usage, finish_reason, finish_reasons, non_empty_str
from agentvitals.instrumentation._request_fields import (
    CHOICE_COUNT,
    INTEGER,
    NUMBER,
    OUTPUT_TYPE,
    TEXT,
    TEXT_LIST,
    Field,
)
from agentvitals.semconv import (
    GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OUTPUT_TYPE,
    GEN_AI_REQUEST_CHOICE_COUNT,
    GEN_AI_REQUEST_ENCODING_FORMATS,
    GEN_AI_REQUEST_FREQUENCY_PENALTY,
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_PRESENCE_PENALTY,
    GEN_AI_REQUEST_SEED,
    GEN_AI_REQUEST_STOP_SEQUENCES,
    GEN_AI_REQUEST_TEMPERATURE,
    GEN_AI_REQUEST_TOP_P,
    GEN_AI_TOOL_DEFINITIONS,
    OPENAI_REQUEST_SERVICE_TIER,
    OPENAI_RESPONSE_SERVICE_TIER,
    OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
)

__all__ = [
    "CHAT_FIELDS",
    "EMBEDDINGS_FIELDS",
    "chat_chunk",
    "chat_content",
    "chat_response",
    "chat_usage",
    "embeddings_response",
    "field_of",
]

CHAT_FIELDS = (
    Field.of(GEN_AI_REQUEST_MAX_TOKENS, ("max_completion_tokens", "max_tokens"), INTEGER),
    Field.of(GEN_AI_REQUEST_TEMPERATURE, "temperature", NUMBER),
    Field.of(GEN_AI_REQUEST_TOP_P, "top_p", NUMBER),
    Field.of(GEN_AI_REQUEST_FREQUENCY_PENALTY, "frequency_penalty", NUMBER),
    Field.of(GEN_AI_REQUEST_PRESENCE_PENALTY, "presence_penalty", NUMBER),
    Field.of(GEN_AI_REQUEST_SEED, "seed", INTEGER),
    Field.of(GEN_AI_REQUEST_STOP_SEQUENCES, "stop", TEXT_LIST),
    Field.of(GEN_AI_REQUEST_CHOICE_COUNT, "n", CHOICE_COUNT),
    Field.of(GEN_AI_OUTPUT_TYPE, "response_format", OUTPUT_TYPE),
    Field.of(OPENAI_REQUEST_SERVICE_TIER, "service_tier", TEXT),
)
"""Chat completions' parameters -> request attributes."""

EMBEDDINGS_FIELDS = (
    Field.of(GEN_AI_REQUEST_ENCODING_FORMATS, "encoding_format", TEXT_LIST),
    Field.of(GEN_AI_EMBEDDINGS_DIMENSION_COUNT, "dimensions", INTEGER),
)
"""Embeddings' parameters -> request attributes."""


def field_of(item: Any, name: str) -> Any:
    """``item[name]`` for the dicts callers pass, ``item.name`` for the SDK's models; ``None`` if absent."""
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


# --- usage and cost -----------------------------------------------------------------------------------
def chat_usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    usage = Usage.of(
        input_tokens=getattr(raw, "prompt_tokens", None),
        output_tokens=getattr(raw, "completion_tokens", None),
        cache_read_tokens=getattr(getattr(raw, "prompt_tokens_details", None), "cached_tokens", None),
        reasoning_tokens=getattr(getattr(raw, "completion_tokens_details", None), "reasoning_tokens", None),
    )
    return usage if usage.reported else None


def _undeclared(model: Any, name: str) -> Any:
    """A field the SDK does not declare (a gateway's ``usage.cost``): the models keep those in pydantic's
    extras. Looked up there because a missing attribute on a pydantic model is a raised error (~1.5 µs)."""
    declared = getattr(model, "__dict__", None)
    if declared and name in declared:
        return declared[name]
    extra = getattr(model, "__pydantic_extra__", None)
    if isinstance(extra, dict):
        return extra.get(name)
    return getattr(model, name, None)


def _response_attributes(result: Any, into: dict[str, Any]) -> None:
    """``openai.response.service_tier`` and ``openai.response.system_fingerprint``, when the response has them.
    Written out (no loop, no helper call): a stream reads them from every chunk."""
    tier = getattr(result, "service_tier", None)
    if isinstance(tier, str) and tier:
        into[OPENAI_RESPONSE_SERVICE_TIER] = tier
    fingerprint = getattr(result, "system_fingerprint", None)
    if isinstance(fingerprint, str) and fingerprint:
        into[OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = fingerprint


# --- content (only read when content capture is on) --------------------------------------------------
def _content_parts(value: Any) -> list[Part]:
    """A message's ``content``: a string, or a list of typed parts (text, image, audio, file)."""
    if isinstance(value, str):
        return [content.text(value)] if value else []
    parts: list[Part] = []
    for item in value if isinstance(value, (list, tuple)) else ():
        kind = field_of(item, "type")
        if kind == "text":
            text = field_of(item, "text")
            if isinstance(text, str):
                parts.append(content.text(text))
        elif kind == "refusal":
            refusal = field_of(item, "refusal")
            if isinstance(refusal, str):
                parts.append(content.text(refusal))
        elif kind == "image_url":
            url = field_of(field_of(item, "image_url"), "url")
            parts.append({"type": "uri", "modality": "image", "uri": url if isinstance(url, str) else None})
        elif kind == "input_audio":
            audio = field_of(item, "input_audio")
            audio_format = field_of(audio, "format")
            parts.append({"type": "blob", "modality": "audio",
                          "mime_type": f"audio/{audio_format}" if isinstance(audio_format, str) else None,
                          "content": field_of(audio, "data")})
        elif kind == "file":
            file_id = field_of(field_of(item, "file"), "file_id")
            parts.append({"type": "file", "file_id": file_id} if isinstance(file_id, str) else {"type": "file"})
        elif isinstance(kind, str):
            parts.append({"type": kind})
    return parts


def _tool_calls(calls: Any) -> list[Part]:
    return [content.tool_call(field_of(call, "id"), field_of(field_of(call, "function"), "name"),
                              field_of(field_of(call, "function"), "arguments"))
            for call in calls or ()]


def _flat_text(value: Any) -> Any:
    """A tool result as text when it is text or a list of text parts (as callers send it)."""
    if isinstance(value, (list, tuple)):
        texts = [field_of(item, "text") for item in value]
        if all(isinstance(text, str) for text in texts):
            return "".join(texts)
    return value


def _input_message(item: Any) -> dict[str, Any]:
    role = field_of(item, "role")
    body = field_of(item, "content")
    if role == "tool":
        parts = [content.tool_call_response(field_of(item, "tool_call_id"), _flat_text(body))]
    else:
        parts = [*_content_parts(body), *_tool_calls(field_of(item, "tool_calls"))]
    return content.message(role, parts)


def _tool_definitions(tools: Any) -> list[dict[str, Any]]:
    definitions: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, (list, tuple)) else ():
        function = field_of(tool, "function")
        if function is None:
            kind = field_of(tool, "type")
            definitions.append({"type": kind if isinstance(kind, str) else "unknown"})
            continue
        definition: dict[str, Any] = {"type": "function", "name": field_of(function, "name")}
        for key in ("description", "parameters"):
            value = field_of(function, key)
            if value is not None:
                definition[key] = value
        definitions.append(definition)
    return definitions


def chat_content(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """A chat request's content: its messages (system messages included, as the chat history they are)
    and its tool definitions."""
    messages = kwargs.get("messages")
    captured: dict[str, Any] = {}
    if isinstance(messages, (list, tuple)):
        captured[GEN_AI_INPUT_MESSAGES] = [_input_message(item) for item in messages]
    definitions = _tool_definitions(kwargs.get("tools"))
    if definitions:
        captured[GEN_AI_TOOL_DEFINITIONS] = definitions
    return captured


def _output_message(choice: Any) -> dict[str, Any]:
    message = getattr(choice, "message", None)
    parts = [*_content_parts(getattr(message, "content", None)), *_tool_calls(getattr(message, "tool_calls", None))]
    refusal = getattr(message, "refusal", None)
    if isinstance(refusal, str) and refusal:
        parts.append(content.text(refusal))
    return content.message(getattr(message, "role", None) or "assistant", parts,
                           finish_reason(getattr(choice, "finish_reason", None)) or "error")


# --- responses -----------------------------------------------------------------------------------------
def chat_response(result: Any, capture: bool) -> LLMResponse:
    raw_usage = getattr(result, "usage", None)
    choices = getattr(result, "choices", None) or ()
    response = LLMResponse(
        model=non_empty_str(getattr(result, "model", None)),
        response_id=non_empty_str(getattr(result, "id", None)),
        finish_reasons=finish_reasons([getattr(choice, "finish_reason", None) for choice in choices]),
        usage=chat_usage(raw_usage),
        output_messages=[_output_message(choice) for choice in choices] if capture else [],
    )
    if raw_usage is not None:
        response.set_provider_cost(_undeclared(raw_usage, "cost"))
    _response_attributes(result, response.attributes)
    return response


def chat_chunk(chunk: Any, response: LLMResponse, output: OutputBuffer) -> None:
    """One chat completion chunk: choices are kept apart by their ``index`` (``n > 1`` interleaves them)."""
    if response.model is None:
        response.model = non_empty_str(getattr(chunk, "model", None))
        response.response_id = non_empty_str(getattr(chunk, "id", None))
    _response_attributes(chunk, response.attributes)
    raw_usage = getattr(chunk, "usage", None)
    if raw_usage is not None:
        response.usage = chat_usage(raw_usage) or response.usage
        response.set_provider_cost(_undeclared(raw_usage, "cost"))
    capture = output.capture
    for choice in getattr(chunk, "choices", None) or ():
        reason = getattr(choice, "finish_reason", None)
        if reason is None and not capture:
            continue  # most chunks: a delta of content we do not keep
        index = getattr(choice, "index", None)
        index = index if isinstance(index, int) else 0
        output.finish(index, reason)
        if not capture:
            continue
        delta = getattr(choice, "delta", None)
        output.role(index, getattr(delta, "role", None))
        output.add_text(index, getattr(delta, "content", None))
        output.add_text(index, getattr(delta, "refusal", None), part="refusal")
        for call in getattr(delta, "tool_calls", None) or ():
            function = getattr(call, "function", None)
            output.add_tool_call(index, getattr(call, "index", 0), call_id=getattr(call, "id", None),
                                 name=getattr(function, "name", None), arguments=getattr(function, "arguments", None))


def embeddings_response(result: Any, capture: bool) -> LLMResponse:
    usage = Usage.of(input_tokens=getattr(getattr(result, "usage", None), "prompt_tokens", None))
    return LLMResponse(
        model=non_empty_str(getattr(result, "model", None)),
        usage=usage if usage.reported else None,
    )
