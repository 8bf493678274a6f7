"""Reading traces back: OTLP JSON (the Collector's file exporter, ``init(trace_file=...)``, Tempo's trace API) into
span records and the tasks they hold.

Tolerant of the encodings in use: ids as hex (the OTLP JSON specification, the Collector) or base64 (protobuf's
JSON mapping, which Tempo's API returns); enums as integers or names; 64-bit integers as numbers or strings;
``resourceSpans``/``scopeSpans`` or the older ``batches``/``instrumentationLibrarySpans``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import SpanKind

from agentvitals._explain._analysis import TaskAnalysis, analyse
from agentvitals._explain._records import SpanRecord, build_record
from agentvitals._explain._thresholds import Thresholds
from agentvitals._pricing import PriceTable
from agentvitals._spans import agent_name, is_agent
from agentvitals.attributes import (
    COGNITIVE_ERROR_EVENT,
    ERROR_CAUSE,
    INSTRUMENTATION_SCOPE,
    TASK_COST_AMOUNT,
    TASK_NAME,
)

__all__ = ["ExplainInputError", "RawSpan", "TaskRoot", "explain_root", "parse_id", "spans_of"]

_HEX = re.compile(r"^[0-9a-fA-F]+$")
# OTLP's SpanKind numbering (0 unspecified ... 5 consumer) differs from the Python API's enum.
_KINDS: Mapping[Any, SpanKind] = {
    0: SpanKind.INTERNAL, 1: SpanKind.INTERNAL, 2: SpanKind.SERVER, 3: SpanKind.CLIENT, 4: SpanKind.PRODUCER,
    5: SpanKind.CONSUMER, "SPAN_KIND_UNSPECIFIED": SpanKind.INTERNAL, "SPAN_KIND_INTERNAL": SpanKind.INTERNAL,
    "SPAN_KIND_SERVER": SpanKind.SERVER, "SPAN_KIND_CLIENT": SpanKind.CLIENT, "SPAN_KIND_PRODUCER": SpanKind.PRODUCER,
    "SPAN_KIND_CONSUMER": SpanKind.CONSUMER,
}
_STATUS_ERROR = (2, "STATUS_CODE_ERROR")


class ExplainInputError(Exception):
    """Input ``agentvitals explain`` cannot use; the message is one line for the user."""


def parse_id(value: Any, size: int) -> int | None:
    """A trace (16 bytes) or span (8 bytes) id from hex or base64; ``None`` when empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"id {value!r} is not a string")
    if len(value) == 2 * size and _HEX.match(value):
        return int(value, 16)
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        raise ValueError(f"id {value!r} is neither hex nor base64 of {size} bytes")
    return int.from_bytes(raw, "big")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, (int, str)):
        return int(value)
    raise ValueError(f"{value!r} is not an integer")


def _value(any_value: Any) -> Any:
    if not isinstance(any_value, Mapping):
        return None
    for key, value in any_value.items():
        if key == "stringValue":
            return str(value)
        if key == "boolValue":
            return bool(value)
        if key == "intValue":
            return _int(value)
        if key == "doubleValue":
            return float(value)
        if key == "arrayValue":
            return tuple(_value(v) for v in (value or {}).get("values", ()))
        if key == "kvlistValue":
            return json.dumps({kv.get("key"): _value(kv.get("value")) for kv in (value or {}).get("values", ())})
        if key == "bytesValue":
            return str(value)
    return None


