"""Agent runs of the frameworks: a task of their own when no ``agentvitals.task`` encloses them.

A framework's agent run (pydantic-ai's ``Agent.run``, openai-agents' ``Runner.run``, a LlamaIndex agent
workflow, a smolagents agent, a CrewAI crew) inside an ``agentvitals.task`` is part of that task. Outside
one, it becomes a task of its own, ``invoke_agent {agent name}``, with outcome, cost, tokens and the
active/idle split, so ``init()`` alone gives tasks. Such a task has no budget (budgets are the
application's to set, with ``agentvitals.task(budget=...)``).

:class:`AgentRun` is that run as a scope; the wrappers here apply it to a framework's public run method,
whether it returns a value, a coroutine, a generator (iterated later: the task stays open until it is
exhausted, its context attached only while the generator's body runs) or a handle to a run it scheduled on
the event loop (the task ends when the run does; the context is attached only while the method itself
runs, so the asyncio tasks it creates inherit it and the caller's context is left as it was).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from agentvitals._handler import Handler
from agentvitals._scope import Scope
from agentvitals._taskrun import TASK_KEY, current_task
from agentvitals._tasks import TaskInvocation, start_task

_logger = logging.getLogger("agentvitals")

__all__ = ["AgentRun", "AgentRunEndpoint", "ReportedError", "async_agent_run_wrapper", "detach_if_current",
           "scheduled_agent_run_wrapper", "sync_agent_run_wrapper"]

DEFAULT_AGENT_NAME = "agent"


class AgentRun(Scope):
    """One agent run: a task named after the agent when no task encloses it; otherwise nothing at all."""

    def __init__(self, handler: Handler, name: str | None, attributes: Mapping[str, Any] | None = None) -> None:
        self._handler = handler
        self._name = name or DEFAULT_AGENT_NAME
        self._attributes = dict(attributes or {})
        self.invocation: TaskInvocation | None = None

    def begin(self, *, on_this_thread: bool) -> otel_context.Context:
        """The context the run's body runs in: the new task's, or the current one when a task encloses it."""
        if current_task() is None:
            try:
                self.invocation, context = start_task(self._handler, self._name, budget=None,
                                                      attributes=self._attributes, on_this_thread=on_this_thread)
                return context
            except Exception:  # deliberate: telemetry never breaks the agent
                _logger.debug("agentvitals: could not start a task for agent %r", self._name, exc_info=True)
        return otel_context.get_current()

    def context_in(self, parent: otel_context.Context) -> otel_context.Context:
        """``parent`` with this run's task current (a later part of the same run, e.g. after a handoff)."""
        invocation = self.invocation
        if invocation is None or invocation.run is None:
            return parent
        return trace.set_span_in_context(invocation.span, otel_context.set_value(TASK_KEY, invocation.run, parent))

    def end(self, exc: BaseException | None) -> None:
        invocation, self.invocation = self.invocation, None
        if invocation is not None:
            invocation.end(exc)

    # Scope: ``with``/``async with``; the run's exception always propagates.
    def _begin(self, *, is_async: bool) -> otel_context.Context:
        return self.begin(on_this_thread=not is_async)

    def _end(self, exc: BaseException | None) -> bool:
        self.end(exc)
        return False


class ReportedError(Exception):
    """An error a framework reported through its tracing callbacks: its own exception is not ours to see."""


def detach_if_current(token: object, attached: otel_context.Context) -> None:
    """Detach a context a callback attached, if it is still the current one. A framework's end callback can run
    where its start callback did not (another task or thread): detaching there would fail (the context
    variable's token belongs to another context) and log an error; the context it was attached in then ends
    with its task or thread."""
    if otel_context.get_current() is attached:
        otel_context.detach(token)  # type: ignore[arg-type]
    else:
        _logger.debug("agentvitals: a framework ended a span outside the context it started in")


def _continue_in(context: otel_context.Context, generator: Generator[Any, Any, Any], run: AgentRun
                 ) -> Generator[Any, Any, Any]:
    """Iterate ``generator`` with ``context`` attached only while its body runs; the run ends with it."""
    try:
        while True:
            token = otel_context.attach(context)
            try:
                item = next(generator)
            finally:
                otel_context.detach(token)
            yield item
    except StopIteration as stop:
        run.end(None)
        return stop.value
    except GeneratorExit:  # the consumer stopped early: the run ends here, without an error
        run.end(None)
        generator.close()
        raise
    except BaseException as exc:
        run.end(exc)
        raise


