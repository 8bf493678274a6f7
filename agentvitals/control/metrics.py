"""Metrics of the control loop and of the things it drives: the model router and the worker pool.

Emitted by the control service, by :class:`agentvitals.ModelRouter` and by a worker pool (the demo's, or
your own through the same names); the Overview dashboard reads them to show the loop acting.
"""

from __future__ import annotations

from typing import Final

from agentvitals.metrics import Instrument, Metric
from agentvitals.semconv import ERROR_TYPE, GEN_AI_REQUEST_MODEL

__all__ = [
    "CONTROL_ACTION",
    "CONTROL_ACTIONS",
    "CONTROL_RESULT",
    "LOOP_METRICS",
    "QUEUE_DEPTH",
    "ROUTER_ADMISSION",
    "ROUTER_ADMISSIONS",
    "ROUTER_DECISIONS",
    "ROUTER_DEGRADED",
    "ROUTER_MODE",
    "ROUTER_NAME",
    "ROUTER_POLL_FAILURES",
    "ROUTER_PRIORITY",
    "ROUTER_ROUTE",
    "ROUTER_SWITCHES",
    "ROUTER_SWITCH_REASON",
    "ROUTER_VARIANT",
    "SHED_TASKS",
    "WORKERS",
    "WORKERS_BUSY",
    "WORKER_IDLE",
]

ROUTER_MODE: Final = "agentvitals.router.mode"
"""*label*: ``normal`` or ``degraded``. Also on LLM spans: the mode of the choice the router served for the call."""
# --- the model router (agentvitals.ModelRouter): labels, and attributes of the LLM spans it routed -----------
ROUTER_NAME: Final = "agentvitals.router.name"
"""*label*: the router's name (``ModelRouter(name=...)``, one per router in a process)."""
ROUTER_ROUTE: Final = "agentvitals.router.route"
"""*label*: a route name the router was configured with (e.g. ``answer``)."""
ROUTER_PRIORITY: Final = "agentvitals.router.priority"
"""*label*: ``critical``, ``standard`` or ``background``."""
ROUTER_VARIANT: Final = "agentvitals.router.variant"
"""*label*: the A/B variant served (``control`` or a configured variant name); absent for routes without variants."""
ROUTER_ADMISSION: Final = "agentvitals.router.admission"
"""*label*: what :meth:`ModelRouter.admit` answered: ``admit``, ``defer`` or ``shed``."""
ROUTER_SWITCH_REASON: Final = "agentvitals.router.switch.reason"
"""*label*: why the mode changed: ``alertmanager`` (a degrade alert became active, or the last one's cool-down
ended), ``alertmanager_unreachable`` (the hold time passed without an answer), ``webhook`` (the control
service), ``force`` or ``force_expired``."""
CONTROL_ACTION: Final = "agentvitals.control.action"
"""*label*: the action an alert requested (``scale_out``, ``degrade``, ``page``)."""
CONTROL_RESULT: Final = "agentvitals.control.result"
"""*label*: what handling it did (``applied``, ``duplicate``, ``stale``, ``ignored``)."""

ROUTER_DEGRADED: Final = Metric(
    "agentvitals.router.degraded",
    Instrument.GAUGE,
    "{mode}",
    "1 while the model router is in degraded mode (smaller model, fewer tokens), else 0. Not reported while the "
    "router waits for its Alertmanager source's first answer (its mode is not known yet).",
    (ROUTER_NAME,),
)
ROUTER_SWITCHES: Final = Metric(
    "agentvitals.router.switches",
    Instrument.COUNTER,
    "{switch}",
    "Router mode changes, by the mode switched to and why.",
    (ROUTER_NAME, ROUTER_MODE, ROUTER_SWITCH_REASON),
)
ROUTER_DECISIONS: Final = Metric(
    "agentvitals.router.decisions",
    Instrument.COUNTER,
    "{decision}",
    "Model choices the router made, by route, priority, variant, the mode of the choice served and its model.",
    (ROUTER_NAME, ROUTER_ROUTE, ROUTER_PRIORITY, ROUTER_VARIANT, ROUTER_MODE, GEN_AI_REQUEST_MODEL),
)
ROUTER_ADMISSIONS: Final = Metric(
    "agentvitals.router.admissions",
    Instrument.COUNTER,
    "{request}",
    "Admission checks (ModelRouter.admit), by priority and answer: in degraded mode background work is deferred "
    "or shed.",
    (ROUTER_NAME, ROUTER_PRIORITY, ROUTER_ADMISSION),
)
ROUTER_POLL_FAILURES: Final = Metric(
    "agentvitals.router.poll.failures",
    Instrument.COUNTER,
    "{poll}",
    "Polls of Alertmanager's API for degrade alerts that no Alertmanager answered, by the last error "
    "(timeout, connection, http_status, malformed).",
    (ERROR_TYPE,),
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
    ROUTER_DEGRADED, ROUTER_SWITCHES, ROUTER_DECISIONS, ROUTER_ADMISSIONS, ROUTER_POLL_FAILURES,
    WORKERS, WORKERS_BUSY, QUEUE_DEPTH, WORKER_IDLE, SHED_TASKS, CONTROL_ACTIONS,
)
"""Metrics of the worker pool, router and control service."""
