"""litellm: ``completion``/``acompletion`` (plain and streamed) and ``embedding``/``aembedding``, one LLM span per
call whichever provider the route reaches.

Why the public entry points and not litellm's callbacks: a callback is told about a call (``log_pre_api_call``,
``log_success_event``) but cannot make our span *current* around it. Only a span that is current while the call
runs can (1) check the task's budget before the request goes out (``BudgetExhausted``), (2) mark the context
LLM-active so the openai SDK litellm uses for ``openai/…`` routes (and anything else nested) stands aside: one span
and one cost per call, and (3) parent the HTTP span, so the wait is booked as ``llm``, not ``http``. Success
callbacks also run later, on a logging thread, after the caller has moved on. So we wrap ``litellm.completion``,
``acompletion``, ``embedding`` and ``aembedding`` themselves, reversibly, as the table below declares.

Provider: ``gen_ai.provider.name`` is the provider behind the route, resolved with litellm's public
``get_llm_provider`` (``openai/gpt-4o-mini`` -> ``openai``, ``gemini/…`` -> ``gcp.gemini``) and mapped onto the
semconv well-known values; ``gen_ai.request.model`` is the model the provider is asked for (without the route
prefix), so the call is priced by our table. litellm's own cost estimate (``usage.cost`` on stream chunks, its
response's cost fields) is not a provider's bill and is never passed through.

Usage: litellm returns OpenAI-shaped responses for every provider, with usage already inclusive (for Anthropic
routes ``prompt_tokens`` includes the cache reads and writes, reported in ``prompt_tokens_details``), so the
shared OpenAI mapping reads them, request fields and content included. litellm streams carry usage only when
asked (``stream_options.include_usage``, which the opt-in ``stream_usage`` setting adds). litellm may send a
streamed request when the stream is first read, so the span is current while each chunk is pulled.

Importing litellm fetches its model cost map from the network unless ``LITELLM_LOCAL_MODEL_COST_MAP=True`` is
set; that is litellm's own import, which agentvitals never triggers (the instrumentation waits for the
application to import litellm).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from agentvitals._records import non_empty_str
from agentvitals.instrumentation._base import Patch, PatchTableInstrumentor
from agentvitals.instrumentation._llm import (
    LLMEndpoint,
    LLMRequest,
    async_llm_wrapper,
    chat_request,
    server,
    sync_llm_wrapper,
)
from agentvitals.instrumentation._openai_format import (
    CHAT_FIELDS,
    EMBEDDINGS_FIELDS,
    chat_chunk,
    chat_content,
    chat_response,
    embeddings_response,
    request_stream_usage,
)
from agentvitals.instrumentation._request_fields import Field
from agentvitals.semconv import Operation

_logger = logging.getLogger("agentvitals")

__all__ = ["LiteLLMInstrumentor", "semconv_provider"]

# litellm's provider ids -> gen_ai.provider.name well-known values. Others keep litellm's id (ollama, openrouter...).
_SEMCONV_PROVIDERS = {
    "openai": "openai",
    "text-completion-openai": "openai",
    "anthropic": "anthropic",
    "anthropic_text": "anthropic",
    "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai",
    "vertex_ai_beta": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "azure": "azure.ai.openai",
    "azure_text": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "cohere": "cohere",
    "cohere_chat": "cohere",
    "mistral": "mistral_ai",
    "codestral": "mistral_ai",
    "groq": "groq",
    "deepseek": "deepseek",
    "perplexity": "perplexity",
    "xai": "x_ai",
    "watsonx": "ibm.watsonx.ai",
    "watsonx_text": "ibm.watsonx.ai",
    "moonshot": "moonshot_ai",
}
_UNKNOWN_PROVIDER = "litellm"


def semconv_provider(litellm_provider: str) -> str:
    return _SEMCONV_PROVIDERS.get(litellm_provider, litellm_provider)


_routes: dict[tuple[str, str | None, str | None], tuple[str, str, str | None]] = {}
_MAX_ROUTES = 1024  # model names are caller input: bounded


def _route(model: str, custom_provider: str | None, api_base: str | None) -> tuple[str, str, str | None]:
    """(model sent to the provider, gen_ai.provider.name, api base) of a litellm model string, memoised."""
    key = (model, custom_provider, api_base)
    found = _routes.get(key)
    if found is not None:
        return found
    try:
        from litellm import get_llm_provider

        resolved_model, provider, _key, resolved_base = get_llm_provider(
            model=model, custom_llm_provider=custom_provider, api_base=api_base
        )
        found = (resolved_model or model, semconv_provider(provider), api_base or resolved_base)
    except Exception:  # litellm cannot route it either: the call will fail in litellm, visibly
        _logger.debug("agentvitals: litellm cannot resolve the provider of %r", model, exc_info=True)
        prefix, slash, rest = model.partition("/")
        found = (rest, semconv_provider(prefix), api_base) if slash else (model, _UNKNOWN_PROVIDER, api_base)
    if len(_routes) < _MAX_ROUTES:
        _routes[key] = found
    return found


def _server(api_base: str | None) -> dict[str, Any]:
    """``server.*`` of the route's base URL."""
    if not api_base:
        return {}
    try:
        parts = urlsplit(api_base)
        return server(parts.hostname, parts.port, parts.scheme)
    except ValueError:  # a port that is not a number
        return {}


def _request(fields: tuple[Field, ...], messages_key: str) -> Callable[[Any, Mapping[str, Any]], LLMRequest]:
    def parse(instance: Any, kwargs: Mapping[str, Any]) -> LLMRequest:
        request = chat_request(None, kwargs, fields, messages_key=messages_key)
        model = kwargs.get("model")
        if not isinstance(model, str) or not model:
            return request
        api_base = non_empty_str(kwargs.get("api_base")) or non_empty_str(kwargs.get("base_url"))
        request.model, request.provider, api_base = _route(
            model, non_empty_str(kwargs.get("custom_llm_provider")), api_base
        )
        request.attributes.update(_server(api_base))
        return request

    return parse


_embeddings_route = _request(EMBEDDINGS_FIELDS, "input")


def _embeddings_request(instance: Any, kwargs: Mapping[str, Any]) -> LLMRequest:
    request = _embeddings_route(instance, kwargs)
    request.messages = None  # the conventions record no input content on embeddings spans
    return request


# litellm's ``usage.cost`` is its own estimate, not the provider's bill: our table prices the call, and an estimate
# litellm got wrong does not mark the call.
_response = partial(chat_response, gateway_cost=False)
_chunk = partial(chat_chunk, gateway_cost=False)


COMPLETION = LLMEndpoint(
    _UNKNOWN_PROVIDER, Operation.CHAT.value, _request(CHAT_FIELDS, "messages"), _response, _chunk,
    request_content=chat_content, positional=("model", "messages"), prepare=request_stream_usage, lazy_stream=True,
)
EMBEDDING = LLMEndpoint(
    _UNKNOWN_PROVIDER, Operation.EMBEDDINGS.value, _embeddings_request, embeddings_response,
    positional=("model", "input"),
)


class LiteLLMInstrumentor(PatchTableInstrumentor):
    """Instruments ``litellm.completion``/``acompletion``/``embedding``/``aembedding``."""

    name = "litellm"
    instruments = ("litellm >= 1.40.0",)
    patches = (
        Patch("litellm", "completion", sync_llm_wrapper(COMPLETION)),
        Patch("litellm", "acompletion", async_llm_wrapper(COMPLETION)),
        Patch("litellm", "embedding", sync_llm_wrapper(EMBEDDING)),
        Patch("litellm", "aembedding", async_llm_wrapper(EMBEDDING)),
    )
