"""OpenAI SDK (2.x on ``httpx``, 3.x on ``httpx2``): chat completions, embeddings and the Responses API, sync
and async, plain and streamed, ``with_raw_response`` too.

This module only says which SDK methods are patched and which mapping each uses; the OpenAI wire format
itself (request fields, content, responses, stream chunks, usage convention) is mapped once in
:mod:`agentvitals.instrumentation._openai_format`.

The Responses API (``responses.create``, ``responses.parse``, and ``responses.stream()``, whose manager calls
``create(stream=True)`` when entered) gives the same span as chat completions: operation ``chat``, its
``max_output_tokens`` as ``gen_ai.request.max_tokens``, its ``instructions`` as the system instructions, and
its status as the finish reason chat completions would give. ``chat.completions.parse`` (structured outputs)
posts itself rather than through ``create``, so it is patched too. Streams of chat completions only carry
usage when asked for; ``init(stream_usage=True)`` asks on the caller's behalf
(:func:`~agentvitals.instrumentation._openai_format.request_stream_usage`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentvitals.instrumentation._base import Patch, PatchTableInstrumentor
from agentvitals.instrumentation._llm import LLMEndpoint, LLMRequest, async_llm_wrapper, chat_request, sync_llm_wrapper
from agentvitals.instrumentation._openai_format import (
    CHAT_FIELDS,
    EMBEDDINGS_FIELDS,
    RESPONSES_FIELDS,
    chat_chunk,
    chat_content,
    chat_response,
    embeddings_response,
    request_stream_usage,
    responses_content,
    responses_event,
    responses_response,
)
from agentvitals.semconv import Operation

__all__ = ["OpenAIInstrumentor"]

PROVIDER = "openai"


def _chat_request(instance: Any, kwargs: Mapping[str, Any]) -> LLMRequest:
    return chat_request(instance, kwargs, CHAT_FIELDS)


def _embeddings_request(instance: Any, kwargs: Mapping[str, Any]) -> LLMRequest:
    request = chat_request(instance, kwargs, EMBEDDINGS_FIELDS)
    request.messages = None  # the conventions record no input content on embeddings spans
    return request


def _responses_request(instance: Any, kwargs: Mapping[str, Any]) -> LLMRequest:
    return chat_request(instance, kwargs, RESPONSES_FIELDS, messages_key="input")


CHAT = LLMEndpoint(PROVIDER, Operation.CHAT.value, _chat_request, chat_response, chat_chunk,
                   request_content=chat_content, prepare=request_stream_usage)
EMBEDDINGS = LLMEndpoint(PROVIDER, Operation.EMBEDDINGS.value, _embeddings_request, embeddings_response)
RESPONSES = LLMEndpoint(PROVIDER, Operation.CHAT.value, _responses_request, responses_response, responses_event,
                        request_content=responses_content)

_CHAT_MODULE = "openai.resources.chat.completions.completions"
_EMBEDDINGS_MODULE = "openai.resources.embeddings"
_RESPONSES_MODULE = "openai.resources.responses.responses"


class OpenAIInstrumentor(PatchTableInstrumentor):
    """Instruments ``openai`` chat completions, embeddings and the Responses API."""

    name = "openai"
    instruments = ("openai >= 1.40.0",)
    patches = (
        Patch(_CHAT_MODULE, "Completions.create", sync_llm_wrapper(CHAT)),
        Patch(_CHAT_MODULE, "AsyncCompletions.create", async_llm_wrapper(CHAT)),
        Patch(_CHAT_MODULE, "Completions.parse", sync_llm_wrapper(CHAT)),
        Patch(_CHAT_MODULE, "AsyncCompletions.parse", async_llm_wrapper(CHAT)),
        Patch(_EMBEDDINGS_MODULE, "Embeddings.create", sync_llm_wrapper(EMBEDDINGS)),
        Patch(_EMBEDDINGS_MODULE, "AsyncEmbeddings.create", async_llm_wrapper(EMBEDDINGS)),
        Patch(_RESPONSES_MODULE, "Responses.create", sync_llm_wrapper(RESPONSES)),
        Patch(_RESPONSES_MODULE, "AsyncResponses.create", async_llm_wrapper(RESPONSES)),
        Patch(_RESPONSES_MODULE, "Responses.parse", sync_llm_wrapper(RESPONSES)),
        Patch(_RESPONSES_MODULE, "AsyncResponses.parse", async_llm_wrapper(RESPONSES)),
    )
