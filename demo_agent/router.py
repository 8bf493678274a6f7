"""The model router: normal mode uses the large model for answers; degraded mode uses the small
model everywhere with fewer output tokens, trading quality for latency and cost under load."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from opentelemetry import metrics

from agentvitals.control.metrics import ROUTER_DEGRADED, ROUTER_MODE, ROUTER_SWITCHES
from agentvitals.metrics import create_instrument

from .model_server import CANARY, LARGE, SMALL

__all__ = ["ModelChoice", "ModelRouter"]


@dataclass(frozen=True)
class ModelChoice:
    model: str
    max_tokens: int


class ModelRouter:
    def __init__(self, *, meter_provider: metrics.MeterProvider | None = None, degraded: bool = False,
                 canary_share: float = 0.05, seed: int = 1) -> None:
        self._degraded = degraded
        self.canary_share = canary_share
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.history: list[tuple[float, bool, str]] = [(time.time(), degraded, "start")]
        meter = metrics.get_meter("agentvitals.demo.router", meter_provider=meter_provider)
        create_instrument(meter, ROUTER_DEGRADED, [self._observe])
        self._switches = create_instrument(meter, ROUTER_SWITCHES)

    def _observe(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        yield metrics.Observation(1 if self._degraded else 0)

    @property
    def degraded(self) -> bool:
        return self._degraded

    def set_degraded(self, degraded: bool, reason: str = "") -> bool:
        """Switch mode; returns False when already in that mode (idempotent)."""
        with self._lock:
            if degraded == self._degraded:
                return False
            self._degraded = degraded
            self.history.append((time.time(), degraded, reason))
        self._switches.add(1, {ROUTER_MODE: "degraded" if degraded else "normal"})
        return True

    def plan(self) -> ModelChoice:
        return ModelChoice(SMALL.name, 96)

    def answer(self) -> ModelChoice:
        """Degraded: the small model, fewer tokens. Normal: the large one; a small share goes to its canary."""
        if self._degraded:
            return ModelChoice(SMALL.name, 96)
        return ModelChoice(CANARY if self._rng.random() < self.canary_share else LARGE.name, 200)

    def degraded_periods(self, until: float | None = None) -> list[tuple[float, float]]:
        """(start, end) wall-clock intervals spent in degraded mode."""
        periods: list[tuple[float, float]] = []
        start: float | None = None
        for when, degraded, _ in self.history:
            if degraded and start is None:
                start = when
            elif not degraded and start is not None:
                periods.append((start, when))
                start = None
        if start is not None:
            periods.append((start, until or time.time()))
        return periods
