"""What instrumentation adds to one LLM call, in the configurations users run, counted in instructions.

The call is a real client over an in-process fake transport (``httpx2.MockTransport``), plain and streamed (60
chunks, then the usage), for each client API we instrument (``--api``): openai ``chat.completions.create``
(``chat``) and ``responses.create`` (``responses``), google-genai ``models.generate_content`` and
``generate_content_stream`` (``gemini``), ``litellm.completion`` on an ``openai/`` route (``litellm``, with the
openai SDK under it instrumented too, as ``init()`` does); or a ``task`` with three ``tool`` calls.
Configurations, interleaved in one process, in a shuffled order per round:

  baseline      the call, no telemetry
  floor         the call inside one plain SDK span with ten attributes, on its own TracerProvider whose only
                processor is the SDK's BatchSpanProcessor exporting over OTLP/HTTP
  openai-v2     the call instrumented by the contrib opentelemetry-instrumentation-openai-v2 (span, duration and
                token histograms; no cost, no task accounting) on providers of its own: the SDK's
                BatchSpanProcessor and PeriodicExportingMetricReader, both exporting over OTLP/HTTP
  agentvitals   the call instrumented by agentvitals (span, tokens, cost, five metric points with exemplars, task
                accounting), in one of three setups (``--providers``, each a worker process of its own):
                  init        ``agentvitals.init(endpoint=...)``: providers init() creates, exporting over OTLP/HTTP
                  app         providers the application owns (the SDK's processor and reader, OTLP/HTTP), set
                              globally before ``init()``, which reuses them and adds its span processor
                  in-process  ``init(endpoint=False)`` with OTLP exporters passed in whose histogram aggregation is
                              the default: the only setup in which 462ded1 took its in-process metric path
Every exporter sends to a local sink on 127.0.0.1 (``sink.py``, another process) that accepts and discards OTLP.

Each set of ``calls`` calls is two regions: the calls, then a flush of the configuration's spans and metrics
(one batch of spans exported, one collection and export of the metrics; agentvitals records the metric points
its calls queued there, see ``agentvitals/_recording.py``). The readers' interval is an hour, so no other
collection falls into a region. The report gives both per call: what the calling thread pays, and that plus
the flush on every thread (the whole cost, wherever it runs).

Methods (``--method``):
  callgrind  (default) each worker runs under ``valgrind --tool=callgrind`` with instrumentation on and collection
             zeroed and dumped around each region (``callgrind_control -z`` / ``-d``): instructions, per thread.
             Deterministic to within ~1%, whatever else the machine runs; the reason to use it on a shared
             machine where the same uninstrumented call varies by 60% between processes.
  cpu        CPU time of the calling thread (``time.thread_time``) and of the process (``time.process_time``),
             over many interleaved rounds; noisier, no valgrind needed.
"added" is paired within a round (configuration minus that round's baseline), median over rounds.

The sink counts the spans it received by instrumentation scope, and agentvitals' spans that carry a cost: the
report shows that every instrumented call made one priced span.

    python benchmarks/overhead.py [--method callgrind|cpu] [--api chat|responses|gemini|litellm|task]
                                  [--providers init app]
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sink import Sink  # noqa: E402

CHUNKS = 60
MESSAGES = [{"role": "user", "content": "hi"}]
METRIC_INTERVAL_S = 3600.0
"""Metric readers collect once per interval, whatever the call rate: kept out of the measured regions."""
PROVIDERS = ("init", "app", "in-process")


@dataclass(frozen=True)
class Api:
    """One measured API: its call types, the instrumentors enabled together per region (``module:Class`` under
    ``agentvitals.instrumentation``, as ``init()`` does), the packages whose versions the report names, and
    whether the contrib openai-v2 covers it."""

    call_types: tuple[str, ...]
    instrumentors: tuple[str, ...]
    packages: tuple[str, ...]
    contrib: bool = False


_PLAIN_AND_STREAM = ("plain", "stream")
_OPENAI = "openai:OpenAIInstrumentor"
APIS: dict[str, Api] = {
    "chat": Api(_PLAIN_AND_STREAM, (_OPENAI,), ("openai", "opentelemetry-instrumentation-openai-v2"), contrib=True),
    "responses": Api(_PLAIN_AND_STREAM, (_OPENAI,), ("openai",)),  # openai-v2 2.4b0 has no Responses API
    "gemini": Api(_PLAIN_AND_STREAM, ("google_genai:GoogleGenAIInstrumentor",), ("google-genai",)),
    "litellm": Api(_PLAIN_AND_STREAM, ("litellm:LiteLLMInstrumentor", _OPENAI), ("litellm", "openai")),
    "task": Api(("task+3 tools",), (), ()),
}


# --- canned responses: the same usage for every API (1200 input tokens of which 1000 cached, 50 output) ----
def _sse(events: list[tuple[str | None, dict[str, Any]]], done: bool = False) -> bytes:
    body = b"".join((f"event: {name}\n" if name else "").encode() + f"data: {json.dumps(data)}\n\n".encode()
                    for name, data in events)
    return body + (b"data: [DONE]\n\n" if done else b"")


USAGE = {"prompt_tokens": 1200, "completion_tokens": 50, "total_tokens": 1250,
         "prompt_tokens_details": {"cached_tokens": 1000}}
# As OpenAI answers: the service tier and the system fingerprint in the response and in every chunk.
CHAT = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini", "service_tier": "default",
    "system_fingerprint": "fp_bench",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": USAGE,
}).encode()
_CHUNK = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-mini", "service_tier": "default",
          "system_fingerprint": "fp_bench"}
CHAT_STREAM = _sse([(None, {**_CHUNK, "choices": [{"index": 0, "delta": {"content": "x"}}]})] * (CHUNKS - 1)
                   + [(None, {**_CHUNK, "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop"}]}),
                      (None, {**_CHUNK, "choices": [], "usage": USAGE})], done=True)
_RESPONSE = {"id": "resp_1", "object": "response", "created_at": 0, "status": "completed", "model": "gpt-4o-mini",
             "service_tier": "default",
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


def _answer(request: Any) -> Any:
    import httpx2

    path = request.url.path
    if path.endswith((":streamGenerateContent", ":generateContent")):
        stream = path.endswith(":streamGenerateContent")
        body = GEMINI_STREAM if stream else GEMINI
    else:
        stream = b'"stream": true' in request.content or b'"stream":true' in request.content
        responses = path.endswith("/responses")
        body = (RESPONSE_STREAM if stream else RESPONSE) if responses else (CHAT_STREAM if stream else CHAT)
    return httpx2.Response(200, content=body,
                           headers={"content-type": "text/event-stream" if stream else "application/json"})


def _consume(result: Any) -> None:
    for _ in result:
        pass


def make_call(api: str, call_type: str) -> Callable[[], None]:
    """One call of the API, its result fully read (a stream to its end)."""
    if api == "task":
        import agentvitals

        def task() -> None:
            with agentvitals.task("benchmark"):
                for _ in range(3):
                    with agentvitals.tool("step"):
                        pass

        return task
    import httpx2

    stream = call_type == "stream"
    if api == "gemini":
        from google import genai
        from google.genai import types

        gemini = genai.Client(api_key="bench", http_options=types.HttpOptions(
            base_url="http://fake", httpx_client=httpx2.Client(transport=httpx2.MockTransport(_answer))))

        def generate() -> None:  # closes over the client: a collected genai.Client closes its HTTP client
            if stream:
                _consume(gemini.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))
            else:
                gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")

        return generate
    import openai

    client = openai.OpenAI(api_key="sk-bench", base_url="http://fake/v1",
                           http_client=httpx2.Client(transport=httpx2.MockTransport(_answer)))
    if api == "litellm":
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else its import fetches a cost map
        import litellm

        extra: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}

        def complete() -> None:
            result = litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, client=client,
                                        api_key="sk-bench", **extra)
            if stream:
                _consume(result)

        return complete
    if api == "responses":
        kwargs: dict[str, Any] = {"model": "gpt-4o-mini", "input": "hi"}
        if stream:
            kwargs["stream"] = True
    else:
        kwargs = {"model": "gpt-4o-mini", "messages": MESSAGES}
        if stream:
            kwargs.update(stream=True, stream_options={"include_usage": True})

    # The method is looked up at each call, as applications do: an instrumentation patches the class.
    def call() -> None:
        resource = client.responses if api == "responses" else client.chat.completions
        result = resource.create(**kwargs)
        if stream:
            _consume(result)

    return call


# --- telemetry set-ups ---------------------------------------------------------------------------------
def otlp_tracer_provider(endpoint: str) -> Any:
    """A TracerProvider as an application sets one up: the SDK's batch processor, OTLP/HTTP."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    return provider


