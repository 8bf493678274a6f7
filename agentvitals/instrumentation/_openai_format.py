"""The OpenAI wire format mapped once onto the conventions: request fields, content, responses, stream chunks.

Used by the ``openai`` SDK (chat completions, embeddings, the Responses API) and by every client that speaks
the same format, such as ``litellm`` (whose responses are OpenAI-shaped whatever the provider): their endpoints
reuse these functions rather than copying them.

Usage convention: inclusive, like semconv. Chat's ``prompt_tokens`` and the Responses API's ``input_tokens``
already include the cached tokens (``*_tokens_details.cached_tokens``) and, where reported, the tokens written
to the cache (``cache_write_tokens``: newer openai SDKs, and litellm for Anthropic routes);
``completion_tokens``/``output_tokens`` include ``reasoning_tokens``. A gateway that returns ``usage.cost``
(e.g. OpenRouter) is passed through as ``source=provider``.

Streams: chat completions carry usage in their last chunk only when the caller asked for
``stream_options={"include_usage": True}`` (:func:`request_stream_usage` asks on the caller's behalf when the
user opted in with ``init(stream_usage=True)``); otherwise usage is reported absent rather than estimated.
Responses API streams always end with a ``response.completed`` (or ``.incomplete``/``.failed``) event that
carries the whole response and its usage.

Finish reasons are OpenAI's own values (``stop``, ``length``, ``tool_calls``, ``content_filter``), as the
conventions' OpenAI instrumentation reports them. A Responses API response has a status rather than a finish
reason: ``completed`` is ``stop`` (``tool_calls`` when it calls functions), ``incomplete`` its reason
(``max_output_tokens`` is ``length``), ``failed``/``cancelled`` ``error``. The Responses API answers as one
choice: its output items (reasoning, text, refusals, function calls) are the parts of one output message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentvitals import _messages as content
from agentvitals._handler import Handler
from agentvitals._messages import OutputBuffer, Part
from agentvitals._records import LLMResponse, Usage, finish_reason, finish_reasons, non_empty_str
from agentvitals.instrumentation._request_fields import (
    CHOICE_COUNT,
    CONVERSATION_ID,
    INTEGER,
    NUMBER,
    OUTPUT_TYPE,
    TEXT,
    TEXT_CONFIG_OUTPUT_TYPE,
    TEXT_LIST,
    Field,
)
from agentvitals.semconv import (
    GEN_AI_CONVERSATION_ID,
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
    GEN_AI_SYSTEM_INSTRUCTIONS,
    GEN_AI_TOOL_DEFINITIONS,
    OPENAI_REQUEST_SERVICE_TIER,
    OPENAI_RESPONSE_SERVICE_TIER,
    OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
)

__all__ = [
    "CHAT_FIELDS",
    "EMBEDDINGS_FIELDS",
    "RESPONSES_FIELDS",
    "chat_chunk",
    "chat_content",
    "chat_response",
    "chat_usage",
    "embeddings_response",
    "field_of",
    "request_stream_usage",
    "responses_content",
    "responses_event",
    "responses_response",
    "responses_usage",
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

RESPONSES_FIELDS = (
    Field.of(GEN_AI_REQUEST_MAX_TOKENS, "max_output_tokens", INTEGER),
    Field.of(GEN_AI_REQUEST_TEMPERATURE, "temperature", NUMBER),
    Field.of(GEN_AI_REQUEST_TOP_P, "top_p", NUMBER),
    Field.of(GEN_AI_OUTPUT_TYPE, "text_format", OUTPUT_TYPE),  # parse(text_format=Model)
    Field.of(GEN_AI_OUTPUT_TYPE, "text", TEXT_CONFIG_OUTPUT_TYPE),  # text={"format": {"type": "json_schema"}}
    Field.of(OPENAI_REQUEST_SERVICE_TIER, "service_tier", TEXT),
    Field.of(GEN_AI_CONVERSATION_ID, "conversation", CONVERSATION_ID),  # a span attribute, never a label
)
"""The Responses API's parameters -> request attributes (the same attributes as chat completions, and the
conversation the response is stored in when the caller names one)."""


def field_of(item: Any, name: str) -> Any:
    """``item[name]`` for the dicts callers pass, ``item.name`` for the SDK's models; ``None`` if absent."""
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


