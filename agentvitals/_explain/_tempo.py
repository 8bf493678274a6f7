"""Traces from Grafana Tempo's HTTP API (the standard library's HTTP client; nothing to install).

* one trace: ``GET /api/v2/traces/<trace id>`` answers ``{"trace": {"resourceSpans": [...]}, "status": ...}``
  (protobuf JSON: base64 ids, enum names; a 404 when the trace is unknown). The v1 shape, ``{"batches": [...]}``,
  is read too.
* the slowest or costliest tasks: a TraceQL search, ``GET /api/search?q=...`` selecting the task spans' wall time
  and cost, then each chosen trace by id.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from agentvitals._explain._otlp import ExplainInputError, RawSpan, parse_id, spans_of
from agentvitals.attributes import TASK_COST_AMOUNT, TASK_WALL_TIME

__all__ = ["TempoClient"]

_TIMEOUT_S = 10.0
_MAX_BYTES = 64 * 1024 * 1024


class TempoClient:
    def __init__(self, base_url: str, timeout_s: float = _TIMEOUT_S) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ExplainInputError(f"--tempo-url {base_url!r} is not an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def _get(self, path: str, what: str) -> Any:
        url = f"{self.base_url}{path}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - http(s) checked
                body = response.read(_MAX_BYTES + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise ExplainInputError(f"{what} not found in Tempo at {self.base_url}") from None
            raise ExplainInputError(f"Tempo at {self.base_url} answered HTTP {exc.code} for {what}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ExplainInputError(f"cannot reach Tempo at {self.base_url}: {reason}") from None
        if len(body) > _MAX_BYTES:
            raise ExplainInputError(f"Tempo's answer for {what} is larger than {_MAX_BYTES // 2**20} MiB")
        try:
            return json.loads(body)
        except ValueError:
            raise ExplainInputError(f"Tempo at {self.base_url} did not answer JSON for {what}") from None

    def trace(self, trace_id: str) -> list[RawSpan]:
        """The spans of one trace (``trace_id``: 32 hex digits). A partial answer explains what it holds."""
        what = f"trace {trace_id}"
        answer = self._get(f"/api/v2/traces/{trace_id}", what)
        data = answer.get("trace", answer) if isinstance(answer, Mapping) else answer
        try:
            spans = list(spans_of(data))
        except (ValueError, TypeError, AttributeError) as exc:
            raise ExplainInputError(f"Tempo's answer for {what} is not OTLP JSON ({exc})") from None
        if not spans:
            raise ExplainInputError(f"{what} not found in Tempo at {self.base_url}")
        return spans

    def search_tasks(self, limit: int, since_s: float) -> list[tuple[str, int, float, float]]:
        """(trace id, task span id, wall seconds, cost) of recent task spans, via TraceQL."""
        query = (f"{{ span.{TASK_WALL_TIME} > 0 }} | select(span.{TASK_WALL_TIME}, span.{TASK_COST_AMOUNT})")
        now = int(time.time())
        params = urllib.parse.urlencode({"q": query, "limit": limit, "spss": 10, "start": now - int(since_s),
                                         "end": now})
        answer = self._get(f"/api/search?{params}", "task spans")
        found: list[tuple[str, int, float, float]] = []
        try:
            for trace in answer.get("traces") or ():
                trace_id = str(trace["traceID"]).rjust(32, "0")
                span_sets = trace.get("spanSets") or ([trace["spanSet"]] if trace.get("spanSet") else [])
                for span_set in span_sets:
                    for span in span_set.get("spans") or ():
                        values = {a["key"]: next(iter(a.get("value", {}).values()), None)
                                  for a in span.get("attributes") or ()}
                        span_id = parse_id(str(span["spanID"]).rjust(16, "0"), 8)
                        if span_id is None:
                            continue
                        found.append((trace_id, span_id, float(values.get(TASK_WALL_TIME) or 0.0),
                                      float(values.get(TASK_COST_AMOUNT) or 0.0)))
        except (KeyError, TypeError, ValueError, AttributeError, StopIteration) as exc:
            raise ExplainInputError(f"Tempo's search answer is not what Tempo answers ({exc!r})") from None
        return found
