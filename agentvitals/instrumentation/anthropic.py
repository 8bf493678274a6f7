"""Anthropic SDK (2.x on ``httpx2``; older lines too): messages, sync and async, streams.

Usage convention: Anthropic's ``input_tokens`` *excludes* cache reads and writes, which are
reported on top (additive). We convert to the inclusive semconv convention:
input = input_tokens + cache_read_input_tokens + cache_creation_input_tokens.

Finish reasons are mapped to the conventions' values (``end_turn`` and ``stop_sequence`` -> ``stop``,
``max_tokens`` -> ``length``, ``tool_use`` -> ``tool_call``, ``refusal`` -> ``content_filter``), as the
conventions' Anthropic instrumentation does; others are kept as Anthropic sends them. ``system`` is recorded
as ``gen_ai.system_instructions`` (Anthropic takes it apart from the messages).

Native tracing: anthropic 2.x starts its own span (``anthropic.messages.create``) for every call, on by
default, with no public switch per call. We leave it alone: inside our ``chat {model}`` span (input tokens
and cost, which the native span lacks) it is another layer tracing the same call, so the accounting counts
the call once, and our export processor leaves the native span out (its children attach to ours): one LLM
span per call in the export. With a tracer provider the application owns, both spans are exported; the call
is still counted and priced once. Calls we do not instrument keep their native spans.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentvitals import _messages as content
from agentvitals import _records
from agentvitals._messages import OutputBuffer, Part
from agentvitals._records import LLMResponse, Usage, non_empty_str
from agentvitals.instrumentation._base import Patch, PatchTableInstrumentor
from agentvitals.instrumentation._llm import (
    LLMEndpoint,
    LLMRequest,
    async_enter_stream_wrapper,
    async_exit_stream_wrapper,
    async_llm_wrapper,
    chat_request,
    remember_request,
    sync_enter_stream_wrapper,
    sync_exit_stream_wrapper,
    sync_llm_wrapper,
)
from agentvitals.instrumentation._openai_format import field_of
from agentvitals.instrumentation._request_fields import INTEGER, NUMBER, TEXT_LIST, Field
from agentvitals.semconv import (
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_STOP_SEQUENCES,
    GEN_AI_REQUEST_TEMPERATURE,
    GEN_AI_REQUEST_TOP_K,
    GEN_AI_REQUEST_TOP_P,
    GEN_AI_SYSTEM_INSTRUCTIONS,
    GEN_AI_TOOL_DEFINITIONS,
    Operation,
)

__all__ = ["AnthropicInstrumentor"]

PROVIDER = "anthropic"


FIELDS = (
    Field.of(GEN_AI_REQUEST_MAX_TOKENS, "max_tokens", INTEGER),
    Field.of(GEN_AI_REQUEST_TEMPERATURE, "temperature", NUMBER),
    Field.of(GEN_AI_REQUEST_TOP_P, "top_p", NUMBER),
    Field.of(GEN_AI_REQUEST_TOP_K, "top_k", INTEGER),
    Field.of(GEN_AI_REQUEST_STOP_SEQUENCES, "stop_sequences", TEXT_LIST),
)

_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_call",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: Any) -> str | None:
    """Anthropic's ``stop_reason`` as the conventions' finish reason (bounded, like any finish reason)."""
    reason = _records.finish_reason(stop_reason)
    return None if reason is None else _FINISH_REASONS.get(reason, reason)


def _request(instance: Any, kwargs: Mapping[str, Any]) -> LLMRequest:
    return chat_request(instance, kwargs, FIELDS)


# --- content (only read when content capture is on) --------------------------------------------------
def _block_part(block: Any) -> Part | None:
    """One content block (request or response) as a part."""
    kind = field_of(block, "type")
    if kind == "text":
        text = field_of(block, "text")
        return content.text(text) if isinstance(text, str) else None
    if kind in ("tool_use", "server_tool_use"):
        return content.tool_call(field_of(block, "id"), field_of(block, "name"), field_of(block, "input"))
    if kind == "tool_result":
        result = field_of(block, "content")
        if isinstance(result, (list, tuple)):
            texts = [field_of(item, "text") for item in result]
            result = "".join(texts) if all(isinstance(text, str) for text in texts) else result
        return content.tool_call_response(field_of(block, "tool_use_id"), result)
    if kind == "thinking":
        thinking = field_of(block, "thinking")
        return content.reasoning(thinking) if isinstance(thinking, str) else None
    if kind == "image":
        source = field_of(block, "source")
        if field_of(source, "type") == "url":
            return {"type": "uri", "modality": "image", "uri": field_of(source, "url")}
        return {"type": "blob", "modality": "image", "mime_type": field_of(source, "media_type"),
                "content": field_of(source, "data")}
    return {"type": kind} if isinstance(kind, str) else None


def _parts(body: Any) -> list[Part]:
    if isinstance(body, str):
        return [content.text(body)] if body else []
    found = (_block_part(block) for block in body if block is not None) if isinstance(body, (list, tuple)) else ()
    return [part for part in found if part is not None]


def _content(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    captured: dict[str, Any] = {}
    messages = kwargs.get("messages")
    if isinstance(messages, (list, tuple)):
        captured[GEN_AI_INPUT_MESSAGES] = [content.message(field_of(item, "role"), _parts(field_of(item, "content")))
                                           for item in messages]
    system = _parts(kwargs.get("system"))
    if system:
        captured[GEN_AI_SYSTEM_INSTRUCTIONS] = system
    tools = kwargs.get("tools")
    if isinstance(tools, (list, tuple)) and tools:
        captured[GEN_AI_TOOL_DEFINITIONS] = [
            {key: value for key, value in (("type", "function"), ("name", field_of(tool, "name")),
                                           ("description", field_of(tool, "description")),
                                           ("parameters", field_of(tool, "input_schema"))) if value is not None}
            for tool in tools
        ]
    return captured


def _usage(raw: Any, previous: Usage | None = None) -> Usage | None:
    """Inclusive usage from Anthropic's additive counts; ``previous`` fills what a delta omits."""
    if raw is None:
        return previous
    reported = Usage.of(input_tokens=getattr(raw, "input_tokens", None),  # additive, as Anthropic counts
                        output_tokens=getattr(raw, "output_tokens", None),
                        cache_read_tokens=getattr(raw, "cache_read_input_tokens", None),
                        cache_write_tokens=getattr(raw, "cache_creation_input_tokens", None))
    fresh_input, output = reported.input_tokens, reported.output_tokens
    cache_read, cache_write = reported.cache_read_tokens, reported.cache_write_tokens
    rejected = reported.rejected
    if previous is not None:
        rejected = tuple(dict.fromkeys((*previous.rejected, *rejected)))
        cache_read = previous.cache_read_tokens if cache_read is None else cache_read
        cache_write = previous.cache_write_tokens if cache_write is None else cache_write
        if fresh_input is None and previous.input_tokens is not None:
            fresh_input = previous.uncached_input_tokens
        output = previous.output_tokens if output is None else output
    if fresh_input is None and output is None:
        return Usage(rejected=rejected) if rejected else None
    total_input = None if fresh_input is None else fresh_input + (cache_read or 0) + (cache_write or 0)
    return Usage(input_tokens=total_input, output_tokens=output, cache_read_tokens=cache_read,
                 cache_write_tokens=cache_write, rejected=rejected)