def otlp_metric_reader(endpoint: str, **exporter_options: Any) -> Any:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    return PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics", **exporter_options),
                                         export_interval_millis=METRIC_INTERVAL_S * 1000)


def otlp_meter_provider(endpoint: str) -> Any:
    from opentelemetry.sdk.metrics import MeterProvider

    return MeterProvider(metric_readers=[otlp_metric_reader(endpoint)])


@dataclass
class Configuration:
    name: str
    instrument: Callable[[], None] = lambda: None
    uninstrument: Callable[[], None] = lambda: None
    flush: Callable[[], object] = lambda: None
    wrap: Callable[[Callable[[], None]], Callable[[], None]] | None = None
    shutdown: Callable[[], None] = lambda: None


def _flush(tracer_provider: Any, meter_provider: Any) -> Callable[[], object]:
    """Export the spans, then collect and export the metrics."""
    return lambda: (tracer_provider.force_flush(), meter_provider.force_flush())


def _floor(endpoint: str) -> Configuration:
    from opentelemetry.trace import SpanKind

    provider = otlp_tracer_provider(endpoint)
    tracer = provider.get_tracer("floor")
    attributes = {f"attribute.{i}": i for i in range(10)}

    def wrap(call: Callable[[], None]) -> Callable[[], None]:
        def floor() -> None:
            with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=attributes):
                call()

        return floor

    return Configuration("floor", flush=provider.force_flush, wrap=wrap, shutdown=provider.shutdown)


