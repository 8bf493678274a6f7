"""The analysis of one task from its spans: critical path, parallelizable sequences, findings, errors, profile.

Pure and O(n log n) in the task's spans (a sort of each span's children by end time; every other step is one
pass). The same code runs in-process at task end and in ``agentvitals explain``.

* **Critical path**: walking back from the task's end, the child that finished last is on the path, then, from
  where it started, the child that finished last before that, and so on, recursively inside each child; time
  no child covers is the span's own. Its time by kind (the kind of the outermost external call a stretch is in,
  or ``compute`` for the task's own work) sums to the task's wall time.
* **Parallelizable sequences**: sibling external calls (not LLM calls) made one after another, where no LLM call
  finished between the first one's start and the next one's start (so no model output could have made the next
  call depend on the previous). Run concurrently they would take as long as their longest member: that is the
  saving.
* **Findings**: slow LLM, slow tool, many calls of one kind, expensive call, prompt-heavy, parallelizable
  sequence, repeated identical tool call; each with its subject, measured value, threshold and a suggestion.
* **Errors**: each error once, where it first surfaced (:func:`agentvitals._errors.counts`), plus the cognitive
  errors the application reported.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from agentvitals._errors import counts
from agentvitals._explain._records import SpanRecord
from agentvitals._explain._thresholds import Thresholds
from agentvitals._timesplit import TimeSplit, split_time
from agentvitals.attributes import WaitKind

__all__ = ["COMPUTE", "Call", "CountedError", "Finding", "ParallelGroup", "TaskAnalysis", "analyse", "clip"]

COMPUTE = "compute"
"""The critical-path kind of the task's own work (time no external call covers)."""

# The order findings are listed in: what saves the most wall time or stops waste first.
FINDING_KINDS = ("parallelizable", "repeated_tool_call", "slow_llm", "slow_tool", "many_calls", "expensive_call",
                 "prompt_heavy")


@dataclass(frozen=True)
class Finding:
    kind: str
    subject: str
    value: float
    threshold: float
    suggestion: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "subject": self.subject, "value": round(self.value, 6),
                "threshold": round(self.threshold, 6), "suggestion": self.suggestion}


class ParallelGroup:
    """Sibling external calls made one after another that could have run concurrently."""

    __slots__ = ("members", "total_s", "longest_s", "saving_s")

    def __init__(self, members: tuple[SpanRecord, ...]) -> None:
        self.members = members
        durations = [m.end_ns - m.start_ns for m in members]  # in ns: exact at the threshold
        self.total_s = sum(durations) / 1e9
        self.longest_s = max(durations) / 1e9
        self.saving_s = (sum(durations) - max(durations)) / 1e9

    @property
    def subject(self) -> str:
        return _join(m.subject for m in self.members)


@dataclass(frozen=True)
class Call:
    """One model call (all spans tracing it) or one tool call."""

    record: SpanRecord
    """Its outermost span."""
    subject: str
    operation: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    args_hash: str | None = None

    @property
    def duration_s(self) -> float:
        return self.record.duration_s

    @property
    def failed(self) -> bool:
        return self.record.error_type is not None


@dataclass(frozen=True)
class CountedError:
    source: str
    error_type: str
    error_class: str
    cause: str
    record: SpanRecord | None = None


@dataclass
class TaskAnalysis:
    start_ns: int
    end_ns: int
    waits: list[SpanRecord]
    """The task's outermost external calls (its waits)."""
    critical_path: dict[str, float]
    """Seconds on the critical path by kind (wait kinds and ``compute``); sums to the wall time."""
    critical_ids: frozenset[int]
    groups: list[ParallelGroup]
    findings: list[Finding]
    llm_calls: list[Call]
    tool_calls: list[Call]
    errors: list[CountedError]
    records: list[SpanRecord]
    """The task's spans, in tree order (a parent before its children, siblings by start)."""
    depth: dict[int, int]
    gaps: list[tuple[int, int]]
    """Stretches of the critical path that are the task's own work (no span covers them)."""
    truncated: bool = False

    @property
    def wall_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def split(self) -> TimeSplit:
        """Active and idle time (computed when asked: in-process, the task's own accounting has it already)."""
        return split_time(self.start_ns, self.end_ns,
                          [(r.start_ns, r.end_ns, r.kind) for r in self.waits if r.kind is not None])

    @property
    def parallelizable_s(self) -> float:
        return sum(g.total_s for g in self.groups)

    @property
    def saveable_s(self) -> float:
        return sum(g.saving_s for g in self.groups)

    @property
    def cost_usd(self) -> float:
        return sum(c.cost_usd or 0.0 for c in self.llm_calls)

    def error_counts(self) -> dict[str, int]:
        totals = {"cognitive": 0, "system": 0}
        for error in self.errors:
            totals[error.error_class] = totals.get(error.error_class, 0) + 1
        return totals


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _join(names: Iterable[str], limit: int = 80) -> str:
    return clip(", ".join(dict.fromkeys(names)), limit)


