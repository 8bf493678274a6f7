"""ModelRouter: which model (and settings) each kind of call gets, by mode, priority and A/B variant.

Mode sources, combined: a manual override (:meth:`ModelRouter.force`) wins while it lasts; otherwise the
router is degraded while the webhook push says so (:meth:`ModelRouter.set_degraded`, called by the control
service's :class:`~agentvitals.control.Controller`) or its Alertmanager pull source does
(:class:`~agentvitals.routing.AlertmanagerSource`, its own or the one ``init(alertmanager=...)`` started).

The mode is evaluated from in-memory state on every call: :meth:`choose` and :meth:`admit` never wait
for I/O. A change of mode is recorded (``transitions``, a log line, the ``agentvitals.router.switches``
counter) by whichever call notices it first: a choice, a poll, a push, a force, or the metric export that
reads the ``agentvitals.router.degraded`` gauge.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from opentelemetry import metrics

from agentvitals._taskrun import current_task
from agentvitals.control.metrics import (
    ROUTER_ADMISSION,
    ROUTER_ADMISSIONS,
    ROUTER_DECISIONS,
    ROUTER_DEGRADED,
    ROUTER_MODE,
    ROUTER_NAME,
    ROUTER_PRIORITY,
    ROUTER_SWITCH_REASON,
    ROUTER_SWITCHES,
)
from agentvitals.metrics import create_instrument
from agentvitals.routing import _default
from agentvitals.routing._alertmanager import AlertmanagerSource, SourceState
from agentvitals.routing._model import (
    CONTROL,
    Admission,
    Choice,
    Decision,
    Mode,
    Priority,
    Route,
    Variant,
    label_value,
)
from agentvitals.routing._tasks import mark_tasks, register_variant_names, task_draw
from agentvitals.semconv import GEN_AI_REQUEST_MODEL

_logger = logging.getLogger("agentvitals.routing")

__all__ = ["LAST_DECISION", "ModelRouter"]

LAST_DECISION: ContextVar[Decision | None] = ContextVar("agentvitals_router_decision", default=None)
"""The last decision made in this context: the LLM spans that follow it for its model carry its attributes."""

_Forced = tuple[Mode, float | None]


class _Counts:
    """Cumulative counts by a precomputed attribute set: an increment per call, reported when metrics are
    collected (an observable counter), so a choice costs a dict update, not a synchronous ``add``."""

    def __init__(self) -> None:
        self._counts: dict[Any, list[Any]] = {}
        self._lock = threading.Lock()

    def add(self, key: Any, attributes: Mapping[str, str]) -> None:
        with self._lock:
            entry = self._counts.get(key)
            if entry is None:
                self._counts[key] = [1, dict(attributes)]
            else:
                entry[0] += 1

    def observations(self) -> list[metrics.Observation]:
        with self._lock:
            return [metrics.Observation(count, attributes) for count, attributes in self._counts.values()]


class _Instruments:
    """The router metrics of one meter provider, shared by the routers on it (one series set per router)."""

    def __init__(self, provider: metrics.MeterProvider | None) -> None:
        meter = metrics.get_meter("agentvitals.routing", meter_provider=provider)
        self.routers: weakref.WeakSet[ModelRouter] = weakref.WeakSet()
        create_instrument(meter, ROUTER_DEGRADED, [self._observe_mode])
        create_instrument(meter, ROUTER_DECISIONS, [lambda options: self._observe(lambda r: r._decision_counts)])
        create_instrument(meter, ROUTER_ADMISSIONS, [lambda options: self._observe(lambda r: r._admission_counts)])
        self.switches = create_instrument(meter, ROUTER_SWITCHES)

    def _observe_mode(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        for router in list(self.routers):
            mode = router.reported_mode()
            if mode is not None:
                yield metrics.Observation(int(mode is Mode.DEGRADED), {ROUTER_NAME: router.name})

    def _observe(self, counts: Callable[[ModelRouter], _Counts]) -> Iterable[metrics.Observation]:
        for router in list(self.routers):
            yield from counts(router).observations()


_instruments: weakref.WeakKeyDictionary[Any, _Instruments] = weakref.WeakKeyDictionary()
_instruments_lock = threading.Lock()


def _instruments_for(provider: metrics.MeterProvider | None) -> _Instruments:
    key = provider if provider is not None else metrics.get_meter_provider()
    with _instruments_lock:
        found = _instruments.get(key)
        if found is None:
            found = _instruments[key] = _Instruments(key)
        return found


def _deadline(until: datetime | timedelta | float | None, now: float) -> float | None:
    if until is None:
        return None
    if isinstance(until, timedelta):
        return now + until.total_seconds()
    if isinstance(until, datetime):
        if until.tzinfo is None:
            raise ValueError("until must be a timezone-aware datetime (or a timedelta)")
        return until.timestamp()
    if isinstance(until, (int, float)) and not isinstance(until, bool):
        return float(until)
    raise ValueError(f"until must be a datetime, a timedelta, a POSIX timestamp or None, got {until!r}")


def _degraded_choice(config: Route, variant: Variant | None) -> Choice | None:
    """What degraded mode serves on a route: the variant's degraded choice, else the route's (None: no change)."""
    return (variant.degraded if variant is not None else None) or config.degraded


class ModelRouter:
    """Routes each kind of model call by mode (normal or degraded), priority and A/B variant.

    ::

        router = agentvitals.ModelRouter({
            "answer": Route(normal=Choice("gpt-4o", max_tokens=400), degraded=Choice("gpt-4o-mini", max_tokens=150),
                            variants=[Variant("candidate", 0.10, normal=Choice("gpt-4.1", max_tokens=400))]),
            "plan": Route(normal=Choice("gpt-4o-mini", max_tokens=100)),
        })
        decision = router.choose("answer", priority="standard")
        client.chat.completions.create(**decision.kwargs(), messages=...)

    In degraded mode ``standard`` and ``background`` calls get a route's degraded choice, ``critical`` ones keep
    the normal choice (unless the route says ``degrade_critical=True``), and :meth:`admit` tells callers of
    background work to defer (or shed) it. Variants take their share of each task (the draw is pinned on the
    current :func:`agentvitals.task`, so a task stays in one variant); the variant and the mode served are
    recorded on the task (``agentvitals.task.variant``/``agentvitals.task.mode``, labels of the task duration
    and cost metrics) and on the LLM spans that follow the choice.

    Args:
        routes: Route name (a metric label: keep it short and fixed) to :class:`Route`.
        name: This router's name, the ``agentvitals.router.name`` label; one router per name in a process.
        source: The Alertmanager pull source: ``None`` uses the one ``init(alertmanager=...)`` started (if any),
            an :class:`AlertmanagerSource` this one (started here unless already running), ``False`` none.
        background: What :meth:`admit` answers for background work in degraded mode: ``defer`` or ``shed``.
        seed: Seed the variant draws (reproducible splits in tests and simulations).
        meter_provider: For the router metrics (default: the global one, which ``init()`` sets).
        history_size: Mode transitions kept in :attr:`transitions`.
    """

    def __init__(self, routes: Mapping[str, Route], *, name: str = "default",
                 source: AlertmanagerSource | bool | None = None, background: Admission | str = Admission.DEFER,
                 seed: int | None = None, meter_provider: metrics.MeterProvider | None = None,
                 clock: Callable[[], float] = time.time, history_size: int = 256) -> None:
        if not isinstance(routes, Mapping) or not routes:
            raise ValueError("a ModelRouter needs at least one route: {'answer': Route(normal=Choice('model'))}")
        for route_name, route in routes.items():
            label_value(route_name, "a route name")
            if not isinstance(route, Route):
                raise ValueError(f"route {route_name!r} must be a Route, got {type(route).__name__}")
        self.name = label_value(name, "the router's name")
        self.background = Admission(background)
        if source is True:
            raise ValueError("source=True is ambiguous: pass an AlertmanagerSource, None (init's) or False (none)")
        if not isinstance(source, (AlertmanagerSource, type(None), bool)):
            raise ValueError(f"source must be an AlertmanagerSource, None or False, got {type(source).__name__}")
        register_variant_names(variant.name for route in routes.values() for variant in route.variants)
        self._routes: dict[str, Route] = dict(routes)
        self._source: AlertmanagerSource | None = source if isinstance(source, AlertmanagerSource) else None
        self._follows_default = source is None
        self._clock = clock
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._pushed = False
        self._forced: _Forced | None = None
        self._mode = Mode.NORMAL
        self._decisions: dict[tuple[str, str | None, Mode, Priority], tuple[Decision, dict[str, str]]] = {}
        self.transitions: deque[tuple[float, Mode, str]] = deque(maxlen=max(1, history_size))
        """``(time, mode, reason)`` of the last mode changes, oldest first."""
        self._decision_counts = _Counts()
        self._admission_counts = _Counts()
        self._metrics = _instruments_for(meter_provider)
        for other in self._metrics.routers:
            if other.name == self.name:
                _logger.warning("agentvitals router: two routers named %r report into one gauge series; name them",
                                self.name)
        self._metrics.routers.add(self)
        if self._source is not None:
            self._source.subscribe(self._refresh)
            self._source.start()
        if self._follows_default:
            _default.follow(self)
        self._refresh()

    # --- choosing ---------------------------------------------------------------------------------------------
    def choose(self, route: str, priority: Priority | str = Priority.STANDARD) -> Decision:
        """The model and settings for one call on ``route`` at ``priority``. Never waits for I/O.

        Raises ValueError for a route this router does not have, or an unknown priority.
        """
        config = self._routes.get(route)
        if config is None:
            raise ValueError(f"unknown route {route!r}; this router has {sorted(self._routes)}")
        level = priority if isinstance(priority, Priority) else Priority(priority)
        mode = self._refresh()
        run = current_task()
        variant = None
        variant_name = None
        if config.variants:
            variant = config.variant_for(task_draw(run, self._rng))
            variant_name = variant.name if variant is not None else CONTROL
        served = Mode.NORMAL
        if (mode is Mode.DEGRADED and (level is not Priority.CRITICAL or config.degrade_critical)
                and _degraded_choice(config, variant) is not None):
            served = Mode.DEGRADED
        key = (route, variant_name, served, level)
        cached = self._decisions.get(key)
        if cached is None:
            cached = self._decisions[key] = self._decide(config, key, variant)
        decision, labels = cached
        mark_tasks(run, variant_name, served)
        LAST_DECISION.set(decision)
        self._decision_counts.add(key, labels)
        return decision

    def _decide(self, config: Route, key: tuple[str, str | None, Mode, Priority],
                variant: Variant | None) -> tuple[Decision, dict[str, str]]:
        route, variant_name, served, level = key
        degraded = _degraded_choice(config, variant) if served is Mode.DEGRADED else None
        choice: Choice = degraded or (variant.normal if variant is not None else config.normal)
        decision = Decision(route, choice, served, level, variant_name)
        labels = {ROUTER_NAME: self.name, GEN_AI_REQUEST_MODEL: choice.model, **decision.span_attributes()}
        return decision, labels

    def admit(self, priority: Priority | str = Priority.BACKGROUND) -> Admission:
        """Whether to run work of this priority now: ``defer`` or ``shed`` (the ``background`` setting) for
        background work in degraded mode, ``admit`` otherwise."""
        level = priority if isinstance(priority, Priority) else Priority(priority)
        answer = Admission.ADMIT
        if level is Priority.BACKGROUND and self._refresh() is Mode.DEGRADED:
            answer = self.background
        self._admission_counts.add((level, answer), {ROUTER_NAME: self.name, ROUTER_PRIORITY: level.value,
                                                       ROUTER_ADMISSION: answer.value})
        return answer

    # --- mode ---------------------------------------------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        return self._refresh()

    @property
    def degraded(self) -> bool:
        return self._refresh() is Mode.DEGRADED

    @property
    def source(self) -> AlertmanagerSource | None:
        """The Alertmanager source this router follows now (its own, or init's), if any."""
        return self._source if self._source is not None else (_default.source() if self._follows_default else None)

    def set_degraded(self, degraded: bool, reason: str = "") -> bool:
        """The webhook push source (the control service's ``RouterSwitch``): degrade or restore.
        Returns False when the push was already in that state."""
        with self._lock:
            changed = self._pushed != bool(degraded)
            self._pushed = bool(degraded)
        self._refresh()
        return changed

    def force(self, mode: Mode | str | None, *, until: datetime | timedelta | float | None = None) -> None:
        """Operator override: hold ``mode`` whatever the alerts say, until ``until`` (an aware datetime, a
        timedelta from now, or a POSIX timestamp; ``None``: until ``force(None)``). ``force(None)`` ends it."""
        now = self._clock()
        if mode is None:
            forced = None
        else:
            deadline = _deadline(until, now)
            if deadline is not None and deadline <= now:
                raise ValueError("until is in the past: pass a timedelta for a duration")
            forced = (Mode(mode), deadline)
        with self._lock:
            self._forced = forced
        self._refresh()

    def status(self) -> dict[str, Any]:
        """For operators (e.g. an admin endpoint): the mode, what holds it, and the source's last answer."""
        source = self.source
        forced = self._forced
        return {
            "name": self.name,
            "mode": self.mode.value,
            "forced": None if forced is None else {"mode": forced[0].value, "until": forced[1]},
            "webhook_degraded": self._pushed,
            "alertmanager": None if source is None else source.status(),
            "routes": sorted(self._routes),
        }

    def reported_mode(self) -> Mode | None:
        """The mode, or None while it is not known yet (the Alertmanager source has not finished a first poll)."""
        mode = self._refresh()
        source = self.source
        if source is not None and self._forced is None and not self._pushed and not source.state().known:
            return None
        return mode

    # --- evaluation -----------------------------------------------------------------------------------------
    def _evaluate(self, now: float) -> tuple[Mode, str]:
        forced = self._forced
        if forced is not None and (forced[1] is None or now < forced[1]):
            return forced[0], "force"
        source = self.source
        state: SourceState | None = source.state() if source is not None else None
        if self._pushed:
            return Mode.DEGRADED, "webhook"
        if state is not None and state.degraded:
            return Mode.DEGRADED, "alertmanager"
        if state is not None and state.reason == "unreachable":
            return Mode.NORMAL, "alertmanager_unreachable"
        return Mode.NORMAL, "alertmanager" if state is not None else "webhook"

    def _refresh(self) -> Mode:
        now = self._clock()
        forced = self._forced
        force_over = forced is not None and forced[1] is not None and now >= forced[1]
        mode, reason = self._evaluate(now)
        if mode is self._mode and not force_over:
            return mode  # the common path: no lock
        with self._lock:
            forced = self._forced
            if forced is not None and forced[1] is not None and now >= forced[1]:
                self._forced = None
                force_over = True
            mode, reason = self._evaluate(now)
            if mode is self._mode:
                return mode
            if force_over and reason != "force":
                reason = "force_expired"
            self._mode = mode
            self.transitions.append((time.time(), mode, reason))
        self._metrics.switches.add(1, {ROUTER_NAME: self.name, ROUTER_MODE: mode.value, ROUTER_SWITCH_REASON: reason})
        log = _logger.warning if reason == "alertmanager_unreachable" else _logger.info
        log("agentvitals router %r: %s (%s)", self.name, mode.value, reason)
        return mode

