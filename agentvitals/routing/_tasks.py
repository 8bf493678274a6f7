"""The router's marks on tasks: a sticky A/B draw per task, the variant and mode served, bounded as labels.

A task's draw is made once, on its outermost task (the whole agent run), so every choice inside it,
nested tasks included, lands in the same variant. The variant and mode are recorded on the task and
every task enclosing it; when the task ends they become the ``agentvitals.task.variant`` and
``agentvitals.task.mode`` labels of its duration and cost (:func:`task_labels`).

Series stay bounded: a variant label takes only names some router in this process was configured with
(at most :data:`MAX_VARIANT_NAMES`, checked when a router is built) and ``control``; the mode only
``normal`` or ``degraded``. Anything else (a TaskRun edited by hand) is reported as ``other``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable

from agentvitals._taskrun import TaskRun
from agentvitals.attributes import TASK_MODE, TASK_VARIANT
from agentvitals.routing._model import CONTROL, Mode

__all__ = ["MAX_VARIANT_NAMES", "OTHER", "mark_tasks", "register_variant_names", "task_draw", "task_labels"]

MAX_VARIANT_NAMES = 64
"""Distinct variant names the routers of one process may use (each is a label value of the task metrics)."""
OTHER = "other"

_names: set[str] = {CONTROL}
_names_lock = threading.Lock()
_draw_lock = threading.Lock()
_MODES = frozenset(mode.value for mode in Mode)


def register_variant_names(names: Iterable[str]) -> None:
    """Admit variant names as label values; ValueError when the process would exceed MAX_VARIANT_NAMES."""
    with _names_lock:
        new = set(names) - _names
        if len(_names) - 1 + len(new) > MAX_VARIANT_NAMES:
            raise ValueError(f"at most {MAX_VARIANT_NAMES} distinct variant names per process (each is a metric "
                             f"label value); already {len(_names) - 1}, adding {sorted(new)}")
        _names.update(new)


def task_draw(run: TaskRun | None, rng: random.Random) -> float:
    """The task's uniform draw in [0, 1), made once on its outermost task; a fresh one outside any task."""
    if run is None:
        return rng.random()
    root = run.lineage()[-1]
    draw = root.variant_draw
    if draw is None:
        with _draw_lock:  # two concurrent first choices in one task must agree
            if root.variant_draw is None:
                root.variant_draw = rng.random()
            draw = root.variant_draw
    return draw


def mark_tasks(run: TaskRun | None, variant: str | None, mode: Mode) -> None:
    """Record a choice on the task and the tasks enclosing it: the first variant sticks, degraded sticks."""
    while run is not None:
        if variant is not None and run.variant is None:
            run.variant = variant
        if run.mode != Mode.DEGRADED.value:
            run.mode = mode.value
        run = run.parent


def task_labels(run: TaskRun) -> dict[str, str]:
    """The task's routing labels for its metrics and span, empty when it made no choice through a router."""
    labels = {}
    if run.variant is not None:
        labels[TASK_VARIANT] = run.variant if run.variant in _names else OTHER
    if run.mode is not None:
        labels[TASK_MODE] = run.mode if run.mode in _MODES else OTHER
    return labels
