"""HTTP client spans through the contrib ``opentelemetry-instrumentation-httpx`` (reused, not rewritten).

It instruments ``httpx`` (openai 2.x) and ``httpx2`` (openai 3.x, anthropic 2.x). An LLM call made
through an instrumented SDK yields our LLM span with the HTTP span as its child; only the LLM span
carries cost, so cost is counted once.
"""

from __future__ import annotations

import logging
from typing import Any

_logger = logging.getLogger("agentvitals")

__all__ = ["HTTPXInstrumentors"]


class HTTPXInstrumentors:
    """Both contrib instrumentors behind one instrument()/uninstrument() pair."""

    def __init__(self) -> None:
        # Importing the contrib module imports httpx and httpx2 themselves, if installed.
        from opentelemetry.instrumentation import httpx as contrib

        self._instrumentors = [
            cls() for module, cls in ((contrib._httpx_module, contrib.HTTPXClientInstrumentor),
                                      (contrib._httpx2_module, contrib.HTTPX2ClientInstrumentor))
            if module is not None
        ]

    def instrument(self, **kwargs: Any) -> None:
        for instrumentor in self._instrumentors:
            instrumentor.instrument(
                skip_dep_check=True,
                tracer_provider=kwargs.get("tracer_provider"),
                meter_provider=kwargs.get("meter_provider"),
            )

    def uninstrument(self) -> None:
        for instrumentor in self._instrumentors:
            instrumentor.uninstrument()
