"""Scenarios run through init()'s own providers and export processor, in a fresh process (the global tracer
provider can be set once per process; other libraries' tracing follows the global one).

    python own_export.py SCENARIO [FAKE_LLM_URL]

Prints one JSON object: the exported spans (name, ids, parent, attributes) and the task-duration points.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

import agentvitals


def anthropic_native_tracing_on(llm_url: str) -> None:
    import anthropic

    client = anthropic.Anthropic(base_url=llm_url, api_key="sk-ant-test", max_retries=0)  # native tracing on
    with agentvitals.task("ask"):
        client.messages.create(model="claude-opus-4-5", max_tokens=64,
                               messages=[{"role": "user", "content": "hi"}])


def foreign_agent_run(llm_url: str) -> None:
    framework = trace.get_tracer("pydantic-ai")
    chat = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100}
    with framework.start_as_current_span("invoke_agent support", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support"}) as agent:
        with framework.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=chat):
            pass
        with framework.start_as_current_span("execute_tool lookup", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"}):
            pass
        agent.set_status(Status(StatusCode.ERROR))


def main() -> None:
    scenario, llm_url = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "")
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    agentvitals.init("own-export", endpoint=False, span_exporter=exporter, metric_readers=[reader])
    {"anthropic": anthropic_native_tracing_on, "foreign-agent": foreign_agent_run}[scenario](llm_url)
    agentvitals.force_flush()
    data = reader.get_metrics_data()
    durations = [{"attributes": dict(p.attributes), "count": p.count}
                 for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
                 if m.name == "agentvitals.task.duration" for p in m.data.data_points]
    spans: list[dict[str, Any]] = [
        {"name": s.name, "span_id": s.context.span_id, "parent": s.parent.span_id if s.parent else None,
         "attributes": {k: v if not isinstance(v, tuple) else list(v) for k, v in (s.attributes or {}).items()}}
        for s in exporter.get_finished_spans()]
    agentvitals.shutdown()
    print(json.dumps({"spans": spans, "task_durations": durations}))


if __name__ == "__main__":
    main()
