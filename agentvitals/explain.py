"""Explain a task from its spans, in your own code: the analysis behind ``agentvitals explain`` and the findings
each task span carries (critical path, time parallelism would save, findings with suggestions, errors by class).

    from agentvitals.explain import explain_task
    print(explain_task(task_span, its_descendant_spans))

Spans are ended SDK spans (``ReadableSpan``: what a span processor or an in-memory exporter holds). The finding
thresholds are the ones ``init()`` would use (``AGENTVITALS_FINDING_*``), unless given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agentvitals._config import resolve_finding_thresholds
from agentvitals._explain._analysis import analyse
from agentvitals._explain._records import record_from_span
from agentvitals._explain._render import render_task
from agentvitals._explain._thresholds import Thresholds
from agentvitals.attributes import TASK_NAME

__all__ = ["Thresholds", "explain_task"]


def explain_task(task_span: Any, spans: Iterable[Any], *, thresholds: Thresholds | None = None,
                 max_rows: int = 60) -> str:
    """The task as ``agentvitals explain`` prints it: a waterfall (critical path marked), its time split, tokens
    and cost by operation and model, budget use, errors by class and findings with suggestions."""
    context = task_span.context
    attributes: Mapping[str, Any] = task_span.attributes or {}
    analysis = analyse(context.span_id, task_span.start_time or 0, task_span.end_time or 0,
                       [record_from_span(span) for span in spans], thresholds or resolve_finding_thresholds())
    title = str(attributes.get(TASK_NAME, task_span.name))
    return (f"trace {context.trace_id:032x}   span {context.span_id:016x}\n"
            + render_task(analysis, title=title, attributes=attributes, max_rows=max_rows))
