"""Instrumentations ``init()`` enables, one per library, each reversible.

Each is applied when its library is first imported (a post-import hook), so ``init()`` never
imports an SDK the application does not use, and a library imported after ``init()`` is still
instrumented. ``OpenAIInstrumentor`` and friends are also registered under the
``opentelemetry_instrumentor`` entry point for ``opentelemetry-instrument``.

Under ``opentelemetry-instrument`` with our distro, ``init()`` (our configurator) runs first and schedules
these hooks; the loader then skips the entry points ``init()`` already covers (:func:`covers_entry_point`):
loading them would import their libraries at start-up, firing our hooks in the middle of the loader's own
import of an instrumentor module (a circular import), and instrument a second time what the hooks do.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import wrapt

_logger = logging.getLogger("agentvitals")

__all__ = ["INSTRUMENTATIONS", "Instrumentation", "covers_entry_point", "disable_all", "enable"]


@dataclass(frozen=True)
class Instrumentation:
    name: str
    modules: tuple[str, ...]
    """The libraries whose first import triggers instrumenting it (any of them)."""
    instrumentor: str
    """``module:attribute`` of the instrumentor class (imported only when its library is)."""
    args: tuple[Any, ...] = ()
    contrib_entry_points: tuple[str, ...] = ()
    """``opentelemetry_instrumentor`` entry points of the contrib instrumentors this one applies itself."""

    @property
    def entry_points(self) -> tuple[str, ...]:
        """The loader's entry points that instrument the same thing: ours, and the contrib ones we apply."""
        return (f"agentvitals_{self.name}", *self.contrib_entry_points)

    def load(self) -> Any:
        module, _, path = self.instrumentor.partition(":")
        target: Any = importlib.import_module(module)
        for attribute in path.split("."):
            target = getattr(target, attribute)
        return target(*self.args)


_HERE = "agentvitals.instrumentation"


INSTRUMENTATIONS: tuple[Instrumentation, ...] = (
    Instrumentation("threading", ("threading",), f"{_HERE}.threading:ThreadingInstrumentor"),
    Instrumentation("httpx", ("httpx", "httpx2"), f"{_HERE}.httpx:HTTPXInstrumentors",
                    contrib_entry_points=("httpx", "httpx2")),
    Instrumentation("openai", ("openai",), f"{_HERE}.openai:OpenAIInstrumentor"),
    Instrumentation("anthropic", ("anthropic",), f"{_HERE}.anthropic:AnthropicInstrumentor"),
    *(Instrumentation(module, (module,), f"{_HERE}.dbapi:DBAPIInstrumentor.for_driver", (module,))
      for module in ("sqlite3", "psycopg", "psycopg2", "pymysql")),
    Instrumentation("redis", ("redis",), f"{_HERE}.redis:RedisInstrumentation", contrib_entry_points=("redis",)),
    Instrumentation("chromadb", ("chromadb",), f"{_HERE}.chromadb:ChromaInstrumentor"),
    Instrumentation("qdrant", ("qdrant_client",), f"{_HERE}.qdrant:QdrantInstrumentor"),
    Instrumentation("langchain", ("langchain_core",), f"{_HERE}.langchain:LangChainInstrumentor"),
    Instrumentation("mcp", ("mcp",), f"{_HERE}.mcp:MCPInstrumentor"),
    Instrumentation("crewai", ("crewai",), f"{_HERE}.crewai:CrewAIInstrumentor"),
    Instrumentation("langgraph", ("langgraph.pregel",), f"{_HERE}.langgraph:LangGraphInstrumentor"),
    Instrumentation("llama_index", ("llama_index.core",), f"{_HERE}.llama_index:LlamaIndexInstrumentor"),
    Instrumentation("openai_agents", ("agents",), f"{_HERE}.openai_agents:OpenAIAgentsInstrumentor"),
    Instrumentation("pydantic_ai", ("pydantic_ai",), f"{_HERE}.pydantic_ai:PydanticAIInstrumentor"),
    Instrumentation("smolagents", ("smolagents",), f"{_HERE}.smolagents:SmolagentsInstrumentor"),
)

_enabled: list[Any] = []
_scheduled: set[str] = set()
"""The loader entry points the instrumentations ``enable()`` scheduled cover."""
_enable_called = False
_generation = 0


def _installed(module: str) -> bool:
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def enable(names: Iterable[str] | None, **kwargs: Any) -> list[str]:
    """Enable the named instrumentations (all when ``None``) whose library is installed.

    Returns the names scheduled; each instruments now if its library is imported, else on import.
    """
    wanted = None if names is None else set(names)
    unknown = (wanted or set()) - {i.name for i in INSTRUMENTATIONS}
    if unknown:
        _logger.warning("agentvitals: unknown instrumentation(s) %s ignored", ", ".join(sorted(unknown)))
    global _enable_called
    _enable_called = True
    generation = _generation
    scheduled = []
    for item in INSTRUMENTATIONS:
        installed = [module for module in item.modules if _installed(module)]
        if wanted is not None and item.name not in wanted or not installed:
            continue
        applied: list[bool] = []

        def apply(_module: Any, item: Instrumentation = item, applied: list[bool] = applied) -> None:
            # Once per enable(), even when several trigger modules (or a nested import) fire.
            if generation != _generation or applied:
                return
            applied.append(True)
            try:
                instrumentor = item.load()
                if getattr(instrumentor, "is_instrumented_by_opentelemetry", False):
                    # Someone else (another distro's loader, the application) instrumented it first: theirs stays.
                    _logger.debug("agentvitals: %s is already instrumented", item.name)
                    return
                instrumentor.instrument(skip_dep_check=True, **kwargs)
                _enabled.append(instrumentor)
            except Exception:  # deliberate: a broken optional library must not break init()
                _logger.warning("agentvitals: could not instrument %s", item.name, exc_info=True)

        for module in installed:
            wrapt.register_post_import_hook(apply, module)
        scheduled.append(item.name)
        _scheduled.update(item.entry_points)
    return scheduled


def covers_entry_point(name: str) -> bool:
    """Whether ``enable()`` already scheduled what the loader's ``opentelemetry_instrumentor`` entry point
    ``name`` would instrument. Every ``agentvitals_*`` entry point counts as covered once ``enable()`` ran:
    the instrumentations ``init()`` was asked for are the ones it scheduled."""
    return name in _scheduled or (_enable_called and name.startswith("agentvitals_"))


def disable_all() -> None:
    """Uninstrument everything ``enable`` applied and cancel hooks still waiting for an import."""
    global _generation, _enable_called
    _generation += 1
    _enable_called = False
    _scheduled.clear()
    while _enabled:
        instrumentor = _enabled.pop()
        try:
            instrumentor.uninstrument()
        except Exception:
            _logger.debug("agentvitals: could not uninstrument %r", instrumentor, exc_info=True)