# --- usage and cost -----------------------------------------------------------------------------------
def _usage(raw: Any, input_key: str, output_key: str, input_details_key: str, output_details_key: str
           ) -> Usage | None:
    if raw is None:
        return None
    input_details = getattr(raw, input_details_key, None)
    usage = Usage.of(
        input_tokens=getattr(raw, input_key, None),
        output_tokens=getattr(raw, output_key, None),
        cache_read_tokens=getattr(input_details, "cached_tokens", None),
        cache_write_tokens=getattr(input_details, "cache_write_tokens", None) or None,  # 0: none written
        reasoning_tokens=getattr(getattr(raw, output_details_key, None), "reasoning_tokens", None),
    )
    return usage if usage.reported else None


def chat_usage(raw: Any) -> Usage | None:
    """``CompletionUsage`` (chat completions, embeddings, litellm) -> :class:`Usage`."""
    return _usage(raw, "prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")


def responses_usage(raw: Any) -> Usage | None:
    """``ResponseUsage`` (Responses API) -> :class:`Usage`."""
    return _usage(raw, "input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")


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


def _gateway_cost(response: LLMResponse, raw_usage: Any) -> None:
    """A cost a gateway (OpenRouter, a proxy) put in the usage it returned: the provider's own figure."""
    if raw_usage is not None:
        response.set_provider_cost(_undeclared(raw_usage, "cost"))


def _response_attributes(result: Any, into: dict[str, Any]) -> None:
    """``openai.response.service_tier`` and ``openai.response.system_fingerprint``, when the response has them.
    A stream reads them from its first chunk, its finishing ones and its usage (not from every content delta)."""
    tier = getattr(result, "service_tier", None)
    if isinstance(tier, str) and tier:
        into[OPENAI_RESPONSE_SERVICE_TIER] = tier
    fingerprint = getattr(result, "system_fingerprint", None)
    if isinstance(fingerprint, str) and fingerprint:
        into[OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = fingerprint


# --- content (only read when content capture is on) --------------------------------------------------
_TEXT_PARTS = frozenset({"text", "input_text", "output_text"})
"""Text part types: chat completions' and the Responses API's (input and output)."""


def _content_parts(value: Any) -> list[Part]:
    """A message's ``content``: a string, or a list of typed parts (text, image, audio, file), of chat completions
    or of the Responses API."""
    if isinstance(value, str):
        return [content.text(value)] if value else []
    parts: list[Part] = []
    for item in value if isinstance(value, (list, tuple)) else ():
        kind = field_of(item, "type")
        if kind in _TEXT_PARTS:
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
        elif kind == "input_image":  # the Responses API's: the URL (or data URL) itself, or an uploaded file
            url, file_id = field_of(item, "image_url"), field_of(item, "file_id")
            parts.append({"type": "uri", "modality": "image", "uri": url} if isinstance(url, str)
                         else {"type": "file", "modality": "image", "file_id": file_id if isinstance(file_id, str)
                               else None})
        elif kind == "input_audio":
            audio = field_of(item, "input_audio")
            audio_format = field_of(audio, "format")
            parts.append({"type": "blob", "modality": "audio",
                          "mime_type": f"audio/{audio_format}" if isinstance(audio_format, str) else None,
                          "content": field_of(audio, "data")})
        elif kind in ("file", "input_file"):
            file_id = field_of(field_of(item, "file") if kind == "file" else item, "file_id")
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
    """Function tools (chat completions nest them under ``function``; the Responses API's are flat) and, by type
    only, the hosted ones (``web_search``, ``file_search``, ...)."""
    definitions: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, (list, tuple)) else ():
        kind = field_of(tool, "type")
        function = field_of(tool, "function") or (tool if kind == "function" else None)
        if function is None:
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
def chat_response(result: Any, capture: bool, *, gateway_cost: bool = True) -> LLMResponse:
    """A chat completion. ``gateway_cost=False``: a ``usage.cost`` is not the provider's bill (litellm's own
    estimate), so our table prices the call."""
    raw_usage = getattr(result, "usage", None)
    choices = getattr(result, "choices", None) or ()
    response = LLMResponse(
        model=non_empty_str(getattr(result, "model", None)),
        response_id=non_empty_str(getattr(result, "id", None)),
        finish_reasons=finish_reasons([getattr(choice, "finish_reason", None) for choice in choices]),
        usage=chat_usage(raw_usage),
        output_messages=[_output_message(choice) for choice in choices] if capture else [],
    )
    if gateway_cost:
        _gateway_cost(response, raw_usage)
    _response_attributes(result, response.attributes)
    return response


