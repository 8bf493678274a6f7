"""Simulated tasks for the A/B variant stack test: a ModelRouter sends a share of the tasks to a candidate model.

    python variant_tasks.py OTLP_HTTP_ENDPOINT TASKS CANDIDATE_SHARE SEED

Each task chooses the "answer" route, makes one LLM call on the chosen model (tokens drawn at random, priced
by the bundled table) and fails now and then (more often on the candidate). Metrics go to the Collector;
prints one JSON object with what the tasks themselves recorded on their spans, per variant: tasks,
successes and summed cost.
"""

from __future__ import annotations

import json
import random
import sys
from collections import defaultdict
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

import agentvitals
from agentvitals.attributes import TASK_COST_AMOUNT, TASK_OUTCOME, TASK_VARIANT
from agentvitals.routing import Choice, Route, Variant

FAILURE_RATE = {"control": 0.05, "candidate": 0.12}


class Recorder(SpanProcessor):
    def __init__(self) -> None:
        self.by_variant: dict[str, dict[str, Any]] = defaultdict(lambda: {"tasks": 0, "successes": 0, "cost": 0.0})

    def on_end(self, span: ReadableSpan) -> None:
        attributes = span.attributes or {}
        if TASK_OUTCOME in attributes:
            variant = self.by_variant[str(attributes[TASK_VARIANT])]
            variant["tasks"] += 1
            variant["successes"] += attributes[TASK_OUTCOME] == "success"
            variant["cost"] += float(attributes[TASK_COST_AMOUNT])  # type: ignore[arg-type]


def main() -> None:
    endpoint, tasks, share, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    recorder = Recorder()
    agentvitals.init("variant-agent", endpoint=endpoint, metric_export_interval=1.0, span_processors=[recorder])
    router = agentvitals.ModelRouter(
        {"answer": Route(normal=Choice("gpt-4o-mini", max_tokens=300),
                         variants=[Variant("candidate", share, normal=Choice("gpt-4.1", max_tokens=300))])},
        name="ab", seed=seed, source=False)
    rng = random.Random(seed + 1)
    for _ in range(tasks):
        with agentvitals.task("support") as task:
            decision = router.choose("answer")
            with agentvitals.llm_call("openai", decision.model) as call:
                call.record(input_tokens=rng.randint(500, 3000), output_tokens=rng.randint(50, 300))
            if rng.random() < FAILURE_RATE[decision.variant or "control"]:
                task.set_outcome("error")
    agentvitals.shutdown(timeout_s=10)
    print(json.dumps(recorder.by_variant))


if __name__ == "__main__":
    main()
