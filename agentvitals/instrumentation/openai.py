"""OpenAI SDK (2.x on ``httpx``, 3.x on ``httpx2``): chat completions and embeddings, sync and async, streams.

Usage convention: ``prompt_tokens`` already includes ``prompt_tokens_details.cached_tokens``
(inclusive, like semconv); ``completion_tokens`` includes ``reasoning_tokens``. OpenAI reports no
cache writes. A gateway that returns ``usage.cost`` (e.g. OpenRouter) is passed through as
``source=provider``. Streams only carry usage when the caller asked for
``stream_options={"include_usage": True}``; we never inject it, so without it usage is reported
absent rather than estimated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentvitals._records import LLMResponse, Usage, finish_reasons, non_empty_str, with_finish_reason
from agentvitals.instrumentation._base import Patch, PatchTableInstrumentor
from agentvitals.instrumentation._llm import LLMEndpoint, LLMRequest, async_llm_wrapper, chat_request, sync_llm_wrapper
from agentvitals.semconv import Operation

__all__ = ["OpenAIInstrumentor"]

PROVIDER = "openai"


def _request(instance: Any, kwargs: Mapping[str, Any]) -> LLMRequest:
    request = chat_request(instance, kwargs, max_tokens_keys=("max_completion_tokens", "max_tokens"))
    if request.messages is None:  # embeddings: the input is the content
        request.messages = kwargs.get("input")
    return request


def _usage(raw: Any) -> Usage | None:
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


def _chat_response(result: Any, capture: bool) -> LLMResponse:
    raw_usage = getattr(result, "usage", None)
    choices = getattr(result, "choices", None) or ()
    text = None
    if capture and choices:
        text = non_empty_str(getattr(getattr(choices[0], "message", None), "content", None))
    response = LLMResponse(
        model=non_empty_str(getattr(result, "model", None)),
        response_id=non_empty_str(getattr(result, "id", None)),
        finish_reasons=finish_reasons([getattr(c, "finish_reason", None) for c in choices]),
        usage=_usage(raw_usage),
        output_text=text,
    )
    if raw_usage is not None:
        response.set_provider_cost(_undeclared(raw_usage, "cost"))
    return response


def _chat_chunk(chunk: Any, response: LLMResponse, text: list[str] | None) -> None:
    if response.model is None:
        response.model = non_empty_str(getattr(chunk, "model", None))
        response.response_id = non_empty_str(getattr(chunk, "id", None))
    raw_usage = getattr(chunk, "usage", None)
    if raw_usage is not None:
        response.usage = _usage(raw_usage)
        response.set_provider_cost(_undeclared(raw_usage, "cost"))
    for choice in getattr(chunk, "choices", None) or ():
        reason = getattr(choice, "finish_reason", None)
        if reason is not None:  # constant work per chunk, however often a stream repeats it
            response.finish_reasons = with_finish_reason(response.finish_reasons, getattr(choice, "index", None),
                                                         reason)
        if text is not None:
            content = getattr(getattr(choice, "delta", None), "content", None)
            if isinstance(content, str):
                text.append(content)


def _embeddings_response(result: Any, capture: bool) -> LLMResponse:
    usage = Usage.of(input_tokens=getattr(getattr(result, "usage", None), "prompt_tokens", None))
    return LLMResponse(
        model=non_empty_str(getattr(result, "model", None)),
        usage=usage if usage.reported else None,
    )


CHAT = LLMEndpoint(PROVIDER, Operation.CHAT.value, _request, _chat_response, _chat_chunk)
EMBEDDINGS = LLMEndpoint(PROVIDER, Operation.EMBEDDINGS.value, _request, _embeddings_response)

_CHAT_MODULE = "openai.resources.chat.completions.completions"
_EMBEDDINGS_MODULE = "openai.resources.embeddings"


class OpenAIInstrumentor(PatchTableInstrumentor):
    """Instruments ``openai`` chat completions and embeddings."""

    name = "openai"
    instruments = ("openai >= 1.40.0",)
    patches = (
        Patch(_CHAT_MODULE, "Completions.create", sync_llm_wrapper(CHAT)),
        Patch(_CHAT_MODULE, "AsyncCompletions.create", async_llm_wrapper(CHAT)),
        Patch(_EMBEDDINGS_MODULE, "Embeddings.create", sync_llm_wrapper(EMBEDDINGS)),
        Patch(_EMBEDDINGS_MODULE, "AsyncEmbeddings.create", async_llm_wrapper(EMBEDDINGS)),
    )
