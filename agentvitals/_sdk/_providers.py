"""The tracer and meter providers ``init()`` uses: the application's own if it has them, else ours.

Order of preference, the same for both signals: a provider passed to ``init()``; the application's
global SDK provider (reused with its exporters: replacing it is refused by OpenTelemetry and would
surprise the application); else a new one that ``init()`` owns, exports over OTLP and shuts down.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from opentelemetry import metrics, trace
from opentelemetry.sdk.environment_variables import (
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_SCHEDULE_DELAY,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult, TraceIdRatioBased

from agentvitals._config import Settings
from agentvitals._redaction import redact_url
from agentvitals._sdk._export import BatchExportProcessor, MetricsPreparer, SpanPreparer, guarded_metric_exporter
from agentvitals._sdk._file_export import OTLPJsonFileExporter, TeeSpanExporter
from agentvitals._sdk._fork import fork_safe_session
from agentvitals.metrics import Instrument, all_metrics

_logger = logging.getLogger("agentvitals")

__all__ = ["Chosen", "RecordEverythingSampler", "meter_provider", "tracer_provider"]

P = TypeVar("P")


class RecordEverythingSampler(Sampler):
    """Parent-based ratio sampling for *export*, while every span is still *recorded*.

    Unsampled spans become RECORD_ONLY instead of DROP: they are never exported, but span processors
    see them, so a task's active/idle split stays exact whatever the trace sampling ratio. Metrics
    are never sampled either.
    """

    def __init__(self, ratio: float) -> None:
        self._inner = ParentBased(TraceIdRatioBased(ratio))

    def should_sample(self, parent_context: Any, trace_id: int, name: str, kind: Any = None,
                      attributes: Any = None, links: Any = None, trace_state: Any = None) -> SamplingResult:
        result = self._inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)
        if result.decision is Decision.DROP:
            return SamplingResult(Decision.RECORD_ONLY, attributes, result.trace_state)
        return result

    def get_description(self) -> str:
        inner: str = self._inner.get_description()  # type: ignore[no-untyped-call]  # untyped in the SDK
        return f"RecordEverything{{{inner}}}"


@dataclass
class Chosen(Generic[P]):
    provider: P
    owned: bool
    """``init()`` created it: it configures, flushes and shuts it down."""


def _choose(explicit: Any, global_provider: Any, sdk_type: type[P], previous: Sequence[Any], what: str,
            create: Callable[[], P]) -> Chosen[P]:
    if explicit is not None:
        return Chosen(explicit, False)
    # A provider a previous init() created may still be the global one after shutdown() (OpenTelemetry
    # forbids replacing it): it is not the application's.
    if isinstance(global_provider, sdk_type) and not any(global_provider is p for p in previous):
        _logger.info("agentvitals: reusing the application's %s and its exporters", what)
        return Chosen(global_provider, False)
    return Chosen(create(), True)


def _otlp_span_exporter(settings: Settings) -> SpanExporter:
    endpoint, headers = settings.endpoint, dict(settings.headers)
    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans

        return GrpcSpans(endpoint=endpoint, headers=headers, insecure=bool(endpoint and endpoint.startswith("http:")))
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans

    return HttpSpans(endpoint=f"{endpoint}/v1/traces", headers=headers, session=fork_safe_session())


def _batch_settings() -> dict[str, float]:
    """The SDK batch processor's variables, honoured by ours (bad values fall back to the SDK's defaults)."""
    chosen: dict[str, float] = {}
    for variable, key, scale, default in ((OTEL_BSP_SCHEDULE_DELAY, "schedule_delay_s", 0.001, 5.0),
                                          (OTEL_BSP_MAX_QUEUE_SIZE, "max_queue_size", 1, 2048),
                                          (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, "max_batch_size", 1, 512)):
        raw = os.environ.get(variable, "").strip()
        try:
            value = float(raw) * scale if raw else default
        except ValueError:
            value = default
        if not value > 0:
            _logger.warning("agentvitals: ignoring %s=%r; using %s", variable, raw, default)
            value = default
        chosen[key] = value if key == "schedule_delay_s" else int(value)
    return chosen


def tracer_provider(settings: Settings, resource: Resource, *, explicit: trace.TracerProvider | None,
                    span_exporter: SpanExporter | None, before_export: Sequence[SpanProcessor],
                    span_processors: Sequence[SpanProcessor], previous: Sequence[Any], prepare: SpanPreparer | None
                    ) -> tuple[Chosen[Any], BatchExportProcessor | None]:
    """The tracer provider, with our export processor when we own it (and something to export to).
    ``before_export`` processors see each span end before it is queued for export; ``span_processors`` after."""

    def create() -> TracerProvider:
        return TracerProvider(resource=resource, sampler=RecordEverythingSampler(settings.sample_ratio),
                              shutdown_on_exit=False)  # our own atexit handler bounds the final flush

    chosen = _choose(explicit, trace.get_tracer_provider(), TracerProvider, previous, "TracerProvider", create)
    if not hasattr(chosen.provider, "add_span_processor"):
        _logger.warning("agentvitals: the TracerProvider is not the OpenTelemetry SDK's: no task accounting")
        return chosen, None
    for processor in before_export:
        chosen.provider.add_span_processor(processor)
    export = None
    # Only a provider of ours gets our exporter; the application's keeps its own, but the trace file it asked
    # init() for is ours to add (and to close at shutdown).
    exporter = None
    if chosen.owned:
        exporter = span_exporter or (_otlp_span_exporter(settings) if settings.traces_export else None)
    target = (settings.endpoint if chosen.owned else None) or (
        type(exporter).__name__ if exporter is not None else settings.trace_file)
    if settings.trace_file:
        file_exporter = OTLPJsonFileExporter(settings.trace_file)
        exporter = TeeSpanExporter(exporter, file_exporter) if exporter is not None else file_exporter
    if exporter is not None:
        export = BatchExportProcessor(exporter, target=redact_url(target or "spans"), prepare=prepare,
                                      **_batch_settings())  # type: ignore[arg-type]
        chosen.provider.add_span_processor(export)
    for processor in span_processors:
        chosen.provider.add_span_processor(processor)
    return chosen, export


def _views() -> list[View]:
    """Bucket boundaries from the registry for every histogram, ours and the contrib ones we enable
    (the SDK's default buckets assume milliseconds; these metrics are in seconds), in both generations of names."""
    return [
        View(instrument_name=metric.name, aggregation=ExplicitBucketHistogramAggregation(list(metric.buckets)))
        for metric in all_metrics()
        if metric.instrument is Instrument.HISTOGRAM and metric.buckets
    ]


def _otlp_metric_reader(settings: Settings, prepare: MetricsPreparer | None) -> tuple[MetricReader, Any]:
    target = redact_url(settings.endpoint or "metric exporter")
    exporter: Any
    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetrics

        exporter = guarded_metric_exporter(GrpcMetrics, target, prepare, endpoint=settings.endpoint,
                                           headers=dict(settings.headers),
                                           insecure=bool(settings.endpoint and settings.endpoint.startswith("http:")))
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetrics

        exporter = guarded_metric_exporter(HttpMetrics, target, prepare, endpoint=f"{settings.endpoint}/v1/metrics",
                                           headers=dict(settings.headers), session=fork_safe_session())
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=settings.metric_export_interval * 1000)
    return reader, exporter


def meter_provider(settings: Settings, resource: Resource, *, explicit: metrics.MeterProvider | None,
                   metric_readers: Sequence[MetricReader], previous: Sequence[Any],
                   prepare: MetricsPreparer | None = None) -> tuple[Chosen[Any], Any]:
    """The meter provider, and the guarded OTLP metric exporter when we own the provider and export
    (``prepare`` applied to what it exports)."""
    exporter = None

    def create() -> MeterProvider:
        nonlocal exporter
        readers = list(metric_readers)
        if settings.metrics_export:
            reader, exporter = _otlp_metric_reader(settings, prepare)
            readers.append(reader)
        return MeterProvider(resource=resource, metric_readers=readers, views=_views(), shutdown_on_exit=False)

    chosen = _choose(explicit, metrics.get_meter_provider(), MeterProvider, previous, "MeterProvider", create)
    return chosen, exporter
