"""Per-call overhead of an instrumented ``chat.completions.create``, measured in place.

The configurations run in the same process, interleaved per round so drift hits all equally:
  baseline      the real openai SDK over an in-process fake transport (httpx2.MockTransport), no telemetry
  floor         baseline wrapped in one raw OpenTelemetry span with ten attributes: a plain TracerProvider
                whose only processor is a BatchSpanProcessor
  agentvitals   the SDK instrumented by agentvitals (span, tokens, cost, metrics, task accounting)
  contrib openai-v2   the same SDK instrumented by opentelemetry-instrumentation-openai-v2 instead (no cost,
                no task accounting), when installed (``pip install -e '.[bench]'``)
Many short rounds, each running every configuration in a shuffled order; the added time is paired within a round
(configuration minus baseline of the same round), which cancels drift. Prints median / min / max over
the rounds and the floor ratio.

    python benchmarks/overhead.py [--calls 200] [--rounds 40] [--stream]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx2
import openai
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

import agentvitals
from agentvitals._handler import Handler, current
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


CONTRIB = "contrib openai-v2"


def instrumentations(telemetry: Handler) -> dict[str, tuple[Any, dict[str, Any]]]:
    """The instrumented configurations: ours, and the contrib openai-v2 instrumentation (no cost, no task
    accounting) when the ``bench`` extra installed it, on the same providers."""
    found: dict[str, tuple[Any, dict[str, Any]]] = {
        "agentvitals": (OpenAIInstrumentor(), {"handler": telemetry, "skip_dep_check": True}),
    }
    try:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as ContribOpenAIInstrumentor
    except ImportError:
        return found
    found[CONTRIB] = (ContribOpenAIInstrumentor(), {"tracer_provider": trace.get_tracer_provider(),
                                                   "meter_provider": metrics.get_meter_provider()})
    return found


def measure(*, stream: bool, calls: int, rounds: int) -> dict[str, list[float]]:
    """Per-call seconds of each configuration, one entry per round (rounds interleaved)."""
    init_benchmark()
    telemetry = current()
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

    # The floor is plain OpenTelemetry: its own provider with nothing but a BatchSpanProcessor, so none of
    # agentvitals' processors (task accounting, drop counting) are in it.
    raw_provider = TracerProvider()
    raw_provider.add_span_processor(BatchSpanProcessor(NullSpanExporter()))
    raw_tracer = raw_provider.get_tracer("floor")
    floor_attributes = {f"attribute.{i}": i for i in range(10)}

    def floor() -> None:
        with raw_tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=floor_attributes):
            baseline()

    results: dict[str, list[float]] = {"baseline": [], "floor": []}
    steps: list[Callable[[], None]] = [
        lambda: results["baseline"].append(per_call_seconds(baseline, calls)),
        lambda: results["floor"].append(per_call_seconds(floor, calls)),
    ]
    for name, (instrumentor, options) in instrumentations(telemetry).items():
        results[name] = []

        def instrumented(name: str = name, instrumentor: Any = instrumentor, options: Any = options) -> None:
            instrumentor.instrument(**options)
            try:
                results[name].append(per_call_seconds(baseline, calls))
            finally:
                instrumentor.uninstrument()

        steps.append(instrumented)
    order = random.Random(0)
    try:
        for _ in range(rounds):
            # Short rounds in a shuffled order: drift and a noisy neighbour hit every configuration alike.
            order.shuffle(steps)
            for step in steps:
                step()
    finally:
        raw_provider.shutdown()
        agentvitals.shutdown()
    return results


def added_per_call(results: dict[str, list[float]]) -> dict[str, list[float]]:
    """Seconds each configuration added per call, per round (paired with that round's baseline)."""
    return {name: [value - base for value, base in zip(values, results["baseline"], strict=True)]
            for name, values in results.items() if name != "baseline"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="calls per configuration per round")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--stream", action="store_true", help="streaming calls (60 chunks + usage)")
    args = parser.parse_args()
    results = measure(stream=args.stream, calls=args.calls, rounds=args.rounds)
    added = added_per_call(results)
    print(f"# chat.completions.create{' (stream, 60 chunks)' if args.stream else ''}: {args.calls} calls x "
          f"{args.rounds} rounds; openai {openai.__version__}; Python {platform.python_version()}; "
          f"{platform.machine()}")
    print(f"{'configuration':<20}{'median µs':>12}{'min µs':>10}{'max µs':>10}{'added µs':>11}")
    for name, values in results.items():
        median = statistics.median(added[name]) if name in added else 0.0
        print(f"{name:<20}{statistics.median(values) * 1e6:>12.1f}{min(values) * 1e6:>10.1f}"
              f"{max(values) * 1e6:>10.1f}{median * 1e6:>11.1f}")
    for name in added:
        if name != "floor":
            ratio = statistics.median(added[name]) / statistics.median(added["floor"])
            print(f"{name} / floor (added time): {ratio:.2f}x")


if __name__ == "__main__":
    main()
