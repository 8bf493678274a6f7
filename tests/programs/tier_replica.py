"""One replica of an agent for the Collector-tier stack test: real agentvitals tasks with tool and LLM spans.

    python tier_replica.py OTLP_HTTP_ENDPOINT FAKE_LLM_URL INSTANCE_ID

Runs healthy, failing and slow tasks concurrently, exports through the given agent Collector, and prints
one JSON object with what the application itself recorded: every span it ended (trace and span id) and
every task's trace id, outcome, status, wall time and cost, as set on the task span.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import StatusCode

import agentvitals
from agentvitals.attributes import TASK_COST_AMOUNT, TASK_OUTCOME, TASK_WALL_TIME

HEALTHY, FAILING, SLOW = 24, 4, 2
SLOW_SECONDS = 2.3  # above the gateways' 2 s latency policy (the latency alert's threshold)


class Recorder(SpanProcessor):
    """Keeps what every ended span says, as the application produced it."""

    def __init__(self) -> None:
        self.spans: list[list[str]] = []
        self.tasks: list[dict[str, Any]] = []

    def on_end(self, span: ReadableSpan) -> None:
        context = span.get_span_context()
        trace_id = format(context.trace_id, "032x")
        self.spans.append([trace_id, format(context.span_id, "016x")])
        attributes = span.attributes or {}
        if TASK_WALL_TIME in attributes:
            self.tasks.append({
                "trace_id": trace_id,
                "outcome": attributes[TASK_OUTCOME],
                "error": span.status.status_code is StatusCode.ERROR,
                "wall_time": attributes[TASK_WALL_TIME],
                "cost": attributes[TASK_COST_AMOUNT],
            })


async def main(llm_url: str) -> None:
    import openai

    client = openai.AsyncOpenAI(base_url=llm_url + "/v1", api_key="sk-stack-test", max_retries=0)
    limit = asyncio.Semaphore(8)

    async def answer(kind: str) -> None:
        async with limit:
            try:
                async with agentvitals.task("answer"):
                    with agentvitals.tool("lookup"):
                        await asyncio.sleep(SLOW_SECONDS if kind == "slow" else 0.01)
                    await client.chat.completions.create(
                        model="gpt-4o-mini", messages=[{"role": "user", "content": "where is my order"}])
                    if kind == "failing":
                        with agentvitals.tool("refund"):
                            raise RuntimeError("refund service rejected the request")
            except RuntimeError:
                pass  # the task recorded it; the replica carries on

    kinds = ["healthy"] * HEALTHY + ["failing"] * FAILING + ["slow"] * SLOW
    await asyncio.gather(*(answer(kind) for kind in kinds))


if __name__ == "__main__":
    endpoint, llm_url, instance = sys.argv[1:4]
    recorder = Recorder()
    agentvitals.init("tier-test-app", endpoint=endpoint, metric_export_interval=0.5, span_processors=[recorder],
                     resource_attributes={"service.instance.id": instance})
    asyncio.run(main(llm_url))
    agentvitals.shutdown()
    print(json.dumps({"spans": recorder.spans, "tasks": recorder.tasks}))
