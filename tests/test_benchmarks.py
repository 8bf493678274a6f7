"""The benchmark scripts keep running (a few calls, no timing asserted) and leave nothing behind."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import explain  # noqa: E402
import overhead  # noqa: E402
import run  # noqa: E402


def test_overhead_measures_every_configuration_and_undoes_every_patch() -> None:
    args = overhead.arguments(["--method", "cpu", "--calls", "2", "--rounds", "1", "--warmup", "1"])

    results, received = overhead.run(args)

    names = {"floor", "agentvitals"}
    if importlib.util.find_spec("opentelemetry.instrumentation.openai_v2") is not None:
        names.add("openai-v2")
    assert set(results) == {"init", "app"}
    for result in results.values():
        assert result["patches_undone"] is True
        summary = overhead.summarise(result["samples"], args.calls)
        assert set(summary.baseline) == {"plain", "stream"}
        assert set(summary.added) == {(call, name) for call in ("plain", "stream") for name in names}
        assert all(len(values) == 1 for values in summary.added.values())
    assert received["/v1/traces requests"] > 0  # every configuration exported to the sink over OTLP/HTTP
    assert received["priced spans"] == received["spans from agentvitals"] > 0  # each of our calls priced
    assert any("agentvitals / openai-v2" in line or "agentvitals / floor" in line
               for line in overhead.report(results, args, received))


@pytest.mark.parametrize("api", ["responses", "gemini", "litellm"])
def test_every_client_api_is_measured_with_one_priced_span_per_instrumented_call(api: str) -> None:
    args = overhead.arguments(["--method", "cpu", "--api", api, "--providers", "init", "--calls", "4",
                               "--rounds", "2", "--warmup", "1"])

    results, received = overhead.run(args)

    result = results["init"]
    assert result["patches_undone"] is True
    summary = overhead.summarise(result["samples"], args.calls)
    assert set(summary.added) == {(call, name) for call in ("plain", "stream") for name in ("floor", "agentvitals")}
    # 2 rounds x (1 warm-up + 4 plain calls, then 1 warm-up + 2 streamed calls), each one agentvitals span, priced.
    instrumented_calls = 2 * ((1 + 4) + (1 + 2))
    assert received["spans from agentvitals"] == instrumented_calls
    assert received["priced spans"] == instrumented_calls
    assert received["spans from floor"] == instrumented_calls


def test_task_benchmark_measures_tasks_against_the_bare_loop() -> None:
    args = overhead.arguments(["--method", "cpu", "--api", "task", "--providers", "init", "--calls", "2",
                               "--rounds", "1", "--warmup", "1"])

    results, _ = overhead.run(args)

    summary = overhead.summarise(results["init"]["samples"], args.calls)
    assert set(summary.added) == {("task+3 tools", "agentvitals")}


def test_breakdown_measures_every_piece() -> None:
    out = subprocess.run([sys.executable, str(BENCHMARKS / "breakdown.py"), "--method", "cpu", "--iterations", "2",
                          "--rounds", "1"], capture_output=True, text=True, check=True, timeout=120)

    rows = [line for line in out.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + 20  # the header and every piece
    assert any(row.startswith("| the whole wrapper") for row in rows)


def test_suite_rows_for_throughput_and_start_up() -> None:
    throughput = run.throughput_rows(sys.executable, 0.2)
    startup = run.startup_rows(sys.executable, 1)

    assert "spans per CPU-second" in throughput[0][1]
    assert "sent before the first export: 0 requests" in startup[2][2]  # init() itself sends nothing


def test_explain_benchmark_measures_every_row() -> None:
    results = explain.measure(repeats=2)
    assert set(results) == {"analysis", "at task end", "per span"}
    assert set(results["analysis"]) == set(results["at task end"]) == set(explain.SIZES)
    assert all(len(samples) == 2 and all(s > 0 for s in samples)
               for by_size in results.values() for samples in by_size.values())
    assert len(explain.agent_like_tree(50)) == 50
