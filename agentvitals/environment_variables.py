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
"""Content capture (prompts, completions, tool arguments): ``true``/``span_only`` put it on spans, ``event_only``
on the conventions' ``gen_ai.client.inference.operation.details`` event (a span event) instead, ``span_and_event``
on both; ``false``/``no_content`` keep it off. Default: off."""

OTEL_SEMCONV_STABILITY_OPT_IN: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"
"""Read, never written; a comma-separated list. ``gen_ai_latest_experimental`` makes agentvitals emit the
latest GenAI conventions (semantic-conventions-genai v0.1.0) instead of v1.41, for spans and metrics alike
(``init(genai_names=...)`` overrides it). ``database`` (or ``database/dup``) makes the contrib DB
instrumentations emit the stable DB conventions on their spans and record ``db.client.operation.duration``
themselves; without it, agentvitals records that metric from their spans (one count either way)."""

AGENTVITALS_CONTENT_MAX_LENGTH: Final = "AGENTVITALS_CONTENT_MAX_LENGTH"
"""Maximum characters of captured content per attribute. Default: 2000."""

AGENTVITALS_PRICES: Final = "AGENTVITALS_PRICES"
"""Path to a JSON price override file (same shape as ``init(pricing=...)``). Default: none."""

AGENTVITALS_SHUTDOWN_TIMEOUT: Final = "AGENTVITALS_SHUTDOWN_TIMEOUT"
"""Seconds the final export at exit or ``shutdown()`` may take, whatever the Collector does; what does not
make it is counted and logged once. Default: 3."""

AGENTVITALS_INSTRUMENTATIONS: Final = "AGENTVITALS_INSTRUMENTATIONS"
"""Comma-separated instrumentations to enable (default: every one whose library is installed)."""

AGENTVITALS_ALERTMANAGER_URLS: Final = "AGENTVITALS_ALERTMANAGER_URLS"
"""Comma-separated Alertmanager URLs (the members of an HA cluster): ``init()`` starts polling them for degrade
alerts, the mode source of every :class:`agentvitals.ModelRouter` built without one (default: none, no polling)."""

AGENTVITALS_TRACE_FILE: Final = "AGENTVITALS_TRACE_FILE"
"""Also write every exported span to this file as OTLP JSON, one ``ExportTraceServiceRequest`` per line (the
Collector's file exporter format), for ``agentvitals explain`` without a stack. Default: none."""

# Thresholds of the findings computed at task end (see ``agentvitals explain``); each a positive number.
AGENTVITALS_FINDING_SLOW_LLM_SECONDS: Final = "AGENTVITALS_FINDING_SLOW_LLM_SECONDS"
"""Average seconds per call of one model in a task above which it is a slow-LLM finding. Default: 3."""
AGENTVITALS_FINDING_SLOW_TOOL_SECONDS: Final = "AGENTVITALS_FINDING_SLOW_TOOL_SECONDS"
"""Average seconds per call of one tool in a task above which it is a slow-tool finding. Default: 1."""
AGENTVITALS_FINDING_MANY_CALLS: Final = "AGENTVITALS_FINDING_MANY_CALLS"
"""Calls of one kind in a task above which it is a many-calls finding. Default: 20."""
AGENTVITALS_FINDING_EXPENSIVE_CALL_USD: Final = "AGENTVITALS_FINDING_EXPENSIVE_CALL_USD"
"""USD of one model call above which it is an expensive-call finding. Default: 0.05."""
AGENTVITALS_FINDING_PROMPT_HEAVY_SHARE: Final = "AGENTVITALS_FINDING_PROMPT_HEAVY_SHARE"
"""Share of input tokens (of one model's tokens in a task) above which it is prompt-heavy. Default: 0.8."""
AGENTVITALS_FINDING_PROMPT_HEAVY_MIN_TOKENS: Final = "AGENTVITALS_FINDING_PROMPT_HEAVY_MIN_TOKENS"
"""Tokens one model must use in a task before a prompt-heavy finding. Default: 1000."""
AGENTVITALS_FINDING_PARALLEL_MIN_SAVING_SECONDS: Final = "AGENTVITALS_FINDING_PARALLEL_MIN_SAVING_SECONDS"
"""Seconds a sequence of independent calls must be able to save run concurrently to be a finding. Default: 0.1."""
AGENTVITALS_FINDING_REPEATED_TOOL_CALLS: Final = "AGENTVITALS_FINDING_REPEATED_TOOL_CALLS"
"""Identical calls of one tool (same arguments) in a task above which it is a loop suspicion. Default: 1."""

AGENTVITALS_CAPTURE_DB_LITERALS: Final = "AGENTVITALS_CAPTURE_DB_LITERALS"
"""``true`` keeps the literals of exported SQL statements (and statement parameters). Default: false, literals
become ``?`` (``WHERE card = ?``), as the database conventions recommend."""

AGENTVITALS_SCRUB_PATTERNS: Final = "AGENTVITALS_SCRUB_PATTERNS"
"""Regular expressions whose matches become ``[REDACTED]`` in every exported attribute value, span name and
status description: a JSON list (``["sk-[A-Za-z0-9]+", "\\d{13,16}"]``) or a single expression."""
