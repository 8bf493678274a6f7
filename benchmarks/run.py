"""The benchmark suite: one command, one run, the numbers the README's Performance section publishes.

    python benchmarks/run.py [--method callgrind|cpu] [--quick] [--demo]

* per-call cost of an LLM call (``overhead.py``): plain and streamed ``chat.completions.create`` with
  agentvitals on ``init()``'s providers and on the application's, the contrib openai-v2 and the raw-span floor;
  ``responses.create``, google-genai ``generate_content`` and ``litellm.completion`` next to it; a ``task`` with
  three ``tool`` calls. Instructions under callgrind by default.
* spans per CPU-second on one core, with the resident memory over the run (tasks of one task span and nine tool
  spans, exported over OTLP/HTTP to the local sink) and the spans the export queue dropped
* ``import agentvitals`` and ``agentvitals.init()`` (default instrumentations, OTLP to the sink) in a fresh
  interpreter: wall and CPU time, and whether init() sent anything before the first export
* with ``--demo``: the demo's sustainable tasks/s on this machine (needs ``pip install -e '.[demo]'``)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import overhead  # noqa: E402
from sink import Sink  # noqa: E402

Row = tuple[str, str, str]


def _spread(values: list[float], scale: float, unit: str) -> str:
    return (f"{statistics.median(values) * scale:.1f} {unit} (min {min(values) * scale:.1f}, "
            f"max {max(values) * scale:.1f})")


def call_tables(method: str, quick: bool, python: str) -> list[str]:
    """The per-call tables of ``overhead.py``: chat on both set-ups of providers, every other client API on
    init()'s, and tasks."""
    sizes = ["--calls", "10", "--rounds", "2"] if quick else []
    common = ["--method", method, "--python", python, *sizes]
    lines: list[str] = []
    apis = [("chat", ["init", "app"]), ("responses", ["init"]), ("gemini", ["init"]), ("litellm", ["init"]),
            ("task", ["init"])]
    for api, providers in apis:
        args = overhead.arguments([*common, "--api", api, "--providers", *providers])
        results, received = overhead.run(args)
        lines += [*overhead.report(results, args, received), ""]
    return lines


# --- throughput -----------------------------------------------------------------------------------------
def _rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def throughput_worker(endpoint: str, seconds: float) -> None:
    import agentvitals

    agentvitals.init("benchmark", endpoint=endpoint, instrumentations=[])
    spans, rss = 0, [_rss_mib()]
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    checkpoints = [start_wall + seconds * fraction for fraction in (0.25, 0.5, 0.75, 1.0)]
    while checkpoints:
        for _ in range(20):
            with agentvitals.task("benchmark"):
                for _ in range(9):
                    with agentvitals.tool("step"):
                        pass
        spans += 200
        if time.perf_counter() >= checkpoints[0]:
            checkpoints.pop(0)
            rss.append(_rss_mib())
    wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    drops = agentvitals.export_stats()
    agentvitals.shutdown()
    print(json.dumps({"spans": spans, "wall": wall, "cpu": cpu, "rss": rss, "drops": drops}))


def throughput_rows(python: str, seconds: float) -> list[Row]:
    with Sink() as sink:
        out = subprocess.run([python, __file__, "--throughput-worker", sink.endpoint, str(seconds)],
                             capture_output=True, text=True, check=True)
        received = sink.received()
    result = json.loads(out.stdout.splitlines()[-1])
    rss = " → ".join(f"{value:.0f}" for value in result["rss"])
    drops = result["drops"]
    return [
        ("sustained on one core: tasks of 1 task + 9 tool spans, OTLP/HTTP export",
         f"{result['spans'] / result['cpu']:,.0f} spans per CPU-second "
         f"({result['spans'] / result['wall']:,.0f}/s wall)",
         f"{result['spans']:,} spans in {result['wall']:.1f} s; the sink received "
         f"{received.get('/v1/traces requests', 0):,} span exports; dropped and counted: "
         f"{drops.get('dropped_spans_queue_full', 0):,} with the export queue full, "
         f"{drops.get('dropped_spans', 0):,} whose export failed"),
        ("resident memory over that run (start → each quarter)", f"{rss} MiB",
         "bounded: the export queue holds at most 2048 spans"),
    ]


