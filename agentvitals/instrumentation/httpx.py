"""HTTP client spans through the contrib ``opentelemetry-instrumentation-httpx`` (reused, not rewritten).

It instruments ``httpx`` (openai 2.x) and ``httpx2`` (openai 3.x, anthropic 2.x). An LLM call made
through an instrumented SDK yields our LLM span with the HTTP span as its child; only the LLM span
carries cost, so cost is counted once.

The contrib instrumentation removes credentials from the URL but keeps most query values (``?api_key=``,
``?token=``); our request hook redacts them all as the span starts, so they stay out even of spans exported
through an application's own provider, which the export-time redaction cannot reach.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from opentelemetry.semconv._incubating.attributes.http_attributes import HTTP_URL
from opentelemetry.semconv.attributes.url_attributes import URL_FULL
from opentelemetry.trace import Span

from agentvitals._redaction import redact_url

_logger = logging.getLogger("agentvitals")

__all__ = ["HTTPXInstrumentors"]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def redact_span_url(span: Span, request: Any) -> None:
    """Request hook: the span's URL without userinfo, query values or fragment."""
    attributes = getattr(span, "attributes", None)  # the SDK's spans expose theirs; others have nothing to redact
    if not attributes:
        return
    for key in (URL_FULL, HTTP_URL):
        value = attributes.get(key)
        if isinstance(value, str) and (redacted := redact_url(value)) is not value:
            span.set_attribute(key, redacted)


async def async_redact_span_url(span: Span, request: Any) -> None:
    redact_span_url(span, request)


class HTTPXInstrumentors:
    """The contrib instrumentor of each installed client (httpx, httpx2) behind one instrument()/uninstrument()."""

    def __init__(self) -> None:
        from opentelemetry.instrumentation import httpx as contrib

        # Older contrib releases have no httpx2 instrumentor: then only httpx is traced.
        candidates = (("httpx", "HTTPXClientInstrumentor"), ("httpx2", "HTTPX2ClientInstrumentor"))
        self._instrumentors = [
            getattr(contrib, name)() for library, name in candidates if _installed(library) and hasattr(contrib, name)
        ]

    def instrument(self, **kwargs: Any) -> None:
        # One already instrumented (by the application, or another distro's loader) stays as it is.
        self._instrumentors = [i for i in self._instrumentors if not i.is_instrumented_by_opentelemetry]
        for instrumentor in self._instrumentors:
            instrumentor.instrument(
                skip_dep_check=True,
                tracer_provider=kwargs.get("tracer_provider"),
                meter_provider=kwargs.get("meter_provider"),
                request_hook=redact_span_url,
                async_request_hook=async_redact_span_url,
            )

    def uninstrument(self) -> None:
        for instrumentor in self._instrumentors:
            instrumentor.uninstrument()
