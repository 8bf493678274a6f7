"""The wrapper every provider SDK method gets: a provider only supplies an :class:`LLMEndpoint`.

Order inside a wrapper (as in the contrib instrumentors): skip when suppressed or when an LLM span is
already current (one span and one cost per call); build attributes before the span starts; call the
original with the span current; parse the response; on failure record ``error.type`` and re-raise
the user's exception unchanged. Our own failures are logged at debug level and never raised, except
:class:`~agentvitals.BudgetExhausted`, which the user asked for by setting a budget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentvitals._handler import Handler
from agentvitals._lifecycle import LLMInvocation, should_instrument_llm, start_llm
from agentvitals._records import LLMResponse
from agentvitals._taskrun import BudgetExhausted
from agentvitals.attributes import RESPONSE_PARSE_ERROR
from agentvitals.instrumentation._streams import AsyncStreamProxy, ChunkHandler, StreamRecorder, SyncStreamProxy
from agentvitals.semconv import (
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_STREAM,
    GEN_AI_REQUEST_TEMPERATURE,
    GEN_AI_REQUEST_TOP_P,
    SERVER_ADDRESS,
    SERVER_PORT,
)

_logger = logging.getLogger("agentvitals")

__all__ = ["LLMEndpoint", "LLMRequest", "async_llm_wrapper", "chat_request", "sync_llm_wrapper"]


@dataclass(slots=True)
class LLMRequest:
    model: str | None
    stream: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    messages: Any = None


@dataclass(frozen=True)
class LLMEndpoint:
    """How one SDK method maps onto handler."""

    provider: str
    operation: str
    parse_request: Callable[[Any, Mapping[str, Any]], LLMRequest]
    """(the resource instance, the call's kwargs) -> request."""
    parse_response: Callable[[Any, bool], LLMResponse]
    """(the returned object, capture_content) -> response. May raise on malformed data."""
    on_chunk: ChunkHandler | None = None


def _start(handler: Handler, endpoint: LLMEndpoint, instance: Any, kwargs: Mapping[str, Any]
           ) -> tuple[LLMInvocation, bool] | None:
    """Start the span, or ``None`` if we cannot (then the call runs uninstrumented)."""
    try:
        request = endpoint.parse_request(instance, kwargs)
        invocation = start_llm(
            handler,
            provider=endpoint.provider,
            operation=endpoint.operation,
            model=request.model,
            attributes=request.attributes,
            messages=request.messages,
        )
        return invocation, request.stream and endpoint.on_chunk is not None
    except BudgetExhausted:
        raise
    except Exception:  # deliberate: never break the user's call
        _logger.debug("agentvitals: could not start %s span", endpoint.provider, exc_info=True)
        return None


def _is_raw_response(result: Any) -> bool:
    """``client.<resource>.with_raw_response.<method>()`` returns the HTTP response wrapped (LangChain uses it).
    ``parse`` is looked up on the class first: a missing attribute on a pydantic model is a raised error."""
    return callable(getattr(type(result), "parse", None)) and hasattr(result, "http_response")


def _finish(invocation: LLMInvocation, endpoint: LLMEndpoint, result: Any, stream: bool, proxy: type) -> Any:
    try:
        if stream and not _is_raw_response(result):
            assert endpoint.on_chunk is not None
            return proxy(result, StreamRecorder(invocation, endpoint.on_chunk))
        # The SDK caches what parse() returns, so parsing here costs the caller nothing later. A raw
        # response to a streamed request parses to a stream we never see: its usage stays absent.
        parsed = result.parse() if _is_raw_response(result) and not stream else result
        invocation.response = endpoint.parse_response(parsed, invocation.handler.content.capture)
    except Exception:  # a malformed response still yields a closed span, never an exception
        _logger.debug("agentvitals: could not read %s response", endpoint.provider, exc_info=True)
        invocation.span.set_attribute(RESPONSE_PARSE_ERROR, True)
    invocation.stop()
    return result


def sync_llm_wrapper(endpoint: LLMEndpoint) -> Callable[[Handler], Callable[..., Any]]:
    def factory(handler: Handler) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if not should_instrument_llm():
                return wrapped(*args, **kwargs)
            started = _start(handler, endpoint, instance, kwargs)
            if started is None:
                return wrapped(*args, **kwargs)
            invocation, stream = started
            with invocation:
                result = wrapped(*args, **kwargs)
            return _finish(invocation, endpoint, result, stream, SyncStreamProxy)

        return wrapper

    return factory


def async_llm_wrapper(endpoint: LLMEndpoint) -> Callable[[Handler], Callable[..., Any]]:
    def factory(handler: Handler) -> Callable[..., Any]:
        async def wrapper(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            if not should_instrument_llm():
                return await wrapped(*args, **kwargs)
            started = _start(handler, endpoint, instance, kwargs)
            if started is None:
                return await wrapped(*args, **kwargs)
            invocation, stream = started
            with invocation:
                result = await wrapped(*args, **kwargs)
            return _finish(invocation, endpoint, result, stream, AsyncStreamProxy)

        return wrapper

    return factory


def chat_request(instance: Any, kwargs: Mapping[str, Any], *, max_tokens_keys: tuple[str, ...] = ("max_tokens",),
                 messages_key: str = "messages") -> LLMRequest:
    """The request attributes chat-style SDK methods share: model, stream, max tokens, sampling, server."""
    model = kwargs.get("model")
    attributes = server_attributes(instance)
    stream = kwargs.get("stream") is True
    if stream:
        attributes[GEN_AI_REQUEST_STREAM] = True
    max_tokens = next((value for key in max_tokens_keys if (value := number(kwargs.get(key))) is not None), None)
    for attribute, value in (
        (GEN_AI_REQUEST_MAX_TOKENS, max_tokens),
        (GEN_AI_REQUEST_TEMPERATURE, number(kwargs.get("temperature"))),
        (GEN_AI_REQUEST_TOP_P, number(kwargs.get("top_p"))),
    ):
        if value is not None:
            attributes[attribute] = value
    return LLMRequest(model if isinstance(model, str) else None, stream, attributes, kwargs.get(messages_key))


def number(value: Any) -> float | int | None:
    """A request parameter if it is a real number (SDK sentinels like ``omit`` are not)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


def server_attributes(instance: Any) -> dict[str, Any]:
    """``server.address``/``server.port`` from the resource's client base URL, when it has one."""
    base_url = getattr(getattr(instance, "_client", None), "base_url", None)
    host = getattr(base_url, "host", None)
    if not isinstance(host, str) or not host:
        return {}
    attributes: dict[str, Any] = {SERVER_ADDRESS: host}
    port = getattr(base_url, "port", None)
    if isinstance(port, int):
        attributes[SERVER_PORT] = port
    return attributes


# --- stream helpers that send the request on entering a manager (anthropic's messages.stream()) -----
_REQUEST_ATTRIBUTE = "_agentvitals_request"


def remember_request(handler: Handler) -> Callable[..., Any]:
    """Wrap a method that returns a stream manager: keep its arguments on the manager for later."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        try:
            setattr(manager, _REQUEST_ATTRIBUTE, (instance, dict(kwargs)))
        except Exception:  # a manager that takes no attributes stays uninstrumented
            _logger.debug("agentvitals: cannot tag stream manager", exc_info=True)
        return manager

    return wrapper


def _wrap_raw_stream(invocation: LLMInvocation, endpoint: LLMEndpoint, stream: Any, proxy: type) -> None:
    try:
        assert endpoint.on_chunk is not None
        stream._raw_stream = proxy(stream._raw_stream, StreamRecorder(invocation, endpoint.on_chunk))
    except Exception:  # a stream of another shape: end the span now rather than never
        _logger.debug("agentvitals: cannot wrap the message stream", exc_info=True)
        invocation.stop()


def sync_enter_stream_wrapper(endpoint: LLMEndpoint) -> Callable[[Handler], Callable[..., Any]]:
    """Wrap a stream manager's ``__enter__``: the span covers the request and the stream it returns."""

    def factory(handler: Handler) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            request = getattr(instance, _REQUEST_ATTRIBUTE, None)
            if request is None or not should_instrument_llm():
                return wrapped(*args, **kwargs)
            started = _start(handler, endpoint, request[0], {**request[1], "stream": True})
            if started is None:
                return wrapped(*args, **kwargs)
            invocation, _ = started
            with invocation:
                stream = wrapped(*args, **kwargs)
            _wrap_raw_stream(invocation, endpoint, stream, SyncStreamProxy)
            return stream

        return wrapper

    return factory


def async_enter_stream_wrapper(endpoint: LLMEndpoint) -> Callable[[Handler], Callable[..., Any]]:
    def factory(handler: Handler) -> Callable[..., Any]:
        async def wrapper(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            request = getattr(instance, _REQUEST_ATTRIBUTE, None)
            if request is None or not should_instrument_llm():
                return await wrapped(*args, **kwargs)
            started = _start(handler, endpoint, request[0], {**request[1], "stream": True})
            if started is None:
                return await wrapped(*args, **kwargs)
            invocation, _ = started
            with invocation:
                stream = await wrapped(*args, **kwargs)
            _wrap_raw_stream(invocation, endpoint, stream, AsyncStreamProxy)
            return stream

        return wrapper

    return factory
