"""Shared fixtures: in-memory span exporter and metric reader behind a real ``agentvitals.init()``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentvitals
from agentvitals._sdk import RecordEverythingSampler
from tests.fake_llm import FakeLLMServer

# Tests that need an environment of their own (tests/envs/<name>/, see its README) are collected only when
# that environment runs them (tests/test_test_envs.py sets AGENTVITALS_TEST_ENV=<name>).
collect_ignore_glob = [] if os.environ.get("AGENTVITALS_TEST_ENV") else ["envs/*"]

# The contrib DB instrumentations emit the stable DB conventions only when the application opts in, as a
# user would; without it, agentvitals records db.client.operation.duration from their spans (tested in a
# subprocess in test_databases). Read once per process, so set before any instrumentation loads.
_TEST_ONLY_OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN" not in os.environ
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "database")


def subprocess_environ(**extra: str) -> dict[str, str]:
    """The environment for a program under test: as a user's, without the opt-in above (unless theirs)."""
    environ = dict(os.environ)
    if _TEST_ONLY_OPT_IN:
        environ.pop("OTEL_SEMCONV_STABILITY_OPT_IN", None)
    return {**environ, **extra}


class SpanLedger(SpanProcessor):
    """Knows which spans started and have not ended: instrumentation must leave none open."""

    def __init__(self) -> None:
        self.open: dict[int, str] = {}

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.open[span.context.span_id] = span.name

    def on_end(self, span: ReadableSpan) -> None:
        self.open.pop(span.context.span_id, None)


@dataclass
class Telemetry:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    ledger: SpanLedger

    def spans(self, name_prefix: str = "") -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if s.name.startswith(name_prefix)]

    def span(self, name_prefix: str) -> ReadableSpan:
        found = self.spans(name_prefix)
        all_names = [s.name for s in self.exporter.get_finished_spans()]
        assert len(found) == 1, f"expected one span {name_prefix!r}, got {all_names}"
        return found[0]

    def points(self, metric: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found = []
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == metric:
                        found.extend(m.data.data_points)
        return found

    def total(self, metric: str, **attributes: Any) -> float:
        """Sum of a counter (or a histogram's sum) over points whose attributes include ``attributes``."""
        total = 0.0
        for point in self.points(metric):
            if all(point.attributes.get(k.replace("__", ".")) == v for k, v in attributes.items()):
                total += getattr(point, "value", None) if hasattr(point, "value") else point.sum
        return total


def make_telemetry(capture_content: bool = False, **init_kwargs: Any) -> Telemetry:
    exporter = InMemorySpanExporter()
    reader = InMemoryMetricReader()
    tracer_provider = TracerProvider(sampler=RecordEverythingSampler(1.0))
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    ledger = SpanLedger()
    tracer_provider.add_span_processor(ledger)
    # init() makes the MeterProvider, as in production.
    agentvitals.init(
        "test-service",
        endpoint=False,
        tracer_provider=tracer_provider,
        metric_readers=[reader],
        capture_content=capture_content,
        **init_kwargs,
    )
    return Telemetry(exporter, reader, tracer_provider, ledger)


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    env = make_telemetry()
    yield env
    agentvitals.shutdown()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server
