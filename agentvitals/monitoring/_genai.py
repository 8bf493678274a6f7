"""The LLM, tool and retrieval series of one generation of GenAI names, as the monitoring queries them.

The GenAI conventions renamed their metrics (semantic-conventions-genai v0.1.0: inference and embeddings
durations, usage counters instead of the token-usage histogram, tool and retrieval durations). An
application emits one generation or the other (``OTEL_SEMCONV_STABILITY_OPT_IN``); the dashboards and rules
must read the same one, so every query about these calls asks a :class:`GenAISeries` built from the
registry's :func:`~agentvitals.metrics.genai_conventions` instead of naming a metric.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentvitals.metrics import GenAIConventions, Instrument, Metric, TokenSeries, genai_conventions
from agentvitals.monitoring._promql import Selector, eq
from agentvitals.monitoring.series import prometheus_label, prometheus_name, series
from agentvitals.semconv import Generation, TokenCount

__all__ = ["GenAISeries", "genai_series"]


def _total(token: TokenSeries) -> Selector:
    """The counter-like series a token count adds up in: a histogram's ``_sum``, a counter's value."""
    histogram = token.metric.instrument is Instrument.HISTOGRAM
    name = series(token.metric, "_sum") if histogram else prometheus_name(token.metric)
    return Selector(name, tuple(eq(prometheus_label(key), value) for key, value in token.selector.items()))


@dataclass(frozen=True)
class GenAISeries:
    """Where one generation records LLM calls, their tokens, tool executions and retrievals."""

    conventions: GenAIConventions

    @property
    def generation(self) -> Generation:
        return self.conventions.generation

    @property
    def inference_duration(self) -> Metric:
        """Chat and other inference calls (latency percentiles, the ``model`` variable)."""
        return self.conventions.inference_duration

    @property
    def call_durations(self) -> tuple[Metric, ...]:
        """Every model call, embeddings included: one histogram in v1.41, two in v0.1.0."""
        inference, embeddings = self.conventions.inference_duration, self.conventions.embeddings_duration
        return (inference,) if embeddings.name == inference.name else (inference, embeddings)

    @property
    def time_to_first_chunk(self) -> Metric:
        return self.conventions.time_to_first_chunk

    @property
    def tool_duration(self) -> Metric:
        return self.conventions.tool_duration

    @property
    def retrieval_duration(self) -> Metric:
        return self.conventions.retrieval_duration

    @property
    def tokens(self) -> tuple[tuple[str, Selector], ...]:
        """(token count, series it adds up in), for input, output, cache read and write, reasoning."""
        return tuple((count.value, _total(token)) for count, token in self.conventions.token_totals.items())

    def token_series(self, count: TokenCount) -> Selector:
        return _total(self.conventions.token_totals[count])


def genai_series(generation: Generation | str) -> GenAISeries:
    return GenAISeries(genai_conventions(generation))
