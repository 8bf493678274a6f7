"""Table-driven, reversible patching: one table of patches drives both instrument and uninstrument."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from agentvitals._handler import Handler, current

_logger = logging.getLogger("agentvitals")

__all__ = ["Patch", "PatchTableInstrumentor", "handler_for", "import_optional"]


@dataclass(frozen=True)
class Patch:
    """Wrap ``module.attribute`` (``"Class.method"``) with ``wrapper(handler)``. Skipped when absent."""

    module: str
    attribute: str
    wrapper: Callable[[Handler], Callable[..., Any]]


def import_optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except Exception:  # ImportError, or a broken optional dependency: then there is nothing to patch
        _logger.debug("agentvitals: %s not importable; not instrumenting it", name, exc_info=True)
        return None


def _resolve(module: ModuleType, dotted: str) -> tuple[Any, str] | None:
    owner: Any = module
    *path, attribute = dotted.split(".")
    for part in path:
        owner = getattr(owner, part, None)
        if owner is None:
            return None
    return (owner, attribute) if hasattr(owner, attribute) else None


def handler_for(kwargs: dict[str, Any]) -> Handler:
    """The ``handler=`` passed to ``instrument()``; else one on the ``tracer_provider``/``meter_provider`` kwargs
    (zero-code start); else the handler ``init()`` activated."""
    handler: Handler | None = kwargs.get("handler")
    if handler is not None:
        return handler
    tracer_provider, meter_provider = kwargs.get("tracer_provider"), kwargs.get("meter_provider")
    if tracer_provider or meter_provider:
        return Handler.create(tracer_provider=tracer_provider, meter_provider=meter_provider)
    return current()


class PatchTableInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """An instrumentor whose subclasses only declare ``name``, ``instruments`` and ``patches``.

    ``BaseInstrumentor`` makes each subclass a singleton and ignores a second ``instrument()``, so
    instrumenting twice never doubles spans or cost. ``handler=`` may be passed; otherwise the
    handler is built from the ``tracer_provider``/``meter_provider`` kwargs (zero-code start).
    """

    name: ClassVar[str]
    instruments: ClassVar[tuple[str, ...]]
    patches: ClassVar[tuple[Patch, ...]]

    def instrumentation_dependencies(self) -> Collection[str]:
        return self.instruments

    _instrumenting = False

    def _instrument(self, **kwargs: Any) -> None:
        if self._instrumenting:
            # Importing a patched module fired a post-import hook that instruments us again: once is enough.
            return
        self._instrumenting = True
        try:
            handler = handler_for(kwargs)
            applied: list[tuple[Any, str]] = []
            for patch in self.patches:
                module = import_optional(patch.module)
                target = _resolve(module, patch.attribute) if module is not None else None
                if target is None:
                    continue
                wrap_function_wrapper(module, patch.attribute, patch.wrapper(handler))
                applied.append(target)
            self._applied = applied
        finally:
            self._instrumenting = False

    def _uninstrument(self, **kwargs: Any) -> None:
        for owner, attribute in getattr(self, "_applied", ()):
            unwrap(owner, attribute)
        self._applied = []
