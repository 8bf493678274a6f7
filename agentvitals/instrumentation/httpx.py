"""HTTP client spans through the contrib ``opentelemetry-instrumentation-httpx`` (reused, not rewritten).

It instruments ``httpx`` (openai 2.x) and ``httpx2`` (openai 3.x, anthropic 2.x). An LLM call made
through an instrumented SDK yields our LLM span with the HTTP span as its child; only the LLM span
carries cost, so cost is counted once.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

_logger = logging.getLogger("agentvitals")

__all__ = ["HTTPXInstrumentors"]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


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
            )

    def uninstrument(self) -> None:
        for instrumentor in self._instrumentors:
            instrumentor.uninstrument()
