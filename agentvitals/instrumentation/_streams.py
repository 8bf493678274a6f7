"""Stream proxies shared by every provider: one recorder, thin sync and async shells.

The proxy forwards everything to the SDK's stream and ends the LLM span exactly once: when the stream
is exhausted, fails, is closed (``close``/``with``/``async with``), or is garbage-collected unread.
The span is never current while the consumer iterates, so nothing is attached across a ``yield``. The
*pulling* proxies are for SDKs whose stream is a generator that sends the request when first read: the
span is current only inside each pull (attached and detached within one ``__next__``), so the HTTP call
made there nests under the LLM span.

When the caller's own code raises inside ``with stream:`` (or ``async with``), the span ends failed with that
exception's ``error.type``; the exception propagates unchanged. A raw response to a streamed request
(``with_raw_response.create(stream=True)``) is proxied too: the stream its ``parse()`` returns is recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import wrapt

from agentvitals._lifecycle import LLMInvocation
from agentvitals._messages import OutputBuffer
from agentvitals._records import LLMResponse

_logger = logging.getLogger("agentvitals")

__all__ = [
    "AsyncPullingStreamProxy",
    "AsyncStreamProxy",
    "RawStreamResponseProxy",
    "StreamRecorder",
    "SyncPullingStreamProxy",
    "SyncStreamProxy",
    "raised",
]

ChunkHandler = Callable[[Any, LLMResponse, OutputBuffer], None]
"""Updates the response being accumulated from one chunk: response-level fields on the response, each
choice's finish reason and (when capturing) content in the output buffer."""


def raised(exc_info: tuple[Any, ...]) -> BaseException | None:
    """The exception a ``with`` block ended with (``__exit__``'s arguments), if it is a failure (not a generator
    being closed)."""
    exc = exc_info[1] if len(exc_info) > 1 else None
    return exc if isinstance(exc, Exception) else None


class StreamRecorder:
    __slots__ = ("invocation", "_handler", "_response", "_output", "_seen_chunk")

    def __init__(self, invocation: LLMInvocation, handler: ChunkHandler) -> None:
        self.invocation = invocation
        self._handler = handler
        self._response = LLMResponse()
        content = invocation.handler.content
        self._output = OutputBuffer(content.collect, content.max_length)
        self._seen_chunk = False

    def on_chunk(self, chunk: Any) -> None:
        if not self._seen_chunk:
            self._seen_chunk = True
            self.invocation.first_chunk()
        try:
            self._handler(chunk, self._response, self._output)
        except Exception:  # deliberate: a malformed chunk must not break the consumer
            _logger.debug("agentvitals: could not read a stream chunk", exc_info=True)

    def pull(self, read_next: Callable[[], Any]) -> Any:
        """The next chunk from ``read_next`` (a stream's ``__next__``), recorded; the end of the stream or a
        failure ends the span, and propagates."""
        try:
            chunk = read_next()
        except StopIteration:
            self.finish()
            raise
        except Exception as exc:
            self.finish(exc)
            raise
        self.on_chunk(chunk)
        return chunk

    async def apull(self, read_next: Callable[[], Awaitable[Any]]) -> Any:
        """:meth:`pull` for an async stream (``read_next``: its ``__anext__``)."""
        try:
            chunk = await read_next()
        except StopAsyncIteration:
            self.finish()
            raise
        except Exception as exc:
            self.finish(exc)
            raise
        self.on_chunk(chunk)
        return chunk

    def finish(self, exc: BaseException | None = None) -> None:
        invocation = self.invocation
        if invocation.ended:
            return
        try:
            response = self._response
            response.settle_usage()
            response.finish_reasons = self._output.finish_reasons() or response.finish_reasons
            response.output_messages = self._output.messages()
            invocation.response = response
        except Exception:  # deliberate: the span still ends
            _logger.debug("agentvitals: could not assemble a streamed response", exc_info=True)
        invocation.end(exc)


class SyncStreamProxy(wrapt.ObjectProxy):  # type: ignore[type-arg]
    def __init__(self, wrapped: Any, recorder: StreamRecorder) -> None:
        super().__init__(wrapped)
        self._self_recorder = recorder

    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        return self._self_recorder.pull(self.__wrapped__.__next__)

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_recorder.finish()

    def __enter__(self) -> SyncStreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_recorder.finish(raised(exc_info))

    def __del__(self) -> None:
        self._self_recorder.finish()


class AsyncStreamProxy(wrapt.ObjectProxy):  # type: ignore[type-arg]
    def __init__(self, wrapped: Any, recorder: StreamRecorder) -> None:
        super().__init__(wrapped)
        self._self_recorder = recorder

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        return await self._self_recorder.apull(self.__wrapped__.__anext__)

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_recorder.finish()

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_recorder.finish(raised(exc_info))

    def __del__(self) -> None:
        self._self_recorder.finish()


class SyncPullingStreamProxy(SyncStreamProxy):
    def __next__(self) -> Any:
        invocation = self._self_recorder.invocation
        invocation.attach()
        try:
            return super().__next__()
        finally:
            invocation.detach()


class AsyncPullingStreamProxy(AsyncStreamProxy):
    async def __anext__(self) -> Any:
        invocation = self._self_recorder.invocation
        invocation.attach()
        try:
            return await super().__anext__()
        finally:
            invocation.detach()


class RawStreamResponseProxy(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """A raw response (``with_raw_response.create(stream=True)``) whose ``parse()`` returns our stream proxy.

    The SDK caches what ``parse()`` returns, and so do we: every call returns the same proxied stream. A raw
    response dropped without being parsed ends the span (its usage absent)."""

    def __init__(self, wrapped: Any, recorder: StreamRecorder, stream_proxy: type) -> None:
        super().__init__(wrapped)
        self._self_recorder = recorder
        self._self_stream_proxy = stream_proxy
        self._self_stream: Any = None

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        parsed = self.__wrapped__.parse(*args, **kwargs)
        if self._self_stream is None:
            try:
                self._self_stream = self._self_stream_proxy(parsed, self._self_recorder)
            except Exception:  # deliberate: the caller gets the SDK's stream, the span ends now
                _logger.debug("agentvitals: cannot proxy a parsed raw stream", exc_info=True)
                self._self_recorder.finish()
                return parsed
        return self._self_stream

    def __del__(self) -> None:
        if self._self_stream is None:
            self._self_recorder.finish()
