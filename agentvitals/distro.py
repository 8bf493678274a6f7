"""Zero-code start: ``opentelemetry-instrument python app.py`` sets agentvitals up as ``init()`` would.

Registered under the ``opentelemetry_distro`` and ``opentelemetry_configurator`` entry points (name
``agentvitals``); settings come from the ``OTEL_*``/``AGENTVITALS_*`` environment variables, exactly
as for ``agentvitals.init()`` without arguments. The agentvitals instrumentors are registered under
``opentelemetry_instrumentor``, and instrumenting twice is a no-op, so the loader and ``init()``
never double a span. With another configurator installed (opentelemetry-distro), choose ours with
``OTEL_PYTHON_CONFIGURATOR=agentvitals``.

Other instrumentations of a library agentvitals instruments itself (``opentelemetry-instrumentation-openai-v2``
for ``openai``, say) are skipped by this distro: both would make a span and record the same GenAI metrics for
one call. Instrumentations of the libraries we leave to contrib (httpx, redis, DB drivers) load as usual,
except those ``init()`` already scheduled: our configurator runs before the loader, and ``init()`` applies each
instrumentation (ours, and the contrib httpx and redis ones we reuse) when its library is first imported. The
loader's entry point for the same thing would import the library at start-up, firing that hook in the middle
of the loader's own import of the instrumentor module (a circular import), and instrument it twice.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

# The module opts out of type checking (``# type: ignore`` at its top): mypy sees none of its names.
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from packaging.requirements import InvalidRequirement, Requirement

_logger = logging.getLogger("agentvitals")

__all__ = ["AgentvitalsConfigurator", "AgentvitalsDistro"]

_GROUP = "opentelemetry_instrumentor"
_OURS = "agentvitals_"


def _libraries(requirements: Iterable[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        try:
            names.add(Requirement(requirement).name.lower().replace("_", "-"))
        except InvalidRequirement:
            continue
    return names


@functools.cache
def _instrumented_by_agentvitals() -> frozenset[str]:
    """The distributions our own registered instrumentors make spans for (their modules import no library)."""
    ours = [entry_point.load() for entry_point in entry_points(group=_GROUP) if entry_point.name.startswith(_OURS)]
    return frozenset(_libraries(requirement for instrumentor in ours for requirement in instrumentor.instruments))


def _duplicates_ours(instrumentor: Any) -> set[str]:
    """The libraries a third-party instrumentor would instrument a second time. Never raises: the loader turns an
    exception here into a failed start of the application."""
    try:
        return _libraries(instrumentor.instrumentation_dependencies()) & _instrumented_by_agentvitals()
    except Exception:
        _logger.debug("agentvitals: cannot compare %r with our instrumentations", instrumentor, exc_info=True)
        return set()


class AgentvitalsDistro(BaseDistro):  # type: ignore[misc]
    def _configure(self, **kwargs: Any) -> None:
        """Nothing to set before the configurator runs: init() reads the environment itself."""

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        """Instrument as the loader would, except for a second instrumentation of a library agentvitals covers."""
        from agentvitals import instrumentation

        if instrumentation.covers_entry_point(entry_point.name):
            _logger.debug("agentvitals: %r is applied by init() when its library is imported", entry_point.name)
            return
        instrumentor = entry_point.load()()
        if not entry_point.name.startswith(_OURS):
            overlap = _duplicates_ours(instrumentor)
            if overlap:
                _logger.info("agentvitals: skipping the %r instrumentation: agentvitals instruments %s itself "
                             "(one span and one set of metrics per call)", entry_point.name, ", ".join(sorted(overlap)))
                return
        instrumentor.instrument(**kwargs)


class AgentvitalsConfigurator:
    def configure(self, **kwargs: Any) -> None:
        import agentvitals

        agentvitals.init()
