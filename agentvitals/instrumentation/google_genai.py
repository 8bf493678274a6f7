"""Google Gen AI SDK (``google-genai``, Gemini API and Vertex AI): ``models.generate_content``,
``generate_content_stream`` and ``embed_content``, sync and async (``client.aio``, on aiohttp when it is
installed, else httpx): operation ``generate_content`` (semconv's name for Gemini inference), provider
``gcp.gemini``, or ``gcp.vertex_ai`` for a Vertex client (the SDK's public ``Models.vertexai``).

Why our own mapping rather than the official ``opentelemetry-instrumentation-google-genai`` (1.3b0, evaluated):
it declares ``google-genai < 3`` (the current line is 3.x, so the zero-code loader skips it), names the provider
``gemini``/``vertex_ai`` rather than the semconv values, sets ``OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT`` in the
process environment and rewrites the wrapped functions' code objects when it instruments, needs
``opentelemetry-util-genai >= 1.3b0`` (which the contrib openai-v2 instrumentation cannot run with), and gives no
cost and no budget check before the request. Its token attributes are right; ours are the same, and so are its
finish reasons (``STOP`` is ``stop``, ``MAX_TOKENS`` ``length``; we also map the safety blocks to
``content_filter``; others are kept lower-cased).

Usage convention (``usage_metadata``): ``prompt_token_count`` includes ``cached_content_token_count``
(inclusive, like OpenAI); ``candidates_token_count`` excludes ``thoughts_token_count``, which is billed as
output, so output = candidates + thoughts and reasoning = thoughts; ``tool_use_prompt_token_count`` (tool
results fed back) is billed as input, so input = prompt + tool-use prompt. Gemini reports no cache writes
(cache creation is a separate API). Streams repeat the usage so far on every chunk: the last one wins.

Content (only read when content capture is on): ``contents`` are the input messages (loose strings and parts are
one user message, as the SDK sends them; role ``model`` is ``assistant``), ``config.system_instruction`` the
system instructions, ``config.tools`` the tool definitions; each candidate is one output message. Inline data
is kept only when it is already text (base64), never as raw bytes.

Streams are generators that send the request when first read: the span is current while each chunk is pulled
(see ``lazy_stream``). ``server.address`` is not recorded: the SDK exposes its base URL through no public API.
With automatic function calling (Python functions in ``config.tools``) the SDK makes several model requests
and runs the tools inside one ``generate_content`` call: that call is one span with the final response's usage.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from agentvitals import _messages as content
from agentvitals import _records
from agentvitals._messages import OutputBuffer, Part
from agentvitals._records import LLMResponse, Usage, non_empty_str, token_count
from agentvitals.instrumentation._base import Patch, PatchTableInstrumentor
from agentvitals.instrumentation._llm import LLMEndpoint, LLMRequest, async_llm_wrapper, sync_llm_wrapper
from agentvitals.instrumentation._openai_format import field_of
from agentvitals.instrumentation._request_fields import (
    CHOICE_COUNT,
    INTEGER,
    NUMBER,
    TEXT_LIST,
    Field,
    request_attributes,
)
from agentvitals.semconv import (
    GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OUTPUT_TYPE,
    GEN_AI_REQUEST_CHOICE_COUNT,
    GEN_AI_REQUEST_FREQUENCY_PENALTY,
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_PRESENCE_PENALTY,
    GEN_AI_REQUEST_SEED,
    GEN_AI_REQUEST_STOP_SEQUENCES,
    GEN_AI_REQUEST_STREAM,
    GEN_AI_REQUEST_TEMPERATURE,
    GEN_AI_REQUEST_TOP_K,
    GEN_AI_REQUEST_TOP_P,
    GEN_AI_SYSTEM_INSTRUCTIONS,
    GEN_AI_TOOL_DEFINITIONS,
    Operation,
)

__all__ = ["GoogleGenAIInstrumentor"]

GEMINI = "gcp.gemini"
VERTEX = "gcp.vertex_ai"


def _output_type(mime_type: Any) -> str | None:
    """``response_mime_type`` -> ``gen_ai.output.type``: JSON output is ``json``, plain or enum text ``text``;
    other types are not the conventions' values, so nothing is recorded."""
    if not isinstance(mime_type, str):
        return None
    if mime_type == "application/json":
        return "json"
    return "text" if mime_type.startswith("text/") else None


