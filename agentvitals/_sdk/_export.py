"""Span and metric export for the providers ``init()`` creates: never blocks the caller, never holds the exit.

:class:`BatchExportProcessor` is a batching span processor like the SDK's, written against the public
``SpanProcessor``/``SpanExporter`` interfaces because it must do three things the SDK's does not expose:

* count every span it loses, by cause (``queue_full``, ``export_failed``, ``deadline``): the
  ``agentvitals.telemetry.dropped`` counter and :func:`agentvitals.export_stats` report them;
* stop at a deadline: :meth:`BatchExportProcessor.close` exports what it can until then and counts the
  rest, whatever the Collector does (closed port, blackhole, 503s, a slow reply);
* keep working in a forked child (``multiprocessing`` fork, pre-fork servers): the queue, the worker
  thread and the locks are re-created after ``os.fork()`` (see :mod:`._fork`).

Before export each span may be passed through ``prepare`` (a filter that returns the span to export,
possibly with attributes removed or redacted), on the export thread, not the caller's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanContext

from agentvitals._sdk import _fork

_logger = logging.getLogger("agentvitals")

__all__ = ["BatchExportProcessor", "ExporterLogFilter", "MetricExportGuard", "MetricsPreparer", "SpanPreparer",
           "copy_span", "guarded_metric_exporter"]

SpanPreparer = Callable[[ReadableSpan], ReadableSpan | None]
"""What a span is exported as (``None``: not exported)."""
MetricsPreparer = Callable[[MetricsData], MetricsData]

_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.http",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
)
_REPEATED_FAILURES = ("Transient error", "Failed to export", "Queue full", "exporting", "Exporter already shutdown",
                      "Shutdown in progress")


def copy_span(span: ReadableSpan, *, attributes: Mapping[str, Any], parent: SpanContext | None,
              **changes: Any) -> ReadableSpan:
    """A copy of an ended span with other attributes and parent (an ended span cannot be changed; a copy is
    exported); ``changes`` replace other fields (``name``, ``events``, ``status``)."""
    fields: dict[str, Any] = {
        "name": span.name, "context": span.context, "parent": parent, "resource": span.resource,
        "attributes": attributes, "events": span.events, "links": span.links, "kind": span.kind,
        "status": span.status, "start_time": span.start_time, "end_time": span.end_time,
        "instrumentation_scope": span.instrumentation_scope,
    }
    fields.update(changes)
    return ReadableSpan(**fields)


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
        self.silenced = False
        """Set once the exit deadline has passed: what an abandoned export does later is already counted."""
        self._lost_in_outage = 0
        self._lock = threading.Lock()

    def failed(self, lost: int, reason: str) -> None:
        with self._lock:
            self._lost_in_outage += lost
            if self._down or self.silenced:
                return
            self._down = True
        _logger.warning("agentvitals: cannot export %s to %s (%s); dropping and counting them until it is reachable",
                        self._what, self._target, reason)

    def succeeded(self) -> None:
        with self._lock:
            if not self._down:
                return
            self._down, lost, self._lost_in_outage = False, self._lost_in_outage, 0
            if self.silenced:
                return
        _logger.warning("agentvitals: export of %s to %s resumed; %d were dropped meanwhile", self._what, self._target,
                        lost)


class _Drops:
    """Counters of lost spans by cause; increments are rare (only on loss), so a lock is cheap."""

    CAUSES = ("queue_full", "export_failed", "deadline")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts = dict.fromkeys(self.CAUSES, 0)

    def add(self, cause: str, count: int) -> None:
        if count:
            with self._lock:
                self.counts[cause] += count


class BatchExportProcessor(SpanProcessor):
    """Exports sampled spans in batches on its own thread, from a bounded queue. See the module docstring.

    Args:
        exporter: Where batches go.
        target: Where that is, for log lines (an endpoint).
        max_queue_size: Spans waiting for export; beyond it new spans are dropped and counted.
        max_batch_size: Spans per export call.
        schedule_delay_s: Longest time a span waits for its batch.
        prepare: Applied to each span before export (filters, redaction; ``None`` leaves it out).
    """

    QUEUE_FULL_LOG_INTERVAL_S = 60.0

    def __init__(self, exporter: SpanExporter, *, target: str, max_queue_size: int = 2048, max_batch_size: int = 512,
                 schedule_delay_s: float = 5.0, prepare: SpanPreparer | None = None) -> None:
        if max_queue_size < 1 or max_batch_size < 1 or schedule_delay_s <= 0:
            raise ValueError("max_queue_size and max_batch_size must be >= 1 and schedule_delay_s > 0")
        self._exporter = exporter
        self._target = target
        self._outage = _Outage("spans", target)
        self._max_queue_size = max_queue_size
        self._max_batch_size = min(max_batch_size, max_queue_size)
        self._schedule_delay_s = schedule_delay_s
        self._prepare = prepare
        self._prepare_failure_logged = False
        self.drops = _Drops()
        self._queue_full_logged_at = -self.QUEUE_FULL_LOG_INTERVAL_S
        self._closed = False
        self._abandoned = False
        """Closed at the deadline with an export in progress: what that export does later is already counted."""
        self._reset()
        # A forked child inherits the queue but not the worker thread: start afresh there.
        _fork.on_fork_in_child(self._after_fork_in_child)

    def _reset(self) -> None:
        self._queue: deque[ReadableSpan] = deque()
        self._in_flight = 0
        self._condition = threading.Condition()
        self._flush_waiters: list[threading.Event] = []
        self._worker = threading.Thread(target=self._run, name="agentvitals-span-export", daemon=True)
        self._worker.start()

    def _after_fork_in_child(self) -> None:
        if self._closed:
            return
        # The parent exports what was queued before the fork; the child starts empty with its own thread, and
        # locks of its own (another thread may have held the parent's at the fork).
        self.drops = _Drops()
        self._outage = _Outage("spans", self._target)
        self._abandoned = False
        self._reset()

    # --- the caller's side: cheap, never blocks on the network ------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if self._closed or span.context is None or not span.context.trace_flags.sampled:
            return
        queue = self._queue
        if len(queue) >= self._max_queue_size:
            self.drops.add("queue_full", 1)
            now = time.monotonic()
            if now - self._queue_full_logged_at >= self.QUEUE_FULL_LOG_INTERVAL_S:
                self._queue_full_logged_at = now
                _logger.warning("agentvitals: span export queue full (%d spans); %d spans dropped and counted so far",
                                self._max_queue_size, self.drops.counts["queue_full"])
            return
        queue.append(span)  # deque.append is atomic: no lock on the caller's path
        if len(queue) == self._max_batch_size:
            with self._condition:
                self._condition.notify()

    # --- the export thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._condition:
                if not self._closed and not self._flush_waiters and len(self._queue) < self._max_batch_size:
                    self._condition.wait(self._schedule_delay_s)
                closing = self._closed
                waiters, self._flush_waiters = self._flush_waiters, []
            self._export_queued()
            for waiter in waiters:
                waiter.set()
            if closing:
                return

    def _export_queued(self) -> None:
        """Export what is queued now, in batches (woken by a full batch, a flush, closing or the delay)."""
        while self._queue:
            batch: list[ReadableSpan] = []
            while self._queue and len(batch) < self._max_batch_size:
                batch.append(self._queue.popleft())
            self._in_flight = len(batch)
            self._export(batch)
            self._in_flight = 0

    def _prepared(self, batch: list[ReadableSpan]) -> list[ReadableSpan]:
        """The batch through ``prepare``. A span it fails on is not exported (what it should have removed could
        leak) but counted; the export thread goes on."""
        prepare = self._prepare
        if prepare is None:
            return batch
        spans = []
        for span in batch:
            try:
                prepared = prepare(span)
                if prepared is not None:  # None: deliberately not exported (not a loss)
                    spans.append(prepared)
            except Exception:  # deliberate: a bug in a filter must not kill the export thread
                self.drops.add("export_failed", 1)
                if not self._prepare_failure_logged:
                    self._prepare_failure_logged = True
                    _logger.warning("agentvitals: could not prepare a span for export; dropped and counted",
                                    exc_info=True)
        return spans

    def _export(self, batch: list[ReadableSpan]) -> None:
        spans = self._prepared(batch)
        count = len(spans)
        try:
            result = self._exporter.export(spans)
            reason = "exporter returned FAILURE"
        except Exception as exc:  # deliberate: an exporter bug must not kill the export thread
            result, reason = SpanExportResult.FAILURE, type(exc).__name__
            _logger.debug("agentvitals: span export raised", exc_info=True)
        finally:
            # A failed export can leave its frames in a reference cycle (an exception kept with its traceback)
            # until the cycle collector runs; emptying the list we passed keeps the spans out of it.
            spans.clear()
            batch.clear()
        if self._abandoned:
            return
        if result is SpanExportResult.SUCCESS:
            self._outage.succeeded()
        else:
            self.drops.add("export_failed", count)
            self._outage.failed(count, reason)

    # --- flush and close ------------------------------------------------------------------------------
    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export everything queued now; False if that did not finish within the timeout."""
        if self._closed:
            return True
        done = threading.Event()
        with self._condition:
            self._flush_waiters.append(done)
            self._condition.notify()
        return done.wait(timeout_millis / 1000)

    def close(self, deadline: float) -> None:
        """Export what is queued until ``deadline`` (``time.monotonic()``), then stop; what the deadline cuts off
        is counted as ``deadline`` drops. Safe to call more than once."""
        if self._closed:
            return
        with self._condition:
            self._closed = True
            self._condition.notify()
        self._worker.join(max(deadline - time.monotonic(), 0))
        if self._worker.is_alive():
            # Stuck in an export (a blackhole, a slow Collector): abandon it. The exporter's shutdown makes
            # pending retries give up; the daemon thread cannot hold the interpreter's exit.
            self._abandoned = True
            self.drops.add("deadline", len(self._queue) + self._in_flight)
            self._queue.clear()
            self.quiet()
        try:
            self._exporter.shutdown()
        except Exception:  # deliberate: shutting down must not raise
            _logger.debug("agentvitals: span exporter shutdown failed", exc_info=True)

    def shutdown(self) -> None:
        """What the TracerProvider calls: close within the exporter's usual time (init()'s shutdown has
        already closed this processor at its own deadline)."""
        self.close(time.monotonic() + 10.0)

    def stats(self) -> dict[str, int]:
        return dict(self.drops.counts)

    def lost(self) -> int:
        """Spans lost so far, whatever the cause."""
        return sum(self.drops.counts.values())

    def quiet(self) -> None:
        """Log no outage from now on: the caller reports what is lost (the exit line)."""
        self._outage.silenced = True


