"""Explain in-process: each task's analysis on its span and in metrics, at task end, from its spans only; errors
counted once by class and cause; thresholds from init(); the local OTLP JSON trace file, read back to the same
analysis."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from opentelemetry.trace import SpanKind, Status, StatusCode

import agentvitals
from agentvitals._explain import _summary
from agentvitals._explain._otlp import explain_root, spans_of, task_roots
from agentvitals._explain._thresholds import Thresholds
from agentvitals.attributes import (
    CRITICAL_PATH_KIND,
    ERROR_CAUSE,
    ERROR_CLASS,
    ERROR_SOURCE,
    FINDING_KIND,
    TASK_FINDINGS,
    TASK_FINDINGS_COUNT,
    TASK_OUTCOME,
    TASK_PARALLELIZABLE_TIME,
    TASK_SAVEABLE_TIME,
    TASK_SPANS_TRUNCATED,
    TASK_WALL_TIME,
    task_critical_path_time,
)
from agentvitals.metrics import ERRORS, TASK_CRITICAL_PATH, TASK_SAVEABLE
from agentvitals.metrics import TASK_FINDINGS as FINDINGS_METRIC
from agentvitals.semconv import ERROR_TYPE, GEN_AI_OPERATION_NAME, GEN_AI_TOOL_NAME
from tests.conftest import Telemetry, make_telemetry


def sequential_tools(*durations: float) -> None:
    for index, duration in enumerate(durations):
        with agentvitals.tool(f"lookup{index}", arguments={"n": index}):
            time.sleep(duration)


def durations_of(telemetry: Telemetry, prefix: str) -> list[float]:
    return [(s.end_time - s.start_time) / 1e9 for s in telemetry.spans(prefix)]


def errors(telemetry: Telemetry) -> dict[tuple[str, str, str], float]:
    return {(p.attributes[ERROR_CLASS], p.attributes[ERROR_CAUSE], p.attributes[ERROR_SOURCE]): p.value
            for p in telemetry.points(ERRORS.name)}


def test_a_task_span_carries_its_critical_path_parallelizable_time_and_findings(telemetry: Telemetry) -> None:
    with agentvitals.task("lookup"):
        sequential_tools(0.05, 0.08, 0.11)
    task = telemetry.span("invoke_agent lookup").attributes
    tools = durations_of(telemetry, "execute_tool")
    assert task[task_critical_path_time("tool")] + task[task_critical_path_time("compute")] == pytest.approx(
        task[TASK_WALL_TIME], abs=1e-6)
    assert task[task_critical_path_time("tool")] == pytest.approx(sum(tools), abs=1e-6)
    assert task[TASK_PARALLELIZABLE_TIME] == pytest.approx(sum(tools), abs=1e-6)
    assert task[TASK_SAVEABLE_TIME] == pytest.approx(sum(tools) - max(tools), abs=1e-6)
    [finding] = json.loads(task[TASK_FINDINGS])
    assert finding["kind"] == "parallelizable" and finding["subject"] == "lookup0, lookup1, lookup2"
    assert finding["value"] == pytest.approx(sum(tools) - max(tools), abs=1e-5) and finding["threshold"] == 0.1
    assert task[TASK_FINDINGS_COUNT] == 1

    by_kind = {p.attributes[CRITICAL_PATH_KIND]: p.value for p in telemetry.points(TASK_CRITICAL_PATH.name)}
    assert sum(by_kind.values()) == pytest.approx(task[TASK_WALL_TIME], abs=1e-6)
    assert telemetry.total(TASK_SAVEABLE.name) == pytest.approx(task[TASK_SAVEABLE_TIME])
    assert {p.attributes[FINDING_KIND]: p.value for p in telemetry.points(FINDINGS_METRIC.name)} == {
        "parallelizable": 1}


def test_spans_outside_tasks_cost_the_analysis_nothing(telemetry: Telemetry) -> None:
    sequential_tools(0.0, 0.0, 0.0)  # no task: nothing kept, nothing analysed
    with agentvitals.task("one") as task:
        with agentvitals.tool("only"):
            pass
        run = task.run
        assert run is not None and run.spans is not None
        assert [r.name for r in run.spans.records] == ["execute_tool only"]
    assert run.spans is None  # analysed, and let go
    assert telemetry.points(FINDINGS_METRIC.name) == []
    assert TASK_FINDINGS_COUNT in telemetry.span("invoke_agent one").attributes


def test_a_task_with_more_spans_than_its_summary_keeps_is_marked_truncated(
        telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_summary, "MAX_SPANS", 3)
    with agentvitals.task("big") as task:
        sequential_tools(0, 0, 0, 0, 0)
        assert task.run is not None and task.run.spans is not None and len(task.run.spans.records) == 3
    assert telemetry.span("invoke_agent big").attributes[TASK_SPANS_TRUNCATED] is True


def test_nested_tasks_each_get_their_analysis_and_the_parent_sees_the_child_task(telemetry: Telemetry) -> None:
    with agentvitals.task("outer"):
        with agentvitals.task("inner"):
            sequential_tools(0.12, 0.12)
        with agentvitals.tool("after"):
            time.sleep(0.06)
    inner = telemetry.span("invoke_agent inner").attributes
    outer = telemetry.span("invoke_agent outer").attributes
    assert inner[TASK_SAVEABLE_TIME] > 0.1
    assert outer[task_critical_path_time("tool")] == pytest.approx(sum(durations_of(telemetry, "execute_tool")),
                                                                   abs=1e-6)


# --- errors, once each --------------------------------------------------------------------------------------------
def test_an_error_propagating_from_a_tool_out_of_its_task_is_counted_once(telemetry: Telemetry) -> None:
    with pytest.raises(TimeoutError):
        with agentvitals.task("fails"):
            with agentvitals.tool("slow"):
                raise TimeoutError("tool timed out")
    task = telemetry.span("invoke_agent fails").attributes
    tool = telemetry.span("execute_tool slow").attributes
    assert task[TASK_OUTCOME] == "timeout"
    for attributes in (task, tool):
        assert (attributes[ERROR_TYPE], attributes[ERROR_CLASS], attributes[ERROR_CAUSE]) == (
            "TimeoutError", "system", "timeout")
    assert errors(telemetry) == {("system", "timeout", "tool"): 1}


def test_a_json_decode_error_in_a_task_is_a_cognitive_output_parse_error(telemetry: Telemetry) -> None:
    with pytest.raises(json.JSONDecodeError):
        with agentvitals.task("parse"):
            json.loads("Sure! Here is the plan")
    task = telemetry.span("invoke_agent parse").attributes
    assert (task[TASK_OUTCOME], task[ERROR_CLASS], task[ERROR_CAUSE]) == ("error", "cognitive", "output_parse")
    assert errors(telemetry) == {("cognitive", "output_parse", "task"): 1}


def test_a_loop_its_budget_cuts_off_is_a_cognitive_loop_error(telemetry: Telemetry) -> None:
    with agentvitals.task("poll", budget=agentvitals.Budget(max_tool_calls=4)):
        while True:  # the same call, the same answer, until the budget says stop
            with agentvitals.tool("shipping_eta", arguments={"order_id": 7}):
                pass
    task = telemetry.span("invoke_agent poll").attributes
    assert task[TASK_OUTCOME] == "budget_exhausted"
    assert (task[ERROR_TYPE], task[ERROR_CLASS], task[ERROR_CAUSE]) == ("BudgetExhausted", "cognitive",
                                                                        "loop_detected")
    assert [f["kind"] for f in json.loads(task[TASK_FINDINGS])] == ["repeated_tool_call"]
    assert errors(telemetry) == {("cognitive", "loop_detected", "task"): 1}


def test_a_step_limit_without_repeats_is_a_step_limit(telemetry: Telemetry) -> None:
    with agentvitals.task("explore", budget=agentvitals.Budget(max_tool_calls=3)):
        for page in range(10):
            with agentvitals.tool("search", arguments={"page": page}):
                pass
    task = telemetry.span("invoke_agent explore").attributes
    assert (task[ERROR_CLASS], task[ERROR_CAUSE]) == ("cognitive", "step_limit")
    assert errors(telemetry) == {("cognitive", "step_limit", "task"): 1}


def test_another_instrumentations_failed_tool_is_counted_and_classified_at_export(tmp_path: Path) -> None:
    # Exported through an export processor of ours (here the trace file's): the class joins the ended span there.
    path = tmp_path / "traces.jsonl"
    telemetry = make_telemetry(trace_file=str(path))
    try:
        framework = telemetry.tracer_provider.get_tracer("pydantic-ai")
        with agentvitals.task("foreign"):
            with framework.start_as_current_span("execute_tool search", kind=SpanKind.INTERNAL, attributes={
                    GEN_AI_OPERATION_NAME: "execute_tool", GEN_AI_TOOL_NAME: "search"}) as span:
                span.set_attribute(ERROR_TYPE, "httpx.ReadTimeout")
                span.set_status(Status(StatusCode.ERROR))
        agentvitals.force_flush()
        assert errors(telemetry) == {("system", "timeout", "tool"): 1}
    finally:
        agentvitals.shutdown()
    [tool] = [s for line in path.read_text().splitlines() for s in spans_of(json.loads(line))
              if s.name == "execute_tool search"]
    assert (tool.attributes[ERROR_CLASS], tool.attributes[ERROR_CAUSE]) == ("system", "timeout")


# --- configuration ------------------------------------------------------------------------------------------------
def test_thresholds_come_from_init_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTVITALS_FINDING_SLOW_TOOL_SECONDS", "0.01")
    telemetry = make_telemetry(finding_thresholds={"parallel_min_saving_s": 10})
    try:
        with agentvitals.task("configured"):
            sequential_tools(0.02, 0.02)
        kinds = {f["kind"] for f in json.loads(telemetry.span("invoke_agent configured").attributes[TASK_FINDINGS])}
        assert kinds == {"slow_tool"}  # slow at 0.01 s (environment); no sequence saves 10 s (argument)
    finally:
        agentvitals.shutdown()


def test_bad_thresholds_are_a_config_error() -> None:
    with pytest.raises(agentvitals.ConfigError, match="slow_llm_s must be a positive number.*unknown threshold 'fast'"):
        agentvitals.init("x", endpoint=False, finding_thresholds={"slow_llm_s": 0, "fast": 1})


# --- the local trace file ------------------------------------------------------------------------------------------
def test_the_trace_file_is_otlp_json_lines_read_back_to_the_same_analysis(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    telemetry = make_telemetry(trace_file=str(path))
    exporter = telemetry.exporter
    try:
        with agentvitals.task("filed", budget=agentvitals.Budget(max_tool_calls=9)):
            sequential_tools(0.03, 0.12, 0.04)
            agentvitals.cognitive_error("tool_not_found")
        agentvitals.force_flush()
    finally:
        agentvitals.shutdown()
    lines = path.read_text().splitlines()
    requests = [json.loads(line) for line in lines]
    assert requests and all("resourceSpans" in r for r in requests)
    spans = [s for r in requests for s in spans_of(r)]
    exported = {s.context.span_id: s for s in exporter.get_finished_spans()}
    assert {s.span_id for s in spans} == set(exported)
    raw = requests[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(raw["traceId"]) == 32 and len(raw["spanId"]) == 16 and isinstance(raw["kind"], int)

    [root] = task_roots(spans)
    offline = explain_root(root, spans, Thresholds(), None).analysis
    task = root.span.attributes  # what the analysis at task end put on the span
    assert task[TASK_SAVEABLE_TIME] == pytest.approx(offline.saveable_s, abs=1e-9)
    assert json.loads(task[TASK_FINDINGS]) == [f.as_dict() for f in offline.findings]
    for kind, seconds in offline.critical_path.items():
        assert task[task_critical_path_time(kind)] == pytest.approx(seconds, abs=1e-9)
    assert offline.error_counts() == {"cognitive": 1, "system": 0}


def test_a_trace_file_in_a_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(agentvitals.ConfigError, match="does not exist"):
        agentvitals.init("x", endpoint=False, trace_file=str(tmp_path / "nope" / "t.jsonl"))