def _contrib(endpoint: str) -> Configuration | None:
    try:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    except ImportError:
        return None
    tracer_provider, meter_provider = otlp_tracer_provider(endpoint), otlp_meter_provider(endpoint)
    instrumentor = OpenAIInstrumentor()

    def shutdown() -> None:
        tracer_provider.shutdown()
        meter_provider.shutdown()

    return Configuration(
        "openai-v2",
        instrument=lambda: instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider),
        uninstrument=instrumentor.uninstrument, flush=_flush(tracer_provider, meter_provider), shutdown=shutdown)


def instrumentors(api: str) -> list[Any]:
    found = []
    for path in APIS[api].instrumentors:
        module, _, name = path.partition(":")
        found.append(getattr(importlib.import_module(f"agentvitals.instrumentation.{module}"), name)())
    return found


def _agentvitals(endpoint: str, providers: str, api: str) -> Configuration:
    """``init()`` once for the worker, its instrumentation of the API's libraries switched on and off per region
    (as ``init(instrumentations=[...])`` does it: the instrumentors on the handler init() activated)."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.trace import TracerProvider

    import agentvitals

    if providers == "init":
        agentvitals.init("benchmark", endpoint=endpoint, instrumentations=[],
                         metric_export_interval=METRIC_INTERVAL_S)
        tracer_provider = trace.get_tracer_provider()  # a fresh worker: the provider init() created and set
    elif providers == "app":
        tracer_provider = otlp_tracer_provider(endpoint)
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(otlp_meter_provider(endpoint))
        agentvitals.init("benchmark", instrumentations=[])
    elif providers == "in-process":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics import Histogram
        from opentelemetry.sdk.metrics.view import DefaultAggregation

        agentvitals.init("benchmark", endpoint=False, instrumentations=[],
                         span_exporter=OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"),
                         metric_readers=[otlp_metric_reader(endpoint,
                                                            preferred_aggregation={Histogram: DefaultAggregation()})])
        tracer_provider = trace.get_tracer_provider()
    else:
        raise ValueError(f"unknown providers {providers!r}")
    if not isinstance(tracer_provider, TracerProvider):
        raise RuntimeError("expected the SDK TracerProvider in use by agentvitals as the global one")
    ours = instrumentors(api)

    def instrument() -> None:
        for instrumentor in ours:
            instrumentor.instrument()

    def uninstrument() -> None:
        for instrumentor in reversed(ours):
            instrumentor.uninstrument()

    return Configuration("agentvitals", instrument=instrument, uninstrument=uninstrument,
                         flush=_flush(tracer_provider, metrics.get_meter_provider()), shutdown=agentvitals.shutdown)


def _plain_task() -> None:
    """The task benchmark's baseline: the same loop without the task and tool scopes."""
    for _ in range(3):
        pass


