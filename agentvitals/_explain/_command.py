"""``agentvitals explain``: one task (or the slowest/costliest few) from an OTLP JSON file or Tempo, as text.

Bad input (an unknown trace id, an unreachable Tempo, a file that is not OTLP JSON) is one line on stderr and
exit code 2.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

from agentvitals import environment_variables as env
from agentvitals._explain._otlp import (
    Explained,
    ExplainInputError,
    RawSpan,
    TaskRoot,
    explain_root,
    spans_of,
    task_roots,
)
from agentvitals._explain._render import render_task
from agentvitals._explain._tempo import TempoClient
from agentvitals._explain._thresholds import Thresholds

__all__ = ["explain", "run"]

_TRACE_ID = re.compile(r"^[0-9a-fA-F]{1,32}$")
_WHOLE_FILE_LIMIT = 256 * 1024 * 1024


def _thresholds() -> Thresholds:
    from agentvitals._config import resolve_finding_thresholds

    return resolve_finding_thresholds()


def _pricing() -> Any:
    from agentvitals._config import ConfigError
    from agentvitals._pricing import load_price_table

    try:
        return load_price_table(None, os.environ.get(env.AGENTVITALS_PRICES) or None)
    except ConfigError:
        return load_price_table(None, None)


def _trace_id(text: str) -> str:
    text = text.strip()
    if not _TRACE_ID.match(text) or int(text, 16) == 0:
        raise ExplainInputError(f"{text!r} is not a trace id (up to 32 hex digits)")
    return text.lower().rjust(32, "0")


# --- the file source ---------------------------------------------------------------------------------------------
def _file_spans(path: str) -> Iterator[RawSpan]:
    """Every span in an OTLP JSON file: one ExportTraceServiceRequest per line (the Collector's file exporter), or
    one JSON document (a trace downloaded from Tempo or Grafana)."""
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below, after the generator is done
    except OSError as exc:
        raise ExplainInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                request = json.loads(line)
            except ValueError:
                if number == 1:
                    yield from _whole_file(path)
                    return
                raise ExplainInputError(f"{path}: line {number} is not JSON (expected OTLP JSON, one "
                                        "ExportTraceServiceRequest per line)") from None
            yield from _spans(request, f"{path}: line {number}")


def _whole_file(path: str) -> Iterator[RawSpan]:
    if os.path.getsize(path) > _WHOLE_FILE_LIMIT:
        raise ExplainInputError(f"{path} is not OTLP JSON lines, and too large to read as one JSON document")
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (ValueError, UnicodeDecodeError):
        raise ExplainInputError(f"{path} is not OTLP JSON (not JSON)") from None
    yield from _spans(document, path)


def _spans(document: Any, where: str) -> Iterator[RawSpan]:
    if isinstance(document, dict) and isinstance(document.get("trace"), dict):
        document = document["trace"]  # Tempo's v2 answer, saved
    try:
        yield from spans_of(document)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ExplainInputError(f"{where} is not OTLP JSON ({exc})") from None


def _from_file(path: str, trace_id: str | None, slowest: int | None, costliest: int | None,
               thresholds: Thresholds) -> list[Explained]:
    pricing = _pricing()
    if trace_id is not None:
        wanted = int(trace_id, 16)
        spans = [s for s in _file_spans(path) if s.trace_id == wanted]
        if not spans:
            raise ExplainInputError(f"trace {trace_id} not found in {path}")
        return _explain_trace(spans, f"trace {trace_id} in {path}", thresholds, pricing)
    roots = task_roots(s for s in _file_spans(path) if "gen_ai.operation.name" in s.attributes
                       or "openinference.span.kind" in s.attributes)
    if not roots:
        raise ExplainInputError(f"no task (invoke_agent) spans in {path}")
    chosen = _pick(roots, slowest, costliest)
    traces = {root.span.trace_id for root in chosen}
    by_trace: dict[int, list[RawSpan]] = {}
    for span in _file_spans(path):
        if span.trace_id in traces:
            by_trace.setdefault(span.trace_id, []).append(span)
    return [explain_root(root, by_trace.get(root.span.trace_id, []), thresholds, pricing) for root in chosen]


def _explain_trace(spans: list[RawSpan], where: str, thresholds: Thresholds, pricing: Any
                   ) -> list[Explained]:
    """Every outermost task of one trace's spans, in the order they started."""
    roots = [r for r in task_roots(spans) if not r.nested]
    if not roots:
        raise ExplainInputError(f"{where} has no task (invoke_agent) span")
    roots.sort(key=lambda r: r.span.start_ns)
    return [explain_root(root, spans, thresholds, pricing) for root in roots]


def _pick(roots: list[TaskRoot], slowest: int | None, costliest: int | None) -> list[TaskRoot]:
    if costliest is not None:
        return sorted(roots, key=lambda r: -r.cost_usd)[:costliest]
    return sorted(roots, key=lambda r: -r.wall_s)[: slowest or 1]


# --- the Tempo source ---------------------------------------------------------------------------------------------
def _from_tempo(url: str, trace_id: str | None, slowest: int | None, costliest: int | None, since_s: float,
                thresholds: Thresholds) -> list[Explained]:
    client = TempoClient(url)
    pricing = _pricing()
    if trace_id is not None:
        return _explain_trace(client.trace(trace_id), f"trace {trace_id} in Tempo", thresholds, pricing)
    wanted = costliest if costliest is not None else (slowest or 1)
    found = client.search_tasks(limit=max(100, 20 * wanted), since_s=since_s)
    if not found:
        raise ExplainInputError(f"no task spans in Tempo at {client.base_url} in the last {since_s:g}s")
    found.sort(key=lambda item: -(item[3] if costliest is not None else item[2]))
    explained: list[Explained] = []
    fetched: dict[str, list[RawSpan]] = {}
    for trace_hex, span_id, _wall, _cost in found[:wanted]:
        spans = fetched.get(trace_hex) or fetched.setdefault(trace_hex, client.trace(trace_hex))
        root = next((r for r in task_roots(spans) if r.span.span_id == span_id), None)
        if root is not None:
            explained.append(explain_root(root, spans, thresholds, pricing))
    if not explained:
        raise ExplainInputError(f"Tempo at {client.base_url} returned no task span the search found")
    return explained


# --- the command ------------------------------------------------------------------------------------------------
def explain(*, trace_id: str | None, file: str | None, tempo_url: str | None, slowest: int | None = None,
            costliest: int | None = None, since_s: float = 3600.0, max_rows: int = 60) -> str:
    """The explanation text. Raises :class:`ExplainInputError` for input it cannot use."""
    if file is None and tempo_url is None:
        file = os.environ.get(env.AGENTVITALS_TRACE_FILE) or None
    if (file is None) == (tempo_url is None):
        raise ExplainInputError("give one source: --file PATH (OTLP JSON lines) or --tempo-url URL")
    if trace_id is not None and (slowest is not None or costliest is not None):
        raise ExplainInputError("give a trace id or --slowest/--costliest, not both")
    normalised = _trace_id(trace_id) if trace_id is not None else None
    thresholds = _thresholds()
    if file is not None:
        explained = _from_file(file, normalised, slowest, costliest, thresholds)
    else:
        assert tempo_url is not None
        explained = _from_tempo(tempo_url, normalised, slowest, costliest, since_s, thresholds)
    parts = []
    for index, item in enumerate(explained, 1):
        header = f"[{index}/{len(explained)}] " if len(explained) > 1 else ""
        span = item.root.span
        service = f"   service {span.service}" if span.service else ""
        parts.append(f"trace {span.trace_id:032x}   span {span.span_id:016x}{service}\n"
                     + render_task(item.analysis, title=item.root.name, attributes=span.attributes, header=header,
                                   max_rows=max_rows))
    return "\n\n".join(parts)


def run(args: Any) -> int:
    try:
        text = explain(trace_id=args.trace_id, file=args.file, tempo_url=args.tempo_url, slowest=args.slowest,
                       costliest=args.costliest, since_s=args.since, max_rows=args.max_rows)
    except ExplainInputError as exc:
        print(f"agentvitals explain: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0
