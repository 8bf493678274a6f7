"""Where agentvitals' added cost per LLM call goes: each piece of the hot path measured on its own, in instructions.

A diagnostic companion to ``overhead.py`` (same method, same ``init()`` set-up exporting to a local sink): every
piece runs ``--iterations`` times in one callgrind region of its own, in one process. Without caches in the
count, a piece costs the same on its own as inside the call, except for the garbage collections its allocations
bring forward. Uses agentvitals' private modules: it measures them.

    python benchmarks/breakdown.py [--iterations 200] [--method callgrind|cpu]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import overhead  # noqa: E402
from sink import Sink  # noqa: E402

Piece = Callable[[], object]


def _provider_with(processor: Any) -> Any:
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()
    if processor is not None:
        provider.add_span_processor(processor)
    return provider


def pieces(endpoint: str) -> dict[str, Piece]:
    """The hot path of a plain ``chat.completions.create``, piece by piece, on init()'s providers."""
    import openai
    from opentelemetry import context as otel_context
    from opentelemetry import metrics, trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.trace import SpanKind

    import agentvitals
    from agentvitals._accounting import AccountingProcessor
    from agentvitals._handler import current
    from agentvitals._lifecycle import should_instrument_llm
    from agentvitals._sdk._db_metrics import DatabaseMetricsProcessor
    from agentvitals._sdk._export import BatchExportProcessor
    from agentvitals.attributes import INSTRUMENTATION_SCOPE
    from agentvitals.instrumentation._llm import sync_llm_wrapper
    from agentvitals.instrumentation._openai_format import chat_response
    from agentvitals.instrumentation.openai import CHAT

    agentvitals.init("benchmark", endpoint=endpoint, instrumentations=[],
                     metric_export_interval=overhead.METRIC_INTERVAL_S)
    handler = current()
    client = openai.OpenAI(api_key="sk-bench", base_url="http://fake/v1")
    completions = client.chat.completions
    result = openai.types.chat.ChatCompletion.model_validate(json.loads(overhead.CHAT))
    kwargs = {"model": "gpt-4o-mini", "messages": overhead.MESSAGES}
    stream_kwargs = {**kwargs, "stream": True, "stream_options": {"include_usage": True}}
    wrapper = sync_llm_wrapper(CHAT)(handler)
    chunks = [openai.types.chat.ChatCompletionChunk.model_validate(json.loads(line.removeprefix(b"data: ")))
              for line in overhead.CHAT_STREAM.splitlines() if line.startswith(b"data: {")]

    def canned(**_: Any) -> Any:
        return result

    def canned_stream(**_: Any) -> Any:
        return iter(chunks)

    # What one call puts on its span and into its metrics (as the wrapper computes them).
    request = CHAT.parse_request(completions, kwargs)
    start_attributes = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": "gpt-4o-mini", **request.attributes}
    response = chat_response(result, False)
    end_attributes = {"gen_ai.response.model": response.model, "gen_ai.response.id": response.response_id,
                      "gen_ai.response.finish_reasons": response.finish_reasons, "gen_ai.usage.input_tokens": 1200,
                      "gen_ai.usage.output_tokens": 50, "gen_ai.usage.cache_read.input_tokens": 1000,
                      "agentvitals.cost.amount": 0.0002, "agentvitals.cost.currency": "USD",
                      "agentvitals.cost.source": "local"}
    tracer = handler.tracer
    bare = overhead.otlp_tracer_provider(endpoint).get_tracer("bare")
    meter = metrics.get_meter("benchmark")
    by_processor = {name: _provider_with(processor).get_tracer(INSTRUMENTATION_SCOPE)  # spans of ours
                    for name, processor in (
                        ("none", None), ("accounting", AccountingProcessor(current)),
                        ("db metrics", DatabaseMetricsProcessor(meter)),
                        ("export", BatchExportProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"),
                                                        target=endpoint)))}
    own_labels = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                  "gen_ai.request.model": "gpt-4o-mini"}
    labels = {**own_labels, "server.address": "fake", "server.port": 80, "gen_ai.response.model": "gpt-4o-mini"}
    genai = handler.instruments.genai
    recorder = handler.recorder
    assert recorder is not None, "init() records metric points at collection"
    span = tracer.start_span("chat gpt-4o-mini")
    span_context = trace.set_span_in_context(span)
    empty_context = otel_context.Context()
    flag = otel_context.create_key("benchmark-flag")

    def whole_wrapper() -> object:
        return wrapper(canned, completions, (), kwargs)

    def whole_stream() -> object:
        for _ in wrapper(canned_stream, completions, (), stream_kwargs):
            pass
        return None

    def short_stream() -> object:  # the last content chunk and the usage: what a stream costs besides its chunks
        for _ in wrapper(lambda **_: iter(chunks[-2:]), completions, (), stream_kwargs):
            pass
        return None

    def bare_stream() -> object:
        for _ in canned_stream():
            pass
        return None

    def span_ours() -> object:
        started = tracer.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=start_attributes)
        started.set_attributes(end_attributes)
        started.end()
        return started

    def span_bare() -> object:
        started = bare.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=start_attributes)
        started.set_attributes(end_attributes)
        started.end()
        return started

    def span_on(name: str) -> Piece:
        def piece() -> object:
            started = by_processor[name].start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT,
                                                    attributes=start_attributes)
            started.set_attributes(end_attributes)
            started.end()
            return started

        return piece

    def span_bare_empty() -> object:
        started = bare.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT)
        started.end()
        return started

    def metric_points() -> object:
        genai.record_duration("chat", 0.5, labels, span_context)
        genai.record_usage("chat", response.usage, labels, own_labels, failed=False, context=span_context)
        handler.instruments.cost.add(0.0002, own_labels, context=span_context)
        return None

    def metric_points_recorded() -> object:
        metric_points()
        return recorder.record_waiting()

    def one_point() -> object:
        genai.record_duration("chat", 0.5, labels, span_context)
        return None

    def one_point_without_exemplar() -> object:
        genai.record_duration("chat", 0.5, labels, empty_context)
        return None

    def context_switch() -> object:
        should_instrument_llm()
        ctx = otel_context.set_value(flag, True, trace.set_span_in_context(span))
        token = otel_context.attach(ctx)
        otel_context.detach(token)
        return ctx

    return {
        "the whole wrapper, the call stubbed": whole_wrapper,
        "the whole wrapper, a stubbed stream of 61 chunks read to its end": whole_stream,
        "the whole wrapper, a stubbed stream of 2 chunks read to its end": short_stream,
        "a task with three tools (the task's own scope)": overhead.make_call("task", "task+3 tools"),
        "reading the same 61 chunks, uninstrumented": bare_stream,
        "request parsing": lambda: CHAT.parse_request(completions, kwargs),
        "response parsing": lambda: chat_response(result, False),
        "pricing": lambda: handler.pricing.cost("openai", "gpt-4o-mini", response.usage),
        "span, our attributes, init()'s processors": span_ours,
        "span, our attributes, the SDK's batch processor only": span_bare,
        "span, our attributes, no processor": span_on("none"),
        "span, our attributes, the accounting processor only": span_on("accounting"),
        "span, our attributes, the database metrics processor only": span_on("db metrics"),
        "span, our attributes, our export processor only": span_on("export"),
        "span, no attributes, the SDK's batch processor only": span_bare_empty,
        "metrics: the call's 5 points, queued (the calling thread)": metric_points,
        "metrics: the call's 5 points, queued and recorded (a collection's share)": metric_points_recorded,
        "metrics: 1 histogram point, queued and recorded (6 labels, exemplar)": lambda: (
            one_point(), recorder.record_waiting()),
        "metrics: 1 histogram point, queued and recorded (6 labels, no exemplar)": lambda: (
            one_point_without_exemplar(), recorder.record_waiting()),
        "context: checks, span + flag, attach/detach": context_switch,
    }


