"""The LLM-call series of each generation of GenAI metric names, as the monitoring reads them.

The GenAI conventions renamed their metrics (semantic-conventions-genai v0.1.0: inference duration,
usage counters instead of the token-usage histogram). An application emits one generation or the
other (``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``); the dashboards and rules must read
the same one, so every query about LLM calls asks a :class:`LLMSeries` instead of naming a metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from agentvitals.attributes import TOKEN_TYPE, TokenType
from agentvitals.metrics import OPERATION_DURATION, TIME_TO_FIRST_CHUNK, TOKEN_USAGE, TOKENS, Metric
from agentvitals.monitoring._promql import Selector, eq
from agentvitals.monitoring.series import prometheus_label, prometheus_name, series
from agentvitals.semconv import GEN_AI_TOKEN_TYPE

__all__ = ["GenAINames", "LLMSeries", "llm_series"]


class GenAINames(str, Enum):
    """A generation of GenAI metric names."""

    CURRENT = "current"
    """Semantic conventions v1.41: what the SDK emits by default."""
    LATEST = "latest"
    """semantic-conventions-genai v0.1.0, behind ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``."""


@dataclass(frozen=True)
class LLMSeries:
    """Where one generation puts LLM-call latency, time to first chunk and token counts."""

    generation: GenAINames
    duration: Metric
    """Histogram of LLM call durations (model calls: chat, completions, embeddings)."""
    time_to_first_chunk: Metric
    tokens: tuple[tuple[str, Selector], ...]
    """(token type, counter-like series of that type's tokens): input, output, cache_read, ..."""

    def token_series(self, token_type: str) -> Selector:
        return dict(self.tokens)[token_type]

    @property
    def inputs(self) -> tuple[str, ...]:
        """The series these queries read (an alert on them is blind if they disappear)."""
        return (series(self.duration, "_count"), *(selector.metric for _, selector in self.tokens))


def _current() -> LLMSeries:
    usage = series(TOKEN_USAGE, "_sum")
    ours = prometheus_name(TOKENS)
    semconv_type, our_type = prometheus_label(GEN_AI_TOKEN_TYPE), prometheus_label(TOKEN_TYPE)
    # Input and output totals are the semconv histogram's sums; the cached and reasoning subsets are ours.
    tokens = (
        ("input", Selector(usage, (eq(semconv_type, "input"),))),
        ("output", Selector(usage, (eq(semconv_type, "output"),))),
        *((kind.value, Selector(ours, (eq(our_type, kind.value),))) for kind in TokenType),
    )
    return LLMSeries(GenAINames.CURRENT, OPERATION_DURATION, TIME_TO_FIRST_CHUNK, tokens)


def llm_series(generation: GenAINames) -> LLMSeries:
    """The LLM series of ``generation``. Raises ValueError for a generation the registry cannot name yet."""
    if generation is GenAINames.CURRENT:
        return _current()
    raise ValueError(f"GenAI names {generation.value!r}: the metric registry does not define them yet")