async def _continue_in_async(context: otel_context.Context, generator: AsyncGenerator[Any, Any], run: AgentRun
                             ) -> AsyncGenerator[Any, Any]:
    """:func:`_continue_in` for an async generator."""
    try:
        while True:
            token = otel_context.attach(context)
            try:
                item = await generator.__anext__()
            finally:
                otel_context.detach(token)
            yield item
    except StopAsyncIteration:
        run.end(None)
    except GeneratorExit:
        run.end(None)
        await generator.aclose()
        raise
    except BaseException as exc:
        run.end(exc)
        raise


@dataclass(frozen=True)
class AgentRunEndpoint:
    name: Callable[[Any, tuple[Any, ...], Mapping[str, Any]], str | None]
    """(instance, args, kwargs) -> the agent's name."""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    applies: Callable[[Any, tuple[Any, ...], Mapping[str, Any]], bool] = lambda instance, args, kwargs: True
    """(instance, args, kwargs) -> whether this call is the run (not one that hands the run to another call)."""

    def wanted(self, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
        """A task is started only for the run itself, when no task encloses it."""
        if current_task() is not None:
            return False
        try:
            return bool(self.applies(instance, args, kwargs))
        except Exception:
            return False

    def run(self, handler: Handler, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> AgentRun:
        try:
            name = self.name(instance, args, kwargs)
        except Exception:
            name = None
        return AgentRun(handler, name, self.attributes)


Wrapper = Callable[..., Any]


def sync_agent_run_wrapper(endpoint: AgentRunEndpoint) -> Callable[[Handler], Wrapper]:
    """A synchronous run method; a generator or async generator it returns (a streamed run) keeps the task open
    while it is iterated."""
    def factory(handler: Handler) -> Wrapper:
        def wrapper(wrapped: Wrapper, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if not endpoint.wanted(instance, args, kwargs):
                return wrapped(*args, **kwargs)
            run = endpoint.run(handler, instance, args, kwargs)
            context = run.begin(on_this_thread=True)
            token = otel_context.attach(context)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                otel_context.detach(token)
                run.end(exc)
                raise
            otel_context.detach(token)
            if inspect.isgenerator(result):
                return _continue_in(context, result, run)
            if inspect.isasyncgen(result):
                return _continue_in_async(context, result, run)
            run.end(None)
            return result

        return wrapper

    return factory


def async_agent_run_wrapper(endpoint: AgentRunEndpoint) -> Callable[[Handler], Wrapper]:
    """A coroutine run method."""
    def factory(handler: Handler) -> Wrapper:
        async def wrapper(wrapped: Wrapper, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if not endpoint.wanted(instance, args, kwargs):
                return await wrapped(*args, **kwargs)
            async with endpoint.run(handler, instance, args, kwargs):
                return await wrapped(*args, **kwargs)

        return wrapper

    return factory


_watchers: set[asyncio.Task[None]] = set()
"""Tasks waiting for a scheduled run to end (asyncio keeps only weak references to tasks)."""


async def _end_with(run: AgentRun, completion: Awaitable[Any]) -> None:
    try:
        await completion
    except BaseException as exc:  # the run's outcome, not ours to raise: whoever awaits the run sees it
        run.end(exc)
    else:
        run.end(None)


def scheduled_agent_run_wrapper(endpoint: AgentRunEndpoint, completion: Callable[[Any], Awaitable[Any]]
                                ) -> Callable[[Handler], Wrapper]:
    """A method that schedules the run on the running event loop and returns a handle to it (e.g. a workflow
    handler); ``completion(handle)`` is an awaitable that ends when the run does, and so does the task."""
    def factory(handler: Handler) -> Wrapper:
        def wrapper(wrapped: Wrapper, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if not endpoint.wanted(instance, args, kwargs):
                return wrapped(*args, **kwargs)
            run = endpoint.run(handler, instance, args, kwargs)
            token = otel_context.attach(run.begin(on_this_thread=False))
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                otel_context.detach(token)
                run.end(exc)
                raise
            otel_context.detach(token)
            try:
                watcher = asyncio.get_running_loop().create_task(_end_with(run, completion(result)))
            except Exception:  # no running loop, or no way to know when it ends: the task ends here
                _logger.debug("agentvitals: cannot follow agent run %r to its end", run, exc_info=True)
                run.end(None)
            else:
                _watchers.add(watcher)
                watcher.add_done_callback(_watchers.discard)
            return result

        return wrapper

    return factory
