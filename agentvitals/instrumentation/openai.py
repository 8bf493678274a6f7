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

from agentvitals._records import LLMResponse, Usage, non_empty_str, non_negative_int
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
    prompt = non_negative_int(getattr(raw, "prompt_tokens", None))
    completion = non_negative_int(getattr(raw, "completion_tokens", None))
    if prompt is None and completion is None:
        return None
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        cache_read_tokens=non_negative_int(getattr(getattr(raw, "prompt_tokens_details", None), "cached_tokens", None)),
        reasoning_tokens=non_negative_int(
            getattr(getattr(raw, "completion_tokens_details", None), "reasoning_tokens", None)
        ),
    )


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


def _provider_cost(raw_usage: Any) -> float | None:
    cost = _undeclared(raw_usage, "cost")
    return float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0 else None


def _chat_response(result: Any, capture: bool) -> LLMResponse:
    raw_usage = getattr(result, "usage", None)
    choices = getattr(result, "choices", None) or ()
    finish = tuple(r for r in (getattr(c, "finish_reason", None) for c in choices) if isinstance(r, str))
    text = None
    if capture and choices:
        text = non_empty_str(getattr(getattr(choices[0], "message", None), "content", None))
    return LLMResponse(
        model=non_empty_str(getattr(result, "model", None)),
        response_id=non_empty_str(getattr(result, "id", None)),
        finish_reasons=finish,
        usage=_usage(raw_usage),
        provider_cost_usd=_provider_cost(raw_usage),
        output_text=text,
    )


def _chat_chunk(chunk: Any, response: LLMResponse, text: list[str] | None) -> None:
    if response.model is None:
        response.model = non_empty_str(getattr(chunk, "model", None))
        response.response_id = non_empty_str(getattr(chunk, "id", None))
    raw_usage = getattr(chunk, "usage", None)
    if raw_usage is not None:
        response.usage = _usage(raw_usage)
        response.provider_cost_usd = _provider_cost(raw_usage)
    for choice in getattr(chunk, "choices", None) or ():
        reason = getattr(choice, "finish_reason", None)
        if isinstance(reason, str):
            response.finish_reasons = (*response.finish_reasons, reason)
        if text is not None:
            content = getattr(getattr(choice, "delta", None), "content", None)
            if isinstance(content, str):
                text.append(content)


def _embeddings_response(result: Any, capture: bool) -> LLMResponse:
    raw_usage = getattr(result, "usage", None)
    prompt = non_negative_int(getattr(raw_usage, "prompt_tokens", None))
    return LLMResponse(
        model=non_empty_str(getattr(result, "model", None)),
        usage=Usage(input_tokens=prompt) if prompt is not None else None,
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
