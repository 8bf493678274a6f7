"""Tasks: trace trees across asyncio, threads and generators; active/idle split; budgets; outcomes."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

import agentvitals
from agentvitals.attributes import (
    BUDGET_LIMIT,
    COST_AMOUNT,
    TASK_ACTIVE_TIME,
    TASK_CHILD_TIME,
    TASK_COST_AMOUNT,
    TASK_CPU_TIME,
    TASK_IDLE_TIME,
    TASK_LLM_CALLS,
    TASK_NAME,
    TASK_OUTCOME,
    TASK_WALL_TIME,
    WaitKind,
    task_idle_time,
)
from agentvitals.metrics import BUDGET_EXHAUSTED, COST, TASK_ACTIVE, TASK_CHILD, TASK_COST, TASK_DURATION, TASK_IDLE
from agentvitals.semconv import ERROR_TYPE
from tests.conftest import Telemetry
from tests.fake_llm import FakeLLMServer


def waits(telemetry: Telemetry, prefix: str) -> tuple[float, float]:
    """(union, sum) in seconds of the spans named ``prefix...``: what the task's idle and child time must be,
    measured on the same spans, however long a loaded machine made them take."""
    intervals = sorted((s.start_time, s.end_time) for s in telemetry.spans(prefix))
    union, covered_to = 0, 0
    for start, end in intervals:
        union += max(end - max(start, covered_to), 0)
        covered_to = max(covered_to, end)
    return union / 1e9, sum(end - start for start, end in intervals) / 1e9


def parent_of(telemetry: Telemetry, span_name: str) -> str:
    spans = {s.context.span_id: s for s in telemetry.spans()}
    span = telemetry.span(span_name)
    assert span.parent is not None, f"{span_name} has no parent"
    return spans[span.parent.span_id].name


async def test_three_parallel_tools_idle_once_child_thrice(telemetry: Telemetry) -> None:
    async def call_tool(name: str) -> None:
        with agentvitals.tool(name):
            await asyncio.sleep(0.1)

    async with agentvitals.task("parallel"):
        await asyncio.gather(call_tool("a"), call_tool("b"), call_tool("c"))

    span = telemetry.span("invoke_agent parallel")
    idle, child = span.attributes[TASK_IDLE_TIME], span.attributes[TASK_CHILD_TIME]
    union, total = waits(telemetry, "execute_tool ")
    assert idle == pytest.approx(union, abs=1e-6) and child == pytest.approx(total, abs=1e-6)
    assert child > 2 * idle  # three overlapping waits: idle once, child thrice
    assert span.attributes[TASK_ACTIVE_TIME] == pytest.approx(
        span.attributes[TASK_WALL_TIME] - idle, abs=1e-6
    )
    assert span.attributes[task_idle_time(WaitKind.TOOL)] == pytest.approx(idle)
    for tool_name in "abc":
        assert parent_of(telemetry, f"execute_tool {tool_name}") == "invoke_agent parallel"
    assert telemetry.total(TASK_CHILD.name) == pytest.approx(child)
    assert telemetry.total(TASK_IDLE.name, agentvitals__wait__kind="tool") == pytest.approx(idle)


def test_threads_keep_the_trace_tree_and_the_split(telemetry: Telemetry) -> None:
    # The waits overlap however late a loaded machine starts each thread: none sleeps before all three have
    # started (a spread of starts above half the sleep would otherwise make child <= 2 * idle).
    started = threading.Barrier(3)

    @agentvitals.tool("fetch")
    def fetch(_: int) -> None:
        started.wait(timeout=30)
        time.sleep(0.1)

    with agentvitals.task("threaded"), ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(fetch, range(3)))

    spans = telemetry.spans("execute_tool fetch")
    task_span = telemetry.span("invoke_agent threaded")
    assert len(spans) == 3
    assert all(s.parent is not None and s.parent.span_id == task_span.context.span_id for s in spans)
    union, total = waits(telemetry, "execute_tool fetch")
    idle, child = task_span.attributes[TASK_IDLE_TIME], task_span.attributes[TASK_CHILD_TIME]
    assert idle == pytest.approx(union, abs=1e-6) and child == pytest.approx(total, abs=1e-6)
    assert child > 2 * idle  # the three threads waited at the same time


def test_sequential_waits_add_up_and_own_compute_is_active(telemetry: Telemetry) -> None:
    with agentvitals.task("sequential"):
        for _ in range(2):
            with agentvitals.tool("slow"):
                time.sleep(0.05)
        # Own compute: active, not idle. Spin until this thread has had 0.05 s of CPU, however loaded the machine.
        spun_until = time.thread_time() + 0.05
        while time.thread_time() < spun_until:
            pass

    span = telemetry.span("invoke_agent sequential")
    union, total = waits(telemetry, "execute_tool slow")
    assert span.attributes[TASK_IDLE_TIME] == pytest.approx(total, abs=1e-6) == pytest.approx(union, abs=1e-6)
    assert span.attributes[TASK_ACTIVE_TIME] >= 0.05  # the spin took at least its CPU time in wall time
    assert span.attributes[TASK_CPU_TIME] >= 0.05  # the busy loop, measured as thread CPU time


def test_generators_nest_under_the_task(telemetry: Telemetry) -> None:
    @agentvitals.retrieval("docs")
    def search(query: str):  # type: ignore[no-untyped-def]
        for index in range(3):
            yield f"{query}-{index}"

    def steps():  # type: ignore[no-untyped-def]
        for name in ("x", "y"):
            with agentvitals.tool(name):
                yield name

    with agentvitals.task("gen"):
        assert list(search("q")) == ["q-0", "q-1", "q-2"]
        assert list(steps()) == ["x", "y"]

    assert parent_of(telemetry, "retrieval docs") == "invoke_agent gen"
    assert parent_of(telemetry, "execute_tool x") == "invoke_agent gen"
    assert parent_of(telemetry, "execute_tool y") == "invoke_agent gen"


def test_decorated_generator_task_is_one_span(telemetry: Telemetry) -> None:
    @agentvitals.task("streaming-task")
    def produce():  # type: ignore[no-untyped-def]
        for index in range(3):
            with agentvitals.tool("step"):
                pass
            yield index

    assert list(produce()) == [0, 1, 2]
    task_span = telemetry.span("invoke_agent streaming-task")
    assert all(s.parent.span_id == task_span.context.span_id for s in telemetry.spans("execute_tool step"))
    assert task_span.attributes[TASK_OUTCOME] == "success"


async def test_nested_task_tool_llm_tree(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    client = openai.AsyncOpenAI(base_url=fake_llm.url + "/v1", api_key="sk-test", max_retries=0)

    @agentvitals.task("agent")
    async def agent() -> None:
        with agentvitals.tool("lookup"):
            await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])

    await agent()
    assert parent_of(telemetry, "execute_tool lookup") == "invoke_agent agent"
    assert parent_of(telemetry, "chat gpt-4o-mini") == "execute_tool lookup"
    assert parent_of(telemetry, "POST") == "chat gpt-4o-mini"
    task_span = telemetry.span("invoke_agent agent")
    # The LLM and HTTP waits sit inside the tool wait: summed child time is the tool's alone.
    assert task_span.attributes[TASK_CHILD_TIME] == pytest.approx(task_span.attributes[TASK_IDLE_TIME])
    assert task_span.attributes[TASK_LLM_CALLS] == 1
    assert task_span.attributes[TASK_COST_AMOUNT] > 0


def test_user_exception_passes_through_and_task_errors(telemetry: Telemetry) -> None:
    class MyError(Exception):
        pass

    error = MyError("boom")
    with pytest.raises(MyError) as raised, agentvitals.task("failing"):
        raise error
    assert raised.value is error
    span = telemetry.span("invoke_agent failing")
    assert span.attributes[TASK_OUTCOME] == "error"
    assert span.attributes[ERROR_TYPE] == "test_user_exception_passes_through_and_task_errors.<locals>.MyError"
    assert telemetry.points(TASK_DURATION.name)[0].attributes[TASK_OUTCOME] == "error"


def test_budget_of_two_llm_calls_stops_the_third(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    client = openai.OpenAI(base_url=fake_llm.url + "/v1", api_key="sk-test", max_retries=0)
    made = []

    @agentvitals.task("budgeted", budget=agentvitals.Budget(max_llm_calls=2))
    def run() -> str:
        task = agentvitals.current_task()
        for index in range(5):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
            made.append(index)
        assert task is not None
        return "complete"

    assert run() is None  # ended early: the partial result (none was set)
    assert made == [0, 1]
    assert len(fake_llm.requests) == 2
    span = telemetry.span("invoke_agent budgeted")
    assert span.attributes[TASK_OUTCOME] == "budget_exhausted"
    assert span.attributes[BUDGET_LIMIT] == "llm_calls"
    assert telemetry.total(BUDGET_EXHAUSTED.name, agentvitals__budget__limit="llm_calls") == 1


def test_budget_exhaustion_series_exist_at_zero_from_the_start(telemetry: Telemetry) -> None:
    # So "budget exhaustions / s" reads 0, not "no data", and rate() sees the first exhaustion.
    with agentvitals.task("roomy", budget=agentvitals.Budget(max_llm_calls=5, max_cost_usd=1.0)):
        pass
    points = {point.attributes[BUDGET_LIMIT]: point.value for point in telemetry.points(BUDGET_EXHAUSTED.name)
              if point.attributes[TASK_NAME] == "roomy"}
    assert points == {"llm_calls": 0, "cost": 0}
    assert all(not point.exemplars for point in telemetry.points(BUDGET_EXHAUSTED.name))


def test_budget_partial_result_and_opt_in_raise(telemetry: Telemetry) -> None:
    with agentvitals.task("partial", budget=agentvitals.Budget(max_tool_calls=1)) as task:
        with agentvitals.tool("one"):
            task.set_partial_result("half")
        with agentvitals.tool("two"):
            raise AssertionError("not reached")
    assert task.partial_result == "half"

    with pytest.raises(agentvitals.BudgetExhausted) as raised:
        with agentvitals.task("strict", budget=agentvitals.Budget(max_tool_calls=0), raise_on_budget=True):
            with agentvitals.tool("never"):
                pass
    assert raised.value.limit == "tool_calls"


def test_manual_llm_call_computes_cost(telemetry: Telemetry) -> None:
    with agentvitals.task("manual"), agentvitals.llm_call("anthropic", "claude-haiku-4-5") as call:
        call.record(input_tokens=2000, output_tokens=100, cache_read_tokens=1000)
    assert call.cost_usd == pytest.approx((1000 * 1.00 + 1000 * 0.10 + 100 * 5.00) / 1e6)
    span = telemetry.span("chat claude-haiku-4-5")
    assert span.attributes[COST_AMOUNT] == pytest.approx(call.cost_usd)
    assert telemetry.span("invoke_agent manual").attributes[TASK_COST_AMOUNT] == pytest.approx(call.cost_usd)


def test_cost_per_task_metrics(telemetry: Telemetry) -> None:
    for outcome_fails in (False, True):
        try:
            with agentvitals.task("costly"):
                with agentvitals.llm_call("openai", "gpt-4o") as call:
                    call.record(input_tokens=1_000_000, output_tokens=0)
                if outcome_fails:
                    raise RuntimeError("after spending")
        except RuntimeError:
            pass
    assert telemetry.total(TASK_COST.name, agentvitals__task__outcome="success") == pytest.approx(2.5)
    assert telemetry.total(TASK_COST.name, agentvitals__task__outcome="error") == pytest.approx(2.5)
    assert telemetry.total(COST.name) == pytest.approx(5.0)


def test_every_metric_point_of_a_task_has_the_task_span_as_exemplar(telemetry: Telemetry) -> None:
    with agentvitals.task("outer"):  # the span current when the inner task ends
        with agentvitals.task("linked", budget=agentvitals.Budget(max_tool_calls=1)):
            with agentvitals.tool("search"):
                time.sleep(0.01)
            with agentvitals.tool("search"):  # over budget: ends the task, counted
                pass
    linked = telemetry.span("invoke_agent linked").context
    data = telemetry.reader.get_metrics_data()
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    for metric in (TASK_DURATION, TASK_COST, TASK_ACTIVE, TASK_CHILD, TASK_IDLE,
                   BUDGET_EXHAUSTED):
        points = [p for p in metrics[metric.name].data.data_points if p.attributes[TASK_NAME] == "linked"]
        assert points, metric.name
        for point in points:
            assert [(e.trace_id, e.span_id) for e in point.exemplars] == [(linked.trace_id, linked.span_id)], \
                metric.name
