"""The benchmark suite keeps running (a few calls, no timing asserted) and leaves nothing behind."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest

import agentvitals._sdk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import overhead  # noqa: E402


@pytest.mark.parametrize("stream", [False, True])
def test_overhead_measures_every_configuration_and_unpatches(stream: bool) -> None:
    from openai.resources.chat.completions.completions import Completions

    results = overhead.measure(stream=stream, calls=3, rounds=2)

    assert {"baseline", "floor", "agentvitals"} <= set(results)
    assert all(len(times) == 2 and all(t > 0 for t in times) for times in results.values())
    added = overhead.added_per_call(results)
    assert set(added) == set(results) - {"baseline"}
    assert added["floor"] == [f - b for f, b in zip(results["floor"], results["baseline"], strict=True)]
    assert inspect.isfunction(Completions.create)  # every instrumentation undone
    assert agentvitals._sdk._runtime is None  # and agentvitals shut down