def _attributes(items: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for item in items or ():
        if isinstance(item, Mapping) and isinstance(item.get("key"), str):
            value = _value(item.get("value"))
            if value is not None:
                attributes[item["key"]] = value
    return attributes


@dataclass
class RawSpan:
    """One span as read: enough to build a record, and, for a task's own span, to describe the task."""

    trace_id: int
    span_id: int
    parent_id: int | None
    name: str
    kind: SpanKind
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    scope: str
    failed: bool
    exception_type: str | None = None
    reported: tuple[str, ...] = ()
    service: str | None = None

    def record(self, pricing: PriceTable | None) -> SpanRecord:
        return build_record(self.span_id, self.parent_id, self.name, self.kind, self.start_ns, self.end_ns,
                            self.attributes, ours=self.scope == INSTRUMENTATION_SCOPE, failed=self.failed,
                            exception_type=self.exception_type, pricing=pricing, reported=self.reported)


def _span(span: Mapping[str, Any], scope: str, service: str | None) -> RawSpan:
    trace_id = parse_id(span.get("traceId"), 16)
    span_id = parse_id(span.get("spanId"), 8)
    if trace_id is None or span_id is None:
        raise ValueError("a span without traceId or spanId")
    kind = _KINDS.get(span.get("kind", 0), SpanKind.INTERNAL)
    status = span.get("status") or {}
    failed = isinstance(status, Mapping) and status.get("code") in _STATUS_ERROR
    exception_type = None
    reported: list[str] = []
    for event in span.get("events") or ():
        if not isinstance(event, Mapping):
            continue
        if event.get("name") == "exception" and failed and exception_type is None:
            exception_type = _attributes(event.get("attributes")).get("exception.type")
        elif event.get("name") == COGNITIVE_ERROR_EVENT:
            cause = _attributes(event.get("attributes")).get(ERROR_CAUSE)
            if isinstance(cause, str):
                reported.append(cause)
    return RawSpan(trace_id, span_id, parse_id(span.get("parentSpanId"), 8), str(span.get("name", "")), kind,
                   _int(span.get("startTimeUnixNano", 0)), _int(span.get("endTimeUnixNano", 0)),
                   _attributes(span.get("attributes")), scope, failed,
                   exception_type if isinstance(exception_type, str) else None, tuple(reported), service)


def spans_of(request: Any) -> Iterator[RawSpan]:
    """The spans of one ``ExportTraceServiceRequest`` (or ``TracesData``) object. Raises ValueError if it is not one."""
    if not isinstance(request, Mapping):
        raise ValueError("not a JSON object")
    resources = request.get("resourceSpans", request.get("batches"))
    if not isinstance(resources, list):
        raise ValueError("no resourceSpans")
    for resource_spans in resources:
        if not isinstance(resource_spans, Mapping):
            raise ValueError("a resourceSpans entry is not an object")
        resource = _attributes((resource_spans.get("resource") or {}).get("attributes"))
        service = resource.get("service.name")
        for scope_spans in resource_spans.get("scopeSpans", resource_spans.get("instrumentationLibrarySpans")) or ():
            scope_info = scope_spans.get("scope", scope_spans.get("instrumentationLibrary")) or {}
            scope = str(scope_info.get("name", "")) if isinstance(scope_info, Mapping) else ""
            for span in scope_spans.get("spans") or ():
                if not isinstance(span, Mapping):
                    raise ValueError("a span is not an object")
                yield _span(span, scope, service if isinstance(service, str) else None)


@dataclass
class TaskRoot:
    """A task's own span (ours, or another instrumentation's agent span) and where it sits."""

    span: RawSpan
    nested: bool = False
    """Inside another task of the same trace."""

    @property
    def name(self) -> str:
        task_name = self.span.attributes.get(TASK_NAME)
        return task_name if isinstance(task_name, str) else agent_name(self.span.attributes, self.span.name)

    @property
    def wall_s(self) -> float:
        return (self.span.end_ns - self.span.start_ns) / 1e9

    @property
    def cost_usd(self) -> float:
        cost = self.span.attributes.get(TASK_COST_AMOUNT)
        return float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else 0.0


def task_roots(spans: Iterable[RawSpan]) -> list[TaskRoot]:
    """The agent spans among these (of one or many traces)."""
    spans = list(spans)
    agents = {(s.trace_id, s.span_id): s for s in spans if is_agent(s.attributes)}
    parents = {(s.trace_id, s.span_id): s.parent_id for s in spans}
    roots = []
    for key, span in agents.items():
        nested, parent, hops = False, span.parent_id, 0
        while parent is not None and hops < 1000:
            if (key[0], parent) in agents:
                nested = True
                break
            parent, hops = parents.get((key[0], parent)), hops + 1
        roots.append(TaskRoot(span, nested))
    return roots


@dataclass
class Explained:
    root: TaskRoot
    analysis: TaskAnalysis
    trace_spans: int = 0
    """Spans of the task's trace that were read."""


def explain_root(root: TaskRoot, trace_spans: Iterable[RawSpan], thresholds: Thresholds,
                 pricing: PriceTable | None) -> Explained:
    """Analyse one task from the spans of its trace (its descendants are picked out)."""
    spans = [s for s in trace_spans if s.trace_id == root.span.trace_id]
    children: dict[int, list[RawSpan]] = {}
    for span in spans:
        if span.parent_id is not None:
            children.setdefault(span.parent_id, []).append(span)
    records: list[SpanRecord] = []
    frontier, seen = [root.span.span_id], {root.span.span_id}
    while frontier:
        following = []
        for node in frontier:
            for kid in children.get(node, ()):
                if kid.span_id not in seen:
                    seen.add(kid.span_id)
                    records.append(kid.record(pricing))
                    following.append(kid.span_id)
        frontier = following
    analysis = analyse(root.span.span_id, root.span.start_ns, root.span.end_ns, records, thresholds,
                       reported=root.span.reported)
    return Explained(root, analysis, len(spans))
