"""One implementation of "a scope" as a context manager and as a decorator (sync, async, generators).

A scope starts (giving the OpenTelemetry context its body runs in), and ends with the exception the
body raised, if any; ``end`` returns True to swallow it (only tasks do, for budget exhaustion).

Generators get the context attached only while their body runs, never across a ``yield``: keeping
a context attached while the consumer runs is what breaks trace trees and raises "Failed to detach
context" in other instrumentations.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, TypeVar

from opentelemetry import context as otel_context

__all__ = ["Scope", "decorate"]

F = TypeVar("F", bound=Callable[..., Any])


class Scope:
    """Base class: subclasses implement ``_begin`` and ``_end``; this gives ``with``/``async with``."""

    _token: object | None = None

    def _begin(self, *, is_async: bool) -> otel_context.Context:  # pragma: no cover - abstract
        raise NotImplementedError

    def _end(self, exc: BaseException | None) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def __enter__(self) -> Any:
        self._token = otel_context.attach(self._begin(is_async=False))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        token, self._token = self._token, None
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]
        return self._end(exc)

    async def __aenter__(self) -> Any:
        self._token = otel_context.attach(self._begin(is_async=True))
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        return self.__exit__(exc_type, exc, tb)

    def _swallowed_result(self) -> Any:
        """What a decorated function returns when ``_end`` swallowed its exception."""
        return None


def _run_generator(scope: Scope, gen: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    ctx = scope._begin(is_async=False)
    to_send: Any = None
    to_throw: BaseException | None = None
    try:
        while True:
            token = otel_context.attach(ctx)
            try:
                item = gen.throw(to_throw) if to_throw is not None else gen.send(to_send)
            finally:
                otel_context.detach(token)
            to_throw = None
            try:
                to_send = yield item
            except GeneratorExit:
                gen.close()
                raise
            except BaseException as thrown:  # thrown in by the consumer: forward it
                to_throw = thrown
    except StopIteration as stop:
        scope._end(None)
        return stop.value
    except GeneratorExit:
        scope._end(None)
        raise
    except BaseException as exc:
        if scope._end(exc):
            return scope._swallowed_result()
        raise


async def _run_async_generator(scope: Scope, agen: AsyncGenerator[Any, Any]) -> AsyncGenerator[Any, Any]:
    ctx = scope._begin(is_async=True)
    to_send: Any = None
    try:
        while True:
            token = otel_context.attach(ctx)
            try:
                item = await agen.asend(to_send)
            finally:
                otel_context.detach(token)
            try:
                to_send = yield item
            except GeneratorExit:
                await agen.aclose()
                raise
    except StopAsyncIteration:
        scope._end(None)
    except GeneratorExit:
        scope._end(None)
        raise
    except BaseException as exc:
        if not scope._end(exc):
            raise


def decorate(new_scope: Callable[[], Scope], func: F) -> F:
    """Wrap ``func`` so each call runs in a fresh scope from ``new_scope``."""
    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        def async_gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            return _run_async_generator(new_scope(), func(*args, **kwargs))

        return async_gen_wrapper  # type: ignore[return-value]

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            return (yield from _run_generator(new_scope(), func(*args, **kwargs)))

        return gen_wrapper  # type: ignore[return-value]

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            scope = new_scope()
            async with scope:
                return await func(*args, **kwargs)
            return scope._swallowed_result()

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        scope = new_scope()
        with scope:
            return func(*args, **kwargs)
        return scope._swallowed_result()

    return wrapper  # type: ignore[return-value]