# --- start-up -------------------------------------------------------------------------------------------
_STARTUP = """
import json, sys, time, urllib.request
wall, cpu = time.perf_counter(), time.process_time()
import agentvitals
imported = time.perf_counter() - wall, time.process_time() - cpu
heavy = [name for name in ("opentelemetry.sdk", "openai", "anthropic", "httpx") if name in sys.modules]
wall, cpu = time.perf_counter(), time.process_time()
agentvitals.init("benchmark", endpoint=sys.argv[1])
initialised = time.perf_counter() - wall, time.process_time() - cpu
with urllib.request.urlopen(sys.argv[1] + "/stats", timeout=10) as response:
    received = json.load(response)
print(json.dumps({"import": imported, "init": initialised, "sent": sum(received.values()), "heavy": heavy}))
agentvitals.shutdown(0.5)
"""


def startup_rows(python: str, repeats: int) -> list[Row]:
    samples: list[dict[str, Any]] = []
    for _ in range(repeats):
        with Sink() as sink:  # a fresh sink each time: anything it holds was sent by that init()
            out = subprocess.run([python, "-c", _STARTUP, sink.endpoint], capture_output=True, text=True, check=True)
        samples.append(json.loads(out.stdout.splitlines()[-1]))
    sent = sum(sample["sent"] for sample in samples)
    heavy = sorted({name for sample in samples for name in sample["heavy"]})
    rows: list[Row] = []
    for key, what, note in (("import", "import agentvitals", f"modules it pulled in of opentelemetry.sdk, openai, "
                                                             f"anthropic, httpx: {', '.join(heavy) or 'none'}"),
                            ("init", "agentvitals.init() (default instrumentations)",
                             f"target < 200 ms; sent before the first export: {sent} requests")):
        rows.append((f"{what}, fresh interpreter, wall", _spread([s[key][0] for s in samples], 1e3, "ms"), note))
        rows.append((f"{what}, fresh interpreter, CPU", _spread([s[key][1] for s in samples], 1e3, "ms"),
                     f"{repeats} interpreters"))
    return rows


# --- the demo -------------------------------------------------------------------------------------------
def demo_rows(rates: list[float], seconds: float) -> list[Row]:
    from agentvitals.demo.runner import DemoConfig, run_demo

    from agentvitals.attributes import TASK_WALL_TIME

    def run(rate: float, duration: float) -> Any:
        return asyncio.run(run_demo(DemoConfig(phases=f"steady:{duration:g}", rate=rate, degraded=True, seed=2,
                                               progress=False, workers=16, max_workers=16, drain_timeout_s=30)))

    run(2.0, 2.0)  # warm-up: imports and first connections, not measured
    rows: list[Row] = []
    best = 0.0
    for rate in rates:
        demo = run(rate, seconds)
        tasks = demo.collector.snapshot()
        load_start = min(t.start for t in tasks)
        in_window = [t for t in tasks if t.start + float(t.attributes[TASK_WALL_TIME]) <= load_start + seconds]
        kept_up = len(in_window) >= 0.9 * demo.report.tasks and demo.report.p95_s < 2.0 and demo.report.shed == 0
        if kept_up:
            best = max(best, rate)
        rows.append((f"demo at {rate:g} tasks/s offered (degraded mode, 16 workers)",
                     f"{len(in_window) / seconds:.1f} tasks/s completed, p95 {demo.report.p95_s * 1000:.0f} ms",
                     "kept up" if kept_up else "fell behind"))
    rows.append(("demo: sustainable on this machine", f"{best:g} tasks/s", "highest offered rate it kept up with"))
    return rows


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--throughput-worker":
        throughput_worker(sys.argv[2], float(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=("callgrind", "cpu"), default="callgrind")
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds, shorter runs")
    parser.add_argument("--demo", action="store_true", help="also the demo's sustainable rate (minutes)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter of the workers (another venv)")
    args = parser.parse_args()
    lines = call_tables(args.method, args.quick, args.python)
    rows = throughput_rows(args.python, 2.0 if args.quick else 10.0)
    rows += startup_rows(args.python, 3 if args.quick else 7)
    if args.demo:
        rows += demo_rows([4.0, 8.0] if args.quick else [4.0, 8.0, 12.0, 16.0], 10.0 if args.quick else 20.0)
    lines += ["| measurement | result | note |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {note} |" for name, value, note in rows]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
