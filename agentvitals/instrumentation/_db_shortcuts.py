"""Connections that trace their drivers' connection-level shortcuts too (imported with the contrib module).

The contrib DB-API proxy traces cursors and hands everything else to the bare connection, so
``connection.execute(...)`` — how most sqlite3 code runs SQL, and psycopg 3 offers it too — ran
untraced. Each shortcut is documented by its driver as: open a cursor, run the statement on it,
return the cursor; here the cursor is a traced one. (sqlite3's ``executescript`` stays untraced: the
contrib cursor does not trace it either.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.instrumentation.dbapi import DatabaseApiIntegration, TracedConnectionProxy

__all__ = ["integration_tracing"]


def _via_traced_cursor(method: str) -> Callable[..., Any]:
    def shortcut(self: TracedConnectionProxy, *args: Any, **kwargs: Any) -> Any:  # type: ignore[type-arg]
        # psycopg's Connection.execute(binary=) is a cursor option, not an execute() argument.
        cursor = self.cursor(binary=kwargs.pop("binary")) if "binary" in kwargs else self.cursor()
        getattr(cursor, method)(*args, **kwargs)
        return cursor

    shortcut.__name__ = method
    return shortcut


def integration_tracing(shortcuts: tuple[str, ...]) -> type[DatabaseApiIntegration]:
    """The contrib integration, with connections that also trace ``shortcuts`` (e.g. ``execute``)."""
    proxy = type("ShortcutTracingConnection", (TracedConnectionProxy,),
                 {name: _via_traced_cursor(name) for name in shortcuts})

    class Integration(DatabaseApiIntegration):
        def wrapped_connection(self, connect_method: Any, args: Any, kwargs: Any) -> Any:
            traced = super().wrapped_connection(connect_method, args, kwargs)
            return proxy(traced.__wrapped__, self)

    return Integration
