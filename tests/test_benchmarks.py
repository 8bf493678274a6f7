"""The benchmark suite keeps running (a few calls, no timing asserted) and leaves nothing behind."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

import pytest

import agentvitals._sdk
from agentvitals.attributes import COST_AMOUNT

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import explain  # noqa: E402
import overhead  # noqa: E402


@pytest.mark.parametrize("api", sorted(overhead.APIS))
@pytest.mark.parametrize("stream", [False, True])
def test_overhead_measures_every_configuration_and_unpatches(stream: bool, api: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from openai.resources.chat.completions.completions import Completions
    from openai.resources.responses.responses import Responses

    exported: list[Any] = []
    monkeypatch.setattr(overhead.NullSpanExporter, "export", lambda self, spans: exported.extend(spans))
    results = overhead.measure(stream=stream, calls=3, rounds=2, api=api)

    # The instrumented configuration really made priced LLM spans (one per call, with a cost), and only those.
    ours = [s for s in exported if s.instrumentation_scope.name == "agentvitals"]
    assert len(ours) == 2 * (3 + 3)  # 2 rounds of (3 warm-up + 3 measured) calls
    assert all(s.attributes[COST_AMOUNT] > 0 for s in ours)

    assert {"baseline", "floor", "agentvitals"} <= set(results)
    assert all(len(times) == 2 and all(t > 0 for t in times) for times in results.values())
    added = overhead.added_per_call(results)
    assert set(added) == set(results) - {"baseline"}
    assert added["floor"] == [f - b for f, b in zip(results["floor"], results["baseline"], strict=True)]
    assert inspect.isfunction(Completions.create) and inspect.isfunction(Responses.create)  # every patch undone
    assert agentvitals._sdk._runtime is None  # and agentvitals shut down


def test_overhead_on_the_cpu_clock() -> None:
    results = overhead.measure(stream=False, calls=3, rounds=2, api="responses", clock="cpu")
    assert {"baseline", "floor", "agentvitals"} <= set(results)
    assert all(len(times) == 2 and all(t > 0 for t in times) for times in results.values())


def test_explain_benchmark_measures_every_row() -> None:
    results = explain.measure(repeats=2)
    assert set(results) == {"analysis", "at task end", "per span"}
    assert set(results["analysis"]) == set(results["at task end"]) == set(explain.SIZES)
    assert all(len(samples) == 2 and all(s > 0 for s in samples)
               for by_size in results.values() for samples in by_size.values())
    assert len(explain.agent_like_tree(50)) == 50
