"""The task analysis on constructed span trees: critical path (nested, parallel, sequential), the saving of a
sequential group, each finding at and just above its threshold, errors counted once."""

from __future__ import annotations

import random
import re

import pytest

from agentvitals._explain._analysis import COMPUTE, TaskAnalysis, analyse
from agentvitals._explain._records import SpanRecord
from agentvitals._explain._render import render_waterfall
from agentvitals._explain._thresholds import Thresholds
from agentvitals.attributes import WaitKind

ROOT = 1
MS = 1_000_000


def span(span_id: int, parent: int, start_ms: float, end_ms: float, kind: WaitKind | None = None, *,
         name: str = "", llm: bool = False, tool: bool = False, subject: str | None = None,
         input_tokens: int | None = None, output_tokens: int | None = None, cost: float | None = None,
         args: str | None = None, error: str | None = None, error_class: str = "system", cause: str = "other",
         agent: bool = False, ours: bool = True) -> SpanRecord:
    record = SpanRecord(span_id, parent, name or f"span{span_id}", int(start_ms * MS), int(end_ms * MS))
    record.kind = WaitKind.LLM if llm else WaitKind.TOOL if tool and kind is None else kind
    record.llm, record.tool, record.agent, record.ours = llm, tool, agent, ours
    record.subject = subject or record.name
    record.operation = "chat" if llm else "execute_tool" if tool else ""
    record.input_tokens, record.output_tokens, record.cost_usd = input_tokens, output_tokens, cost
    record.args_hash = args
    if error is not None:
        record.error_type, record.error_class, record.error_cause = error, error_class, cause
    return record


def run(records: list[SpanRecord], end_ms: float, thresholds: Thresholds | None = None, **kwargs: object
        ) -> TaskAnalysis:
    return analyse(ROOT, 0, int(end_ms * MS), records, thresholds or Thresholds(), **kwargs)  # type: ignore[arg-type]


def approx(value: float) -> object:
    return pytest.approx(value, abs=1e-9)


# --- critical path ---------------------------------------------------------------------------------------------
def test_sequential_children_are_all_on_the_path_with_the_gaps_as_own_work() -> None:
    analysis = run([span(2, ROOT, 10, 40, tool=True), span(3, ROOT, 40, 90, llm=True)], 100)
    assert analysis.critical_path == {"tool": approx(0.03), "llm": approx(0.05), COMPUTE: approx(0.02)}
    assert analysis.critical_ids == {2, 3}
    assert analysis.gaps == [(0, 10 * MS), (90 * MS, 100 * MS)]


def test_of_parallel_children_only_the_last_to_finish_is_on_the_path() -> None:
    analysis = run([span(2, ROOT, 0, 80, tool=True), span(3, ROOT, 0, 50, WaitKind.DB),
                    span(4, ROOT, 10, 70, WaitKind.HTTP)], 100)
    assert analysis.critical_path == {"tool": approx(0.08), COMPUTE: approx(0.02)}
    assert analysis.critical_ids == {2}


def test_nested_spans_take_the_kind_of_the_outermost_call_they_are_in() -> None:
    records = [
        span(2, ROOT, 0, 90, name="step"),  # the task's own work, in a span
        span(3, 2, 10, 60, llm=True),
        span(4, 3, 15, 55, WaitKind.HTTP),  # the SDK's HTTP request: part of the LLM call
        span(5, 2, 60, 85, tool=True),
        span(6, 5, 62, 80, WaitKind.HTTP),
    ]
    analysis = run(records, 100)
    assert analysis.critical_path == {COMPUTE: approx(0.025), "llm": approx(0.05), "tool": approx(0.025)}
    assert analysis.critical_ids == {2, 3, 4, 5, 6}


def test_a_child_overlapping_the_next_step_is_clipped_not_counted_twice() -> None:
    # B runs 30-70 and C 60-100: C is the last step; B is on the path until C starts.
    analysis = run([span(2, ROOT, 0, 30, tool=True), span(3, ROOT, 30, 70, WaitKind.DB),
                    span(4, ROOT, 60, 100, llm=True)], 100)
    assert analysis.critical_path == {"tool": approx(0.03), "db": approx(0.03), "llm": approx(0.04)}


