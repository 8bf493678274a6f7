"""The wrapper every provider SDK method gets: a provider only supplies an :class:`LLMEndpoint`.

Order inside a wrapper (as in the contrib instrumentors): skip when suppressed or when an LLM span is
already current (one span and one cost per call); build attributes before the span starts; call the
original with the span current; parse the response; on failure record ``error.type`` and re-raise
the user's exception unchanged. Our own failures are logged at debug level and never raised, except
:class:`~agentvitals.BudgetExhausted`, which the user asked for by setting a budget.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentvitals._handler import Handler
from agentvitals._lifecycle import LLMInvocation, should_instrument_llm, start_llm
from agentvitals._records import LLMResponse
from agentvitals._taskrun import BudgetExhausted
from agentvitals.attributes import RESPONSE_PARSE_ERROR
from agentvitals.instrumentation._request_fields import Field, request_attributes
from agentvitals.instrumentation._streams import (
    AsyncPullingStreamProxy,
    AsyncStreamProxy,
    ChunkHandler,
    RawStreamResponseProxy,
    StreamRecorder,
    SyncPullingStreamProxy,
    SyncStreamProxy,
    raised,
)
from agentvitals.semconv import GEN_AI_REQUEST_STREAM, SERVER_ADDRESS, SERVER_PORT

_logger = logging.getLogger("agentvitals")

__all__ = ["LLMEndpoint", "LLMRequest", "async_llm_wrapper", "chat_request", "sync_llm_wrapper"]


@dataclass(slots=True)
class LLMRequest:
    model: str | None
    stream: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    messages: Any = None
    """Input messages as given (captured as they are when the endpoint has no ``request_content``)."""
    provider: str | None = None
    """Set when the provider is known per call (a router such as litellm, a Vertex client): else the endpoint's."""


RequestContent = Callable[[Mapping[str, Any]], Mapping[str, Any]]
"""(the call's kwargs) -> content attributes in the conventions' structured form: ``gen_ai.input.messages``,
``gen_ai.system_instructions``, ``gen_ai.tool.definitions``. Called only when content capture is on."""


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
    request_content: RequestContent | None = None
    positional: tuple[str, ...] = ()
    """Names of the parameters a caller may pass positionally (``litellm.completion(model, messages)``): they are
    shown to ``parse_request`` and ``request_content`` as keywords. SDK methods with keyword-only parameters leave
    it empty."""
    prepare: Callable[[Handler, dict[str, Any]], None] | None = None
    """Adjusts the call's keyword arguments in place before the call (the opt-in stream usage request)."""
    lazy_stream: bool = False
    """The SDK sends the request when its stream is first read (a generator): the LLM span is made current while
    each chunk is pulled, so the HTTP call nests under it and nested instrumentation stands aside."""