def chat_chunk(chunk: Any, response: LLMResponse, output: OutputBuffer, *, gateway_cost: bool = True) -> None:
    """One chat completion chunk: choices are kept apart by their ``index`` (``n > 1`` interleaves them);
    ``gateway_cost`` as for :func:`chat_response`."""
    first = response.model is None
    if first:
        response.model = non_empty_str(getattr(chunk, "model", None))
        response.response_id = non_empty_str(getattr(chunk, "id", None))
    raw_usage = getattr(chunk, "usage", None)
    if raw_usage is not None:
        response.usage = chat_usage(raw_usage) or response.usage
        if gateway_cost:
            _gateway_cost(response, raw_usage)
    finishing = False
    capture = output.capture
    for choice in getattr(chunk, "choices", None) or ():
        reason = getattr(choice, "finish_reason", None)
        if reason is None and not capture:
            continue  # most chunks: a delta of content we do not keep
        finishing = finishing or reason is not None
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
    if first or finishing or raw_usage is not None:  # not every content delta: these carry the response's fields
        _response_attributes(chunk, response.attributes)


def embeddings_response(result: Any, capture: bool) -> LLMResponse:
    usage = Usage.of(input_tokens=getattr(getattr(result, "usage", None), "prompt_tokens", None))
    return LLMResponse(
        model=non_empty_str(getattr(result, "model", None)),
        usage=usage if usage.reported else None,
    )


def request_stream_usage(handler: Handler, kwargs: dict[str, Any]) -> None:
    """With ``stream_usage`` on, ask a chat stream for its usage unless the caller set ``stream_options``.

    Unset means absent, ``None`` or the SDK's "not given" sentinels (``NOT_GIVEN``/``omit``, both falsy), which
    frameworks pass through. A caller's own ``stream_options`` (even without ``include_usage``) is kept as is.
    """
    if not handler.stream_usage or kwargs.get("stream") is not True:
        return
    options = kwargs.get("stream_options")
    if isinstance(options, Mapping) or options:
        return
    kwargs["stream_options"] = {"include_usage": True}


# --- the Responses API ---------------------------------------------------------------------------------
def _responses_input_item(item: Any) -> dict[str, Any]:
    """One item of a Responses API ``input`` list: a message, or a function call and its output fed back."""
    kind = field_of(item, "type")
    if kind == "function_call":
        return content.message("assistant", [content.tool_call(field_of(item, "call_id"), field_of(item, "name"),
                                                               field_of(item, "arguments"))])
    if kind == "function_call_output":
        return content.message("tool", [content.tool_call_response(field_of(item, "call_id"),
                                                                   _flat_text(field_of(item, "output")))])
    if kind == "reasoning":
        return content.message("assistant", _reasoning_parts(item))
    if kind in (None, "message"):
        return content.message(field_of(item, "role"), _content_parts(field_of(item, "content")))
    return content.message(field_of(item, "role") or "assistant", [{"type": kind}])  # hosted tool calls, references


