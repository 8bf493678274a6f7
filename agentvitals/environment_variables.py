"""Environment variables agentvitals reads. Each constant's value is its own name.

Precedence everywhere: an explicit ``init()`` argument, then the variable, then the default. A bad
value in a variable logs a warning and falls back to the default; a bad ``init()`` argument raises
:class:`agentvitals.ConfigError`.
"""

from __future__ import annotations

from typing import Final

OTEL_SERVICE_NAME: Final = "OTEL_SERVICE_NAME"
"""Service name (``service.name``). Default: ``unknown_service``."""

OTEL_RESOURCE_ATTRIBUTES: Final = "OTEL_RESOURCE_ATTRIBUTES"
"""Extra resource attributes, ``key=value,key2=value2``."""

OTEL_EXPORTER_OTLP_ENDPOINT: Final = "OTEL_EXPORTER_OTLP_ENDPOINT"
"""OTLP base endpoint. Default: ``http://localhost:4318`` (http/protobuf) or ``http://localhost:4317`` (grpc)."""

OTEL_EXPORTER_OTLP_PROTOCOL: Final = "OTEL_EXPORTER_OTLP_PROTOCOL"
"""``http/protobuf`` (default) or ``grpc``."""

OTEL_EXPORTER_OTLP_HEADERS: Final = "OTEL_EXPORTER_OTLP_HEADERS"
"""Headers for OTLP export, ``key=value,key2=value2``. Never recorded in telemetry."""

OTEL_TRACES_EXPORTER: Final = "OTEL_TRACES_EXPORTER"
"""``otlp`` (default) or ``none``."""

OTEL_METRICS_EXPORTER: Final = "OTEL_METRICS_EXPORTER"
"""``otlp`` (default) or ``none``."""

OTEL_TRACES_SAMPLER_ARG: Final = "OTEL_TRACES_SAMPLER_ARG"
"""Trace sampling ratio in [0, 1]. Default: 1. Metrics are never sampled."""

OTEL_METRIC_EXPORT_INTERVAL: Final = "OTEL_METRIC_EXPORT_INTERVAL"
"""Metric export interval in milliseconds. Default: 10000."""

OTEL_SDK_DISABLED: Final = "OTEL_SDK_DISABLED"
"""``true`` makes ``init()`` a no-op."""

OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""Content capture (prompts, completions, tool arguments): ``true``/``span_only``/``span_and_event`` turn it on;
``false``/``no_content``/``event_only`` (events are not emitted) keep it off. Default: off."""

OTEL_SEMCONV_STABILITY_OPT_IN: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"
"""Read, never written. ``database`` (or ``database/dup``) makes the contrib DB instrumentations emit the
stable DB conventions on their spans and record ``db.client.operation.duration`` themselves; without it,
agentvitals records that metric from their spans (one count either way)."""

AGENTVITALS_CONTENT_MAX_LENGTH: Final = "AGENTVITALS_CONTENT_MAX_LENGTH"
"""Maximum characters of captured content per attribute. Default: 2000."""

AGENTVITALS_PRICES: Final = "AGENTVITALS_PRICES"
"""Path to a JSON price override file (same shape as ``init(pricing=...)``). Default: none."""

AGENTVITALS_SHUTDOWN_TIMEOUT: Final = "AGENTVITALS_SHUTDOWN_TIMEOUT"
"""Seconds the final export at exit or ``shutdown()`` may take, whatever the Collector does; what does not
make it is counted and logged once. Default: 3."""

AGENTVITALS_INSTRUMENTATIONS: Final = "AGENTVITALS_INSTRUMENTATIONS"
"""Comma-separated instrumentations to enable (default: every one whose library is installed)."""

AGENTVITALS_CAPTURE_DB_LITERALS: Final = "AGENTVITALS_CAPTURE_DB_LITERALS"
"""``true`` keeps the literals of exported SQL statements (and statement parameters). Default: false, literals
become ``?`` (``WHERE card = ?``), as the database conventions recommend."""

AGENTVITALS_SCRUB_PATTERNS: Final = "AGENTVITALS_SCRUB_PATTERNS"
"""Regular expressions whose matches become ``[REDACTED]`` in every exported attribute value, span name and
status description: a JSON list (``["sk-[A-Za-z0-9]+", "\\d{13,16}"]``) or a single expression."""
