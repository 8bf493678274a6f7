"""Instrumentations ``init()`` enables, one per library, each reversible.

Each is applied when its library is first imported (a post-import hook), so ``init()`` never
imports an SDK the application does not use, and a library imported after ``init()`` is still
instrumented. ``OpenAIInstrumentor`` and friends are also registered under the
``opentelemetry_instrumentor`` entry point for ``opentelemetry-instrument``.
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

__all__ = ["INSTRUMENTATIONS", "Instrumentation", "enable", "disable_all"]


@dataclass(frozen=True)
class Instrumentation:
    name: str
    modules: tuple[str, ...]
    """The libraries whose first import triggers instrumenting it (any of them)."""
    instrumentor: str
    """``module:attribute`` of the instrumentor class (imported only when its library is)."""
    args: tuple[Any, ...] = ()

    def load(self) -> Any:
        module, _, path = self.instrumentor.partition(":")
        target: Any = importlib.import_module(module)
        for attribute in path.split("."):
            target = getattr(target, attribute)
        return target(*self.args)


_HERE = "agentvitals.instrumentation"


INSTRUMENTATIONS: tuple[Instrumentation, ...] = (
    Instrumentation("threading", ("threading",), f"{_HERE}.threading:ThreadingInstrumentor"),
    Instrumentation("httpx", ("httpx", "httpx2"), f"{_HERE}.httpx:HTTPXInstrumentors"),
    Instrumentation("openai", ("openai",), f"{_HERE}.openai:OpenAIInstrumentor"),
    Instrumentation("anthropic", ("anthropic",), f"{_HERE}.anthropic:AnthropicInstrumentor"),
    *(Instrumentation(module, (module,), f"{_HERE}.dbapi:DBAPIInstrumentor.for_driver", (module,))
      for module in ("sqlite3", "psycopg", "psycopg2", "pymysql")),
    Instrumentation("redis", ("redis",), f"{_HERE}.redis:RedisInstrumentation"),
    Instrumentation("chromadb", ("chromadb",), f"{_HERE}.chromadb:ChromaInstrumentor"),
    Instrumentation("qdrant", ("qdrant_client",), f"{_HERE}.qdrant:QdrantInstrumentor"),
    Instrumentation("langchain", ("langchain_core",), f"{_HERE}.langchain:LangChainInstrumentor"),
    Instrumentation("mcp", ("mcp",), f"{_HERE}.mcp:MCPInstrumentor"),
    Instrumentation("pydantic_ai", ("pydantic_ai",), f"{_HERE}.pydantic_ai:PydanticAIInstrumentor"),
    Instrumentation("smolagents", ("smolagents",), f"{_HERE}.smolagents:SmolagentsInstrumentor"),
)

_enabled: list[Any] = []
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
                instrumentor.instrument(skip_dep_check=True, **kwargs)
                _enabled.append(instrumentor)
            except Exception:  # deliberate: a broken optional library must not break init()
                _logger.warning("agentvitals: could not instrument %s", item.name, exc_info=True)

        for module in installed:
            wrapt.register_post_import_hook(apply, module)
        scheduled.append(item.name)
    return scheduled


def disable_all() -> None:
    """Uninstrument everything ``enable`` applied and cancel hooks still waiting for an import."""
    global _generation
    _generation += 1
    while _enabled:
        instrumentor = _enabled.pop()
        try:
            instrumentor.uninstrument()
        except Exception:
            _logger.debug("agentvitals: could not uninstrument %r", instrumentor, exc_info=True)