CONFIG_FIELDS = (
    Field.of(GEN_AI_REQUEST_MAX_TOKENS, "max_output_tokens", INTEGER),
    Field.of(GEN_AI_REQUEST_TEMPERATURE, "temperature", NUMBER),
    Field.of(GEN_AI_REQUEST_TOP_P, "top_p", NUMBER),
    Field.of(GEN_AI_REQUEST_TOP_K, "top_k", NUMBER),
    Field.of(GEN_AI_REQUEST_STOP_SEQUENCES, "stop_sequences", TEXT_LIST),
    Field.of(GEN_AI_REQUEST_CHOICE_COUNT, "candidate_count", CHOICE_COUNT),
    Field.of(GEN_AI_REQUEST_SEED, "seed", INTEGER),
    Field.of(GEN_AI_REQUEST_PRESENCE_PENALTY, "presence_penalty", NUMBER),
    Field.of(GEN_AI_REQUEST_FREQUENCY_PENALTY, "frequency_penalty", NUMBER),
    Field.of(GEN_AI_OUTPUT_TYPE, "response_mime_type", _output_type),
)
"""``config`` (a ``GenerateContentConfig`` or its dict) -> request attributes."""

EMBED_FIELDS = (Field.of(GEN_AI_EMBEDDINGS_DIMENSION_COUNT, "output_dimensionality", INTEGER),)
"""``embed_content``'s ``config`` (an ``EmbedContentConfig`` or its dict) -> request attributes."""


def _config_view(config: Any, parameters: tuple[str, ...]) -> Mapping[str, Any]:
    if config is None or isinstance(config, Mapping):
        return config or {}
    # Only the parameters set: a call that sets none of them is answered by request_attributes in one pass.
    return {name: value for name in parameters if (value := getattr(config, name, None)) is not None}


def _request(stream: bool, fields: tuple[Field, ...] = CONFIG_FIELDS) -> Callable[[Any, Mapping[str, Any]], LLMRequest]:
    parameters = tuple(parameter for field in fields for parameter in field.parameters)

    def parse(instance: Any, kwargs: Mapping[str, Any]) -> LLMRequest:
        model = kwargs.get("model")
        attributes = request_attributes(_config_view(kwargs.get("config"), parameters), fields)
        if stream:
            attributes[GEN_AI_REQUEST_STREAM] = True
        provider = VERTEX if getattr(instance, "vertexai", None) is True else GEMINI
        return LLMRequest(model if isinstance(model, str) and model else None, stream, attributes,
                          provider=provider)

    return parse


# --- content (only read when content capture is on) --------------------------------------------------
def _modality(mime_type: Any) -> str | None:
    kind = mime_type.partition("/")[0] if isinstance(mime_type, str) else ""
    return kind if kind in ("image", "audio", "video") else None


def _part(part: Any) -> Part | None:
    """One ``Part`` (or its dict, or a bare string) as a part of the conventions."""
    if isinstance(part, str):
        return content.text(part) if part else None
    text = field_of(part, "text")
    if isinstance(text, str):
        return content.reasoning(text) if field_of(part, "thought") is True else content.text(text)
    call = field_of(part, "function_call")
    if call is not None:
        return content.tool_call(field_of(call, "id"), field_of(call, "name"), field_of(call, "args"))
    result = field_of(part, "function_response")
    if result is not None:
        return content.tool_call_response(field_of(result, "id"), field_of(result, "response"))
    blob = field_of(part, "inline_data")
    if blob is not None:
        mime_type, data = field_of(blob, "mime_type"), field_of(blob, "data")
        return {"type": "blob", "modality": _modality(mime_type), "mime_type": mime_type,
                "content": data if isinstance(data, str) else None}
    file = field_of(part, "file_data")
    if file is not None:
        mime_type = field_of(file, "mime_type")
        return {"type": "uri", "modality": _modality(mime_type), "mime_type": mime_type,
                "uri": field_of(file, "file_uri")}
    return None


def _parts(parts: Any) -> list[Part]:
    found = (_part(part) for part in (parts if isinstance(parts, (list, tuple)) else (parts,)))
    return [part for part in found if part is not None]


def _is_content(item: Any) -> bool:
    return not isinstance(item, str) and field_of(item, "parts") is not None


def _role(role: Any) -> str:
    return "assistant" if role == "model" else role if isinstance(role, str) and role else "user"


