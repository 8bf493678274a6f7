"""sqlite3 through the contrib DB-API instrumentation (``opentelemetry-instrumentation-dbapi``).

The contrib ``opentelemetry-instrumentation-sqlite3`` package does exactly this, but its releases
pin an ``opentelemetry-instrumentation`` version that conflicts with the httpx instrumentor's.
Parameter values are never captured.
"""

from __future__ import annotations

import sqlite3
from typing import Any

__all__ = ["SQLite3Instrumentor"]


class SQLite3Instrumentor:
    def instrument(self, **kwargs: Any) -> None:
        from opentelemetry.instrumentation.dbapi import wrap_connect

        wrap_connect(__name__, sqlite3, "connect", "sqlite", {"database": "database"},
                     tracer_provider=kwargs.get("tracer_provider"), meter_provider=kwargs.get("meter_provider"),
                     capture_parameters=False)

    def uninstrument(self) -> None:
        from opentelemetry.instrumentation.dbapi import unwrap_connect

        unwrap_connect(sqlite3, "connect")
