"""``agentvitals demo``: the fake model server, the tool service and the agent under load, in one
process on loopback, then a report computed from the emitted telemetry.

Embedded by default (no infrastructure: spans stay in-process, metrics are also served on a local
Prometheus endpoint); with an OTLP endpoint it feeds the stack; with ``--model-url``/``--tools-url``
it drives servers running elsewhere (as in docker-compose).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import agentvitals
from agentvitals.attributes import TASK_OUTCOME, TASK_WALL_TIME, Outcome

from .knowledge import DOCUMENTS, VectorIndex
from .load import Phase, WorkerPool, generate_load, make_phases
from .model_server import PRICES_USD_PER_MILLION, ModelServer
from .report import Report, TaskSpanCollector, build_report, percentile
from .routing import degraded_periods, make_router
from .store import Store
from .tool_server import ToolServer

__all__ = ["DemoConfig", "DemoRun", "run_demo"]

EMBEDDING_PRICE = {"demo-embed": {"input": 0.02, "output": 0.0}}


@dataclass
class DemoConfig:
    duration_s: float = 60.0
    rate: float = 2.0
    """Mean task arrivals per second in the steady phase."""
    phases: str | None = None
    spike_multiplier: float = 4.0
    workers: int = 12
    max_workers: int = 32
    degraded: bool = False
    otlp_endpoint: str | None = None
    db_url: str | None = None
    seed: int = 1
    max_tasks: int | None = None
    metrics_port: int | None = None
    model_url: str | None = None
    tools_url: str | None = None
    progress: bool = True
    drain_timeout_s: float = 30.0
    service_name: str = "support-agent"
    control_port: int | None = None
    """Serve the Alertmanager webhook of the control loop on this port (None: no control loop)."""
    control_host: str = "127.0.0.1"
    control_secret: str | None = None
    control_cooldown_s: float = 60.0
    control_scale_step: int = 4
    alertmanager_urls: tuple[str, ...] = ()
    """Poll these Alertmanagers for degrade alerts (the router's pull source, as every replica would)."""
    budget: agentvitals.Budget = field(default_factory=lambda: agentvitals.Budget(
        max_cost_usd=0.05, max_llm_calls=4, max_tool_calls=8, max_wall_time_s=30.0))
    init_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra ``agentvitals.init`` arguments (tests pass in-memory exporters)."""


@dataclass
class DemoRun:
    report: Report
    router: agentvitals.ModelRouter
    pool: WorkerPool
    controller: Any
    collector: TaskSpanCollector
    reader: InMemoryMetricReader
    model_server: ModelServer | None


class _Progress:
    """One status line: a live line on a terminal, a line every 5 s otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.phase = "-"
        self._last = 0.0

    def show(self, started: float, collector: TaskSpanCollector, pool: WorkerPool, router: agentvitals.ModelRouter,
             arrivals: int, *, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self._last < (1.0 if self.tty else 5.0):
            return
        self._last = now
        tasks = collector.snapshot()
        recent = [float(t.attributes[TASK_WALL_TIME]) for t in tasks[-100:]]
        ok = sum(1 for t in tasks if t.attributes[TASK_OUTCOME] == Outcome.SUCCESS.value)
        line = (f"[{now - started:5.1f}s] {self.phase:<9} arrivals {arrivals:<5} done {len(tasks):<5} "
                f"ok {100 * ok / max(1, len(tasks)):5.1f}%  p95(last 100) {1000 * percentile(recent, 95):6.0f} ms  "
                f"workers {pool.size:<3} busy {pool.busy:<3} queued {pool.queued:<4} "
                f"mode {'DEGRADED' if router.degraded else 'normal'}")
        if self.tty and not final:
            print("\r" + line, end="", file=sys.stderr, flush=True)
        else:
            print(("\r" if self.tty else "") + line, file=sys.stderr, flush=True)


async def run_demo(config: DemoConfig,
                   on_started: Callable[[WorkerPool, agentvitals.ModelRouter], Awaitable[None] | None] | None = None
                   ) -> DemoRun:
    """Run the demo to completion and return its report (and the objects, for tests and control)."""
    import httpx
    import openai

    collector = TaskSpanCollector()
    reader = InMemoryMetricReader()
    readers: list[Any] = [reader]
    metrics_server = None
    if config.metrics_port is not None:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server

        try:
            metrics_server, _ = start_http_server(config.metrics_port, addr="127.0.0.1")
            readers.append(PrometheusMetricReader())
            if config.progress:
                print(f"agent metrics for Prometheus: http://127.0.0.1:{config.metrics_port}/metrics", file=sys.stderr)
        except OSError as exc:
            print(f"agentvitals demo: not serving metrics on port {config.metrics_port} ({exc})", file=sys.stderr)
    init_kwargs: dict[str, Any] = {
        "endpoint": config.otlp_endpoint or False,
        # Every 5 s unless the environment says otherwise (OTEL_METRIC_EXPORT_INTERVAL).
        "metric_export_interval": None if os.environ.get("OTEL_METRIC_EXPORT_INTERVAL") else 5.0,
        "pricing": {"openai": {**PRICES_USD_PER_MILLION, **EMBEDDING_PRICE}},
        "span_processors": [collector],
        "metric_readers": readers,
        **({"alertmanager": list(config.alertmanager_urls)} if config.alertmanager_urls else {}),
        **config.init_kwargs,
    }
    settings = agentvitals.init(config.service_name, **init_kwargs)

    model_server = tool_server = None
    store = Store(config.db_url)
    pool: WorkerPool | None = None
    control_server = None
    try:
        model_url, tools_url = config.model_url, config.tools_url
        if model_url is None:
            model_server = ModelServer(seed=config.seed)
            model_url = await model_server.start()
        if tools_url is None:
            tool_server = ToolServer(seed=config.seed + 1)
            tools_url = await tool_server.start()
        await store.setup()

        llm = openai.AsyncOpenAI(base_url=model_url + "/v1", api_key="demo-key-not-a-secret", max_retries=1,
                                 timeout=30.0)
        http = httpx.AsyncClient(limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
        meter_provider = metrics.get_meter_provider()  # init() above made it the global one
        router = make_router(degraded=config.degraded, meter_provider=meter_provider, seed=config.seed)
        vectors = (await llm.embeddings.create(model="demo-embed", input=list(DOCUMENTS))).data
        from .agent import SupportAgent, make_question

        agent = SupportAgent(llm=llm, http=http, tools_url=tools_url, store=store,
                             index=VectorIndex(list(DOCUMENTS), [list(v.embedding) for v in vectors]),
                             cache=agentvitals.LLMCache("semantic", similarity=0.97, max_entries=512),
                             router=router, budget=config.budget)
        rng = random.Random(config.seed)
        pool = WorkerPool(agent.handle, size=config.workers, max_size=config.max_workers,
                          meter_provider=meter_provider)
        controller = None
        if config.control_port is not None:
            from agentvitals.control import CallbackScaler, Controller, ControlServer

            loop = asyncio.get_running_loop()
            running_pool = pool
            scaler = CallbackScaler(lambda: running_pool.size,
                                    lambda n: loop.call_soon_threadsafe(running_pool.resize, n))
            controller = Controller(router=router, scaler=scaler, max_workers=config.max_workers,
                                    scale_step=config.control_scale_step, cooldown_s=config.control_cooldown_s,
                                    meter_provider=meter_provider)
            control_server = ControlServer(controller, secret=config.control_secret or "",
                                           host=config.control_host, port=config.control_port).start()
            if config.progress:
                print(f"control webhook: {control_server.url}", file=sys.stderr)
        if on_started is not None:
            maybe = on_started(pool, router)
            if asyncio.iscoroutine(maybe):
                await maybe

        phases = make_phases(config.phases, duration_s=config.duration_s, base_rate=config.rate,
                             spike_multiplier=config.spike_multiplier)
        phase_starts: list[tuple[str, float]] = []
        progress = _Progress(config.progress)
        arrivals = 0
        started = time.monotonic()

        def on_phase(phase: Phase) -> None:
            phase_starts.append((phase.name, time.time()))
            progress.phase = phase.name

        def submit(phase: str, sequence: int) -> None:
            nonlocal arrivals
            arrivals += 1
            pool.submit(make_question(rng))

        async def show_progress() -> None:
            while True:
                progress.show(started, collector, pool, router, arrivals)
                await asyncio.sleep(0.25)

        ticker = asyncio.create_task(show_progress())
        try:
            await generate_load(phases, submit, seed=config.seed, max_tasks=config.max_tasks, on_phase=on_phase)
            load_ended = time.time()
            progress.phase = "draining"
            await pool.drain(config.drain_timeout_s)
        finally:
            ticker.cancel()
            progress.show(started, collector, pool, router, arrivals, final=True)
            await http.aclose()
            await llm.close()
        agentvitals.force_flush()
        report = build_report(
            collector.snapshot(), reader,
            degraded_periods=degraded_periods(router.transitions),
            phase_starts=phase_starts,
            load_ended=load_ended,
            workers_max=max(size for _, size in pool.size_history),
            shed=pool.shed,
            slowest_task=collector.slowest_task(),
            generation=settings.genai_names,
        )
        return DemoRun(report, router, pool, controller, collector, reader, model_server)
    finally:
        if control_server is not None:
            control_server.stop()
        if pool is not None:
            await pool.close()
        for server in (model_server, tool_server):
            if server is not None:
                await server.stop()
        store.close()
        agentvitals.shutdown()
        if metrics_server is not None:
            metrics_server.shutdown()
