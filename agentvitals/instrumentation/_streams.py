"""Stream proxies shared by every provider: one recorder, thin sync and async shells.

The proxy forwards everything to the SDK's stream and ends the LLM span exactly once: when the stream
is exhausted, fails, is closed (``close``/``with``/``async with``), or is garbage-collected unread.
The span is never current while the consumer iterates, so nothing is attached across a ``yield``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import wrapt

from agentvitals._lifecycle import LLMInvocation
from agentvitals._records import LLMResponse

_logger = logging.getLogger("agentvitals")

__all__ = ["AsyncStreamProxy", "StreamRecorder", "SyncStreamProxy"]

ChunkHandler = Callable[[Any, LLMResponse, list[str] | None], None]
"""Updates the response being accumulated from one chunk; appends output text when capturing."""


class BoundedText(list[str]):
    """The streamed output text, kept only up to what the span may hold (content is clipped anyway): a long
    stream costs no more memory than a short one."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._room = limit + 1  # one character more than the limit, so clipping still marks it truncated

    def append(self, text: str) -> None:
        if self._room > 0:
            super().append(text[: self._room])
            self._room -= min(len(text), self._room)


class StreamRecorder:
    __slots__ = ("invocation", "_handler", "_response", "_text", "_seen_chunk")

    def __init__(self, invocation: LLMInvocation, handler: ChunkHandler) -> None:
        self.invocation = invocation
        self._handler = handler
        self._response = LLMResponse()
        content = invocation.handler.content
        self._text: list[str] | None = BoundedText(content.max_length) if content.capture else None
        self._seen_chunk = False

    def on_chunk(self, chunk: Any) -> None:
        if not self._seen_chunk:
            self._seen_chunk = True
            self.invocation.first_chunk()
        try:
            self._handler(chunk, self._response, self._text)
        except Exception:  # deliberate: a malformed chunk must not break the consumer
            _logger.debug("agentvitals: could not read a stream chunk", exc_info=True)

    def finish(self, exc: BaseException | None = None) -> None:
        invocation = self.invocation
        if invocation.ended:
            return
        if self._text:
            self._response.output_text = "".join(self._text)
        invocation.response = self._response
        invocation.end(exc)


class SyncStreamProxy(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, wrapped: Any, recorder: StreamRecorder) -> None:
        super().__init__(wrapped)
        self._self_recorder = recorder

    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        try:
            chunk = self.__wrapped__.__next__()
        except StopIteration:
            self._self_recorder.finish()
            raise
        except Exception as exc:
            self._self_recorder.finish(exc)
            raise
        self._self_recorder.on_chunk(chunk)
        return chunk

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
            self._self_recorder.finish()

    def __del__(self) -> None:
        self._self_recorder.finish()


class AsyncStreamProxy(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, wrapped: Any, recorder: StreamRecorder) -> None:
        super().__init__(wrapped)
        self._self_recorder = recorder

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_recorder.finish()
            raise
        except Exception as exc:
            self._self_recorder.finish(exc)
            raise
        self._self_recorder.on_chunk(chunk)
        return chunk

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
            self._self_recorder.finish()

    def __del__(self) -> None:
        self._self_recorder.finish()
