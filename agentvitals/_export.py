"""Exporter guards: export failures become counts and one clear log line, never an exception or a flood.

The SDK's batch processor already exports on its own thread with a bounded queue, so callers never
block on the network; these wrappers make the failures visible (counted, logged once per outage).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

_logger = logging.getLogger("agentvitals")

__all__ = ["CountingBatchSpanProcessor", "ExporterLogFilter", "GuardedMetricExporter", "GuardedSpanExporter"]

_EXPORTER_LOGGERS = (
    "opentelemetry.sdk._shared_internal",  # "Queue full, dropping span", once per dropped span
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
)
_REPEATED_FAILURES = ("Transient error", "Failed to export", "Queue full")


class ExporterLogFilter(logging.Filter):
    """Drops the OTLP exporters' per-retry failure lines while init() is active; the guards below
    report each outage once instead (and count what it cost)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not any(fragment in message for fragment in _REPEATED_FAILURES)

    def install(self) -> None:
        for name in _EXPORTER_LOGGERS:
            logging.getLogger(name).addFilter(self)

    def remove(self) -> None:
        for name in _EXPORTER_LOGGERS:
            logging.getLogger(name).removeFilter(self)


class _Outage:
    """Logs the first failure of an outage and the recovery, counting what was lost in between."""

    def __init__(self, what: str, target: str) -> None:
        self._what = what
        self._target = target
        self._down = False
        self._lost_in_outage = 0
        self._lock = threading.Lock()

    def failed(self, lost: int, reason: str) -> None:
        with self._lock:
            self._lost_in_outage += lost
            if self._down:
                return
            self._down = True
        _logger.warning("agentvitals: cannot export %s to %s (%s); dropping and counting them until it is reachable",
                        self._what, self._target, reason)

    def succeeded(self) -> None:
        with self._lock:
            if not self._down:
                return
            self._down, lost, self._lost_in_outage = False, self._lost_in_outage, 0
        _logger.warning("agentvitals: export of %s to %s resumed; %d were dropped meanwhile", self._what, self._target,
                        lost)


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """The SDK's batch processor (a bounded queue, exported on its own thread, so the caller never waits
    on the network), counting the spans it drops when the queue is full.

    A full queue is not an export failure (the exporter may be healthy but outpaced), so it has its own
    log line: the first drop, then at most one summary a minute."""

    LOG_INTERVAL_S = 60.0

    def __init__(self, exporter: SpanExporter) -> None:
        super().__init__(exporter)
        self.dropped_queue_full = 0
        self._logged_at = -self.LOG_INTERVAL_S
        self._logged_count = 0
        batch = getattr(self, "_batch_processor", None)
        self._queue = getattr(batch, "_queue", None)
        self._capacity = getattr(batch, "_max_queue_size", None)

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled and self._queue is not None:
            if len(self._queue) >= (self._capacity or 0):
                self.dropped_queue_full += 1
                now = time.monotonic()
                if now - self._logged_at >= self.LOG_INTERVAL_S:
                    _logger.warning("agentvitals: span export queue full (%s spans); %d spans dropped and counted "
                                    "so far", self._capacity, self.dropped_queue_full)
                    self._logged_at = now
        super().on_end(span)

    def stats(self) -> dict[str, int]:
        return {"dropped_spans_queue_full": self.dropped_queue_full}


class GuardedSpanExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, target: str) -> None:
        self._inner = inner
        self.outage = _Outage("spans", target)
        self.dropped_spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._inner.export(spans)
            reason = "exporter returned FAILURE"
        except Exception as exc:  # deliberate: an exporter bug must not kill the export thread
            result, reason = SpanExportResult.FAILURE, f"{type(exc).__name__}: {exc}"
        if result is SpanExportResult.SUCCESS:
            self.outage.succeeded()
        else:
            self.dropped_spans += len(spans)
            self.outage.failed(len(spans), reason)
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self._inner.force_flush(timeout_millis))

    def stats(self) -> dict[str, int]:
        return {"dropped_spans": self.dropped_spans}


class GuardedMetricExporter(MetricExporter):
    def __init__(self, inner: MetricExporter, target: str) -> None:
        super().__init__(
            preferred_temporality=getattr(inner, "_preferred_temporality", None),
            preferred_aggregation=getattr(inner, "_preferred_aggregation", None),
        )
        self._inner = inner
        self._outage = _Outage("metrics", target)
        self.failed_exports = 0

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        try:
            result = self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
            reason = "exporter returned FAILURE"
        except Exception as exc:  # deliberate: see GuardedSpanExporter
            result, reason = MetricExportResult.FAILURE, f"{type(exc).__name__}: {exc}"
        if result is MetricExportResult.SUCCESS:
            self._outage.succeeded()
        else:
            self.failed_exports += 1
            self._outage.failed(1, reason)
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return bool(self._inner.force_flush(timeout_millis))

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)

    def stats(self) -> dict[str, int]:
        return {"failed_metric_exports": self.failed_exports}
