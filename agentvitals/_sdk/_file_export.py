"""Spans to a local file as OTLP JSON, one ``ExportTraceServiceRequest`` per line: what the Collector's file
exporter writes, and what ``agentvitals explain --file`` reads. For users without a stack (``init(trace_file=...)``).

Encoded with the OTLP exporter's own encoder (``encode_spans``) and protobuf's ``json_format``, then made OTLP
JSON as the specification defines it: trace and span ids as hex (protobuf's JSON mapping would give base64),
enums as integers, camelCase keys.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Sequence
from typing import IO, Any

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

_logger = logging.getLogger("agentvitals")

__all__ = ["OTLPJsonFileExporter", "TeeSpanExporter", "to_otlp_json"]

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def _hex_ids(item: dict[str, Any]) -> None:
    for key in _ID_KEYS:
        value = item.get(key)
        if isinstance(value, str) and value:
            item[key] = base64.b64decode(value).hex()


def to_otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """The OTLP JSON object (an ``ExportTraceServiceRequest``) for these spans."""
    request = json_format.MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    for resource_spans in request.get("resourceSpans", ()):
        for scope_spans in resource_spans.get("scopeSpans", ()):
            for span in scope_spans.get("spans", ()):
                _hex_ids(span)
                for link in span.get("links", ()):
                    _hex_ids(link)
    return request


class OTLPJsonFileExporter(SpanExporter):
    """Appends each batch to ``path`` as one line of OTLP JSON. The file is opened on the first export."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._closed:
            return SpanExportResult.FAILURE
        try:
            line = json.dumps(to_otlp_json(spans), separators=(",", ":"))
            with self._lock:
                if self._file is None:
                    self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open across exports
                self._file.write(line + "\n")
                self._file.flush()
            return SpanExportResult.SUCCESS
        except Exception:  # deliberate: a full disk must not break the export thread
            _logger.debug("agentvitals: could not write spans to %s", self.path, exc_info=True)
            return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            if self._file is not None:
                self._file.close()
                self._file = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class TeeSpanExporter(SpanExporter):
    """Exports every batch to each exporter (the OTLP endpoint and the local file); fails if any fails."""

    def __init__(self, *exporters: SpanExporter) -> None:
        self._exporters = exporters

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = True
        for exporter in self._exporters:
            try:
                ok = exporter.export(spans) is SpanExportResult.SUCCESS and ok
            except Exception:  # deliberate: one exporter's bug must not keep the batch from the others
                _logger.debug("agentvitals: span exporter %s raised", type(exporter).__name__, exc_info=True)
                ok = False
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        for exporter in self._exporters:
            try:
                exporter.shutdown()
            except Exception:  # deliberate: shutting down must not raise
                _logger.debug("agentvitals: span exporter shutdown failed", exc_info=True)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(exporter.force_flush(timeout_millis) for exporter in self._exporters)
