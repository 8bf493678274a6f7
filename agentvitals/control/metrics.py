"""Metrics of the control loop and of the things it drives: the model router and the worker pool.

Emitted by the control service, by :class:`agentvitals.ModelRouter` and by a worker pool (the demo's, or
your own through the same names); the Overview dashboard reads them to show the loop acting.
"""

from __future__ import annotations

from typing import Final

from agentvitals.metrics import Instrument, Metric

__all__ = [
    "CONTROL_ACTION",
    "CONTROL_ACTIONS",
    "CONTROL_RESULT",
    "LOOP_METRICS",
    "QUEUE_DEPTH",
    "ROUTER_DEGRADED",
    "ROUTER_MODE",
    "ROUTER_SWITCHES",
    "SHED_TASKS",
    "WORKERS",
    "WORKERS_BUSY",
    "WORKER_IDLE",
]

ROUTER_MODE: Final = "agentvitals.router.mode"
"""*label*: ``normal`` or ``degraded``."""
CONTROL_ACTION: Final = "agentvitals.control.action"
"""*label*: the action an alert requested (``scale_out``, ``degrade``, ``page``)."""
CONTROL_RESULT: Final = "agentvitals.control.result"
"""*label*: what handling it did (``applied``, ``duplicate``, ``stale``, ``ignored``)."""

ROUTER_DEGRADED: Final = Metric(
    "agentvitals.router.degraded",
    Instrument.GAUGE,
    "{mode}",
    "1 while the model router is in degraded mode (smaller model, fewer tokens), else 0.",
)
ROUTER_SWITCHES: Final = Metric(
    "agentvitals.router.switches",
    Instrument.COUNTER,
    "{switch}",
    "Router mode changes, by the mode switched to.",
    (ROUTER_MODE,),
)
WORKERS: Final = Metric(
    "agentvitals.workers.count",
    Instrument.GAUGE,
    "{worker}",
    "Agent workers in the pool (the scale-out target).",
)
WORKERS_BUSY: Final = Metric(
    "agentvitals.workers.busy",
    Instrument.GAUGE,
    "{worker}",
    "Agent workers currently running a task.",
)
QUEUE_DEPTH: Final = Metric(
    "agentvitals.queue.depth",
    Instrument.GAUGE,
    "{task}",
    "Tasks waiting for a free worker.",
)
WORKER_IDLE: Final = Metric(
    "agentvitals.workers.idle_time",
    Instrument.COUNTER,
    "s",
    "Time workers spent waiting for work: worker-level idleness, separate from task idle time.",
)
SHED_TASKS: Final = Metric(
    "agentvitals.tasks.shed",
    Instrument.COUNTER,
    "{task}",
    "Arrivals dropped because the queue was full.",
)
CONTROL_ACTIONS: Final = Metric(
    "agentvitals.control.actions",
    Instrument.COUNTER,
    "{alert}",
    "Alert notifications the control service handled, by requested action and result "
    "(applied, duplicate, stale, ignored).",
    (CONTROL_ACTION, CONTROL_RESULT),
)
LOOP_METRICS: Final[tuple[Metric, ...]] = (
    ROUTER_DEGRADED, ROUTER_SWITCHES, WORKERS, WORKERS_BUSY, QUEUE_DEPTH, WORKER_IDLE, SHED_TASKS, CONTROL_ACTIONS
)
"""Metrics of the worker pool, router and control service."""
