"""The thresholds findings fire at. ``init(finding_thresholds={...})`` or one ``AGENTVITALS_FINDING_*`` variable each
(resolved and validated in :mod:`agentvitals._config`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from agentvitals import environment_variables as env

__all__ = ["THRESHOLD_VARIABLES", "Thresholds"]


@dataclass(frozen=True)
class Thresholds:
    """A finding fires when its measured value is above its threshold."""

    slow_llm_s: float = 3.0
    """Average duration of one model's calls in a task."""
    slow_tool_s: float = 1.0
    """Average duration of one tool's calls in a task."""
    many_calls: float = 20
    """Calls of one kind (LLM, tool, retrieval, DB, HTTP) in a task."""
    expensive_call_usd: float = 0.05
    """Cost of the most expensive call to one model in a task."""
    prompt_heavy_share: float = 0.8
    """Share of one model's tokens in a task that are input tokens..."""
    prompt_heavy_min_tokens: float = 1000
    """...when its calls used at least this many tokens (small calls are not worth summarising)."""
    parallel_min_saving_s: float = 0.1
    """Time a sequence of independent calls would save run concurrently."""
    repeated_tool_calls: float = 1
    """Calls of one tool with the same arguments in a task (a retry after a failure does not count)."""


THRESHOLD_VARIABLES: Final[dict[str, str]] = {
    "slow_llm_s": env.AGENTVITALS_FINDING_SLOW_LLM_SECONDS,
    "slow_tool_s": env.AGENTVITALS_FINDING_SLOW_TOOL_SECONDS,
    "many_calls": env.AGENTVITALS_FINDING_MANY_CALLS,
    "expensive_call_usd": env.AGENTVITALS_FINDING_EXPENSIVE_CALL_USD,
    "prompt_heavy_share": env.AGENTVITALS_FINDING_PROMPT_HEAVY_SHARE,
    "prompt_heavy_min_tokens": env.AGENTVITALS_FINDING_PROMPT_HEAVY_MIN_TOKENS,
    "parallel_min_saving_s": env.AGENTVITALS_FINDING_PARALLEL_MIN_SAVING_SECONDS,
    "repeated_tool_calls": env.AGENTVITALS_FINDING_REPEATED_TOOL_CALLS,
}
