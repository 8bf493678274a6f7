"""Per-call overhead of an instrumented LLM client call, measured in place, for each client API we instrument.

The configurations run in the same process, interleaved per round so drift hits all equally:
  baseline      the real client over an in-process fake transport (httpx2.MockTransport), no telemetry
  floor         baseline wrapped in one raw OpenTelemetry span with ten attributes: a plain TracerProvider
                whose only processor is a BatchSpanProcessor
  agentvitals   the client instrumented by agentvitals (span, tokens, cost, metrics, task accounting)
  contrib openai-v2   the same SDK instrumented by opentelemetry-instrumentation-openai-v2 instead (no cost,
                no task accounting), when installed (``pip install -e '.[bench]'``); chat completions only
Many short rounds, each running every configuration in a shuffled order; the added time is paired within a round
(configuration minus baseline of the same round), which cancels drift. Prints median / min / max over
the rounds and the floor ratio.

APIs (``--api``): ``chat`` (openai ``chat.completions.create``), ``responses`` (openai ``responses.create``),
``gemini`` (google-genai ``models.generate_content``; streamed: ``generate_content_stream``), ``litellm``
(``litellm.completion`` on an ``openai/`` route, with the openai SDK under it instrumented too, as ``init()``
does). Streams have 60 chunks plus the usage.

Clocks (``--clock``): ``wall`` (default, ``time.perf_counter``) or ``cpu`` (``time.process_time``: the CPU time
of the whole process, the export threads included). On a shared machine the CPU clock is the steadier reading of
what a call costs: time spent waiting for a core does not count.

    python benchmarks/overhead.py [--api chat] [--calls 200] [--rounds 40] [--stream] [--clock wall]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
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

CHUNKS = 60
MESSAGES = [{"role": "user", "content": "hi"}]


def _sse(events: list[tuple[str | None, dict[str, Any]]], done: bool = False) -> bytes:
    body = b"".join((f"event: {name}\n" if name else "").encode() + f"data: {json.dumps(data)}\n\n".encode()
                    for name, data in events)
    return body + (b"data: [DONE]\n\n" if done else b"")


# --- canned responses: the same usage for every API (1200 input of which 1000 cached, 50 output) -----
USAGE = {"prompt_tokens": 1200, "completion_tokens": 50, "total_tokens": 1250,
         "prompt_tokens_details": {"cached_tokens": 1000}}
CHAT = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": USAGE,
}).encode()
CHUNK = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-mini"}
STREAM = _sse([(None, {**CHUNK, "choices": [{"index": 0, "delta": {"content": "x"}}]})] * (CHUNKS - 1)
              + [(None, {**CHUNK, "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop"}]}),
                 (None, {**CHUNK, "choices": [], "usage": USAGE})], done=True)

_RESPONSE = {"id": "resp_1", "object": "response", "created_at": 0, "status": "completed", "model": "gpt-4o-mini",
             "output": [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                         "content": [{"type": "output_text", "text": "hello", "annotations": []}]}],
             "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
             "usage": {"input_tokens": 1200, "input_tokens_details": {"cached_tokens": 1000}, "output_tokens": 50,
                       "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 1250}}
RESPONSE = json.dumps(_RESPONSE).encode()
RESPONSE_STREAM = _sse(
    [("response.created", {"type": "response.created", "sequence_number": 0,
                           "response": {**_RESPONSE, "status": "in_progress", "output": [], "usage": None}})]
    + [("response.output_text.delta", {"type": "response.output_text.delta", "sequence_number": i + 1,
                                       "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "x",
                                       "logprobs": []}) for i in range(CHUNKS)]
    + [("response.completed", {"type": "response.completed", "sequence_number": CHUNKS + 1, "response": _RESPONSE})]
)


def _gemini(text: str, usage: dict[str, Any], finish: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        candidate["finishReason"] = "STOP"
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-2.5-flash", "responseId": "r"}


_GEMINI_USAGE = {"promptTokenCount": 1200, "cachedContentTokenCount": 1000, "candidatesTokenCount": 50,
                 "totalTokenCount": 1250}
GEMINI = json.dumps(_gemini("hello", _GEMINI_USAGE, True)).encode()
GEMINI_STREAM = _sse([(None, _gemini("x", {"promptTokenCount": 1200, "totalTokenCount": 1200}, False))] * CHUNKS
                     + [(None, _gemini("x", _GEMINI_USAGE, True))])


def handler(request: httpx2.Request) -> httpx2.Response:
    path = request.url.path
    sse, plain = "text/event-stream", "application/json"
    if path.endswith(":streamGenerateContent"):
        return httpx2.Response(200, content=GEMINI_STREAM, headers={"content-type": sse})
    if path.endswith(":generateContent"):
        return httpx2.Response(200, content=GEMINI, headers={"content-type": plain})
    stream = b'"stream": true' in request.content or b'"stream":true' in request.content
    if path.endswith("/responses"):
        return httpx2.Response(200, content=RESPONSE_STREAM if stream else RESPONSE,
                               headers={"content-type": sse if stream else plain})
    return httpx2.Response(200, content=STREAM if stream else CHAT, headers={"content-type": sse if stream else plain})


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


# --- the client APIs ----------------------------------------------------------------------------------
def _fake_http() -> httpx2.Client:
    return httpx2.Client(transport=httpx2.MockTransport(handler))


def _openai() -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-bench", base_url="http://fake/v1", http_client=_fake_http())


def _consume(result: Any) -> None:
    for _ in result:
        pass


def _chat_call(stream: bool) -> Callable[[], None]:
    client = _openai()
    extra: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}

    def call() -> None:
        result = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **extra)
        if stream:
            _consume(result)

    return call


def _responses_call(stream: bool) -> Callable[[], None]:
    client = _openai()

    def call() -> None:
        result = client.responses.create(model="gpt-4o-mini", input="hi", stream=stream)
        if stream:
            _consume(result)

    return call


def _gemini_call(stream: bool) -> Callable[[], None]:
    from google import genai
    from google.genai import types

    client = genai.Client(api_key="bench", http_options=types.HttpOptions(base_url="http://fake",
                                                                          httpx_client=_fake_http()))

    def call() -> None:  # closes over client: a collected genai.Client closes its HTTP client
        if stream:
            _consume(client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))
        else:
            client.models.generate_content(model="gemini-2.5-flash", contents="hi")

    return call


def _litellm_call(stream: bool) -> Callable[[], None]:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else its import fetches a cost map
    import litellm

    client = _openai()
    extra: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}

    def call() -> None:
        result = litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, client=client, api_key="sk-bench",
                                    **extra)
        if stream:
            _consume(result)

    return call


@dataclass(frozen=True)
class Api:
    """One client API: how to call it (plain or streamed) and which of our instrumentors cover it."""

    title: str
    make_call: Callable[[bool], Callable[[], None]]
    instrumentors: tuple[str, ...]
    """``module:Class`` under ``agentvitals.instrumentation``, all enabled together (as ``init()`` does)."""
    contrib: bool = False
    """The contrib openai-v2 instrumentation covers it (then measured in the same run)."""


APIS: dict[str, Api] = {
    "chat": Api("chat.completions.create", _chat_call, ("openai:OpenAIInstrumentor",), contrib=True),
    "responses": Api("responses.create", _responses_call, ("openai:OpenAIInstrumentor",)),
    "gemini": Api("google-genai models.generate_content", _gemini_call, ("google_genai:GoogleGenAIInstrumentor",)),
    "litellm": Api("litellm.completion (openai/ route)", _litellm_call,
                   ("litellm:LiteLLMInstrumentor", "openai:OpenAIInstrumentor")),
}


class _Together:
    """Several instrumentors behind one instrument()/uninstrument() pair."""

    def __init__(self, paths: tuple[str, ...]) -> None:
        self._instrumentors = []
        for path in paths:
            module, _, name = path.partition(":")
            self._instrumentors.append(getattr(importlib.import_module(f"agentvitals.instrumentation.{module}"),
                                               name)())

    def instrument(self, **options: Any) -> None:
        for instrumentor in self._instrumentors:
            instrumentor.instrument(**options)

    def uninstrument(self) -> None:
        for instrumentor in reversed(self._instrumentors):
            instrumentor.uninstrument()


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def per_call_seconds(call: Callable[[], None], calls: int, clock: Callable[[], float] = time.perf_counter) -> float:
    for _ in range(min(20, calls)):
        call()
    start = clock()
    for _ in range(calls):
        call()
    return (clock() - start) / calls


def init_benchmark() -> None:
    """agentvitals with the full SDK pipeline but exporters that discard (no network, no export cost)."""
    agentvitals.init(
        "benchmark", endpoint=False, instrumentations=[], span_exporter=NullSpanExporter(),
        metric_readers=[PeriodicExportingMetricReader(NullMetricExporter(), export_interval_millis=3_600_000)],
    )


CONTRIB = "contrib openai-v2"


def instrumentations(telemetry: Handler, api: Api) -> dict[str, tuple[Any, dict[str, Any]]]:
    """The instrumented configurations: ours, and the contrib openai-v2 instrumentation (no cost, no task
    accounting) when the ``bench`` extra installed it and it covers the API, on the same providers."""
    found: dict[str, tuple[Any, dict[str, Any]]] = {
        "agentvitals": (_Together(api.instrumentors), {"handler": telemetry, "skip_dep_check": True}),
    }
    if not api.contrib:
        return found
    try:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as ContribOpenAIInstrumentor
    except ImportError:
        return found
    found[CONTRIB] = (ContribOpenAIInstrumentor(), {"tracer_provider": trace.get_tracer_provider(),
                                                   "meter_provider": metrics.get_meter_provider()})
    return found


def measure(*, stream: bool, calls: int, rounds: int, api: str = "chat", clock: str = "wall"
            ) -> dict[str, list[float]]:
    """Per-call seconds of each configuration, one entry per round (rounds interleaved), on ``clock``."""
    chosen = APIS[api]
    now = CLOCKS[clock]
    init_benchmark()
    telemetry = current()
    baseline = chosen.make_call(stream)

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
        lambda: results["baseline"].append(per_call_seconds(baseline, calls, now)),
        lambda: results["floor"].append(per_call_seconds(floor, calls, now)),
    ]
    for name, (instrumentor, options) in instrumentations(telemetry, chosen).items():
        results[name] = []

        def instrumented(name: str = name, instrumentor: Any = instrumentor, options: Any = options) -> None:
            instrumentor.instrument(**options)
            try:
                results[name].append(per_call_seconds(baseline, calls, now))
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
    parser.add_argument("--api", choices=sorted(APIS), default="chat")
    parser.add_argument("--calls", type=int, default=200, help="calls per configuration per round")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--stream", action="store_true", help=f"streaming calls ({CHUNKS} chunks + usage)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall time, or the process's CPU time (steadier on a shared machine)")
    args = parser.parse_args()
    results = measure(stream=args.stream, calls=args.calls, rounds=args.rounds, api=args.api, clock=args.clock)
    added = added_per_call(results)
    print(f"# {APIS[args.api].title}{f' (stream, {CHUNKS} chunks)' if args.stream else ''}: {args.calls} calls x "
          f"{args.rounds} rounds; {args.clock} clock; openai {openai.__version__}; "
          f"Python {platform.python_version()}; {platform.machine()}")
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
