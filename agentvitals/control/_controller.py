"""The control loop's brain: alerts in, router and scaler actions out.

Actions
-------
* ``degrade``: the router is degraded while at least one ``degrade`` alert is active. When the last
  one stops being active, the router returns to normal only after ``cooldown_s`` with none active
  again (no flapping).
* ``scale_out``: each alert instance that becomes active adds ``scale_step`` workers, never above
  ``max_workers``. When the last one stops being active, back to the baseline after the same cool-down.
* ``page``: recorded and counted (paging is Alertmanager's job).

The model
---------
Alertmanager notifications arrive in any order, repeated (``repeat_interval``, delivery retries, a
client replaying them) or not at all (lost). Each alert in a notification is an *observation* of one
alert, identified by ``(action, fingerprint)``: Alertmanager's fingerprint hashes the label set, which
includes ``action``. An observation carries ``status``, ``startsAt`` and ``endsAt`` as Alertmanager
stamped them, and observations are ordered by those timestamps, never by arrival::

    order = (startsAt, 0 if firing else 1, endsAt if resolved else 0)

For each alert only the greatest observation counts (last status by Alertmanager's clock wins):

* A firing with a later ``startsAt`` is a new instance (episode) of the alert and beats everything
  before it, resolved or not. A resolve of an older instance that arrives afterwards is ``stale``.
* Within one instance (same ``startsAt``) the resolve beats the firing, whichever arrives first: a
  firing delivered after its resolve is ``stale`` and degrades nothing. (Firing notifications carry no
  usable ``endsAt``: Alertmanager zeroes it until the alert has resolved.)
* An observation equal to the one held is a ``duplicate`` and changes nothing, except that a repeated
  firing refreshes the time the alert was last heard of.
* An alert is *active* while its greatest observation is a firing that has not expired.

Loss: a lost firing is made up by Alertmanager's repeat. A lost resolve would keep the alert active
for ever, so an active alert not heard of for ``expire_after_s`` (default 75 min: keep it above the
control route's ``repeat_interval`` plus its ``group_interval``, 30.5 min in ``alerts/alertmanager.yml``)
*expires*: it counts as resolved until Alertmanager says otherwise (a later repeat of the same firing
revives it, its resolve settles it). ``expire_after_s=None`` turns expiry off.

Results of :meth:`Controller.handle`: ``applied`` (the alert became active or stopped being active),
``duplicate``, ``stale`` (older than what is known), ``ignored`` (newer, but nothing to do: the
resolve of an alert that was not active).

Memory is bounded whatever arrives: at most ``max_alerts`` alerts are tracked (default 10,000, a few
hundred bytes each). When full, the least recently heard resolved or expired alert is forgotten
first (a firing of it delayed beyond that would then count as new, until it expires); if every
tracked alert is active (a flood of distinct fingerprints), the least recently heard active alert is
expired and forgotten, logged once. ``history`` keeps the last ``history_size`` entries (default
1,000). Pending timers: at most one restore per action and one expiry sweep.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from opentelemetry import metrics

from agentvitals.control.metrics import CONTROL_ACTION, CONTROL_ACTIONS, CONTROL_RESULT
from agentvitals.metrics import create_instrument

_logger = logging.getLogger("agentvitals.control")

__all__ = ["ACTIONS", "AlertEvent", "Controller", "RouterSwitch", "Scaler", "Scheduler", "ThreadScheduler",
           "timestamp_ns"]

ACTIONS = ("scale_out", "degrade", "page")
_RESTORED = ("degrade", "scale_out")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
                      r"(?:([Zz])|([+-])(\d{2}):(\d{2}))")


def timestamp_ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 timestamp as Go writes them (up to 9 fractional digits).

    Raises ValueError when ``text`` is not one. Exact integers, so timestamps that differ by a
    nanosecond or are written with different offsets compare correctly.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text[:64]!r}")
    year, month, day, hour, minute, second, fraction, _, sign, off_h, off_m = match.groups()
    offset = timedelta(0) if sign is None else (1 if sign == "+" else -1) * timedelta(hours=int(off_h),
                                                                                     minutes=int(off_m))
    moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                      tzinfo=timezone(offset))
    return (moment - _EPOCH) // timedelta(seconds=1) * 1_000_000_000 + int((fraction or "").ljust(9, "0"))


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
    ends_at: str = ""
    """RFC 3339; empty or Go's zero time when unknown (firing alerts)."""

    @property
    def instance(self) -> tuple[str, str]:
        return (self.fingerprint, self.starts_at)

    def order(self) -> tuple[int, int, int]:
        """Where this observation stands in the alert's history, by Alertmanager's timestamps."""
        if self.status == "firing":
            return (timestamp_ns(self.starts_at), 0, 0)
        return (timestamp_ns(self.starts_at), 1, timestamp_ns(self.ends_at) if self.ends_at else 0)