class MetricExportGuard:
    """Mixed into an OTLP metric exporter class (see :func:`guarded_metric_exporter`): failed exports are
    counted and each outage logged once. Subclassing keeps the exporter's own temporality and aggregation
    preferences, which it derives from the ``OTEL_EXPORTER_OTLP_METRICS_*`` variables."""

    failed_exports: int = 0
    succeeded_exports: int = 0
    _outage: _Outage | None = None
    _abandoned: bool = False
    _prepare: MetricsPreparer | None = None
    _target: str = ""

    def guard(self, target: str, prepare: MetricsPreparer | None = None) -> None:
        self._target = target
        self._outage = _Outage("metrics", target)
        self._prepare = prepare
        _fork.on_fork_in_child(self._after_fork_in_child)

    def _after_fork_in_child(self) -> None:
        """The child counts its own exports, with locks of its own."""
        self._outage = _Outage("metrics", self._target)
        self.failed_exports = self.succeeded_exports = 0
        self._abandoned = False

    def quiet(self) -> None:
        """Log no outage from now on: the caller reports what is lost (the exit line)."""
        if self._outage is not None:
            self._outage.silenced = True

    def abandon(self, *, in_progress: bool, count_lost: bool) -> None:
        """The final export did not make the exit deadline: from now on nothing is counted or logged, and an
        export ``in_progress`` is made to give up. ``count_lost``: count the final export as failed here
        (it was not counted as it failed)."""
        self.quiet()
        self._abandoned = True
        if count_lost:
            self.failed_exports += 1
        if not in_progress:
            return
        try:
            self.shutdown()  # type: ignore[attr-defined]
        except Exception:  # deliberate: shutting down must not raise
            _logger.debug("agentvitals: metric exporter shutdown failed", exc_info=True)

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        try:
            if self._prepare is not None:
                metrics_data = self._prepare(metrics_data)
            result: MetricExportResult = super().export(  # type: ignore[misc]
                metrics_data, timeout_millis=timeout_millis, **kwargs)
            reason = "exporter returned FAILURE"
        except Exception as exc:  # deliberate: see BatchExportProcessor._export
            result, reason = MetricExportResult.FAILURE, type(exc).__name__
        if self._abandoned:
            return result
        if result is MetricExportResult.SUCCESS:
            self.succeeded_exports += 1
            if self._outage is not None:
                self._outage.succeeded()
        else:
            self.failed_exports += 1
            if self._outage is not None:
                self._outage.failed(1, reason)
        return result


def guarded_metric_exporter(exporter_class: type[MetricExporter], target: str,
                            prepare: MetricsPreparer | None = None, **kwargs: Any) -> MetricExporter:
    """An instance of ``exporter_class`` (an OTLP metric exporter) with :class:`MetricExportGuard` mixed in;
    ``prepare`` is applied to what it exports."""
    guarded = type(f"Guarded{exporter_class.__name__}", (MetricExportGuard, exporter_class), {})
    exporter = guarded(**kwargs)
    exporter.guard(target, prepare)
    return exporter  # type: ignore[no-any-return]