def _content(handler: Handler, endpoint: LLMEndpoint, kwargs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if not handler.content.collect or endpoint.request_content is None:
        return None
    try:
        return endpoint.request_content(kwargs)
    except Exception:  # deliberate: content is optional, the span is not
        _logger.debug("agentvitals: could not read %s request content", endpoint.provider, exc_info=True)
        return None


def _start(handler: Handler, endpoint: LLMEndpoint, instance: Any, kwargs: dict[str, Any],
           args: tuple[Any, ...] = ()) -> tuple[LLMInvocation, bool] | None:
    """Start the span, or ``None`` if we cannot (then the call runs uninstrumented). ``kwargs`` may be adjusted
    in place by the endpoint's ``prepare`` (only once the span is certain to start)."""
    try:
        view: Mapping[str, Any] = {**dict(zip(endpoint.positional, args, strict=False)), **kwargs} if args else kwargs
        request = endpoint.parse_request(instance, view)
        content = _content(handler, endpoint, view)
        invocation = start_llm(
            handler,
            provider=request.provider or endpoint.provider,
            operation=endpoint.operation,
            model=request.model,
            attributes=request.attributes,
            messages=request.messages if content is None else None,
            content=content,
        )
    except BudgetExhausted:
        raise
    except Exception:  # deliberate: never break the user's call
        _logger.debug("agentvitals: could not start %s span", endpoint.provider, exc_info=True)
        return None
    if endpoint.prepare is not None:
        try:
            endpoint.prepare(handler, kwargs)
        except Exception:  # the call goes out as the caller wrote it
            _logger.debug("agentvitals: could not prepare %s request", endpoint.provider, exc_info=True)
    return invocation, request.stream and endpoint.on_chunk is not None


_PARSES: dict[type, bool] = {}
"""Whether a result type has a ``parse`` method, by type: a missing attribute on a pydantic model class is an
error raised inside its metaclass, on every call. A handful of response types per SDK."""


def _is_raw_response(result: Any) -> bool:
    """``client.<resource>.with_raw_response.<method>()`` returns the HTTP response wrapped (LangChain uses it).
    ``parse`` is looked up on the class first: a missing attribute on a pydantic model is a raised error."""
    kind = type(result)
    parses = _PARSES.get(kind)
    if parses is None:
        parses = callable(getattr(kind, "parse", None))
        if len(_PARSES) < 256:
            _PARSES[kind] = parses
    return parses and hasattr(result, "http_response")


def _finish(invocation: LLMInvocation, endpoint: LLMEndpoint, result: Any, stream: bool, proxy: type) -> Any:
    try:
        if stream:
            assert endpoint.on_chunk is not None
            recorder = StreamRecorder(invocation, endpoint.on_chunk)
            if _is_raw_response(result):  # the stream is what the caller's parse() will return
                return RawStreamResponseProxy(result, recorder, proxy)
            return proxy(result, recorder)
        # The SDK caches what parse() returns, so parsing here costs the caller nothing later.
        parsed = result.parse() if _is_raw_response(result) else result
        invocation.response = endpoint.parse_response(parsed, invocation.handler.content.collect)
    except Exception:  # a malformed response still yields a closed span, never an exception
        _logger.debug("agentvitals: could not read %s response", endpoint.provider, exc_info=True)
        invocation.span.set_attribute(RESPONSE_PARSE_ERROR, True)
    invocation.stop()
    return result


def sync_llm_wrapper(endpoint: LLMEndpoint) -> Callable[[Handler], Callable[..., Any]]:
    proxy = SyncPullingStreamProxy if endpoint.lazy_stream else SyncStreamProxy

    def factory(handler: Handler) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if not should_instrument_llm():
                return wrapped(*args, **kwargs)
            started = _start(handler, endpoint, instance, kwargs, args)
            if started is None:
                return wrapped(*args, **kwargs)
            invocation, stream = started
            with invocation:
                result = wrapped(*args, **kwargs)
            return _finish(invocation, endpoint, result, stream, proxy)

        return wrapper

    return factory


def async_llm_wrapper(endpoint: LLMEndpoint) -> Callable[[Handler], Callable[..., Any]]:
    proxy = AsyncPullingStreamProxy if endpoint.lazy_stream else AsyncStreamProxy

    def factory(handler: Handler) -> Callable[..., Any]:
        async def wrapper(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            if not should_instrument_llm():
                return await wrapped(*args, **kwargs)
            started = _start(handler, endpoint, instance, kwargs, args)
            if started is None:
                return await wrapped(*args, **kwargs)
            invocation, stream = started
            with invocation:
                result = await wrapped(*args, **kwargs)
            return _finish(invocation, endpoint, result, stream, proxy)

        return wrapper

    return factory


def chat_request(instance: Any, kwargs: Mapping[str, Any], fields: Sequence[Field], *,
                 messages_key: str = "messages") -> LLMRequest:
    """What every SDK method's request shares (model, stream, server), plus the attributes the endpoint's
    ``fields`` read from the call's parameters."""
    model = kwargs.get("model")
    attributes = server_attributes(instance)
    stream = kwargs.get("stream") is True
    if stream:
        attributes[GEN_AI_REQUEST_STREAM] = True
    attributes.update(request_attributes(kwargs, fields))
    return LLMRequest(model if isinstance(model, str) else None, stream, attributes, kwargs.get(messages_key))


_DEFAULT_PORTS = {"https": 443, "http": 80}


def server(host: object, port: object, scheme: object) -> dict[str, Any]:
    """``server.address``/``server.port`` of a base URL's parts. The port is the scheme's default when the URL
    names none (the conventions require it whenever the address is set)."""
    if not isinstance(host, str) or not host:
        return {}
    attributes: dict[str, Any] = {SERVER_ADDRESS: host}
    if not isinstance(port, int):
        port = _DEFAULT_PORTS.get(str(scheme or ""))
    if port is not None:
        attributes[SERVER_PORT] = port
    return attributes


_last_server: tuple[object, dict[str, Any]] = (None, {})
"""The last base URL read and its attributes: a client keeps its URL object, and parsing one costs ~3 % of a call."""


def server_attributes(instance: Any) -> dict[str, Any]:
    """``server.*`` from the resource's client base URL, when it has one (a new dict: the caller adds to it)."""
    global _last_server
    base_url = getattr(getattr(instance, "_client", None), "base_url", None)
    seen, attributes = _last_server
    if base_url is None or base_url is not seen:
        attributes = server(getattr(base_url, "host", None), getattr(base_url, "port", None),
                            getattr(base_url, "scheme", None))
        _last_server = (base_url, attributes)
    return dict(attributes)


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


_RECORDER_ATTRIBUTE = "_agentvitals_recorder"


def _observe_stream(invocation: LLMInvocation, endpoint: LLMEndpoint, manager: Any, stream: Any) -> None:
    """Tag the manager and the stream it returned with the call's recorder: the stream's iteration wrappers
    feed it events, the manager's exit (or the stream's close, or losing the stream) ends the span."""
    try:
        assert endpoint.on_chunk is not None
        recorder = StreamRecorder(invocation, endpoint.on_chunk)
        setattr(stream, _RECORDER_ATTRIBUTE, recorder)
        setattr(manager, _RECORDER_ATTRIBUTE, recorder)
        weakref.finalize(stream, recorder.finish)  # a stream dropped without being closed still ends the span
    except Exception:  # a stream that takes no attributes: end the span now rather than never
        _logger.debug("agentvitals: cannot observe the message stream", exc_info=True)
        invocation.stop()


def _recorder(instance: Any) -> StreamRecorder | None:
    recorder = getattr(instance, _RECORDER_ATTRIBUTE, None)
    return recorder if isinstance(recorder, StreamRecorder) else None


def _observed(events: Iterator[Any], recorder: StreamRecorder) -> Iterator[Any]:
    try:
        for event in events:
            recorder.on_chunk(event)
            yield event
    except Exception as exc:
        recorder.finish(exc)
        raise
    recorder.finish()  # exhausted (a loop left early is not the end of the stream: no finish on GeneratorExit)


async def _async_observed(events: AsyncIterator[Any], recorder: StreamRecorder) -> AsyncIterator[Any]:
    try:
        async for event in events:
            recorder.on_chunk(event)
            yield event
    except Exception as exc:
        recorder.finish(exc)
        raise
    recorder.finish()


def stream_iter_wrapper(handler: Handler) -> Callable[..., Any]:
    """Wrap a manager-made stream's ``__iter__`` (what ``for``, its text stream and its final message read)."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        events = wrapped(*args, **kwargs)
        recorder = _recorder(instance)
        return events if recorder is None else _observed(events, recorder)

    return wrapper


def stream_aiter_wrapper(handler: Handler) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        events = wrapped(*args, **kwargs)
        recorder = _recorder(instance)
        return events if recorder is None else _async_observed(events, recorder)

    return wrapper


def stream_next_wrapper(handler: Handler) -> Callable[..., Any]:
    """Wrap a manager-made stream's ``__next__`` (``next(stream)`` reads past ``__iter__``)."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        recorder = _recorder(instance)
        if recorder is None:
            return wrapped(*args, **kwargs)
        return recorder.pull(lambda: wrapped(*args, **kwargs))

    return wrapper


def stream_anext_wrapper(handler: Handler) -> Callable[..., Any]:
    async def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        recorder = _recorder(instance)
        if recorder is None:
            return await wrapped(*args, **kwargs)
        return await recorder.apull(lambda: wrapped(*args, **kwargs))

    return wrapper


def stream_close_wrapper(handler: Handler) -> Callable[..., Any]:
    """Wrap a manager-made stream's ``close``: what was read by then is the call's response."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            return wrapped(*args, **kwargs)
        finally:
            if (recorder := _recorder(instance)) is not None:
                recorder.finish()

    return wrapper


def stream_aclose_wrapper(handler: Handler) -> Callable[..., Any]:
    async def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            return await wrapped(*args, **kwargs)
        finally:
            if (recorder := _recorder(instance)) is not None:
                recorder.finish()

    return wrapper


def sync_exit_stream_wrapper(handler: Handler) -> Callable[..., Any]:
    """Wrap a stream manager's ``__exit__``: an exception the caller's block raised ends the span failed;
    otherwise the span ends with what was read (a stream closed early is not a failure)."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        recorder = _recorder(instance)
        if recorder is None:
            return wrapped(*args, **kwargs)
        failure = raised(args)
        if failure is not None:
            recorder.finish(failure)
        try:
            return wrapped(*args, **kwargs)
        finally:
            recorder.finish()

    return wrapper


def async_exit_stream_wrapper(handler: Handler) -> Callable[..., Any]:
    async def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        recorder = _recorder(instance)
        if recorder is None:
            return await wrapped(*args, **kwargs)
        failure = raised(args)
        if failure is not None:
            recorder.finish(failure)
        try:
            return await wrapped(*args, **kwargs)
        finally:
            recorder.finish()

    return wrapper


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
            _observe_stream(invocation, endpoint, instance, stream)
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
            _observe_stream(invocation, endpoint, instance, stream)
            return stream

        return wrapper

    return factory
