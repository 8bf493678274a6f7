"""The live accounting of a task (one agent run) and its budget: state, no spans.

A :class:`TaskRun` is carried in the OpenTelemetry context under :data:`TASK_KEY` while its task runs.
Our LLM and tool steps check the budget before they start (:meth:`TaskRun.check_step`); the accounting
span processor does the rest from spans, whoever made them: it counts steps, credits cost and tokens and
records waits. Nested tasks credit their parents too.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context

from agentvitals.attributes import WaitKind

if TYPE_CHECKING:
    from agentvitals._explain._summary import TaskSpans

__all__ = ["TASK_KEY", "Budget", "BudgetExhausted", "TaskRun", "current_task"]

TASK_KEY = otel_context.create_key("agentvitals-task")


class BudgetExhausted(Exception):
    """A task's budget ran out before a step. The task ends with outcome ``budget_exhausted``.

    Raised at the step that would exceed the budget; the enclosing ``task`` swallows it (the task's
    partial result is returned) unless it was created with ``raise_on_budget=True``.
    """

    def __init__(self, limit: str, task_name: str, used: float, maximum: float) -> None:
        super().__init__(f"task {task_name!r}: {limit} budget exhausted ({used:g} of {maximum:g})")
        self.limit = limit
        self.task_name = task_name
        self.used = used
        self.maximum = maximum


_LIMIT_NAMES = {"max_cost_usd": "cost", "max_llm_calls": "llm_calls", "max_tool_calls": "tool_calls",
                "max_wall_time_s": "wall_time"}


@dataclass(frozen=True)
class Budget:
    """Per-task limits, checked before each LLM call and tool call. ``None`` means unlimited."""

    max_cost_usd: float | None = None
    max_llm_calls: int | None = None
    max_tool_calls: int | None = None
    max_wall_time_s: float | None = None

    def limits(self) -> tuple[str, ...]:
        """The limits set, by the name an exhaustion reports (``cost``, ``llm_calls``, ...)."""
        return tuple(limit for field_name, limit in _LIMIT_NAMES.items() if getattr(self, field_name) is not None)

    def __post_init__(self) -> None:
        for field_name in ("max_cost_usd", "max_llm_calls", "max_tool_calls", "max_wall_time_s"):
            value = getattr(self, field_name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"Budget.{field_name} must be a non-negative number or None, got {value!r}")


class TaskRun:
    """The live accounting of one task. Thread-safe: a per-task lock, never a global one."""

    __slots__ = (
        "name", "task_id", "parent", "budget", "start_ns", "waits", "cost_usd", "unpriced_calls",
        "input_tokens", "output_tokens", "llm_calls", "tool_calls", "exhausted", "variant_draw", "variant", "mode",
        "_lock", "spans",
    )

    def __init__(self, name: str, budget: Budget | None, parent: TaskRun | None) -> None:
        self.name = name
        self.task_id = uuid.uuid4().hex
        self.parent = parent
        self.budget = budget
        self.start_ns = time.time_ns()
        self.waits: list[tuple[int, int, WaitKind]] = []
        self.cost_usd = 0.0
        self.unpriced_calls = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.llm_calls = 0
        self.tool_calls = 0
        self.exhausted: BudgetExhausted | None = None
        # Model routing (agentvitals.routing): the task's A/B draw, pinned so its choices keep one variant, and
        # the variant and mode it was served. Written only by the router, read (bounded) when the task ends.
        self.variant_draw: float | None = None
        self.variant: str | None = None
        self.mode: str | None = None
        self._lock = threading.Lock()
        self.spans: TaskSpans | None = None
        """The bounded summary of the task's spans the accounting processor keeps for its analysis at task end
        (``None`` when no processor of ours sees the task's spans)."""

    def lineage(self) -> list[TaskRun]:
        """This task and the tasks enclosing it, innermost first."""
        runs: list[TaskRun] = []
        run: TaskRun | None = self
        while run is not None:
            runs.append(run)
            run = run.parent
        return runs

    def add_wait(self, start_ns: int, end_ns: int, kind: WaitKind) -> None:
        self.waits.append((start_ns, end_ns, kind))  # list.append is atomic under the GIL

    def _exhaust(self, limit: str, used: float, maximum: float) -> BudgetExhausted:
        error = BudgetExhausted(limit, self.name, used, maximum)
        if self.exhausted is None:
            self.exhausted = error
        return error

    def check_step(self, step: str) -> None:
        """Raise :class:`BudgetExhausted` if a step of this kind (``llm``, ``tool``, or ``check`` for cost and
        wall time only) would exceed the budget of this task or of an enclosing one. Counts nothing: the
        accounting processor counts the step when its span starts."""
        for run in self.lineage():
            run._check(step)

    def _check(self, step: str) -> None:
        with self._lock:
            exhausted = self.exhausted
            if exhausted is not None:  # a spent budget stays spent, whichever step comes next
                raise BudgetExhausted(exhausted.limit, self.name, exhausted.used, exhausted.maximum)
            budget = self.budget
            if budget is None:
                return
            if budget.max_cost_usd is not None and self.cost_usd >= budget.max_cost_usd:
                raise self._exhaust("cost", self.cost_usd, budget.max_cost_usd)
            if budget.max_wall_time_s is not None:
                elapsed = (time.time_ns() - self.start_ns) / 1e9
                if elapsed >= budget.max_wall_time_s:
                    raise self._exhaust("wall_time", elapsed, budget.max_wall_time_s)
            if step == "llm" and budget.max_llm_calls is not None and self.llm_calls >= budget.max_llm_calls:
                raise self._exhaust("llm_calls", self.llm_calls, budget.max_llm_calls)
            if step == "tool" and budget.max_tool_calls is not None and self.tool_calls >= budget.max_tool_calls:
                raise self._exhaust("tool_calls", self.tool_calls, budget.max_tool_calls)

    def count_step(self, step: str) -> None:
        """Count a started LLM call (``llm``) or tool call (``tool``) in this task and the enclosing ones. A step
        over the budget (one no check could refuse: another instrumentation's) marks the task exhausted."""
        for run in self.lineage():
            with run._lock:
                budget = run.budget
                if step == "llm":
                    run.llm_calls += 1
                    if budget is not None and budget.max_llm_calls is not None and run.llm_calls > budget.max_llm_calls:
                        run._exhaust("llm_calls", run.llm_calls, budget.max_llm_calls)
                elif step == "tool":
                    run.tool_calls += 1
                    if (budget is not None and budget.max_tool_calls is not None
                            and run.tool_calls > budget.max_tool_calls):
                        run._exhaust("tool_calls", run.tool_calls, budget.max_tool_calls)

    def add_llm_result(self, cost_usd: float | None, input_tokens: int | None, output_tokens: int | None) -> None:
        for run in self.lineage():
            with run._lock:
                if cost_usd is None:
                    run.unpriced_calls += 1
                else:
                    run.cost_usd += cost_usd
                run.input_tokens += input_tokens or 0
                run.output_tokens += output_tokens or 0


def current_task() -> TaskRun | None:
    """The innermost task the caller runs in, if any."""
    run = otel_context.get_value(TASK_KEY)
    return run if isinstance(run, TaskRun) else None
