"""Per-call overhead of an instrumented ``chat.completions.create``, measured in place.

Three configurations run in the same process, interleaved per round so drift hits all equally:
  baseline      the real openai SDK over an in-process fake transport (httpx2.MockTransport), no telemetry
  floor         baseline wrapped in one raw OpenTelemetry span with ten attributes (BatchSpanProcessor)
  agentvitals   the SDK instrumented by agentvitals (span, tokens, cost, metrics, task accounting)
Prints median / min / max of the per-call time over the rounds, the added µs, and the floor ratio.

    python benchmarks/overhead.py [--calls 2000] [--rounds 7] [--stream]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx2
import openai
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

import agentvitals
from agentvitals._telemetry import current
from agentvitals.instrumentation.openai import OpenAIInstrumentor

USAGE = {"prompt_tokens": 1200, "completion_tokens": 50, "total_tokens": 1250,
         "prompt_tokens_details": {"cached_tokens": 1000}}
CHAT = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": USAGE,
}).encode()
CHUNK = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-mini"}
STREAM = b"".join(
    [f"data: {json.dumps({**CHUNK, 'choices': [{'index': 0, 'delta': {'content': 'x'}}]})}\n\n".encode()] * 60
    + [f"data: {json.dumps({**CHUNK, 'choices': [], 'usage': USAGE})}\n\n".encode(), b"data: [DONE]\n\n"]
)
MESSAGES = [{"role": "user", "content": "hi"}]


class NullSpanExporter(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class NullMetricExporter(MetricExporter):
    def __init__(self) -> None:
        super().__init__()

    def export(self, metrics_data: Any, timeout_millis: float = 0, **kwargs: Any) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 0) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 0, **kwargs: Any) -> None:
        pass


def handler(request: httpx2.Request) -> httpx2.Response:
    if b'"stream": true' in request.content or b'"stream":true' in request.content:
        return httpx2.Response(200, content=STREAM, headers={"content-type": "text/event-stream"})
    return httpx2.Response(200, content=CHAT, headers={"content-type": "application/json"})


def per_call_seconds(call: Callable[[], None], calls: int) -> float:
    for _ in range(min(20, calls)):
        call()
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls


def init_benchmark() -> None:
    """agentvitals with the full SDK pipeline but exporters that discard (no network, no export cost)."""
    agentvitals.init(
        "benchmark", endpoint=False, instrumentations=[], span_exporter=NullSpanExporter(),
        metric_readers=[PeriodicExportingMetricReader(NullMetricExporter(), export_interval_millis=3_600_000)],
    )


def measure(*, stream: bool, calls: int, rounds: int) -> dict[str, list[float]]:
    """Per-call seconds of each configuration, one entry per round (rounds interleaved)."""
    init_benchmark()
    telemetry = current()
    tracer = telemetry.tracer
    client = openai.OpenAI(api_key="sk-bench", base_url="http://fake/v1",
                           http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    kwargs: dict[str, Any] = {"model": "gpt-4o-mini", "messages": MESSAGES}
    if stream:
        kwargs.update(stream=True, stream_options={"include_usage": True})

    def baseline() -> None:
        result = client.chat.completions.create(**kwargs)
        if stream:
            for _ in result:
                pass

    floor_attributes = {f"attribute.{i}": i for i in range(10)}

    def floor() -> None:
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=floor_attributes):
            baseline()

    instrumentor = OpenAIInstrumentor()
    results: dict[str, list[float]] = {"baseline": [], "floor": [], "agentvitals": []}
    try:
        for _ in range(rounds):
            results["baseline"].append(per_call_seconds(baseline, calls))
            results["floor"].append(per_call_seconds(floor, calls))
            instrumentor.instrument(telemetry=telemetry, skip_dep_check=True)
            results["agentvitals"].append(per_call_seconds(baseline, calls))
            instrumentor.uninstrument()
    finally:
        agentvitals.shutdown()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--stream", action="store_true", help="streaming calls (60 chunks + usage)")
    args = parser.parse_args()
    results = measure(stream=args.stream, calls=args.calls, rounds=args.rounds)
    base = statistics.median(results["baseline"])
    print(f"# chat.completions.create{' (stream, 60 chunks)' if args.stream else ''}: {args.calls} calls x "
          f"{args.rounds} rounds; openai {openai.__version__}; Python {platform.python_version()}; "
          f"{platform.machine()}")
    print(f"{'configuration':<14}{'median µs':>12}{'min µs':>10}{'max µs':>10}{'added µs':>11}")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name:<14}{median * 1e6:>12.1f}{min(values) * 1e6:>10.1f}{max(values) * 1e6:>10.1f}"
              f"{(median - base) * 1e6:>11.1f}")
    added_floor = statistics.median(results["floor"]) - base
    added_ours = statistics.median(results["agentvitals"]) - base
    print(f"agentvitals / floor (added time): {added_ours / added_floor:.2f}x")


if __name__ == "__main__":
    main()
