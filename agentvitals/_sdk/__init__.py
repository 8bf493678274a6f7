"""``init()``/``shutdown()``: the only code that configures the OpenTelemetry SDK and its exporters.

``init()`` is a composition: resolve the settings, choose (or create) the tracer and meter providers
(:mod:`._providers`), add the accounting span processor, activate the handler instrumentation emits
through, and enable the instrumentations. Instrumentation code never imports this package: it uses the
OpenTelemetry API through :class:`~agentvitals._handler.Handler`.

Exit is bounded: providers ``init()`` creates do not register the SDK's own exit handlers; ours flushes
spans and metrics concurrently until one deadline (``shutdown_timeout``, default 3 s) and counts and logs
once what did not make it, whatever the Collector does.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

from agentvitals import environment_variables as env
from agentvitals import instrumentation
from agentvitals._accounting import AccountingProcessor
from agentvitals._config import ConfigError, Settings, resolve_settings
from agentvitals._content import ContentPolicy
from agentvitals._handler import Handler, activate, current, deactivate
from agentvitals._pricing import load_price_table
from agentvitals._recording import Recorder
from agentvitals._redaction import ScrubFunction, redact_url
from agentvitals._sdk._db_metrics import DatabaseMetricsProcessor, contrib_records_db_metrics
from agentvitals._sdk._export import BatchExportProcessor, ExporterLogFilter, copy_span
from agentvitals._sdk._fork import on_fork_in_child
from agentvitals._sdk._providers import RecordEverythingSampler, meter_provider, tracer_provider
from agentvitals._sdk._redaction import Redaction
from agentvitals._version import __version__
from agentvitals.attributes import INSTRUMENTATION_SCOPE, TELEMETRY_SIGNAL
from agentvitals.metrics import TELEMETRY_DROPPED, create_instrument, genai_conventions
from agentvitals.routing import AlertmanagerSource
from agentvitals.routing import _default as mode_source
from agentvitals.routing._spans import RoutingSpanProcessor
from agentvitals.semconv import ERROR_TYPE, SCHEMA_URL

_logger = logging.getLogger("agentvitals")

__all__ = ["RecordEverythingSampler", "export_stats", "force_flush", "init", "shutdown"]


@dataclass
class _Runtime:
    settings: Settings
    tracer_provider: Any
    meter_provider: Any
    owns_tracer_provider: bool
    owns_meter_provider: bool
    span_export: BatchExportProcessor | None = None
    metric_exporter: Any = None
    log_filter: ExporterLogFilter | None = None
    lost_at_exit: dict[str, int] = field(default_factory=dict)
    recorder: Recorder | None = None
    """The metric points waiting for a collection (held until the last flush records them)."""


_runtime: _Runtime | None = None
_last_runtime: _Runtime | None = None
# Providers a previous init() created: after shutdown() the global may still be one of them.
_ours: list[Any] = []
_lock = threading.Lock()
_atexit_registered = False
_unfiltered_warned = False


def _sdk_disabled() -> bool:
    return os.environ.get(env.OTEL_SDK_DISABLED, "").strip().lower() == "true"


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
    shutdown_timeout: float | None = None,
    genai_names: str | None = None,
    finding_thresholds: Mapping[str, float] | None = None,
    trace_file: str | os.PathLike[str] | None = None,
    capture_db_literals: bool | None = None,
    scrub: Sequence[str | re.Pattern[str]] | ScrubFunction | None = None,
    stream_usage: bool | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
    span_exporter: SpanExporter | None = None,
    span_processors: Sequence[SpanProcessor] = (),
    metric_readers: Sequence[MetricReader] = (),
    alertmanager: str | Sequence[str] | AlertmanagerSource | bool | None = None,
) -> Settings:
    """Set up tracing, metrics and auto-instrumentation in one call. Idempotent; never touches the network
    (export and, when configured, the Alertmanager polls run on their own threads).

    Every argument is optional; an explicit argument beats the matching ``OTEL_*``/``AGENTVITALS_*``
    variable, which beats the default (see :mod:`agentvitals.environment_variables`).

    Args:
        service_name: ``service.name`` of this process.
        endpoint: OTLP base URL (``http://collector:4318``); ``False`` turns export off.
        protocol: ``http/protobuf`` (default) or ``grpc`` (needs ``agentvitals[grpc]``).
        headers: OTLP headers (e.g. auth); never recorded in telemetry.
        resource_attributes: Extra resource attributes.
        sample_ratio: Fraction of traces exported (parent-based). Metrics are never sampled.
        metric_export_interval: Seconds between metric exports.
        capture_content: Record prompts, completions, tool arguments and exception messages (off by default).
        content_max_length: Characters kept per captured content attribute.
        pricing: Price overrides, ``{provider: {model: {input, output, cache_read, cache_write}}}``
            in USD per 1M tokens, matched before the bundled table.
        instrumentations: Names to enable (default: all whose library is installed):
            ``openai``, ``anthropic``, ``httpx`` (httpx and httpx2), ``sqlite3``, ``psycopg``, ``psycopg2``,
            ``pymysql``, ``redis``, ``chromadb``, ``qdrant``, ``langchain``, ``langgraph``, ``mcp``, ``litellm``,
            ``google_genai``, ``openai_agents``, ``pydantic_ai``, ``llama_index``, ``smolagents``, ``crewai``,
            ``threading``, and ``gpu`` (NVML gauges, when NVML loads).
        shutdown_timeout: Seconds the final export at exit or ``shutdown()`` may take (default 3).
        genai_names: ``current`` (semantic conventions v1.41, the default) or ``latest``
            (semantic-conventions-genai v0.1.0, as ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``
            selects): the GenAI span attribute and metric names emitted.
        finding_thresholds: When the findings of each task's analysis fire, by name: ``slow_llm_s`` (3),
            ``slow_tool_s`` (1), ``many_calls`` (20), ``expensive_call_usd`` (0.05), ``prompt_heavy_share`` (0.8),
            ``prompt_heavy_min_tokens`` (1000), ``parallel_min_saving_s`` (0.1), ``repeated_tool_calls`` (1).
        trace_file: Also write exported spans to this file as OTLP JSON lines (the Collector's file exporter
            format), for ``agentvitals explain --file`` without a stack.
        capture_db_literals: Keep the literals of SQL statements in exported spans (default: they become ``?``).
        scrub: Your own redaction, applied at export to every attribute value left: regular expressions whose
            matches become ``[REDACTED]`` (also in span names and status descriptions), or a function
            ``(key, value) -> value`` (``None`` drops the attribute; the status description is passed as
            ``otel.status_description``). Applies to metric attributes too.
        stream_usage: Ask OpenAI-compatible chat streams (``openai`` chat completions, ``litellm.completion``) for
            their token usage (``stream_options={"include_usage": True}``) when the caller set no
            ``stream_options``, so streams are priced. Off by default: such a stream ends with an extra chunk with
            empty ``choices``, and some compatible servers reject the option (see ``AGENTVITALS_STREAM_USAGE``).
        tracer_provider, meter_provider: Use these instead of creating (or reusing global) ones.
        span_exporter: Export spans here instead of OTLP (e.g. an in-memory exporter in tests).
        span_processors: Extra span processors, added after the exporter's (they see every span).
        metric_readers: Extra metric readers (e.g. an in-memory reader in tests).
        alertmanager: Alertmanager URL(s) (an HA cluster's members) or an
            :class:`~agentvitals.routing.AlertmanagerSource`: poll it for degrade alerts, the mode source of every
            :class:`~agentvitals.ModelRouter` built without one. Default: ``AGENTVITALS_ALERTMANAGER_URLS``, else
            none (no polling); ``False``: none whatever the environment. The only network besides OTLP export.

    Returns:
        The resolved settings.

    Raises:
        ConfigError: an argument is invalid (one message lists every problem).
    """
    global _runtime
    with _lock:
        settings = resolve_settings(
            service_name=service_name, endpoint=endpoint, protocol=protocol, headers=headers,
            resource_attributes=resource_attributes, sample_ratio=sample_ratio,
            metric_export_interval=metric_export_interval, capture_content=capture_content,
            content_max_length=content_max_length, instrumentations=instrumentations,
            shutdown_timeout=shutdown_timeout, genai_names=genai_names, finding_thresholds=finding_thresholds,
            trace_file=trace_file, capture_db_literals=capture_db_literals, scrub=scrub,
            stream_usage=stream_usage,
        )
        prices = load_price_table(pricing, os.environ.get(env.AGENTVITALS_PRICES) or None)
        _check_alertmanager(alertmanager)
        if _runtime is not None:
            _logger.warning("agentvitals: init() called again; keeping the first configuration "
                            "(call agentvitals.shutdown() first to re-initialise)")
            return _runtime.settings
        if _sdk_disabled():
            _logger.info("agentvitals: OTEL_SDK_DISABLED=true; telemetry is off")
            return settings
        _runtime = _start(settings, prices, tracer_provider, meter_provider, span_exporter, span_processors,
                          metric_readers)
        # Model routing's Alertmanager pull source: started only when configured (its polls are its network).
        mode_source.start(mode_source.resolve(alertmanager, _runtime.meter_provider))
        _register_exit_handler()
        _logger.debug("agentvitals: initialised %s", settings)
        return settings


def _start(settings: Settings, prices: Any, explicit_tracer_provider: Any, explicit_meter_provider: Any,
           span_exporter: SpanExporter | None, span_processors: Sequence[SpanProcessor],
           metric_readers: Sequence[MetricReader]) -> _Runtime:
    resource = Resource.create({"service.name": settings.service_name, **settings.resource_attributes})
    redaction = Redaction(settings.capture_content, settings.capture_db_literals, settings.scrub)
    meters, metric_exporter = meter_provider(settings, resource, explicit=explicit_meter_provider,
                                             metric_readers=metric_readers, previous=_ours,
                                             prepare=redaction.metrics if settings.scrub is not None else None)
    accounting = AccountingProcessor(current, settings.finding_thresholds)
    ours: list[SpanProcessor] = [accounting, RoutingSpanProcessor()]
    if not contrib_records_db_metrics():
        meter = metrics.get_meter(INSTRUMENTATION_SCOPE, __version__, meters.provider, schema_url=SCHEMA_URL)
        ours.append(DatabaseMetricsProcessor(meter))
    tracers, span_export = tracer_provider(settings, resource, explicit=explicit_tracer_provider,
                                           span_exporter=span_exporter, before_export=ours,
                                           span_processors=span_processors, previous=_ours,
                                           prepare=_exported_as(accounting, redaction))
    accounting.annotate = span_export is not None
    if not tracers.owned:
        _warn_unfiltered(settings)
    for chosen, set_global, sdk_global in ((tracers, trace.set_tracer_provider, trace.get_tracer_provider),
                                           (meters, metrics.set_meter_provider, metrics.get_meter_provider)):
        if chosen.owned:
            _ours.append(chosen.provider)
            if not isinstance(sdk_global(), type(chosen.provider)):
                set_global(chosen.provider)

    runtime = _Runtime(settings, tracers.provider, meters.provider, tracers.owned, meters.owned, span_export,
                       metric_exporter)
    content = ContentPolicy(settings.capture_content, settings.content_max_length, settings.content_events)
    # Metric points wait for the provider's next collection instead of costing the caller (see _recording).
    runtime.recorder = recorder = Recorder()
    on_fork_in_child(recorder.forget)
    handler = Handler.create(tracer_provider=tracers.provider, meter_provider=meters.provider, pricing=prices,
                             content=content, conventions=genai_conventions(settings.genai_names),
                             stream_usage=settings.stream_usage, recorder=recorder)
    activate(handler)
    if span_export is not None or metric_exporter is not None:
        _observe_drops(meters.provider, lambda: _drops(runtime))
        runtime.log_filter = ExporterLogFilter()
        runtime.log_filter.install()

    # "gpu" names NVML gauges, not a library to patch: started here, not by instrumentation.enable.
    wanted = settings.instrumentations
    if wanted is None or "gpu" in wanted:
        from agentvitals._gpu import start_gpu_metrics

        start_gpu_metrics(meters.provider)
    libraries = None if wanted is None else [name for name in wanted if name != "gpu"]
    instrumentation.enable(libraries, handler=handler, tracer_provider=tracers.provider,
                           meter_provider=meters.provider)
    return runtime


def _check_alertmanager(setting: object) -> None:
    """A bad ``alertmanager`` argument is a ConfigError before anything starts."""
    try:
        mode_source.check(setting)
    except ValueError as exc:
        raise ConfigError(f"alertmanager: {exc}") from None


def _exported_as(accounting: AccountingProcessor, redaction: Redaction
                 ) -> Callable[[ReadableSpan], ReadableSpan | None]:
    """What each span is exported as: the accounting's changes (task results on other instrumentations' agent
    spans, duplicate model-call spans left out) applied to a copy, then redacted."""

    def prepare(span: ReadableSpan) -> ReadableSpan | None:
        change = accounting.export_change(span)
        if change is not None:
            if change.drop:
                return None
            span = copy_span(span, attributes={**(span.attributes or {}), **(change.attributes or {})},
                             parent=change.parent or span.parent)
        return redaction.span(span)

    return prepare


def _warn_unfiltered(settings: Settings) -> None:
    """Spans go out through the application's exporters: what other instrumentations put in them is not ours
    to filter. Said once per process."""
    global _unfiltered_warned
    if _unfiltered_warned:
        return
    _unfiltered_warned = True
    _logger.warning("agentvitals: spans are exported through the application's own TracerProvider: agentvitals "
                    "cannot filter them, so %sURL, SQL and scrub redaction apply only to its own spans, not to those "
                    "of other instrumentations (let agentvitals.init() create the provider to filter them all)",
                    "" if settings.capture_content else "content capture off (prompts, completions, tool data, "
                    "exception messages), ")


def _observe_drops(provider: metrics.MeterProvider, read: Callable[[], dict[tuple[str, str], int]]) -> None:
    """Export ``read() -> {(signal, cause): count}`` as the telemetry-dropped counter."""
    meter = metrics.get_meter(INSTRUMENTATION_SCOPE, __version__, provider, schema_url=SCHEMA_URL)

    def observe(options: metrics.CallbackOptions) -> Any:
        for (signal, cause), count in read().items():
            yield metrics.Observation(count, {TELEMETRY_SIGNAL: signal, ERROR_TYPE: cause})

    create_instrument(meter, TELEMETRY_DROPPED, [observe])


def _after_fork_in_child() -> None:
    """A lock another thread held at the fork stays held in the child: a fresh one. With init() active, the
    child flushes once its main thread is done: multiprocessing ends its children with os._exit, which skips
    the exit handler (pre-fork servers' workers exit normally, and the exit handler does it)."""
    global _lock
    _lock = threading.Lock()
    if _runtime is not None:
        threading.Thread(target=_flush_when_main_thread_ends, name="agentvitals-child-exit", daemon=False).start()


def _flush_when_main_thread_ends() -> None:
    # Not a daemon: the interpreter (and multiprocessing's child bootstrap) waits for it after marking the main
    # thread done, so it runs after the child's work and before os._exit; shutdown() is bounded by the deadline.
    main, me = threading.main_thread(), threading.current_thread()
    main.join()
    for thread in threading.enumerate():
        if thread is not me and thread is not main and not thread.daemon:
            thread.join()  # spans the child's other threads still make count too
    shutdown()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _register_exit_handler() -> None:
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(shutdown)  # Ctrl-C ends in a normal exit too: the same bounded flush
        _atexit_registered = True


def _within(deadline: float, work: Callable[[], object], what: str) -> threading.Thread:
    """Run ``work`` on a daemon thread (one that cannot hold the interpreter's exit) and return it: the
    caller joins it until ``deadline``, however long ``work`` blocks on the network."""

    def run() -> None:
        try:
            work()
        except Exception:  # deliberate: shutting down must not raise
            _logger.debug("agentvitals: %s failed during shutdown", what, exc_info=True)

    thread = threading.Thread(target=run, name=f"agentvitals-shutdown-{what}", daemon=True)
    thread.start()
    return thread


def _flush_until(runtime: _Runtime, deadline: float, timeout: float) -> None:
    """Flush (and shut down what we own) both providers concurrently, stopping at ``deadline``. What is lost
    on the way (to the deadline or to a failed export) is counted and reported in one log line."""
    if runtime.recorder is not None:  # into the instruments now: the provider's collection below exports them
        runtime.recorder.record_waiting(int(deadline * 1e9))
    remaining_ms = max(deadline - time.monotonic(), 0) * 1000
    span_export, metric_exporter = runtime.span_export, runtime.metric_exporter
    spans_lost_before = span_export.lost() if span_export is not None else 0
    metric_exports_before = (metric_exporter.succeeded_exports, metric_exporter.failed_exports) if (
        metric_exporter is not None) else (0, 0)
    for guarded in (span_export, metric_exporter):
        if guarded is not None:
            guarded.quiet()  # no outage line now: the one line below says what the exit cost
    meters = runtime.meter_provider
    metric_work = (lambda: meters.shutdown(timeout_millis=remaining_ms)) if runtime.owns_meter_provider else (
        lambda: getattr(meters, "force_flush", lambda _timeout: True)(int(remaining_ms)))
    metric_thread = _within(deadline, metric_work, "metrics")
    if span_export is not None:
        span_export.close(deadline)
    tracers = runtime.tracer_provider
    span_work = tracers.shutdown if runtime.owns_tracer_provider else (
        lambda: getattr(tracers, "force_flush", lambda _timeout: True)(int(remaining_ms)))
    span_thread = _within(deadline, span_work, "spans")
    for thread in (metric_thread, span_thread):
        thread.join(max(deadline - time.monotonic(), 0))
    lost_spans = span_export.lost() - spans_lost_before if span_export is not None else 0
    # The final metric export either outlived the deadline or ended without success (e.g. the exporter gave
    # up when shut down at the deadline): lost either way.
    metrics_lost = metric_thread.is_alive() or (
        metric_exporter is not None and metric_exporter.succeeded_exports == metric_exports_before[0])
    if metrics_lost and metric_exporter is not None:
        metric_exporter.abandon(in_progress=metric_thread.is_alive(),
                                count_lost=metric_exporter.failed_exports == metric_exports_before[1])
    runtime.lost_at_exit = {"spans": lost_spans, "metric_exports": int(metrics_lost)}
    if lost_spans or metrics_lost or span_thread.is_alive():
        _logger.warning("agentvitals: telemetry export did not finish within the %.1fs exit deadline; dropped %d "
                        "spans%s (counted; is the Collector at %s reachable?)",
                        timeout, lost_spans,
                        " and the final metric export" if metrics_lost else "",
                        redact_url(runtime.settings.endpoint or ""))


def shutdown(timeout_s: float | None = None) -> None:
    """Flush and stop what ``init()`` started, and undo every patch. Bounded by ``timeout_s`` (default: the
    ``shutdown_timeout`` setting) whatever the Collector does. Safe to call more than once."""
    global _runtime, _last_runtime
    with _lock:
        runtime, _runtime = _runtime, None
        mode_source.stop()
        instrumentation.disable_all()
        deactivate()
        if runtime is None:
            return
        _last_runtime = runtime
        timeout = runtime.settings.shutdown_timeout if timeout_s is None else max(timeout_s, 0.0)
        _flush_until(runtime, time.monotonic() + timeout, timeout)
        # An export abandoned at the deadline may still log its retries: keep those lines filtered then.
        if runtime.log_filter is not None and not any(runtime.lost_at_exit.values()):
            runtime.log_filter.remove()


def force_flush(timeout_s: float = 5.0) -> bool:
    """Export everything buffered now (spans and metrics), both at once. Returns False if that did not finish
    within ``timeout_s``; returns by then whatever the Collector does (an export still running goes on)."""
    runtime = _runtime
    if runtime is None:
        return True
    deadline = time.monotonic() + max(timeout_s, 0.0)
    flushed: dict[str, bool] = {}
    threads = []
    for what, provider in (("spans", runtime.tracer_provider), ("metrics", runtime.meter_provider)):
        if hasattr(provider, "force_flush"):
            def flush(what: str = what, provider: Any = provider) -> None:
                flushed[what] = bool(provider.force_flush(int(timeout_s * 1000)))

            threads.append((what, _within(deadline, flush, f"flush-{what}")))
    for _, thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    return all(flushed.get(what, False) for what, _ in threads)


def _drops(runtime: _Runtime) -> dict[tuple[str, str], int]:
    spans = runtime.span_export.stats() if runtime.span_export is not None else {}
    failed_metric_exports = getattr(runtime.metric_exporter, "failed_exports", 0)
    return {**{("spans", cause): count for cause, count in spans.items()},
            ("metrics", "export_failed"): failed_metric_exports}


def export_stats() -> dict[str, int]:
    """Telemetry dropped so far: spans whose export failed, spans dropped because the export queue was
    full or the exit deadline passed, metric exports that failed. Also exported as the
    ``agentvitals.telemetry.dropped`` counter."""
    runtime = _runtime or _last_runtime  # after shutdown(): what the last run lost, the exit included
    if runtime is None:
        return {"dropped_spans": 0, "dropped_spans_queue_full": 0, "dropped_spans_deadline": 0,
                "failed_metric_exports": 0}
    drops = _drops(runtime)
    return {"dropped_spans": drops.get(("spans", "export_failed"), 0),
            "dropped_spans_queue_full": drops.get(("spans", "queue_full"), 0),
            "dropped_spans_deadline": drops.get(("spans", "deadline"), 0),
            "failed_metric_exports": drops[("metrics", "export_failed")]}
