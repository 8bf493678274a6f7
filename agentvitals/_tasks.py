"""Tasks: one agent run each, a span (``invoke_agent {name}``) over a :class:`~agentvitals._taskrun.TaskRun`.

The task's span follows the one lifecycle (:class:`~agentvitals._lifecycle.Invocation`); when it ends, its
wall time is split into active and idle time from the waits the accounting processor recorded, and the
outcome, cost, tokens and split go onto the span and into metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from agentvitals._explain._summary import budget_error, explain_task
from agentvitals._handler import Handler, current
from agentvitals._lifecycle import Invocation, error_type
from agentvitals._scope import Scope, decorate
from agentvitals._taskrun import TASK_KEY, Budget, BudgetExhausted, TaskRun, current_task
from agentvitals._timesplit import split_time
from agentvitals.attributes import (
    BUDGET_LIMIT,
    BUDGET_MAX_COST,
    BUDGET_MAX_LLM_CALLS,
    BUDGET_MAX_TOOL_CALLS,
    BUDGET_MAX_WALL_TIME,
    TASK_ACTIVE_TIME,
    TASK_CHILD_TIME,
    TASK_COST_AMOUNT,
    TASK_CPU_TIME,
    TASK_ID,
    TASK_IDLE_TIME,
    TASK_INPUT_TOKENS,
    TASK_LLM_CALLS,
    TASK_NAME,
    TASK_OUTCOME,
    TASK_OUTPUT_TOKENS,
    TASK_TOOL_CALLS,
    TASK_UNPRICED_CALLS,
    TASK_WALL_TIME,
    WAIT_KIND,
    Outcome,
    task_idle_time,
)
from agentvitals.routing._tasks import task_labels
from agentvitals.semconv import ERROR_TYPE, GEN_AI_AGENT_NAME, GEN_AI_OPERATION_NAME, Operation, span_name

_logger = logging.getLogger("agentvitals")

__all__ = ["task"]

F = TypeVar("F", bound=Callable[..., Any])


def caused_by_budget(exc: BaseException | None) -> bool:
    """``exc`` is a BudgetExhausted, or an error a framework raised because of one (it wraps what its steps raise)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, BudgetExhausted):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def outcome_of(exc: BaseException | None, run: TaskRun) -> Outcome:
    if run.exhausted is not None or isinstance(exc, BudgetExhausted):
        return Outcome.BUDGET_EXHAUSTED
    if exc is None:
        return Outcome.SUCCESS
    if isinstance(exc, TimeoutError):
        return Outcome.TIMEOUT
    if type(exc).__name__ == "CancelledError":
        return Outcome.CANCELLED
    return Outcome.ERROR


