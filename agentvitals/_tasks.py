"""Tasks (one agent run each) and their budgets.

A task is a span (``invoke_agent {name}``) plus a :class:`TaskRun` that accumulates what happens
inside it: LLM calls, cost and tokens (credited by the LLM lifecycle), tool calls, and the waits the
accounting processor records. When the task ends, its wall time is split into active and idle time
and everything is put on the span and into metrics. Nested tasks credit their parents too.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from agentvitals import names
from agentvitals._scope import Scope, decorate
from agentvitals._telemetry import Telemetry, current
from agentvitals._timesplit import split_time
from agentvitals.names import Outcome, WaitKind

_logger = logging.getLogger("agentvitals")

__all__ = ["Budget", "BudgetExhausted", "TaskRun", "current_task", "task", "TASK_KEY"]

TASK_KEY = otel_context.create_key("agentvitals-task")
F = TypeVar("F", bound=Callable[..., Any])


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


@dataclass(frozen=True)
class Budget:
    """Per-task limits, checked before each LLM call and tool call. ``None`` means unlimited."""

    max_cost_usd: float | None = None
    max_llm_calls: int | None = None
    max_tool_calls: int | None = None
    max_wall_time_s: float | None = None

    def __post_init__(self) -> None:
        for field_name in ("max_cost_usd", "max_llm_calls", "max_tool_calls", "max_wall_time_s"):
            value = getattr(self, field_name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"Budget.{field_name} must be a non-negative number or None, got {value!r}")


class TaskRun:
    """The live accounting of one task. Thread-safe: a per-task lock, never a global one."""

    __slots__ = (
        "name", "task_id", "parent", "budget", "start_ns", "waits", "cost_usd", "unpriced_calls",
        "input_tokens", "output_tokens", "llm_calls", "tool_calls", "exhausted", "_lock",
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
        self._lock = threading.Lock()

    def add_wait(self, start_ns: int, end_ns: int, kind: WaitKind) -> None:
        self.waits.append((start_ns, end_ns, kind))  # list.append is atomic under the GIL

    def _exhaust(self, limit: str, used: float, maximum: float) -> BudgetExhausted:
        error = BudgetExhausted(limit, self.name, used, maximum)
        if self.exhausted is None:
            self.exhausted = error
        return error

    def begin_step(self, step: str) -> None:
        """Check the budget of this task and its parents, then count the step. Raises BudgetExhausted."""
        run: TaskRun | None = self
        while run is not None:
            run._check_and_count(step)
            run = run.parent

    def _check_and_count(self, step: str) -> None:
        with self._lock:
            budget = self.budget
            if budget is not None:
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
            if step == "llm":
                self.llm_calls += 1
            elif step == "tool":
                self.tool_calls += 1

    def add_llm_result(self, cost_usd: float | None, input_tokens: int | None, output_tokens: int | None) -> None:
        run: TaskRun | None = self
        while run is not None:
            with run._lock:
                if cost_usd is None:
                    run.unpriced_calls += 1
                else:
                    run.cost_usd += cost_usd
                run.input_tokens += input_tokens or 0
                run.output_tokens += output_tokens or 0
            run = run.parent


def current_task() -> TaskRun | None:
    """The innermost task the caller runs in, if any."""
    return otel_context.get_value(TASK_KEY)  # type: ignore[return-value]


def _outcome_of(exc: BaseException | None, run: TaskRun) -> Outcome:
    if run.exhausted is not None or isinstance(exc, BudgetExhausted):
        return Outcome.BUDGET_EXHAUSTED
    if exc is None:
        return Outcome.SUCCESS
    if isinstance(exc, TimeoutError):
        return Outcome.TIMEOUT
    if type(exc).__name__ == "CancelledError":
        return Outcome.CANCELLED
    return Outcome.ERROR


class task(Scope):  # noqa: N801 - used as a decorator and a context manager, like contextlib's
    """One agent run. Use as ``@agentvitals.task("name")``, ``with agentvitals.task("name") as t:``
    or ``async with``. Sync, async and generator functions are supported.

    Args:
        name: Low-cardinality task name (a metric label); defaults to the decorated function's name.
        budget: Limits checked before each LLM and tool call.
        raise_on_budget: Re-raise :class:`BudgetExhausted` instead of ending the task quietly.
        attributes: Extra span attributes (not metric labels).
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        budget: Budget | None = None,
        raise_on_budget: bool = False,
        attributes: Mapping[str, Any] | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        if callable(name):  # bare @task
            raise TypeError("use @agentvitals.task() or @agentvitals.task('name'), with parentheses")
        self._name = name
        self._budget = budget
        self._raise_on_budget = raise_on_budget
        self._attributes = dict(attributes or {})
        self._telemetry = telemetry
        self.run: TaskRun | None = None
        self.outcome: Outcome | None = None
        """Set it to override the outcome derived from how the body ended."""
        self.partial_result: Any = None
        """Returned by a decorated function whose task ended by budget exhaustion."""
        self._span: trace.Span | None = None
        self._cpu_start: float | None = None

    def __call__(self, func: F) -> F:
        name = self._name or func.__qualname__

        def fresh() -> task:
            return task(name, budget=self._budget, raise_on_budget=self._raise_on_budget,
                        attributes=self._attributes, telemetry=self._telemetry)

        return decorate(fresh, func)

    # --- the task's own API ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name or "task"

    def set_outcome(self, outcome: Outcome | str) -> None:
        self.outcome = Outcome(outcome)

    def set_partial_result(self, value: Any) -> None:
        self.partial_result = value

    def check_budget(self) -> None:
        """Raise :class:`BudgetExhausted` if the cost or wall-time budget is spent (no step counted)."""
        if self.run is not None:
            self.run.begin_step("check")

    # --- Scope ----------------------------------------------------------------------------------
    def _begin(self, *, is_async: bool) -> otel_context.Context:
        telemetry = self._telemetry or current()
        self._telemetry = telemetry
        parent = current_task()
        run = TaskRun(self.name, self._budget, parent)
        self.run = run
        attributes = {
            names.GEN_AI_OPERATION_NAME: names.Operation.INVOKE_AGENT.value,
            names.GEN_AI_AGENT_NAME: self.name,
            names.TASK_NAME: self.name,
            names.TASK_ID: run.task_id,
            **self._attributes,
        }
        span = telemetry.tracer.start_span(
            names.span_name(names.Operation.INVOKE_AGENT.value, self.name),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=run.start_ns,
        )
        self._span = span
        if telemetry.waits is not None:
            try:
                telemetry.waits.begin_task(span, run)
            except Exception:  # deliberate: accounting must never break the task
                _logger.debug("agentvitals: could not register task", exc_info=True)
        # Thread CPU time is only meaningful when the task's body runs on this thread.
        self._cpu_start = None if is_async else time.thread_time()
        return otel_context.set_value(TASK_KEY, run, trace.set_span_in_context(span))

    def _end(self, exc: BaseException | None) -> bool:
        run, span = self.run, self._span
        if run is None or span is None:
            return False
        swallow = isinstance(exc, BudgetExhausted) and not self._raise_on_budget
        try:
            self._finish(run, span, exc)
        except Exception:  # deliberate: telemetry must never break the task
            _logger.debug("agentvitals: could not finish task %s", self.name, exc_info=True)
        return swallow

    def _swallowed_result(self) -> Any:
        return self.partial_result

    def _finish(self, run: TaskRun, span: trace.Span, exc: BaseException | None) -> None:
        telemetry = self._telemetry or current()
        end_ns = time.time_ns()
        outcome = self.outcome or _outcome_of(exc, run)
        split = split_time(run.start_ns, end_ns, list(run.waits))
        if span.is_recording():
            attributes: dict[str, Any] = {
                names.TASK_OUTCOME: outcome.value,
                names.TASK_WALL_TIME: split.wall,
                names.TASK_ACTIVE_TIME: split.active,
                names.TASK_IDLE_TIME: split.idle,
                names.TASK_CHILD_TIME: split.child,
                names.TASK_COST_AMOUNT: run.cost_usd,
                names.TASK_UNPRICED_CALLS: run.unpriced_calls,
                names.TASK_INPUT_TOKENS: run.input_tokens,
                names.TASK_OUTPUT_TOKENS: run.output_tokens,
                names.TASK_LLM_CALLS: run.llm_calls,
                names.TASK_TOOL_CALLS: run.tool_calls,
            }
            for kind, seconds in split.idle_by_kind.items():
                attributes[names.TASK_IDLE_TIME_PREFIX + kind.value] = seconds
            if self._cpu_start is not None:
                attributes[names.TASK_CPU_TIME] = time.thread_time() - self._cpu_start
            if run.exhausted is not None:
                attributes[names.BUDGET_LIMIT] = run.exhausted.limit
            span.set_attributes(attributes)
            if outcome is Outcome.ERROR and exc is not None:
                span.set_attribute(names.ERROR_TYPE, type(exc).__qualname__)
                span.set_status(Status(StatusCode.ERROR, str(exc)[:200]))
        span.end(end_time=end_ns)

        # Every measurement of the task links to the task's span (when sampled), not to whatever is current now.
        context = trace.set_span_in_context(span)
        labels = {names.TASK_NAME: self.name}
        outcome_labels = {names.TASK_NAME: self.name, names.TASK_OUTCOME: outcome.value}
        telemetry.task_duration.record(split.wall, outcome_labels, context=context)
        telemetry.task_cost.add(run.cost_usd, outcome_labels, context=context)
        telemetry.task_active.add(split.active, labels, context=context)
        telemetry.task_child.add(split.child, labels, context=context)
        for kind, seconds in split.idle_by_kind.items():
            telemetry.task_idle.add(seconds, {names.TASK_NAME: self.name, names.WAIT_KIND: kind.value},
                                    context=context)
        if run.exhausted is not None:
            telemetry.budget_exhausted.add(1, {names.TASK_NAME: self.name, names.BUDGET_LIMIT: run.exhausted.limit},
                                           context=context)