class _Tree:
    """Parent/child links from the root, walked once, depth first (a parent before its children, siblings by
    start). Every span is in its parent's list only, so the walk from the root reaches each span once."""

    def __init__(self, root_id: int, records: Sequence[SpanRecord]) -> None:
        by_id = {r.span_id: r for r in records if r.span_id != root_id}
        children: dict[int, list[SpanRecord]] = {}
        for record in by_id.values():
            parent = record.parent_id
            # A span whose parent is not among the task's (not kept, or another process's) hangs from the root.
            key = parent if parent is not None and (parent in by_id or parent == root_id) else root_id
            children.setdefault(key, []).append(record)
        self.children: dict[int, list[SpanRecord]] = {}
        """The reachable spans' children, by start."""
        self.parent: dict[int, int] = {}
        self.depth: dict[int, int] = {root_id: 0}
        self.wait: dict[int, WaitKind | None] = {root_id: None}
        """The kind of the outermost external call a span is in (itself included), if any."""
        self.llm_nest: dict[int, int | None] = {root_id: None}
        self.tool_nest: dict[int, int | None] = {root_id: None}
        self.order: list[SpanRecord] = []
        parent_of, depth, wait, llm_nest, tool_nest = self.parent, self.depth, self.wait, self.llm_nest, self.tool_nest
        stack: list[SpanRecord] = []

        def expand(node: int) -> None:
            kids = children.get(node)
            if not kids:
                return
            kids.sort(key=_by_start)
            self.children[node] = kids
            kid_depth, outer_wait, llm, tool = depth[node] + 1, wait[node], llm_nest[node], tool_nest[node]
            for kid in kids:
                kid_id = kid.span_id
                parent_of[kid_id] = node
                depth[kid_id] = kid_depth
                wait[kid_id] = outer_wait if outer_wait is not None else kid.kind
                llm_nest[kid_id] = llm if llm is not None else (kid_id if kid.llm else None)
                tool_nest[kid_id] = tool if tool is not None else (kid_id if kid.tool else None)
            stack.extend(reversed(kids))

        expand(root_id)
        while stack:
            record = stack.pop()
            self.order.append(record)
            expand(record.span_id)


def _by_start(record: SpanRecord) -> tuple[int, int]:
    return record.start_ns, record.end_ns


def _by_end(record: SpanRecord) -> int:
    return record.end_ns


def analyse(root_id: int, start_ns: int, end_ns: int, records: Sequence[SpanRecord], thresholds: Thresholds, *,
            reported: Sequence[str] = (), truncated: bool = False) -> TaskAnalysis:
    """Analyse one task (its span ``root_id`` over ``[start_ns, end_ns]``) from its descendant spans."""
    end_ns = max(end_ns, start_ns)
    tree = _Tree(root_id, records)
    llm_calls = _llm_calls(tree)
    tool_calls = _tool_calls(tree)
    waits = [r for r in tree.order if r.kind is not None and tree.wait[tree.parent[r.span_id]] is None]
    by_kind, critical_ids, gaps = _critical_path(tree, root_id, start_ns, end_ns)
    groups = _parallel_groups(tree, root_id, llm_calls)
    analysis = TaskAnalysis(
        start_ns=start_ns, end_ns=end_ns, waits=waits, critical_path=by_kind, critical_ids=critical_ids,
        groups=[g for g in groups if g.saving_s > thresholds.parallel_min_saving_s],
        findings=[], llm_calls=llm_calls, tool_calls=tool_calls, errors=_errors(tree, reported),
        records=tree.order, depth=tree.depth, gaps=gaps, truncated=truncated,
    )
    analysis.findings = _findings(analysis, thresholds)
    return analysis


# --- calls -------------------------------------------------------------------------------------------------------
def _llm_calls(tree: _Tree) -> list[Call]:
    """One call per nest of inference spans; its facts from our span if it priced the call, else from the innermost
    span that reported usage (as the accounting processor credits it)."""
    members: dict[int, list[SpanRecord]] = {}
    for record in tree.order:
        nest = tree.llm_nest[record.span_id]
        if nest is not None and record.llm:
            members.setdefault(nest, []).append(record)
    calls = []
    for spans in members.values():
        root = spans[0]  # tree order: the nest's outermost span comes first
        best = root if len(spans) == 1 else next((s for s in spans if s.ours and s.cost_usd is not None), None)
        if best is None:
            with_usage = [s for s in spans if s.input_tokens is not None or s.output_tokens is not None]
            best = max(with_usage, key=lambda s: tree.depth[s.span_id]) if with_usage else root
        calls.append(Call(root, best.subject, best.operation, best.input_tokens, best.output_tokens, best.cost_usd))
    calls.sort(key=lambda c: c.record.start_ns)
    return calls