def finish_task(handler: Handler, run: TaskRun, span: trace.Span, outcome: Outcome, end_ns: int,
                cpu_time: float | None, error: str | None = None) -> dict[str, Any]:
    """A task's results as span attributes, recorded into the task metrics (linked to ``span``).
    One implementation for our tasks and for the agent runs of other instrumentations that no task encloses."""
    split = split_time(run.start_ns, end_ns, list(run.waits))
    attributes: dict[str, Any] = {
        TASK_OUTCOME: outcome.value,
        TASK_WALL_TIME: split.wall,
        TASK_ACTIVE_TIME: split.active,
        TASK_IDLE_TIME: split.idle,
        TASK_CHILD_TIME: split.child,
        TASK_COST_AMOUNT: run.cost_usd,
        TASK_UNPRICED_CALLS: run.unpriced_calls,
        TASK_INPUT_TOKENS: run.input_tokens,
        TASK_OUTPUT_TOKENS: run.output_tokens,
        TASK_LLM_CALLS: run.llm_calls,
        TASK_TOOL_CALLS: run.tool_calls,
    }
    for kind, seconds in split.idle_by_kind.items():
        attributes[task_idle_time(kind)] = seconds
    if cpu_time is not None:
        attributes[TASK_CPU_TIME] = cpu_time
    if run.exhausted is not None:
        attributes[BUDGET_LIMIT] = run.exhausted.limit
    routed = task_labels(run)  # the variant and mode a ModelRouter served the task (bounded label values)
    attributes.update(routed)
    _explain(handler, run, span, end_ns, attributes)

    # Every measurement of the task links to the task's span (when sampled), not to whatever is current now.
    context = trace.set_span_in_context(span)
    instruments = handler.instruments
    labels = {TASK_NAME: run.name}
    outcome_labels = {**labels, TASK_OUTCOME: outcome.value, **routed}
    instruments.task_duration.record(split.wall, outcome_labels, context=context)
    instruments.task_cost.add(run.cost_usd, outcome_labels, context=context)
    instruments.task_active.add(split.active, labels, context=context)
    instruments.task_child.add(split.child, labels, context=context)
    for kind, seconds in split.idle_by_kind.items():
        instruments.task_idle.add(seconds, {**labels, WAIT_KIND: kind.value}, context=context)
    if run.exhausted is not None:
        instruments.budget_exhausted.add(1, {**labels, BUDGET_LIMIT: run.exhausted.limit}, context=context)
    agent_duration = instruments.genai.agent_duration  # the latest GenAI names only
    if agent_duration is not None:
        agent_labels = {GEN_AI_OPERATION_NAME: Operation.INVOKE_AGENT.value, GEN_AI_AGENT_NAME: run.name}
        if error is not None:
            agent_labels[ERROR_TYPE] = error
        agent_duration.record(split.wall, agent_labels, context=context)
    return attributes


def _explain(handler: Handler, run: TaskRun, span: trace.Span, end_ns: int, attributes: dict[str, Any]) -> None:
    """The task's critical path, parallelizable time, findings and errors (see :mod:`agentvitals._explain`); a
    budget exhaustion is a cognitive error (a loop, when the task repeated identical tool calls)."""
    analysis = None
    spans, run.spans = run.spans, None  # analysed once; the records go with it (a kept task object keeps none)
    if spans is not None:
        try:
            explained, analysis = explain_task(handler, spans, run.name, run.start_ns, end_ns, span)
            attributes.update(explained)
        except Exception:  # deliberate: the analysis must never cost the task its results
            _logger.debug("agentvitals: could not analyse task %s", run.name, exc_info=True)
    if run.exhausted is not None:
        attributes.update(budget_error(run.exhausted, analysis))


def _budget_attributes(budget: Budget | None) -> dict[str, Any]:
    if budget is None:
        return {}
    limits = ((BUDGET_MAX_COST, budget.max_cost_usd), (BUDGET_MAX_LLM_CALLS, budget.max_llm_calls),
              (BUDGET_MAX_TOOL_CALLS, budget.max_tool_calls), (BUDGET_MAX_WALL_TIME, budget.max_wall_time_s))
    return {key: value for key, value in limits if value is not None}


class TaskInvocation(Invocation):
    """A task's span: ends with the outcome, cost, tokens and the active/idle split of its wall time."""

    __slots__ = ("run", "outcome", "_cpu_start")

    def __init__(self, handler: Handler, span: trace.Span, run: TaskRun, *, on_this_thread: bool) -> None:
        super().__init__(handler, span, None, {TASK_NAME: run.name})
        self.run = run
        self.outcome: Outcome | None = None
        """An outcome the application set; else it is derived from how the task ended."""
        # Thread CPU time is only meaningful when the task's body runs on this thread.
        self._cpu_start = time.thread_time() if on_this_thread else None

    def _record(self, exc: BaseException | None, elapsed: float) -> int:
        end_ns = time.time_ns()
        outcome = self.outcome or outcome_of(exc, self.run)
        cpu_time = time.thread_time() - self._cpu_start if self._cpu_start is not None else None
        error = error_type(exc) if outcome is Outcome.ERROR and exc is not None else None
        attributes = finish_task(self.handler, self.run, self.span, outcome, end_ns, cpu_time, error)
        if self.span.is_recording():
            self.span.set_attributes(attributes)
        if outcome in (Outcome.ERROR, Outcome.TIMEOUT) and exc is not None:
            self.mark_failed(exc)  # error.type, class and cause (a timeout is a system error)
        return end_ns


