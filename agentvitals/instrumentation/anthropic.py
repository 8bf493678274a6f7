"""Anthropic SDK (2.x on ``httpx2``; older lines too): messages, sync and async, streams.

Usage convention: Anthropic's ``input_tokens`` *excludes* cache reads and writes, which are
reported on top (additive). We convert to the inclusive semconv convention:
input = input_tokens + cache_read_input_tokens + cache_creation_input_tokens.

Native tracing: anthropic 2.x starts its own span (``anthropic.messages.create``) for every call,
on by default. For the calls we instrument, we make the SDK skip it, through the SDK's own
documented path (``start_api_call_span`` returning ``None`` means "no span, call goes on"), so each
call has exactly one LLM span (ours, named ``chat {model}`` per semconv, with input tokens and cost,
which the native span lacks). Calls we do not instrument keep their native spans. With native
tracing off (``ANTHROPIC_OPEN_TELEMETRY=false``) the patch simply never triggers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentvitals._handler import Handler
from agentvitals._lifecycle import llm_active
from agentvitals._records import LLMResponse, Usage, finish_reason, non_empty_str
from agentvitals.instrumentation._base import Patch, PatchTableInstrumentor
from agentvitals.instrumentation._llm import (
    LLMEndpoint,
    LLMRequest,
    async_enter_stream_wrapper,
    async_llm_wrapper,
    chat_request,
    remember_request,
    sync_enter_stream_wrapper,
    sync_llm_wrapper,
)
from agentvitals.semconv import Operation

__all__ = ["AnthropicInstrumentor"]

PROVIDER = "anthropic"


def _request(instance: Any, kwargs: Mapping[str, Any]) -> LLMRequest:
    return chat_request(instance, kwargs)


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


def _text_of(content: Any) -> str | None:
    parts = [getattr(block, "text", None) for block in content or ()]
    text = "".join(p for p in parts if isinstance(p, str))
    return text or None


def _message_response(result: Any, capture: bool) -> LLMResponse:
    stop = getattr(result, "stop_reason", None)
    return LLMResponse(
        model=non_empty_str(getattr(result, "model", None)),
        response_id=non_empty_str(getattr(result, "id", None)),
        finish_reasons=(reason,) if (reason := finish_reason(stop)) else (),
        usage=_usage(getattr(result, "usage", None)),
        output_text=_text_of(getattr(result, "content", None)) if capture else None,
    )


def _message_event(event: Any, response: LLMResponse, text: list[str] | None) -> None:
    kind = getattr(event, "type", None)
    if kind == "message_start":
        message = getattr(event, "message", None)
        response.model = non_empty_str(getattr(message, "model", None))
        response.response_id = non_empty_str(getattr(message, "id", None))
        response.usage = _usage(getattr(message, "usage", None))
    elif kind == "message_delta":
        response.usage = _usage(getattr(event, "usage", None), response.usage)
        stop = finish_reason(getattr(getattr(event, "delta", None), "stop_reason", None))
        if stop is not None:
            response.finish_reasons = (stop,)
    elif kind == "content_block_delta" and text is not None:
        delta_text = getattr(getattr(event, "delta", None), "text", None)
        if isinstance(delta_text, str):
            text.append(delta_text)


def _skip_native_span(handler: Handler) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if llm_active():
            return None  # our LLM span is current: the SDK's own span would be a second one
        return wrapped(*args, **kwargs)

    return wrapper


MESSAGES = LLMEndpoint(PROVIDER, Operation.CHAT.value, _request, _message_response, _message_event)

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
        Patch("anthropic._base_client", "start_api_call_span", _skip_native_span),
    )
