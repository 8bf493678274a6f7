"""agentvitals: OpenTelemetry for LLM agents, in one call.

    import agentvitals
    agentvitals.init(service_name="support-agent")   # OTLP to http://localhost:4318 by default

    @agentvitals.task("answer", budget=agentvitals.Budget(max_llm_calls=5))
    def answer(question: str) -> str:
        with agentvitals.tool("search"):
            ...
        return client.chat.completions.create(...)  # auto-instrumented: tokens, cost, latency

Every ``openai``/``anthropic``/``httpx`` call then becomes a span with GenAI semantic-convention
attributes, token counts and cost, plus metrics; each task gets an outcome, cost, and a split of its
wall time into active and idle (waiting) time. Configuration follows the ``OTEL_*`` variables
(:mod:`agentvitals.environment_variables`). Content capture is off unless asked for. Nothing is sent
anywhere but the configured OTLP endpoint.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from agentvitals._api import llm_call, record_cache_lookup, retrieval, tool
from agentvitals._cache import LLMCache
from agentvitals._config import ConfigError, Settings
from agentvitals._errors import cognitive_error
from agentvitals._taskrun import Budget, BudgetExhausted, TaskRun, current_task
from agentvitals._tasks import task
from agentvitals._version import __version__
from agentvitals.attributes import Outcome, WaitKind
from agentvitals.routing import ModelRouter

if _TYPE_CHECKING:
    from agentvitals._sdk import export_stats, force_flush, init, shutdown

_SDK_FUNCTIONS = frozenset({"export_stats", "force_flush", "init", "shutdown"})


def __getattr__(name: str) -> _Any:
    # The SDK and exporters load on first use of init()/shutdown(), keeping `import agentvitals` cheap.
    if name in _SDK_FUNCTIONS:
        from agentvitals import _sdk

        return getattr(_sdk, name)
    raise AttributeError(f"module 'agentvitals' has no attribute {name!r}")

__all__ = [
    "Budget",
    "BudgetExhausted",
    "ConfigError",
    "LLMCache",
    "ModelRouter",
    "Outcome",
    "Settings",
    "TaskRun",
    "WaitKind",
    "__version__",
    "cognitive_error",
    "current_task",
    "export_stats",
    "force_flush",
    "init",
    "llm_call",
    "record_cache_lookup",
    "retrieval",
    "shutdown",
    "task",
    "tool",
]