def _message_response(result: Any, capture: bool) -> LLMResponse:
    finish = finish_reason(getattr(result, "stop_reason", None))
    output = []
    if capture:
        output = [content.message("assistant", _parts(getattr(result, "content", None)), finish or "error")]
    return LLMResponse(
        model=non_empty_str(getattr(result, "model", None)),
        response_id=non_empty_str(getattr(result, "id", None)),
        finish_reasons=(finish,) if finish else (),
        usage=_usage(getattr(result, "usage", None)),
        output_messages=output,
    )


_DELTA_TEXT = {"text_delta": ("text", "text"), "thinking_delta": ("thinking", "reasoning")}


def _message_event(event: Any, response: LLMResponse, output: OutputBuffer) -> None:
    """One stream event. A message is one choice; its content blocks (by ``index``) are its parts."""
    kind = getattr(event, "type", None)
    if kind == "content_block_delta":  # most events: checked first
        if output.capture:
            delta = getattr(event, "delta", None)
            index = getattr(event, "index", 0)
            delta_kind = getattr(delta, "type", None)
            if delta_kind == "input_json_delta":
                output.add_tool_call(0, index, arguments=getattr(delta, "partial_json", None))
            elif delta_kind in _DELTA_TEXT:
                name, part_kind = _DELTA_TEXT[delta_kind]
                output.add_text(0, getattr(delta, name, None), part=index, kind=part_kind)
    elif kind == "content_block_start":
        if output.capture:
            block = getattr(event, "content_block", None)
            index = getattr(event, "index", 0)
            block_kind = getattr(block, "type", None)
            if block_kind in ("tool_use", "server_tool_use"):
                output.add_tool_call(0, index, call_id=getattr(block, "id", None), name=getattr(block, "name", None))
            elif block_kind == "text":
                output.add_text(0, getattr(block, "text", None), part=index)
            elif block_kind == "thinking":
                output.add_text(0, getattr(block, "thinking", None), part=index, kind="reasoning")
    elif kind == "message_start":
        message = getattr(event, "message", None)
        response.model = non_empty_str(getattr(message, "model", None))
        response.response_id = non_empty_str(getattr(message, "id", None))
        response.usage = _usage(getattr(message, "usage", None))
    elif kind == "message_delta":
        response.usage = _usage(getattr(event, "usage", None), response.usage)
        output.finish(0, finish_reason(getattr(getattr(event, "delta", None), "stop_reason", None)))


MESSAGES = LLMEndpoint(PROVIDER, Operation.CHAT.value, _request, _message_response, _message_event,
                       request_content=_content)

_MESSAGES_MODULE = "anthropic.resources.messages.messages"
_STREAMING_MODULE = "anthropic.lib.streaming._messages"


class AnthropicInstrumentor(PatchTableInstrumentor):
    """Instruments ``anthropic`` messages (``create``, with or without ``stream=True``, and the
    ``messages.stream()`` helper) and keeps exactly one LLM span per call."""

    name = "anthropic"
    instruments = ("anthropic >= 0.30.0",)
    patches = (
        Patch(_MESSAGES_MODULE, "Messages.create", sync_llm_wrapper(MESSAGES)),
        Patch(_MESSAGES_MODULE, "AsyncMessages.create", async_llm_wrapper(MESSAGES)),
        # messages.stream(): the request goes out when the returned manager is entered.
        Patch(_MESSAGES_MODULE, "Messages.stream", remember_request),
        Patch(_MESSAGES_MODULE, "AsyncMessages.stream", remember_request),
        Patch(_STREAMING_MODULE, "MessageStreamManager.__enter__", sync_enter_stream_wrapper(MESSAGES)),
        Patch(_STREAMING_MODULE, "AsyncMessageStreamManager.__aenter__", async_enter_stream_wrapper(MESSAGES)),
        # An exception the caller's `with` block raises ends the span failed (error.type).
        Patch(_STREAMING_MODULE, "MessageStreamManager.__exit__", sync_exit_stream_wrapper),
        Patch(_STREAMING_MODULE, "AsyncMessageStreamManager.__aexit__", async_exit_stream_wrapper),
    )
