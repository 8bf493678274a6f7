"""The demo: its servers, its load, its report (checked against the telemetry), and its CLI."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from agentvitals.demo.load import WorkerPool, make_phases
from agentvitals.demo.model_server import LARGE, ModelServer
from agentvitals.demo.report import percentile
from agentvitals.demo.runner import DemoConfig, DemoRun, run_demo
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentvitals.attributes import COST_AMOUNT, TASK_FINDINGS, TASK_OUTCOME, TASK_SAVEABLE_TIME
from agentvitals.semconv import GEN_AI_OPERATION_NAME, GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, GEN_AI_USAGE_INPUT_TOKENS
from tests.conftest import make_telemetry

BIN = Path(sys.executable).parent


def run(config: DemoConfig) -> DemoRun:
    return asyncio.run(run_demo(config))


# --- the fake model server ---------------------------------------------------------------------
async def test_model_server_is_openai_compatible_and_caches_prefixes() -> None:
    server = ModelServer(malformed_rate=0.0)
    url = await server.start()
    try:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        messages = [{"role": "system", "content": "You are helpful. " * 200}, {"role": "user", "content": "hi"}]
        first = await client.chat.completions.create(model=LARGE.name, messages=messages, max_tokens=20)
        second = await client.chat.completions.create(model=LARGE.name, messages=messages, max_tokens=20)
        assert first.usage.prompt_tokens_details.cached_tokens == 0
        assert second.usage.prompt_tokens_details.cached_tokens >= 128  # the shared system prompt
        stream = await client.chat.completions.create(model="demo-small", messages=messages, stream=True,
                                                      stream_options={"include_usage": True})
        chunks = [chunk async for chunk in stream]
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
        embedded = await client.embeddings.create(model="demo-embed", input=["a b", "c"])
        assert len(embedded.data) == 2 and embedded.usage.prompt_tokens > 0
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="gpt-unknown", messages=messages)
        await client.close()
        exposition = (await asyncio.to_thread(_get, url + "/metrics"))
        for metric in ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
                       "vllm:prefix_cache_hits_total", "vllm:time_to_first_token_seconds_bucket",
                       "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE"):
            assert metric in exposition, metric
    finally:
        await server.stop()


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


async def test_latency_rises_with_requests_in_flight() -> None:
    server = ModelServer(malformed_rate=0.0)
    url = await server.start()
    try:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="x", max_retries=0)

        async def timed() -> float:
            start = asyncio.get_running_loop().time()
            await client.chat.completions.create(model=LARGE.name, max_tokens=100,
                                                 messages=[{"role": "user", "content": "where is my order 7?"}])
            return asyncio.get_running_loop().time() - start

        alone = min([await timed() for _ in range(3)])  # the best of three: a loaded machine only adds
        crowded = await asyncio.gather(*(timed() for _ in range(3 * LARGE.max_batch)))
        assert max(crowded) > 2.5 * alone  # queued behind full batches, and decoding slower in them
        await client.close()
    finally:
        await server.stop()


# --- load --------------------------------------------------------------------------------------
def test_phases() -> None:
    phases = make_phases("warmup:2,spike,recovery", duration_s=10, base_rate=2, spike_multiplier=4)
    assert [(p.name, p.rate) for p in phases] == [("warmup", 1.0), ("spike", 8.0), ("recovery", 2.0)]
    assert phases[0].duration_s == 2 and math.isclose(sum(p.duration_s for p in phases), 10)
    for bad, message in (("warmup,surge", "unknown phase 'surge'"), ("spike:-3", "must be positive"),
                         ("steady:abc", "not a number")):
        with pytest.raises(ValueError, match=message):
            make_phases(bad, duration_s=10, base_rate=1, spike_multiplier=2)


async def test_worker_pool_resizes_and_sheds() -> None:
    release = asyncio.Event()
    started: list[int] = []

    async def handler(item: int) -> None:
        started.append(item)
        await release.wait()

    async def until(condition: Callable[[], bool], what: str) -> None:
        deadline = asyncio.get_running_loop().time() + 10
        while not condition():
            assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.005)

    pool = WorkerPool(handler, size=2, max_size=4, queue_limit=3)
    assert pool.submit(0) and pool.submit(1)
    await until(lambda: pool.busy == 2, "both workers to pick one up")
    assert [pool.submit(item) for item in range(2, 6)] == [True, True, True, False]
    assert pool.busy == 2 and pool.queued == 3 and pool.shed == 1
    assert pool.resize(10) == 4  # clamped to max_size
    await until(lambda: pool.busy == 4, "the new workers to pick up the queue")
    assert pool.queued == 1
    pool.resize(1)
    release.set()
    assert await pool.drain(5)
    assert sorted(started) == [0, 1, 2, 3, 4]
    await pool.close()


# --- the whole demo ----------------------------------------------------------------------------
@pytest.mark.slow
def test_report_numbers_are_those_of_the_emitted_telemetry() -> None:
    exporter = InMemorySpanExporter()
    result = run(DemoConfig(phases="warmup:2,steady:4", rate=3, seed=5, progress=False,
                            init_kwargs={"span_exporter": exporter}))
    report = result.report
    spans = exporter.get_finished_spans()
    tasks = [s for s in spans if s.name == "invoke_agent support"]
    llm = [s for s in spans if s.attributes.get(GEN_AI_OPERATION_NAME) in ("chat", "embeddings")]

    assert report.tasks == len(tasks) > 5
    assert report.outcomes == {o: sum(1 for t in tasks if t.attributes[TASK_OUTCOME] == o)
                               for o in {t.attributes[TASK_OUTCOME] for t in tasks}}
    durations = [(t.end_time - t.start_time) / 1e9 for t in tasks]
    assert report.p95_s == pytest.approx(percentile(durations, 95), abs=1e-3)
    # Cost: the report sums task spans; the LLM spans' own cost attributes must add up to the same.
    task_trace_ids = {t.context.trace_id for t in tasks}
    llm_cost = sum(s.attributes.get(COST_AMOUNT, 0.0) for s in llm if s.context.trace_id in task_trace_ids)
    assert report.cost_usd == pytest.approx(llm_cost, rel=1e-9)
    assert report.cost_per_task_usd == pytest.approx(llm_cost / len(tasks), rel=1e-9)
    # Semantic cache: a hit is a task that made no chat call.
    chat_traces = {s.context.trace_id for s in llm if s.attributes[GEN_AI_OPERATION_NAME] == "chat"}
    hits = sum(1 for t in tasks if t.context.trace_id not in chat_traces)
    assert report.semantic_cache_hit_ratio == pytest.approx(hits / len(tasks))
    cached = sum(s.attributes.get(GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 0) for s in llm)
    inputs = sum(s.attributes.get(GEN_AI_USAGE_INPUT_TOKENS, 0) for s in llm)
    assert report.prompt_cache_hit_ratio == pytest.approx(cached / inputs)
    assert 0 < report.idle_share <= 1 and report.active_share == pytest.approx(1 - report.idle_share)
    assert "agentvitals demo report" in report.render()
    # Explain: the slowest task's waterfall and the findings across the run, from the task spans.
    slowest = max(tasks, key=lambda t: t.end_time - t.start_time)
    assert report.slowest_task.startswith(f"trace {slowest.context.trace_id:032x}")
    assert "critical path" in report.slowest_task and "findings" in report.slowest_task
    counted = Counter((f["kind"], f["subject"]) for t in tasks for f in json.loads(t.attributes[TASK_FINDINGS]))
    assert report.findings and all(f["tasks"] == counted[(f["kind"], f["subject"])] for f in report.findings)
    saveable = sum(t.attributes[TASK_SAVEABLE_TIME] for t in tasks) / sum(durations)
    assert report.saveable_share == pytest.approx(saveable, rel=1e-6)
    for section in ("cognitive errors", "system errors", "top findings across the run", "slowest task"):
        assert section in report.render()


@pytest.mark.slow
def test_spike_raises_latency_and_degraded_mode_lowers_it() -> None:
    def spike_run(degraded: bool) -> tuple[DemoRun, list[float]]:
        exporter = InMemorySpanExporter()
        result = run(DemoConfig(phases="warmup:3,spike:6", rate=2, spike_multiplier=4, seed=9, progress=False,
                                degraded=degraded, init_kwargs={"span_exporter": exporter}))
        llm = [(s.end_time - s.start_time) / 1e9 for s in exporter.get_finished_spans() if s.name.startswith("chat ")]
        return result, llm

    def queued_at_the_large_model(result: DemoRun) -> float:
        return result.model_server.metrics.queue_time.labels(LARGE.name)._sum.get()  # type: ignore[union-attr,no-any-return]

    normal, normal_llm = spike_run(False)
    phase_p95 = {p.name: p.p95_s for p in normal.report.phases}
    assert phase_p95["spike"] > 1.4 * phase_p95["warmup"]
    assert phase_p95["spike"] > 2.0  # over the alert threshold
    assert queued_at_the_large_model(normal) > 1.0  # requests really waited for a batch slot at the model server

    # Degraded mode routes away from the saturated large model: its queue empties and model calls get faster.
    # (Compared on the model calls, not whole tasks: on a machine short of CPU, a task's own work stretches in
    # both runs alike, while the queueing degraded mode removes stays the model's.)
    degraded, degraded_llm = spike_run(True)
    assert queued_at_the_large_model(degraded) < 0.1 * queued_at_the_large_model(normal)
    assert percentile(degraded_llm, 95) < percentile(normal_llm, 95)
    assert degraded.report.degraded_periods and not normal.report.degraded_periods


def test_cli_rejects_bad_arguments_with_exit_code_2() -> None:
    for arguments, message in ((["--rate", "-1"], "--rate: must be positive"),
                               (["--phases", "warmup,surge"], "unknown phase 'surge'"),
                               (["--duration", "soon"], "--duration: 'soon' is not a number"),
                               (["--workers", "8", "--max-workers", "2"], "--max-workers (2) must be at least")):
        result = subprocess.run([BIN / "agentvitals", "demo", *arguments], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 2, arguments
        assert message in result.stderr, result.stderr


@pytest.mark.slow
def test_cli_demo_prints_the_report() -> None:
    result = subprocess.run([BIN / "agentvitals", "demo", "--duration", "4", "--metrics-port", "0", "--no-progress"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for line in ("agentvitals demo report", "success rate", "p95", "active", "per successful task",
                 "cache hit ratios", "degraded mode"):
        assert line in result.stdout


# --- what the demo shows agentvitals explain: a parallelizable sequence, cognitive errors ------------------------
async def _agent_task(question_text: str, *, status: str | None = None, hallucinate: bool = False,
                      malformed: bool = False) -> tuple[list[Any], str | None]:
    """One question through the real agent, servers and store; the spans it made and its answer (``None`` when the
    planner's reply did not parse)."""
    import httpx
    from agentvitals.demo.agent import MalformedModelReply, Question, SupportAgent
    from agentvitals.demo.knowledge import DOCUMENTS, VectorIndex
    from agentvitals.demo.model_server import PRICES_USD_PER_MILLION
    from agentvitals.demo.routing import make_router
    from agentvitals.demo.runner import EMBEDDING_PRICE
    from agentvitals.demo.store import ORDERS, Store
    from agentvitals.demo.tool_server import ToolServer

    import agentvitals

    telemetry = make_telemetry(pricing={"openai": {**PRICES_USD_PER_MILLION, **EMBEDDING_PRICE}},
                               finding_thresholds={"parallel_min_saving_s": 0.01})
    exporter = telemetry.exporter
    model = ModelServer(malformed_rate=1.0 if malformed else 0.0, hallucination_rate=1.0 if hallucinate else 0.0)
    tools = ToolServer(error_scale=0.0)
    store = Store()
    try:
        model_url, tools_url = await model.start(), await tools.start()
        await store.setup()
        order_id = 0
        if status is not None:
            for order_id in range(ORDERS):
                order = await store.order(order_id)
                if order is not None and order["status"] == status:
                    break
        llm = openai.AsyncOpenAI(base_url=model_url + "/v1", api_key="x", max_retries=0)
        async with httpx.AsyncClient() as http:
            agent = SupportAgent(llm=llm, http=http, tools_url=tools_url, store=store,
                                 index=VectorIndex(list(DOCUMENTS), [[1.0] + [0.0] * 63] * len(DOCUMENTS)),
                                 cache=agentvitals.LLMCache("semantic", max_entries=8), router=make_router(),
                                 budget=agentvitals.Budget(max_llm_calls=6, max_tool_calls=8))
            try:
                answer = await agent.handle(Question(order_id, question_text.format(id=order_id)))
            except MalformedModelReply:
                answer = None
        await llm.close()
        agentvitals.force_flush()
        return list(exporter.get_finished_spans()), answer
    finally:
        agentvitals.shutdown()
        await model.stop()
        await tools.stop()
        store.close()


def _task(spans: list[Any]) -> Any:
    return next(s for s in spans if s.name == "invoke_agent support")


async def test_the_agents_account_checks_are_a_parallelizable_sequence() -> None:
    import json

    from agentvitals.attributes import TASK_FINDINGS

    spans, _ = await _agent_task("Can I get a refund for order {id}?")
    findings = json.loads(_task(spans).attributes[TASK_FINDINGS])
    assert any(f["kind"] == "parallelizable" and f["subject"].startswith("payment_status, loyalty_tier")
               for f in findings), findings


async def test_a_hallucinated_tool_is_reported_as_a_cognitive_error() -> None:
    from agentvitals.attributes import COGNITIVE_ERROR_EVENT, ERROR_CAUSE, TASK_COGNITIVE_ERRORS

    spans, answer = await _agent_task("Where is my order {id}?", hallucinate=True)
    task = _task(spans)
    assert answer and task.attributes[TASK_OUTCOME] == "success"  # the agent skipped the tool it does not have
    assert task.attributes[TASK_COGNITIVE_ERRORS] == 1
    assert [e.attributes[ERROR_CAUSE] for e in task.events if e.name == COGNITIVE_ERROR_EVENT] == ["tool_not_found"]


async def test_polling_a_tool_that_never_changes_is_a_loop_its_budget_cuts_off() -> None:
    from agentvitals.attributes import ERROR_CAUSE, ERROR_CLASS

    spans, answer = await _agent_task("When will order {id} arrive?", status="processing")
    task = _task(spans)
    assert answer is not None and "looking into" in answer  # the partial result
    assert task.attributes[TASK_OUTCOME] == "budget_exhausted"
    assert (task.attributes[ERROR_CLASS], task.attributes[ERROR_CAUSE]) == ("cognitive", "loop_detected")


async def test_a_malformed_planner_reply_fails_the_task_as_a_cognitive_output_parse_error() -> None:
    from agentvitals.attributes import ERROR_CAUSE, ERROR_CLASS
    from agentvitals.semconv import ERROR_TYPE

    spans, answer = await _agent_task("Where is my order {id}?", malformed=True)
    task = _task(spans)
    assert answer is None and task.attributes[TASK_OUTCOME] == "error"  # the outcome stays what it is
    assert (task.attributes[ERROR_TYPE], task.attributes[ERROR_CLASS], task.attributes[ERROR_CAUSE]) == (
        "MalformedModelReply", "cognitive", "output_parse")  # raised from the JSON decoding error
    # The model server answered: its call is no error (the reply is the model's mistake, not the system's).
    [plan] = [s for s in spans if s.attributes.get(GEN_AI_OPERATION_NAME) == "chat"]
    assert ERROR_TYPE not in plan.attributes and ERROR_CLASS not in plan.attributes
