"""Puts the router's decision on the LLM spans that carry it out, whoever makes them.

``ModelRouter.choose()`` leaves its decision in a context variable; when an inference span starts in that
context for the decision's model (or for no model yet), it gets ``agentvitals.router.route``, ``.variant``,
``.mode`` and ``.priority``. ``init()`` adds this processor; it imports the SDK, so only ``init()`` imports it.
"""

from __future__ import annotations

import logging

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor

from agentvitals._spans import is_inference
from agentvitals.routing._router import LAST_DECISION
from agentvitals.semconv import GEN_AI_REQUEST_MODEL

_logger = logging.getLogger("agentvitals.routing")

__all__ = ["RoutingSpanProcessor"]


class RoutingSpanProcessor(SpanProcessor):
    """Stamps LLM spans with the router decision made just before them in the same context. Never raises."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        decision = LAST_DECISION.get()
        if decision is None:
            return  # the common path: no router in this context
        try:
            attributes = span.attributes or {}
            if not is_inference(attributes):
                return
            model = attributes.get(GEN_AI_REQUEST_MODEL)
            if model is None or model == decision.model:
                span.set_attributes(decision.span_attributes())
        except Exception:  # deliberate: stamping must never break the caller's span
            _logger.debug("agentvitals: could not stamp the router decision on a span", exc_info=True)
