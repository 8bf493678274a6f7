"""Reading spans and metrics back in the names of either generation (for the replay tests)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

import agentvitals
from agentvitals.metrics import TokenSeries, genai_conventions
from agentvitals.semconv import TokenCount
from tests.conftest import Telemetry, make_telemetry

GENERATIONS = ("current", "latest")


def telemetry_for(names: str, *, capture: bool = False, **kwargs: Any) -> Iterator[Telemetry]:
    telemetry = make_telemetry(capture_content=capture, genai_names=names, **kwargs)
    try:
        yield telemetry
    finally:
        agentvitals.shutdown()


def points_of(telemetry: Telemetry, series: TokenSeries) -> list[Any]:
    return [p for p in telemetry.points(series.metric.name)
            if all(p.attributes.get(key) == value for key, value in series.selector.items())]


def token_total(telemetry: Telemetry, names: str, count: TokenCount) -> float:
    """A token count's total as a dashboard would read it in that generation."""
    series = genai_conventions(names).token_totals[count]
    return sum(getattr(p, "value", None) if hasattr(p, "value") else p.sum for p in points_of(telemetry, series))


def durations(telemetry: Telemetry, names: str, operation: str = "chat") -> list[Any]:
    conventions = genai_conventions(names)
    metric = conventions.embeddings_duration if operation == "embeddings" else conventions.inference_duration
    return [p for p in telemetry.points(metric.name) if p.attributes.get("gen_ai.operation.name") == operation]


def one_duration(telemetry: Telemetry, names: str, operation: str = "chat") -> Mapping[str, Any]:
    found = durations(telemetry, names, operation)
    assert len(found) == 1 and found[0].count == 1, found
    return dict(found[0].attributes)


def content(span: Any, key: str) -> Any:
    value = span.attributes[key]
    assert isinstance(value, str)
    return json.loads(value)


names_param = pytest.mark.parametrize("names", GENERATIONS)