def configurations(endpoint: str, providers: str, api: str) -> list[Configuration]:
    agentvitals = _agentvitals(endpoint, providers, api)
    if api == "task":  # our own API, always instrumented once init() ran: the baseline is the bare loop
        return [Configuration("baseline", wrap=lambda call: _plain_task),
                Configuration("agentvitals", flush=agentvitals.flush, shutdown=agentvitals.shutdown)]
    found = [Configuration("baseline"), _floor(endpoint)]
    contrib = _contrib(endpoint) if APIS[api].contrib else None
    if contrib is not None:
        found.append(contrib)
    return [*found, agentvitals]


# --- meters ---------------------------------------------------------------------------------------------
class CpuMeter:
    """CPU seconds of the calling thread and of the whole process per region."""

    def __init__(self) -> None:
        self.samples: dict[str, tuple[float, float]] = {}
        self._started = (0.0, 0.0)

    def start(self, label: str) -> None:
        self._started = (time.thread_time(), time.process_time())

    def stop(self, label: str) -> None:
        thread, process = time.thread_time(), time.process_time()
        self.samples[label] = (thread - self._started[0], process - self._started[1])


_PLAIN_LABEL = re.compile(r"[A-Za-z][\w +.:-]*")


class CallgrindMeter:
    """Zeroes callgrind's counters before a region and dumps them (labelled) after it; read by :func:`read_dumps`.
    The ``callgrind_control`` round trip itself is in every region alike, baseline included."""

    def __init__(self) -> None:
        self._pid = str(os.getpid())
        self._control("-i", "on")  # instrumentation was off during imports and set-up (--instr-atstart=no)

    def _control(self, *args: str) -> None:
        subprocess.run(["callgrind_control", *args, self._pid], check=True, stdout=subprocess.DEVNULL)

    def start(self, label: str) -> None:
        self._control("-z")

    def stop(self, label: str) -> None:
        # callgrind_control cuts a label at other characters, and takes one starting with a digit for a pid.
        if not _PLAIN_LABEL.fullmatch(label):
            raise ValueError(f"a callgrind dump label is a letter, then letters, digits, spaces and +-.: {label!r}")
        self._control("-d", label)