@dataclass
class _Alert:
    """What is known of one alert: its greatest observation so far."""

    name: str
    order: tuple[int, int, int]
    heard: float
    """Controller clock when a notification last confirmed this observation."""
    expired: bool = False

    @property
    def firing(self) -> bool:
        return self.order[1] == 0

    @property
    def active(self) -> bool:
        return self.firing and not self.expired


_Key = tuple[str, str]  # (action, fingerprint)


class Controller:
    def __init__(self, *, router: RouterSwitch | None = None, scaler: Scaler | None = None,
                 max_workers: int = 32, scale_step: int = 4, cooldown_s: float = 60.0,
                 scheduler: Scheduler | None = None, meter_provider: metrics.MeterProvider | None = None,
                 clock: Callable[[], float] = time.time, expire_after_s: float | None = 75 * 60.0,
                 max_alerts: int = 10_000, history_size: int = 1_000) -> None:
        if scale_step < 1 or max_workers < 1 or cooldown_s < 0:
            raise ValueError("scale_step and max_workers must be >= 1 and cooldown_s >= 0")
        if max_alerts < 1 or history_size < 1 or (expire_after_s is not None and expire_after_s <= 0):
            raise ValueError("max_alerts and history_size must be >= 1 and expire_after_s > 0 (or None)")
        self.router = router
        self.scaler = scaler
        self.max_workers = max_workers
        self.scale_step = scale_step
        self.cooldown_s = cooldown_s
        self.expire_after_s = expire_after_s
        self.max_alerts = max_alerts
        self._scheduler = scheduler or ThreadScheduler()
        self._clock = clock
        self._lock = threading.Lock()
        # Two LRU tables, least recently heard first: active alerts, and resolved or expired ones.
        self._active: OrderedDict[_Key, _Alert] = OrderedDict()
        self._settled: OrderedDict[_Key, _Alert] = OrderedDict()
        self._active_count = dict.fromkeys(ACTIONS, 0)
        self._restore: dict[str, Cancellable] = {}
        self._sweep: Cancellable | None = None
        self._evicted = 0
        self.baseline_workers: int | None = scaler.current() if scaler is not None else None
        self.history: deque[tuple[float, str, str]] = deque(maxlen=history_size)
        """(time, what happened, detail), the last ``history_size``, for reports and tests."""
        meter = metrics.get_meter("agentvitals.control", meter_provider=meter_provider)
        self._actions = create_instrument(meter, CONTROL_ACTIONS)

    # --- input --------------------------------------------------------------------------------------
    def handle(self, event: AlertEvent) -> str:
        """Apply one alert observation; returns ``applied``, ``duplicate``, ``stale`` or ``ignored``.

        Thread-safe. Raises ValueError when a timestamp is not RFC 3339 (parse_notification checks them).
        """
        if event.action not in ACTIONS or event.status not in ("firing", "resolved"):
            raise ValueError(f"unknown action {event.action!r} or status {event.status!r}")
        order = event.order()
        with self._lock:
            result = self._observe((event.action, event.fingerprint), event.name, order)
            self._schedule_sweep()
        self._actions.add(1, {CONTROL_ACTION: event.action, CONTROL_RESULT: result})
        return result

    def _observe(self, key: _Key, name: str, order: tuple[int, int, int]) -> str:
        now = self._clock()
        known = self._active.get(key) or self._settled.get(key)
        if known is not None and order < known.order:
            return "stale"
        if known is not None and order == known.order and not (known.firing and known.expired):
            known.heard = now
            (self._active if known.active else self._settled).move_to_end(key)
            return "duplicate"
        # Newer than anything known (or the repeat of an expired firing, which revives it).
        was_active = known is not None and known.active
        alert = _Alert(name, order, now)
        self._active.pop(key, None)
        self._settled.pop(key, None)
        if alert.active:
            self._active[key] = alert
            self._active_count[key[0]] += int(not was_active)
            self._activated(key[0], name)
            self._enforce_bound()
            return "applied"
        self._settled[key] = alert
        if was_active:
            self._deactivated(key[0], name, "resolved")
        self._enforce_bound()
        return "applied" if was_active else "ignored"

    def _enforce_bound(self) -> None:
        while len(self._active) + len(self._settled) > self.max_alerts:
            if self._settled:
                self._settled.popitem(last=False)
                continue
            (action, _), alert = self._active.popitem(last=False)
            self._evicted += 1
            if self._evicted == 1:
                _logger.warning("agentvitals control: more than %d active alerts; forgetting the least recently "
                                "heard (max_alerts bounds memory; logged once)", self.max_alerts)
            self._deactivated(action, alert.name, "forgotten")

    def _expire(self) -> None:
        with self._lock:
            self._sweep = None
            if self.expire_after_s is None:
                return
            deadline = self._clock() - self.expire_after_s
            while self._active:
                key, alert = next(iter(self._active.items()))
                if alert.heard > deadline:
                    break
                del self._active[key]
                alert.expired = True
                self._settled[key] = alert
                self._deactivated(key[0], alert.name, "expired")
            self._schedule_sweep()

    def _schedule_sweep(self) -> None:
        if self.expire_after_s is None or self._sweep is not None or not self._active:
            return
        oldest = next(iter(self._active.values()))
        delay = max(0.0, oldest.heard + self.expire_after_s - self._clock())
        self._sweep = self._scheduler.call_later(delay, self._expire)

    # --- effects (called with the lock held) ---------------------------------------------------------
    def _activated(self, action: str, name: str) -> None:
        self._record("firing", f"{name} {action}")
        self._cancel_restore(action)
        if action == "degrade":
            self._switch(True, name)
        elif action == "scale_out":
            self._scale_out(name)

    def _deactivated(self, action: str, name: str, why: str) -> None:
        """``why``: resolved, expired (not heard for expire_after_s) or forgotten (max_alerts)."""
        self._active_count[action] -= 1
        self._record(why, f"{name} {action}")
        if self._active_count[action] == 0 and action in _RESTORED:
            self._schedule_restore(action)

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
        handle: Cancellable | None = None

        def restore() -> None:
            with self._lock:
                # A restore cancelled or replaced after it was already due must not act.
                if self._restore.get(action) is not handle or self._active_count[action]:
                    return
                del self._restore[action]
                if action == "degrade":
                    self._switch(False, "resolved, cool-down over")
                else:
                    self._scale_in()

        self._cancel_restore(action)
        handle = self._scheduler.call_later(self.cooldown_s, restore)
        self._restore[action] = handle

    def _cancel_restore(self, action: str) -> None:
        pending = self._restore.pop(action, None)
        if pending is not None:
            pending.cancel()

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "active": dict(self._active_count),
                "tracked": len(self._active) + len(self._settled),
                "max_alerts": self.max_alerts,
                "forgotten_active": self._evicted,
                "pending_restore": sorted(self._restore),
                "workers": self.scaler.current() if self.scaler is not None else None,
                "baseline_workers": self.baseline_workers,
            }