def _tool_calls(tree: _Tree) -> list[Call]:
    members: dict[int, list[SpanRecord]] = {}
    for record in tree.order:
        nest = tree.tool_nest[record.span_id]
        if nest is not None and record.tool:
            members.setdefault(nest, []).append(record)
    calls = []
    for spans in members.values():
        root = spans[0]  # tree order: the nest's outermost span comes first
        hashed = root.args_hash if len(spans) == 1 else next(
            (s.args_hash for s in sorted(spans, key=lambda s: not s.ours) if s.args_hash), None)
        calls.append(Call(root, root.subject, root.operation, args_hash=hashed))
    calls.sort(key=lambda c: c.record.start_ns)
    return calls


# --- critical path -------------------------------------------------------------------------------------------------
def _critical_path(tree: _Tree, root_id: int, start_ns: int, end_ns: int
                   ) -> tuple[dict[str, float], frozenset[int], list[tuple[int, int]]]:
    on_path: set[int] = set()
    gaps: list[tuple[int, int]] = []
    wait, children = tree.wait, tree.children
    stack = [(root_id, start_ns, end_ns)]
    owns: dict[WaitKind | None, int] = {}
    while stack:
        node, lo, hi = stack.pop()
        own = 0
        cursor = hi
        kids = children.get(node)
        if kids:
            # Only the spans on the path get their children sorted by end.
            for kid in (sorted(kids, key=_by_end, reverse=True) if len(kids) > 1 else kids):
                if cursor <= lo:
                    break
                if kid.start_ns >= cursor:
                    continue  # started after the path's next step: it ran alongside, off the path
                kid_end = kid.end_ns if kid.end_ns < cursor else cursor
                kid_start = kid.start_ns if kid.start_ns > lo else lo
                if kid_end <= kid_start:
                    continue
                if kid_end < cursor:
                    own += cursor - kid_end
                    if node == root_id:
                        gaps.append((kid_end, cursor))
                window = kid_end - kid_start
                # Marked when a real part of it is on the path (10%, or 100 ms): not a sibling that merely started a
                # moment before the path's next step. Its time counts either way.
                if 10 * window >= kid.end_ns - kid.start_ns or window >= 100_000_000:
                    on_path.add(kid.span_id)
                stack.append((kid.span_id, kid_start, kid_end))
                cursor = kid_start
        if cursor > lo:
            own += cursor - lo
            if node == root_id:
                gaps.append((lo, cursor))
        if own:
            kind = wait[node]
            owns[kind] = owns.get(kind, 0) + own
    gaps.sort()
    by_kind = {(kind.value if kind is not None else COMPUTE): ns / 1e9 for kind, ns in owns.items()}
    return by_kind, frozenset(on_path), gaps


# --- parallelizable sequences ------------------------------------------------------------------------------------
def _parallel_groups(tree: _Tree, root_id: int, llm_calls: Sequence[Call]) -> list[ParallelGroup]:
    # The agent's own model calls (not those inside a tool or a retrieval: their output reaches the agent through
    # that call's result).
    llm_ends = sorted(c.record.end_ns for c in llm_calls if tree.wait[tree.parent[c.record.span_id]] is None)
    groups: list[ParallelGroup] = []
    for parent, kids in tree.children.items():
        if tree.wait[parent] is not None:
            continue  # calls inside an external call are that call's business
        external = [k for k in kids if k.kind is not None and k.kind is not WaitKind.LLM and not k.llm]
        current: list[SpanRecord] = []
        for call in external:  # sorted by start
            if current and call.start_ns >= current[-1].end_ns and not _llm_ended_between(
                    llm_ends, current[0].start_ns, call.start_ns):
                current.append(call)
                continue
            if len(current) > 1:
                groups.append(ParallelGroup(tuple(current)))
            current = [call]
        if len(current) > 1:
            groups.append(ParallelGroup(tuple(current)))
    groups.sort(key=lambda g: g.members[0].start_ns)
    return groups


def _llm_ended_between(llm_ends: Sequence[int], after: int, until: int) -> bool:
    """Whether a model call finished in ``(after, until]``: its output may have shaped the next call."""
    index = bisect.bisect_right(llm_ends, after)
    return index < len(llm_ends) and llm_ends[index] <= until


