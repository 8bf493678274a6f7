"""The wrapper every vector-store method gets: a store only supplies a :class:`RetrievalEndpoint`.

Each call is a ``retrieval {collection}`` CLIENT span (``gen_ai.operation.name=retrieval``) with
the data source, the requested top-k and the result count, timed into
``agentvitals.retrieval.duration`` by operation (``query`` or ``add``). Document and query text
are recorded only when content capture is on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import SpanKind

from agentvitals import names
from agentvitals._invocation import Invocation, start_operation
from agentvitals._telemetry import Telemetry

_logger = logging.getLogger("agentvitals")

__all__ = ["RetrievalEndpoint", "async_retrieval_wrapper", "sync_retrieval_wrapper"]


@dataclass(frozen=True)
class RetrievalEndpoint:
    system: str
    """``db.system.name`` of the store, e.g. ``chroma`` or ``qdrant``."""
    operation: str
    """``query`` or ``add``."""
    source: Callable[[Any, tuple[Any, ...], Mapping[str, Any]], str | None]
    """(instance, args, kwargs) -> the collection searched or written."""
    top_k: Callable[[tuple[Any, ...], Mapping[str, Any]], int | None] = lambda args, kwargs: None
    results: Callable[[Any], int | None] = lambda result: None
    query_text: Callable[[tuple[Any, ...], Mapping[str, Any]], str | None] = lambda args, kwargs: None


def _start(telemetry: Telemetry, endpoint: RetrievalEndpoint, instance: Any, args: tuple[Any, ...],
           kwargs: Mapping[str, Any]) -> Invocation | None:
    try:
        attributes: dict[str, Any] = {"db.system.name": endpoint.system}
        top_k = endpoint.top_k(args, kwargs)
        if isinstance(top_k, int) and not isinstance(top_k, bool):
            attributes[names.RETRIEVAL_TOP_K] = top_k
        if telemetry.capture_content and (text := endpoint.query_text(args, kwargs)):
            attributes[names.GEN_AI_RETRIEVAL_QUERY_TEXT] = telemetry.clip(text)
        return start_operation(
            telemetry, operation=names.Operation.RETRIEVAL.value,
            target=endpoint.source(instance, args, kwargs) or endpoint.system,
            target_attribute=names.GEN_AI_DATA_SOURCE_ID, step=None, duration=telemetry.retrieval_duration,
            attributes=attributes, kind=SpanKind.CLIENT, labels={names.RETRIEVAL_OPERATION: endpoint.operation},
        )
    except Exception:  # deliberate: never break the user's call
        _logger.debug("agentvitals: could not start %s span", endpoint.system, exc_info=True)
        return None


def _finish(invocation: Invocation, endpoint: RetrievalEndpoint, result: Any) -> None:
    try:
        count = endpoint.results(result)
        if isinstance(count, int):
            invocation.span.set_attribute(names.RETRIEVAL_RESULT_COUNT, count)
    except Exception:
        _logger.debug("agentvitals: could not read %s result", endpoint.system, exc_info=True)
    invocation.stop()


def sync_retrieval_wrapper(endpoint: RetrievalEndpoint) -> Callable[[Telemetry], Callable[..., Any]]:
    def factory(telemetry: Telemetry) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            invocation = _start(telemetry, endpoint, instance, args, kwargs)
            if invocation is None:
                return wrapped(*args, **kwargs)
            invocation.attach()
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                invocation.detach()
                invocation.fail(exc)
                raise
            invocation.detach()
            _finish(invocation, endpoint, result)
            return result

        return wrapper

    return factory


def async_retrieval_wrapper(endpoint: RetrievalEndpoint) -> Callable[[Telemetry], Callable[..., Any]]:
    def factory(telemetry: Telemetry) -> Callable[..., Any]:
        async def wrapper(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            invocation = _start(telemetry, endpoint, instance, args, kwargs)
            if invocation is None:
                return await wrapped(*args, **kwargs)
            invocation.attach()
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                invocation.detach()
                invocation.fail(exc)
                raise
            invocation.detach()
            _finish(invocation, endpoint, result)
            return result

        return wrapper

    return factory