def start_task(handler: Handler, name: str, *, budget: Budget | None, attributes: Mapping[str, Any],
               on_this_thread: bool) -> tuple[TaskInvocation, otel_context.Context]:
    """Start a task inside the current one (if any); returns it and the context its body runs in.

    The span starts in a context that already carries the new :class:`TaskRun`, so the accounting span
    processor sees which task the span is the root of."""
    run = TaskRun(name, budget, current_task())
    if budget is not None:
        # Budget exhaustions are rare: each (task, limit) series exists from the start, at 0, so a dashboard
        # shows "none" rather than no data, and rate() does not lose the first one (its first sample).
        # Outside any span: a zero is no example of anything (no exemplar).
        no_span = trace.set_span_in_context(trace.INVALID_SPAN)
        for limit in budget.limits():
            handler.instruments.budget_exhausted.add(0, {TASK_NAME: name, BUDGET_LIMIT: limit}, context=no_span)
    context = otel_context.set_value(TASK_KEY, run)
    span_attributes = {
        GEN_AI_OPERATION_NAME: Operation.INVOKE_AGENT.value,
        GEN_AI_AGENT_NAME: name,
        TASK_NAME: name,
        TASK_ID: run.task_id,
        **_budget_attributes(budget),
        **attributes,
    }
    span = handler.tracer.start_span(span_name(Operation.INVOKE_AGENT.value, name), context=context,
                                     kind=SpanKind.INTERNAL, attributes=span_attributes, start_time=run.start_ns)
    invocation = TaskInvocation(handler, span, run, on_this_thread=on_this_thread)
    return invocation, invocation.context(context)


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
        handler: Handler | None = None,
    ) -> None:
        if callable(name):  # bare @task
            raise TypeError("use @agentvitals.task() or @agentvitals.task('name'), with parentheses")
        self._name = name
        self._budget = budget
        self._raise_on_budget = raise_on_budget
        self._attributes = dict(attributes or {})
        self._handler = handler
        self._invocation: TaskInvocation | None = None
        self.outcome: Outcome | None = None
        """Set it to override the outcome derived from how the body ended."""
        self.partial_result: Any = None
        """Returned by a decorated function whose task ended by budget exhaustion."""

    def __call__(self, func: F) -> F:
        name = self._name or func.__qualname__

        def fresh() -> task:
            return task(name, budget=self._budget, raise_on_budget=self._raise_on_budget,
                        attributes=self._attributes, handler=self._handler)

        return decorate(fresh, func)

    # --- the task's own API ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name or "task"

    @property
    def run(self) -> TaskRun | None:
        """The task's live accounting, once it has started."""
        return self._invocation.run if self._invocation is not None else None

    @property
    def span(self) -> trace.Span:
        return self._invocation.span if self._invocation is not None else trace.INVALID_SPAN

    def set_outcome(self, outcome: Outcome | str) -> None:
        self.outcome = Outcome(outcome)

    def set_partial_result(self, value: Any) -> None:
        self.partial_result = value

    def check_budget(self) -> None:
        """Raise :class:`BudgetExhausted` if the cost or wall-time budget is spent (no step counted)."""
        run = self.run
        if run is not None:
            run.check_step("check")

    # --- Scope ----------------------------------------------------------------------------------
    def _begin(self, *, is_async: bool) -> otel_context.Context:
        invocation, context = start_task(self._handler or current(), self.name, budget=self._budget,
                                         attributes=self._attributes, on_this_thread=not is_async)
        self._invocation = invocation
        return context

    def _end(self, exc: BaseException | None) -> bool:
        invocation = self._invocation
        if invocation is None:
            return False
        invocation.outcome = self.outcome
        invocation.end(exc)
        return caused_by_budget(exc) and not self._raise_on_budget

    def _swallowed_result(self) -> Any:
        return self.partial_result