# --- the worker: every configuration, interleaved ----------------------------------------------------------
def calls_per_region(call_type: str, calls: int) -> int:
    """A streamed call costs ten times a plain one: half as many per region."""
    return max(calls // 2, 1) if call_type == "stream" else calls


def measure(endpoint: str, providers: str, api: str, calls: int, rounds: int, warmup: int, meter: Any) -> None:
    """Measure every configuration and call type for ``rounds`` rounds, in a shuffled order per round. Two regions
    each: ``calls`` calls (``call type:configuration:round:calls``), then the export of their spans
    (``...:export``). Undoes every patch and shuts everything down."""
    configs = configurations(endpoint, providers, api)
    steps = [(call_type, config) for call_type in APIS[api].call_types for config in configs]
    calls_of = {call_type: make_call(api, call_type) for call_type in APIS[api].call_types}
    order = random.Random(0)
    try:
        for round_number in range(rounds):
            order.shuffle(steps)  # drift and a noisy neighbour hit every configuration alike
            for call_type, config in steps:
                call = calls_of[call_type]
                if config.wrap is not None:
                    call = config.wrap(call)
                config.instrument()
                try:
                    for _ in range(warmup):
                        call()
                    config.flush()
                    gc.collect()
                    label = f"{call_type}:{config.name}:{round_number}"
                    meter.start(f"{label}:calls")
                    for _ in range(calls_per_region(call_type, calls)):
                        call()
                    meter.stop(f"{label}:calls")
                    meter.start(f"{label}:export")
                    config.flush()
                    meter.stop(f"{label}:export")
                finally:
                    config.uninstrument()
    finally:
        for config in configs:
            config.shutdown()


def patch_targets(api: str) -> list[object]:
    """What each patch of the API's instrumentors replaces, read from the class or module itself."""
    targets: list[object] = []
    for instrumentor in instrumentors(api):
        for patch in instrumentor.patches:
            owner: Any = importlib.import_module(patch.module)
            *path, attribute = patch.attribute.split(".")
            for part in path:
                owner = getattr(owner, part)
            targets.append(vars(owner)[attribute] if isinstance(owner, type) else getattr(owner, attribute))
    return targets


def worker(args: argparse.Namespace) -> None:
    meter: Any = CallgrindMeter() if args.method == "callgrind" else CpuMeter()
    before = patch_targets(args.api)
    measure(args.endpoint, args.providers[0], args.api, args.calls, args.rounds, args.warmup, meter)
    after = patch_targets(args.api)
    undone = len(before) == len(after) and all(a is b for a, b in zip(before, after, strict=True))
    print(json.dumps({"samples": getattr(meter, "samples", None), "patches_undone": undone,
                      "versions": versions(args.api)}))


# --- the driver -----------------------------------------------------------------------------------------
_DESC = re.compile(r"^desc: Trigger: dump (.*)$")


def read_dumps(directory: Path) -> dict[str, tuple[float, float]]:
    """``{label: (calling thread, all threads)}`` instructions from callgrind's per-thread dump files (the
    ``summary`` line: the events counted since the last zeroing, as ``callgrind_annotate`` reports them)."""
    regions: dict[str, list[float]] = {}
    for path in directory.glob("cg.*.*-*"):  # cg.<pid>.<dump>-<thread>; the final dump has no <dump> part
        label = None
        count = 0.0
        for line in path.read_text(errors="replace").splitlines():
            match = _DESC.match(line)
            if match:
                label = match.group(1)
            elif line.startswith("summary:"):
                count = float(line.split()[1])
                break
        if label is None:  # the dump at exit
            continue
        thread = int(path.name.rsplit("-", 1)[1])
        region = regions.setdefault(label, [0.0, 0.0])
        if thread == 1:
            region[0] += count
        region[1] += count
    return {label: (values[0], values[1]) for label, values in regions.items()}


def run_worker(python: str, sink: Sink, providers: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [python, str(Path(__file__).resolve()), "--worker", "--endpoint", sink.endpoint,
               "--providers", providers, "--api", args.api, "--calls", str(args.calls), "--rounds", str(args.rounds),
               "--warmup", str(args.warmup), "--method", args.method]
    # Spans are exported when the benchmark flushes them, between regions, never by a timer inside one (every
    # batch processor, the SDK's and ours, reads this); a region's spans stay below the batch size.
    # A fixed hash seed: dict and set layouts, and so instruction counts, are the same from run to run.
    env = {**os.environ, "OTEL_BSP_SCHEDULE_DELAY": str(24 * 3600 * 1000), "PYTHONHASHSEED": "0"}
    if args.method == "cpu":
        out = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
        if out.returncode:
            raise RuntimeError(f"worker failed:\n{out.stderr}")
        return dict(json.loads(out.stdout.splitlines()[-1]))
    directory = Path(tempfile.mkdtemp(prefix="agentvitals-callgrind-"))
    try:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes", "--dump-instr=no",
             f"--callgrind-out-file={directory}/cg.%p", *command],
            capture_output=True, text=True, check=False, env=env)
        if out.returncode:
            raise RuntimeError(f"worker failed:\n{out.stderr[-4000:]}")
        result = dict(json.loads(out.stdout.splitlines()[-1]))
        result["samples"] = read_dumps(directory)
        if args.keep_dumps:
            shutil.copytree(directory, Path(args.keep_dumps) / providers, dirs_exist_ok=True)
        return result
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Summary:
    """Per call: the baseline's cost, each configuration's added cost on the calling thread and in the flush after
    the calls (span export and metric collection, every thread), one value per round, paired with that round's
    baseline."""

    baseline: dict[str, float] = field(default_factory=dict)
    added: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    export: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def median(self, call_type: str, name: str) -> float:
        return statistics.median(self.added[(call_type, name)])

    def flush(self, call_type: str, name: str) -> float:
        return statistics.median(self.export[(call_type, name)])

    def total(self, call_type: str, name: str) -> float:
        """The calling thread's and the flush's, round by round."""
        return statistics.median(a + e for a, e in zip(self.added[(call_type, name)], self.export[(call_type, name)],
                                                          strict=True))


def summarise(samples: dict[str, tuple[float, float]], total_calls: int) -> Summary:
    summary = Summary()
    by_round: dict[tuple[str, str, str], dict[int, tuple[float, float]]] = {}
    for label, value in samples.items():
        call_type, name, round_number, phase = label.split(":")
        by_round.setdefault((call_type, name, phase), {})[int(round_number)] = value
    for (call_type, name, phase), rounds in by_round.items():
        base = by_round[(call_type, "baseline", phase)]
        calls = calls_per_region(call_type, total_calls)
        if name == "baseline":
            if phase == "calls":
                summary.baseline[call_type] = statistics.median(v[0] for v in rounds.values()) / calls
        elif phase == "calls":
            summary.added[(call_type, name)] = [(v[0] - base[r][0]) / calls for r, v in sorted(rounds.items())]
        else:
            summary.export[(call_type, name)] = [(v[1] - base[r][1]) / calls for r, v in sorted(rounds.items())]
    return summary