def _messages(contents: Any) -> list[dict[str, Any]]:
    """``contents``: ``Content``s (or their dicts) are messages; loose strings and parts between them form one
    user message, as the SDK sends them."""
    messages: list[dict[str, Any]] = []
    loose: list[Part] = []
    for item in contents if isinstance(contents, (list, tuple)) else (contents,):
        if _is_content(item):
            if loose:
                messages.append(content.message("user", loose))
                loose = []
            messages.append(content.message(_role(field_of(item, "role")), _parts(field_of(item, "parts"))))
        else:
            part = _part(item)
            if part is not None:
                loose.append(part)
    if loose:
        messages.append(content.message("user", loose))
    return messages


def _json_ready(value: Any) -> Any:
    """A schema the SDK holds as a pydantic model, as the JSON it stands for."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json", exclude_none=True) if callable(dump) else value


def _tool_definitions(tools: Any) -> list[dict[str, Any]]:
    definitions: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, (list, tuple)) else ():
        if callable(tool):
            name = getattr(tool, "__name__", None)  # automatic function calling: a Python function
            definitions.append({"type": "function", "name": name if isinstance(name, str) else ""})
            continue
        declarations = field_of(tool, "function_declarations")
        if not declarations:
            definitions.append({"type": "unknown"})  # a built-in tool (search, code execution, ...)
            continue
        for declaration in declarations:
            definition: dict[str, Any] = {"type": "function", "name": field_of(declaration, "name") or ""}
            description = field_of(declaration, "description")
            if description is not None:
                definition["description"] = description
            parameters = field_of(declaration, "parameters_json_schema") or field_of(declaration, "parameters")
            if parameters is not None:
                definition["parameters"] = _json_ready(parameters)
            definitions.append(definition)
    return definitions


def _content(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    captured: dict[str, Any] = {}
    if "contents" in kwargs:
        captured[GEN_AI_INPUT_MESSAGES] = _messages(kwargs["contents"])
    config = kwargs.get("config")
    system = field_of(config, "system_instruction") if config is not None else None
    if system is not None:
        captured[GEN_AI_SYSTEM_INSTRUCTIONS] = _parts(field_of(system, "parts") if _is_content(system) else system)
    definitions = _tool_definitions(field_of(config, "tools") if config is not None else None)
    if definitions:
        captured[GEN_AI_TOOL_DEFINITIONS] = definitions
    return captured


# --- responses -----------------------------------------------------------------------------------------
def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    # Validated as reported (each count on its own), then summed into the inclusive convention.
    reported = Usage.of(input_tokens=getattr(raw, "prompt_token_count", None),
                        output_tokens=getattr(raw, "candidates_token_count", None),
                        cache_read_tokens=getattr(raw, "cached_content_token_count", None),
                        reasoning_tokens=getattr(raw, "thoughts_token_count", None))
    raw_tool_prompt = getattr(raw, "tool_use_prompt_token_count", None)
    tool_prompt = token_count(raw_tool_prompt)
    rejected = reported.rejected
    if raw_tool_prompt is not None and tool_prompt is None:
        rejected = (*rejected, "usage.tool_use_prompt_tokens")
    prompt, candidates, thoughts = reported.input_tokens, reported.output_tokens, reported.reasoning_tokens
    if prompt is None and candidates is None and thoughts is None:
        return Usage(rejected=rejected) if rejected else None
    input_tokens = None if prompt is None and tool_prompt is None else (prompt or 0) + (tool_prompt or 0)
    output_tokens = None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)
    return Usage(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=reported.cache_read_tokens,
                 reasoning_tokens=thoughts, rejected=rejected)


_FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "FINISH_REASON_UNSPECIFIED": "error",
    "OTHER": "error",
}


def finish_reason(raw: Any) -> str | None:
    """Gemini's ``FinishReason`` (a str enum) as the conventions' finish reason (bounded, like any)."""
    value = _records.finish_reason(getattr(raw, "value", raw))
    return None if value is None else _FINISH_REASONS.get(value, value.lower())


def _candidate_index(candidate: Any, position: int) -> int:
    index = getattr(candidate, "index", None)
    return index if isinstance(index, int) and not isinstance(index, bool) else position


def _output_message(candidate: Any) -> dict[str, Any]:
    body = getattr(candidate, "content", None)
    return content.message("assistant", _parts(getattr(body, "parts", None) or ()),
                           finish_reason(getattr(candidate, "finish_reason", None)) or "error")


def _response(result: Any, capture: bool) -> LLMResponse:
    candidates = getattr(result, "candidates", None) or ()
    reasons = (finish_reason(getattr(candidate, "finish_reason", None))
               for candidate in candidates[:_records.MAX_FINISH_REASONS])
    return LLMResponse(
        model=non_empty_str(getattr(result, "model_version", None)),
        response_id=non_empty_str(getattr(result, "response_id", None)),
        finish_reasons=tuple(reason for reason in reasons if reason is not None),
        usage=_usage(getattr(result, "usage_metadata", None)),
        output_messages=[_output_message(candidate) for candidate in candidates] if capture else [],
    )


def _chunk(chunk: Any, response: LLMResponse, output: OutputBuffer) -> None:
    if response.model is None:
        response.model = non_empty_str(getattr(chunk, "model_version", None))
        response.response_id = non_empty_str(getattr(chunk, "response_id", None))
    raw_usage = getattr(chunk, "usage_metadata", None)
    if raw_usage is not None:  # the usage so far, on every chunk: read once, the last one, when the stream ends
        response.unparsed_usage = (_usage, raw_usage)
    for position, candidate in enumerate(getattr(chunk, "candidates", None) or ()):
        index = _candidate_index(candidate, position)
        reason = getattr(candidate, "finish_reason", None)
        if reason is not None:
            output.finish(index, finish_reason(reason))
        if output.capture:
            for part in getattr(getattr(candidate, "content", None), "parts", None) or ():
                _stream_part(output, index, part)


def _stream_part(output: OutputBuffer, index: int, part: Any) -> None:
    text = getattr(part, "text", None)
    if isinstance(text, str):
        thought = getattr(part, "thought", None) is True
        output.add_text(index, text, part="reasoning" if thought else "text", kind="reasoning" if thought else "text")
        return
    call = getattr(part, "function_call", None)
    if call is not None:  # a stream sends each function call whole, in one chunk: a part of its own
        arguments = getattr(call, "args", None)
        output.add_tool_call(index, object(), call_id=getattr(call, "id", None), name=getattr(call, "name", None),
                             arguments=json.dumps(arguments, default=str) if arguments is not None else None)


def _embeddings_response(result: Any, capture: bool) -> LLMResponse:
    """Gemini API: ``usage_metadata.prompt_token_count``; Vertex: per embedding ``statistics.token_count``."""
    prompt: Any = getattr(getattr(result, "usage_metadata", None), "prompt_token_count", None)
    if prompt is None:
        counts = [token_count(getattr(getattr(e, "statistics", None), "token_count", None))
                  for e in getattr(result, "embeddings", None) or ()]
        if counts and None not in counts:
            prompt = sum(c for c in counts if c is not None)
    usage = Usage.of(input_tokens=prompt)
    return LLMResponse(usage=usage if usage.reported else None)


_OPERATION = Operation.GENERATE_CONTENT.value
GENERATE = LLMEndpoint(GEMINI, _OPERATION, _request(False), _response, request_content=_content)
GENERATE_STREAM = LLMEndpoint(GEMINI, _OPERATION, _request(True), _response, _chunk, request_content=_content,
                              lazy_stream=True)
EMBED = LLMEndpoint(GEMINI, Operation.EMBEDDINGS.value, _request(False, EMBED_FIELDS), _embeddings_response)

_MODELS = "google.genai.models"


class GoogleGenAIInstrumentor(PatchTableInstrumentor):
    """Instruments ``google-genai`` content generation (plain and streamed) and embeddings, sync and async."""

    name = "google_genai"
    instruments = ("google-genai >= 1.0.0",)
    patches = (
        Patch(_MODELS, "Models.generate_content", sync_llm_wrapper(GENERATE)),
        Patch(_MODELS, "AsyncModels.generate_content", async_llm_wrapper(GENERATE)),
        Patch(_MODELS, "Models.generate_content_stream", sync_llm_wrapper(GENERATE_STREAM)),
        Patch(_MODELS, "AsyncModels.generate_content_stream", async_llm_wrapper(GENERATE_STREAM)),
        Patch(_MODELS, "Models.embed_content", sync_llm_wrapper(EMBED)),
        Patch(_MODELS, "AsyncModels.embed_content", async_llm_wrapper(EMBED)),
    )
