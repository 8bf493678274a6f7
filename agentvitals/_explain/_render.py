"""One task as text: an ASCII waterfall (critical-path spans marked, the task's own-work gaps visible), its time
split and critical path, its token and cost profile by operation and model, its budget use, its errors and its
findings with suggestions. Used by ``agentvitals explain`` and the demo's report."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from agentvitals._explain._analysis import COMPUTE, Finding, TaskAnalysis, clip
from agentvitals._explain._records import SpanRecord
from agentvitals.attributes import (
    BUDGET_MAX_COST,
    BUDGET_MAX_LLM_CALLS,
    BUDGET_MAX_TOOL_CALLS,
    BUDGET_MAX_WALL_TIME,
    ERROR_CAUSE,
    ERROR_CLASS,
    TASK_COST_AMOUNT,
    TASK_LLM_CALLS,
    TASK_OUTCOME,
    TASK_TOOL_CALLS,
)
from agentvitals.semconv import ERROR_TYPE

__all__ = ["render_findings", "render_task", "render_waterfall"]

_BAR = 40
_NAME = 40


def _s(seconds: float) -> str:
    return f"{seconds:.3f}s" if seconds < 10 else f"{seconds:.1f}s"


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole > 0 else "-"


def _bar(start_ns: int, end_ns: int, t0: int, wall_ns: int, fill: str) -> str:
    if wall_ns <= 0:
        return " " * _BAR
    first = min(_BAR - 1, max(0, int((start_ns - t0) * _BAR / wall_ns)))
    last = min(_BAR, max(first + 1, math.ceil((end_ns - t0) * _BAR / wall_ns)))
    return " " * first + fill * (last - first) + " " * (_BAR - last)


def _kind(record: SpanRecord) -> str:
    if record.llm:
        return "llm"
    if record.tool:
        return "tool"
    if record.agent:
        return "task"
    return record.kind.value if record.kind is not None else "work"


def _row(mark: str, offset_s: float, duration_s: float, kind: str, name: str, bar: str) -> str:
    return f"{mark} {offset_s:8.3f}s {duration_s:8.3f}s  {kind:<9} {clip(name, _NAME):<{_NAME}} |{bar}|"


def render_waterfall(analysis: TaskAnalysis, title: str, *, max_rows: int = 60) -> list[str]:
    """The waterfall: one row per span (tree order, indented by depth), gaps of the task's own work between the
    top-level spans, ``*`` on critical-path spans (their bars solid, the others shaded)."""
    t0, wall_ns = analysis.start_ns, analysis.end_ns - analysis.start_ns
    lines = [f"  {'offset':>9} {'duration':>9}  {'kind':<9} {'span':<{_NAME}} |{'timeline':^{_BAR}}|",
             _row("*", 0.0, wall_ns / 1e9, "task", title, _bar(t0, analysis.end_ns, t0, wall_ns, "█"))]
    min_gap = max(1_000_000, wall_ns // 100)  # gaps under 1 ms or 1% of the wall time are noise
    gaps = [(lo, hi) for lo, hi in analysis.gaps if hi - lo >= min_gap]
    rows: list[str] = []
    for record in analysis.records:
        depth = analysis.depth.get(record.span_id, 1)
        while depth == 1 and gaps and gaps[0][0] <= record.start_ns:
            lo, hi = gaps.pop(0)
            rows.append(_row(" ", (lo - t0) / 1e9, (hi - lo) / 1e9, "gap", "  (own work: no span)",
                             _bar(lo, hi, t0, wall_ns, "·")))
        critical = record.span_id in analysis.critical_ids
        name = "  " * depth + record.name + (f"  ✗ {record.error_cause or record.error_type}"
                                             if record.error_type else "")
        rows.append(_row("*" if critical else " ", (record.start_ns - t0) / 1e9, record.duration_s, _kind(record),
                         name, _bar(record.start_ns, record.end_ns, t0, wall_ns, "█" if critical else "░")))
    for lo, hi in gaps:
        rows.append(_row(" ", (lo - t0) / 1e9, (hi - lo) / 1e9, "gap", "  (own work: no span)",
                         _bar(lo, hi, t0, wall_ns, "·")))
    if len(rows) > max_rows:
        hidden = len(rows) - max_rows
        rows = rows[:max_rows] + [f"  … {hidden} more rows (--max-rows to show them)"]
    lines.extend(rows)
    if analysis.truncated:
        lines.append("  (the task had more spans than its summary keeps: the analysis covers the first ones)")
    return lines


def _finding_line(finding: Finding) -> str:
    kind, value, threshold = finding.kind, finding.value, finding.threshold
    if kind in ("slow_llm", "slow_tool"):
        measured = f"{_s(value)} per call on average (> {_s(threshold)})"
    elif kind == "parallelizable":
        measured = f"saves {_s(value)} (> {_s(threshold)})"
    elif kind in ("many_calls", "repeated_tool_call"):
        measured = f"{value:g} calls (> {threshold:g})"
    elif kind == "expensive_call":
        measured = f"${value:.4f} for one call (> ${threshold:g})"
    else:
        measured = f"{100 * value:.0f}% of its tokens are input (> {100 * threshold:.0f}%)"
    return f"{kind:<18} {finding.subject}: {measured}"


def render_findings(findings: list[Finding], *, limit: int = 10) -> list[str]:
    if not findings:
        return ["  none above their thresholds"]
    lines = []
    for index, finding in enumerate(findings[:limit], 1):
        lines.append(f"  {index}. {_finding_line(finding)}")
        lines.append(f"     → {finding.suggestion}")
    if len(findings) > limit:
        lines.append(f"  … and {len(findings) - limit} more")
    return lines


def _profile(analysis: TaskAnalysis) -> list[str]:
    rows: dict[tuple[str, str], list[float]] = {}
    for call in analysis.llm_calls:
        row = rows.setdefault((call.operation, call.subject), [0, 0, 0, 0.0, 0.0, 0])
        row[0] += 1
        row[1] += call.input_tokens or 0
        row[2] += call.output_tokens or 0
        if call.cost_usd is None:
            row[5] += 1
        row[3] += call.cost_usd or 0.0
        row[4] += call.duration_s
    if not rows:
        return ["  no model calls"]
    lines = [f"  {'operation':<12} {'model':<22} {'calls':>5} {'input':>8} {'output':>7} {'cost':>10} {'time':>9}"]
    totals = [0.0] * 6
    for (operation, model), row in sorted(rows.items(), key=lambda item: -item[1][3]):
        cost = f"${row[3]:.5f}" + ("*" if row[5] else "")
        lines.append(f"  {operation:<12} {clip(model, 22):<22} {row[0]:>5.0f} {row[1]:>8.0f} {row[2]:>7.0f} "
                     f"{cost:>10} {_s(row[4]):>9}")
        totals = [a + b for a, b in zip(totals, row, strict=True)]
    lines.append(f"  {'total':<12} {'':<22} {totals[0]:>5.0f} {totals[1]:>8.0f} {totals[2]:>7.0f} "
                 f"{'$' + format(totals[3], '.5f'):>10} {_s(totals[4]):>9}")
    if totals[5]:
        lines.append("  * some calls of this model have no price: their cost is unknown, not zero")
    return lines


def _budget(attributes: Mapping[str, Any], analysis: TaskAnalysis) -> str:
    parts = []
    limits = ((BUDGET_MAX_COST, "cost", attributes.get(TASK_COST_AMOUNT, analysis.cost_usd), "${:.4f}"),
              (BUDGET_MAX_LLM_CALLS, "llm calls", attributes.get(TASK_LLM_CALLS, len(analysis.llm_calls)), "{:g}"),
              (BUDGET_MAX_TOOL_CALLS, "tool calls", attributes.get(TASK_TOOL_CALLS, len(analysis.tool_calls)),
               "{:g}"),
              (BUDGET_MAX_WALL_TIME, "wall time", analysis.wall_s, "{:.2f}s"))
    for key, label, used, fmt in limits:
        maximum = attributes.get(key)
        if isinstance(maximum, (int, float)) and isinstance(used, (int, float)):
            parts.append(f"{label} {fmt.format(used)} of {fmt.format(maximum)} ({_pct(used, maximum)})")
    return "   ".join(parts) if parts else "none set"


def render_task(analysis: TaskAnalysis, *, title: str, attributes: Mapping[str, Any], header: str = "",
                max_rows: int = 60) -> str:
    """The whole explanation of one task."""
    wall = analysis.wall_s
    split = analysis.split
    outcome = attributes.get(TASK_OUTCOME, "?")
    lines = [f"{header}task {title}   wall {_s(wall)}   outcome {outcome}   cost ${analysis.cost_usd:.5f}"
             f"   spans {len(analysis.records)}"]
    error_type = attributes.get(ERROR_TYPE)
    if error_type is not None:
        lines.append(f"  ended with {error_type} ({attributes.get(ERROR_CLASS, '?')}: "
                     f"{attributes.get(ERROR_CAUSE, '?')})")
    lines.append("")
    lines.extend(render_waterfall(analysis, title, max_rows=max_rows))
    lines.append("  * critical path (█ on it, ░ off it, · the task's own work)")
    lines.append("")
    idle_kinds = ", ".join(f"{kind.value} {_s(seconds)}" for kind, seconds in
                           sorted(split.idle_by_kind.items(), key=lambda item: -item[1]) if seconds >= 0.0005)
    parallelism = f"{split.child / split.idle:.2f}x" if split.idle > 0 else "-"
    lines.append(f"time split     active {_s(split.active)} ({_pct(split.active, wall)})   idle {_s(split.idle)} "
                 f"({_pct(split.idle, wall)}){': ' + idle_kinds if idle_kinds else ''}   parallelism {parallelism}")
    path = sorted(analysis.critical_path.items(), key=lambda item: (item[0] == COMPUTE, -item[1]))
    lines.append("critical path  " + "   ".join(f"{kind} {_s(seconds)} ({_pct(seconds, wall)})"
                                                for kind, seconds in path if seconds >= 0.0005))
    if analysis.groups:
        lines.append(f"parallelizable {_s(analysis.parallelizable_s)} in {len(analysis.groups)} sequence(s) of "
                     f"independent calls; run concurrently: saves {_s(analysis.saveable_s)} "
                     f"({_pct(analysis.saveable_s, wall)} of the wall time)")
    lines.append("")
    lines.append("tokens and cost by operation and model")
    lines.extend(_profile(analysis))
    lines.append("")
    lines.append(f"budget         {_budget(attributes, analysis)}")
    counted = analysis.error_counts()
    causes = ", ".join(sorted({f"{e.error_class}/{e.cause} at {e.source}" for e in analysis.errors}))
    lines.append(f"errors         {counted['cognitive']} cognitive, {counted['system']} system"
                 + (f": {causes}" if causes else ""))
    lines.append("")
    lines.append("findings")
    lines.extend(render_findings(analysis.findings))
    return "\n".join(lines)