def versions(api: str) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in (*APIS[api].packages, "opentelemetry-sdk", "agentvitals"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if cpuinfo.exists() else platform.processor()
    return f"{os.cpu_count()} cores, {model}, {platform.machine()}"


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace, received: dict[str, int]) -> list[str]:
    unit, scale, fmt = ("instructions", 1.0, "{:,.0f}") if args.method == "callgrind" else ("CPU µs", 1e6, "{:,.1f}")
    first = next(iter(results.values()))
    lines = [f"# {args.api}: {args.calls} calls per region x {args.rounds} rounds, method {args.method}, {unit} per "
             f"call, medians over rounds; {machine()}; "
             + ", ".join(f"{k} {v}" for k, v in first["versions"].items()), ""]
    lines.append(f"| providers | call | configuration | added per call, calling thread ({unit}) | range over rounds "
                 f"| flush per call (span export, metric collection), all threads | total per call |")
    lines.append("|---|---|---|---:|---|---:|---:|")
    for providers, result in results.items():
        summary = summarise(result["samples"], args.calls)
        for call_type in APIS[args.api].call_types:
            lines.append(f"| {providers} | {call_type} | the call itself (baseline) | "
                         f"{fmt.format(summary.baseline[call_type] * scale)} | | | |")
            for (kind, name), values in sorted(summary.added.items()):
                if kind != call_type:
                    continue
                lines.append(f"| {providers} | {call_type} | + {name} | "
                             f"{fmt.format(summary.median(call_type, name) * scale)} | "
                             f"{fmt.format(min(values) * scale)} .. {fmt.format(max(values) * scale)} | "
                             f"{fmt.format(summary.flush(call_type, name) * scale)} | "
                             f"{fmt.format(summary.total(call_type, name) * scale)} |")
            for other in ("openai-v2", "floor"):
                if (call_type, other) in summary.added:
                    caller = summary.median(call_type, "agentvitals") / summary.median(call_type, other)
                    total = summary.total(call_type, "agentvitals") / summary.total(call_type, other)
                    emphasis = "**" if other == "openai-v2" else ""
                    lines.append(f"| {providers} | {call_type} | {emphasis}agentvitals / {other}{emphasis} | "
                                 f"{emphasis}{caller:.2f}x{emphasis} | | | {emphasis}{total:.2f}x{emphasis} |")
        lines.append(f"| {providers} | | every patch undone | {result['patches_undone']} | | | |")
    lines.append("")
    lines.append("Sink received: " + ", ".join(f"{k} {v:,}" for k, v in sorted(received.items())))
    return lines


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=("callgrind", "cpu"), default="callgrind")
    parser.add_argument("--api", choices=tuple(APIS), default="chat")
    parser.add_argument("--providers", nargs="+", choices=PROVIDERS, default=["init", "app"])
    parser.add_argument("--calls", type=int, default=None,
                        help="calls per region, half of it for streams (default: 20 callgrind, 200 cpu)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default: 3 callgrind, 30 cpu)")
    parser.add_argument("--warmup", type=int, default=3, help="calls before each region, not measured")
    parser.add_argument("--python", default=sys.executable, help="the interpreter of the workers (another venv)")
    parser.add_argument("--keep-dumps", help="copy callgrind's dumps here (for callgrind_annotate)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    callgrind = args.method == "callgrind"
    args.calls = args.calls or (20 if callgrind else 200)
    args.rounds = args.rounds or (3 if callgrind else 30)
    if callgrind and not args.worker and shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install valgrind), or use --method cpu")
    return args


def run(args: argparse.Namespace) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """Every worker (one per set-up of providers, in parallel: counts do not mind), and what the sink received."""
    with Sink() as sink:
        with ThreadPoolExecutor(len(args.providers)) as pool:
            futures = {providers: pool.submit(run_worker, args.python, sink, providers, args)
                       for providers in args.providers}
            results = {providers: future.result() for providers, future in futures.items()}
        return results, sink.received()


def main() -> None:
    args = arguments()
    if args.worker:
        worker(args)
        return
    results, received = run(args)
    print("\n".join(report(results, args, received)))


if __name__ == "__main__":
    main()
