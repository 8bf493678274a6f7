"""redis through the contrib ``opentelemetry-instrumentation-redis`` (reused, not rewritten).

Commands become CLIENT spans (``db.system.name=redis``), waits in a task's idle time under ``db``.
Arguments (keys and values) are not recorded beyond what the contrib sanitiser keeps.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RedisInstrumentation"]


class RedisInstrumentation:
    def __init__(self) -> None:
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        self._instrumentor = RedisInstrumentor()
        self._applied = False

    def instrument(self, **kwargs: Any) -> None:
        if self._instrumentor.is_instrumented_by_opentelemetry:  # by the application, or another distro's loader
            return
        self._instrumentor.instrument(skip_dep_check=True, tracer_provider=kwargs.get("tracer_provider"),
                                      meter_provider=kwargs.get("meter_provider"))
        self._applied = True

    def uninstrument(self) -> None:
        if self._applied:
            self._instrumentor.uninstrument()
            self._applied = False
