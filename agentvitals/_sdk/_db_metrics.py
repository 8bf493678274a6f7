"""``db.client.operation.duration`` from database client spans, for the contrib DB instrumentations.

Those instrumentations record the stable DB metric only when the application opted into the stable DB
conventions (``OTEL_SEMCONV_STABILITY_OPT_IN=database``), which ``init()`` reads but never writes. Without
that opt-in this processor records the metric from their spans instead, with the stable metric's name,
buckets and labels, so the dashboards' database panels work either way and nothing is counted twice.
"""

from __future__ import annotations

import os
import re

from opentelemetry import metrics, trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import StatusCode

from agentvitals import environment_variables as env
from agentvitals.metrics import DB_DURATION, create_instrument
from agentvitals.semconv import DB_OPERATION_NAME, DB_QUERY_TEXT, DB_SYSTEM_LEGACY, DB_SYSTEM_NAME, ERROR_TYPE

__all__ = ["DatabaseMetricsProcessor", "contrib_records_db_metrics"]

_DB_STATEMENT_LEGACY = "db.statement"
_DB_SYSTEM_KEYS = frozenset({DB_SYSTEM_NAME, DB_SYSTEM_LEGACY})
_OPERATION = re.compile(r"\s*([A-Za-z]{2,16})\b")


def contrib_records_db_metrics() -> bool:
    """True when the application opted the contrib DB instrumentations into the stable conventions."""
    categories = {part.strip() for part in os.environ.get(env.OTEL_SEMCONV_STABILITY_OPT_IN, "").split(",")}
    return bool(categories & {"database", "database/dup"})


def _operation(span: ReadableSpan) -> str | None:
    attributes = span.attributes or {}
    named = attributes.get(DB_OPERATION_NAME)
    if isinstance(named, str) and named:
        return named
    statement = attributes.get(DB_QUERY_TEXT, attributes.get(_DB_STATEMENT_LEGACY))
    match = _OPERATION.match(statement) if isinstance(statement, str) else None
    return match[1].upper() if match else None  # a keyword: bounded, never a literal


class DatabaseMetricsProcessor(SpanProcessor):
    """Records the duration of every ended database client span (by system, operation, error type)."""

    def __init__(self, meter: metrics.Meter) -> None:
        self._duration = create_instrument(meter, DB_DURATION)

    def on_end(self, span: ReadableSpan) -> None:
        attributes = span.attributes or {}
        # Most spans are not database spans. Looking for the keys among the span's keys is one pass in C;
        # a get() of an absent key costs a KeyError raised inside the SDK's attribute mapping.
        if _DB_SYSTEM_KEYS.isdisjoint(attributes):
            return
        system = attributes.get(DB_SYSTEM_NAME, attributes.get(DB_SYSTEM_LEGACY))
        if not isinstance(system, str) or span.start_time is None or span.end_time is None:
            return
        labels = {DB_SYSTEM_NAME: system}
        operation = _operation(span)
        if operation is not None:
            labels[DB_OPERATION_NAME] = operation
        if span.status.status_code is StatusCode.ERROR:
            error = attributes.get(ERROR_TYPE)
            labels[ERROR_TYPE] = error if isinstance(error, str) else "_OTHER"
        context = trace.set_span_in_context(trace.NonRecordingSpan(span.context)) if span.context else None
        self._duration.record((span.end_time - span.start_time) / 1e9, labels, context=context)