# --- errors --------------------------------------------------------------------------------------------------------
def _errors(tree: _Tree, reported: Sequence[str]) -> list[CountedError]:
    counted: list[CountedError] = []
    below: dict[int, set[str]] = {}
    for record in sorted(tree.order, key=lambda r: r.end_ns):
        for cause in record.reported:
            counted.append(CountedError("application", "cognitive_error", "cognitive", cause, record))
        if record.error_type is None:
            continue
        here, up = counts(record.error_type, countable=record.llm or record.tool or record.agent,
                          nest_like=record.llm or record.tool, counted_below=below.pop(record.span_id, None))
        if here:
            source = "llm" if record.llm else "tool" if record.tool else "task"
            counted.append(CountedError(source, record.error_type, record.error_class or "system",
                                        record.error_cause or "other", record))
        if up:
            below.setdefault(tree.parent[record.span_id], set()).add(record.error_type)
    counted.extend(CountedError("application", "cognitive_error", "cognitive", cause) for cause in reported)
    return counted


# --- findings ------------------------------------------------------------------------------------------------------
def _by_subject(calls: Iterable[Call]) -> dict[str, list[Call]]:
    grouped: dict[str, list[Call]] = {}
    for call in calls:
        grouped.setdefault(call.subject, []).append(call)
    return grouped


_FINDING_ORDER = {kind: index for index, kind in enumerate(FINDING_KINDS)}


def _findings(analysis: TaskAnalysis, t: Thresholds) -> list[Finding]:
    waits = analysis.waits
    found: list[Finding] = []
    for group in analysis.groups:
        found.append(Finding(
            "parallelizable", group.subject, group.saving_s, t.parallel_min_saving_s,
            f"{len(group.members)} independent calls ran one after another ({group.total_s:.2f}s); run them "
            f"concurrently (asyncio.gather, a thread pool) to take {group.longest_s:.2f}s"))
    for (subject, _hash), repeats in _repeats(analysis.tool_calls).items():
        if repeats > t.repeated_tool_calls:
            found.append(Finding(
                "repeated_tool_call", subject, repeats, t.repeated_tool_calls,
                f"{repeats} calls with the same arguments: the agent may be looping; reuse the first result or "
                "stop on no progress"))
    llm_by_model = _by_subject(analysis.llm_calls)
    for subject, calls in llm_by_model.items():
        average = sum(c.duration_s for c in calls) / len(calls)
        if average > t.slow_llm_s:
            found.append(Finding("slow_llm", subject, average, t.slow_llm_s,
                                 "use a faster or smaller model for this step, cap output tokens, or stream"))
    for subject, calls in _by_subject(analysis.tool_calls).items():
        average = sum(c.duration_s for c in calls) / len(calls)
        if average > t.slow_tool_s:
            found.append(Finding("slow_tool", subject, average, t.slow_tool_s,
                                 "cache its results, set a tighter timeout, or start it earlier alongside other "
                                 "work"))
    categories: dict[str, int] = {"llm": len(analysis.llm_calls), "tool": len(analysis.tool_calls)}
    for wait in waits:
        kind = wait.kind
        if kind is not None and kind not in (WaitKind.LLM, WaitKind.TOOL) and not wait.llm and not wait.tool:
            categories[kind.value] = categories.get(kind.value, 0) + 1
    for category, count in categories.items():
        if count > t.many_calls:
            found.append(Finding("many_calls", category, count, t.many_calls,
                                 "batch these calls, cache their results, or check the agent is not looping"))
    for subject, calls in llm_by_model.items():
        costs = [c.cost_usd for c in calls if c.cost_usd is not None]
        if costs and max(costs) > t.expensive_call_usd:
            found.append(Finding("expensive_call", subject, max(costs), t.expensive_call_usd,
                                 "route this step to a cheaper model, or trim its prompt and output"))
        input_tokens = sum(c.input_tokens or 0 for c in calls)
        total = input_tokens + sum(c.output_tokens or 0 for c in calls)
        if total >= t.prompt_heavy_min_tokens and input_tokens / total > t.prompt_heavy_share:
            found.append(Finding("prompt_heavy", subject, input_tokens / total, t.prompt_heavy_share,
                                 "summarise or trim the context sent each call; cache the shared prompt prefix"))
    found.sort(key=lambda f: (_FINDING_ORDER[f.kind], -f.value / (f.threshold or 1)))
    return found


def _repeats(tool_calls: Sequence[Call]) -> dict[tuple[str, str], int]:
    """Identical calls (tool and arguments hash) per pair; a call right after a failed identical one is a retry,
    not a repeat."""
    repeats: dict[tuple[str, str], int] = {}
    last_failed: dict[tuple[str, str], bool] = {}
    for call in tool_calls:
        if call.args_hash is None:
            continue
        key = (call.subject, call.args_hash)
        if not last_failed.get(key, False):
            repeats[key] = repeats.get(key, 0) + 1
        last_failed[key] = call.failed
    return repeats
