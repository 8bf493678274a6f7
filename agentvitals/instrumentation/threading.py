"""Carry the OpenTelemetry context into threads, so work submitted to a ``ThreadPoolExecutor`` or a
``threading.Thread`` nests under the span (and task) that started it.

The contrib ``opentelemetry-instrumentation-threading`` does the same, but its releases pin an
``opentelemetry-instrumentation`` version that conflicts with the httpx instrumentor we depend on.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from agentvitals._handler import Handler
from agentvitals.instrumentation._base import Patch, PatchTableInstrumentor

__all__ = ["ThreadingInstrumentor"]


def _submit(handler: Handler) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not args:
            return wrapped(*args, **kwargs)
        fn, *rest = args
        return wrapped(contextvars.copy_context().run, fn, *rest, **kwargs)

    return wrapper


def _thread_start(handler: Handler) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        instance._agentvitals_context = contextvars.copy_context()
        return wrapped(*args, **kwargs)

    return wrapper


def _thread_run(handler: Handler) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        ctx = getattr(instance, "_agentvitals_context", None)
        if ctx is None:
            return wrapped(*args, **kwargs)
        return ctx.run(wrapped, *args, **kwargs)

    return wrapper


class ThreadingInstrumentor(PatchTableInstrumentor):
    name = "threading"
    instruments = ()
    patches = (
        Patch("concurrent.futures.thread", "ThreadPoolExecutor.submit", _submit),
        Patch("threading", "Thread.start", _thread_start),
        Patch("threading", "Thread.run", _thread_run),
    )
