"""Zero-code start: ``opentelemetry-instrument python app.py`` sets agentvitals up as ``init()`` would.

Registered under the ``opentelemetry_distro`` and ``opentelemetry_configurator`` entry points (name
``agentvitals``); settings come from the ``OTEL_*``/``AGENTVITALS_*`` environment variables, exactly
as for ``agentvitals.init()`` without arguments. The agentvitals instrumentors are registered under
``opentelemetry_instrumentor``, and instrumenting twice is a no-op, so the loader and ``init()``
never double a span. With another configurator installed (opentelemetry-distro), choose ours with
``OTEL_PYTHON_CONFIGURATOR=agentvitals``.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro

__all__ = ["AgentvitalsConfigurator", "AgentvitalsDistro"]


class AgentvitalsDistro(BaseDistro):  # type: ignore[misc]
    def _configure(self, **kwargs: Any) -> None:
        """Nothing to set before the configurator runs: init() reads the environment itself."""


class AgentvitalsConfigurator:
    def configure(self, **kwargs: Any) -> None:
        import agentvitals

        agentvitals.init()