def responses_content(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """A Responses API request's content: its ``input`` (a string is one user message), its ``instructions``
    (the system instructions) and its tool definitions."""
    captured: dict[str, Any] = {}
    given = kwargs.get("input")
    if isinstance(given, str):
        captured[GEN_AI_INPUT_MESSAGES] = [content.message("user", [content.text(given)])]
    elif isinstance(given, (list, tuple)):
        captured[GEN_AI_INPUT_MESSAGES] = [_responses_input_item(item) for item in given]
    instructions = kwargs.get("instructions")
    if isinstance(instructions, str) and instructions:
        captured[GEN_AI_SYSTEM_INSTRUCTIONS] = [content.text(instructions)]
    definitions = _tool_definitions(kwargs.get("tools"))
    if definitions:
        captured[GEN_AI_TOOL_DEFINITIONS] = definitions
    return captured


def _reasoning_parts(item: Any) -> list[Part]:
    """A reasoning item's summary (what the API returns of the reasoning, when asked)."""
    texts = (field_of(summary, "text") for summary in field_of(item, "summary") or ())
    return [content.reasoning(text) for text in texts if isinstance(text, str) and text]


def _responses_output_parts(output: Any) -> list[Part]:
    parts: list[Part] = []
    for item in output:
        kind = getattr(item, "type", None)
        if kind == "message":
            parts += _content_parts(getattr(item, "content", None))
        elif kind == "function_call":
            parts.append(content.tool_call(getattr(item, "call_id", None), getattr(item, "name", None),
                                           getattr(item, "arguments", None)))
        elif kind == "reasoning":
            parts += _reasoning_parts(item)
        elif isinstance(kind, str):  # a hosted tool's call (web_search_call, ...): by type only
            parts.append({"type": kind})
    return parts


_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def _responses_finish_reason(result: Any) -> str | None:
    """A response's status as the finish reason chat completions would give (see the module docstring)."""
    status = getattr(result, "status", None)
    if status == "completed":
        calls = any(getattr(item, "type", None) == "function_call" for item in getattr(result, "output", None) or ())
        return "tool_calls" if calls else "stop"
    if status == "incomplete":
        reason = finish_reason(getattr(getattr(result, "incomplete_details", None), "reason", None))
        return _INCOMPLETE_REASONS.get(reason, reason) if reason is not None else status
    if status in ("failed", "cancelled"):
        return "error"
    return None  # queued, in progress, or not a status


def responses_response(result: Any, capture: bool) -> LLMResponse:
    raw_usage = getattr(result, "usage", None)
    finish = _responses_finish_reason(result)
    response = LLMResponse(
        model=non_empty_str(getattr(result, "model", None)),
        response_id=non_empty_str(getattr(result, "id", None)),
        finish_reasons=(finish,) if finish else (),
        usage=responses_usage(raw_usage),
    )
    _gateway_cost(response, raw_usage)
    if capture:
        parts = _responses_output_parts(getattr(result, "output", None) or ())
        response.output_messages = [content.message("assistant", parts, finish or "error")]
    _response_attributes(result, response.attributes)
    return response


_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_REASONING_DELTAS = frozenset({"response.reasoning_summary_text.delta", "response.reasoning_text.delta"})


def responses_event(event: Any, response: LLMResponse, output: OutputBuffer) -> None:
    """One Responses API stream event: the final one carries the whole response (usage, status); the deltas
    before it carry the content, read only when capturing."""
    kind = getattr(event, "type", None)
    if kind == "response.output_text.delta":  # most events: checked first
        if output.capture:
            output.add_text(0, getattr(event, "delta", None),
                            part=(getattr(event, "output_index", 0), getattr(event, "content_index", 0)))
    elif kind in _FINAL_EVENTS:
        final = getattr(event, "response", None)
        response.model = non_empty_str(getattr(final, "model", None)) or response.model
        response.response_id = non_empty_str(getattr(final, "id", None)) or response.response_id
        raw_usage = getattr(final, "usage", None)
        response.usage = responses_usage(raw_usage)
        _gateway_cost(response, raw_usage)
        _response_attributes(final, response.attributes)
        output.finish(0, _responses_finish_reason(final))
    elif kind == "response.created" and response.model is None:
        started = getattr(event, "response", None)
        response.model = non_empty_str(getattr(started, "model", None))
        response.response_id = non_empty_str(getattr(started, "id", None))
    elif output.capture:
        _responses_content_event(kind, event, output)


def _responses_content_event(kind: Any, event: Any, output: OutputBuffer) -> None:
    if kind == "response.refusal.delta":
        output.add_text(0, getattr(event, "delta", None),
                        part=(getattr(event, "output_index", 0), getattr(event, "content_index", 0)))
    elif kind in _REASONING_DELTAS:
        output.add_text(0, getattr(event, "delta", None), part=("reasoning", getattr(event, "item_id", None)),
                        kind="reasoning")
    elif kind == "response.output_item.added":
        item = getattr(event, "item", None)
        if getattr(item, "type", None) == "function_call":
            output.add_tool_call(0, getattr(item, "id", None), call_id=getattr(item, "call_id", None),
                                 name=getattr(item, "name", None), arguments=getattr(item, "arguments", None))
    elif kind == "response.function_call_arguments.delta":
        output.add_tool_call(0, getattr(event, "item_id", None), arguments=getattr(event, "delta", None))
