"""The demo's routes for :class:`agentvitals.ModelRouter`: the planner on the small model; answers on the large
model in normal mode and on the small one, with fewer tokens, in degraded mode (trading quality for latency
and cost under load); a canary of the large model on 5% of the tasks; the answer check on the small model."""

from __future__ import annotations

import time
from collections.abc import Iterable

from opentelemetry import metrics

from agentvitals.routing import Choice, Mode, ModelRouter, Route, Variant

from .model_server import CANARY, LARGE, SMALL

__all__ = ["CANARY_SHARE", "ROUTES", "degraded_periods", "make_router"]

CANARY_SHARE = 0.05
ROUTES = {
    "plan": Route(normal=Choice(SMALL.name, max_tokens=96)),
    "answer": Route(normal=Choice(LARGE.name, max_tokens=200), degraded=Choice(SMALL.name, max_tokens=96),
                    variants=[Variant("canary", CANARY_SHARE, normal=Choice(CANARY, max_tokens=200))]),
    "verify": Route(normal=Choice(SMALL.name, max_tokens=32)),
}


def make_router(*, meter_provider: metrics.MeterProvider | None = None, degraded: bool = False,
                seed: int = 1) -> ModelRouter:
    """The demo's router; ``degraded`` starts it degraded as if the control service had said so (it can
    switch it back). Its mode source is the one ``init()`` was given, if any (``--alertmanager-url``)."""
    router = ModelRouter(ROUTES, name="support", seed=seed, meter_provider=meter_provider)
    if degraded:
        router.set_degraded(True, "start")
    return router


def degraded_periods(transitions: Iterable[tuple[float, Mode, str]], until: float | None = None
                     ) -> list[tuple[float, float]]:
    """(start, end) wall-clock intervals the router spent degraded, from its transitions."""
    periods: list[tuple[float, float]] = []
    start: float | None = None
    for when, mode, _ in transitions:
        if mode is Mode.DEGRADED and start is None:
            start = when
        elif mode is Mode.NORMAL and start is not None:
            periods.append((start, when))
            start = None
    if start is not None:
        periods.append((start, until or time.time()))
    return periods
