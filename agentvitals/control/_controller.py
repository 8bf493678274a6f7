"""The control loop's brain: alerts in, router and scaler actions out.

* ``degrade`` firing -> router to degraded mode. When the last degrade alert resolves, the router
  returns to normal only after ``cooldown_s`` without a new one (no flapping).
* ``scale_out`` firing -> one step up per alert instance, never above ``max_workers``. When the
  last scale-out alert resolves, back to the baseline after the same cool-down.
* ``page`` -> recorded and counted (a pager is Alertmanager's job).

Idempotent: an alert instance is (fingerprint, startsAt); a notification already applied for the
same instance and status changes nothing, whether Alertmanager repeats it or a client replays it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry import metrics

from agentvitals.control.metrics import CONTROL_ACTION, CONTROL_ACTIONS, CONTROL_RESULT
from agentvitals.metrics import create_instrument

_logger = logging.getLogger("agentvitals.control")

__all__ = ["ACTIONS", "AlertEvent", "Controller", "RouterSwitch", "Scaler", "Scheduler", "ThreadScheduler"]

ACTIONS = ("scale_out", "degrade", "page")


class Scaler(Protocol):
    """Something with a number of workers (a pool, a Deployment, ...)."""

    def current(self) -> int: ...

    def scale_to(self, workers: int) -> None:
        """Ask for ``workers`` workers. Must not block for long; may raise (the controller logs it)."""


class RouterSwitch(Protocol):
    def set_degraded(self, degraded: bool, reason: str = "") -> bool:
        """Switch mode; returns False when already in it."""
        ...


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Cancellable: ...


class ThreadScheduler:
    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Cancellable:
        timer = threading.Timer(delay_s, callback)
        timer.daemon = True
        timer.start()
        return timer


@dataclass(frozen=True)
class AlertEvent:
    """One alert of an Alertmanager notification, validated."""

    status: str
    """``firing`` or ``resolved``."""
    name: str
    action: str
    fingerprint: str
    starts_at: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def instance(self) -> tuple[str, str]:
        return (self.fingerprint, self.starts_at)


class Controller:
    def __init__(self, *, router: RouterSwitch | None = None, scaler: Scaler | None = None,
                 max_workers: int = 32, scale_step: int = 4, cooldown_s: float = 60.0,
                 scheduler: Scheduler | None = None, meter_provider: metrics.MeterProvider | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if scale_step < 1 or max_workers < 1 or cooldown_s < 0:
            raise ValueError("scale_step and max_workers must be >= 1 and cooldown_s >= 0")
        self.router = router
        self.scaler = scaler
        self.max_workers = max_workers
        self.scale_step = scale_step
        self.cooldown_s = cooldown_s
        self._scheduler = scheduler or ThreadScheduler()
        self._clock = clock
        self._lock = threading.Lock()
        self._active: dict[str, set[tuple[str, str]]] = {action: set() for action in ACTIONS}
        self._seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._restore: dict[str, Cancellable] = {}
        self.baseline_workers: int | None = scaler.current() if scaler is not None else None
        self.history: list[tuple[float, str, str]] = []
        """(time, what happened, detail), for reports and tests."""
        meter = metrics.get_meter("agentvitals.control", meter_provider=meter_provider)
        self._actions = create_instrument(meter, CONTROL_ACTIONS)

    # --- input --------------------------------------------------------------------------------------
    def handle(self, event: AlertEvent) -> str:
        """Apply one alert; returns ``applied``, ``duplicate`` or ``ignored``. Thread-safe."""
        key = (event.fingerprint, event.starts_at, event.status)
        with self._lock:
            if key in self._seen:
                result = "duplicate"
            else:
                self._seen[key] = None
                if len(self._seen) > 10_000:
                    self._seen.popitem(last=False)
                result = self._apply(event)
        self._actions.add(1, {CONTROL_ACTION: event.action, CONTROL_RESULT: result})
        return result

    def _apply(self, event: AlertEvent) -> str:
        active = self._active[event.action]
        if event.status == "firing":
            if event.instance in active:
                return "duplicate"
            active.add(event.instance)
            self._cancel_restore(event.action)
            self._record("firing", f"{event.name} {event.action}")
            if event.action == "degrade":
                self._switch(True, event.name)
            elif event.action == "scale_out":
                self._scale_out(event.name)
            return "applied"
        if event.instance not in active:
            # Resolved without a firing we saw (we restarted, or it was never routed here): nothing to undo.
            return "ignored"
        active.discard(event.instance)
        self._record("resolved", f"{event.name} {event.action}")
        if not active and event.action in ("degrade", "scale_out"):
            self._schedule_restore(event.action)
        return "applied"

    # --- actions -------------------------------------------------------------------------------------
    def _record(self, what: str, detail: str) -> None:
        self.history.append((self._clock(), what, detail))
        _logger.info("agentvitals control: %s %s", what, detail)

    def _switch(self, degraded: bool, reason: str) -> None:
        if self.router is None:
            return
        try:
            if self.router.set_degraded(degraded, reason):
                self._record("router", "degraded" if degraded else "normal")
        except Exception:  # deliberate: one failed action must not stop the others
            _logger.exception("agentvitals control: router switch failed")

    def _scale_out(self, reason: str) -> None:
        if self.scaler is None:
            return
        try:
            current = self.scaler.current()
            target = min(self.max_workers, current + self.scale_step)
            if target > current:
                self.scaler.scale_to(target)
                self._record("scale", f"{current} -> {target} ({reason})")
        except Exception:  # deliberate: see _switch
            _logger.exception("agentvitals control: scale-out failed")

    def _scale_in(self) -> None:
        if self.scaler is None or self.baseline_workers is None:
            return
        try:
            current = self.scaler.current()
            if current != self.baseline_workers:
                self.scaler.scale_to(self.baseline_workers)
                self._record("scale", f"{current} -> {self.baseline_workers} (resolved, cool-down over)")
        except Exception:  # deliberate: see _switch
            _logger.exception("agentvitals control: scale-in failed")

    def _schedule_restore(self, action: str) -> None:
        def restore() -> None:
            with self._lock:
                if self._active[action]:  # fired again during the cool-down
                    return
                self._restore.pop(action, None)
                if action == "degrade":
                    self._switch(False, "resolved, cool-down over")
                else:
                    self._scale_in()

        self._cancel_restore(action)
        self._restore[action] = self._scheduler.call_later(self.cooldown_s, restore)

    def _cancel_restore(self, action: str) -> None:
        pending = self._restore.pop(action, None)
        if pending is not None:
            pending.cancel()

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "active": {action: len(instances) for action, instances in self._active.items()},
                "pending_restore": sorted(self._restore),
                "workers": self.scaler.current() if self.scaler is not None else None,
                "baseline_workers": self.baseline_workers,
            }
