"""Typed records that provider instrumentations fill; the lifecycle in ``_lifecycle`` does the rest.

This is also where provider data is validated, once: token counts and costs that are not finite
non-negative numbers in a sane range are rejected here (left absent, and named in ``rejected`` so the
lifecycle marks the call, counts and logs it), and finish reasons are kept bounded, whatever a provider,
a gateway or a hostile stream sends.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

MAX_TOKENS: Final = 1_000_000_000
"""The most tokens one count of one call may hold. No model reads or writes a billion tokens in one call; a
larger count is corrupt data (and one above 2^63 would make the whole metric export fail)."""
MAX_FINISH_REASONS: Final = 16
"""Finish reasons kept per call: one per choice, and a call with more choices than this is not one we chart."""
MAX_FINISH_REASON_LENGTH: Final = 64


def token_count(value: object) -> int | None:
    """``value`` as a token count if it is one (an integer, or an integral float, in 0..MAX_TOKENS), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_TOKENS else None
    if isinstance(value, float) and value.is_integer() and 0 <= value <= MAX_TOKENS:
        return int(value)
    return None


def cost_usd(value: object) -> float | None:
    """``value`` as a cost in USD if it is a finite non-negative number, else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value)
    return None


def finish_reason(value: object) -> str | None:
    """A finish reason if ``value`` is a non-empty string (clipped to a sane length), else None."""
    return value[:MAX_FINISH_REASON_LENGTH] if isinstance(value, str) and value else None


def finish_reasons(values: object) -> tuple[str, ...]:
    """The finish reasons of a whole response (one per choice), bounded."""
    if not isinstance(values, (list, tuple)):
        return ()
    kept = (finish_reason(value) for value in values[:MAX_FINISH_REASONS])
    return tuple(reason for reason in kept if reason is not None)
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
    rejected: tuple[str, ...] = ()
    """Fields the provider reported with a value that is not a token count (``usage.input_tokens``, ...): left
    absent above, never counted."""

    @classmethod
    def of(cls, *, input_tokens: object = None, output_tokens: object = None, cache_read_tokens: object = None,
           cache_write_tokens: object = None, reasoning_tokens: object = None) -> Usage:
        """Usage from the values a provider reported (``None``: not reported), each validated."""
        reported = {"input_tokens": input_tokens, "output_tokens": output_tokens,
                    "cache_read_tokens": cache_read_tokens, "cache_write_tokens": cache_write_tokens,
                    "reasoning_tokens": reasoning_tokens}
        counts = {name: token_count(value) for name, value in reported.items()}
        rejected = tuple(f"usage.{name}" for name, value in reported.items()
                         if value is not None and counts[name] is None)
        return cls(**counts, rejected=rejected)

    @property
    def reported(self) -> bool:
        """Something was reported, valid or not."""
        return self.input_tokens is not None or self.output_tokens is not None or bool(self.rejected)

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
    rejected: tuple[str, ...] = ()
    """Fields of the response (beyond usage) that held invalid values: left absent, never counted."""
    unparsed_usage: tuple[Callable[[Any], Usage | None], Any] | None = None
    """A stream's running usage as the provider sent it, and how to read it: parsed once, when the stream ends
    (:meth:`settle_usage`), for providers that repeat the usage so far on every chunk (Gemini)."""

    def settle_usage(self) -> None:
        """Parse the running usage a stream kept (the last one reported), if any."""
        unparsed, self.unparsed_usage = self.unparsed_usage, None
        if unparsed is not None:
            parse, raw = unparsed
            self.usage = parse(raw) or self.usage

    def set_provider_cost(self, value: object) -> None:
        """The provider's or gateway's own cost, if ``value`` is one (``None``: none reported)."""
        if value is None:
            return
        cost = cost_usd(value)
        if cost is None:
            if "provider_cost" not in self.rejected:
                self.rejected = (*self.rejected, "provider_cost")
        else:
            self.provider_cost_usd = cost

    @property
    def all_rejected(self) -> tuple[str, ...]:
        """Every field rejected, the usage's included."""
        return (*self.rejected, *(self.usage.rejected if self.usage is not None else ()))


def non_negative_int(value: object) -> int | None:
    """``value`` if it is a non-negative int (bools excluded), else ``None``: bad provider data is dropped."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def non_empty_str(value: object) -> str | None:
    """``value`` if it is a non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None
