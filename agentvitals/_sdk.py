"""``init()``/``shutdown()``: the only module that configures the OpenTelemetry SDK and exporters.

Instrumentation code never imports this; it uses the API through :class:`~agentvitals._telemetry.Telemetry`.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult, TraceIdRatioBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from agentvitals import environment_variables as env
from agentvitals import instrumentation, names
from agentvitals._accounting import WaitAccountingProcessor
from agentvitals._aggregation import InProcessMetrics, supports
from agentvitals._config import Settings, resolve_settings
from agentvitals._export import (
    CountingBatchSpanProcessor,
    ExporterLogFilter,
    GuardedMetricExporter,
    GuardedSpanExporter,
)
from agentvitals._pricing import load_price_table
from agentvitals._telemetry import Telemetry, activate, deactivate
from agentvitals._version import __version__

_logger = logging.getLogger("agentvitals")

__all__ = ["init", "shutdown"]


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
        return f"RecordEverything{{{self._inner.get_description()}}}"


@dataclass
class _Runtime:
    settings: Settings
    telemetry: Telemetry
    tracer_provider: Any
    meter_provider: Any
    owns_tracer_provider: bool
    owns_meter_provider: bool
    exporters: list[Any] = field(default_factory=list)
    log_filter: ExporterLogFilter | None = None


_runtime: _Runtime | None = None
# Providers a previous init() created: after shutdown() the global may still be one of them (OpenTelemetry
# forbids replacing it), and it must not be mistaken for the application's own provider on re-init.
_ours: list[Any] = []
_lock = threading.Lock()
_atexit_registered = False


def _otlp_exporters(settings: Settings) -> tuple[SpanExporter | None, Any]:
    endpoint, headers = settings.endpoint, dict(settings.headers)
    span_exporter = metric_exporter = None
    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetrics
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans

        insecure = endpoint is not None and endpoint.startswith("http://")
        if settings.traces_export:
            span_exporter = GrpcSpans(endpoint=endpoint, headers=headers, insecure=insecure)
        if settings.metrics_export:
            metric_exporter = GrpcMetrics(endpoint=endpoint, headers=headers, insecure=insecure)
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetrics
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans

        if settings.traces_export:
            span_exporter = HttpSpans(endpoint=f"{endpoint}/v1/traces", headers=headers)
        if settings.metrics_export:
            metric_exporter = HttpMetrics(endpoint=f"{endpoint}/v1/metrics", headers=headers)
    return span_exporter, metric_exporter


def _views() -> list[View]:
    """Bucket boundaries from the registry for every histogram, ours and the contrib ones we enable
    (the SDK's default buckets assume milliseconds; these metrics are in seconds)."""
    return [
        View(instrument_name=metric.name, aggregation=ExplicitBucketHistogramAggregation(list(metric.buckets)))
        for metric in names.METRICS
        if metric.instrument is names.Instrument.HISTOGRAM and metric.buckets
    ]


def _opt_into_stable_database_conventions() -> None:
    """Contrib DB instrumentations emit the stable DB conventions (db.system.name, db.query.text and the
    db.client.operation.duration metric) only when asked through this variable; it is read once, when
    the first of them instruments, so it is set before any does. A value the user set is kept."""
    current = os.environ.get(env.OTEL_SEMCONV_STABILITY_OPT_IN, "")
    categories = {part.strip() for part in current.split(",") if part.strip()}
    if not categories & {"database", "database/dup"}:
        os.environ[env.OTEL_SEMCONV_STABILITY_OPT_IN] = ",".join(sorted(categories | {"database"}))


def init(
    service_name: str | None = None,
    *,
    endpoint: str | bool | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    sample_ratio: float | None = None,
    metric_export_interval: float | None = None,
    capture_content: bool | None = None,
    content_max_length: int | None = None,
    pricing: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
    instrumentations: Sequence[str] | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
    span_exporter: SpanExporter | None = None,
    span_processors: Sequence[SpanProcessor] = (),
    metric_readers: Sequence[MetricReader] = (),
) -> Settings:
    """Set up tracing, metrics and auto-instrumentation in one call. Idempotent; never touches the network.

    Every argument is optional; an explicit argument beats the matching ``OTEL_*`` variable, which
    beats the default (see :mod:`agentvitals.environment_variables`).

    Args:
        service_name: ``service.name`` of this process.
        endpoint: OTLP base URL (``http://collector:4318``); ``False`` turns export off.
        protocol: ``http/protobuf`` (default) or ``grpc``.
        headers: OTLP headers (e.g. auth); never recorded in telemetry.
        resource_attributes: Extra resource attributes.
        sample_ratio: Fraction of traces exported (parent-based). Metrics are never sampled.
        metric_export_interval: Seconds between metric exports.
        capture_content: Record prompts, completions and tool arguments (off by default).
        content_max_length: Characters kept per captured content attribute.
        pricing: Price overrides, ``{provider: {model: {input, output, cache_read, cache_write}}}``
            in USD per 1M tokens, matched before the bundled table.
        instrumentations: Names to enable (default: all whose library is installed):
            ``openai``, ``anthropic``, ``httpx`` (httpx and httpx2), ``sqlite3``, ``psycopg``, ``psycopg2``,
            ``pymysql``, ``redis``, ``chromadb``, ``qdrant``, ``langchain``, ``mcp``, ``threading``, and ``gpu``
            (NVML gauges, when NVML loads).
        tracer_provider, meter_provider: Use these instead of creating (or reusing global) ones.
        span_exporter: Export spans here instead of OTLP (e.g. an in-memory exporter in tests).
        span_processors: Extra span processors, added after the exporter's (they see every span).
        metric_readers: Extra metric readers (e.g. an in-memory reader in tests).

    Returns:
        The resolved settings.

    Raises:
        ConfigError: an argument is invalid (one message lists every problem).
    """
    global _runtime, _atexit_registered
    with _lock:
        settings = resolve_settings(
            service_name=service_name, endpoint=endpoint, protocol=protocol, headers=headers,
            resource_attributes=resource_attributes, sample_ratio=sample_ratio,
            metric_export_interval=metric_export_interval, capture_content=capture_content,
            content_max_length=content_max_length,
            instrumentations=list(instrumentations) if instrumentations is not None else None,
        )
        price_table = load_price_table(pricing, os.environ.get(env.AGENTVITALS_PRICES) or None)
        if _runtime is not None:
            _logger.warning("agentvitals: init() called again; keeping the first configuration "
                            "(call agentvitals.shutdown() first to re-initialise)")
            return _runtime.settings
        if os.environ.get(env.OTEL_SDK_DISABLED, "").strip().lower() == "true":
            _logger.info("agentvitals: OTEL_SDK_DISABLED=true; telemetry is off")
            return settings

        resource = Resource.create({"service.name": settings.service_name, **settings.resource_attributes})
        exporters: list[Any] = []
        otlp_spans, otlp_metrics = _otlp_exporters(settings) if settings.endpoint is not None else (None, None)

        # Traces: an explicit provider, else the application's own SDK provider, else ours.
        tp: Any = tracer_provider
        owns_tp = False
        if tp is None:
            global_tp = trace.get_tracer_provider()
            if isinstance(global_tp, TracerProvider) and not any(global_tp is p for p in _ours):
                tp = global_tp
                _logger.info("agentvitals: reusing the application's TracerProvider and its exporters")
            else:
                tp = TracerProvider(resource=resource, sampler=RecordEverythingSampler(settings.sample_ratio))
                owns_tp = True
        if owns_tp:
            chosen = span_exporter or otlp_spans
            if chosen is not None:
                target = settings.endpoint or "span exporter"
                guarded = GuardedSpanExporter(chosen, target)
                batch = CountingBatchSpanProcessor(guarded)
                exporters.extend((guarded, batch))
                tp.add_span_processor(batch)
        waits = WaitAccountingProcessor()
        if hasattr(tp, "add_span_processor"):
            tp.add_span_processor(waits)
            for processor in span_processors:
                tp.add_span_processor(processor)

        # Metrics: same order of preference.
        mp: Any = meter_provider
        owns_mp = False
        in_process: InProcessMetrics | None = None
        if mp is None:
            global_mp = metrics.get_meter_provider()
            if isinstance(global_mp, MeterProvider) and not any(global_mp is p for p in _ours):
                mp = global_mp
                _logger.info("agentvitals: reusing the application's MeterProvider and its readers")
            else:
                readers = list(metric_readers)
                if otlp_metrics is not None:
                    guarded_metrics = GuardedMetricExporter(otlp_metrics, settings.endpoint or "metric exporter")
                    exporters.append(guarded_metrics)
                    readers.append(PeriodicExportingMetricReader(
                        guarded_metrics, export_interval_millis=settings.metric_export_interval * 1000
                    ))
                mp = MeterProvider(resource=resource, metric_readers=readers, views=_views())
                owns_mp = True
                if supports(readers):
                    in_process = InProcessMetrics(
                        InstrumentationScope(names.INSTRUMENTATION_SCOPE, __version__, names.SCHEMA_URL), resource
                    )
                    in_process.attach(readers)

        _ours.extend(p for p, owned in ((tp, owns_tp), (mp, owns_mp)) if owned)
        if owns_tp and not isinstance(trace.get_tracer_provider(), TracerProvider):
            trace.set_tracer_provider(tp)
        if owns_mp and not isinstance(metrics.get_meter_provider(), MeterProvider):
            metrics.set_meter_provider(mp)

        telemetry = Telemetry(
            tracer_provider=tp, meter_provider=mp, pricing=price_table,
            capture_content=settings.capture_content, content_max_length=settings.content_max_length,
            waits=waits, in_process=in_process,
        )
        if exporters:
            telemetry.observe_drops(lambda: _drops(exporters))
        activate(telemetry)
        # "gpu" names NVML gauges, not a library to patch: started here, not by instrumentation.enable.
        wanted = settings.instrumentations
        if wanted is None or "gpu" in wanted:
            from agentvitals._gpu import start_gpu_metrics

            start_gpu_metrics(mp)
        libraries = None if wanted is None else [name for name in wanted if name != "gpu"]
        _opt_into_stable_database_conventions()
        instrumentation.enable(libraries, telemetry=telemetry, tracer_provider=tp, meter_provider=mp)
        log_filter = None
        if exporters:
            log_filter = ExporterLogFilter()
            log_filter.install()
        _runtime = _Runtime(settings, telemetry, tp, mp, owns_tp, owns_mp, exporters, log_filter)
        if not _atexit_registered:
            atexit.register(shutdown)
            _atexit_registered = True
        _logger.debug("agentvitals: initialised %s", settings)
        return settings


def shutdown(timeout_s: float = 5.0) -> None:
    """Flush and stop what ``init()`` started, and undo every patch. Safe to call more than once."""
    global _runtime
    with _lock:
        runtime, _runtime = _runtime, None
        instrumentation.disable_all()
        deactivate()
        if runtime is None:
            return
        for provider, owned in ((runtime.tracer_provider, runtime.owns_tracer_provider),
                                (runtime.meter_provider, runtime.owns_meter_provider)):
            try:
                if owned:
                    provider.shutdown()
                elif hasattr(provider, "force_flush"):
                    provider.force_flush(int(timeout_s * 1000))
            except Exception:  # deliberate: shutdown at exit must not raise
                _logger.debug("agentvitals: error during shutdown", exc_info=True)
        if runtime.log_filter is not None:
            runtime.log_filter.remove()


def force_flush(timeout_s: float = 5.0) -> bool:
    """Export everything buffered now (spans and metrics). Returns False if it timed out."""
    runtime = _runtime
    if runtime is None:
        return True
    ok = True
    for provider in (runtime.tracer_provider, runtime.meter_provider):
        if hasattr(provider, "force_flush"):
            ok = bool(provider.force_flush(int(timeout_s * 1000))) and ok
    return ok


def _stats(exporters: Sequence[Any]) -> dict[str, int]:
    stats = {"dropped_spans": 0, "dropped_spans_queue_full": 0, "failed_metric_exports": 0}
    for exporter in exporters:
        for key, value in exporter.stats().items():
            stats[key] = stats.get(key, 0) + value
    return stats


def _drops(exporters: Sequence[Any]) -> dict[tuple[str, str], int]:
    stats = _stats(exporters)
    return {("spans", "export_failed"): stats["dropped_spans"],
            ("spans", "queue_full"): stats["dropped_spans_queue_full"],
            ("metrics", "export_failed"): stats["failed_metric_exports"]}


def export_stats() -> dict[str, int]:
    """Telemetry dropped so far: spans whose export failed, spans dropped because the export queue was
    full, metric exports that failed. Also exported as the ``agentvitals.telemetry.dropped`` counter."""
    runtime = _runtime
    return _stats(runtime.exporters if runtime is not None else ())
