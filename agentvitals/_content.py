"""What content may reach telemetry: prompts, completions, tool arguments and exception messages.

Off by default. With capture off, exception messages are reduced to the exception type (an API key
echoed in a 401 body or a card number in a tool error must not reach the export); with it on, they are
kept, bounded like every captured text.

Where LLM content goes follows ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``: on the span
(``capture``: ``span_only``, ``true``), on the conventions' ``gen_ai.client.inference.operation.details``
event (``events``: ``event_only``), or both (``span_and_event``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ContentPolicy"]

_TRUNCATED = "…[truncated]"


@dataclass(frozen=True)
class ContentPolicy:
    capture: bool = False
    """Record prompts, completions, tool arguments and results, and exception messages on spans."""
    max_length: int = 2000
    """Characters kept per captured text."""
    events: bool = False
    """Record LLM calls' content on a ``gen_ai.client.inference.operation.details`` event (a span event)."""

    @property
    def collect(self) -> bool:
        """Whether LLM content is read at all (for the span, the event or both)."""
        return self.capture or self.events

    def clip(self, text: str) -> str:
        """Captured content, bounded in length."""
        return text if len(text) <= self.max_length else text[: self.max_length] + _TRUNCATED

    def error_description(self, exc: BaseException) -> str:
        """The span status description for a failure: the exception type, plus its message when capturing."""
        kind = type(exc).__qualname__
        if not self.capture:
            return kind
        message = str(exc)
        return self.clip(f"{kind}: {message}") if message else kind
