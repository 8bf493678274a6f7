"""The cost of explaining a task at its end, per task, for 5, 50 and 500 child spans.

Measured on span trees shaped like an agent's: model calls (each with the SDK's HTTP span inside), tool calls in
sequence and in parallel (each with an HTTP span), DB queries. Rows:
  analysis          the analysis alone (critical path, sequences, findings, errors): what ``agentvitals explain``
                    runs too
  at task end       the analysis, the task span's attributes and the metric points (``explain_task``), with a real
                    SDK MeterProvider
  per span          what each span of a task adds when it ends: its record in the task's summary

Prints median / min / max microseconds of CPU time over the repeats. Not a test: numbers for the README.

    python benchmarks/explain.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from agentvitals._explain._records import SpanRecord, build_record, record_from_span
from agentvitals._explain._summary import TaskSpans, explain_task
from agentvitals._explain._thresholds import Thresholds
from agentvitals._handler import Handler
from agentvitals.attributes import TOOL_ARGUMENTS_HASH, WaitKind
from agentvitals.semconv import (
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_TOOL_NAME,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
)

ROOT = 1
MS = 1_000_000
SIZES = (5, 50, 500)


def agent_like_tree(children: int) -> list[SpanRecord]:
    """``children`` spans: a repeating step of a model call, three sequential tools, two parallel tools and a DB
    query, each external call with an HTTP span inside (about half the spans are those inner spans)."""
    records: list[SpanRecord] = []
    clock, next_id = 0, ROOT + 1

    def add(parent: int, start: int, end: int, kind: WaitKind, attributes: dict[str, object]) -> int:
        nonlocal next_id
        span_kind = SpanKind.CLIENT if kind is not WaitKind.TOOL else SpanKind.INTERNAL
        records.append(build_record(next_id, parent, f"span {next_id}", span_kind, start * MS, end * MS, attributes,
                                    ours=True, failed=False))
        next_id += 1
        return next_id - 1

    http = {"http.request.method": "POST", "url.full": "http://tools.local/run"}
    while len(records) < children:
        llm = add(ROOT, clock, clock + 400, WaitKind.LLM, {
            GEN_AI_OPERATION_NAME: "chat", GEN_AI_PROVIDER_NAME: "openai", GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
            GEN_AI_USAGE_INPUT_TOKENS: 1200, GEN_AI_USAGE_OUTPUT_TOKENS: 80})
        add(llm, clock + 1, clock + 399, WaitKind.HTTP, http)
        clock += 400
        for index in range(3):  # one after another
            tool = add(ROOT, clock, clock + 100, WaitKind.TOOL, {
                GEN_AI_OPERATION_NAME: "execute_tool", GEN_AI_TOOL_NAME: f"lookup{index}",
                TOOL_ARGUMENTS_HASH: f"{index:016x}"})
            add(tool, clock + 1, clock + 99, WaitKind.HTTP, http)
            clock += 100
        for index in range(2):  # concurrently
            tool = add(ROOT, clock, clock + 150, WaitKind.TOOL, {
                GEN_AI_OPERATION_NAME: "execute_tool", GEN_AI_TOOL_NAME: f"search{index}"})
            add(tool, clock + 1, clock + 149, WaitKind.HTTP, http)
        clock += 150
        add(ROOT, clock, clock + 5, WaitKind.DB, {"db.system.name": "sqlite", "db.query.text": "SELECT 1"})
        clock += 10
    return records[:children]


def timed(work: Callable[[], object], repeats: int) -> list[float]:
    """Microseconds of this thread's CPU time per run: on a shared machine, time other processes take is not
    ours (wall time would count it)."""
    samples = []
    for _ in range(repeats):
        started = time.thread_time_ns()
        work()
        samples.append((time.thread_time_ns() - started) / 1e3)
    return samples


def measure(repeats: int = 200) -> dict[str, dict[int, list[float]]]:
    """Microseconds per task (per span for ``per span``), by row and size."""
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    handler = Handler.create(tracer_provider=TracerProvider(), meter_provider=meters)
    thresholds = Thresholds()
    results: dict[str, dict[int, list[float]]] = {"analysis": {}, "at task end": {}}
    span = handler.tracer.start_span("invoke_agent bench")
    for size in SIZES:
        records = agent_like_tree(size)
        spans = TaskSpans(ROOT, thresholds)
        for record in records:
            spans.add(record)
        end = max(r.end_ns for r in records) + MS
        results["analysis"][size] = timed(lambda: spans.analyse(0, end), repeats)  # noqa: B023 - used at once
        results["at task end"][size] = timed(
            lambda: explain_task(handler, spans, "bench", 0, end, span), repeats)  # noqa: B023
    # What each span of a task adds when it ends: its record (the rest of the processor's work predates explain).
    tracer = TracerProvider().get_tracer("agentvitals")
    with tracer.start_as_current_span("execute_tool lookup", attributes={
            GEN_AI_OPERATION_NAME: "execute_tool", GEN_AI_TOOL_NAME: "lookup", TOOL_ARGUMENTS_HASH: "0" * 16}) as tool:
        pass
    results["per span"] = {1: [sample / 100 for sample in timed(
        lambda: [record_from_span(tool) for _ in range(100)], repeats)]}  # type: ignore[arg-type]
    meters.shutdown()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    results = measure(args.repeats)
    print(f"explain cost (Python {platform.python_version()}, {platform.processor() or platform.machine()}, "
          f"{args.repeats} repeats; µs of CPU time: median (min, max))")
    for row, by_size in results.items():
        for size, samples in by_size.items():
            label = f"{row}, {size} child spans" if row != "per span" else "per span of a task (its record)"
            print(f"  {label:<38} {statistics.median(samples):9.1f} µs  ({min(samples):.1f}, {max(samples):.1f})")


if __name__ == "__main__":
    main()