def worker(args: argparse.Namespace) -> None:
    from opentelemetry import metrics

    meter: Any = overhead.CallgrindMeter() if args.method == "callgrind" else overhead.CpuMeter()
    found = {name: piece for name, piece in pieces(args.endpoint).items()
             if not args.only or any(part in name for part in args.only)}
    for round_number in range(args.rounds):
        for index, piece in enumerate(found.values()):
            for _ in range(20):
                piece()
            gc.collect()
            label = f"piece{index}:{round_number}"  # callgrind_control takes plain words only
            meter.start(label)
            for _ in range(args.iterations):
                piece()
            meter.stop(label)
            metrics.get_meter_provider().force_flush()  # what the pieces queued is recorded: the queue never fills
    import agentvitals

    agentvitals.shutdown()
    print(json.dumps({"samples": getattr(meter, "samples", None), "names": list(found)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=("callgrind", "cpu"), default="callgrind")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", action="append", help="measure the pieces whose name contains this (repeatable)")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    with Sink() as sink:
        command = [args.python, str(Path(__file__).resolve()), "--worker", "--endpoint", sink.endpoint,
                   "--iterations", str(args.iterations), "--rounds", str(args.rounds), "--method", args.method,
                   *(f"--only={part}" for part in args.only or ())]
        env = {**os.environ, "OTEL_BSP_SCHEDULE_DELAY": str(24 * 3600 * 1000), "PYTHONHASHSEED": "0"}
        if args.method == "cpu":
            out = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
            result = json.loads(out.stdout.splitlines()[-1])
            samples = {k: tuple(v) for k, v in result["samples"].items()}
            scale, unit = 1e6, "CPU µs"
        else:
            directory = Path(tempfile.mkdtemp(prefix="agentvitals-breakdown-"))
            try:
                out = subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
                                      "--dump-instr=no", f"--callgrind-out-file={directory}/cg.%p", *command],
                                     capture_output=True, text=True, check=True, env=env)
                result = json.loads(out.stdout.splitlines()[-1])
                samples = overhead.read_dumps(directory)
            finally:
                shutil.rmtree(directory, ignore_errors=True)
            scale, unit = 1.0, "instructions"
    by_piece: dict[str, list[float]] = {}
    for label, (caller, _total) in samples.items():
        index, _round = label.removeprefix("piece").split(":")
        by_piece.setdefault(result["names"][int(index)], []).append(caller / args.iterations * scale)
    print(f"| piece of one plain call | {unit} per call (each round) |")
    print("|---|---:|")
    for name in result["names"]:
        values = by_piece[name]
        print(f"| {name} | " + " / ".join(f"{v:,.0f}" for v in values) + " |")


if __name__ == "__main__":
    main()
