"""Typed records that provider instrumentations fill; the lifecycle in ``_invocation`` does the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage of one LLM call, normalised to the inclusive convention of GenAI semconv v1.41.

    ``input_tokens`` counts *all* input tokens, cached ones included, so
    ``input_tokens >= cache_read_tokens + cache_write_tokens``. ``reasoning_tokens`` are part of
    ``output_tokens``, never added again. Providers report differently; their instrumentations
    convert before building this record:

    * OpenAI (and Gemini): ``prompt_tokens`` already includes ``cached_tokens``; no cache writes.
    * Anthropic (and Bedrock): ``input_tokens`` excludes cache reads and writes, which are reported
      on top, so input = input_tokens + cache_read_input_tokens + cache_creation_input_tokens.

    A field is ``None`` when the provider did not report it (never invented).
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None

    @property
    def uncached_input_tokens(self) -> int:
        return max((self.input_tokens or 0) - (self.cache_read_tokens or 0) - (self.cache_write_tokens or 0), 0)


@dataclass(slots=True)
class LLMResponse:
    """What a provider response tells us. Every field is optional: a malformed response fills fewer."""

    model: str | None = None
    response_id: str | None = None
    finish_reasons: tuple[str, ...] = ()
    usage: Usage | None = None
    provider_cost_usd: float | None = None
    """Cost returned by the provider or gateway itself (passed through as ``source=provider``)."""
    output_text: str | None = None
    """Only kept when content capture is on; recorded as one assistant text message when
    ``output_messages`` is empty."""
    output_messages: list[dict[str, Any]] = field(default_factory=list)
    """One message per choice in the conventions' form (:mod:`agentvitals._messages`); only filled when
    content capture is on."""
    attributes: dict[str, Any] = field(default_factory=dict)
    """Other response attributes the provider mapped (``openai.response.service_tier``, ...). Those the
    registry lists as metric labels also label the call's GenAI metrics."""


def non_negative_int(value: object) -> int | None:
    """``value`` if it is a non-negative int (bools excluded), else ``None``: bad provider data is dropped."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def non_empty_str(value: object) -> str | None:
    """``value`` if it is a non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None
