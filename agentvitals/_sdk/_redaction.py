"""What must not leave the process: content, exception messages, URL secrets, SQL literals, sensitive headers.

One pass per span, at export time, on the export thread (the ``prepare`` hook of
:class:`~agentvitals._sdk._export.BatchExportProcessor`), whichever instrumentation made the span:

* with content capture off, the content attributes and events of the OpenTelemetry GenAI conventions (and
  their deprecated forms), pydantic-ai, OpenInference and OpenLLMetry are removed, and exception messages
  and stack traces (span status, ``exception`` events) are reduced to the exception type;
* URL userinfo, query values and fragments are replaced by ``REDACTED`` (``url.full``, ``http.url``, ...);
* SQL literals become ``?`` in ``db.query.text``/``db.statement``, and statement parameters are removed,
  unless the user opts in (``capture_db_literals``);
* captured headers whose name says they hold a credential are replaced;
* the user's scrubbing hook (regular expressions, or a callable) is applied to every attribute value left,
  the status description and (patterns only) the span name; and, when one is configured, to metric
  attributes at export.

A span that needs none of this is exported as it is; one that does is rebuilt with the public
``ReadableSpan`` constructor (:func:`~agentvitals._sdk._export.copy_span`). URL and SQL redaction and the
scrubbing hook live in :mod:`agentvitals._redaction`, which is also used outside the export path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from opentelemetry.sdk.metrics.export import MetricsData
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.semconv._incubating.attributes.db_attributes import DB_STATEMENT
from opentelemetry.semconv._incubating.attributes.http_attributes import HTTP_TARGET, HTTP_URL
from opentelemetry.semconv._incubating.attributes.url_attributes import URL_ORIGINAL
from opentelemetry.semconv.attributes.exception_attributes import (
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
)
from opentelemetry.semconv.attributes.url_attributes import URL_FRAGMENT, URL_FULL, URL_QUERY
from opentelemetry.trace import Link, Status, StatusCode

from agentvitals._redaction import DROP, REDACTED, SCRUBBED, Scrubber, redact_query, redact_url, sanitize_sql
from agentvitals._sdk._export import copy_span
from agentvitals.semconv import DB_QUERY_TEXT, DB_SYSTEM_LEGACY, DB_SYSTEM_NAME, ERROR_TYPE, GEN_AI_OPERATION_NAME

__all__ = ["CONTENT_ATTRIBUTES", "CONTENT_EVENTS", "Redaction"]

# --- content: the keys and events each instrumentation family records prompts, completions and tool data in --
CONTENT_ATTRIBUTES = frozenset({
    # OpenTelemetry GenAI conventions: the opt-in content attributes, and their deprecated forms.
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.retrieval.documents",
    "gen_ai.retrieval.query.text", "gen_ai.prompt", "gen_ai.completion",
    # pydantic-ai (its instrumentation settings versions 1 to 3).
    "tool_arguments", "tool_response", "final_result", "pydantic_ai.all_messages", "all_messages_events",
    "model_request_parameters",
    # OpenInference.
    "input.value", "output.value", "llm.function_call", "llm.prompt_template.template",
    "llm.prompt_template.variables", "message.content", "message.function_call_arguments_json", "tool.parameters",
    "tool_call.function.arguments", "document.content", "embedding.text", "reranker.query", "image.url",
    # OpenLLMetry.
    "traceloop.entity.input", "traceloop.entity.output",
})
CONTENT_PREFIXES = (
    "gen_ai.prompt.", "gen_ai.completion.",  # OpenLLMetry's indexed gen_ai.prompt.0.content
    "llm.input_messages.", "llm.output_messages.", "llm.prompts", "llm.choices", "llm.tools.",  # OpenInference
    "message.contents", "retrieval.documents.", "reranker.input_documents.", "reranker.output_documents.",
    "embedding.embeddings.",
)
GENAI_SPAN_CONTENT = frozenset({"events"})
"""Content only on a GenAI span (pydantic-ai's ``event_mode='attributes'``); elsewhere the key means something else."""
CONTENT_EVENTS = frozenset({
    "gen_ai.client.inference.operation.details", "gen_ai.content.prompt", "gen_ai.content.completion",
    "gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message",
    "gen_ai.choice",
})
_GENAI_MARKERS = (GEN_AI_OPERATION_NAME, "gen_ai.system")

# --- errors, URLs, databases, headers -----------------------------------------------------------------
EXCEPTION_EVENT = "exception"
_EXCEPTION_TEXT = frozenset({EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE})
URL_ATTRIBUTES = frozenset({URL_FULL, HTTP_URL, HTTP_TARGET, URL_ORIGINAL})
QUERY_ATTRIBUTES = frozenset({URL_QUERY, URL_FRAGMENT})
SQL_ATTRIBUTES = frozenset({DB_QUERY_TEXT, DB_STATEMENT})
DB_PARAMETERS = ("db.statement.parameters", "db.query.parameter.")
HEADER_PREFIXES = ("http.request.header.", "http.response.header.")
_SENSITIVE_HEADER = re.compile(r"auth|cookie|key|token|secret|passw|session|signature|credential", re.IGNORECASE)


# --- the pass -------------------------------------------------------------------------------------------
# What a key calls for, decided once per distinct key (keys are few; values are many).
_KEEP, _CONTENT, _GENAI_CONTENT, _URL, _QUERY, _SQL, _DB_PARAMETER, _HEADER = range(8)
_actions: dict[str, int] = {}
_kept: set[str] = set()
"""The keys seen that need nothing: a span whose keys are all here is checked in one C-level set operation."""


def _classify(key: str) -> int:
    if key in CONTENT_ATTRIBUTES or key.startswith(CONTENT_PREFIXES):
        return _CONTENT
    if key in GENAI_SPAN_CONTENT:
        return _GENAI_CONTENT
    if key in URL_ATTRIBUTES:
        return _URL
    if key in QUERY_ATTRIBUTES:
        return _QUERY
    if key in SQL_ATTRIBUTES:
        return _SQL
    if key.startswith(DB_PARAMETERS):
        return _DB_PARAMETER
    if key.startswith(HEADER_PREFIXES) and _SENSITIVE_HEADER.search(key):
        return _HEADER
    return _KEEP


def _action(key: str) -> int:
    action = _actions.get(key)
    if action is None:
        if len(_actions) >= 4096:  # bounded, whatever keys foreign instrumentations invent
            _actions.clear()
            _kept.clear()
        action = _actions[key] = _classify(key)
        if action == _KEEP:
            _kept.add(key)
    return action


def _nothing_to_do(attributes: Mapping[str, Any]) -> bool:
    return _kept.issuperset(attributes) or all(_action(key) == _KEEP for key in attributes)


@dataclass(frozen=True)
class Redaction:
    """The policy, applied by :meth:`span` to each exported span (and by :meth:`metrics` to metric points)."""

    capture_content: bool = False
    capture_db_literals: bool = False
    scrubber: Scrubber | None = None

    def _value(self, key: str, action: int, value: Any, span_attributes: Mapping[str, Any]) -> Any:
        if action == _CONTENT or action == _GENAI_CONTENT:
            if not self.capture_content and (action == _CONTENT or any(
                    marker in span_attributes for marker in _GENAI_MARKERS)):
                return DROP
        elif action == _URL and isinstance(value, str):
            value = redact_url(value)
        elif action == _QUERY and isinstance(value, str) and value:
            value = redact_query(value) if key == URL_QUERY else REDACTED
        elif action == _SQL and isinstance(value, str) and not self.capture_db_literals:
            value = sanitize_sql(value, span_attributes.get(DB_SYSTEM_NAME) or span_attributes.get(DB_SYSTEM_LEGACY))
        elif action == _DB_PARAMETER and not self.capture_db_literals:
            return DROP
        elif action == _HEADER:
            value = (SCRUBBED,) if isinstance(value, (tuple, list)) else SCRUBBED
        if self.scrubber is not None:
            value = self.scrubber.value(key, value)
        return value

    def attributes(self, attributes: Mapping[str, Any], span_attributes: Mapping[str, Any] | None = None
                   ) -> dict[str, Any] | None:
        """The attributes to export, or ``None`` when they need no change."""
        if self.scrubber is None and _nothing_to_do(attributes):
            return None  # the common case: nothing to look at
        context = attributes if span_attributes is None else span_attributes
        kept: dict[str, Any] = {}
        changed = False
        for key, value in attributes.items():
            new = self._value(key, _action(key), value, context)
            if new is DROP:
                changed = True
                continue
            if not changed and new is not value and new != value:
                changed = True
            kept[key] = new
        return kept if changed else None

    def _events(self, events: Sequence[Event], span_attributes: Mapping[str, Any]) -> list[Event] | None:
        changed = False
        kept = []
        for event in events:
            if not self.capture_content and event.name in CONTENT_EVENTS:
                changed = True
                continue
            attributes = event.attributes or {}
            if not self.capture_content and event.name == EXCEPTION_EVENT:
                attributes = {key: value for key, value in attributes.items() if key not in _EXCEPTION_TEXT}
            redacted = self.attributes(attributes, span_attributes)
            if redacted is not None or len(attributes) != len(event.attributes or {}):
                changed = True
                event = Event(event.name, redacted if redacted is not None else attributes, event.timestamp)
            kept.append(event)
        return kept if changed else None

    def _links(self, links: Sequence[Link]) -> list[Link] | None:
        changed = False
        kept = []
        for link in links:
            redacted = self.attributes(link.attributes or {}) if link.attributes else None
            if redacted is not None:
                changed = True
                link = Link(link.context, redacted)
            kept.append(link)
        return kept if changed else None

    def _status(self, status: Status, attributes: Mapping[str, Any], events: Sequence[Event]) -> Status:
        description = status.description
        if status.status_code is not StatusCode.ERROR or not description:
            return status
        if not self.capture_content:  # "ValueError: card 4111..." -> "ValueError"
            exception_types = [e.attributes.get(EXCEPTION_TYPE) for e in events
                               if e.name == EXCEPTION_EVENT and e.attributes]
            kind = attributes.get(ERROR_TYPE) or next((t for t in exception_types if t), None)
            description = str(kind) if kind else None
        if description and self.scrubber is not None:
            scrubbed = self.scrubber.value("otel.status_description", description)
            description = scrubbed if isinstance(scrubbed, str) else None
        return status if description == status.description else Status(StatusCode.ERROR, description)

    def span(self, span: ReadableSpan) -> ReadableSpan:
        """``span`` as it may be exported: itself when nothing needs redacting, else a redacted copy."""
        original = span.attributes or {}
        original_events, original_links, original_status = span.events, span.links, span.status
        attributes = self.attributes(original)
        current = original if attributes is None else attributes
        events = self._events(original_events, original) if original_events else None
        links = self._links(original_links) if original_links else None
        status = self._status(original_status, current, original_events)
        name = self.scrubber.text(span.name) if self.scrubber is not None and self.scrubber.patterns else span.name
        if attributes is None and events is None and links is None and status is original_status and name == span.name:
            return span
        return copy_span(span, attributes=current, parent=span.parent, name=name, status=status,
                         events=original_events if events is None else events,
                         links=original_links if links is None else links)

    def metrics(self, data: MetricsData) -> MetricsData:
        """``data`` with the user's scrubbing hook applied to every point's (and exemplar's) attributes.
        Our own metric attributes are bounded labels; this is for the hook only."""
        scrubber = self.scrubber
        if scrubber is None:
            return data

        def scrubbed(attributes: Mapping[str, Any] | None) -> Any:
            if not attributes:
                return attributes
            result = {}
            for key, value in attributes.items():
                new = scrubber.value(key, value)
                if new is not DROP:
                    result[key] = new
            return result

        def point(p: Any) -> Any:
            exemplars = [replace(e, filtered_attributes=scrubbed(e.filtered_attributes)) for e in p.exemplars or ()]
            return replace(p, attributes=scrubbed(p.attributes), exemplars=exemplars)

        def metric(m: Any) -> Any:
            points: Any = [point(p) for p in m.data.data_points]
            return replace(m, data=replace(m.data, data_points=points))

        return replace(data, resource_metrics=[
            replace(rm, scope_metrics=[replace(sm, metrics=[metric(m) for m in sm.metrics]) for sm in rm.scope_metrics])
            for rm in data.resource_metrics])
