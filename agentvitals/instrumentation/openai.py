"""OpenAI SDK (2.x on ``httpx``, 3.x on ``httpx2``): chat completions and embeddings, sync and async, streams.

This module only says which SDK methods are patched and which mapping each uses; the OpenAI wire format
itself (request fields, content, responses, stream chunks, usage convention) is mapped once in
:mod:`agentvitals.instrumentation._openai_format`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentvitals.instrumentation._base import Patch, PatchTableInstrumentor
from agentvitals.instrumentation._llm import LLMEndpoint, LLMRequest, async_llm_wrapper, chat_request, sync_llm_wrapper
from agentvitals.instrumentation._openai_format import (
    CHAT_FIELDS,
    EMBEDDINGS_FIELDS,
    chat_chunk,
    chat_content,
    chat_response,
    embeddings_response,
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


CHAT = LLMEndpoint(PROVIDER, Operation.CHAT.value, _chat_request, chat_response, chat_chunk,
                   request_content=chat_content)
EMBEDDINGS = LLMEndpoint(PROVIDER, Operation.EMBEDDINGS.value, _embeddings_request, embeddings_response)

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