@pytest.mark.parametrize("seed", range(20))
def test_the_critical_path_always_sums_to_the_wall_time(seed: int) -> None:
    rng = random.Random(seed)
    records: list[SpanRecord] = []
    kinds = [None, WaitKind.LLM, WaitKind.TOOL, WaitKind.DB, WaitKind.HTTP]
    for span_id in range(2, 60):
        parent = rng.choice([ROOT] + [r.span_id for r in records])
        lo, hi = (0, 1000) if parent == ROOT else next(
            (r.start_ns // MS, r.end_ns // MS) for r in records if r.span_id == parent)
        start = rng.uniform(lo - 5, hi)  # sometimes before the parent: clipped
        records.append(span(span_id, parent, start, min(hi + 10, start + rng.uniform(0, 300)), rng.choice(kinds)))
    analysis = run(records, 1000)
    assert sum(analysis.critical_path.values()) == pytest.approx(1.0, abs=1e-6)


# --- parallelizable sequences ---------------------------------------------------------------------------------------
def test_sequential_independent_calls_save_all_but_the_longest() -> None:
    records = [span(2, ROOT, 0, 20, llm=True),
               span(3, ROOT, 20, 70, tool=True, subject="a"), span(4, ROOT, 70, 150, tool=True, subject="b"),
               span(5, ROOT, 150, 270, tool=True, subject="c"), span(6, ROOT, 270, 300, llm=True)]
    analysis = run(records, 300)
    [group] = analysis.groups
    assert [m.span_id for m in group.members] == [3, 4, 5]
    assert analysis.parallelizable_s == approx(0.25)
    assert analysis.saveable_s == approx(0.25 - 0.12)
    [finding] = [f for f in analysis.findings if f.kind == "parallelizable"]
    assert finding.subject == "a, b, c" and finding.value == approx(0.13)


def test_calls_made_concurrently_are_not_a_sequence() -> None:
    analysis = run([span(2, ROOT, 0, 50, tool=True), span(3, ROOT, 1, 80, tool=True),
                    span(4, ROOT, 2, 120, WaitKind.HTTP)], 130)
    assert analysis.groups == [] and analysis.saveable_s == 0


def test_an_llm_call_finishing_between_two_calls_breaks_the_sequence() -> None:
    # The model's answer (ending at 110) may have shaped the second call.
    analysis = run([span(2, ROOT, 0, 100, tool=True), span(3, ROOT, 60, 110, llm=True),
                    span(4, ROOT, 120, 300, tool=True)], 300)
    assert analysis.groups == []


def test_an_llm_call_inside_a_tool_does_not_break_the_sequence() -> None:
    analysis = run([span(2, ROOT, 0, 150, WaitKind.RETRIEVAL), span(3, 2, 0, 40, llm=True),
                    span(4, ROOT, 150, 300, tool=True)], 300)
    assert [[m.span_id for m in g.members] for g in analysis.groups] == [[2, 4]]


def test_calls_inside_an_external_call_are_its_business() -> None:
    analysis = run([span(2, ROOT, 0, 300, tool=True), span(3, 2, 0, 150, WaitKind.HTTP),
                    span(4, 2, 150, 300, WaitKind.HTTP)], 300)
    assert analysis.groups == []


# --- findings, each at its threshold (quiet) and just above it (fires) --------------------------------------------
def kinds(analysis: TaskAnalysis) -> list[str]:
    return [f.kind for f in analysis.findings]


@pytest.mark.parametrize(("above", "fires"), [(False, False), (True, True)])
def test_slow_llm(above: bool, fires: bool) -> None:
    duration = 3000 + (10 if above else 0)
    analysis = run([span(2, ROOT, 0, 1000, llm=True, subject="big"),
                    span(3, ROOT, 1000, 1000 + 2 * duration - 1000, llm=True, subject="big")], 6000)
    assert ("slow_llm" in kinds(analysis)) is fires
    if fires:
        assert analysis.findings[0].subject == "big" and analysis.findings[0].value == approx(duration / 1000)


@pytest.mark.parametrize(("duration_ms", "fires"), [(1000, False), (1001, True)])
def test_slow_tool(duration_ms: float, fires: bool) -> None:
    analysis = run([span(2, ROOT, 0, duration_ms, tool=True, subject="search")], 2000)
    assert ("slow_tool" in kinds(analysis)) is fires


@pytest.mark.parametrize(("count", "fires"), [(20, False), (21, True)])
def test_many_calls_of_one_kind(count: int, fires: bool) -> None:
    llm = [span(10 + i, ROOT, 2 * i, 2 * i + 1, llm=True) for i in range(count)]
    db = [span(100 + i, ROOT, 2 * i + 1, 2 * i + 2, WaitKind.DB) for i in range(count)]
    analysis = run(llm + db, 100)
    found = {f.subject for f in analysis.findings if f.kind == "many_calls"}
    assert found == ({"llm", "db"} if fires else set())


@pytest.mark.parametrize(("cost", "fires"), [(0.05, False), (0.0501, True)])
def test_expensive_call(cost: float, fires: bool) -> None:
    analysis = run([span(2, ROOT, 0, 10, llm=True, subject="gpt", cost=0.001),
                    span(3, ROOT, 10, 20, llm=True, subject="gpt", cost=cost)], 30)
    assert ("expensive_call" in kinds(analysis)) is fires


@pytest.mark.parametrize(("input_tokens", "output_tokens", "fires"), [
    (800, 200, False),  # exactly 80% input
    (801, 199, True),
    (81, 19, False),  # above 80%, but 100 tokens are not worth summarising
])
def test_prompt_heavy(input_tokens: int, output_tokens: int, fires: bool) -> None:
    analysis = run([span(2, ROOT, 0, 10, llm=True, subject="gpt", input_tokens=input_tokens,
                         output_tokens=output_tokens)], 20)
    assert ("prompt_heavy" in kinds(analysis)) is fires


@pytest.mark.parametrize(("second_ms", "fires"), [(100, False), (101, True)])
def test_parallelizable_saving_at_its_threshold(second_ms: float, fires: bool) -> None:
    analysis = run([span(2, ROOT, 0, 200, tool=True), span(3, ROOT, 200, 200 + second_ms, tool=True)], 400)
    assert ("parallelizable" in kinds(analysis)) is fires
    assert bool(analysis.groups) is fires


@pytest.mark.parametrize(("first_failed", "calls", "fires"), [(False, 1, False), (False, 2, True), (True, 2, False)])
def test_repeated_identical_tool_call(first_failed: bool, calls: int, fires: bool) -> None:
    records = [span(2, ROOT, 0, 10, tool=True, subject="eta", args="h1",
                    error="TimeoutError" if first_failed else None)]
    records += [span(3 + i, ROOT, 20 + 10 * i, 25 + 10 * i, tool=True, subject="eta", args="h1")
                for i in range(calls - 1)]
    records.append(span(99, ROOT, 90, 95, tool=True, subject="eta", args="other-arguments"))
    analysis = run(records, 100)
    repeated = [f for f in analysis.findings if f.kind == "repeated_tool_call"]
    assert bool(repeated) is fires
    if fires:
        assert repeated[0].subject == "eta" and repeated[0].value == 2


def test_thresholds_are_configurable() -> None:
    records = [span(2, ROOT, 0, 500, tool=True, subject="search")]
    assert "slow_tool" not in kinds(run(records, 600))
    assert "slow_tool" in kinds(run(records, 600, Thresholds(slow_tool_s=0.4)))


def test_findings_list_what_saves_the_most_time_first() -> None:
    records = [span(2, ROOT, 0, 1500, tool=True, subject="slow"), span(3, ROOT, 1500, 3000, tool=True, subject="b")]
    assert kinds(run(records, 3000)) == ["parallelizable", "slow_tool", "slow_tool"]


# --- errors -------------------------------------------------------------------------------------------------------
def test_an_error_propagating_through_spans_is_counted_once_where_it_surfaced() -> None:
    records = [span(2, ROOT, 0, 50, name="step", error="TimeoutError"),
               span(3, 2, 0, 40, tool=True, error="TimeoutError", cause="timeout")]
    analysis = run(records, 60)
    assert [(e.source, e.cause) for e in analysis.errors] == [("tool", "timeout")]


def test_nested_spans_of_one_model_call_count_its_failure_once() -> None:
    # A framework's chat span around the SDK's: the framework re-raises under its own type.
    records = [span(2, ROOT, 0, 50, llm=True, error="ModelHTTPError", ours=False),
               span(3, 2, 1, 49, llm=True, error="APIConnectionError", cause="connection")]
    analysis = run(records, 60)
    assert [(e.source, e.error_type, e.cause) for e in analysis.errors] == [("llm", "APIConnectionError",
                                                                             "connection")]


def test_a_new_error_in_a_task_after_a_handled_one_counts_too() -> None:
    records = [span(2, ROOT, 0, 10, tool=True, error="TimeoutError", cause="timeout"),
               span(3, ROOT, 20, 30, agent=True, error="JSONDecodeError", error_class="cognitive",
                    cause="output_parse")]
    analysis = run(records, 40, reported=["tool_not_found"])
    assert analysis.error_counts() == {"cognitive": 2, "system": 1}



# --- the waterfall ------------------------------------------------------------------------------------------------
ROW = re.compile(r"^([* ]) +([0-9.]+)s +([0-9.]+)s  (\S+) +(.+?) +\|(.{40})\|$")


def test_the_waterfall_marks_the_critical_path_and_shows_the_tasks_own_work_gaps() -> None:
    records = [span(2, ROOT, 0, 200, llm=True, name="chat big"),
               span(3, ROOT, 400, 600, tool=True, name="execute_tool fast"),
               span(4, ROOT, 400, 900, tool=True, name="execute_tool slow", error="TimeoutError", cause="timeout")]
    lines = render_waterfall(run(records, 1000), "trip")
    rows = [ROW.match(line) for line in lines[1:]]
    assert all(rows), lines
    assert [m.group(1, 2, 3, 4, 5) for m in rows if m] == [
        ("*", "0.000", "1.000", "task", "trip"),
        ("*", "0.000", "0.200", "llm", "chat big"),  # on the path: it alone ran from 0 to 200 ms
        (" ", "0.200", "0.200", "gap", "(own work: no span)"),  # the task's own work before the tools
        (" ", "0.400", "0.200", "tool", "execute_tool fast"),  # ran alongside the slow one: off the path
        ("*", "0.400", "0.500", "tool", "execute_tool slow  ✗ timeout"),
        (" ", "0.900", "0.100", "gap", "(own work: no span)"),
    ]
    # 40 columns for 1 s: each bar at its offset, solid on the path, shaded off it, dotted for own work.
    assert [m.group(6) for m in rows if m][1:] == [
        "█" * 8 + " " * 32, " " * 8 + "·" * 8 + " " * 24, " " * 16 + "░" * 8 + " " * 16,
        " " * 16 + "█" * 20 + " " * 4, " " * 36 + "·" * 4]
