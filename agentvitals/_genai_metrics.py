"""The conventions' client metrics of one generation, and how an LLM call's results are recorded onto them.

This is where the two generations differ for metrics; callers say what happened (a duration, a first
chunk, a usage, a failure) and never which names apply:

* v1.41: one duration histogram for every operation; ``gen_ai.client.token.usage`` by ``gen_ai.token.type``
  for input and output; cache and reasoning counts on ``agentvitals.llm.tokens``. Failed calls and calls
  without usage record no tokens.
* v0.1.0: inference and embeddings durations apart; usage counters by ``gen_ai.token.modality`` (``unknown``:
  no provider we instrument breaks usage down by modality), to which a failed call or one without usage
  adds 0 input and 0 output tokens; per-call token histograms that skip failed calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context

from agentvitals._records import Usage
from agentvitals.attributes import TOKEN_TYPE
from agentvitals.metrics import GenAIConventions, Metric
from agentvitals.semconv import GEN_AI_TOKEN_MODALITY, GEN_AI_TOKEN_TYPE, Operation, TokenCount, TokenModality

__all__ = ["GenAIInstruments"]

# Every LLM call records through here: enum members and their values are read once, at import (in Python 3.11
# reading ``TokenCount.INPUT`` goes through the enum's class and ``.value`` through a Python-level property).
_INPUT, _OUTPUT, _CACHE_READ, _CACHE_WRITE, _REASONING = (TokenCount.INPUT, TokenCount.OUTPUT, TokenCount.CACHE_READ,
                                                          TokenCount.CACHE_WRITE, TokenCount.REASONING)
_INPUT_OUTPUT = ((_INPUT, _INPUT.value), (_OUTPUT, _OUTPUT.value))
_EXTRA_COUNTS = tuple((count, count.value) for count in (_CACHE_READ, _CACHE_WRITE, _REASONING))
_EMBEDDINGS = Operation.EMBEDDINGS.value
_UNKNOWN_MODALITY = TokenModality.UNKNOWN.value


def _counts(usage: Usage) -> dict[TokenCount, int | None]:
    return {
        _INPUT: usage.input_tokens,
        _OUTPUT: usage.output_tokens,
        _CACHE_READ: usage.cache_read_tokens,
        _CACHE_WRITE: usage.cache_write_tokens,
        _REASONING: usage.reasoning_tokens,
    }


class GenAIInstruments:
    """The API instruments of one generation's GenAI metrics (one instrument per metric name)."""

    def __init__(self, conventions: GenAIConventions, create: Callable[[Metric], Any]) -> None:
        """``create`` makes the instrument of a registry metric."""
        self.conventions = conventions
        made: dict[str, Any] = {}

        def instrument(metric: Metric) -> Any:
            if metric.name not in made:
                made[metric.name] = create(metric)
            return made[metric.name]

        self._inference_duration = instrument(conventions.inference_duration)
        self._embeddings_duration = instrument(conventions.embeddings_duration)
        self._first_chunk = instrument(conventions.time_to_first_chunk)
        self.tool_duration = instrument(conventions.tool_duration)
        self.retrieval_duration = instrument(conventions.retrieval_duration)
        self.agent_duration = instrument(conventions.agent_duration) if conventions.agent_duration else None
        self._token_usage = instrument(conventions.token_usage) if conventions.token_usage else None
        self._extra_tokens = instrument(conventions.extra_tokens) if conventions.extra_tokens else None
        self._usage = {count: instrument(metric) for count, metric in conventions.usage_counters.items()}
        self._per_call = {} if conventions.token_usage else {
            count: instrument(series.metric) for count, series in conventions.token_distribution.items()}
        self._embeddings_tokens = None if conventions.token_usage else instrument(
            conventions.embeddings_input_tokens.metric)

    def record_duration(self, operation: str, seconds: float, labels: Mapping[str, Any],
                        context: otel_context.Context) -> None:
        histogram = self._embeddings_duration if operation == _EMBEDDINGS else self._inference_duration
        histogram.record(seconds, labels, context=context)

    def record_first_chunk(self, seconds: float, labels: Mapping[str, Any], context: otel_context.Context) -> None:
        self._first_chunk.record(seconds, labels, context=context)

    def record_usage(self, operation: str, usage: Usage | None, labels: Mapping[str, Any],
                     own_labels: Mapping[str, Any], *, failed: bool, context: otel_context.Context) -> None:
        """Record a call's token counts. ``labels`` are the conventions' metric labels (no ``error.type``),
        ``own_labels`` those of ``agentvitals.llm.tokens``."""
        counts = _counts(usage) if usage is not None and not failed else {}
        if self._token_usage is not None:
            self._record_v1_41(counts, labels, own_labels, context)
        elif operation == _EMBEDDINGS:
            if self._embeddings_tokens is not None and counts.get(_INPUT) is not None:
                self._embeddings_tokens.record(counts[_INPUT], labels, context=context)
        else:
            self._record_latest(counts, labels, context)

    def _record_v1_41(self, counts: Mapping[TokenCount, int | None], labels: Mapping[str, Any],
                      own_labels: Mapping[str, Any], context: otel_context.Context) -> None:
        assert self._token_usage is not None
        for count, token_type in _INPUT_OUTPUT:
            value = counts.get(count)
            if value is not None:
                self._token_usage.record(value, {**labels, GEN_AI_TOKEN_TYPE: token_type}, context=context)
        if self._extra_tokens is not None:  # input and output totals are the histogram's _sum
            for count, token_type in _EXTRA_COUNTS:
                value = counts.get(count)
                if value:
                    self._extra_tokens.add(value, {**own_labels, TOKEN_TYPE: token_type}, context=context)

    def _record_latest(self, counts: Mapping[TokenCount, int | None], labels: Mapping[str, Any],
                       context: otel_context.Context) -> None:
        by_modality = {**labels, GEN_AI_TOKEN_MODALITY: _UNKNOWN_MODALITY}
        for count, counter in self._usage.items():
            value = counts.get(count)
            if value is None and (count is _INPUT or count is _OUTPUT):
                value = 0  # every inference adds to the input and output counters, failed or without usage
            if value is not None:
                counter.add(value, by_modality, context=context)
        for count, histogram in self._per_call.items():
            value = counts.get(count)
            if value is not None:
                histogram.record(value, labels, context=context)
