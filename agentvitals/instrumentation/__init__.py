"""Instrumentations ``init()`` enables, one per library, each reversible.

Each is applied when its library is first imported (a post-import hook), so ``init()`` never
imports an SDK the application does not use, and a library imported after ``init()`` is still
instrumented. ``OpenAIInstrumentor`` and friends are also registered under the
``opentelemetry_instrumentor`` entry point for ``opentelemetry-instrument``.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import wrapt

_logger = logging.getLogger("agentvitals")

__all__ = ["INSTRUMENTATIONS", "Instrumentation", "enable", "disable_all"]


def _openai() -> Any:
    from agentvitals.instrumentation.openai import OpenAIInstrumentor

    return OpenAIInstrumentor()


def _anthropic() -> Any:
    from agentvitals.instrumentation.anthropic import AnthropicInstrumentor

    return AnthropicInstrumentor()


def _threading() -> Any:
    from agentvitals.instrumentation.threading import ThreadingInstrumentor

    return ThreadingInstrumentor()


def _httpx() -> Any:
    from agentvitals.instrumentation.httpx import HTTPXInstrumentors

    return HTTPXInstrumentors()


def _dbapi(module: str) -> Callable[[], Any]:
    def load() -> Any:
        from agentvitals.instrumentation.dbapi import DRIVERS, DBAPIInstrumentor

        return DBAPIInstrumentor(next(driver for driver in DRIVERS if driver.module == module))

    return load


def _chromadb() -> Any:
    from agentvitals.instrumentation.chromadb import ChromaInstrumentor

    return ChromaInstrumentor()


def _qdrant() -> Any:
    from agentvitals.instrumentation.qdrant import QdrantInstrumentor

    return QdrantInstrumentor()


def _langchain() -> Any:
    from agentvitals.instrumentation.langchain import LangChainInstrumentor

    return LangChainInstrumentor()


def _mcp() -> Any:
    from agentvitals.instrumentation.mcp import MCPInstrumentor

    return MCPInstrumentor()


def _redis() -> Any:
    from agentvitals.instrumentation.redis import RedisInstrumentation

    return RedisInstrumentation()


@dataclass(frozen=True)
class Instrumentation:
    name: str
    modules: tuple[str, ...]
    """The libraries whose first import triggers instrumenting it (any of them)."""
    load: Callable[[], Any]
    """Returns the (singleton) instrumentor; imported lazily."""


INSTRUMENTATIONS: tuple[Instrumentation, ...] = (
    Instrumentation("threading", ("threading",), _threading),
    Instrumentation("httpx", ("httpx", "httpx2"), _httpx),
    Instrumentation("openai", ("openai",), _openai),
    Instrumentation("anthropic", ("anthropic",), _anthropic),
    *(Instrumentation(module, (module,), _dbapi(module)) for module in ("sqlite3", "psycopg", "psycopg2", "pymysql")),
    Instrumentation("redis", ("redis",), _redis),
    Instrumentation("chromadb", ("chromadb",), _chromadb),
    Instrumentation("qdrant", ("qdrant_client",), _qdrant),
    Instrumentation("langchain", ("langchain_core",), _langchain),
    Instrumentation("mcp", ("mcp",), _mcp),
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
    unknown = (wanted or set()) - {i.name for i in INSTRUMENTATIONS} - {"gpu"}  # gpu: metrics, started by init()
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
